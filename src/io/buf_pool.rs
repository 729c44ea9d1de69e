//! [`BufPool`] and [`PooledBuf`]: reads whose buffer is picked when the data arrives,
//! so that a connection waiting for data holds no buffer at all.
//!
//! With [`read_owned`](crate::io::AsyncReadOwned::read_owned), every pending read owns
//! its buffer: 10 000 idle connections with a 4 KiB read each pin 40 MiB. A pooled read
//! (`read_pooled(&pool)` on [`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream) and their owned read halves) names a pool
//! instead and gets back a [`PooledBuf`] holding the bytes read; the pool's memory is
//! touched only by reads that received data, and a buffer goes back to its pool when
//! the `PooledBuf` is dropped, on any thread, even after the runtime is gone.
//!
//! ```no_run
//! # async fn demo(stream: ringtide::net::TcpStream) -> std::io::Result<()> {
//! use ringtide::io::BufPool;
//!
//! let pool = BufPool::new(256, 4096)?; // share it (it is a cheap clone) between connections
//! loop {
//!     let buf = stream.read_pooled(&pool).await?;
//!     if buf.is_empty() {
//!         break; // end of stream
//!     }
//!     println!("{} bytes: {:?}", buf.len(), &buf[..]);
//! } // `buf` is back in the pool here
//! # Ok(())
//! # }
//! ```
//!
//! # On each backend
//!
//! * io_uring: a provided-buffer ring (`IORING_REGISTER_PBUF_RING`). The read is one
//!   `RECV` with `IOSQE_BUFFER_SELECT` and `IORING_RECVSEND_POLL_FIRST`: the kernel
//!   picks a buffer from the ring only once data is there. Each worker thread has its
//!   own io_uring instance, so the pool is registered lazily on each ring that runs a
//!   pooled read, under the same buffer group id, **each ring with its own `count`
//!   buffers** (a pool used by 4 workers may hold 4 × `count` buffers; memory no read
//!   wrote into stays unallocated by the OS, since the buffers are an anonymous
//!   mapping). A buffer returns to the ring it came from.
//! * mio (and io_uring threads without a ring): one user-space list of `count`
//!   buffers. The read waits for readability with no buffer, takes one for the `recv`
//!   only, and gives it back at once if the socket had nothing to read.
//!
//! # When every buffer is on loan
//!
//! The read waits for one to come back (io_uring: the kernel completes the `RECV`
//! with `ENOBUFS`, leaving the data in the socket; the read resubmits once a buffer
//! returned to that ring); it never fails the connection. A task that holds every
//! buffer of a pool while reading from it again waits forever, as with any bounded
//! pool: drop buffers before the next read, or size the pool for what is held. Only
//! where the kernel refuses to register the ring (an old kernel, the memlock limit)
//! does a pooled read fall back to a one-off `size`-byte allocation, with one log
//! line.
//!
//! # What an idle connection costs (measured)
//!
//! The suite's `idle` workload (`cargo run --release -p ringtide-bench -- --only idle`:
//! 10 000 connections, each idle in a read after one 1 KiB echo; server RSS from
//! `/proc`; 5 rounds, each of every variant, alternating with a build from before these
//! changes; medians; 2 shared CPUs, load average 2.4–4.4):
//!
//! | server (io_uring / mio) | RSS | per connection | × tokio's, per connection | × tokio's RSS |
//! |---|---:|---:|---:|---:|
//! | `read_pooled`, one `BufPool::new(256, 4096)` | 16.3 / 16.1 MiB | 1202 / 1178 B | 0.24 / 0.24 | 0.31 / 0.31 |
//! | `read_owned`, a 4 KiB `Vec` per connection | 53.7 / 55.0 MiB | 5120 / 5258 B | 1.03 / 1.06 | 1.03 / 1.05 |
//! | tokio, `AsyncReadExt::read`, 4 KiB per connection | 52.1 MiB | 4968 B | 1 | 1 |
//!
//! The pooled rows were 2561 / 2519 B per connection (0.52×) before: a task stores the
//! largest of its await points' futures, and the echo loop's was 1480 bytes (its
//! `write_all_owned` future was 928, a pending pooled read's 520, an owned read's 2000),
//! with a 264-byte stream in it. `op::run` is now one hand-written future with its rare
//! paths boxed, and the stream futures on it are hand-written too (`read_pooled` 184
//! bytes, `read_owned` 144, `write_all_owned` 136; see `op::run` and
//! `tests/future_sizes.rs`); a stream read has no datagram branch and a stream no
//! listener's accept slot (16 bytes). The echo task's future is 240 bytes. Issue 17's
//! target, 0.3× tokio's, is met per connection; the whole process's RSS, with the
//! 4.4 MiB every server starts with and the pool's 1 MiB, is 0.31×.
//!
//! Where an idle pooled connection's bytes go (the bench's live-heap census: malloc
//! blocks, their 8-byte headers included; io_uring, mio alike but for the op cell):
//!
//! | block | bytes |
//! |---|---:|
//! | the task: async-task's header, the harness, the 240-byte echo future | 352 |
//! | the socket's cell: its state (200) and fd, shared with its ops | 240 |
//! | the socket's two io_uring readiness cells (`net::uring_readiness`; also made on mio, where they are never used) | 2 × 128 |
//! | the pending op's cell (io_uring; mio instead: its registration, 176 + 112) | 192 |
//! | total heap (RSS adds the pool's buffers the reads touched: 1 MiB, about 105 B a connection at 10 000) | 1120 |
//!
//! # Cancel safety
//!
//! As with `read_owned`: if a `read_pooled` future is dropped while the kernel
//! completes its read, the bytes are kept and returned, in order, by the stream's next
//! read (pooled or owned).

