//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`): buffers the kernel picks for a
//! read when its data arrives, so a pending read holds no memory of its own.
//!
//! # Pieces
//!
//! * [`BufGroup`]: a buffer group id (`bgid`, what an SQE names with
//!   `IOSQE_BUFFER_SELECT`) and the shape of its buffers (`count` × `size`). The id is
//!   process-wide: every ring that serves the group registers it under the same id, so
//!   an SQE built for it is valid on whichever ring submits it. Ids are reused only
//!   once the group is gone and no ring has it registered any more.
//! * [`BufRing`]: one group registered on one io_uring instance: one anonymous
//!   mapping holding the ring entries (page-aligned, as the kernel requires) followed
//!   by the `count` × `size` buffers. A mapping's pages become resident only when
//!   written, so a registered ring whose buffers were never filled costs (almost) no
//!   memory.
//! * [`RingBuf`]: a buffer the kernel filled, taken out of a CQE
//!   ([`BufRing::take`]); it goes back into its ring when dropped, on any thread.
//! * The per-thread registry: each ring is owned by one thread, and an SQE is always
//!   built on the thread of the ring it goes to, so [`BufRing::for_sqe`] looks the group
//!   up in (or registers it on) this thread's ring. The ring tells the registry when it
//!   attaches (`ring_attached`, with its fd) and when it closes (`ring_closed`).
//!
//! # Memory lifetime
//!
//! The kernel writes into a buffer only for a request that selected it, and reads the
//! ring entries only when it selects. So a [`BufRing`]'s mapping must outlive every
//! request that names its group on its ring, and every [`RingBuf`] on loan: each holds
//! an `Arc<BufRing>` (an op records the ring it was submitted with, and an op stranded
//! in the kernel at ring teardown is leaked with that `Arc`). The registry holds one
//! more while the group is registered. When the last goes, the mapping is unmapped;
//! by then the group is unregistered or its ring closed.
//!
//! # The return path
//!
//! A buffer goes back by writing its entry at the ring's tail and publishing the new
//! tail (a release store the kernel pairs with an acquire load). Tasks move between
//! workers, so a buffer may be dropped on any thread, and two returns may race. No
//! lock is taken (the return runs once per received buffer on the poll path's
//! multishot receive; with two mutexes it was 0.95% of an echo server's samples in
//! that mode, 0.51% now, `perf record`, 256 connections × 100 B):
//!
//! ```text
//!   reserved: the next free slot (wrapping u16)   published: the kernel's tail
//!
//!   return(bid): slot = reserved.fetch_add(1)       (a slot of its own)
//!                write entry `slot` = bid's buffer
//!                CAS published: slot → slot + 1, (release; retried while a return
//!                reserved before it has not published yet: tails move in order)
//!                returns word (count << 1 | WAITING) += 2; WAITING was set? lock,
//!                clear it, take the waiters, wake them
//!   exhausted read: count moved? ready; else lock waiters, list, then CAS WAITING
//!                   on while the count is still the one seen (it moved: ready).
//!                   Both sides are read-modify-writes of one word, so a return
//!                   either sees the bit or the read sees the count move.
//! ```
//!
//! The CAS is a read-modify-write, so a successor's publish continues the release
//! sequence of its predecessors': the kernel's acquire load of the tail sees every
//! entry below it. A return waits only for returns that reserved an earlier slot and
//! are between their `fetch_add` and their CAS (a few stores; it yields the CPU after
//! a short spin, in case that thread was preempted). No more buffers than the ring has
//! slots ever exist, so a reserved slot is always free and a return never reads the
//! kernel's head. The loom models (`loom_*` below) check racing returns against the
//! kernel's view and a waiter against a return.
//!
//! # Exhaustion
//!
//! A read that finds the ring empty completes with `-ENOBUFS` (the kernel leaves the
//! data in the socket). Its caller waits for a buffer to come back to that ring
//! ([`BufRing::poll_returned`], with the return count seen when the SQE was built, so
//! a return in between is never missed) and submits again. The reads here also set
//! `IORING_RECVSEND_POLL_FIRST`: the kernel selects a buffer only once data is there,
//! so an idle connection never takes one, and never fails for want of one.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::loom::atomic::{AtomicU16, AtomicU64};

/// [`BufRing::returns`]'s low bit: a read waits in the list.
const WAITING: u64 = 1;

/// Locks a std mutex (the group id table; the return path uses `crate::loom`'s),
/// ignoring poisoning: no critical section here panics.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `IORING_REGISTER_PBUF_RING`.
const REGISTER_PBUF_RING: libc::c_uint = 22;
/// `IORING_UNREGISTER_PBUF_RING`.
const UNREGISTER_PBUF_RING: libc::c_uint = 23;
/// `IORING_CQE_F_BUFFER`.
const CQE_F_BUFFER: u32 = 1;
/// `IORING_CQE_BUFFER_SHIFT`.
const CQE_BUFFER_SHIFT: u32 = 16;
/// `IORING_RECVSEND_POLL_FIRST` (in the SQE's `ioprio` of a RECV).
pub(crate) const RECVSEND_POLL_FIRST: u16 = 1;

