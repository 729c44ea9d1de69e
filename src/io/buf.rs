//! Buffers that an I/O operation takes by value: [`IoBuf`], [`IoBufMut`] and
//! [`BufResult`].
//!
//! # Ownership model
//!
//! With io_uring the kernel reads from or writes into a buffer *after* the call that
//! submitted the operation has returned, and possibly after the future that submitted it
//! has been dropped (a cancelled operation stays in flight until the kernel reports its
//! completion). A borrowed `&mut [u8]` cannot express that: the borrow would end while
//! the kernel still uses the memory. Owned-buffer operations therefore take the buffer
//! **by value**:
//!
//! * while the operation is in flight the runtime owns the buffer, so nothing else can
//!   read, move the storage of, or free the memory the kernel is using;
//! * when the operation finishes the buffer is handed back inside the [`BufResult`],
//!   **on error too**, so the caller can reuse its allocation;
//! * if the future is dropped before completion the runtime keeps the buffer alive until
//!   the kernel is done with it, then drops it.
//!
//! Moving the buffer value (e.g. a `Vec<u8>`) must not move the bytes it points to:
//! implementations store their bytes on the heap or in `'static` memory, which is what
//! the `unsafe` contracts of [`IoBuf`] and [`IoBufMut`] require.
//!
//! # Initialised bytes and capacity
//!
//! A buffer has [`bytes_total`](IoBuf::bytes_total) bytes of memory (its capacity), of
//! which the first [`bytes_init`](IoBuf::bytes_init) are initialised. A write sends the
//! initialised bytes; a read may fill any of the `bytes_total()` bytes, starting at
//! [`stable_mut_ptr`](IoBufMut::stable_mut_ptr), and then marks the bytes the kernel
//! reported as initialised with [`set_init`](IoBufMut::set_init). So reading into
//! `Vec::with_capacity(4096)` works without zero-filling it first, and the vector's
//! length afterwards is the number of bytes read.
//!
//! A buffer with `bytes_total() == 0` (e.g. `Vec::new()`) has a dangling (non-null,
//! well-aligned) pointer. That is fine: operations on it transfer zero bytes and must
//! not dereference the pointer.
//!
//! # Lengths above `u32::MAX`
//!
//! The kernel takes one operation's length as a `u32`. A buffer larger than that is not
//! an error, and its length is never truncated by wrapping (a 4 GiB + 10 byte buffer
//! must not become a 10 byte one): the length passed to the kernel is clamped to
//! `u32::MAX`. A read or write of a larger buffer therefore transfers **at most
//! `u32::MAX` bytes per call** and reports the real count, i.e. it is a short read or
//! write, which callers must already handle.
//!
//! # Implementations
//!
//! | Type | [`IoBuf`] | [`IoBufMut`] |
//! |------|-----------|--------------|
//! | `Vec<u8>` | yes (init = `len`, total = `capacity`) | yes |
//! | `Box<[u8]>` | yes (always fully initialised) | yes |
//! | `&'static [u8]`, `&'static str` | yes | no (shared memory) |
//! | `String` | yes (init = `len`, total = `capacity`) | no, see below |
//! | `bytes::Bytes` (feature `bytes`) | yes | no (shared memory) |
//! | `bytes::BytesMut` (feature `bytes`) | yes (init = `len`, total = `capacity`) | yes |
//!
//! `String` can be written from but not read into: a read stores whatever bytes the
//! peer sent, which need not be valid UTF-8, and a `String` holding invalid UTF-8 is
//! undefined behaviour. Read into a `Vec<u8>` and convert with
//! [`String::from_utf8`] instead.

/// The result of an owned-buffer operation: the outcome plus the buffer, given back.
///
/// The buffer is returned whether the operation succeeded or failed, so its allocation
/// can be reused.
pub type BufResult<T, B> = (std::io::Result<T>, B);

