//! `ringtide::sync`: tokio's primitives under ringtide's names, on every flavour
//! (`rt_test!`), including channels and locks under load across workers. The
//! cooperative budget is tested in `sync_coop.rs`, cancel safety in `select.rs`.

#[macro_use]
mod rt_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringtide::sync::{
    Barrier, Mutex, Notify, OnceCell, RwLock, Semaphore, TryAcquireError, broadcast, mpsc, oneshot,
    watch,
};
use ringtide::task::{JoinSet, yield_now};

rt_test! {
    /// Eight producers on as many tasks (spread over the workers) send 2 000 values each
    /// through a small bounded channel: every value arrives once, each producer's in
    /// order.
    fn mpsc_under_load_across_workers(flavor) {
        const PRODUCERS: u64 = 8;
        const EACH: u64 = 2_000;
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::channel(16);
            for producer in 0..PRODUCERS {
                let tx = tx.clone();
                ringtide::spawn(async move {
                    for i in 0..EACH {
                        tx.send((producer, i)).await.unwrap();
                        if i % 64 == 0 {
                            yield_now().await;
                        }
                    }
                });
            }
            drop(tx);
            let mut next = [0u64; PRODUCERS as usize];
            let mut count = 0;
            while let Some((producer, i)) = rx.recv().await {
                assert_eq!(next[producer as usize], i, "producer {producer} out of order");
                next[producer as usize] += 1;
                count += 1;
            }
            assert_eq!(count, PRODUCERS * EACH);
            assert!(rx.is_closed());
        });
    }
}

rt_test! {
    /// An unbounded sender works from a plain thread; `recv` returns `None` once it is
    /// gone and the values are drained; `try_recv`, `len` and the counts are tokio's.
    fn unbounded_channel_from_a_thread(flavor) {
        let rt = flavor.rt();
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert_eq!(rx.sender_strong_count(), 1);
        let thread = std::thread::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        thread.join().unwrap();
        assert_eq!(rx.len(), 100);
        assert_eq!(rx.try_recv(), Ok(0));
        let rest = rt.block_on(async move {
            let mut rest = Vec::new();
            while let Some(i) = rx.recv().await {
                rest.push(i);
            }
            rest
        });
        assert_eq!(rest, (1..100).collect::<Vec<_>>());
    }
}

rt_test! {
    /// `close` stops senders but keeps buffered values; weak senders do not keep the
    /// channel open; a receiver converts to tokio's type and back.
    fn mpsc_close_weak_senders_and_conversion(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, rx) = mpsc::channel(4);
            let weak = tx.downgrade();
            tx.send(1).await.unwrap();
            let rx: tokio::sync::mpsc::Receiver<i32> = rx.into();
            let mut rx = mpsc::Receiver::from(rx);
            rx.close();
            assert!(tx.send(2).await.is_err());
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, None);
            drop(tx);
            assert!(weak.upgrade().is_none());
            assert_eq!(rx.max_capacity(), 4);
        });
    }
}

rt_test! {
    /// A oneshot value crosses tasks; a sender dropped without sending is an error; a
    /// closed receiver makes `send` fail and give the value back.
    fn oneshot_semantics(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            ringtide::spawn(async move { tx.send(String::from("hi")).unwrap() });
            assert_eq!(rx.await.unwrap(), "hi");

            let (tx, rx) = oneshot::channel::<u8>();
            drop(tx);
            assert!(rx.await.is_err());

            let (tx, mut rx) = oneshot::channel::<u8>();
            assert!(rx.try_recv().is_err());
            rx.close();
            assert_eq!(tx.send(7), Err(7));
        });
    }
}

