//! [`FreeList`]: a [`BufPool`](super::BufPool)'s buffers in user space, for the
//! readiness backend (mio) and the io_uring fallbacks: one zeroed allocation of
//! `count` × `size` bytes and a stack of free buffer indices.
//!
//! A pooled read on mio waits for readability without a buffer, takes one from here
//! only to run the `recv` (giving it back at once if the socket had nothing), and hands
//! it to the caller as a [`ListBuf`], which returns itself when dropped, on any thread.
//! So, as with io_uring's provided-buffer rings, an idle connection holds no buffer.
//!
//! The allocation is zeroed (`calloc`), so its pages become resident only when a read
//! writes them. An empty list is not an error: the read waits
//! ([`FreeList::poll_returned`]) for a buffer to come back.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The buffers of one pool (see the module doc).
pub(crate) struct FreeList {
    /// `count * size` bytes, from `Box<[u8]>::into_raw`.
    memory: NonNull<u8>,
    count: usize,
    size: usize,
    state: Mutex<ListState>,
    /// Buffers returned so far (an exhausted read waits for it to move).
    returns: AtomicU64,
}

struct ListState {
    free: Vec<u32>,
    waiters: Vec<Waker>,
}

// SAFETY: `memory` is owned by the list and freed in its `Drop`; each buffer is
// reachable only through the one `ListBuf` that took its index off the free stack
// (under the mutex), until that `ListBuf` puts it back.
unsafe impl Send for FreeList {}
// SAFETY: see `Send`.
unsafe impl Sync for FreeList {}

impl std::fmt::Debug for FreeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreeList")
            .field("count", &self.count)
            .field("size", &self.size)
            .finish()
    }
}

impl FreeList {
    /// `count` buffers of `size` bytes (the pool checked the shape).
    pub(crate) fn new(count: usize, size: usize) -> io::Result<FreeList> {
        let total = count
            .checked_mul(size)
            .filter(|total| *total <= isize::MAX as usize)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a pool of {count} buffers of {size} bytes does not fit in memory"),
                )
            })?;
        let memory: Box<[u8]> = vec![0u8; total].into_boxed_slice();
        let memory = NonNull::new(Box::into_raw(memory).cast::<u8>()).expect("Box is non-null");
        Ok(FreeList {
            memory,
            count,
            size,
            state: Mutex::new(ListState {
                free: (0..count as u32).rev().collect(),
                waiters: Vec::new(),
            }),
            returns: AtomicU64::new(0),
        })
    }

    /// Buffers returned so far: read it before [`try_take`](FreeList::try_take), and
    /// pass it to [`poll_returned`](FreeList::poll_returned) when that found none.
    pub(crate) fn returns(&self) -> u64 {
        self.returns.load(Ordering::SeqCst)
    }

    /// A free buffer, or `None` when every buffer is on loan.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<ListBuf> {
        let index = lock(&self.state).free.pop()?;
        Some(ListBuf {
            list: self.clone(),
            index,
            len: 0,
        })
    }

    /// Ready once a buffer came back after `seen` (a [`returns`](FreeList::returns)
    /// value).
    pub(crate) fn poll_returned(&self, seen: u64, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        // Returns bump the count under the same lock, so this check cannot miss one.
        if self.returns() != seen {
            return Poll::Ready(());
        }
        if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn give_back(&self, index: u32) {
        let waiters = {
            let mut state = lock(&self.state);
            state.free.push(index);
            self.returns.fetch_add(1, Ordering::SeqCst);
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    fn buf_ptr(&self, index: u32) -> *mut u8 {
        debug_assert!((index as usize) < self.count);
        // SAFETY: buffer `index < count` lies inside the allocation.
        unsafe { self.memory.as_ptr().add(index as usize * self.size) }
    }
}

impl Drop for FreeList {
    fn drop(&mut self) {
        let slice =
            std::ptr::slice_from_raw_parts_mut(self.memory.as_ptr(), self.count * self.size);
        // SAFETY: `memory` came from `Box::into_raw` of a slice of this length, and no
        // `ListBuf` is left (each holds an `Arc` to the list).
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// A buffer on loan from a [`FreeList`]; dropping it puts it back.
pub(crate) struct ListBuf {
    list: Arc<FreeList>,
    index: u32,
    len: usize,
}

impl ListBuf {
    /// The whole buffer, for a syscall to write into.
    pub(crate) fn spare(&mut self) -> (*mut u8, usize) {
        (self.list.buf_ptr(self.index), self.list.size)
    }

    /// Records that the first `len` bytes hold data.
    ///
    /// # Safety
    ///
    /// The first `len` bytes were written (a `recv` into [`spare`](ListBuf::spare)
    /// returned `len`).
    pub(crate) unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.list.size);
        self.len = len;
    }

    /// The bytes read.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: this value alone may touch buffer `index` while it is on loan, and
        // its first `len` bytes are initialised (the allocation is zeroed anyway).
        unsafe { std::slice::from_raw_parts(self.list.buf_ptr(self.index), self.len) }
    }
}

impl std::fmt::Debug for ListBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for ListBuf {
    fn drop(&mut self) {
        self.list.give_back(self.index);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buffers_cycle_and_an_empty_list_waits_for_a_return() {
        let list = Arc::new(FreeList::new(2, 8).unwrap());
        let mut first = list.try_take().unwrap();
        let (ptr, len) = first.spare();
        assert_eq!(len, 8);
        // SAFETY: the buffer has 8 writable bytes.
        unsafe {
            ptr.copy_from_nonoverlapping(b"abc".as_ptr(), 3);
            first.set_len(3);
        }
        assert_eq!(first.bytes(), b"abc");
        let second = list.try_take().unwrap();
        let seen = list.returns();
        assert!(list.try_take().is_none());
        let (woken, waker) = crate::test_support::counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(list.poll_returned(seen, &mut cx).is_pending());
        std::thread::spawn(move || drop(first)).join().unwrap();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(list.poll_returned(seen, &mut cx).is_ready());
        assert!(list.try_take().is_some());
        drop(second);
    }
}