use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use super::buf_free_list::{FreeList, ListBuf};
#[cfg(ringtide_uring)]
use crate::driver::uring::buf_ring::{BufGroup, RingBuf};

/// The most buffers a pool may have (io_uring's limit on a buffer ring, 2^15; the
/// same on every backend).
pub const MAX_POOL_BUFFERS: usize = 1 << 15;

/// A pool of `count` read buffers of `size` bytes each, for `read_pooled` (see the
/// [module documentation](self)). Cloning it is cheap and shares the pool.
#[derive(Clone)]
pub struct BufPool {
    shared: Arc<PoolShared>,
}

pub(crate) struct PoolShared {
    count: usize,
    size: usize,
    #[cfg(ringtide_uring)]
    group: BufGroup,
    /// The user-space buffers, made on first use by a readiness read.
    list: OnceLock<Arc<FreeList>>,
}

impl BufPool {
    /// A pool of `count` buffers of `size` bytes. Errors (`InvalidInput`): `count` is 0
    /// or more than [`MAX_POOL_BUFFERS`], `size` is 0 or more than `u32::MAX`. `count`
    /// need not be a power of two (io_uring's ring rounds up and stocks `count`).
    /// Nothing is allocated until a read uses the pool.
    pub fn new(count: usize, size: usize) -> io::Result<BufPool> {
        if count == 0 || count > MAX_POOL_BUFFERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a buffer pool needs 1 to {MAX_POOL_BUFFERS} buffers, not {count}"),
            ));
        }
        if size == 0 || size as u64 > u64::from(u32::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a pool buffer's size must be 1 to {} bytes, not {size}",
                    u32::MAX
                ),
            ));
        }
        Ok(BufPool {
            shared: Arc::new(PoolShared {
                count,
                size,
                #[cfg(ringtide_uring)]
                group: BufGroup::new(count, size)?,
                list: OnceLock::new(),
            }),
        })
    }

    /// How many buffers the pool has (per io_uring ring; see the module doc).
    pub fn count(&self) -> usize {
        self.shared.count
    }

    /// Each buffer's size: the most one pooled read returns.
    pub fn buffer_size(&self) -> usize {
        self.shared.size
    }

    pub(crate) fn shared(&self) -> &Arc<PoolShared> {
        &self.shared
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.shared.count)
            .field("buffer_size", &self.shared.size)
            .finish()
    }
}

impl PoolShared {
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    #[cfg(ringtide_uring)]
    pub(crate) fn group(&self) -> &BufGroup {
        &self.group
    }

    /// The user-space buffers (created on first use).
    pub(crate) fn list(&self) -> io::Result<&Arc<FreeList>> {
        if let Some(list) = self.list.get() {
            return Ok(list);
        }
        let list = Arc::new(FreeList::new(self.count, self.size)?);
        Ok(self.list.get_or_init(|| list))
    }
}

/// Bytes a pooled read returned, in a buffer on loan from its [`BufPool`]; dropping it
/// gives the buffer back (on any thread). Dereferences to the bytes read; empty means
/// end of stream.
pub struct PooledBuf {
    inner: Inner,
}

enum Inner {
    #[cfg(ringtide_uring)]
    Ring(RingBuf),
    List(ListBuf),
    /// Bytes kept from a cancelled read, or a one-off fallback buffer.
    Owned(Vec<u8>),
}

impl PooledBuf {
    #[cfg(ringtide_uring)]
    pub(crate) fn from_ring(buf: RingBuf) -> PooledBuf {
        PooledBuf {
            inner: Inner::Ring(buf),
        }
    }

    pub(crate) fn from_list(buf: ListBuf) -> PooledBuf {
        PooledBuf {
            inner: Inner::List(buf),
        }
    }

    pub(crate) fn from_vec(bytes: Vec<u8>) -> PooledBuf {
        PooledBuf {
            inner: Inner::Owned(bytes),
        }
    }

    /// The bytes read.
    pub fn as_slice(&self) -> &[u8] {
        match &self.inner {
            #[cfg(ringtide_uring)]
            Inner::Ring(buf) => buf.bytes(),
            Inner::List(buf) => buf.bytes(),
            Inner::Owned(bytes) => bytes,
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = match &self.inner {
            #[cfg(ringtide_uring)]
            Inner::Ring(_) => "io_uring buffer ring",
            Inner::List(_) => "free list",
            Inner::Owned(_) => "kept bytes",
        };
        f.debug_struct("PooledBuf")
            .field("len", &self.len())
            .field("from", &from)
            .finish()
    }
}