rt_test! {
    /// Every broadcast receiver sees every value; a receiver that falls behind the
    /// capacity is told how many it missed; `resubscribe` starts at the tail.
    fn broadcast_semantics(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, mut a) = broadcast::channel(2);
            let mut b = tx.subscribe();
            assert_eq!(tx.receiver_count(), 2);
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let mut rx = tx.subscribe();
                    ringtide::spawn(async move {
                        let mut seen = Vec::new();
                        while let Ok(value) = rx.recv().await {
                            seen.push(value);
                        }
                        seen
                    })
                })
                .collect();
            tx.send(1).unwrap();
            assert_eq!(a.recv().await.unwrap(), 1);
            assert_eq!(b.recv().await.unwrap(), 1);
            // `b` stops reading; three more values overflow its buffer of two.
            let mut c = a.resubscribe();
            for value in [2, 3, 4] {
                tx.send(value).unwrap();
                assert_eq!(a.recv().await.unwrap(), value);
                assert_eq!(c.recv().await.unwrap(), value);
            }
            assert_eq!(
                b.recv().await,
                Err(broadcast::error::RecvError::Lagged(1))
            );
            assert_eq!(b.recv().await.unwrap(), 3);
            let weak = tx.downgrade();
            drop(tx);
            assert!(weak.upgrade().is_none());
            for reader in readers {
                let seen = reader.await.unwrap();
                // A reader may lag too (it runs concurrently); what it saw is in order.
                assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
            }
            assert_eq!(b.recv().await.unwrap(), 4);
            assert_eq!(b.recv().await, Err(broadcast::error::RecvError::Closed));
        });
    }
}

rt_test! {
    /// A watch receiver sees the latest value (intermediate ones may be skipped);
    /// `wait_for` checks the current value first; the sender learns when every
    /// receiver is gone.
    fn watch_semantics(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let (tx, mut rx) = watch::channel(0u32);
            let mut waiter = rx.clone();
            let task = ringtide::spawn(async move {
                *waiter.wait_for(|value| *value >= 100).await.unwrap()
            });
            for value in 1..=100 {
                tx.send(value).unwrap();
                if value % 10 == 0 {
                    yield_now().await;
                }
            }
            assert!(task.await.unwrap() >= 100);
            rx.changed().await.unwrap();
            assert_eq!(*rx.borrow_and_update(), 100);
            assert!(!rx.has_changed().unwrap());
            let extra = tx.subscribe();
            assert_eq!(tx.receiver_count(), 2);
            drop((rx, extra));
            tx.closed().await;
            assert!(tx.is_closed());
            assert!(tx.send(1).is_err());
            tx.send_modify(|value| *value += 1);
            assert_eq!(*tx.borrow(), 101);
        });
    }
}

static COUNTER: Mutex<u64> = Mutex::const_new(0);
/// The three flavours of the test below share `COUNTER`; under `cargo test` (threads,
/// not nextest's processes) they would run at once, so they take turns.
static COUNTER_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

rt_test! {
    /// 16 tasks increment a counter 500 times each under a `Mutex` (a `static` one and an
    /// `Arc` one locked with `lock_owned`): no update is lost. `try_lock` fails while the
    /// lock is held.
    fn mutex_under_load_across_workers(flavor) {
        let _turn = COUNTER_USERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let rt = flavor.rt();
        rt.block_on(async {
            *COUNTER.lock().await = 0;
            let shared = Arc::new(Mutex::new(0u64));
            let mut set = JoinSet::new();
            for _ in 0..16 {
                let shared = shared.clone();
                set.spawn(async move {
                    for i in 0..500 {
                        *COUNTER.lock().await += 1;
                        let mut guard = shared.clone().lock_owned().await;
                        *guard += 1;
                        if i % 50 == 0 {
                            // Held across an await: still exclusive.
                            yield_now().await;
                        }
                        drop(guard);
                    }
                });
            }
            while let Some(result) = set.join_next().await {
                result.unwrap();
            }
            assert_eq!(*COUNTER.lock().await, 8_000);
            let guard = shared.lock().await;
            assert_eq!(*guard, 8_000);
            assert!(shared.try_lock().is_err());
            assert!(shared.clone().try_lock_owned().is_err());
            drop(guard);
            assert!(shared.try_lock().is_ok());
        });
    }
}

