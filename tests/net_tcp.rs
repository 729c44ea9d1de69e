//! TCP tests (issue 5), each run on BOTH backends and both flavours through
//! `backend_test!` (io_uring and mio × current-thread and 4 workers).
//!
//! Loopback only, port 0. No sleeps as synchronisation and no timing assertions: the
//! few `timeout`s either *are* the thing under test (cancellation) or turn a hang into
//! a failure with a message.
//!
//! Scenarios that change process-wide state (a lowered `RLIMIT_NOFILE`, `SIGPIPE` back
//! to its default action) run in a child process: the parent re-runs this binary with
//! `--exact child_entry` and the scenario in [`CHILD_ENV`] (as `tests/driver_select.rs`
//! does); the child prints a [`RESULT_MARK`] line on success.

#![cfg(target_os = "linux")]

mod rt_common;

use std::collections::HashSet;
use std::io::{self, ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd as _, AsRawFd, IntoRawFd as _};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::net::{TcpListener, TcpSocket, TcpStream};
use ringtide::runtime::{Backend, Runtime};
use ringtide::time::timeout;
use rt_common::{LatePaths, poll_once_then_drop};

/// A hang guard for single awaits that must finish (never a timing assertion: a
/// passing run never gets near it).
const HANG: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// [`backend_test!`] holding the fd lock shared (see [`FD_COUNT`]).
macro_rules! net_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident, $multi:ident) $body:block) => {
        backend_test! {
            $(#[$attr])*
            guard: shared_fds();
            fn $name($rt, $multi) $body
        }
    };
}

/// [`backend_test!`] for tests that count this process's fds: holds the fd lock
/// exclusively.
macro_rules! fd_count_test {
    ($(#[$attr:meta])* fn $name:ident($rt:ident, $multi:ident) $body:block) => {
        backend_test! {
            $(#[$attr])*
            guard: exclusive_fds();
            fn $name($rt, $multi) $body
        }
    };
}

/// Tests that count this process's fds hold this exclusively; every other test holds
/// it shared, so no test opens fds while a count is in progress (`cargo test` runs the
/// tests of this file as threads of one process).
static FD_COUNT: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_fds() -> std::sync::RwLockReadGuard<'static, ()> {
    raise_nofile_limit();
    FD_COUNT.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive_fds() -> std::sync::RwLockWriteGuard<'static, ()> {
    raise_nofile_limit();
    FD_COUNT.write().unwrap_or_else(|e| e.into_inner())
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (once per process): the
/// 1000-connection tests need 2001 fds each, and `cargo test` runs four of them at once.
fn raise_nofile_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit write/read only the struct we pass.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            if limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
            }
        }
        assert!(
            limit.rlim_cur >= 4096,
            "RLIMIT_NOFILE hard limit {} is too low for the 1000-connection tests",
            limit.rlim_cur
        );
    });
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A connected pair: (client, server).
async fn pair_on(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
    let client = client.expect("connect");
    let (server, peer) = accepted.expect("accept");
    assert_eq!(
        peer,
        client.local_addr().unwrap(),
        "accept reports the client's address"
    );
    assert_eq!(server.peer_addr().unwrap(), peer);
    assert_eq!(client.peer_addr().unwrap(), addr);
    (client, server)
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(localhost())
        .await
        .expect("bind 127.0.0.1:0");
    pair_on(&listener).await
}

/// Reads until EOF.
async fn read_to_end<R: AsyncReadOwned>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (result, returned) = reader.read_owned(buf).await;
        buf = returned;
        let n = result?;
        if n == 0 {
            return Ok(out);
        }
        assert_eq!(
            buf.len(),
            n,
            "a read into an empty Vec sets its length to the count"
        );
        out.extend_from_slice(&buf[..n]);
    }
}

/// Writes all of `data`, checking the buffer comes back.
async fn write_all<W: AsyncWriteOwned>(writer: &mut W, data: Vec<u8>) {
    let len = data.len();
    let (result, returned) = writer.write_all_owned(data).await;
    result.expect("write_all_owned");
    assert_eq!(
        returned.len(),
        len,
        "write_all_owned gives the buffer back unchanged"
    );
}

/// A deterministic byte stream (xorshift64), producible in pieces of any length: the
/// writer and the reader of a transfer each run one with the same seed, so the reader
/// checks every byte it receives, at its position in the stream.
struct Pattern {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl Pattern {
    fn new(seed: u64) -> Pattern {
        Pattern {
            state: seed | 1,
            word: [0; 8],
            used: 8,
        }
    }

    fn step(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Replaces `out`'s contents with the next `len` bytes of the stream.
    fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        out.clear();
        out.reserve(len);
        while out.len() < len && self.used < 8 {
            out.push(self.word[self.used]);
            self.used += 1;
        }
        while len - out.len() >= 8 {
            let word = self.step().to_le_bytes();
            out.extend_from_slice(&word);
        }
        while out.len() < len {
            if self.used == 8 {
                self.word = self.step().to_le_bytes();
                self.used = 0;
            }
            out.push(self.word[self.used]);
            self.used += 1;
        }
    }
}

/// Checks received bytes against a [`Pattern`] byte for byte (stronger than comparing
/// checksums, and cheap: a memcmp per read), reporting the first corrupted offset.
struct Verifier {
    pattern: Pattern,
    expected: Vec<u8>,
    received: u64,
}

impl Verifier {
    fn new(seed: u64) -> Verifier {
        Verifier {
            pattern: Pattern::new(seed),
            expected: Vec::new(),
            received: 0,
        }
    }

