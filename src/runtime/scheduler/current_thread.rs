//! The current-thread scheduler: all tasks run on the thread inside `block_on`.
//!
//! The [`Core`] (the local run queue and the parker) is taken by the thread that
//! drives the runtime. Only one thread drives at a time; another thread calling
//! `block_on` meanwhile polls just its own future and waits for the core to be
//! released, then takes it over (so tasks keep running as long as someone blocks on
//! the runtime). Between `block_on` calls tasks do not run.
//!
//! # One tick
//!
//! The driving thread polls its `block_on` future whenever that future was woken, then
//! runs up to `event_interval` queued tasks (taking the remote queue first every
//! `global_queue_interval` ticks), then polls the driver without blocking. With no
//! task queued and the future not woken, it parks.
//!
//! # Shutdown
//!
//! `shutdown` closes the task registry, takes the core (waiting is not needed: the
//! runtime is being dropped, so no `block_on` can be running on it), drops every queued
//! task, and aborts the idle ones, whose wake-ups find the scheduler shut down and drop
//! them on the spot.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use crate::task::harness::Runnable;
use crossbeam_deque::Injector;

use crate::blocking::Spawner;
use crate::driver::park::{Park, Unpark};
use crate::driver::{self, CoreDriver};
use crate::loom::{Mutex, lock};
use crate::runtime::blocking_on;
use crate::runtime::context;
use crate::runtime::defer;
use crate::runtime::metrics::WorkerMetrics;
use crate::runtime::scheduler::multi_thread::pop_inject;
use crate::runtime::scheduler::{self, Common, Config};
use crate::task::owned::OwnedTasks;
use crate::task::{JoinHandle, coop, harness};

/// The current-thread scheduler's shared state.
#[derive(Debug)]
pub(crate) struct Handle {
    remote: Injector<Runnable>,
    unpark: driver::Unpark,
    core: Mutex<Option<Box<Core>>>,
    /// Threads in `block_on` waiting for the core.
    core_waiters: Mutex<Vec<crate::driver::park::Unparker>>,
    pub(crate) owned: Arc<OwnedTasks>,
    shutdown: AtomicBool,
    config: Config,
    pub(crate) metrics: WorkerMetrics,
    pub(crate) blocking: Spawner,
    pub(crate) driver: crate::runtime::driver::Handle,
    pub(crate) common: Common,
}

#[derive(Debug)]
struct Core {
    local: VecDeque<Runnable>,
    tick: u32,
    park: Option<CoreDriver>,
    polls: u64,
    parks: u64,
}

struct CoreContext {
    handle: Arc<Handle>,
    core: RefCell<Option<Box<Core>>>,
}

thread_local! {
    static CURRENT: Cell<*const CoreContext> = const { Cell::new(ptr::null()) };
}

fn with_current<R>(f: impl FnOnce(Option<&CoreContext>) -> R) -> R {
    let current = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    // SAFETY: non-null only while `CoreGuard::block_on` is on the stack; it owns the
    // `CoreContext` and restores the previous pointer before returning.
    f(unsafe { current.as_ref() })
}

struct MainWaker {
    woken: AtomicBool,
    unpark: driver::Unpark,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unpark.unpark();
    }
}

impl Handle {
    pub(crate) fn new(
        park: CoreDriver,
        config: Config,
        blocking: Spawner,
        driver: crate::runtime::driver::Handle,
        common: Common,
    ) -> Handle {
        Handle {
            remote: Injector::new(),
            unpark: park.unpark_handle(),
            core: Mutex::new(Some(Box::new(Core {
                local: VecDeque::with_capacity(64),
                tick: 0,
                park: Some(park),
                polls: 0,
                parks: 0,
            }))),
            core_waiters: Mutex::new(Vec::new()),
            owned: Arc::new(OwnedTasks::new()),
            shutdown: AtomicBool::new(false),
            config,
            metrics: WorkerMetrics::default(),
            blocking,
            driver,
            common,
        }
    }