rt_test! {
    /// Readers share a `RwLock`, a writer excludes them; the owned guards work across
    /// tasks.
    fn rwlock_semantics(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let lock = Arc::new(RwLock::new(Vec::<u32>::new()));
            let mut set = JoinSet::new();
            for i in 0..8 {
                let lock = lock.clone();
                set.spawn(async move {
                    lock.clone().write_owned().await.push(i);
                    let read = lock.read_owned().await;
                    assert!(read.contains(&i));
                });
            }
            while let Some(result) = set.join_next().await {
                result.unwrap();
            }
            let read = lock.read().await;
            let also = lock.try_read().unwrap();
            assert_eq!(read.len(), 8);
            assert!(lock.try_write().is_err());
            drop((read, also));
            let values: HashSet<u32> = lock.write().await.iter().copied().collect();
            assert_eq!(values, (0..8).collect());
        });
    }
}

rt_test! {
    /// A semaphore of 3 permits admits at most 3 of 32 tasks at once (the tasks hold
    /// their owned permit across awaits, on every worker); `close` fails waiters and
    /// later acquires.
    fn semaphore_limits_concurrency(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let semaphore = Arc::new(Semaphore::new(3));
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let mut set = JoinSet::new();
            for _ in 0..32 {
                let (semaphore, inside, most) = (semaphore.clone(), inside.clone(), most.clone());
                set.spawn(async move {
                    let _permit = semaphore.acquire_owned().await.unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..3 {
                        yield_now().await;
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
            while let Some(result) = set.join_next().await {
                result.unwrap();
            }
            assert!(most.load(Ordering::SeqCst) <= 3);
            assert_eq!(semaphore.available_permits(), 3);
            let many = semaphore.acquire_many(3).await.unwrap();
            assert_eq!(semaphore.try_acquire().err(), Some(TryAcquireError::NoPermits));
            let waiter = {
                let semaphore = semaphore.clone();
                ringtide::spawn(async move { semaphore.acquire().await.is_err() })
            };
            yield_now().await;
            semaphore.close();
            assert!(waiter.await.unwrap(), "a waiter fails when the semaphore closes");
            assert_eq!(semaphore.try_acquire().err(), Some(TryAcquireError::Closed));
            drop(many);
        });
    }
}

rt_test! {
    /// `notify_one` stores a permit when nobody waits; `notify_waiters` wakes every
    /// registered waiter (including an owned one).
    fn notify_semantics(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let notify = Arc::new(Notify::new());
            notify.notify_one();
            notify.notified().await;

            let registered = Arc::new(AtomicUsize::new(0));
            let waiters: Vec<_> = (0..4)
                .map(|_| {
                    let (notify, registered) = (notify.clone(), registered.clone());
                    ringtide::spawn(async move {
                        let notified = notify.notified_owned();
                        let mut notified = std::pin::pin!(notified);
                        notified.as_mut().enable();
                        registered.fetch_add(1, Ordering::SeqCst);
                        notified.await;
                    })
                })
                .collect();
            while registered.load(Ordering::SeqCst) < 4 {
                yield_now().await;
            }
            notify.notify_waiters();
            for waiter in waiters {
                waiter.await.unwrap();
            }
        });
    }
}

rt_test! {
    /// A barrier of 6 releases the 6 tasks together, with exactly one leader; a
    /// `OnceCell` initialised by 6 racing tasks runs its initialiser once.
    fn barrier_and_once_cell(flavor) {
        let rt = flavor.rt();
        rt.block_on(async {
            let barrier = Arc::new(Barrier::new(6));
            let cell = Arc::new(OnceCell::new());
            let inits = Arc::new(AtomicUsize::new(0));
            let mut set = JoinSet::new();
            for i in 0..6u32 {
                let (barrier, cell, inits) = (barrier.clone(), cell.clone(), inits.clone());
                set.spawn(async move {
                    let leader = barrier.wait().await.is_leader();
                    let value = *cell
                        .get_or_init(|| async {
                            inits.fetch_add(1, Ordering::SeqCst);
                            ringtide::time::sleep(Duration::from_millis(1)).await;
                            i
                        })
                        .await;
                    (leader, value)
                });
            }
            let mut leaders = 0;
            let mut values = HashSet::new();
            while let Some(result) = set.join_next().await {
                let (leader, value) = result.unwrap();
                leaders += usize::from(leader);
                values.insert(value);
            }
            assert_eq!(leaders, 1);
            assert_eq!(values.len(), 1, "every task saw the same value");
            assert_eq!(inits.load(Ordering::SeqCst), 1);
            assert!(cell.set(99).is_err());
        });
    }
}