    #[track_caller]
    fn check(&mut self, data: &[u8]) {
        self.pattern.fill(&mut self.expected, data.len());
        if data != &self.expected[..] {
            let at = data
                .iter()
                .zip(&self.expected)
                .position(|(a, b)| a != b)
                .unwrap();
            panic!(
                "stream corrupted at byte {} (piece of {} bytes starting at {}): got {:#04x}, expected {:#04x}",
                self.received + at as u64,
                data.len(),
                self.received,
                data[at],
                self.expected[at]
            );
        }
        self.received += data.len() as u64;
    }
}

// ---------------------------------------------------------------------------------
// Echo
// ---------------------------------------------------------------------------------

/// An echo server for `connections` clients, each sending its own message (of a size
/// depending on its index, up to ~64 KiB), reading it back, half-closing and reading
/// EOF; all clients run at once.
fn echo(rt: Runtime, connections: usize) {
    rt.block_on(async move {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        let server = ringtide::spawn(async move {
            let mut handlers = Vec::with_capacity(connections);
            for _ in 0..connections {
                let (mut stream, _) = listener.accept().await.expect("accept");
                handlers.push(ringtide::spawn(async move {
                    let mut buf = Vec::with_capacity(4096);
                    let mut echoed = 0;
                    loop {
                        buf.clear();
                        let (result, returned) = stream.read_owned(buf).await;
                        let n = result.expect("server read");
                        if n == 0 {
                            return echoed;
                        }
                        let (result, returned) = stream.write_all_owned(returned).await;
                        result.expect("server write");
                        buf = returned;
                        echoed += n;
                    }
                }));
            }
            let mut total = 0;
            for handler in handlers {
                total += handler.await.expect("echo handler");
            }
            total
        });
        let mut clients = Vec::with_capacity(connections);
        for index in 0..connections {
            clients.push(ringtide::spawn(async move {
                let stream = TcpStream::connect(addr).await.expect("connect");
                let len = 1 + (index * 7919) % (64 * 1024);
                let mut message = Vec::new();
                Pattern::new(index as u64 + 1).fill(&mut message, len);
                let writer = message.clone();
                // Write and read concurrently: a 64 KiB echo would not fit the socket
                // buffers of both directions if we wrote everything first.
                let (mut read_half, mut write_half) = stream.into_split();
                let write = async {
                    write_all(&mut write_half, writer).await;
                    write_half
                        .shutdown_with(Shutdown::Write)
                        .await
                        .expect("shutdown write");
                };
                let (_, echoed) = futures::join!(write, read_to_end(&mut read_half));
                let echoed = echoed.expect("client read");
                assert!(
                    echoed == message,
                    "client {index}: echo differs ({} of {len} bytes)",
                    echoed.len()
                );
                len
            }));
        }
        let mut sent = 0;
        for client in clients {
            sent += client.await.expect("client task");
        }
        assert_eq!(server.await.expect("server task"), sent);
    });
}

net_test! {
    fn echo_one_connection(rt, multi) {
        echo(rt, 1);
    }
}

net_test! {
    fn echo_100_concurrent_connections(rt, multi) {
        echo(rt, 100);
    }
}

net_test! {
    fn echo_1000_concurrent_connections(rt, multi) {
        echo(rt, 1000);
    }
}

// ---------------------------------------------------------------------------------
// Bulk transfer, half-close, buffer shapes
// ---------------------------------------------------------------------------------

const BULK: usize = 64 * 1024 * 1024;

/// Writes [`BULK`] bytes of `Pattern::new(seed)` in chunks of varying size (buffers
/// reused through `write_all_owned`), then half-closes.
async fn bulk_writer(mut writer: ringtide::net::tcp::OwnedWriteHalf, seed: u64) {
    let mut pattern = Pattern::new(seed);
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut sent = 0;
    let mut round = 0usize;
    while sent < BULK {
        let len = (1 + (round * 40_503) % (256 * 1024)).min(BULK - sent);
        pattern.fill(&mut buf, len);
        let (result, returned) = writer.write_all_owned(buf).await;
        result.expect("bulk write");
        assert_eq!(returned.len(), len);
        buf = returned;
        sent += len;
        round += 1;
    }
    writer
        .shutdown_with(Shutdown::Write)
        .await
        .expect("shutdown write");
}

/// Reads to EOF, checking every byte against `Pattern::new(seed)`; returns the count.
async fn bulk_reader(mut reader: ringtide::net::tcp::OwnedReadHalf, seed: u64) -> u64 {
    let mut verifier = Verifier::new(seed);
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let (result, returned) = reader.read_owned(buf).await;
        buf = returned;
        let n = result.expect("bulk read");
        if n == 0 {
            return verifier.received;
        }
        verifier.check(&buf[..n]);
    }
}

net_test! {
    fn transfer_64_mib_both_directions_at_once_through_split_halves(rt, multi) {
        rt.block_on(async {
            let (client, server) = pair().await;
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = ringtide::spawn(bulk_writer(client_write, 0xC11E_5E7D));
            let down = ringtide::spawn(bulk_writer(server_write, 0x5E_5E7D));
            let up_check = ringtide::spawn(bulk_reader(server_read, 0xC11E_5E7D));
            let down_check = ringtide::spawn(bulk_reader(client_read, 0x5E_5E7D));
            up.await.unwrap();
            down.await.unwrap();
            assert_eq!(up_check.await.unwrap(), BULK as u64, "client -> server byte count");
            assert_eq!(down_check.await.unwrap(), BULK as u64, "server -> client byte count");
        });
    }
}

net_test! {
    fn split_halves_reunite_into_the_same_stream(rt, multi) {
        rt.block_on(async {
            let (client, mut server) = pair().await;
            let fd = client.as_raw_fd();
            let (read, write) = client.into_split();
            let (other_read, other_write) = pair().await.0.into_split();
            let error = read.reunite(other_write).expect_err("halves of different streams");
            let (read, _other_write) = (error.0, error.1);
            drop(other_read);
            let mut client = read.reunite(write).expect("halves of one stream reunite");
            assert_eq!(client.as_raw_fd(), fd);
            write_all(&mut client, b"reunited".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 8].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"reunited");
        });
    }
}

net_test! {
    fn half_close_server_reads_to_eof_then_replies(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            let server = ringtide::spawn(async move {
                let request = read_to_end(&mut server).await.expect("server reads to EOF");
                // The read side is at EOF, the write side still works.
                let mut reply = format!("got {} bytes: ", request.len()).into_bytes();
                reply.extend(request.iter().rev());
                write_all(&mut server, reply).await;
                // Dropping closes: the client sees EOF after the reply.
            });
            write_all(&mut client, b"hello, half-closed world".to_vec()).await;
            client.shutdown_with(Shutdown::Write).await.expect("shutdown(Write)");
            let reply = read_to_end(&mut client).await.expect("client reads the reply to EOF");
            assert_eq!(reply, b"got 24 bytes: dlrow desolc-flah ,olleh");
            server.await.unwrap();
            // Writing after our own shutdown(Write) is an error, not a panic.
            let (result, _) = client.write_owned(b"late".to_vec()).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::BrokenPipe);
        });
    }
}

net_test! {
    fn read_exact_owned_fills_the_whole_buffer_across_many_small_writes(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            let mut expected = Vec::new();
            Pattern::new(7).fill(&mut expected, 100_000);
            let data = expected.clone();
            let writer = ringtide::spawn(async move {
                // Many small writes, so the reader sees many short reads.
                for chunk in data.chunks(997) {
                    write_all(&mut client, chunk.to_vec()).await;
                }
                client
            });
            let (result, buf) = server.read_exact_owned(Vec::with_capacity(100_000)).await;
            result.expect("read_exact_owned");
            assert_eq!(buf.len(), 100_000);
            assert!(buf == expected, "read_exact_owned bytes differ");
            // A zero-capacity read_exact is done at once.
            let (result, buf) = server.read_exact_owned(Vec::new()).await;
            result.unwrap();
            assert!(buf.is_empty());
            // EOF before the buffer is full: UnexpectedEof, buffer given back.
            let mut client = writer.await.unwrap();
            write_all(&mut client, b"short".to_vec()).await;
            drop(client);
            let (result, buf) = server.read_exact_owned(vec![0u8; 64].into_boxed_slice()).await;
            assert_eq!(result.unwrap_err().kind(), ErrorKind::UnexpectedEof);
            assert_eq!(buf.len(), 64, "the buffer comes back on error");
        });
    }
}