/// The most buffers one group may have: the kernel's limit on a ring's entries (2^15).
pub(crate) const MAX_COUNT: usize = 1 << 15;

/// `struct io_uring_buf_reg`.
#[repr(C)]
struct BufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

/// `struct io_uring_buf`: one ring entry. The ring's tail overlays `resv` of entry 0.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// How many `-ENOBUFS` completions of pooled reads this process has seen (tests read
/// it to prove the exhaustion path ran).
static EXHAUSTED: StdAtomicU64 = StdAtomicU64::new(0);

/// Counts one `-ENOBUFS` completion (see [`exhausted_count`]).
pub(crate) fn note_exhausted() {
    EXHAUSTED.fetch_add(1, Ordering::Relaxed);
}

/// How many `-ENOBUFS` completions pooled reads have seen in this process so far.
pub(crate) fn exhausted_count() -> u64 {
    EXHAUSTED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------
// Group ids

/// The ids in use: by a live [`BufGroup`] (`alive`) or by rings that still have the
/// group registered (`registered`). An id is free again when both are gone.
#[derive(Default)]
struct IdTable {
    slots: std::collections::HashMap<u16, IdSlot>,
    next: u16,
}

#[derive(Default)]
struct IdSlot {
    alive: bool,
    registered: usize,
}

static IDS: Mutex<Option<IdTable>> = Mutex::new(None);

/// Bumped each time a group is dropped: rings then unregister it (see `sweep`).
static RETIRED_EPOCH: StdAtomicU64 = StdAtomicU64::new(0);

fn with_ids<R>(f: impl FnOnce(&mut IdTable) -> R) -> R {
    f(lock(&IDS).get_or_insert_with(IdTable::default))
}

fn release_registration(bgid: u16) {
    with_ids(|ids| {
        if let Some(slot) = ids.slots.get_mut(&bgid) {
            slot.registered = slot.registered.saturating_sub(1);
            if slot.registered == 0 && !slot.alive {
                ids.slots.remove(&bgid);
            }
        }
    });
}

/// A buffer group: the id SQEs name and the shape of the buffers each ring that serves
/// it registers.
#[derive(Debug)]
pub(crate) struct BufGroup {
    id: u16,
    count: u16,
    size: u32,
}

impl BufGroup {
    /// A new group of `count` buffers of `size` bytes per ring. `count` is 1 to
    /// [`MAX_COUNT`] (the ring has the next power of two of entries), `size` 1 to
    /// `u32::MAX`.
    pub(crate) fn new(count: usize, size: usize) -> io::Result<BufGroup> {
        check_shape(count, size)?;
        let id = with_ids(|ids| {
            for _ in 0..=u16::MAX as usize {
                let id = ids.next;
                ids.next = ids.next.wrapping_add(1);
                if let std::collections::hash_map::Entry::Vacant(slot) = ids.slots.entry(id) {
                    slot.insert(IdSlot {
                        alive: true,
                        registered: 0,
                    });
                    return Ok(id);
                }
            }
            Err(io::Error::other(
                "65536 buffer pools are in use in this process: io_uring has no more \
                 buffer group ids",
            ))
        })?;
        Ok(BufGroup {
            id,
            count: count as u16,
            size: size as u32,
        })
    }

    /// The buffer group id for an SQE's `buf_group`.
    pub(crate) fn id(&self) -> u16 {
        self.id
    }
}

impl Drop for BufGroup {
    fn drop(&mut self) {
        with_ids(|ids| {
            if let Some(slot) = ids.slots.get_mut(&self.id) {
                slot.alive = false;
                if slot.registered == 0 {
                    ids.slots.remove(&self.id);
                }
            }
        });
        RETIRED_EPOCH.fetch_add(1, Ordering::Release);
    }
}

/// The errors of a bad pool shape (see [`BufGroup::new`]).
pub(crate) fn check_shape(count: usize, size: usize) -> io::Result<()> {
    if count == 0 || count > MAX_COUNT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a buffer pool needs 1 to {MAX_COUNT} buffers (io_uring's limit), not {count}"),
        ));
    }
    if size == 0 || size > u32::MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a pool buffer's size must be 1 to {} bytes, not {size}",
                u32::MAX
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One registered ring

