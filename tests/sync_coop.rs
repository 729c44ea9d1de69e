//! The cooperative budget applies to `ringtide::sync`: a task looping on a primitive
//! that is always ready (a channel that is never empty, an uncontended lock, a stored
//! permit) must still yield, so that another task on its runtime runs, timers fire and
//! I/O completes.
//!
//! Each test spawns a *spinner* task; from inside it (so the other work is queued
//! behind the spinner on its worker) it spawns the *other* work, then loops until that
//! work has run, or gives up after [`SPIN_LIMIT`] and fails: a regression fails in
//! seconds instead of hanging. On a single worker the other work cannot run unless the
//! spinner yields.

#[macro_use]
mod rt_common;

use std::future::{Future, poll_fn};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ringtide::net::UdpSocket;
use ringtide::runtime::Runtime;
use ringtide::sync::{Mutex, Notify, RwLock, Semaphore, broadcast, mpsc, oneshot, watch};
use ringtide::task;

/// How long a spinner loops waiting for the other work before the test fails.
const SPIN_LIMIT: Duration = Duration::from_secs(10);

/// ringtide's budget per scheduling of a task (as `task::coop::BUDGET`).
const BUDGET: u64 = 128;

/// What runs beside the spinner and must get its turn.
#[derive(Clone, Copy, Debug)]
enum Other {
    /// A task that sets the flag at its first poll.
    Task,
    /// A task that sleeps 5 ms first: the timer must fire.
    Timer,
    /// A task that sends itself a UDP datagram and receives it first: I/O must complete.
    Io,
}

impl Other {
    async fn run(self, ran: Arc<AtomicBool>) {
        match self {
            Other::Task => {}
            Other::Timer => ringtide::time::sleep(Duration::from_millis(5)).await,
            Other::Io => {
                let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await
                    .unwrap();
                let address = socket.local_addr().unwrap();
                socket
                    .send_to_owned(b"ping".to_vec(), address)
                    .await
                    .0
                    .unwrap();
                let (received, buf) = socket.recv_from_owned(Vec::with_capacity(16)).await;
                assert_eq!(received.unwrap().0, 4);
                assert_eq!(buf, b"ping");
            }
        }
        ran.store(true, Ordering::SeqCst);
    }
}

/// The spinner's view of the other work: loop while [`spinning`](Probe::spinning).
#[derive(Clone)]
struct Probe {
    ran: Arc<AtomicBool>,
    iterations: Arc<AtomicU64>,
    deadline: Instant,
}

impl Probe {
    /// True until the other work has run (or the time is up); counts the iterations.
    fn spinning(&self) -> bool {
        self.iterations.fetch_add(1, Ordering::Relaxed);
        !self.ran.load(Ordering::SeqCst) && Instant::now() < self.deadline
    }
}

/// Runs `spin` (a loop over [`Probe::spinning`]) in a task with `other` beside it, and
/// asserts the other work ran while the loop spun. Returns the loop's iterations.
fn spin_beside<S, F>(rt: &Runtime, other: Other, spin: S) -> u64
where
    S: FnOnce(Probe) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let ran = Arc::new(AtomicBool::new(false));
    let probe = Probe {
        ran: ran.clone(),
        iterations: Arc::new(AtomicU64::new(0)),
        deadline: Instant::now() + SPIN_LIMIT,
    };
    let iterations = probe.iterations.clone();
    rt.block_on(async move {
        let spinner = ringtide::spawn(async move {
            let other_task = ringtide::spawn(other.run(ran.clone()));
            spin(probe).await;
            let ran_while_spinning = ran.load(Ordering::SeqCst);
            other_task.await.unwrap();
            ran_while_spinning
        });
        assert!(
            spinner.await.unwrap(),
            "{other:?} never ran while the spinner looped for {SPIN_LIMIT:?}: the loop \
             does not yield"
        );
    });
    iterations.load(Ordering::Relaxed)
}

/// [`spin_beside`] with a plain task, which on a single worker must run within the
/// spinner's first budget or two.
fn spin_beside_task<S, F>(flavor: rt_common::Flavor, spin: S)
where
    S: FnOnce(Probe) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let iterations = spin_beside(&flavor.rt(), Other::Task, spin);
    if flavor.single_worker() {
        assert!(
            iterations <= 4 * BUDGET,
            "the other task ran only after {iterations} iterations"
        );
    }
}

rt_test! {
    /// The brief's loop: `while let Some(x) = rx.recv().await` on a channel that is
    /// always full (every value received is sent again).
    fn mpsc_recv_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let (tx, mut rx) = mpsc::channel(4);
            for i in 0..4 {
                tx.send(i).await.unwrap();
            }
            while let Some(x) = rx.recv().await {
                if !probe.spinning() {
                    break;
                }
                tx.send(x).await.unwrap();
            }
        });
    }
}

