//! [`AlignedBuf`]: an owned byte buffer whose memory starts at a chosen alignment, for
//! direct I/O (`O_DIRECT`), where the kernel requires the buffer's address, the length
//! and the file offset to be multiples of the device's logical block size.
//!
//! The memory comes from the global allocator with a `Layout` of the requested size
//! and alignment, and is freed with the same layout. Like `Vec<u8>` it has a capacity
//! (the memory) and a length (the initialised bytes at its start): a read fills up to
//! the capacity and sets the length; a write sends the first `len()` bytes.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::io::{IoBuf, IoBufMut};

/// An owned buffer with a guaranteed alignment, for direct I/O.
///
/// For `O_DIRECT` reads and writes, make the alignment and the capacity (for reads) or
/// the length (for writes) multiples of the device's logical block size, and use file
/// offsets that are too: 4096 satisfies every common device. Other buffer types
/// (`Vec<u8>`) are only byte-aligned, and the kernel refuses them with `EINVAL`.
///
/// It implements [`IoBuf`] (a write sends `len()` bytes) and [`IoBufMut`] (a read fills
/// up to `capacity()` and sets the length), and derefs to its initialised bytes.
///
/// ```
/// use ringtide::io::AlignedBuf;
///
/// let mut buf = AlignedBuf::new(8192, 4096);
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// assert!(buf.is_empty());
/// buf.resize(4096, b'x');
/// assert_eq!(buf.len(), 4096);
/// assert!(buf.iter().all(|&byte| byte == b'x'));
/// ```
pub struct AlignedBuf {
    /// The allocation (dangling, but aligned, when the capacity is zero).
    ptr: NonNull<u8>,
    /// Bytes of memory behind `ptr` (the layout's size).
    capacity: usize,
    /// The layout's alignment.
    align: usize,
    /// Initialised bytes at the start; at most `capacity`.
    len: usize,
}

// SAFETY: the buffer owns its allocation exclusively (like a `Vec<u8>`): moving it to
// another thread moves that ownership, and shared references only read it.
unsafe impl Send for AlignedBuf {}
// SAFETY: `&AlignedBuf` only reads the bytes; writing needs `&mut`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An empty buffer (length 0) with `capacity` bytes of memory starting at a
    /// multiple of `align`.
    ///
    /// # Panics
    ///
    /// When `align` is not a power of two, or `capacity` rounded up to `align` exceeds
    /// `isize::MAX`. Aborts (as `Vec` does) when the allocator has no memory.
    pub fn new(capacity: usize, align: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(capacity, align).unwrap_or_else(|error| {
            panic!("AlignedBuf::new({capacity}, {align}): {error} (the alignment must be a power of two)")
        });
        let ptr = if capacity == 0 {
            // Never dereferenced (there are no bytes), but aligned as promised.
            NonNull::new(std::ptr::without_provenance_mut::<u8>(align))
                .expect("a power of two is not zero")
        } else {
            // SAFETY: the layout's size is not zero.
            let ptr = unsafe { alloc::alloc(layout) };
            NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout))
        };
        AlignedBuf {
            ptr,
            capacity,
            align,
            len: 0,
        }
    }

    /// A buffer of `len` zero bytes (length and capacity `len`) aligned to `align`.
    ///
    /// # Panics
    ///
    /// As [`new`](AlignedBuf::new).
    pub fn zeroed(len: usize, align: usize) -> AlignedBuf {
        let mut buf = AlignedBuf::new(len, align);
        buf.resize(len, 0);
        buf
    }

    /// Bytes of memory: what a read may fill.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The alignment of the memory's start.
    pub fn alignment(&self) -> usize {
        self.align
    }

    /// Initialised bytes: what a write sends.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the length to zero (the memory stays).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the buffer to `len` bytes; does nothing if it is not longer.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Sets the length to `new_len`, filling new bytes with `value`.
    ///
    /// # Panics
    ///
    /// When `new_len` exceeds the capacity (the buffer never reallocates: that could
    /// not keep the promise of the address the caller aligned I/O to).
    pub fn resize(&mut self, new_len: usize, value: u8) {
        assert!(
            new_len <= self.capacity,
            "AlignedBuf::resize({new_len}) past its capacity {}",
            self.capacity
        );
        if new_len > self.len {
            // SAFETY: `len..new_len` lies within the allocation (`new_len <= capacity`),
            // which this buffer owns exclusively (`&mut self`).
            unsafe {
                self.ptr
                    .as_ptr()
                    .add(self.len)
                    .write_bytes(value, new_len - self.len);
            }
        }
        self.len = new_len;
    }

    /// Appends `bytes`.
    ///
    /// # Panics
    ///
    /// When they do not fit in the capacity.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let new_len = self
            .len
            .checked_add(bytes.len())
            .filter(|&new_len| new_len <= self.capacity)
            .unwrap_or_else(|| {
                panic!(
                    "AlignedBuf::extend_from_slice: {} + {} bytes past its capacity {}",
                    self.len,
                    bytes.len(),
                    self.capacity
                )
            });
        // SAFETY: `len..new_len` lies within the allocation, which this buffer owns
        // exclusively (`&mut self`), so it cannot overlap `bytes`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                bytes.len(),
            );
        }
        self.len = new_len;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.capacity > 0 {
            // SAFETY: `new` allocated `ptr` with exactly this layout (it was valid then,
            // and neither value changed since).
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.capacity, self.align),
                );
            }
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised and owned by this buffer (for
        // `len == 0` the pointer is non-null and aligned, which an empty slice needs).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("alignment", &self.align)
            .finish_non_exhaustive()
    }
}

