//! Runtime threads: names, start/stop hooks, stack size, keep-alive, builder checks.

#[macro_use]
mod rt_common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringtide::runtime::{Builder, Handle};
use ringtide::task;

fn current_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

rt_test! {
    /// `thread_name`: workers and blocking threads carry it. Current-thread tasks run on
    /// the thread that calls `block_on`.
    fn thread_name(flavor) {
        let rt = flavor.builder().thread_name("x-worker").build().unwrap();
        let caller = current_name();
        let (in_task, in_blocking) = rt.block_on(rt.spawn(async {
            let in_task = current_name();
            let in_blocking = task::spawn_blocking(current_name).await.unwrap();
            (in_task, in_blocking)
        })).unwrap();
        assert_eq!(in_blocking.as_deref(), Some("x-worker"));
        if flavor.is_multi_thread() {
            assert_eq!(in_task.as_deref(), Some("x-worker"));
        } else {
            assert_eq!(in_task, caller);
        }
    }
}

rt_test! {
    /// `thread_name_fn` names every new thread (called once per thread).
    fn thread_name_fn(flavor) {
        let counter = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rt = {
            let counter = counter.clone();
            let seen = seen.clone();
            flavor
                .builder()
                .thread_name_fn(move || format!("pool-{}", counter.fetch_add(1, Ordering::SeqCst)))
                .on_thread_start(move || seen.lock().unwrap().push(current_name()))
                .build()
                .unwrap()
        };
        rt.block_on(async {
            let task_name = ringtide::spawn(async { current_name() }).await.unwrap();
            let blocking_name = task::spawn_blocking(current_name).await.unwrap().unwrap();
            assert!(blocking_name.starts_with("pool-"), "{blocking_name}");
            if flavor.is_multi_thread() {
                let task_name = task_name.unwrap();
                assert!(task_name.starts_with("pool-"), "{task_name}");
            }
        });
        drop(rt);
        let seen = seen.lock().unwrap();
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "two threads got the same name: {seen:?}");
        assert_eq!(seen.len(), counter.load(Ordering::SeqCst));
        assert!(seen.iter().all(|n| n.as_deref().is_some_and(|n| n.starts_with("pool-"))));
    }
}

rt_test! {
    /// `on_thread_start` / `on_thread_stop` run once per runtime thread, inside the
    /// runtime context; after the runtime is dropped every started thread has stopped.
    fn thread_start_stop_hooks(flavor) {
        let started = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicUsize::new(0));
        let without_runtime = Arc::new(AtomicUsize::new(0));
        let rt = {
            let (started, stopped) = (started.clone(), stopped.clone());
            let (w1, w2) = (without_runtime.clone(), without_runtime.clone());
            flavor
                .builder()
                .on_thread_start(move || {
                    if Handle::try_current().is_err() {
                        w1.fetch_add(1, Ordering::SeqCst);
                    }
                    started.fetch_add(1, Ordering::SeqCst);
                })
                .on_thread_stop(move || {
                    if Handle::try_current().is_err() {
                        w2.fetch_add(1, Ordering::SeqCst);
                    }
                    stopped.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap()
        };
        rt.block_on(async { task::spawn_blocking(|| ()).await.unwrap() });
        let workers = if flavor.is_multi_thread() { flavor.workers() } else { 0 };
        drop(rt);
        assert_eq!(started.load(Ordering::SeqCst), workers + 1, "one start per worker and blocking thread");
        assert_eq!(stopped.load(Ordering::SeqCst), started.load(Ordering::SeqCst));
        assert_eq!(without_runtime.load(Ordering::SeqCst), 0, "a hook ran outside the runtime context");
    }
}

/// Uses about `depth * 16 KiB` of stack.
fn deep(depth: usize) -> u64 {
    let frame = std::hint::black_box([depth as u8; 16 * 1024]);
    if depth == 0 {
        return frame[0] as u64;
    }
    deep(depth - 1) + std::hint::black_box(frame[frame.len() - 1]) as u64
}

rt_test! {
    /// `thread_stack_size` is applied: with 64 MiB, runtime threads can use ~8 MiB of
    /// stack (far beyond the 2 MiB default, which would overflow and abort).
    fn thread_stack_size(flavor) {
        let rt = flavor.builder().thread_stack_size(64 * 1024 * 1024).build().unwrap();
        let depth = 512;
        let expected = (1..=depth as u64).map(|d| (d as u8) as u64).sum::<u64>();
        let in_blocking = rt.block_on(async move { task::spawn_blocking(move || deep(depth)).await.unwrap() });
        assert_eq!(in_blocking, expected);
        if flavor.is_multi_thread() {
            let in_task = rt.block_on(rt.spawn(async move { deep(depth) })).unwrap();
            assert_eq!(in_task, expected);
        }
    }
}

rt_test! {
    /// `thread_keep_alive`: an idle blocking thread exits after it (its stop hook runs
    /// while the runtime is still alive), and a new one starts for the next closure.
    fn thread_keep_alive(flavor) {
        let stopped = Arc::new(AtomicUsize::new(0));
        let rt = {
            let stopped = stopped.clone();
            flavor
                .builder()
                .thread_keep_alive(Duration::from_millis(1))
                .on_thread_stop(move || {
                    stopped.fetch_add(1, Ordering::SeqCst);
                })
                .build()
                .unwrap()
        };
        rt.block_on(async { task::spawn_blocking(|| ()).await.unwrap() });
        let deadline = Instant::now() + Duration::from_secs(20);
        while rt.metrics().num_blocking_threads() != 0 {
            assert!(Instant::now() < deadline, "the idle blocking thread never exited");
            std::thread::yield_now();
        }
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        assert_eq!(rt.block_on(async { task::spawn_blocking(|| 4).await.unwrap() }), 4);
        assert_eq!(rt.metrics().num_workers(), flavor.workers());
    }
}

timed_test! {
    /// Invalid builder arguments panic; `Debug` works.
    fn builder_rejects_zero() {
        let message = rt_common::expect_panic(|| {
            Builder::new_multi_thread().worker_threads(0);
        });
        assert!(message.contains("worker_threads"), "{message}");
        let message = rt_common::expect_panic(|| {
            Builder::new_current_thread().max_blocking_threads(0);
        });
        assert!(message.contains("max_blocking_threads"), "{message}");
        rt_common::expect_panic(|| {
            Builder::new_multi_thread().global_queue_interval(0);
        });
        rt_common::expect_panic(|| {
            Builder::new_multi_thread().event_interval(0);
        });
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(3).global_queue_interval(7).event_interval(5);
        assert!(format!("{builder:?}").contains("worker_threads"));
        let rt = builder.build().unwrap();
        assert_eq!(rt.metrics().num_workers(), 3);
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    }
}
