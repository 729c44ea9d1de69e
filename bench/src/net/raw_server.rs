//! The raw io_uring echo loop: no runtime, no tasks, no wakers. One thread per listener,
//! each with its own ring (`SINGLE_ISSUER | DEFER_TASKRUN` where the kernel has them,
//! as ringtide's rings): an ACCEPT re-armed after each connection, then per connection
//! RECV → SEND (again for a short send) → RECV, submitted in one `io_uring_enter` per
//! loop turn. This is what the machine can do; runtimes are measured against it.
#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;

use io_uring::{IoUring, opcode, squeue, types};

use super::{ECHOED_BYTES, SERVER_BUFFER};

/// The low bits of `user_data`: what completed. The rest is the connection slot.
const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;
const KIND_BITS: u32 = 2;

struct Connection {
    socket: OwnedFd,
    buf: Box<[u8]>,
    /// Bytes received and being echoed, and how many of them are sent.
    len: usize,
    sent: usize,
}

/// Starts one ring thread per listener; returns once every ring is set up.
pub fn start(listeners: Vec<TcpListener>) -> std::io::Result<(Box<dyn Send>, String)> {
    let threads = listeners.len();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    for listener in listeners {
        let started_tx = started_tx.clone();
        std::thread::spawn(move || match ring() {
            Ok((ring, flags)) => {
                let _ = started_tx.send(Ok(flags));
                if let Err(error) = serve(ring, listener) {
                    eprintln!("raw io_uring server: {error}");
                }
            }
            Err(error) => {
                let _ = started_tx.send(Err(error));
            }
        });
    }
    drop(started_tx);
    let mut flags = "";
    for _ in 0..threads {
        match started_rx.recv() {
            Ok(Ok(used)) => flags = used,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(std::io::Error::other("a ring thread exited early")),
        }
    }
    Ok((Box::new(()), format!("{threads} ring thread(s), {flags}")))
}

/// A ring with the flags ringtide tries first, falling back as it does.
fn ring() -> std::io::Result<(IoUring, &'static str)> {
    const ENTRIES: u32 = 4096;
    if let Ok(ring) = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(ENTRIES)
    {
        return Ok((ring, "SINGLE_ISSUER|DEFER_TASKRUN"));
    }
    if let Ok(ring) = IoUring::builder().setup_coop_taskrun().build(ENTRIES) {
        return Ok((ring, "COOP_TASKRUN"));
    }
    Ok((IoUring::new(ENTRIES)?, "no setup flags"))
}

/// Queues `entry`, submitting first when the submission queue is full.
fn push(ring: &mut IoUring, entry: &squeue::Entry) -> std::io::Result<()> {
    loop {
        // SAFETY: every buffer an entry points to is owned by a `Connection` that stays in
        // its slot (and is not touched) until the entry's completion is reaped.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

fn user_data(slot: usize, kind: u64) -> u64 {
    ((slot as u64) << KIND_BITS) | kind
}

fn recv(connection: &mut Connection, slot: usize) -> squeue::Entry {
    opcode::Recv::new(
        types::Fd(connection.socket.as_raw_fd()),
        connection.buf.as_mut_ptr(),
        connection.buf.len() as u32,
    )
    .build()
    .user_data(user_data(slot, RECV))
}

fn send(connection: &Connection, slot: usize) -> squeue::Entry {
    let pending = &connection.buf[connection.sent..connection.len];
    opcode::Send::new(
        types::Fd(connection.socket.as_raw_fd()),
        pending.as_ptr(),
        pending.len() as u32,
    )
    .flags(libc::MSG_NOSIGNAL)
    .build()
    .user_data(user_data(slot, SEND))
}

fn accept(listener: RawFd) -> squeue::Entry {
    opcode::Accept::new(
        types::Fd(listener),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    )
    .flags(libc::SOCK_CLOEXEC)
    .build()
    .user_data(ACCEPT)
}

fn set_nodelay(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: `fd` is an open socket; `on` is a valid `c_int` of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn serve(mut ring: IoUring, listener: TcpListener) -> std::io::Result<()> {
    let listener_fd = listener.as_raw_fd();
    let mut connections: Vec<Option<Connection>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut completions: Vec<(u64, i32)> = Vec::new();
    push(&mut ring, &accept(listener_fd))?;
    loop {
        ring.submit_and_wait(1)?;
        completions.extend(ring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
        for (data, result) in completions.drain(..) {
            let slot = (data >> KIND_BITS) as usize;
            match data & ((1 << KIND_BITS) - 1) {
                ACCEPT => {
                    if result >= 0 {
                        // SAFETY: a successful ACCEPT returns a new fd that nothing else owns.
                        let socket = unsafe { OwnedFd::from_raw_fd(result) };
                        set_nodelay(socket.as_raw_fd());
                        let mut connection = Connection {
                            socket,
                            buf: vec![0; SERVER_BUFFER].into_boxed_slice(),
                            len: 0,
                            sent: 0,
                        };
                        let slot = free.pop().unwrap_or_else(|| {
                            connections.push(None);
                            connections.len() - 1
                        });
                        let entry = recv(&mut connection, slot);
                        connections[slot] = Some(connection);
                        push(&mut ring, &entry)?;
                    }
                    push(&mut ring, &accept(listener_fd))?;
                }
                RECV => {
                    let connection = connections[slot].as_mut().expect("a live slot");
                    if result <= 0 {
                        connections[slot] = None;
                        free.push(slot);
                        continue;
                    }
                    connection.len = result as usize;
                    connection.sent = 0;
                    let entry = send(connection, slot);
                    push(&mut ring, &entry)?;
                }
                _ => {
                    let connection = connections[slot].as_mut().expect("a live slot");
                    if result < 0 {
                        connections[slot] = None;
                        free.push(slot);
                        continue;
                    }
                    connection.sent += result as usize;
                    let entry = if connection.sent < connection.len {
                        send(connection, slot)
                    } else {
                        ECHOED_BYTES.fetch_add(connection.len as u64, Ordering::Relaxed);
                        recv(connection, slot)
                    };
                    push(&mut ring, &entry)?;
                }
            }
        }
    }
}