net_test! {
    fn writev_owned_and_readv_owned_scatter_and_gather(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            let bufs = vec![b"hello".to_vec(), Vec::new(), b", ".to_vec(), b"vectored world".to_vec()];
            let (result, bufs) = client.writev_owned(bufs).await;
            let written = result.expect("writev_owned");
            assert_eq!(bufs.len(), 4, "the buffers come back");
            assert_eq!(bufs[3], b"vectored world");
            assert_eq!(written, 21, "a 21-byte writev on an empty socket is not short");
            client.shutdown_with(Shutdown::Write).await.unwrap();

            // Scatter: the first buffer fills before the second gets anything.
            let bufs = vec![Vec::with_capacity(3), Vec::with_capacity(4), Vec::with_capacity(100)];
            let (result, bufs) = server.readv_owned(bufs).await;
            let n = result.expect("readv_owned");
            assert!(n > 0 && n <= 21, "{n}");
            let lens: Vec<usize> = bufs.iter().map(Vec::len).collect();
            let expected_lens = [n.min(3), n.saturating_sub(3).min(4), n.saturating_sub(7)];
            assert_eq!(lens, expected_lens, "readv fills the buffers in order");
            let mut got: Vec<u8> = bufs.concat();
            got.extend(read_to_end(&mut server).await.unwrap());
            assert_eq!(got, b"hello, vectored world");

            // At EOF, readv reads 0.
            let (result, _) = server.readv_owned(vec![Vec::with_capacity(8)]).await;
            assert_eq!(result.unwrap(), 0);
        });
    }
}

net_test! {
    fn vectored_io_with_more_buffers_than_iov_max_is_short_not_an_error(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            let bufs: Vec<Vec<u8>> = (0..2000u32).map(|i| vec![(i % 251) as u8]).collect();
            let (result, bufs) = client.writev_owned(bufs).await;
            let written = result.expect("2000 buffers: a short writev, not EMSGSIZE");
            assert!(written > 0 && written <= 1024, "{written}");
            assert_eq!(bufs.len(), 2000, "the buffers come back");
            client.shutdown_with(Shutdown::Write).await.unwrap();

            let bufs: Vec<Vec<u8>> = (0..2000).map(|_| Vec::with_capacity(1)).collect();
            let (result, bufs) = server.readv_owned(bufs).await;
            let read = result.expect("2000 buffers: a short readv, not EMSGSIZE");
            assert!(read > 0 && read <= written, "{read}");
            let got: Vec<u8> = bufs.concat();
            let expected: Vec<u8> = (0..read as u32).map(|i| (i % 251) as u8).collect();
            assert_eq!(got, expected);
        });
    }
}

net_test! {
    fn zero_length_reads_and_writes_return_zero_at_once(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            // No data is pending: a zero-capacity read must not wait for any.
            let (result, buf) = timeout(HANG, server.read_owned(Vec::new()))
                .await
                .expect("a zero-capacity read_owned hangs");
            assert_eq!(result.unwrap(), 0);
            assert!(buf.is_empty());
            let (result, bufs) = timeout(HANG, server.readv_owned(vec![Vec::<u8>::new(), Vec::new()]))
                .await
                .expect("a zero-capacity readv_owned hangs");
            assert_eq!(result.unwrap(), 0);
            assert_eq!(bufs.len(), 2);

            let (result, buf) = client.write_owned(Vec::new()).await;
            assert_eq!(result.unwrap(), 0);
            assert!(buf.is_empty());
            let (result, _) = client.write_all_owned(Vec::new()).await;
            result.unwrap();
            let (result, _) = client.writev_owned(vec![Vec::<u8>::new()]).await;
            assert_eq!(result.unwrap(), 0);
            let (result, _) = client.writev_owned(Vec::<Vec<u8>>::new()).await;
            assert_eq!(result.unwrap(), 0, "writev of no buffers");
            let (result, _) = client.write_owned("").await;
            assert_eq!(result.unwrap(), 0);

            // The empty writes sent nothing: the next byte the server reads is this one.
            write_all(&mut client, b"!".to_vec()).await;
            drop(client);
            assert_eq!(read_to_end(&mut server).await.unwrap(), b"!");
        });
    }
}

// ---------------------------------------------------------------------------------
// Errors: io::ErrorKind, never panics
// ---------------------------------------------------------------------------------

net_test! {
    fn connect_to_a_closed_port_is_connection_refused(rt, multi) {
        rt.block_on(async {
            // A port that was free a moment ago and has no listener now.
            let addr = std::net::TcpListener::bind(localhost()).unwrap().local_addr().unwrap();
            let error = TcpStream::connect(addr).await.expect_err("nothing listens there");
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
            let error = TcpSocket::new_v4().unwrap().connect(addr).await.expect_err("nothing listens there");
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
        });
    }
}

/// Writes single bytes to a peer that closed its socket until a write fails; returns
/// the first error and the one after it.
async fn write_until_error(stream: &mut TcpStream) -> (io::Error, io::Error) {
    for _ in 0..100_000 {
        let (result, _) = stream.write_owned(b"x".to_vec()).await;
        if let Err(first) = result {
            let (result, _) = stream.write_owned(b"x".to_vec()).await;
            let second = result.expect_err("a write after a failed one fails too");
            return (first, second);
        }
        // Loopback delivers the peer's RST during our write; yield in case it did not.
        ringtide::task::yield_now().await;
    }
    panic!("100000 writes to a closed peer all succeeded");
}

async fn write_to_closed_peer_scenario() -> String {
    let (mut client, server) = pair().await;
    drop(server);
    let (result, _) = client.read_owned(Vec::with_capacity(16)).await;
    assert_eq!(result.expect("read the peer's FIN"), 0);
    let (first, second) = write_until_error(&mut client).await;
    for error in [&first, &second] {
        assert!(
            matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "write to a closed peer: {error:?}"
        );
    }
    // After the RST a read reports EOF or the reset, never a panic.
    let (result, _) = client.read_owned(Vec::with_capacity(16)).await;
    match result {
        Ok(0) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("read after the reset: {other:?}"),
    }
    format!("first={:?} second={:?}", first.kind(), second.kind())
}

net_test! {
    fn write_to_a_closed_peer_is_broken_pipe_or_reset(rt, multi) {
        rt.block_on(async {
            let result = write_to_closed_peer_scenario().await;
            println!("{result}");
        });
    }
}