/// One buffer group registered on one ring (see the module doc).
pub(crate) struct BufRing {
    /// The mapping: ring entries (page-aligned), then the buffers.
    map: NonNull<u8>,
    map_len: usize,
    /// Offset of buffer 0 in the mapping.
    bufs_offset: usize,
    /// Ring entries, a power of two, at least `count`.
    entries: u16,
    count: u16,
    size: u32,
    bgid: u16,
    /// The slot the next returned buffer reserves (the published tail, the kernel's,
    /// is in the mapping).
    reserved: AtomicU16,
    /// Under loom, the published tail (the mapping's is a std atomic loom cannot see).
    #[cfg(loom)]
    published: AtomicU16,
    /// Under loom, each slot's buffer id as written by a return, so that the models
    /// check that the kernel's view of an entry below the tail is the written one.
    #[cfg(loom)]
    shadow: Box<[loom::cell::UnsafeCell<u16>]>,
    /// `returned << 1 | WAITING`: buffers returned so far (exhausted reads wait for it
    /// to move), and whether a read is listed in `waiters` (returns take the lock
    /// only then).
    returns: AtomicU64,
    /// Reads waiting for a return.
    waiters: crate::loom::Mutex<Vec<Waker>>,
}

impl std::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.bgid)
            .field("count", &self.count)
            .field("size", &self.size)
            .finish()
    }
}

// SAFETY: the mapping is owned by this value and freed only in its `Drop`; a ring
// entry is written only by the return that reserved its slot (`reserved`), and a
// buffer's bytes are read only
// through a `RingBuf`, which exists for buffers the kernel handed out and nobody else
// writes until the `RingBuf` gives it back.
unsafe impl Send for BufRing {}
// SAFETY: see `Send`; every shared-state field is atomic or behind a mutex.
unsafe impl Sync for BufRing {}

fn page_size() -> usize {
    // SAFETY: plain query.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 { page as usize } else { 4096 }
}

impl BufRing {
    /// Maps the memory for `count` buffers of `size` bytes under group `bgid` and puts
    /// every buffer in the ring (not registered yet: see [`register`](BufRing::register)).
    fn new(bgid: u16, count: u16, size: u32) -> io::Result<BufRing> {
        let entries = (count as usize).next_power_of_two();
        let page = page_size();
        let entries_len = (entries * size_of::<RingEntry>()).div_ceil(page) * page;
        let bufs_len = (count as usize)
            .checked_mul(size as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pool too large"))?;
        let map_len = entries_len
            .checked_add(bufs_len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pool too large"))?;
        // SAFETY: an anonymous private mapping; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = BufRing {
            map: NonNull::new(map.cast()).expect("mmap never returns null on success"),
            map_len,
            bufs_offset: entries_len,
            entries: entries as u16,
            count,
            size,
            bgid,
            reserved: AtomicU16::new(count),
            #[cfg(loom)]
            published: AtomicU16::new(0),
            #[cfg(loom)]
            shadow: (0..entries)
                .map(|_| loom::cell::UnsafeCell::new(u16::MAX))
                .collect(),
            returns: AtomicU64::new(0),
            waiters: crate::loom::Mutex::new(Vec::new()),
        };
        // Not shared yet: every buffer goes in, then one publish.
        for bid in 0..count {
            ring.write_entry(bid, bid);
        }
        ring.published().store(count, Ordering::Release);
        Ok(ring)
    }

    fn entry_ptr(&self, slot: u16) -> *mut RingEntry {
        debug_assert!(slot < self.entries);
        // SAFETY: the entries start the mapping and `slot < entries`.
        unsafe { self.map.as_ptr().cast::<RingEntry>().add(slot as usize) }
    }

    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        debug_assert!(bid < self.count);
        // SAFETY: buffer `bid < count` lies inside the mapping.
        unsafe {
            self.map
                .as_ptr()
                .add(self.bufs_offset + bid as usize * self.size as usize)
        }
    }

