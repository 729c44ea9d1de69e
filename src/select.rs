//! Waiting on several futures at once: `select!` with ringtide, and which of ringtide's
//! futures are cancel-safe.
//!
//! This module holds documentation only. ringtide's futures are ordinary
//! `std::future::Future`s, so the runtime-agnostic `select!` macros work on them
//! unchanged (so do `join!`, `futures::future::select` and the other combinators):
//!
//! * **`tokio::select!`**: add `tokio = { version = "1", default-features = false,
//!   features = ["macros"] }`. The `macros` feature is the only one it needs; it brings
//!   no tokio runtime (`rt`) along, and ringtide itself already depends on tokio with
//!   just its `sync` feature (see [`crate::sync`]). Branches are polled in random order
//!   (`biased;` polls them in the order written), take `if` preconditions and an
//!   `else` branch, and futures are pinned by the macro.
//! * **`futures::select!`** / **`futures::select_biased!`**: `futures = "0.3"` (its
//!   default `async-await` feature). Every branch must be a `FusedFuture`: call
//!   `.fuse()` (`futures::FutureExt`) on ringtide's futures; a future kept across loop
//!   iterations must also be pinned (`std::pin::pin!`).
//!
//! ```
//! use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
//! use ringtide::net::{TcpListener, TcpStream};
//! use ringtide::sync::watch;
//!
//! # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let (shutdown, mut stop) = watch::channel(false);
//! let server = ringtide::spawn(async move {
//!     let mut served = 0;
//!     loop {
//!         tokio::select! {
//!             // Cancel-safe: a connection accepted when `stop` wins is kept for the
//!             // next `accept` (here: closed with the listener).
//!             accepted = listener.accept() => {
//!                 let (mut stream, _peer) = accepted?;
//!                 stream.write_all_owned(b"hello\n".to_vec()).await.0?;
//!                 served += 1;
//!             }
//!             _ = stop.changed() => break,
//!         }
//!     }
//!     Ok::<_, std::io::Error>(served)
//! });
//! let mut client = TcpStream::connect(address).await?;
//! let (result, greeting) = client.read_exact_owned(Vec::with_capacity(6)).await;
//! result?;
//! assert_eq!(greeting, b"hello\n");
//! shutdown.send(true).unwrap();
//! assert_eq!(server.await.unwrap()?, 1);
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! With `futures::select!`, and a `Sleep` that must keep its deadline across
//! iterations (so it is made once, outside the loop, and polled through `&mut`):
//!
//! ```
//! use std::pin::pin;
//! use std::time::Duration;
//! use futures::FutureExt;
//! use ringtide::sync::mpsc;
//!
//! # ringtide::runtime::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = mpsc::channel(8);
//! ringtide::spawn(async move {
//!     for i in 0.. {
//!         if tx.send(i).await.is_err() {
//!             break;
//!         }
//!         ringtide::time::sleep(Duration::from_millis(1)).await;
//!     }
//! });
//! let mut deadline = pin!(ringtide::time::sleep(Duration::from_millis(20)).fuse());
//! let mut received = 0;
//! loop {
//!     futures::select! {
//!         value = rx.recv().fuse() => received += value.map_or(0, |_| 1),
//!         _ = deadline => break,
//!     }
//! }
//! assert!(received > 0);
//! # });
//! ```
//!
//! # Cancel safety
//!
//! When one branch of a `select!` completes, the futures of the others are dropped. A
//! method is *cancel-safe* when dropping its future before it completes loses nothing:
//! calling it again (in the next iteration of the loop) finds whatever the dropped call
//! would have returned. Each "yes" below is tested in a `select!` loop, on both I/O
//! backends where it does I/O (`tests/select.rs`).
//!
//! | Future | Cancel-safe | What dropping it leaves |
//! |---|---|---|
//! | [`TcpListener::accept`], [`UnixListener::accept`] | yes | A connection the kernel accepted for it is kept; the next `accept` returns it first (io_uring: the multishot accept's queue or the cancelled op's late result; mio: `accept` runs inside `poll`). |
//! | [`read_owned`], [`readv_owned`] on [`TcpStream`], [`UnixStream`] and their read halves | yes, for the bytes | Bytes the kernel read for it are kept; the next read on the stream (owned or poll-based) returns them first, in order. The buffer moved into the call is dropped with the future: pass a new one each iteration. |
//! | `AsyncReadExt::read` and the other poll-based reads (features `tokio-io`, `futures-io`) | yes | Nothing: the `recv` runs inside `poll`. |
//! | [`UdpSocket::recv_from`], [`UdpSocket::recv`], [`UnixDatagram::recv_from`], [`UnixDatagram::recv`] (and `peek*`) | yes | Nothing: the `recvfrom` runs inside `poll`. |
//! | [`UdpSocket::recv_from_owned`], [`UdpSocket::recv_owned`], [`UnixDatagram::recv_from_owned`], [`UnixDatagram::recv_owned`] | yes | A datagram taken for it is kept (cut to that call's buffer) and returned by the next receive. |
//! | [`read_exact_owned`] | no | The bytes it already placed in its buffer are lost with the buffer. |
//! | [`UnixDatagram::send`] (and the other borrowed-buffer datagram sends) | yes | Nothing was sent: the `send` runs inside `poll`. |
//! | [`write_owned`], [`write_all_owned`], `send_owned`, `send_to_owned` | no | The data may be written (sent) in full, in part or not at all; nobody can tell. |
//! | [`AsyncFd::read_owned`](crate::io::AsyncFd::read_owned) | no | Bytes the kernel read before the cancellation landed are lost (see [`crate::io`]). |
//! | [`AsyncFd::readable`](crate::io::AsyncFd::readable), `writable`, `ready` | yes | Nothing: the readiness stays recorded for the next wait. |
//! | [`Sleep`], polled as `&mut sleep` (pinned outside the loop) | yes | The deadline stays. A `sleep(..)` written inside the loop is a new timer each iteration, and never fires while another branch keeps winning first. |
//! | [`timeout`]`(d, future)` | as `future` | Dropping it (or its elapsing) drops `future`. |
//! | [`Interval::tick`] | yes | The tick stays due: the next `tick` returns it, at its scheduled instant. |
//! | `&mut` [`JoinHandle`] | yes | The task runs on; the handle still yields its output. (Moving the handle into the branch drops it with the future, which detaches the task.) |
//! | [`JoinSet::join_next`] | yes | The finished task stays in the set. |
//! | [`Signal::recv`](crate::signal::unix::Signal::recv), [`signal::ctrl_c`](crate::signal::ctrl_c) | `recv`: yes; `ctrl_c`: no | `recv`: a delivery stays unseen until the listener's next `recv`. `ctrl_c` registers its listener when first polled and drops it with the future: create a [`Signal`](crate::signal::unix::Signal) once outside the loop instead. (Tested in `tests/signal.rs`, in a child process.) |
//! | [`mpsc`](crate::sync::mpsc) / [`broadcast`](crate::sync::broadcast) `recv`, [`watch`](crate::sync::watch) `changed`, `&mut` [`oneshot::Receiver`](crate::sync::oneshot::Receiver) | yes | The value stays in the channel (`watch`: the change stays unseen). |
//! | [`Mutex::lock`](crate::sync::Mutex::lock), `RwLock::read`/`write`, `Semaphore::acquire*`, `Notify::notified`, `mpsc::Sender::reserve` | yes, but the place in the queue is lost | Nothing is held; a permit or lock handed to the dropped future passes on. |
//! | [`Child::wait`](crate::process::Child::wait) | yes | Nothing: the child's exit watch lives in the `Child`; the next `wait` returns the status (and keeps returning it once reaped). |
//! | `mpsc::Sender::send` | no | The value is dropped with the future; use `reserve` then `Permit::send` to keep it. |
//!
//! # A branch that is always ready
//!
//! On io_uring a read, receive or accept that has to wait for the kernel completes only
//! if its future is still there when the completion arrives (one trip through the
//! ring). In a `select!` loop where some other branch is ready every time the loop polls
//! it (a `biased;` loop with a busy branch first, a stream that always has an item), such
//! an operation may be dropped at every iteration: no data is lost (a completed read's
//! bytes, a connection, a datagram are kept and returned by the next call at its first
//! poll), but the end of a stream and errors are not kept, so the loop may never see
//! them. The fix is the usual one for `select!` on any runtime: do not race I/O against
//! a branch that never waits.
//!
//! [`TcpListener::accept`]: crate::net::TcpListener::accept
//! [`UnixListener::accept`]: crate::net::UnixListener::accept
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//! [`UdpSocket::recv_from`]: crate::net::UdpSocket::recv_from
//! [`UdpSocket::recv`]: crate::net::UdpSocket::recv
//! [`UnixDatagram::recv_from`]: crate::net::UnixDatagram::recv_from
//! [`UnixDatagram::recv`]: crate::net::UnixDatagram::recv
//! [`UnixDatagram::send`]: crate::net::UnixDatagram::send
//! [`UdpSocket::recv_from_owned`]: crate::net::UdpSocket::recv_from_owned
//! [`UdpSocket::recv_owned`]: crate::net::UdpSocket::recv_owned
//! [`UnixDatagram::recv_from_owned`]: crate::net::UnixDatagram::recv_from_owned
//! [`UnixDatagram::recv_owned`]: crate::net::UnixDatagram::recv_owned
//! [`read_owned`]: crate::io::AsyncReadOwned::read_owned
//! [`readv_owned`]: crate::io::AsyncReadOwned::readv_owned
//! [`read_exact_owned`]: crate::io::AsyncReadOwned::read_exact_owned
//! [`write_owned`]: crate::io::AsyncWriteOwned::write_owned
//! [`write_all_owned`]: crate::io::AsyncWriteOwned::write_all_owned
//! [`Sleep`]: crate::time::Sleep
//! [`timeout`]: crate::time::timeout
//! [`Interval::tick`]: crate::time::Interval::tick
//! [`JoinHandle`]: crate::task::JoinHandle
//! [`JoinSet::join_next`]: crate::task::JoinSet::join_next