// SAFETY: the bytes live in the buffer's own heap allocation of `capacity` bytes (or
// at an aligned dangling pointer when the capacity is zero), the first `len` of them
// initialised, `len <= capacity`; moving the value moves only the pointer and counts.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.capacity
    }
}

// SAFETY: the mutable pointer is the allocation's own pointer (not derived from a
// slice of `len` bytes), so writes to all `capacity` bytes through it are valid; the
// buffer owns them exclusively while the operation holds it. `set_init` only grows the
// length, within the capacity, over bytes the caller guarantees are initialised.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        debug_assert!(pos <= self.capacity, "set_init past the capacity");
        self.len = self.len.max(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_starts_at_the_alignment() {
        for align in [1, 512, 4096, 1 << 16] {
            let buf = AlignedBuf::new(3 * align, align);
            assert_eq!(buf.stable_ptr() as usize % align, 0);
            assert_eq!(buf.bytes_total(), 3 * align);
            assert_eq!(buf.bytes_init(), 0);
            assert_eq!(buf.alignment(), align);
        }
        let empty = AlignedBuf::new(0, 4096);
        assert_eq!(empty.stable_ptr() as usize % 4096, 0);
        assert!(empty.is_empty());
        assert_eq!(&*empty, &[] as &[u8]);
    }

    #[test]
    fn length_and_contents() {
        let mut buf = AlignedBuf::new(16, 8);
        buf.extend_from_slice(b"abc");
        buf.resize(5, b'z');
        assert_eq!(&*buf, b"abczz");
        buf[0] = b'A';
        buf.truncate(2);
        assert_eq!(buf.as_ref(), b"Ab");
        buf.clear();
        assert!(buf.is_empty());
        let zeroed = AlignedBuf::zeroed(4096, 4096);
        assert_eq!(zeroed.len(), 4096);
        assert!(zeroed.iter().all(|&byte| byte == 0));
    }

    #[test]
    fn a_read_fills_up_to_the_capacity() {
        let mut buf = AlignedBuf::new(64, 64);
        buf.extend_from_slice(b"kept");
        let ptr = buf.stable_mut_ptr();
        for index in 0..64 {
            // SAFETY: the `IoBufMut` contract: valid for writes of `bytes_total()` bytes.
            unsafe { ptr.add(index).write(index as u8) };
        }
        // SAFETY: all 64 bytes were just written.
        unsafe { buf.set_init(64) };
        assert_eq!(buf.len(), 64);
        assert!(buf.iter().enumerate().all(|(i, &b)| b == i as u8));
        // SAFETY: never shrinks; 3 bytes are initialised.
        unsafe { buf.set_init(3) };
        assert_eq!(buf.len(), 64);
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn an_alignment_that_is_not_a_power_of_two_panics() {
        let _ = AlignedBuf::new(4096, 3000);
    }

    #[test]
    #[should_panic(expected = "past its capacity")]
    fn extending_past_the_capacity_panics() {
        let mut buf = AlignedBuf::new(4, 4);
        buf.extend_from_slice(b"12345");
    }
}