/// Sets `SO_LINGER` to {on, 0 s}: closing the socket then sends an RST.
fn set_linger_zero(fd: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a live local.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

net_test! {
    fn peer_reset_is_connection_reset_on_read(rt, multi) {
        rt.block_on(async {
            // The read is in flight when the RST arrives...
            let (mut client, server) = pair().await;
            let read = ringtide::spawn(async move {
                let (result, _) = client.read_owned(Vec::with_capacity(64)).await;
                (result, client)
            });
            ringtide::task::yield_now().await;
            set_linger_zero(&server);
            drop(server);
            let (result, mut client) = read.await.unwrap();
            assert_eq!(result.expect_err("read after a reset").kind(), ErrorKind::ConnectionReset);
            // ...and afterwards reads report EOF (the error was consumed), writes fail.
            let (result, _) = client.read_owned(Vec::with_capacity(64)).await;
            assert_eq!(result.unwrap(), 0);
            let (result, _) = client.write_owned(b"x".to_vec()).await;
            assert!(
                matches!(result.as_ref().unwrap_err().kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                "{result:?}"
            );

            // The RST arrives before the read starts, after the connection carried data.
            let (mut client, mut server) = pair().await;
            write_all(&mut client, b"never read".to_vec()).await;
            server.set_zero_linger().unwrap();
            let (result, _) = server.read_owned(Vec::with_capacity(1)).await;
            assert_eq!(result.unwrap(), 1);
            drop(server);
            let (result, _) = client.read_owned(Vec::with_capacity(64)).await;
            assert_eq!(result.expect_err("read after a reset").kind(), ErrorKind::ConnectionReset);
        });
    }
}

net_test! {
    fn bind_an_address_in_use_is_addr_in_use(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind(localhost()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let error = TcpListener::bind(addr).await.expect_err("the address is taken");
            assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error:?}");
            // TcpSocket too, even with SO_REUSEADDR (a listener holds the port).
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            let error = socket.bind(addr).and_then(|()| socket.listen(16).map(drop)).expect_err("in use");
            assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error:?}");
            // The first listener is unaffected.
            let (mut client, mut server) = pair_on(&listener).await;
            write_all(&mut client, b"ok".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 2].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"ok");
        });
    }
}

net_test! {
    fn reads_after_own_shutdown_read_return_zero(rt, multi) {
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            server.shutdown_with(Shutdown::Read).await.expect("shutdown(Read)");
            for _ in 0..3 {
                let (result, buf) = timeout(HANG, server.read_owned(Vec::with_capacity(16)))
                    .await
                    .expect("a read after shutdown(Read) hangs");
                assert_eq!(result.unwrap(), 0);
                assert!(buf.is_empty());
            }
            // The other direction still works.
            write_all(&mut server, b"still writable".to_vec()).await;
            let (result, buf) = client.read_exact_owned(vec![0u8; 14].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"still writable");
            // shutdown(Both) then: reads 0 on our side, EOF on the peer's.
            server.shutdown_with(Shutdown::Both).await.unwrap();
            let (result, _) = server.read_owned(Vec::with_capacity(16)).await;
            assert_eq!(result.unwrap(), 0);
            assert_eq!(read_to_end(&mut client).await.unwrap(), b"");
        });
    }
}

// ---------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------

/// Runs `body` on a fresh runtime like `rt` (same backend and flavour) on a dedicated
/// thread, so every fd it creates (rings of its threads included) is gone when it
/// returns; asserts the process has as many fds after as before.
fn without_fd_leaks(rt: Runtime, multi: bool, body: impl FnOnce(Runtime) + Send + 'static) {
    let backend = rt.backend();
    drop(rt);
    without_fd_leaks_on(backend, multi, rt_common::backend_runtime, body);
}

/// [`without_fd_leaks`] on a runtime for `backend` that `build` makes (from the backend
/// and the worker count, 0 for current-thread).
fn without_fd_leaks_on(
    backend: Backend,
    multi: bool,
    build: fn(Backend, usize) -> Runtime,
    body: impl FnOnce(Runtime) + Send + 'static,
) {
    let before = open_fds();
    std::thread::spawn(move || {
        body(build(backend, if multi { 4 } else { 0 }));
    })
    .join()
    .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
    // Fewer is not a leak: under `cargo test` (one process), threads of runtimes that
    // earlier tests dropped may still be exiting and closing their rings meanwhile.
    // More is given a bounded while to come down: a runtime's drop returns once its
    // threads are done, which is not the last instant of their teardown. A real leak
    // stays and fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let after = open_fds();
        if after <= before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fds leaked: {before} open before, {after} after"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// 1000 clients connect while `accept`s are dropped by 0 ms timers, 1 ms timers or a
/// yield (on io_uring the op may run in the kernel anyway, before its cancellation):
/// every client is accepted exactly once.
fn accept_race(rt: &Runtime) {
    const ROUNDS: u32 = 1000;
    rt.block_on(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
        let mut readers = Vec::new();
        let mut record = |mut stream: TcpStream| {
            let seen = seen.clone();
            readers.push(ringtide::spawn(async move {
                let (result, buf) = stream
                    .read_exact_owned(vec![0u8; 4].into_boxed_slice())
                    .await;
                result.expect("read the client's id");
                let id = u32::from_le_bytes(buf[..].try_into().unwrap());
                assert!(
                    seen.lock().unwrap().insert(id),
                    "client {id} accepted twice"
                );
            }));
        };
        let mut clients = Vec::new();
        let mut accepted = 0;
        let mut cancelled = 0;
        for round in 0..ROUNDS {
            clients.push(ringtide::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                write_all(&mut stream, round.to_le_bytes().to_vec()).await;
            }));
            let outcome = match round % 3 {
                0 => timeout(Duration::ZERO, listener.accept()).await.ok(),
                1 => timeout(Duration::from_millis(1), listener.accept())
                    .await
                    .ok(),
                _ => {
                    // Hand-written select: accept against one yield.
                    let accept = pin!(listener.accept());
                    let yielded = pin!(ringtide::task::yield_now());
                    match futures::future::select(accept, yielded).await {
                        futures::future::Either::Left((result, _)) => Some(result),
                        futures::future::Either::Right(((), _)) => None,
                    }
                }
            };
            match outcome {
                Some(result) => {
                    let (stream, _) = result.expect("accept");
                    record(stream);
                    accepted += 1;
                }
                None => cancelled += 1,
            }
        }
        for client in clients {
            client.await.expect("client");
        }
        // Every client connected: each is in the backlog or was accepted.
        while accepted < ROUNDS {
            let (stream, _) = timeout(HANG, listener.accept())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "connection lost: accepted {accepted} of {ROUNDS} connected clients \
                             ({cancelled} accepts were cancelled)"
                    )
                })
                .expect("accept");
            record(stream);
            accepted += 1;
        }
        for reader in readers {
            reader.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), ROUNDS as usize);
        println!("{cancelled} of {ROUNDS} accepts cancelled");
    });
}

/// How many runs of a cancel-safety scenario may pass before the late-result path it is
/// about must have run at least once.
const LATE_PATH_RUNS: usize = 5;

fd_count_test! {
    fn accept_raced_against_a_timer_loses_no_connection_and_leaks_no_fd(rt, multi) {
        let backend = rt.backend();
        // Multishot accept (the default, when the kernel has it): a dropped accept
        // leaves its connection in the listener's armed request.
        without_fd_leaks(rt, multi, |rt| accept_race(&rt));
        // Single accepts: a cancelled accept's connection takes the late-result path.
        let late = LatePaths::start();
        without_fd_leaks_on(backend, multi, rt_common::single_accept_runtime, move |rt| {
            for _ in 0..LATE_PATH_RUNS {
                accept_race(&rt);
                if backend != Backend::IoUring || late.hit(|late| late.accepts) {
                    break;
                }
            }
            eprintln!("single accepts: late results kept: {:?}", late.since());
            late.assert_ran(backend, "cancelled single accepts", |late| late.accepts);
        });
    }
}

