//! `ringtide::io::unix::AsyncFd` with tokio's readiness-guard API (`readable`,
//! `writable`, `ready`, `try_io`, `clear_ready`, `async_io`, `poll_*_ready`, the `_mut`
//! forms, `with_interest`, `try_new`), written the way tokio's documentation uses it,
//! over pipes, socketpairs, an eventfd and TCP; both backends and both flavours
//! (`backend_test!`). Nothing waits on a sleep.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::task::Poll;

use ringtide::io::unix::{AsyncFd, AsyncFdReadyGuard, TryIoError};
use ringtide::io::{Interest, Ready};
use ringtide::runtime::Backend;

/// Sets `O_NONBLOCK` on `fd` (the readiness API needs it, as in tokio).
fn set_nonblocking(fd: &impl AsRawFd) {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on an open fd the test owns; the results are checked.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert!(flags >= 0, "F_GETFL: {}", io::Error::last_os_error());
        let set = libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        assert!(set >= 0, "F_SETFL: {}", io::Error::last_os_error());
    }
}

/// A non-blocking socketpair.
fn socketpair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A non-blocking eventfd with a zero counter.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd takes no pointers; a negative result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
    // SAFETY: `fd` was just created and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn read_counter(fd: &OwnedFd) -> io::Result<u64> {
    let mut value = [0u8; 8];
    // SAFETY: `value` is 8 writable bytes for the whole call.
    let read = unsafe { libc::read(fd.as_raw_fd(), value.as_mut_ptr().cast(), 8) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    assert_eq!(read, 8);
    Ok(u64::from_ne_bytes(value))
}

