//! # ringtide
//!
//! An async runtime for Rust that is io_uring-first on Linux, with a portable readiness
//! fallback (mio: epoll, kqueue, IOCP). Both I/O backends feed one work-stealing
//! scheduler, one timer and one blocking pool.
//!
//! This release contains the scheduler core (the multi-thread work-stealing and
//! current-thread runtimes, tasks, `JoinSet`, `LocalSet`, the blocking pool, cooperative
//! budgeting, metrics, the `#[ringtide::main]` / `#[ringtide::test]` macros) and the two
//! I/O drivers: io_uring (a ring per worker thread) and mio, chosen by
//! [`runtime::Builder::backend`], the `RINGTIDE_BACKEND` environment variable, or
//! auto-detection with a fallback to mio. [`io::AsyncFd`] gives readiness guards and
//! owned-buffer I/O on any fd, with either backend. [`time`] has `sleep`, `timeout`
//! and `interval` on a hierarchical timer wheel. [`net`] has TCP, UDP and Unix sockets;
//! [`fs`] has `tokio::fs`'s API: files ([`fs::File`], [`fs::OpenOptions`], [`fs::read`],
//! ...) and the path and directory functions, with native io_uring operations where the
//! kernel has them, and an inline `RWF_NOWAIT` fast path for cached reads;
//! [`sync`] has tokio's channels and locks (under ringtide's cooperative budget);
//! [`task`] has task-locals (`task_local!`) and a [`task::Builder`] for named tasks.
//! [`select`] explains `tokio::select!` / `futures::select!` with ringtide and which
//! methods are cancel-safe. [`signal`] has `ctrl_c` and Unix signal listeners
//! (`signal::unix::signal`), on any runtime and backend; [`process`] has tokio's
//! `Command` and `Child` (reaped through a pidfd, or on `SIGCHLD` where the kernel has
//! no `pidfd_open`), whose pipes have the owned-buffer and the poll traits.
//!
//! # Platforms
//!
//! Linux has both backends. macOS, FreeBSD and Windows have mio (kqueue; IOCP on
//! Windows), with the same API for TCP, UDP, time, the runtime, `fs` and `sync`; the
//! `io-uring` feature is ignored there. Unix-only, and absent on Windows (as in
//! tokio): Unix domain sockets (`net::unix`), `io::AsyncFd`, `process` (its child
//! watching is pidfd/`SIGCHLD` based) and the Unix signal listeners (`signal::unix`;
//! Windows has `signal::windows`, the console events). The README's platform table
//! says what is built and what is tested on each target.
//!
//! # Cargo features
//!
//! * `io-uring` (default): the io_uring backend (Linux only; ignored elsewhere).
//! * `mio` (default): the portable readiness backend.
//! * `macros` (default): `#[ringtide::main]` and `#[ringtide::test]`.
//! * `bytes`: [`io::IoBuf`]/[`io::IoBufMut`] for `bytes::Bytes` and `bytes::BytesMut`.
//! * `tokio-io`: `tokio::io::AsyncRead`/`AsyncWrite` for the stream types
//!   ([`net::TcpStream`] and its halves), so tokio's `AsyncReadExt`, `BufReader`,
//!   `io::copy` and `tokio_util` codecs work on them. The traits come from the tokio
//!   dependency that [`sync`] uses anyway (tokio with only its `sync` feature): no
//!   second runtime.
//! * `futures-io`: `futures_io::AsyncRead`/`AsyncWrite` for the same types.
//!
//! [`io`]'s module documentation compares the poll-based traits with the owned-buffer
//! ones.
//!
//! The API mirrors tokio's names, so switching is mostly a matter of paths:
//!
//! ```
//! #[ringtide::main]
//! async fn main() {
//!     let handles: Vec<_> = (0..10).map(|i| ringtide::spawn(async move { i * 2 })).collect();
//!     let mut sum = 0;
//!     for handle in handles {
//!         sum += handle.await.unwrap();
//!     }
//!     assert_eq!(sum, 90);
//! }
//! ```

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(any(feature = "io-uring", feature = "mio")))]
compile_error!("ringtide needs at least one I/O backend: enable the `io-uring` or `mio` feature");

mod blocking;
mod driver;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod loom;
pub mod net;
mod op;
// Children are watched through a pidfd or `SIGCHLD`, and their pipes are fds: Unix only
// (see the crate docs' "Platforms").
#[cfg(unix)]
pub mod process;
pub mod runtime;
pub mod select;
pub mod signal;
pub mod sync;
mod sys;
pub mod task;
#[cfg(all(test, not(loom)))]
mod test_support;
pub mod time;
mod trace;

pub use task::spawn;

/// Test instrumentation for ringtide's own test suite. NOT API: hidden from the
/// documentation, without any stability promise; it may change or vanish in any release.
#[doc(hidden)]
pub mod __private {
    use crate::op::leftovers::{self, LatePath};