fd_count_test! {
    fn cancelled_reads_keep_their_bytes(rt, multi) {
        const ROUNDS: usize = 300;
        without_fd_leaks(rt, multi, |rt| {
            let backend = rt.backend();
            rt.block_on(async {
                let late = LatePaths::start();
                let (mut client, mut server) = pair().await;
                let mut pattern = Pattern::new(0xCA9CE1);
                let mut verifier = Verifier::new(0xCA9CE1);
                let mut chunk = Vec::new();
                for round in 0..ROUNDS {
                    // A read that starts and is cancelled with nothing to read.
                    let limit = if round % 2 == 0 { Duration::ZERO } else { Duration::from_millis(1) };
                    match timeout(limit, server.read_owned(Vec::with_capacity(1 + round * 37))).await {
                        Err(_elapsed) => {}
                        Ok((result, _)) => panic!("round {round}: a read with no data sent completed: {result:?}"),
                    }
                    if round % 3 == 0 {
                        // A hand-written select, cancelling after the read was polled once.
                        let read = pin!(server.read_owned(Vec::with_capacity(4096)));
                        let yielded = pin!(ringtide::task::yield_now());
                        if let futures::future::Either::Left(((result, _), _)) =
                            futures::future::select(read, yielded).await
                        {
                            panic!("round {round}: a read with no data sent completed: {result:?}");
                        }
                    }
                    // Then the data: varying sizes, up to ~200 KiB (more than the socket
                    // buffer takes at once), read with varying buffer sizes.
                    let len = 1 + (round * 6_151) % (200 * 1024);
                    pattern.fill(&mut chunk, len);
                    // Its head first, taken by a read that is dropped once the kernel has
                    // completed it (io_uring): the late-result path keeps those bytes
                    // for the reads below.
                    let rest = chunk.split_off((1 + round % 64).min(len));
                    write_all(&mut client, std::mem::take(&mut chunk)).await;
                    let mut already = 0;
                    if let Some((result, buf)) =
                        poll_once_then_drop(server.read_owned(Vec::with_capacity(1 + round % 16))).await
                    {
                        already = result.expect("read");
                        verifier.check(&buf[..already]);
                    }
                    let write = write_all(&mut client, rest);
                    let read = async {
                        let mut got = already;
                        let mut buf = Vec::new();
                        while got < len {
                            buf.clear();
                            buf.reserve(1 + (round * 131 + got) % 65_536);
                            let (result, returned) = server.read_owned(buf).await;
                            buf = returned;
                            let n = result.expect("read");
                            assert!(n > 0, "round {round}: EOF after {got} of {len} bytes");
                            assert!(got + n <= len, "round {round}: read more than was sent");
                            verifier.check(&buf[..n]);
                            got += n;
                        }
                    };
                    futures::join!(write, read);
                }
                drop(client);
                assert_eq!(read_to_end(&mut server).await.unwrap(), b"", "no bytes beyond what was sent");
                eprintln!("late results kept: {:?}", late.since());
                late.assert_ran(backend, "cancelled reads", |late| late.reads);
            });
        });
    }
}

fd_count_test! {
    fn dropping_a_stream_with_a_read_in_flight_frees_its_fd(rt, multi) {
        without_fd_leaks(rt, multi, |rt| {
            rt.block_on(async {
                let listener = TcpListener::bind(localhost()).await.unwrap();
                let mut peers = Vec::new();
                for round in 0..100 {
                    let (client, server) = pair_on(&listener).await;
                    let (polled_tx, polled_rx) = futures::channel::oneshot::channel();
                    let (mut read_half, write_half) = server.into_split();
                    let task = ringtide::spawn(async move {
                        let mut stream = client;
                        let mut read = pin!(stream.read_owned(Vec::with_capacity(1024)));
                        // The read is submitted (io_uring) / waiting (mio)...
                        assert!(futures::poll!(read.as_mut()).is_pending());
                        let _ = polled_tx.send(());
                        // ...and stays in flight until the task is aborted.
                        let (result, _) = read.await;
                        panic!("the read completed: {result:?}");
                    });
                    polled_rx.await.unwrap();
                    // Half of them: a read in flight on the other side too, on a split half,
                    // dropped by dropping its future.
                    if round % 2 == 0 {
                        let mut read = pin!(read_half.read_owned(Vec::with_capacity(1024)));
                        assert!(futures::poll!(read.as_mut()).is_pending());
                    }
                    task.abort();
                    let error = task.await.expect_err("aborted");
                    assert!(error.is_cancelled());
                    // The aborted task's stream is closed: the peer reads EOF.
                    assert_eq!(read_to_end(&mut read_half).await.unwrap(), b"");
                    peers.push((read_half, write_half));
                }
                drop(peers);
                // A stream dropped while a *spawned* read on a split half is in flight
                // (the task holding the half is aborted while the other half is dropped).
                let (client, _server) = pair_on(&listener).await;
                let (mut read_half, write_half) = client.into_split();
                let task = ringtide::spawn(async move {
                    let _ = read_half.read_owned(Vec::with_capacity(64)).await;
                });
                ringtide::task::yield_now().await;
                drop(write_half);
                task.abort();
                let _ = task.await;
            });
        });
    }
}

fd_count_test! {
    fn dropping_the_runtime_with_reads_and_accepts_in_flight_frees_every_fd(rt, multi) {
        without_fd_leaks(rt, multi, |rt| {
            let streams = rt.block_on(async {
                use futures::StreamExt as _;
                let listener = TcpListener::bind(localhost()).await.unwrap();
                // Each task reports once its read or accept has been polled (queued on
                // io_uring, waiting for readiness on mio).
                let (polled_tx, mut polled_rx) = futures::channel::mpsc::unbounded::<()>();
                let mut streams = Vec::new();
                for _ in 0..50 {
                    let (client, mut server) = pair_on(&listener).await;
                    let polled_tx = polled_tx.clone();
                    ringtide::spawn(async move {
                        let mut read = pin!(server.read_owned(Vec::with_capacity(64)));
                        assert!(futures::poll!(read.as_mut()).is_pending());
                        polled_tx.unbounded_send(()).unwrap();
                        let _ = read.await;
                    });
                    streams.push(client);
                }
                let listener = Arc::new(listener);
                for _ in 0..4 {
                    let listener = listener.clone();
                    let polled_tx = polled_tx.clone();
                    ringtide::spawn(async move {
                        let mut accept = pin!(listener.accept());
                        assert!(futures::poll!(accept.as_mut()).is_pending());
                        polled_tx.unbounded_send(()).unwrap();
                        let _ = accept.await;
                    });
                }
                for _ in 0..54 {
                    polled_rx.next().await.expect("every task reports");
                }
                streams
            });
            // The runtime goes with the spawned reads and accepts still in flight; the
            // clients are dropped after it, outside any runtime.
            drop(rt);
            drop(streams);
        });
    }
}