fn add_to_counter(fd: &OwnedFd, add: u64) -> io::Result<()> {
    let value = add.to_ne_bytes();
    // SAFETY: `value` is 8 readable bytes for the whole call.
    let written = unsafe { libc::write(fd.as_raw_fd(), value.as_ptr().cast(), 8) };
    if written < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `future` is still pending after one poll (it is then dropped).
async fn pending_once<F: Future>(future: F) -> bool {
    let mut future = std::pin::pin!(future);
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

backend_test! {
    /// tokio's guard loops over a pipe. The writer first fills the pipe (`writable` +
    /// `try_io(write)` until the write says `WouldBlock`, which clears the readiness:
    /// `writable()` then waits), then a reader task drains it (`readable` +
    /// `try_io(read)`) while the writer sends the rest, until a MiB crossed intact.
    fn pipe_round_trip_through_guard_loops(rt, multi) {
        rt.block_on(async {
            const LEN: usize = 1 << 20;
            let (reader, writer) = std::io::pipe()?;
            set_nonblocking(&reader);
            set_nonblocking(&writer);
            let (reader, writer) = (AsyncFd::new(reader)?, AsyncFd::new(writer)?);
            let data = pattern(LEN);
            let mut sent = 0;
            loop {
                let mut guard = writer.writable().await?;
                match guard.try_io(|fd| fd.get_ref().write(&data[sent..])) {
                    Ok(result) => sent += result?,
                    Err(TryIoError { .. }) => break,
                }
                assert!(sent < LEN, "a pipe holds less than a MiB");
            }
            assert!(pending_once(writer.writable()).await, "full, and the readiness was cleared");

            let read_task = ringtide::spawn(async move {
                let mut received = Vec::new();
                let mut buf = vec![0; 16 * 1024];
                while received.len() < LEN {
                    let mut guard = reader.readable().await?;
                    match guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
                        Ok(result) => {
                            let len = result?;
                            assert_ne!(len, 0, "the writer is still open");
                            received.extend_from_slice(&buf[..len]);
                        }
                        Err(_would_block) => continue,
                    }
                }
                io::Result::Ok(received)
            });
            while sent < LEN {
                let mut guard = writer.writable().await?;
                if let Ok(result) = guard.try_io(|fd| fd.get_ref().write(&data[sent..])) {
                    sent += result?;
                }
            }
            let received = read_task.await.expect("reader task")?;
            assert!(received == data, "bytes arrive intact and in order");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Readiness stays recorded until a guard clears it: a dropped (or `retain_ready`)
    /// guard leaves `readable()` ready at once; after `clear_ready` it waits for new
    /// data.
    fn readiness_is_kept_until_cleared(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = AsyncFd::new(socket)?;
            assert!(pending_once(fd.readable()).await, "nothing to read yet");
            peer.write_all(b"x")?;
            let mut guard = fd.readable().await?;
            assert!(guard.ready().is_readable());
            guard.retain_ready();
            drop(guard);
            assert!(!pending_once(fd.readable()).await, "still recorded");

            let mut buf = [0; 8];
            assert_eq!(fd.get_ref().read(&mut buf)?, 1);
            let mut guard = fd.readable().await?;
            guard.clear_ready();
            assert!(guard.ready().is_empty(), "{:?}", guard.ready());
            assert!(pending_once(fd.readable()).await, "cleared: waits for new data");
            peer.write_all(b"yz")?;
            let mut guard = fd.readable().await?;
            let len = guard
                .try_io(|fd| fd.get_ref().read(&mut buf))
                .expect("data was written")?;
            assert_eq!(&buf[..len], b"yz");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `AsyncFd::try_io` runs the closure only while readiness is recorded, and a
    /// `WouldBlock` from it clears the readiness (the next call does not run it).
    fn try_io_needs_recorded_readiness(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = AsyncFd::new(socket)?;
            let mut calls = 0;
            let mut buf = [0; 8];
            let mut read = |fd: &UnixStream, buf: &mut [u8]| {
                calls += 1;
                (&*fd).read(buf)
            };
            let first = fd.try_io(Interest::READABLE, |fd| read(fd, &mut buf));
            assert_eq!(first.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            peer.write_all(b"abc")?;
            drop(fd.readable().await?);
            assert_eq!(fd.try_io(Interest::READABLE, |fd| read(fd, &mut buf))?, 3);
            let drained = fd.try_io(Interest::READABLE, |fd| read(fd, &mut buf));
            assert_eq!(drained.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            let after = fd.try_io(Interest::READABLE, |fd| read(fd, &mut buf));
            assert_eq!(after.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            assert_eq!(calls, 2, "no call without readiness, none after the clearing WouldBlock");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `async_io` and `async_io_mut` over an eventfd: each returns the counter once a
    /// task added to it.
    fn async_io_reads_an_eventfd(rt, multi) {
        rt.block_on(async {
            let events = Arc::new(AsyncFd::with_interest(eventfd(), Interest::READABLE)?);
            for add in [1u64, 5, 40] {
                let adder = ringtide::spawn({
                    let events = events.clone();
                    async move { add_to_counter(events.get_ref(), add) }
                });
                let value = events.async_io(Interest::READABLE, read_counter).await?;
                assert_eq!(value, add);
                adder.await.expect("adder task")?;
            }
            let mut events = Arc::into_inner(events).expect("the adders are done");
            add_to_counter(events.get_ref(), 2)?;
            let value = events
                .async_io_mut(Interest::READABLE, |fd| read_counter(fd))
                .await?;
            assert_eq!(value, 2);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Interest masks: an `AsyncFd` created for reading cannot wait for writing (a
    /// clear error, not a hang) and reports only read bits; `ready(READABLE | WRITABLE)`
    /// reports what is ready of both.
    fn interest_masks(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let read_only = AsyncFd::with_interest(socket, Interest::READABLE)?;
            assert_eq!(read_only.writable().await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let polled = poll_fn(|cx| Poll::Ready(read_only.poll_write_ready(cx).map(|r| r.map(|_| ())))).await;
            assert!(matches!(polled, Poll::Ready(Err(ref e)) if e.kind() == io::ErrorKind::InvalidInput), "{polled:?}");
            peer.write_all(b"r")?;
            let guard = read_only.ready(Interest::READABLE | Interest::WRITABLE).await?;
            assert!(guard.ready().is_readable() && !guard.ready().is_writable(), "{:?}", guard.ready());
            drop(guard);

            let (socket, _peer) = socketpair();
            let write_only = AsyncFd::with_interest(socket, Interest::WRITABLE)?;
            assert_eq!(write_only.readable().await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert!(write_only.writable().await?.ready().is_writable());

            // Both: nothing to read, room to write.
            let (socket, mut peer) = socketpair();
            let both = AsyncFd::new(socket)?;
            let guard = both.ready(Interest::READABLE | Interest::WRITABLE).await?;
            assert!(guard.ready().is_writable() && !guard.ready().is_readable(), "{:?}", guard.ready());
            drop(guard);
            peer.write_all(b"data")?;
            loop {
                let guard = both.ready(Interest::READABLE | Interest::WRITABLE).await?;
                if guard.ready().is_readable() {
                    break;
                }
                // Only writable was recorded so far: wait for the read side alone.
                drop(guard);
                drop(both.readable().await?);
            }
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `clear_ready_matching` clears one direction of a guard that saw both, and
    /// leaves the other recorded.
    fn clear_ready_matching_keeps_the_other_direction(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = AsyncFd::new(socket)?;
            peer.write_all(b"both")?;
            drop(fd.readable().await?);
            drop(fd.writable().await?);
            let mut guard = fd.ready(Interest::READABLE | Interest::WRITABLE).await?;
            assert!(guard.ready().is_readable() && guard.ready().is_writable(), "{:?}", guard.ready());
            guard.clear_ready_matching(Ready::READABLE);
            assert!(!guard.ready().is_readable() && guard.ready().is_writable(), "{:?}", guard.ready());
            drop(guard);
            assert!(!pending_once(fd.writable()).await, "write readiness is still recorded");
            assert!(pending_once(fd.readable()).await, "read readiness was cleared");
            // The data is still queued: clearing without a `WouldBlock` first is the
            // caller's mistake (on mio no new event would report it), so read it directly.
            let mut buf = [0; 8];
            assert_eq!(fd.get_ref().read(&mut buf)?, 4);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// The `_mut` forms: `readable_mut`, `writable_mut`, `poll_read_ready_mut` and the
    /// mutable guard's `try_io`, `get_inner_mut`.
    fn mutable_guards(rt, multi) {
        rt.block_on(async {
            let (socket, peer) = socketpair();
            let mut fd = AsyncFd::new(socket)?;
            let mut peer = AsyncFd::new(peer)?;
            {
                let mut guard = peer.writable_mut().await?;
                let sent = guard
                    .try_io(|fd| fd.get_mut().write(b"mutable"))
                    .expect("a fresh socket has room")?;
                assert_eq!(sent, 7);
            }
            let mut buf = [0; 16];
            let len = loop {
                let mut guard = fd.readable_mut().await?;
                match guard.try_io(|fd| fd.get_mut().read(&mut buf)) {
                    Ok(result) => break result?,
                    Err(_would_block) => continue,
                }
            };
            assert_eq!(&buf[..len], b"mutable");
            peer.get_mut().write_all(b"again")?;
            // A poll-based reader, as an `AsyncRead` impl over `&mut self` would be.
            let len = poll_fn(|cx| {
                let mut guard = std::task::ready!(fd.poll_read_ready_mut(cx))?;
                assert!(guard.ready().is_readable());
                match guard.get_inner_mut().read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    result => Poll::Ready(result),
                }
            })
            .await?;
            assert_eq!(&buf[..len], b"again");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// `poll_read_ready`/`poll_write_ready`: the guard of a poll works like one of a
    /// future.
    fn poll_ready_guards(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = AsyncFd::new(socket)?;
            let guard = poll_fn(|cx| fd.poll_write_ready(cx)).await?;
            assert!(guard.ready().is_writable());
            drop(guard);
            assert!(pending_once(poll_fn(|cx| fd.poll_read_ready(cx).map(|r| r.map(|_| ())))).await);
            peer.write_all(b"p")?;
            let mut guard: AsyncFdReadyGuard<'_, UnixStream> = poll_fn(|cx| fd.poll_read_ready(cx)).await?;
            let mut buf = [0; 4];
            let len = guard.try_io(|fd| fd.get_ref().read(&mut buf)).expect("readable")?;
            assert_eq!(&buf[..len], b"p");
            let drained = guard.try_io(|fd| fd.get_ref().read(&mut buf));
            assert!(drained.is_err(), "the second read would block: {drained:?}");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Two tasks wait on `readable()` of one shared `AsyncFd`: one write wakes both.
    fn every_waiter_is_woken(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = Arc::new(AsyncFd::new(socket)?);
            let (started, mut all_started) = ringtide::sync::mpsc::channel(2);
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let (fd, started) = (fd.clone(), started.clone());
                    ringtide::spawn(async move {
                        let mut readable = std::pin::pin!(fd.readable());
                        let first = poll_fn(|cx| Poll::Ready(readable.as_mut().poll(cx))).await;
                        started.send(()).await.unwrap();
                        let guard = match first {
                            Poll::Ready(guard) => guard?,
                            Poll::Pending => readable.await?,
                        };
                        io::Result::Ok(guard.ready().is_readable())
                    })
                })
                .collect();
            all_started.recv().await.unwrap();
            all_started.recv().await.unwrap();
            peer.write_all(b"wake")?;
            for waiter in waiters {
                assert!(waiter.await.expect("waiter task")?);
            }
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// A pipe whose reader is gone: the writer's guard reports writable and the write
    /// fails with `BrokenPipe` (not `WouldBlock`, so `try_io` passes it through).
    fn a_closed_reader_shows_as_a_broken_pipe(rt, multi) {
        rt.block_on(async {
            let (reader, writer) = std::io::pipe()?;
            set_nonblocking(&writer);
            let writer = AsyncFd::new(writer)?;
            drop(reader);
            let mut guard = writer.writable().await?;
            assert!(guard.ready().is_writable(), "{:?}", guard.ready());
            let result = guard
                .try_io(|fd| fd.get_ref().write(b"x"))
                .expect("not WouldBlock");
            assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// tokio's documented wrapper: a non-blocking std `TcpStream` in an `AsyncFd`,
    /// read and written through `async_io` by separate tasks, echoing over loopback.
    fn tcp_stream_wrapper_with_async_io(rt, multi) {
        rt.block_on(async {
            const LEN: usize = 300_000;
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let client = std::net::TcpStream::connect(listener.local_addr()?)?;
            let (server, _) = listener.accept()?;
            client.set_nonblocking(true)?;
            server.set_nonblocking(true)?;
            let (client, server) = (Arc::new(AsyncFd::new(client)?), AsyncFd::new(server)?);
            let echo = ringtide::spawn(async move {
                let mut buf = vec![0; 8192];
                loop {
                    let len = server
                        .async_io(Interest::READABLE, |stream| (&*stream).read(&mut buf))
                        .await?;
                    if len == 0 {
                        return io::Result::Ok(());
                    }
                    let mut written = 0;
                    while written < len {
                        written += server
                            .async_io(Interest::WRITABLE, |stream| (&*stream).write(&buf[written..len]))
                            .await?;
                    }
                }
            });
            let writer = ringtide::spawn({
                let client = client.clone();
                async move {
                    let message = pattern(LEN);
                    let mut sent = 0;
                    while sent < LEN {
                        sent += client
                            .async_io(Interest::WRITABLE, |stream| (&*stream).write(&message[sent..]))
                            .await?;
                    }
                    client.get_ref().shutdown(std::net::Shutdown::Write)
                }
            });
            let mut echoed = Vec::new();
            let mut buf = vec![0; 8192];
            loop {
                let len = client
                    .async_io(Interest::READABLE, |stream| (&*stream).read(&mut buf))
                    .await?;
                if len == 0 {
                    break;
                }
                echoed.extend_from_slice(&buf[..len]);
            }
            writer.await.expect("writer task")?;
            echo.await.expect("echo task")?;
            assert!(echoed == pattern(LEN), "the echo is intact");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

backend_test! {
    /// Readiness is recorded with no task waiting (on mio by the driver's events; on
    /// io_uring by the `POLL_ADD` a clear leaves armed), so `try_io` alone sees new
    /// data once the runtime has run its driver.
    fn try_io_sees_readiness_recorded_without_a_waiter(rt, multi) {
        rt.block_on(async {
            let (socket, mut peer) = socketpair();
            let fd = AsyncFd::new(socket)?;
            let mut buf = [0; 8];
            let nothing = fd.try_io(Interest::READABLE, |fd| fd.read_ref(&mut buf));
            assert_eq!(nothing.unwrap_err().kind(), io::ErrorKind::WouldBlock);
            peer.write_all(b"late")?;
            let mut yields = 0;
            let len = loop {
                match fd.try_io(Interest::READABLE, |fd| fd.read_ref(&mut buf)) {
                    Ok(len) => break len,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        yields += 1;
                        assert!(yields < 100_000, "the readiness was never recorded");
                        ringtide::task::yield_now().await;
                    }
                    Err(e) => return Err(e),
                }
            };
            assert_eq!(&buf[..len], b"late");
            io::Result::Ok(())
        })
        .unwrap();
    }
}

/// `read` through a shared reference, as tokio's examples write `(&*inner).read(..)`.
trait ReadRef {
    fn read_ref(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadRef for UnixStream {
    fn read_ref(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

backend_test! {
    /// `try_new` gives the value back when it cannot be wrapped (mio refuses regular
    /// files); `io::AsyncFd` is the same type as `io::unix::AsyncFd`; `into_inner`
    /// hands the fd back.
    fn try_new_and_into_inner(rt, multi) {
        let backend = rt.backend();
        rt.block_on(async {
            let file = std::fs::File::open("/proc/self/stat")?;
            let raw = file.as_raw_fd();
            match (backend, AsyncFd::try_new(file)) {
                (Backend::Mio, Err(error)) => {
                    let (file, cause) = error.into_parts();
                    assert_eq!(file.as_raw_fd(), raw, "the same file comes back");
                    assert_eq!(cause.raw_os_error(), Some(libc::EPERM), "{cause}");
                }
                (Backend::IoUring, Ok(fd)) => assert_eq!(fd.as_raw_fd(), raw),
                (backend, other) => panic!("{backend}: unexpected {other:?}"),
            }

            let (socket, mut peer) = socketpair();
            let old_path: ringtide::io::AsyncFd<UnixStream> = AsyncFd::new(socket)?;
            drop(old_path.writable().await?);
            let socket = old_path.into_inner();
            peer.write_all(b"mine")?;
            let mut buf = [0; 4];
            // Still non-blocking, and ours to read from directly.
            loop {
                match (&socket).read(&mut buf) {
                    Ok(len) => break assert_eq!(&buf[..len], b"mine"),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => return Err(e),
                }
            }
            io::Result::Ok(())
        })
        .unwrap();
    }
}

/// Outside a runtime there is nothing to register with: a clear error, and the value
/// comes back.
#[test]
fn try_new_outside_a_runtime_gives_the_value_back() {
    let (socket, _peer) = socketpair();
    let raw = socket.as_raw_fd();
    let error = AsyncFd::try_new(socket).unwrap_err();
    assert!(
        error.to_string().contains("inside a ringtide runtime"),
        "{error}"
    );
    let (socket, cause) = error.into_parts();
    assert_eq!(socket.as_raw_fd(), raw);
    assert_eq!(cause.kind(), io::ErrorKind::Other);
}