rt_test! {
    fn mpsc_recv_lets_a_timer_fire(flavor) {
        spin_beside(&flavor.rt(), Other::Timer, |probe| async move {
            let (tx, mut rx) = mpsc::channel(4);
            tx.send(0u64).await.unwrap();
            while let Some(x) = rx.recv().await {
                if !probe.spinning() {
                    break;
                }
                tx.send(x + 1).await.unwrap();
            }
        });
    }
}

backend_test! {
    fn mpsc_recv_lets_io_complete(rt, multi) {
        spin_beside(&rt, Other::Io, |probe| async move {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send(0u64).unwrap();
            while let Some(x) = rx.recv().await {
                if !probe.spinning() {
                    break;
                }
                tx.send(x + 1).unwrap();
            }
        });
    }
}

rt_test! {
    fn unbounded_recv_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tx.send(0u64).unwrap();
            while let Some(x) = rx.recv().await {
                if !probe.spinning() {
                    break;
                }
                tx.send(x + 1).unwrap();
            }
        });
    }
}

rt_test! {
    fn poll_recv_and_recv_many_yield_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let (tx, mut rx) = mpsc::channel(8);
            let (utx, mut urx) = mpsc::unbounded_channel();
            tx.send(0u64).await.unwrap();
            utx.send(0u64).unwrap();
            let mut batch = Vec::new();
            while probe.spinning() {
                let x = poll_fn(|cx| rx.poll_recv(cx)).await.unwrap();
                tx.send(x).await.unwrap();
                batch.clear();
                assert_eq!(rx.recv_many(&mut batch, 8).await, 1);
                tx.send(batch[0]).await.unwrap();
                batch.clear();
                assert_eq!(poll_fn(|cx| urx.poll_recv_many(cx, &mut batch, 8)).await, 1);
                utx.send(batch[0]).unwrap();
            }
        });
    }
}

rt_test! {
    fn broadcast_recv_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let (tx, mut rx) = broadcast::channel(4);
            tx.send(0u64).unwrap();
            while let Ok(x) = rx.recv().await {
                if !probe.spinning() {
                    break;
                }
                tx.send(x + 1).unwrap();
            }
        });
    }
}

rt_test! {
    fn watch_changed_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let (tx, mut rx) = watch::channel(0u64);
            let mut i = 0;
            while probe.spinning() {
                i += 1;
                tx.send(i).unwrap();
                rx.changed().await.unwrap();
                assert_eq!(*rx.borrow_and_update(), i);
            }
        });
    }
}

rt_test! {
    fn mutex_lock_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let mutex = Mutex::new(0u64);
            while probe.spinning() {
                *mutex.lock().await += 1;
            }
        });
    }
}

rt_test! {
    fn mutex_lock_owned_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let mutex = Arc::new(Mutex::new(0u64));
            while probe.spinning() {
                *mutex.clone().lock_owned().await += 1;
            }
        });
    }
}

rt_test! {
    fn rwlock_read_and_write_yield_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let lock = RwLock::new(0u64);
            while probe.spinning() {
                let value = *lock.read().await;
                *lock.write().await = value + 1;
            }
        });
    }
}

rt_test! {
    fn semaphore_acquire_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let semaphore = Arc::new(Semaphore::new(1));
            while probe.spinning() {
                drop(semaphore.acquire().await.unwrap());
                drop(semaphore.clone().acquire_owned().await.unwrap());
            }
        });
    }
}

rt_test! {
    fn notified_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            let notify = Notify::new();
            while probe.spinning() {
                notify.notify_one();
                notify.notified().await;
            }
        });
    }
}

rt_test! {
    fn oneshot_receiver_yields_to_a_task(flavor) {
        spin_beside_task(flavor, |probe| async move {
            while probe.spinning() {
                let (tx, rx) = oneshot::channel();
                tx.send(1u8).unwrap();
                assert_eq!(rx.await, Ok(1));
            }
        });
    }
}

rt_test! {
    /// The control: the same loop under `task::unconstrained` never yields, so on a
    /// single worker the other task cannot run during it. Shows that the tests above
    /// detect a loop that does not yield.
    fn an_unconstrained_loop_does_not_yield(flavor) {
        if !flavor.single_worker() {
            return;
        }
        let rt = flavor.rt();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let saw_other = rt.block_on(async move {
            ringtide::spawn(task::unconstrained(async move {
                ringtide::spawn(async move { flag.store(true, Ordering::SeqCst) });
                let (tx, mut rx) = mpsc::channel(4);
                tx.send(0u64).await.unwrap();
                for _ in 0..(20 * BUDGET) {
                    let x = rx.recv().await.unwrap();
                    tx.send(x + 1).await.unwrap();
                }
                ran.load(Ordering::SeqCst)
            }))
            .await
            .unwrap()
        });
        assert!(!saw_other, "an unconstrained task was made to yield");
    }
}