    /// How many late results of cancelled operations (`op::leftovers`) this process has
    /// kept so far, per path. Counts only grow; tests compare a count before and after.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct LateResults {
        /// Bytes or datagrams taken by cancelled reads and receives.
        pub reads: u64,
        /// Connections taken by cancelled single (not multishot) accepts.
        pub accepts: u64,
        /// Connections taken by a multishot accept after its stream was dropped.
        pub multishot_accepts: u64,
    }

    impl LateResults {
        /// The sum over every path.
        pub fn total(&self) -> u64 {
            self.reads + self.accepts + self.multishot_accepts
        }
    }

    /// The per-path counts so far (process-wide).
    pub fn late_results() -> LateResults {
        LateResults {
            reads: leftovers::late_results_kept(LatePath::Read),
            accepts: leftovers::late_results_kept(LatePath::Accept),
            multishot_accepts: leftovers::late_results_kept(LatePath::MultishotAccept),
        }
    }

    /// How many late results this process has kept so far, over every path.
    pub fn late_results_kept() -> u64 {
        late_results().total()
    }

    /// How many times pooled reads (`read_pooled`) waited for a buffer to come back
    /// because every buffer of their pool was on loan (process-wide, both backends).
    pub fn pooled_read_waits() -> u64 {
        crate::net::pooled_read::exhausted_waits()
    }

    /// How many pooled reads fell back to a one-off buffer (io_uring refused the ring).
    pub fn pooled_read_fallbacks() -> u64 {
        crate::net::pooled_read::fallbacks()
    }

    /// How many io_uring pooled reads completed with `ENOBUFS` (the kernel found the
    /// pool's ring empty); 0 without the io_uring backend.
    pub fn pooled_read_enobufs() -> u64 {
        #[cfg(ringtide_uring)]
        return crate::driver::uring::buf_ring::exhausted_count();
        #[cfg(not(ringtide_uring))]
        0
    }

    /// Multishot receive counts of this process so far (`net::recv_queue`, io_uring
    /// only; all 0 elsewhere): `(receives armed, receives stopped by backpressure,
    /// poll-path reads that fell back to readiness + recv for want of buffers, buffers
    /// queued in streams now)`.
    pub fn recv_multishot_counts() -> (u64, u64, u64, u64) {
        #[cfg(ringtide_uring)]
        return crate::net::recv_queue::counts();
        #[cfg(not(ringtide_uring))]
        (0, 0, 0, 0)
    }

    /// Sets the shape (`count` buffers of `size` bytes per ring) of the process-wide
    /// buffer group of multishot receives; only before the first one (tests of a tiny
    /// ring). No-op without io_uring.
    pub fn set_recv_multishot_group_shape(count: usize, size: usize) {
        #[cfg(ringtide_uring)]
        crate::op::recv_multi::set_group_shape(count, size);
        #[cfg(not(ringtide_uring))]
        let _ = (count, size);
    }

    /// How many buffers one stream's multishot receive queues before it stops
    /// (backpressure).
    pub fn recv_multishot_queue_limit() -> usize {
        #[cfg(ringtide_uring)]
        return crate::net::recv_queue::QUEUE_LIMIT;
        #[cfg(not(ringtide_uring))]
        8
    }

    /// Test-only fault injection for the io_uring probe (see `driver::uring::probe`,
    /// "Test-only override"): pretend an opcode or feature is missing, and count the
    /// fallbacks that ran because of it. Process-wide and permanent: for child
    /// processes of tests.
    #[cfg(ringtide_uring)]
    pub use crate::driver::uring::probe::{
        Pretend, PretendedFeature, multishot_accept_fallbacks, pretend_missing, pretended_fallbacks,
    };

    /// How often an io_uring submission queue was full and flushed to make room
    /// (process-wide).
    #[cfg(ringtide_uring)]
    pub fn uring_sq_full_flushes() -> u64 {
        crate::driver::uring::ring::SQ_FULL_FLUSHES.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many timed io_uring parks were bounded by a TIMEOUT SQE because the ring
    /// has no `IORING_FEAT_EXT_ARG` (process-wide).
    #[cfg(ringtide_uring)]
    pub fn uring_park_timeouts() -> u64 {
        crate::driver::uring::ring::PARK_TIMEOUT_SQES.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Zero-copy send counts of this process so far (`op::send_zc`); they only grow.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ZeroCopyCounts {
        /// First CQEs of `SEND_ZC`/`SENDMSG_ZC` (flagged `F_MORE`): sends the kernel ran
        /// as zero copy.
        pub results: u64,
        /// Notifications that arrived after the send's future was dropped: its buffer
        /// was kept alive until then.
        pub notifications_after_drop: u64,
        /// Zero-copy sends refused by the socket (`EOPNOTSUPP`) and resent plain.
        pub plain_fallbacks: u64,
    }

    /// The zero-copy counts so far (process-wide).
    pub fn zero_copy_counts() -> ZeroCopyCounts {
        let (results, notifications_after_drop, plain_fallbacks) = crate::op::send_zc::counts();
        ZeroCopyCounts {
            results,
            notifications_after_drop,
            plain_fallbacks,
        }
    }
}

#[cfg(feature = "macros")]
pub use ringtide_macros::{main, test};