    /// Writes buffer `bid`'s entry into `slot` (a position of the tail, wrapping; the
    /// caller reserved it, and publishes it separately).
    fn write_entry(&self, slot: u16, bid: u16) {
        let index = slot & (self.entries - 1);
        let entry = self.entry_ptr(index);
        // SAFETY: the slot is free and this caller's alone: it was reserved by one
        // `fetch_add` (or during `new`, before the ring is shared), and at most
        // `count <= entries` buffers are ever in the ring, so the kernel is not reading
        // it (it reads only between its head and the published tail, which is below
        // the slot until this caller publishes). `addr`/`len`/`bid` never overlap the
        // tail, which lives in entry 0's `resv` and is written only through
        // `published`.
        unsafe {
            std::ptr::addr_of_mut!((*entry).addr).write(self.buf_ptr(bid) as u64);
            std::ptr::addr_of_mut!((*entry).len).write(self.size);
            std::ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        #[cfg(loom)]
        // SAFETY: as above, the slot is this caller's until it publishes; loom checks it.
        self.shadow[index as usize].with_mut(|shadow| unsafe { *shadow = bid });
    }

    /// The published tail, the kernel's (see "The return path").
    #[cfg(not(loom))]
    fn published(&self) -> &std::sync::atomic::AtomicU16 {
        // SAFETY: entry 0's `resv` is the ring's tail (`struct io_uring_buf_ring`); it
        // is 2-aligned inside the mapping, which lives as long as `self`, and the
        // kernel only reads it (atomically), so an atomic view of it is sound.
        unsafe {
            &*std::ptr::addr_of_mut!((*self.entry_ptr(0)).resv)
                .cast::<std::sync::atomic::AtomicU16>()
        }
    }

    #[cfg(loom)]
    fn published(&self) -> &AtomicU16 {
        &self.published
    }

    /// Under loom: the kernel's side, the buffer ids in the ring between `head` and the
    /// published tail, read as the kernel would (an acquire load of the tail first).
    #[cfg(all(test, loom))]
    fn kernel_view(&self, head: u16) -> Vec<u16> {
        let tail = self.published.load(Ordering::Acquire);
        (head..tail)
            .map(|slot| {
                let index = (slot & (self.entries - 1)) as usize;
                // SAFETY: below the published tail: its writer is done with it.
                self.shadow[index].with(|shadow| unsafe { *shadow })
            })
            .collect()
    }

    /// Registers this ring's entries with the io_uring instance `ring_fd` under its
    /// group id.
    fn register(&self, ring_fd: RawFd) -> io::Result<()> {
        let reg = BufReg {
            ring_addr: self.map.as_ptr() as u64,
            ring_entries: u32::from(self.entries),
            bgid: self.bgid,
            flags: 0,
            resv: [0; 3],
        };
        // SAFETY: `reg` is a valid `io_uring_buf_reg` for the call; the ring memory it
        // names stays mapped while registered (see "Memory lifetime").
        let result = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring_fd,
                REGISTER_PBUF_RING,
                std::ptr::addr_of!(reg),
                1,
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn unregister(&self, ring_fd: RawFd) {
        let reg = BufReg {
            ring_addr: 0,
            ring_entries: 0,
            bgid: self.bgid,
            flags: 0,
            resv: [0; 3],
        };
        // SAFETY: as in `register`; failure (the ring is going away) changes nothing.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring_fd,
                UNREGISTER_PBUF_RING,
                std::ptr::addr_of!(reg),
                1,
            )
        };
    }

    /// A ring of `count` buffers of `size` bytes registered nowhere, for models of
    /// code that holds [`RingBuf`]s: [`take`](BufRing::take) hands out its buffers as a
    /// CQE naming them would.
    #[cfg(test)]
    pub(crate) fn unregistered(count: u16, size: u32) -> io::Result<Arc<BufRing>> {
        BufRing::new(u16::MAX, count, size).map(Arc::new)
    }

    /// The group id.
    pub(crate) fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Buffers returned so far: record it when building an SQE, and pass it to
    /// [`poll_returned`](BufRing::poll_returned) after an `-ENOBUFS`.
    pub(crate) fn returns(&self) -> u64 {
        self.returns.load(Ordering::Acquire) >> 1
    }

    /// Ready once a buffer came back after `seen` (a [`returns`](BufRing::returns)
    /// value): the ring has a buffer again, or had one since.
    pub(crate) fn poll_returned(&self, seen: u64, cx: &mut Context<'_>) -> Poll<()> {
        if self.returns() != seen {
            return Poll::Ready(());
        }
        let mut waiters = crate::loom::lock(&self.waiters);
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        // Set WAITING only while the count is still `seen`: a return after this sees
        // the bit (and takes the list once this lock is released); one before it
        // moved the count, and the read is ready (its listing is a spurious wake).
        let result = self
            .returns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word >> 1 == seen).then_some(word | WAITING)
            });
        match result {
            Ok(_) => Poll::Pending,
            Err(_) => Poll::Ready(()),
        }
    }

    /// The buffer a CQE names (`IORING_CQE_F_BUFFER`, id in `flags >> 16`), holding the
    /// `result` bytes the kernel wrote (none for a result ≤ 0); `None` when the CQE
    /// used no buffer.
    pub(crate) fn take(self: &Arc<Self>, result: i32, flags: u32) -> Option<RingBuf> {
        if flags & CQE_F_BUFFER == 0 {
            return None;
        }
        let bid = (flags >> CQE_BUFFER_SHIFT) as u16;
        if bid >= self.count {
            crate::trace::event!(
                error,
                "ringtide: a CQE named buffer {bid} of group {}, which has {} buffers",
                self.bgid,
                self.count
            );
            return None;
        }
        let len = (result.max(0) as u32).min(self.size);
        Some(RingBuf {
            ring: self.clone(),
            bid,
            len,
        })
    }

    /// Puts buffer `bid` back into the ring and wakes reads waiting for one (see "The
    /// return path").
    fn give_back(&self, bid: u16) {
        let slot = self.reserved.fetch_add(1, Ordering::Relaxed);
        self.write_entry(slot, bid);
        let next = slot.wrapping_add(1);
        let mut spins = 0u32;
        while self
            .published()
            .compare_exchange_weak(slot, next, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // A return that reserved an earlier slot has not published yet.
            spins += 1;
            wait_for_predecessor(spins);
        }
        if self.returns.fetch_add(1 << 1, Ordering::AcqRel) & WAITING != 0 {
            let waiters = {
                let mut waiters = crate::loom::lock(&self.waiters);
                // Cleared under the lock the reads list themselves under: a read that
                // lists itself after this sets it again.
                self.returns.fetch_and(!WAITING, Ordering::AcqRel);
                std::mem::take(&mut *waiters)
            };
            waiters.into_iter().for_each(Waker::wake);
        }
    }
}

