//! Memory and fd safety of I/O objects around cancelled operations, on BOTH backends.
//!
//! [`backend_test!`] expands a body into four tests: io_uring and mio, each on a
//! current-thread and a 4-worker runtime. On io_uring a dropped op future leaves its
//! op in the kernel until the final completion; these tests check what an I/O object
//! does meanwhile when it is dropped or converted.

#![cfg(target_os = "linux")]

mod rt_common;

use std::future::{Future, poll_fn};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::Poll;

use ringtide::io::{AsyncFd, AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpStream};
use ringtide::runtime::{Backend, Handle};

/// The (device, inode) an fd refers to, or `None` when it is not open.
fn file_of(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: all zeroes is a valid `stat`; fstat writes it or fails.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a number we do not own only reads its metadata.
    if unsafe { libc::fstat(fd, &mut stat) } < 0 {
        return None;
    }
    Some((stat.st_dev, stat.st_ino))
}

/// Polls `future` once: its output if it completed, `None` if it is pending.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

fn in_flight() -> u64 {
    Handle::current().metrics().io().in_flight
}

/// Waits (yielding to the runtime) until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        ringtide::task::yield_now().await;
    }
}

/// Blocks until `fd` is readable (the peer's bytes arrived), so that what follows does
/// not depend on delivery timing.
fn wait_readable(fd: RawFd) {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, 10_000) };
    assert_eq!(ready, 1, "the peer's bytes did not arrive");
}

backend_test! {
    fn dropping_an_async_fd_with_a_read_in_flight_closes_the_fd_after_the_read(rt, multi) {
        rt.block_on(async {
            let (reader, writer) = std::io::pipe().unwrap();
            let fd = reader.as_raw_fd();
            let pipe = file_of(fd).unwrap();
            let reader = AsyncFd::new(reader).unwrap();
            let backend = reader.backend();
            {
                let mut read = Box::pin(reader.read_owned(Vec::with_capacity(16)));
                // The pipe is empty: the read waits (on io_uring: its SQE is queued or
                // in the kernel).
                assert!(poll_once(&mut read).await.is_none());
            } // The read future is dropped: the read is cancelled.
            drop(reader);

            // Sampled in this order, "closed" then "still in flight" can only mean the
            // fd was closed under a live op.
            let still_open = file_of(fd) == Some(pipe);
            let in_flight_now = in_flight();
            match backend {
                Backend::IoUring if !multi => {
                    // This thread drives the ring and has not yielded: the cancelled
                    // read is certainly still in flight.
                    assert_eq!(in_flight_now, 1, "the cancelled read is in flight");
                    assert!(still_open, "the fd was closed while the kernel read from it");
                }
                Backend::IoUring => {
                    eprintln!("io_uring multi-thread: open {still_open}, in flight {in_flight_now}");
                    assert!(still_open || in_flight_now == 0, "fd closed with the read in flight");
                }
                _ => {
                    // mio runs the syscall inside poll: nothing outlives the future.
                    assert_eq!(in_flight_now, 0);
                    assert!(!still_open, "mio closes the fd at once");
                }
            }

            // A pipe opened now must not be reachable by the stale read, even if it got
            // the old number: its byte stays there.
            let (new_reader, mut new_writer) = std::io::pipe().unwrap();
            if still_open {
                assert_ne!(new_reader.as_raw_fd(), fd, "number reused while still open");
            }
            new_writer.write_all(b"x").unwrap();

            // The read's final completion closes the fd.
            until(|| in_flight() == 0).await;
            until(|| file_of(fd) != Some(pipe)).await;

            let mut new_reader = new_reader;
            let mut byte = [0u8; 1];
            new_reader.read_exact(&mut byte).unwrap();
            assert_eq!(&byte, b"x", "a stale read took the new pipe's byte");
            drop(writer);
        });
    }
}

/// A connected pair: (ringtide client, ringtide server side).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// The server sends `data`; the client starts a read, polls it once and drops it. On
/// io_uring the read's SQE goes to the kernel after the drop, with the bytes already
/// there: the kernel completes it and the bytes are kept for the next read. Returns the
/// bytes the read returned itself when it completed at its first poll (mio, when the
/// socket was already known readable).
async fn cancel_a_read_that_takes(
    client: &mut TcpStream,
    server: &mut TcpStream,
    data: &[u8],
) -> Option<Vec<u8>> {
    let (result, _) = server.write_all_owned(data.to_vec()).await;
    result.unwrap();
    wait_readable(client.as_raw_fd());
    let returned = {
        let mut read = Box::pin(client.read_owned(Vec::with_capacity(64)));
        poll_once(&mut read).await.map(|(result, buf)| {
            assert_eq!(result.unwrap(), buf.len());
            buf
        })
    };
    // Let the cancelled read (if any) finish.
    until(|| in_flight() == 0).await;
    returned
}

backend_test! {
    fn tcp_into_std_fails_instead_of_dropping_kept_bytes(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            let backend = Handle::current().backend();
            let returned = cancel_a_read_that_takes(&mut client, &mut server, b"late").await;
            let converted = client.into_std();
            eprintln!("{backend:?}, multi {multi}: into_std {:?}", converted.as_ref().err());
            match converted {
                Err(error) => {
                    // The bytes were kept by the runtime: refusing is the only way not
                    // to lose them silently.
                    assert_eq!(backend, Backend::IoUring, "only io_uring keeps bytes");
                    assert!(returned.is_none());
                    assert!(error.to_string().contains("cancelled read"), "{error}");
                }
                Ok(mut std_client) => {
                    // Nothing was kept: the bytes are either what the read returned or
                    // still in the socket.
                    if backend == Backend::IoUring && !multi {
                        panic!("the cancelled read's bytes were kept, yet into_std succeeded");
                    }
                    let mut got = returned.unwrap_or_default();
                    if got.is_empty() {
                        std_client.set_nonblocking(false).unwrap();
                        let mut buf = [0u8; 4];
                        std_client.read_exact(&mut buf).unwrap();
                        got = buf.to_vec();
                    }
                    assert_eq!(got, b"late", "bytes lost by into_std");
                }
            }
        });
    }
}

backend_test! {
    fn tcp_read_takes_kept_bytes_then_into_std_succeeds(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = tcp_pair().await;
            let returned = cancel_a_read_that_takes(&mut client, &mut server, b"kept").await;
            let got = match returned {
                Some(bytes) => bytes,
                None => {
                    // The next read returns the kept bytes (or, when nothing was kept,
                    // the bytes still in the socket).
                    let (result, buf) = client.read_owned(Vec::with_capacity(64)).await;
                    assert_eq!(result.unwrap(), 4);
                    buf
                }
            };
            assert_eq!(got, b"kept");
            // Nothing is kept now: the conversion succeeds and the stream goes on.
            let mut std_client = client.into_std().unwrap();
            let (result, _) = server.write_all_owned(b"after".to_vec()).await;
            result.unwrap();
            std_client.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 5];
            std_client.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"after");
        });
    }
}