    pub(crate) fn spawn<F>(this: &Arc<Handle>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scheduler = this.clone();
        let hooks = &this.common.hooks;
        let (runnable, join) = harness::spawn(
            future,
            Some(&this.owned),
            hooks.terminate(),
            move |task, _| scheduler.schedule(task),
        );
        if let Some(runnable) = runnable {
            hooks.spawned(join.id());
            this.schedule(runnable);
        }
        join
    }

    fn schedule(self: &Arc<Self>, task: Runnable) {
        let task = with_current(|cx| {
            let Some(cx) = cx.filter(|cx| Arc::ptr_eq(&cx.handle, self)) else {
                return Some(task);
            };
            let Ok(mut core) = cx.core.try_borrow_mut() else {
                return Some(task);
            };
            match core.as_mut() {
                Some(core) => {
                    core.local.push_back(task);
                    None
                }
                None => Some(task),
            }
        });
        if let Some(task) = task {
            if self.is_shutdown() {
                harness::cancel(task);
                return;
            }
            self.remote.push(task);
            if self.is_shutdown() {
                self.drain_remote();
                return;
            }
            self.unpark.unpark();
        }
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn drain_remote(&self) {
        while let Some(task) = pop_inject(&self.remote) {
            harness::cancel(task);
        }
    }

    pub(crate) fn block_on<F: Future>(this: &Arc<Handle>, future: F) -> F::Output {
        let handle = scheduler::Handle::CurrentThread(this.clone());
        let _driving = context::enter_driving(&handle, context::BlockInPlace::CurrentThread);
        let mut future = pin!(future);
        blocking_on::with_parker(|parker| {
            loop {
                // Bind first: a guard in the `if let` condition would live through the
                // block, and `CoreGuard::drop` locks `core` again.
                let core = lock(&this.core).take();
                if let Some(core) = core {
                    return CoreGuard::new(this.clone(), core).block_on(future.as_mut());
                }
                // Another thread drives the scheduler: poll our future alone, and wait
                // to be woken by it or by the core's release.
                lock(&this.core_waiters).push(parker.unpark_handle());
                if lock(&this.core).is_some() {
                    continue;
                }
                let waker = blocking_on::waker_for(parker);
                let mut cx = Context::from_waker(&waker);
                if let Poll::Ready(output) = coop::budget(|| future.as_mut().poll(&mut cx)) {
                    return output;
                }
                parker.park();
            }
        })
    }

    /// Stops the scheduler and cancels every task; see the module docs.
    pub(crate) fn shutdown(&self) {
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        self.owned.close();
        let core = lock(&self.core).take();
        if let Some(mut core) = core {
            while let Some(task) = core.local.pop_front() {
                harness::cancel(task);
            }
            self.drain_remote();
            self.owned.abort_all();
            self.drain_remote();
            self.owned.clear();
            *lock(&self.core) = Some(core);
        } else {
            // Still driven by a `block_on` on another thread (through a `Handle`): that
            // thread drops the tasks when it sees the flag.
            self.owned.abort_all();
            self.unpark.unpark();
        }
    }

    /// Tasks in the local and remote queues.
    pub(crate) fn queue_depth(&self) -> usize {
        self.remote.len()
    }
}

/// Holds the core while a thread drives the scheduler; gives it back on drop (also
/// when the `block_on` future panics).
struct CoreGuard {
    context: CoreContext,
}

impl CoreGuard {
    fn new(handle: Arc<Handle>, mut core: Box<Core>) -> CoreGuard {
        if let Some(park) = core.park.as_mut() {
            driver::Driver::attach(park);
        }
        CoreGuard {
            context: CoreContext {
                handle,
                core: RefCell::new(Some(core)),
            },
        }
    }

    fn block_on<F: Future>(self, mut future: std::pin::Pin<&mut F>) -> F::Output {
        let previous = CURRENT.with(|c| c.replace(&self.context));
        struct Reset(*const CoreContext);
        impl Drop for Reset {
            fn drop(&mut self) {
                let _ = CURRENT.try_with(|c| c.set(self.0));
            }
        }
        let _reset = Reset(previous);
        // Declared after `_reset`, so dropped first: wake-ups still deferred when
        // `block_on` returns land in the core's queue, for the next `block_on`.
        let _defer = defer::enable();

        let cx = &self.context;
        let handle = &*cx.handle;
        let main_waker = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            unpark: handle.unpark.clone(),
        });
        let waker = Waker::from(main_waker.clone());
        let mut task_cx = Context::from_waker(&waker);