/// One turn of a return's wait for an earlier one to publish: spin briefly, then give
/// the CPU away (the earlier return's thread may have been preempted).
fn wait_for_predecessor(spins: u32) {
    #[cfg(loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    if spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours; no request and no `RingBuf` can use it any more
        // (each holds an `Arc` to this value), and the group is unregistered or its
        // ring closed (the registry holds an `Arc` while it is registered).
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// A buffer the kernel filled, on loan from its [`BufRing`]; dropping it puts it back.
pub(crate) struct RingBuf {
    ring: Arc<BufRing>,
    bid: u16,
    len: u32,
}

impl RingBuf {
    /// The bytes the kernel wrote.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel handed this buffer out with its CQE (it is no longer in
        // the ring, so nothing writes it) and wrote `len <= size` bytes into it; it
        // returns to the ring only when this value drops.
        unsafe { std::slice::from_raw_parts(self.ring.buf_ptr(self.bid), self.len as usize) }
    }

    /// The buffer's id in its group.
    #[cfg_attr(not(test), allow(dead_code, reason = "for diagnostics and tests"))]
    pub(crate) fn bid(&self) -> u16 {
        self.bid
    }
}

impl std::fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuf")
            .field("bgid", &self.ring.bgid)
            .field("bid", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        self.ring.give_back(self.bid);
    }
}

// ---------------------------------------------------------------------------------------
// The per-thread registry

struct Registry {
    /// This thread's ring (its id and fd), once attached.
    ring: Option<(u64, RawFd)>,
    /// The groups registered on it.
    groups: Vec<Arc<BufRing>>,
    /// The last `RETIRED_EPOCH` swept.
    swept: u64,
}

impl Registry {
    fn clear(&mut self, unregister: bool) {
        for ring in self.groups.drain(..) {
            if unregister {
                if let Some((_, fd)) = self.ring {
                    ring.unregister(fd);
                }
            }
            release_registration(ring.bgid);
        }
    }

    /// Unregisters the groups that are gone.
    fn sweep(&mut self) {
        let epoch = RETIRED_EPOCH.load(Ordering::Acquire);
        if epoch == self.swept {
            return;
        }
        self.swept = epoch;
        let Some((_, fd)) = self.ring else {
            return;
        };
        let gone: Vec<u16> = with_ids(|ids| {
            self.groups
                .iter()
                .map(|ring| ring.bgid)
                .filter(|bgid| ids.slots.get(bgid).is_none_or(|slot| !slot.alive))
                .collect()
        });
        self.groups.retain(|ring| {
            if gone.contains(&ring.bgid) {
                ring.unregister(fd);
                release_registration(ring.bgid);
                false
            } else {
                true
            }
        });
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Thread exit: the ring may be gone already (its fd closed, which unregistered
        // everything), so nothing is unregistered here.
        self.clear(false);
    }
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const {
        RefCell::new(Registry { ring: None, groups: Vec::new(), swept: 0 })
    };
}

/// Ring hook: this thread's ring `ring_id` (io_uring fd `fd`) is attached to a core.
/// A different ring than before means the old one was closed.
pub(crate) fn ring_attached(ring_id: u64, fd: RawFd) {
    let _ = REGISTRY.try_with(|registry| {
        let mut registry = registry.borrow_mut();
        if registry.ring.is_some_and(|(id, _)| id != ring_id) {
            registry.clear(false);
        }
        registry.ring = Some((ring_id, fd));
        registry.sweep();
    });
}

/// Ring hook: this thread's ring `ring_id` is being closed (its fd is still open):
/// unregister its groups and let their memory go (requests stranded in the kernel
/// keep theirs).
pub(crate) fn ring_closed(ring_id: u64) {
    let _ = REGISTRY.try_with(|registry| {
        let mut registry = registry.borrow_mut();
        if registry.ring.is_some_and(|(id, _)| id == ring_id) {
            registry.clear(true);
            registry.ring = None;
        }
    });
}

/// Park hook: unregisters the groups dropped since the last sweep from this thread's
/// ring (one atomic load when none was).
pub(crate) fn sweep_this_thread() {
    let _ = REGISTRY.try_with(|registry| {
        if let Ok(mut registry) = registry.try_borrow_mut() {
            registry.sweep();
        }
    });
}

impl BufRing {
    /// For an SQE being built on this thread (which owns the ring it goes to): `group`
    /// registered on this thread's ring, registering it now on first use. `Ok(None)`:
    /// this thread has no attached ring. An error: the kernel refused the registration
    /// (the memory could not be mapped, or the kernel lacks provided-buffer rings).
    pub(crate) fn for_sqe(group: &BufGroup) -> io::Result<Option<Arc<BufRing>>> {
        REGISTRY
            .try_with(|registry| {
                let mut registry = registry.borrow_mut();
                registry.sweep();
                let Some((_, fd)) = registry.ring else {
                    return Ok(None);
                };
                if let Some(ring) = registry.groups.iter().find(|r| r.bgid == group.id) {
                    return Ok(Some(ring.clone()));
                }
                let ring = Arc::new(BufRing::new(group.id, group.count, group.size)?);
                ring.register(fd)?;
                with_ids(|ids| {
                    if let Some(slot) = ids.slots.get_mut(&group.id) {
                        slot.registered += 1;
                    }
                });
                registry.groups.push(ring.clone());
                Ok(Some(ring))
            })
            .unwrap_or(Ok(None))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    use io_uring::{IoUring, opcode, squeue, types};

    use super::*;

    /// A plain ring on this thread, announced to the registry as if attached.
    fn thread_ring(id: u64) -> IoUring {
        let ring = IoUring::new(8).unwrap();
        ring_attached(id, ring.as_raw_fd());
        ring
    }

    fn recv_entry(fd: RawFd, group: &BufGroup, user_data: u64) -> squeue::Entry {
        opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), 0)
            .buf_group(group.id())
            .ioprio(RECVSEND_POLL_FIRST)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
            .user_data(user_data)
    }