// ---------------------------------------------------------------------------------
// TcpSocket, options, std conversions, IPv6
// ---------------------------------------------------------------------------------

net_test! {
    fn tcp_socket_bind_listen_connect_and_options(rt, multi) {
        rt.block_on(async {
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(localhost()).unwrap();
            let bound = socket.local_addr().unwrap();
            assert!(bound.ip().is_loopback() && bound.port() != 0, "{bound}");
            let listener = socket.listen(128).unwrap();
            assert_eq!(listener.local_addr().unwrap(), bound);

            let connector = TcpSocket::new_v4().unwrap();
            connector.set_send_buffer_size(64 * 1024).unwrap();
            connector.set_recv_buffer_size(64 * 1024).unwrap();
            let (client, accepted) = futures::join!(connector.connect(bound), listener.accept());
            let mut client = client.expect("TcpSocket::connect");
            let (mut server, peer) = accepted.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(client.peer_addr().unwrap(), bound);
            assert_eq!(server.local_addr().unwrap(), bound);

            client.set_nodelay(true).unwrap();
            assert!(client.nodelay().unwrap());
            client.set_nodelay(false).unwrap();
            assert!(!client.nodelay().unwrap());
            client.set_ttl(42).unwrap();
            assert_eq!(client.ttl().unwrap(), 42);

            write_all(&mut client, b"via TcpSocket".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 13].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"via TcpSocket");

            // SO_REUSEADDR lets a new listener take the port while the old connection's
            // socket is in TIME_WAIT: close the server side first (it enters TIME_WAIT),
            // then re-bind the listening port.
            drop(listener);
            drop(server);
            drop(client);
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(bound).expect("re-bind with SO_REUSEADDR");
            let listener = socket.listen(16).unwrap();
            let (_c, _s) = pair_on(&listener).await;
        });
    }
}

net_test! {
    fn tcp_socket_reuseport_lets_two_listeners_share_a_port(rt, multi) {
        rt.block_on(async {
            let first = TcpSocket::new_v4().unwrap();
            first.set_reuseport(true).unwrap();
            first.bind(localhost()).unwrap();
            let addr = first.local_addr().unwrap();
            let second = TcpSocket::new_v4().unwrap();
            second.set_reuseport(true).unwrap();
            second.bind(addr).expect("SO_REUSEPORT shares the port");
            let first = first.listen(16).unwrap();
            let second = second.listen(16).unwrap();
            assert_eq!(first.local_addr().unwrap(), second.local_addr().unwrap());
        });
    }
}

net_test! {
    fn std_conversions_round_trip(rt, multi) {
        rt.block_on(async {
            // Listener: std -> ringtide -> std -> ringtide.
            let std_listener = std::net::TcpListener::bind(localhost()).unwrap();
            std_listener.set_nonblocking(true).unwrap();
            let addr = std_listener.local_addr().unwrap();
            let fd = std_listener.as_raw_fd();
            let listener = TcpListener::from_std(std_listener).unwrap();
            assert_eq!(listener.as_raw_fd(), fd);
            let std_listener = listener.into_std().unwrap();
            assert_eq!(std_listener.as_raw_fd(), fd, "into_std keeps the fd");
            assert_eq!(std_listener.local_addr().unwrap(), addr);
            let listener = TcpListener::from_std(std_listener).unwrap();

            // Stream: a std client, converted, talks to an accepted ringtide stream.
            let std_client = std::net::TcpStream::connect(addr).unwrap();
            std_client.set_nonblocking(true).unwrap();
            let client_fd = std_client.as_raw_fd();
            let mut client = TcpStream::from_std(std_client).unwrap();
            assert_eq!(client.as_raw_fd(), client_fd);
            let (mut server, _) = listener.accept().await.unwrap();
            write_all(&mut client, b"from std".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 8].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"from std");

            // ringtide -> std: the std stream works as a blocking stream (for this
            // exchange set blocking; small writes on loopback never block anyway).
            let mut std_client = client.into_std().unwrap();
            assert_eq!(std_client.as_raw_fd(), client_fd);
            std_client.set_nonblocking(false).unwrap();
            std_client.write_all(b"std again").unwrap();
            let (result, buf) = server.read_exact_owned(vec![0u8; 9].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"std again");
            write_all(&mut server, b"back".to_vec()).await;
            let mut back = [0u8; 4];
            std_client.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"back");

            // And back again, with the data path still intact.
            std_client.set_nonblocking(true).unwrap();
            let mut client = TcpStream::from_std(std_client).unwrap();
            write_all(&mut client, b"round trip".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 10].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"round trip");

            // into_raw_fd hands the fd over: closing it ourselves is the only close.
            let raw = client.into_raw_fd();
            // SAFETY: we own `raw` now (into_raw_fd gave it up).
            drop(unsafe { <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(raw) });
            assert_eq!(read_to_end(&mut server).await.unwrap(), b"");
        });
    }
}

net_test! {
    fn ipv6_loopback_echo_or_skip(rt, multi) {
        rt.block_on(async {
            if !rt_common::ipv6_loopback_configured() {
                eprintln!("skipped: this machine has no IPv6 loopback (no ::1 in /proc/net/if_inet6)");
                return;
            }
            let addr: SocketAddr = "[::1]:0".parse().unwrap();
            let listener = TcpListener::bind(addr).await.expect("bind [::1]:0 with ::1 configured");
            let local = listener.local_addr().unwrap();
            assert!(local.is_ipv6() && local.ip().is_loopback(), "{local}");
            let (mut client, mut server) = pair_on(&listener).await;
            assert!(client.local_addr().unwrap().is_ipv6());
            write_all(&mut client, b"v6".to_vec()).await;
            let (result, buf) = server.read_exact_owned(vec![0u8; 2].into_boxed_slice()).await;
            result.unwrap();
            assert_eq!(&buf[..], b"v6");

            // TcpSocket::new_v6 as well.
            let socket = TcpSocket::new_v6().unwrap();
            let mut client = socket.connect(local).await.expect("TcpSocket::new_v6 connect");
            let (mut server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            write_all(&mut server, b"six".to_vec()).await;
            drop(server);
            assert_eq!(read_to_end(&mut client).await.unwrap(), b"six");
        });
    }
}

net_test! {
    fn connect_and_bind_resolve_host_strings(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (client, accepted) = futures::join!(TcpStream::connect(("127.0.0.1", port)), listener.accept());
            client.expect("connect to a (host, port) tuple");
            accepted.unwrap();
            // "localhost" may resolve to ::1 first; connect tries every address.
            let (client, accepted) = futures::join!(TcpStream::connect(format!("localhost:{port}")), listener.accept());
            client.expect("connect to localhost:port");
            accepted.unwrap();
        });
    }
}

// ---------------------------------------------------------------------------------
// Child processes: EMFILE on accept, SIGPIPE left at its default action
// ---------------------------------------------------------------------------------