        'outer: loop {
            if main_waker.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = coop::budget(|| future.as_mut().poll(&mut task_cx)) {
                    return output;
                }
            }
            for _ in 0..handle.config.event_interval {
                if handle.is_shutdown() {
                    self.drop_queued();
                }
                let task = {
                    let mut core = cx.core.borrow_mut();
                    let core = core.as_mut().expect("current-thread core missing");
                    core.tick = core.tick.wrapping_add(1);
                    let task = if core
                        .tick
                        .is_multiple_of(handle.config.global_queue_interval)
                    {
                        pop_inject(&handle.remote).or_else(|| core.local.pop_front())
                    } else {
                        core.local
                            .pop_front()
                            .or_else(|| pop_inject(&handle.remote))
                    };
                    if task.is_some() {
                        core.polls += 1;
                    }
                    task
                };
                match task {
                    Some(task) => {
                        coop::budget(|| task.run());
                    }
                    None => {
                        // Out of tasks: sleep in the driver, or, when the main future
                        // is ready to run again (it yielded), just poll the driver so a
                        // future that yields in a loop cannot starve I/O.
                        self.park(false, &main_waker.woken);
                        continue 'outer;
                    }
                }
            }
            // A full batch ran: poll the driver without sleeping.
            self.park(true, &main_waker.woken);
        }
    }

    /// Polls the driver; sleeps in it (between the park callbacks) unless `no_wait`,
    /// the main future is woken, or tasks wait (queued, or deferred by a yield, which
    /// are woken after the poll).
    fn park(&self, no_wait: bool, main_woken: &AtomicBool) {
        let handle = &*self.context.handle;
        let has_work = || {
            main_woken.load(Ordering::Acquire)
                || defer::has_deferred()
                || !handle.remote.is_empty()
                || self
                    .context
                    .core
                    .borrow()
                    .as_ref()
                    .is_some_and(|core| !core.local.is_empty())
        };
        let idle = !no_wait && !has_work();
        let mut no_wait = !idle;
        if idle {
            handle.common.hooks.before_park();
            // The callback may have made work (a spawn, a wake-up of the main future):
            // then only poll the driver.
            no_wait = has_work();
        }
        let mut park = {
            let mut core = self.context.core.borrow_mut();
            let core = core.as_mut().expect("current-thread core missing");
            if !no_wait {
                core.parks += 1;
                self.context.handle.publish_metrics(core);
            }
            core.park
                .take()
                .expect("current-thread core without its parker")
        };
        self.context.handle.driver.park_core(0, &mut park, no_wait);
        self.context
            .core
            .borrow_mut()
            .as_mut()
            .expect("current-thread core missing")
            .park = Some(park);
        // The driver has been polled: tasks that yielded run again.
        defer::wake_deferred();
        if idle {
            handle.common.hooks.after_unpark();
        }
    }

    fn drop_queued(&self) {
        let tasks: Vec<Runnable> = {
            let mut core = self.context.core.borrow_mut();
            let core = core.as_mut().expect("current-thread core missing");
            core.local.drain(..).collect()
        };
        tasks.into_iter().for_each(harness::cancel);
        self.context.handle.drain_remote();
    }
}

impl Drop for CoreGuard {
    fn drop(&mut self) {
        let handle = &self.context.handle;
        let core = self.context.core.borrow_mut().take();
        if let Some(mut core) = core {
            // Another thread may take the core next: hand this thread's in-flight I/O
            // over (see `driver`).
            if let Some(park) = core.park.as_mut() {
                driver::Driver::detach(park);
            }
            handle.publish_metrics(&core);
            *lock(&handle.core) = Some(core);
        }
        for waiter in lock(&handle.core_waiters).drain(..) {
            waiter.unpark();
        }
    }
}

impl Handle {
    fn publish_metrics(&self, core: &Core) {
        self.metrics.polls.store(core.polls, Ordering::Relaxed);
        self.metrics.parks.store(core.parks, Ordering::Relaxed);
    }
}