    fn submit_and_wait(ring: &mut IoUring, entry: &squeue::Entry) -> (i32, u32) {
        // SAFETY: the entry points at no memory (the kernel picks the buffer).
        unsafe { ring.submission().push(entry).unwrap() };
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completion().next().unwrap();
        (cqe.result(), cqe.flags())
    }

    #[test]
    fn a_read_takes_a_kernel_selected_buffer_that_returns_on_drop() {
        let mut ring = thread_ring(1_000_001);
        let group = BufGroup::new(2, 64).unwrap();
        let buffers = BufRing::for_sqe(&group)
            .unwrap()
            .expect("a ring is attached");
        let again = BufRing::for_sqe(&group).unwrap().unwrap();
        assert!(Arc::ptr_eq(&buffers, &again), "registered once per ring");
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        writer.write_all(b"hello").unwrap();
        let entry = recv_entry(reader.as_raw_fd(), &group, 7);
        let (result, flags) = submit_and_wait(&mut ring, &entry);
        assert_eq!(result, 5);
        let buf = buffers.take(result, flags).expect("the CQE names a buffer");
        assert_eq!(buf.bytes(), b"hello");
        let seen = buffers.returns();
        drop(buf);
        assert_eq!(buffers.returns(), seen + 1);
        // Both buffers keep cycling: more reads than buffers, each dropped at once.
        for round in 0..5u8 {
            writer.write_all(&[round; 3]).unwrap();
            let (result, flags) = submit_and_wait(&mut ring, &entry);
            let buf = buffers.take(result, flags).unwrap();
            assert_eq!(buf.bytes(), &[round; 3]);
        }
        ring_closed(1_000_001);
    }

    #[test]
    fn an_empty_ring_reports_enobufs_and_a_return_refills_it() {
        let mut ring = thread_ring(1_000_002);
        let group = BufGroup::new(1, 16).unwrap();
        let buffers = BufRing::for_sqe(&group).unwrap().unwrap();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        writer.write_all(b"ab").unwrap();
        let entry = recv_entry(reader.as_raw_fd(), &group, 1);
        let (result, flags) = submit_and_wait(&mut ring, &entry);
        let held = buffers.take(result, flags).unwrap();
        writer.write_all(b"cd").unwrap();
        let seen = buffers.returns();
        let (result, flags) = submit_and_wait(&mut ring, &entry);
        assert_eq!(result, -libc::ENOBUFS, "the only buffer is on loan");
        assert!(buffers.take(result, flags).is_none());
        let (woken, waker) = crate::test_support::counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(buffers.poll_returned(seen, &mut cx).is_pending());
        // Returned from another thread.
        std::thread::spawn(move || drop(held)).join().unwrap();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(buffers.poll_returned(seen, &mut cx).is_ready());
        let (result, flags) = submit_and_wait(&mut ring, &entry);
        assert_eq!(buffers.take(result, flags).unwrap().bytes(), b"cd");
        ring_closed(1_000_002);
    }

