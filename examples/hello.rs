//! Spawns a few thousand tasks on the multi-thread runtime, joins them, and prints
//! what the workers did.
//!
//! Run with `cargo run --example hello`.

use std::time::Instant;

#[ringtide::main]
async fn main() {
    let start = Instant::now();
    let tasks: Vec<_> = (0..10_000u64)
        .map(|i| {
            ringtide::spawn(async move {
                ringtide::task::yield_now().await;
                i
            })
        })
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.expect("task failed");
    }
    let blocking =
        ringtide::task::spawn_blocking(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("blocking closure panicked");
    let metrics = ringtide::runtime::Handle::current().metrics();
    println!("sum of 0..10000 = {sum} in {:?}", start.elapsed());
    println!("blocking closure ran on thread {blocking:?}");
    for worker in 0..metrics.num_workers() {
        println!(
            "worker {worker}: {} polls, {} steals, {} parks",
            metrics.worker_poll_count(worker),
            metrics.worker_steal_count(worker),
            metrics.worker_park_count(worker)
        );
    }
}