/// Names the scenario a child process runs; unset in the parent.
const CHILD_ENV: &str = "RINGTIDE_NET_TCP_CHILD";
/// The child's backend and worker count (0 = current-thread).
const CHILD_BACKEND_ENV: &str = "RINGTIDE_NET_TCP_CHILD_BACKEND";
const CHILD_WORKERS_ENV: &str = "RINGTIDE_NET_TCP_CHILD_WORKERS";
/// Starts the line a child prints when its scenario succeeded.
const RESULT_MARK: &str = "RINGTIDE_NET_TCP_RESULT";
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Re-runs this binary for `scenario` on `backend` with `workers`; asserts it succeeded
/// and returns its result line.
fn run_child(scenario: &str, backend: Backend, workers: usize) -> String {
    let workers_text = workers.to_string();
    let output = rt_common::run_child_test(
        "child_entry",
        &[
            (CHILD_ENV, scenario),
            (CHILD_BACKEND_ENV, backend.as_str()),
            (CHILD_WORKERS_ENV, &workers_text),
        ],
        CHILD_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = || {
        format!(
            "child `{scenario}` ({backend}, {workers} workers) exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
    };
    assert!(output.status.success(), "{}", report());
    let prefix = format!("{RESULT_MARK} {scenario} ");
    let line = stdout
        .lines()
        .find_map(|line| Some(line[line.find(&prefix)? + prefix.len()..].to_owned()))
        .unwrap_or_else(|| panic!("the child did not run its scenario:\n{}", report()));
    println!("{scenario} ({backend}, {workers} workers): {line}");
    line
}

/// Expands to one parent test per backend × flavour, each running `scenario` in a child.
macro_rules! child_test {
    ($(#[$attr:meta])* fn $name:ident => $scenario:literal) => {
        mod $name {
            use super::*;

            #[test]
            $(#[$attr])*
            fn io_uring_current_thread() {
                run_child($scenario, Backend::IoUring, 0);
            }

            #[test]
            $(#[$attr])*
            fn io_uring_multi_thread() {
                run_child($scenario, Backend::IoUring, 4);
            }

            #[test]
            $(#[$attr])*
            fn mio_current_thread() {
                run_child($scenario, Backend::Mio, 0);
            }

            #[test]
            $(#[$attr])*
            fn mio_multi_thread() {
                run_child($scenario, Backend::Mio, 4);
            }
        }
    };
}

child_test! {
    /// With fds exhausted, accept fails with EMFILE (an error, not a panic or a hang)
    /// while a client is pending; once fds are freed the same listener accepts that
    /// client and keeps serving new ones.
    fn emfile_on_accept_is_an_error_and_the_listener_recovers => "emfile_accept"
}

child_test! {
    /// Writes to a closed peer with SIGPIPE at its default action (terminate): the
    /// library must not raise SIGPIPE (MSG_NOSIGNAL), the write just fails.
    fn write_to_a_closed_peer_raises_no_sigpipe => "sigpipe_default"
}

/// The entry point of child processes; does nothing unless [`CHILD_ENV`] is set.
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        eprintln!("not a child process ({CHILD_ENV} unset): nothing to run");
        return;
    };
    let backend: Backend = std::env::var(CHILD_BACKEND_ENV).unwrap().parse().unwrap();
    let workers: usize = std::env::var(CHILD_WORKERS_ENV).unwrap().parse().unwrap();
    let rt = rt_common::backend_runtime(backend, workers);
    let result = match scenario.as_str() {
        "emfile_accept" => child_emfile_accept(&rt),
        "sigpipe_default" => {
            // SAFETY: resetting a signal disposition; no handler runs our code.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            rt.block_on(write_to_closed_peer_scenario())
        }
        other => panic!("unknown {CHILD_ENV} scenario `{other}`"),
    };
    // On its own line: libtest has printed `test child_entry ... ` without a newline.
    println!("\n{RESULT_MARK} {scenario} {result}");
}

fn child_emfile_accept(rt: &Runtime) -> String {
    rt.block_on(async {
        // Warm up on another listener: one full accept/read round trip, so the
        // runtime's lazily created resources (rings of the threads involved) exist
        // before fds run out. Kept open until the end: on io_uring a dropped stream is
        // closed by a CLOSE op that runs later, which would free fds in the middle of
        // the exhaustion below.
        let warm_listener = TcpListener::bind(localhost()).await.unwrap();
        let (mut warm_client, mut warm_server) = pair_on(&warm_listener).await;
        write_all(&mut warm_client, b"w".to_vec()).await;
        let (result, _) = warm_server
            .read_exact_owned(vec![0u8; 1].into_boxed_slice())
            .await;
        result.unwrap();
        let _warm = (warm_listener, warm_client, warm_server);

        // The listener under test has never accepted: io_uring arms its multishot
        // accept at the first `accept`, and the kernel takes the RLIMIT_NOFILE it
        // allocates fds under when the request is prepared, so it must be armed after
        // the limit is lowered (a multishot armed earlier keeps accepting past it).
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A client socket, created now (a socket needs an fd) and connected once fds
        // are exhausted.
        let pending =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // Exhaust fds: lower the soft limit to just above the highest fd in use, then
        // fill what is left.
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read/write only the struct we pass.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            let lowered = libc::rlimit {
                rlim_cur: highest + 16,
                rlim_max: limit.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
        }
        let mut filler = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => filler.push(file),
                Err(error) if error.raw_os_error() == Some(libc::EMFILE) => break,
                Err(error) => panic!("filling fds: {error}"),
            }
        }
        // The handshake completes in the kernel without an accept: the connection
        // waits in the backlog (or for a free fd, in a multishot accept).
        pending
            .connect(&addr.into())
            .expect("connect the pending client");
        let mut pending = std::net::TcpStream::from(pending);
        let error = match timeout(HANG, listener.accept()).await {
            Err(_) => panic!("accept with no fd free neither failed nor succeeded: it hangs"),
            Ok(Ok((stream, peer))) => panic!(
                "accept succeeded with no fd free: peer {peer}, fd {} (soft limit {})",
                stream.as_raw_fd(),
                highest + 16
            ),
            Ok(Err(error)) => error,
        };
        assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error:?}");
        // A second attempt fails the same way (the listener is not wedged by the first).
        let error2 = timeout(HANG, listener.accept())
            .await
            .expect("second accept with no fd free hangs")
            .map(drop)
            .expect_err("second accept with no fd free");
        assert_eq!(error2.raw_os_error(), Some(libc::EMFILE), "{error2:?}");

        // Free the fds: the same listener accepts the pending client...
        drop(filler);
        // SAFETY: as above.
        unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0) };
        let (mut server, peer) = timeout(HANG, listener.accept())
            .await
            .expect("accept after freeing fds hangs")
            .expect("accept after freeing fds");
        assert_eq!(
            peer,
            pending.local_addr().unwrap(),
            "the pending client is accepted"
        );
        pending.write_all(b"pending").unwrap();
        let (result, buf) = server
            .read_exact_owned(vec![0u8; 7].into_boxed_slice())
            .await;
        result.unwrap();
        assert_eq!(&buf[..], b"pending");
        // ...and new ones.
        for _ in 0..3 {
            let (mut client, mut server) = pair_on(&listener).await;
            write_all(&mut client, b"new".to_vec()).await;
            let (result, buf) = server
                .read_exact_owned(vec![0u8; 3].into_boxed_slice())
                .await;
            result.unwrap();
            assert_eq!(&buf[..], b"new");
        }
        format!("accept failed with `{error}` and recovered")
    })
}

