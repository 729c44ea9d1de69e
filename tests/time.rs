//! Timer tests, each on both backends and both flavours (`backend_test!`).

mod rt_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringtide::runtime::{Backend, Builder, Runtime};
use ringtide::time::{self, Instant};

fn runtime(backend: Backend, workers: usize) -> Runtime {
    rt_common::backend_runtime(backend, workers)
}

backend_test! {
    fn sleeps_never_fire_early(rt, multi) {
        rt.block_on(async {
            for millis in [0u64, 1, 2, 5, 20, 50] {
                let duration = Duration::from_millis(millis);
                let start = Instant::now();
                time::sleep(duration).await;
                assert!(start.elapsed() >= duration, "{millis} ms fired early");
            }
        });
    }
}

backend_test! {
    fn sleeps_in_tasks_fire_in_deadline_order(rt, multi) {
        // On one thread, timers wake their tasks in deadline order; on several
        // workers only "never early" is checked. The current-thread run pauses the
        // clock: with real time, a slow first pass over the 200 tasks (a loaded
        // machine) lets later-spawned short deadlines pass before their first poll,
        // and tasks whose deadline has passed complete in spawn order.
        let fired = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            if !multi {
                time::pause();
            }
            let start = Instant::now();
            let mut tasks = Vec::new();
            for index in 0..200u64 {
                let millis = (index * 7919) % 100;
                let fired = fired.clone();
                tasks.push(ringtide::spawn(async move {
                    let deadline = start + Duration::from_millis(millis);
                    time::sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "fired early");
                    fired.lock().unwrap().push(millis);
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), 200);
        if !multi {
            assert!(
                fired.windows(2).all(|pair| pair[0] <= pair[1]),
                "out of deadline order: {fired:?}"
            );
        }
    }
}

backend_test! {
    fn hundred_thousand_concurrent_sleeps_all_fire(rt, multi) {
        let count = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(100_000);
            for index in 0..100_000u64 {
                let count = count.clone();
                tasks.push(ringtide::spawn(async move {
                    time::sleep(Duration::from_millis(index % 50)).await;
                    count.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 100_000);
        assert_eq!(rt.metrics().timers(), 0, "every timer left the wheel");
    }
}

backend_test! {
    fn dropping_a_million_timers_empties_the_wheel(rt, multi) {
        rt.block_on(async {
            let mut sleeps: Vec<_> = (0..1_000_000u64)
                .map(|index| Box::pin(time::sleep(Duration::from_secs(10 + index % 1000))))
                .collect();
            for sleep in &mut sleeps {
                assert!(futures::poll!(sleep.as_mut()).is_pending());
            }
            assert_eq!(ringtide::runtime::Handle::current().metrics().timers(), 1_000_000);
            drop(sleeps);
            assert_eq!(ringtide::runtime::Handle::current().metrics().timers(), 0);
        });
    }
}

backend_test! {
    fn timeout_fires_or_not(rt, multi) {
        rt.block_on(async {
            let result = time::timeout(Duration::from_millis(10), std::future::pending::<()>()).await;
            assert!(result.is_err(), "a pending future times out");
            let result = time::timeout(Duration::from_secs(60), async { 7 }).await;
            assert_eq!(result.unwrap(), 7, "a ready future wins");
            let result = time::timeout(Duration::ZERO, async { 8 }).await;
            assert_eq!(result.unwrap(), 8, "polled before the timer");
            let result = time::timeout(
                Duration::from_millis(5),
                time::sleep(Duration::MAX),
            )
            .await;
            assert!(result.is_err(), "Duration::MAX is valid and never fires first");
            let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
            time::sleep_until(past).await;
        });
    }
}

backend_test! {
    fn reset_earlier_and_later(rt, multi) {
        rt.block_on(async {
            let start = Instant::now();
            let mut sleep = Box::pin(time::sleep(Duration::from_secs(3600)));
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            sleep.as_mut().reset(start + Duration::from_millis(10));
            sleep.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(10));
            assert!(sleep.is_elapsed());

            let later = Instant::now() + Duration::from_millis(30);
            let mut sleep = Box::pin(time::sleep(Duration::from_millis(1)));
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            sleep.as_mut().reset(later);
            assert_eq!(sleep.deadline(), later);
            sleep.as_mut().await;
            assert!(Instant::now() >= later, "reset later must not fire at the old deadline");
        });
    }
}

backend_test! {
    fn timers_from_a_blocking_thread(rt, multi) {
        rt.block_on(async {
            let handle = ringtide::runtime::Handle::current();
            let waited = ringtide::task::spawn_blocking(move || {
                let start = Instant::now();
                handle.block_on(time::sleep(Duration::from_millis(15)));
                start.elapsed()
            })
            .await
            .unwrap();
            assert!(waited >= Duration::from_millis(15));
        });
    }
}

backend_test! {
    fn timers_from_every_worker_and_a_blocking_thread_all_fire(rt, multi) {
        // Each worker registers in its own wheel, a blocking thread in any of them; a
        // timer moved to another thread is reset, polled and dropped through its own.
        let fired = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for index in 0..256u64 {
                let fired = fired.clone();
                tasks.push(ringtide::spawn(async move {
                    for round in 0..4 {
                        rt_common::spin_work(1000 * (index % 7));
                        time::sleep(Duration::from_millis((index + round) % 5)).await;
                    }
                    fired.fetch_add(1, Ordering::Relaxed);
                }));
            }
            let handle = ringtide::runtime::Handle::current();
            let fired_blocking = fired.clone();
            tasks.push(ringtide::task::spawn_blocking(move || {
                for millis in [1u64, 3, 0, 2] {
                    handle.block_on(time::sleep(Duration::from_millis(millis)));
                }
                fired_blocking.fetch_add(1, Ordering::Relaxed);
            }));
            // Registered on a worker, then reset and awaited on a blocking thread.
            let moved = ringtide::spawn(async {
                let mut sleep = Box::pin(time::sleep(Duration::from_secs(3600)));
                assert!(futures::poll!(sleep.as_mut()).is_pending());
                Some(sleep)
            })
            .await
            .unwrap()
            .expect("the sleep");
            let handle = ringtide::runtime::Handle::current();
            let fired_moved = fired.clone();
            tasks.push(ringtide::task::spawn_blocking(move || {
                let mut sleep = moved;
                sleep.as_mut().reset(Instant::now() + Duration::from_millis(2));
                handle.block_on(sleep);
                fired_moved.fetch_add(1, Ordering::Relaxed);
            }));
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(fired.load(Ordering::Relaxed), 258);
        assert_eq!(rt.metrics().timers(), 0, "every timer left its wheel");
    }
}

/// A waker that sets a flag (no task has to run for the wake to be seen).
struct SetFlag(Arc<AtomicBool>);

impl std::task::Wake for SetFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task registers a timer in its worker's wheel and then keeps that worker busy until
/// the timer has fired: another worker must fire it.
fn blocked_worker_timer_fires(rt: &Runtime) {
    let flag = Arc::new(AtomicBool::new(false));
    let spinner_flag = flag.clone();
    rt.block_on(rt.spawn(async move {
        // Woken by a timer (not by a spawn, which makes the scheduler look for another
        // worker): nothing but the timer driver gets the other worker going.
        time::sleep(Duration::from_millis(1)).await;
        let waker = std::task::Waker::from(Arc::new(SetFlag(spinner_flag.clone())));
        let mut cx = std::task::Context::from_waker(&waker);
        // A timer that is already due at its first poll (this thread stalled past its
        // deadline first) is never registered and proves nothing: then again, with a
        // longer one, until one is registered.
        for doubling in 0..12 {
            let mut sleep = Box::pin(time::sleep(Duration::from_millis(5) * (1 << doubling)));
            if std::future::Future::poll(sleep.as_mut(), &mut cx).is_ready() {
                continue;
            }
            // Registered in this worker's wheel; this worker blocks until it fires.
            while !spinner_flag.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            return;
        }
        panic!("every timer was already due at its first poll: the thread stalls too long");
    }))
    .unwrap();
}

backend_test! {
    fn a_timer_fires_while_the_worker_owning_its_wheel_is_blocked(rt, multi) {
        if !multi {
            // The scenario needs two workers: it builds its own multi-thread runtimes,
            // which the `multi_thread` variant of this test runs.
            eprintln!("current-thread: skipped, covered by the multi_thread variant");
            return;
        }
        let backend = rt.backend();
        drop(rt);
        for shards in [None, Some(1)] {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(2).backend(backend).enable_all();
            if let Some(shards) = shards {
                builder.timer_shards(shards);
            }
            let rt = builder.build().unwrap();
            // The other worker is idle: it keeps the timers, parked with a timeout.
            for _ in 0..20 {
                blocked_worker_timer_fires(&rt);
            }
            // The other worker is busy too (yielding): its maintenance ticks fire it.
            let stop = Arc::new(AtomicBool::new(false));
            let yielder_stop = stop.clone();
            let yielder = rt.spawn(async move {
                while !yielder_stop.load(Ordering::SeqCst) {
                    ringtide::task::yield_now().await;
                }
            });
            for _ in 0..20 {
                blocked_worker_timer_fires(&rt);
            }
            stop.store(true, Ordering::SeqCst);
            rt.block_on(yielder).unwrap();
        }
    }
}

#[test]
fn timer_outside_a_runtime_panics_with_a_hint() {
    let panic = std::panic::catch_unwind(|| {
        futures::executor::block_on(time::sleep(Duration::from_millis(1)));
    })
    .unwrap_err();
    let message = panic_message(&*panic);
    assert!(message.contains("inside a ringtide runtime"), "{message}");
}

#[test]
fn timer_without_enable_time_panics_with_a_hint() {
    let rt = Builder::new_current_thread().enable_io().build().unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { time::sleep(Duration::from_millis(1)).await });
    }))
    .unwrap_err();
    let message = panic_message(&*panic);
    assert!(message.contains("enable_time"), "{message}");
}