/// A buffer that an owned-buffer write can send from.
///
/// The operation takes the buffer by value and owns it while the kernel may access
/// it; the buffer comes back in the [`BufResult`], also on error. A write sends the
/// first [`bytes_init`](IoBuf::bytes_init) bytes, at most `u32::MAX` of them per call
/// (a larger buffer gives a short write, never a wrapped length).
///
/// # Safety
///
/// Implementations must guarantee that:
///
/// * [`stable_ptr`](IoBuf::stable_ptr) points to [`bytes_total`](IoBuf::bytes_total)
///   bytes of memory, of which the first [`bytes_init`](IoBuf::bytes_init) are
///   initialised, and `bytes_init() <= bytes_total()`;
/// * that memory stays valid and at the same address while the value is moved (the
///   bytes live on the heap or in `'static` memory, not inline in the value), until the
///   value is dropped or mutated through `&mut`;
/// * the three methods are consistent: calling them again without an intervening `&mut`
///   access returns the same values.
///
/// When `bytes_total()` is zero the pointer may dangle; it is never dereferenced.
pub unsafe trait IoBuf: Unpin + Send + 'static {
    /// A pointer to the start of the buffer's memory.
    ///
    /// It stays valid, at the same address, while the buffer is moved. It may dangle
    /// when [`bytes_total`](IoBuf::bytes_total) is zero.
    fn stable_ptr(&self) -> *const u8;

    /// The number of initialised bytes at the start of the buffer: what a write sends.
    fn bytes_init(&self) -> usize;

    /// The total number of bytes of memory behind [`stable_ptr`](IoBuf::stable_ptr)
    /// (the capacity), at least [`bytes_init`](IoBuf::bytes_init).
    fn bytes_total(&self) -> usize;
}

/// A buffer that an owned-buffer read can fill.
///
/// A read writes up to [`bytes_total`](IoBuf::bytes_total) bytes starting at
/// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr), then calls
/// [`set_init`](IoBufMut::set_init) with the number of bytes written. As for writes,
/// one call transfers at most `u32::MAX` bytes.
///
/// `String` deliberately does not implement this trait: a read could leave it holding
/// invalid UTF-8. Read into a `Vec<u8>` instead.
///
/// # Safety
///
/// Everything [`IoBuf`] requires, and in addition
/// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr) points to the same
/// [`bytes_total`](IoBuf::bytes_total) bytes as [`stable_ptr`](IoBuf::stable_ptr), all
/// of which may be written (the uninitialised ones included), and
/// [`set_init`](IoBufMut::set_init) behaves as documented.
pub unsafe trait IoBufMut: IoBuf {
    /// A pointer to the start of the buffer's memory, valid for writes of
    /// [`bytes_total`](IoBuf::bytes_total) bytes.
    ///
    /// It stays valid, at the same address, while the buffer is moved. It may dangle
    /// when `bytes_total()` is zero.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Marks bytes `..pos` as initialised (grows the length if `pos` is larger; never
    /// shrinks).
    ///
    /// Afterwards [`bytes_init`](IoBuf::bytes_init) is `max(bytes_init(), pos)`, except
    /// for buffers that are always fully initialised, for which this does nothing.
    ///
    /// # Safety
    ///
    /// `pos <= bytes_total()`, and the first `pos` bytes of the buffer must really be
    /// initialised (e.g. because the kernel reported writing that many bytes at
    /// [`stable_mut_ptr`](IoBufMut::stable_mut_ptr)).
    unsafe fn set_init(&mut self, pos: usize);
}

/// Length to pass to the kernel for `len` bytes: clamped to `u32::MAX`, never wrapped.
///
/// An operation on a larger buffer then transfers at most `u32::MAX` bytes and reports
/// the real count (a short read or write); see the module docs.
#[cfg_attr(
    not(ringtide_uring),
    allow(dead_code, reason = "only the io_uring ops pass lengths to the kernel")
)]
pub(crate) fn kernel_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

// SAFETY: a `Vec`'s elements live in a heap allocation (or at a dangling pointer when
// the capacity is zero) of `capacity()` bytes, of which the first `len()` are
// initialised; moving the `Vec` moves only its (pointer, length, capacity) triple.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `Vec::as_mut_ptr` returns the allocation's own pointer, without going through
// a slice of `len()` bytes (std documents that it materialises no reference), so its
// provenance covers the whole capacity and writes up to `capacity()` through it are
// valid; `set_init` only grows the length, within the capacity, over bytes the caller
// guarantees are initialised.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        debug_assert!(pos <= self.capacity(), "set_init past the capacity");
        if pos > self.len() {
            // SAFETY: the caller guarantees `pos <= capacity()` and that the first `pos`
            // bytes are initialised.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice's bytes are on the heap (or dangling when empty), all `len()`
// of them initialised; moving the box moves only the pointer.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: the mutable pointer comes from a `&mut [u8]` over the whole slice, and
// `bytes_total()` is that slice's length, so its provenance covers every byte a read may
// write; since every byte is always initialised, `set_init` has nothing to record.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: `'static` memory is valid for the whole program and does not move; all `len()`
// bytes of a slice are initialised.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`: an array reference is `N` initialised bytes that
// never move (byte-string literals such as `b"ping"`).
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        N
    }

    fn bytes_total(&self) -> usize {
        N
    }
}