    /// Every buffer of the ring on loan, then all returned at once from four threads
    /// (racing returns): the kernel then hands each one out again, once, and a read
    /// past them finds the ring empty.
    #[test]
    fn returns_racing_on_threads_put_every_buffer_back_once() {
        const COUNT: u16 = 64;
        let mut ring = thread_ring(1_000_005);
        let group = BufGroup::new(COUNT as usize, 8).unwrap();
        let buffers = BufRing::for_sqe(&group).unwrap().unwrap();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let entry = recv_entry(reader.as_raw_fd(), &group, 1);
        for round in 0..3 {
            let mut held = Vec::new();
            for _ in 0..COUNT {
                writer.write_all(b"x").unwrap();
                let (result, flags) = submit_and_wait(&mut ring, &entry);
                held.push(buffers.take(result, flags).expect("a buffer"));
            }
            let mut bids: Vec<u16> = held.iter().map(RingBuf::bid).collect();
            bids.sort_unstable();
            bids.dedup();
            assert_eq!(bids.len(), COUNT as usize, "round {round}: a buffer twice");
            writer.write_all(b"y").unwrap();
            let (result, _) = submit_and_wait(&mut ring, &entry);
            assert_eq!(
                result,
                -libc::ENOBUFS,
                "round {round}: every buffer on loan"
            );
            let seen = buffers.returns();
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let share: Vec<RingBuf> = held.drain(..(COUNT as usize / 4)).collect();
                    std::thread::spawn(move || drop(share))
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(buffers.returns(), seen + u64::from(COUNT));
            // The "y" is still in the socket: the next read takes a returned buffer.
            let (result, flags) = submit_and_wait(&mut ring, &entry);
            assert_eq!(buffers.take(result, flags).unwrap().bytes(), b"y");
        }
        ring_closed(1_000_005);
    }

    #[test]
    fn a_buffer_outlives_its_group_and_registration() {
        let mut ring = thread_ring(1_000_003);
        let group = BufGroup::new(4, 8).unwrap();
        let id = group.id();
        let buffers = BufRing::for_sqe(&group).unwrap().unwrap();
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        writer.write_all(b"kept").unwrap();
        let (result, flags) =
            submit_and_wait(&mut ring, &recv_entry(reader.as_raw_fd(), &group, 1));
        let buf = buffers.take(result, flags).unwrap();
        drop(buffers);
        drop(group);
        sweep_this_thread();
        assert!(
            with_ids(|ids| !ids.slots.contains_key(&id)),
            "the sweep unregistered the dropped group and freed its id"
        );
        // The mapping lives on with the loan.
        assert_eq!(buf.bytes(), b"kept");
        drop(buf);
        drop(ring);
    }

    #[test]
    fn bad_shapes_are_clear_errors() {
        for (count, size) in [(0, 16), (MAX_COUNT + 1, 16), (4, 0)] {
            let error = BufGroup::new(count, size).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{count}×{size}");
        }
        #[cfg(target_pointer_width = "64")]
        assert!(BufGroup::new(1, u32::MAX as usize + 1).is_err());
        // Not a power of two: the ring rounds up, the group keeps its count.
        let group = BufGroup::new(3, 16).unwrap();
        let ring = BufRing::new(group.id(), 3, 16).unwrap();
        assert_eq!((ring.entries, ring.count), (4, 3));
    }

    /// The kernel's half of a provided-buffer ring, for tests with no kernel (Miri
    /// runs them): it selects entries from its private head up to the published tail,
    /// writes the data into the entry's buffer and answers as a CQE would.
    struct ModelKernel {
        head: u16,
    }

    impl ModelKernel {
        fn select(&mut self, ring: &BufRing, data: &[u8]) -> (i32, u32) {
            // SAFETY: entry 0's `resv` is the tail (as in `publish`), read atomically as
            // the kernel does.
            let tail =
                unsafe { &*std::ptr::addr_of!((*ring.entry_ptr(0)).resv).cast::<AtomicU16>() }
                    .load(Ordering::Acquire);
            if self.head == tail {
                return (-libc::ENOBUFS, 0);
            }
            let entry = ring.entry_ptr(self.head & (ring.entries - 1));
            // SAFETY: the entry lies between the head and the published tail, so it is
            // written and belongs to the kernel's side until selected; its fields other
            // than `resv` are never touched by the tail's atomic view.
            let (addr, len, bid) = unsafe {
                (
                    std::ptr::addr_of!((*entry).addr).read(),
                    std::ptr::addr_of!((*entry).len).read(),
                    std::ptr::addr_of!((*entry).bid).read(),
                )
            };
            let written = data.len().min(len as usize);
            // SAFETY: `addr` is the buffer `bid` the ring put in this entry (`len`
            // bytes inside its mapping), which no `RingBuf` holds while it is in the ring.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, written) };
            self.head = self.head.wrapping_add(1);
            (
                written as i32,
                CQE_F_BUFFER | (u32::from(bid) << CQE_BUFFER_SHIFT),
            )
        }
    }

