//! The loop behind every "whole buffer" call of the owned-buffer API: `fill` for the
//! `read_exact` family (until the buffer's capacity is full) and `drain` for the
//! `write_all` family (until its initialised bytes are all written), over any step that
//! takes the buffer and how much is done and gives it back with a count (a socket's
//! `recv`/`send` at an offset, a file's positional read or write).
//!
//! The rules are the same everywhere: a step that transfers nothing ends the loop with
//! `UnexpectedEof` (reads) or `WriteZero` (writes), `Interrupted` is retried, any other
//! error ends it, and the buffer always comes back.

use std::future::Future;
use std::io;

use crate::io::{BufResult, IoBuf, IoBufMut};

/// Runs `step(buf, filled)` until `buf.bytes_total()` bytes are in; `UnexpectedEof`
/// ("the {what} ended before the buffer was full") when a step reads nothing first.
pub(crate) async fn fill<B, F, Fut>(buf: B, what: &str, step: F) -> BufResult<(), B>
where
    B: IoBufMut,
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    repeat(buf, B::bytes_total, step, || {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the {what} ended before the buffer was full"),
        )
    })
    .await
}

/// Runs `step(buf, written)` until all of `buf.bytes_init()` is written; `WriteZero`
/// ("the {what} accepted no more bytes") when a step writes nothing first.
pub(crate) async fn drain<B, F, Fut>(buf: B, what: &str, step: F) -> BufResult<(), B>
where
    B: IoBuf,
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    repeat(buf, B::bytes_init, step, || write_zero(what)).await
}

/// `drain`'s error when a step writes nothing (for loops written out by hand, such as
/// `net::owned_io`'s `SendAll`).
pub(crate) fn write_zero(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::WriteZero,
        format!("the {what} accepted no more bytes"),
    )
}

async fn repeat<B, F, Fut>(
    mut buf: B,
    goal: fn(&B) -> usize,
    mut step: F,
    nothing_moved: impl FnOnce() -> io::Error,
) -> BufResult<(), B>
where
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    let mut done = 0;
    while done < goal(&buf) {
        let (result, returned) = step(buf, done).await;
        buf = returned;
        match result {
            Ok(0) => return (Err(nothing_moved()), buf),
            Ok(count) => done += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return (Err(error), buf),
        }
    }
    (Ok(()), buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the steps here never wait"),
        }
    }

    #[test]
    fn fill_retries_interrupted_steps_and_stops_at_eof() {
        let mut calls = 0;
        let (result, buf) = run(fill(
            Vec::with_capacity(6),
            "stream",
            |mut buf: Vec<u8>, filled| {
                calls += 1;
                let step = match calls {
                    1 => Ok(4),
                    2 => Err(io::Error::from(io::ErrorKind::Interrupted)),
                    _ => Ok(2),
                };
                if let Ok(count) = step {
                    buf.resize(filled + count, 7);
                }
                async move { (step, buf) }
            },
        ));
        result.unwrap();
        assert_eq!((calls, buf.len()), (3, 6));

        let (result, _) = run(fill(
            Vec::with_capacity(6),
            "file",
            |buf: Vec<u8>, _| async move { (Ok(0), buf) },
        ));
        let error = result.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            error.to_string(),
            "the file ended before the buffer was full"
        );
    }

    #[test]
    fn drain_writes_until_every_byte_is_out_and_reports_write_zero() {
        let mut offsets = Vec::new();
        let (result, buf) = run(drain(vec![1u8; 10], "socket", |buf: Vec<u8>, written| {
            offsets.push(written);
            async move { (Ok(4.min(buf.len() - written)), buf) }
        }));
        result.unwrap();
        assert_eq!(buf.len(), 10);
        assert_eq!(offsets, [0, 4, 8]);

        let (result, _) = run(drain(
            vec![1u8; 3],
            "socket",
            |buf: Vec<u8>, _| async move { (Err(io::Error::from(io::ErrorKind::BrokenPipe)), buf) },
        ));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let (result, _) = run(drain(
            vec![1u8; 3],
            "socket",
            |buf: Vec<u8>, _| async move { (Ok(0), buf) },
        ));
        assert_eq!(
            result.unwrap_err().to_string(),
            "the socket accepted no more bytes"
        );
    }
}