// ---------------------------------------------------------------------------------
// Multishot accept: decided per listener; listener drop and duplicated fds
// ---------------------------------------------------------------------------------

/// A `TcpListener` over a socket that is bound but not listening.
fn not_listening() -> TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&localhost().into()).unwrap();
    TcpListener::from_std(std::net::TcpListener::from(std::os::fd::OwnedFd::from(
        socket,
    )))
    .unwrap()
}

/// Accepts `count` connections made by plain std clients on `listener` in a spawned
/// task; returns how many ring submissions that took (0 on mio, which submits none).
async fn submissions_for_accepts(listener: TcpListener, count: usize) -> u64 {
    let addr = listener.local_addr().unwrap();
    let clients: Vec<_> = (0..count)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let submitted = ringtide::spawn(async move {
        let metrics = ringtide::runtime::Handle::current().metrics();
        let before = metrics.io().submitted;
        let mut accepted = Vec::new();
        for _ in 0..count {
            accepted.push(listener.accept().await.expect("accept"));
        }
        // Counted before the accepted streams go (their closes are submissions too).
        let submitted = metrics.io().submitted - before;
        drop(accepted);
        submitted
    })
    .await
    .unwrap();
    drop(clients);
    submitted
}

net_test! {
    /// An accept on a socket that is not listening fails (`EINVAL`) on both backends,
    /// again on a retry, and changes nothing for real listeners. On io_uring they take
    /// their connections with at most one submission for many: the default listener
    /// (readiness of its epoll instance: none while connections are queued, one
    /// `POLL_ADD` once it waits) and, on a runtime that asks for it, the multishot
    /// accept (one request; the `EINVAL` must not have switched it to single accepts).
    fn accept_on_a_socket_that_is_not_listening_fails_and_leaves_multishot_accept_on(rt, multi) {
        let backend = rt.backend();
        let scenario = |rt: &Runtime, what: &str, most: u64| {
            rt.block_on(async {
                let broken = not_listening();
                for attempt in 0..2 {
                    let error = timeout(HANG, broken.accept()).await.expect("no hang").unwrap_err();
                    assert_eq!(error.raw_os_error(), Some(libc::EINVAL), "{what}, attempt {attempt}: {error:?}");
                }
                drop(broken);
                let listener = TcpListener::bind(localhost()).await.unwrap();
                let submitted = submissions_for_accepts(listener, 5).await;
                if backend == Backend::IoUring {
                    assert!(
                        submitted <= most,
                        "{what}: 5 accepts took {submitted} submissions (at most {most}): \
                         one per accept"
                    );
                }
            });
        };
        scenario(&rt, "default", 1);
        if backend == Backend::IoUring {
            let multishot = rt_common::backend_builder(backend, if multi { 4 } else { 0 })
                .uring_multishot_accept(true)
                .build()
                .unwrap();
            scenario(&multishot, "multishot accept", 1);
        }
    }
}

/// Arms `listener`'s accept (io_uring: its multishot accept) by accepting one plain
/// std client; returns that connection's two ends.
async fn arm_accept(listener: &TcpListener) -> (std::net::TcpStream, TcpStream) {
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = timeout(HANG, listener.accept())
        .await
        .expect("no hang")
        .expect("accept");
    (client, server)
}

/// Yields until every op of the current runtime has its final completion (io_uring:
/// a dropped listener's cancelled accept has left the kernel); bounded.
async fn until_no_op_in_flight() {
    let metrics = ringtide::runtime::Handle::current().metrics();
    for _ in 0..10_000 {
        if metrics.io().in_flight == 0 {
            return;
        }
        ringtide::task::yield_now().await;
    }
    panic!("ops still in flight after 10000 yields: {:?}", metrics.io());
}

/// After the ringtide listener over the same socket was dropped, `duplicate` accepts a
/// new connection.
async fn duplicate_still_accepts(duplicate: std::net::TcpListener) {
    // The dropped listener's accept is cancelled asynchronously: until that has landed,
    // its kernel request could still take a connection.
    until_no_op_in_flight().await;
    duplicate.set_nonblocking(false).unwrap();
    let addr = duplicate.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).expect("the duplicate still listens");
    let (mut server, peer) = duplicate.accept().expect("accept on the duplicate");
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"dup").unwrap();
    let mut buf = [0u8; 3];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"dup");
}

net_test! {
    /// A listener whose fd was duplicated (through `AsFd`, a std `try_clone` before
    /// `from_std`, or `TcpSocket`'s `AsFd` before `listen`) goes on listening on the
    /// duplicate after the ringtide listener is dropped, with its accept armed.
    fn a_duplicated_listener_keeps_accepting_after_the_ringtide_listener_is_dropped(rt, multi) {
        rt.block_on(async {
            // Duplicated through the listener's `AsFd`.
            let listener = TcpListener::bind(localhost()).await.unwrap();
            let armed = arm_accept(&listener).await;
            let duplicate = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned().unwrap());
            drop(listener);
            duplicate_still_accepts(duplicate).await;
            drop(armed);

            // A std listener cloned before `from_std`.
            let std_listener = std::net::TcpListener::bind(localhost()).unwrap();
            let duplicate = std_listener.try_clone().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let armed = arm_accept(&listener).await;
            drop(listener);
            duplicate_still_accepts(duplicate).await;
            drop(armed);

            // A `TcpSocket` whose fd was duplicated before it listened.
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(localhost()).unwrap();
            let duplicate = std::net::TcpListener::from(socket.as_fd().try_clone_to_owned().unwrap());
            let listener = socket.listen(16).unwrap();
            let armed = arm_accept(&listener).await;
            drop(listener);
            duplicate_still_accepts(duplicate).await;
            drop(armed);
        });
    }
}

net_test! {
    /// Dropping a listener (its fd never lent out) with its accept armed stops
    /// listening at once: the next connection attempt is refused, before the runtime
    /// has run again.
    fn dropping_an_armed_listener_refuses_connections_at_once(rt, multi) {
        rt.block_on(async {
            let listener = TcpListener::bind(localhost()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let armed = arm_accept(&listener).await;
            drop(listener);
            let error = std::net::TcpStream::connect(addr).expect_err("nobody listens any more");
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
            drop(armed);

            // The same through `TcpSocket::listen` (its fd never lent out either).
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(localhost()).unwrap();
            let listener = socket.listen(16).unwrap();
            let addr = listener.local_addr().unwrap();
            let armed = arm_accept(&listener).await;
            drop(listener);
            let error = std::net::TcpStream::connect(addr).expect_err("nobody listens any more");
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
            drop(armed);
        });
    }
}