// SAFETY: as for `&'static [u8]`: a `str` is `len()` initialised bytes.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a `String` is a `Vec<u8>` underneath: heap storage of `capacity()` bytes, the
// first `len()` initialised, unaffected by moving the `String`.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `Bytes` points at shared heap or `'static` storage that is neither moved nor
// mutated while a handle exists; its `len()` bytes are initialised.
#[cfg(feature = "bytes")]
unsafe impl IoBuf for bytes::Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: `BytesMut` owns a heap region of `capacity()` bytes starting at its data
// pointer, the first `len()` initialised; moving the value does not move the region.
#[cfg(feature = "bytes")]
unsafe impl IoBuf for bytes::BytesMut {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `BytesMut` has unique write access to its `capacity()` bytes starting at its
// data pointer (it re-allocates or copies before anything else could observe them);
// `stable_mut_ptr` derives its pointer from a slice over all of them (see there), and
// `set_init` only grows the length, within the capacity, over initialised bytes.
#[cfg(feature = "bytes")]
unsafe impl IoBufMut for bytes::BytesMut {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // Provenance: a pointer derived from a reference may access only the bytes that
        // reference covered. `as_mut_ptr()` goes through `Deref` (`&mut [u8]` of
        // `len()` bytes), so writing past `len()` through it (which reads do, up to
        // `capacity()`) would be undefined behaviour. `spare_capacity_mut()` covers
        // `len()..capacity()`; with the length set to zero for the call it covers the
        // whole `0..capacity()`, and the pointer keeps that provenance after the length
        // is restored (`set_len` writes the handle, not the bytes).
        let len = self.len();
        // SAFETY: a zero length is within the capacity, and zero bytes are trivially
        // initialised.
        unsafe { self.set_len(0) };
        let ptr = self.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: restores the length it had: `len <= capacity()`, and those bytes are
        // still initialised (nothing wrote them meanwhile).
        unsafe { self.set_len(len) };
        ptr
    }

