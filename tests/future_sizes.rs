//! Upper bounds on the sizes of the owned-buffer I/O futures of a `TcpStream` (issue 17,
//! goal 2: idle connections). A task stores the largest future it awaits for as long as
//! it waits, so a server with 10 000 idle connections pays each byte here 10 000 times;
//! these bounds make a regression (a rare path no longer boxed, a datagram branch back
//! in a stream read, a layer of `async fn` around `op::run`) fail. Each test runs on
//! BOTH backends and both flavours through `backend_test!`, measures the futures, then
//! awaits the same futures to show they are the ones that do the I/O.
//!
//! The sizes are of types, the same on either backend at run time; they differ by
//! Cargo features (io_uring compiled in or not), and the bounds hold for each. Measured
//! with `--all-features` (bytes): `read_pooled` 184 (520 before), `read_owned` 144
//! (2000), `write_owned` 120 (704), `write_all_owned` 136 (928), `TcpStream` 16 (264).

mod rt_common;

use std::mem::{size_of, size_of_val};

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned, BufPool};
use ringtide::net::{TcpListener, TcpStream};

const READ_POOLED: usize = 200;
const READ_OWNED: usize = 160;
const WRITE_OWNED: usize = 128;
const WRITE_ALL_OWNED: usize = 160;
const STREAM: usize = 16;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
    (client.expect("connect"), accepted.expect("accept").0)
}

fn at_most(what: &str, size: usize, bound: usize) {
    println!("{what}: {size} bytes (bound {bound})");
    assert!(
        size <= bound,
        "{what}'s future is {size} bytes, above its bound of {bound}: a task waiting in it \
         stores all of them (see this file's doc)"
    );
}

backend_test! {
    fn stream_futures_stay_small(rt, multi) {
        rt.block_on(async {
            at_most("TcpStream", size_of::<TcpStream>(), STREAM);
            let (mut client, mut server) = tcp_pair().await;
            let pool = BufPool::new(4, 4096).expect("pool");

            let write_all = client.write_all_owned(b"ring".to_vec());
            at_most("write_all_owned(Vec<u8>)", size_of_val(&write_all), WRITE_ALL_OWNED);
            write_all.await.0.expect("write_all_owned");

            let pooled = server.read_pooled(&pool);
            at_most("read_pooled", size_of_val(&pooled), READ_POOLED);
            let mut got = pooled.await.expect("read_pooled").to_vec();

            let write = client.write_owned(b"tide".to_vec());
            at_most("write_owned(Vec<u8>)", size_of_val(&write), WRITE_OWNED);
            let (written, _) = write.await;
            assert_eq!(written.expect("write_owned"), 4, "a 4-byte loopback write is whole");

            while got.len() < 8 {
                let read = server.read_owned(Vec::with_capacity(8 - got.len()));
                at_most("read_owned(Vec<u8>)", size_of_val(&read), READ_OWNED);
                let (count, buf) = read.await;
                assert!(count.expect("read_owned") > 0, "end of stream before the bytes");
                got.extend_from_slice(&buf);
            }
            assert_eq!(got, b"ringtide");
        });
    }
}