    /// The ring's index arithmetic against a model of the kernel's side: entries wrap
    /// around the power-of-two ring (3 buffers in 4 slots) and the 16-bit tail wraps
    /// too; every buffer handed out is one nobody else holds, holds the bytes written
    /// (at most its size), and comes back on drop; an empty ring is `ENOBUFS`.
    #[test]
    fn returns_wrap_the_ring_and_its_tail_and_never_hand_out_a_held_buffer() {
        let ring = BufRing::unregistered(3, 8).unwrap();
        assert_eq!(ring.entries, 4);
        let mut kernel = ModelKernel { head: 0 };
        // Miri is slow: enough rounds to wrap the slots many times; natively, enough to
        // wrap the 16-bit tail as well.
        let rounds: u32 = if cfg!(miri) { 40 } else { 70_000 };
        let mut held: std::collections::VecDeque<RingBuf> = Default::default();
        for round in 0..rounds {
            let data: Vec<u8> = (0..(round % 12) as u8 + 1)
                .map(|i| i ^ round as u8)
                .collect();
            let (result, flags) = kernel.select(&ring, &data);
            let buf = ring.take(result, flags).expect("a buffer is free");
            assert_eq!(buf.bytes(), &data[..data.len().min(8)], "round {round}");
            assert!(
                held.iter().all(|other| other.bid() != buf.bid()),
                "round {round}: buffer {} handed out twice",
                buf.bid()
            );
            held.push_back(buf);
            if held.len() == 3 {
                assert_eq!(
                    kernel.select(&ring, b"x").0,
                    -libc::ENOBUFS,
                    "round {round}"
                );
                // Give back out of order now and then.
                let index = (round % 3) as usize;
                drop(held.remove(index));
            }
        }
        let returned = ring.returns();
        drop(held);
        assert_eq!(ring.returns(), returned + 2);
        assert_eq!(ring.returns(), u64::from(rounds));
    }

    #[test]
    fn no_attached_ring_means_no_registration() {
        std::thread::spawn(|| {
            let group = BufGroup::new(1, 8).unwrap();
            assert!(BufRing::for_sqe(&group).unwrap().is_none());
        })
        .join()
        .unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models of the return path: racing returns against the kernel's view of the
    //! ring, and an exhausted read's wait against a return. Buffers come from a ring
    //! registered nowhere (`BufRing::unregistered`), taken as a CQE naming them would.

    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn taken(ring: &Arc<BufRing>, bid: u16) -> RingBuf {
        ring.take(4, (u32::from(bid) << CQE_BUFFER_SHIFT) | CQE_F_BUFFER)
            .expect("a buffer")
    }

    /// Two threads return buffers while the "kernel" reads the ring: every entry below
    /// the tail it sees is a finished write (loom checks the slots), the tail only
    /// moves over finished ones, and in the end every buffer is in the ring once.
    #[test]
    fn loom_racing_returns_publish_only_written_entries() {
        loom::model(|| {
            // 3 buffers in 4 slots; the kernel took all three (its head is 3).
            let ring = BufRing::unregistered(3, 8).unwrap();
            let bufs: Vec<RingBuf> = (0..3).map(|bid| taken(&ring, bid)).collect();
            let mut bufs = bufs.into_iter();
            let first = bufs.next().unwrap();
            let second = bufs.next().unwrap();
            let third = bufs.next().unwrap();
            let returners: Vec<_> = [first, second]
                .into_iter()
                .map(|buf| loom::thread::spawn(move || drop(buf)))
                .collect();
            let seen = ring.kernel_view(3);
            assert!(seen.len() <= 2);
            for bid in &seen {
                assert!(
                    *bid < 2,
                    "an entry the kernel read is not a returned buffer"
                );
            }
            for returner in returners {
                returner.join().unwrap();
            }
            drop(third);
            let mut all = ring.kernel_view(3);
            all.sort_unstable();
            assert_eq!(all, [0, 1, 2], "each buffer back once");
            assert_eq!(ring.returns(), 3);
        });
    }

    /// An exhausted read waits while the only buffer comes back on another thread: it
    /// sees the return now, or is woken by it.
    #[test]
    fn loom_a_waiting_read_never_misses_a_return() {
        loom::model(|| {
            let ring = BufRing::unregistered(1, 8).unwrap();
            let buf = taken(&ring, 0);
            let seen = ring.returns();
            let returner = loom::thread::spawn(move || drop(buf));
            let wakes = Arc::new(Wakes::default());
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let first = ring.poll_returned(seen, &mut cx);
            returner.join().unwrap();
            if first.is_pending() {
                assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "lost wake-up");
            }
            assert!(ring.poll_returned(seen, &mut cx).is_ready());
        });
    }
}