    unsafe fn set_init(&mut self, pos: usize) {
        debug_assert!(pos <= self.capacity(), "set_init past the capacity");
        if pos > self.len() {
            // SAFETY: the caller guarantees `pos <= capacity()` and that the first `pos`
            // bytes are initialised.
            unsafe { self.set_len(pos) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the pointer/length triple of an `IoBuf`.
    fn check<B: IoBuf>(buf: &B, ptr: *const u8, init: usize, total: usize) {
        assert_eq!(buf.stable_ptr(), ptr);
        assert_eq!(buf.bytes_init(), init);
        assert_eq!(buf.bytes_total(), total);
        assert!(buf.bytes_init() <= buf.bytes_total());
    }

    /// The buffer's initialised bytes, read through `stable_ptr`.
    fn init_bytes<B: IoBuf>(buf: &B) -> &[u8] {
        if buf.bytes_init() == 0 {
            return &[];
        }
        // SAFETY: the `IoBuf` contract: `stable_ptr` points at `bytes_init()` initialised
        // bytes, valid while `buf` is borrowed.
        unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }
    }

    /// Simulates a read of `data` into the start of `buf`, like a driver would.
    fn fake_read<B: IoBufMut>(buf: &mut B, data: &[u8]) {
        assert!(data.len() <= buf.bytes_total());
        let ptr = buf.stable_mut_ptr();
        // SAFETY: the `IoBufMut` contract: `ptr` is valid for writes of `bytes_total()`
        // bytes, which is at least `data.len()`; `data` cannot overlap `buf`, which is
        // borrowed mutably.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        // SAFETY: the first `data.len()` bytes were just written.
        unsafe { buf.set_init(data.len()) };
    }

    #[test]
    fn vec() {
        let v = vec![1u8, 2, 3];
        check(&v, v.as_ptr(), 3, v.capacity());
        assert_eq!(init_bytes(&v), [1, 2, 3]);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "set_init past the capacity")]
    fn vec_set_init_past_the_capacity_is_caught_in_debug_builds() {
        let mut v: Vec<u8> = Vec::with_capacity(4);
        let past = v.capacity() + 1;
        // SAFETY: none; the contract is broken on purpose, and the debug assertion stops
        // the call before it changes anything.
        unsafe { v.set_init(past) };
    }

    #[test]
    fn vec_with_spare_capacity() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"ab");
        let total = v.capacity();
        assert!(total >= 16);
        check(&v, v.as_ptr(), 2, total);
        // Writes send only the initialised bytes, reads may fill the whole capacity.
        assert_eq!(init_bytes(&v), b"ab");
        assert_eq!(v.stable_mut_ptr().cast_const(), v.stable_ptr());
    }

    #[test]
    fn vec_set_init_grows_never_shrinks() {
        let mut v: Vec<u8> = Vec::with_capacity(8);
        fake_read(&mut v, b"hello");
        assert_eq!(v, b"hello");
        assert_eq!(v.bytes_init(), 5);

        // A shorter read overwrites the start but keeps the length.
        fake_read(&mut v, b"HE");
        assert_eq!(v, b"HEllo");

        // A read filling the whole capacity.
        let total = v.bytes_total();
        let full = vec![7u8; total];
        fake_read(&mut v, &full);
        assert_eq!(v.len(), total);
        assert_eq!(v, full);

        // SAFETY: `0 <= bytes_total()`, and zero bytes are trivially initialised.
        unsafe { v.set_init(0) };
        assert_eq!(v.len(), total);
    }

    /// Writes `bytes_total()` bytes through `stable_mut_ptr` when part of the buffer is
    /// already initialised (the pointer's provenance must cover the capacity, not just
    /// the initialised length), records them, and reads them back.
    fn fill_to_capacity<B: IoBufMut>(mut buf: B) -> B {
        let total = buf.bytes_total();
        assert!(buf.bytes_init() > 0 && buf.bytes_init() < total);
        let ptr = buf.stable_mut_ptr();
        for index in 0..total {
            // SAFETY: the `IoBufMut` contract: `ptr` is valid for writes of
            // `bytes_total()` bytes.
            unsafe { ptr.add(index).write(index as u8) };
        }
        // SAFETY: all `total` bytes were just written.
        unsafe { buf.set_init(total) };
        assert_eq!(buf.bytes_init(), total);
        let expected: Vec<u8> = (0..total).map(|index| index as u8).collect();
        assert_eq!(init_bytes(&buf), &expected[..]);
        buf
    }

    #[test]
    fn vec_writes_up_to_capacity_through_the_pointer() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"kept");
        let v = fill_to_capacity(v);
        assert_eq!(v.len(), v.capacity());
    }

    #[test]
    fn zero_length_buffers() {
        let mut v: Vec<u8> = Vec::new();
        assert!(!v.stable_ptr().is_null());
        check(&v, v.as_ptr(), 0, 0);
        assert!(!v.stable_mut_ptr().is_null());
        fake_read(&mut v, &[]);
        assert!(v.is_empty());

        let mut b: Box<[u8]> = Box::new([]);
        assert!(!b.stable_ptr().is_null());
        check(&b, b.as_ptr(), 0, 0);
        fake_read(&mut b, &[]);

        let s: &'static [u8] = &[];
        check(&s, s.as_ptr(), 0, 0);
        let s: &'static str = "";
        check(&s, s.as_ptr(), 0, 0);
        let s = String::new();
        check(&s, s.as_ptr(), 0, 0);
        assert!(!s.stable_ptr().is_null());

        // Non-zero capacity but nothing initialised: a read target, not a write source.
        let v: Vec<u8> = Vec::with_capacity(4);
        assert_eq!(v.bytes_init(), 0);
        assert!(v.bytes_total() >= 4);
        assert!(init_bytes(&v).is_empty());
    }

    #[test]
    fn boxed_slice() {
        let mut b: Box<[u8]> = vec![0u8; 4].into_boxed_slice();
        check(&b, b.as_ptr(), 4, 4);
        fake_read(&mut b, b"xy");
        // Always fully initialised: `set_init` does not change the length.
        assert_eq!(&*b, b"xy\0\0");
        assert_eq!(b.bytes_init(), 4);
        assert_eq!(b.stable_mut_ptr().cast_const(), b.stable_ptr());
    }

    #[test]
    fn static_slices() {
        let s: &'static [u8] = b"static";
        check(&s, s.as_ptr(), 6, 6);
        assert_eq!(init_bytes(&s), b"static");

        let s: &'static str = "héllo";
        check(&s, s.as_ptr(), 6, 6);
        assert_eq!(init_bytes(&s), "héllo".as_bytes());
    }

    #[test]
    fn byte_string_literals() {
        let s: &'static [u8; 4] = b"ping";
        check(&s, s.as_ptr(), 4, 4);
        assert_eq!(init_bytes(&s), b"ping");
        let empty: &'static [u8; 0] = b"";
        check(&empty, empty.as_ptr(), 0, 0);
        assert!(init_bytes(&empty).is_empty());
    }

    #[test]
    fn string() {
        let mut s = String::with_capacity(32);
        s.push_str("text");
        check(&s, s.as_ptr(), 4, s.capacity());
        assert!(s.bytes_total() >= 32);
        assert_eq!(init_bytes(&s), b"text");
    }

    #[test]
    fn kernel_len_clamps() {
        assert_eq!(kernel_len(0), 0);
        assert_eq!(kernel_len(5), 5);
        assert_eq!(kernel_len(u32::MAX as usize), u32::MAX);
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(kernel_len(u32::MAX as usize + 1), u32::MAX);
            assert_eq!(kernel_len(u32::MAX as usize + 10), u32::MAX);
            assert_eq!(kernel_len(usize::MAX), u32::MAX);
        }
    }

    #[cfg(feature = "bytes")]
    mod bytes_impls {
        use super::*;
        use bytes::{Bytes, BytesMut};

        #[test]
        fn bytes() {
            let b = Bytes::from_static(b"static bytes");
            check(&b, b.as_ptr(), 12, 12);
            assert_eq!(init_bytes(&b), b"static bytes");

            // A `Bytes` view into part of a buffer: only the view's bytes.
            let b = Bytes::from(vec![1u8, 2, 3, 4]).slice(1..3);
            check(&b, b.as_ptr(), 2, 2);
            assert_eq!(init_bytes(&b), [2, 3]);

            let b = Bytes::new();
            check(&b, b.as_ptr(), 0, 0);
            assert!(!b.stable_ptr().is_null());
        }

        #[test]
        fn bytes_mut() {
            let mut b = BytesMut::with_capacity(16);
            b.extend_from_slice(b"ab");
            let total = b.capacity();
            assert!(total >= 16);
            check(&b, b.as_ptr(), 2, total);
            assert_eq!(init_bytes(&b), b"ab");
            assert_eq!(b.stable_mut_ptr().cast_const(), b.stable_ptr());

            // Within the initialised part.
            fake_read(&mut b, b"A");
            assert_eq!(&b[..], b"Ab");
            // SAFETY: `1 <= bytes_total()` and the first byte is initialised.
            unsafe { b.set_init(1) };
            assert_eq!(b.len(), 2, "set_init never shrinks");
        }

        #[test]
        fn bytes_mut_set_init_grows() {
            let mut b = BytesMut::with_capacity(8);
            // Fill the spare capacity the way the kernel would, then record it.
            for (slot, byte) in b.spare_capacity_mut().iter_mut().zip(b"hello") {
                slot.write(*byte);
            }
            // SAFETY: the first 5 bytes were just written, and the capacity is at
            // least 8.
            unsafe { b.set_init(5) };
            assert_eq!(&b[..], b"hello");
            assert_eq!(b.bytes_init(), 5);
        }

        #[test]
        fn bytes_mut_writes_up_to_capacity_through_the_pointer() {
            let mut b = BytesMut::with_capacity(64);
            b.extend_from_slice(b"kept");
            let ptr = b.as_ptr();
            let b = fill_to_capacity(b);
            assert_eq!(b.len(), b.capacity());
            assert_eq!(b.as_ptr(), ptr, "the same allocation");
            // The length survives taking the pointer.
            let mut b = BytesMut::with_capacity(16);
            b.extend_from_slice(b"abc");
            let _ = b.stable_mut_ptr();
            assert_eq!(&b[..], b"abc");
        }

        #[test]
        fn zero_length() {
            let mut b = BytesMut::new();
            check(&b, b.as_ptr(), 0, 0);
            assert!(!b.stable_mut_ptr().is_null());
            // SAFETY: zero bytes are trivially initialised.
            unsafe { b.set_init(0) };
            assert!(b.is_empty());
        }

        #[test]
        #[cfg(debug_assertions)]
        #[should_panic(expected = "set_init past the capacity")]
        fn bytes_mut_set_init_past_the_capacity_is_caught_in_debug_builds() {
            let mut b = BytesMut::with_capacity(4);
            let past = b.capacity() + 1;
            // SAFETY: none; the contract is broken on purpose, and the debug assertion
            // stops the call before it changes anything.
            unsafe { b.set_init(past) };
        }
    }
}