backend_test! {
    fn interval_missed_tick_behaviours(rt, multi) {
        // A 20 ms period and a 65 ms handler after the first tick: ticks at 20, 40 and
        // 60 ms are missed. The scheduled instants `tick` returns tell the behaviours
        // apart without depending on how late the wake-ups are.
        let period = Duration::from_millis(20);
        rt.block_on(async move {
            for behavior in [
                time::MissedTickBehavior::Burst,
                time::MissedTickBehavior::Skip,
                time::MissedTickBehavior::Delay,
            ] {
                let start = Instant::now();
                let mut interval = time::interval_at(start, period);
                interval.set_missed_tick_behavior(behavior);
                assert_eq!(interval.tick().await, start, "the first tick is at start");
                time::sleep(Duration::from_millis(65)).await; // the slow handler
                let first_late = interval.tick().await;
                assert_eq!(first_late, start + period, "{behavior:?}: the missed tick fires");
                let next = interval.tick().await;
                match behavior {
                    // Burst fires every missed tick, on the original schedule.
                    time::MissedTickBehavior::Burst => {
                        assert_eq!(next, start + period * 2);
                        assert_eq!(interval.tick().await, start + period * 3);
                    }
                    // Skip jumps to the next point of the original schedule.
                    time::MissedTickBehavior::Skip => {
                        let offset = next.duration_since(start);
                        assert!(offset >= period * 4, "{offset:?}");
                        assert_eq!(offset.as_nanos() % period.as_nanos(), 0, "{offset:?}");
                    }
                    // Delay restarts the schedule one period after the late tick.
                    time::MissedTickBehavior::Delay => {
                        assert!(next.duration_since(start) >= Duration::from_millis(65) + period);
                    }
                }
                assert_eq!(interval.period(), period);
            }
        });
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The test clock runs on current-thread runtimes; each case below runs on both
/// backends.
fn current_thread(backend: Backend) -> Runtime {
    runtime(backend, 0)
}

#[test]
fn paused_clock_cascades_through_every_level_in_order() {
    for backend in [Backend::IoUring, Backend::Mio] {
        let rt = current_thread(backend);
        let fired = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            time::pause();
            let start = Instant::now();
            // One deadline per wheel level, and beyond the top level's range.
            let deadlines = [
                Duration::from_millis(3),              // level 0
                Duration::from_millis(100),            // level 1
                Duration::from_secs(10),               // level 2
                Duration::from_secs(600),              // level 3
                Duration::from_secs(5 * 3600),         // level 4
                Duration::from_secs(20 * 86_400),      // level 5
                Duration::from_secs(4 * 365 * 86_400), // beyond the wheel
            ];
            let mut tasks = Vec::new();
            for (index, deadline) in deadlines.iter().copied().enumerate().rev() {
                let fired = fired.clone();
                tasks.push(ringtide::spawn(async move {
                    time::sleep_until(start + deadline).await;
                    assert!(
                        Instant::now() >= start + deadline,
                        "level {index} fired early"
                    );
                    fired.lock().unwrap().push(index);
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            assert!(start.elapsed() >= deadlines[6]);
        });
        assert_eq!(
            *fired.lock().unwrap(),
            vec![0, 1, 2, 3, 4, 5, 6],
            "{backend}"
        );
    }
}

#[test]
fn advance_moves_a_paused_clock() {
    for backend in [Backend::IoUring, Backend::Mio] {
        current_thread(backend).block_on(async {
            time::pause();
            let start = Instant::now();
            let mut sleep = Box::pin(time::sleep(Duration::from_secs(5)));
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            time::advance(Duration::from_secs(4)).await;
            assert_eq!(
                start.elapsed(),
                Duration::from_secs(4),
                "time stands still otherwise"
            );
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            time::advance(Duration::from_secs(1)).await;
            assert!(futures::poll!(sleep.as_mut()).is_ready());
            time::resume();
            let resumed = Instant::now();
            time::sleep(Duration::from_millis(2)).await;
            assert!(
                resumed.elapsed() >= Duration::from_millis(2),
                "real time runs again"
            );
        });
    }
}

#[test]
fn interval_slow_consumer_burst_and_skip() {
    // The seed's example on a paused clock: a 1 s period and a 3 s handler.
    for backend in [Backend::IoUring, Backend::Mio] {
        current_thread(backend).block_on(async {
            time::pause();
            let second = Duration::from_secs(1);
            for behavior in [
                time::MissedTickBehavior::Burst,
                time::MissedTickBehavior::Skip,
            ] {
                let start = Instant::now();
                let mut interval = time::interval(second);
                interval.set_missed_tick_behavior(behavior);
                assert_eq!(interval.tick().await, start);
                time::sleep(3 * second).await; // the slow handler
                let handler_done = Instant::now();
                let mut ticks = Vec::new();
                for _ in 0..3 {
                    ticks.push(interval.tick().await);
                }
                match behavior {
                    // The missed ticks at 1, 2 and 3 s fire at once, back to back.
                    time::MissedTickBehavior::Burst => {
                        assert_eq!(
                            ticks,
                            vec![start + second, start + 2 * second, start + 3 * second]
                        );
                        assert_eq!(Instant::now(), handler_done, "no waiting while catching up");
                    }
                    // One late tick, then the schedule resumes at 4 s and 5 s.
                    time::MissedTickBehavior::Skip => {
                        assert_eq!(
                            ticks,
                            vec![start + second, start + 4 * second, start + 5 * second]
                        );
                    }
                    time::MissedTickBehavior::Delay => unreachable!(),
                }
            }
        });
    }
}

#[test]
fn pause_on_a_multi_thread_runtime_panics_with_a_hint() {
    let rt = runtime(Backend::Mio, 2);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { time::pause() });
    }))
    .unwrap_err();
    assert!(
        panic_message(&*panic).contains("current-thread"),
        "{}",
        panic_message(&*panic)
    );
}
