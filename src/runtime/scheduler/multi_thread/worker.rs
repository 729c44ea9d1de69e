//! The worker loop of the multi-thread scheduler.
//!
//! A worker owns a [`Core`]: its local queue, LIFO slot, parker and counters. The core
//! is what runs tasks; the thread is just where it currently lives. `block_in_place`
//! moves the core to a fresh thread and lets the current thread block.
//!
//! # One tick
//!
//! 1. Every `event_interval` ticks: poll the driver without blocking and check for
//!    shutdown.
//! 2. Every `global_queue_interval` ticks the injection queue is checked first (so
//!    remote spawns and wakes are not starved by a busy local queue); otherwise the
//!    LIFO slot, then the local FIFO, then a batch from the injection queue.
//! 3. No local work: become a searcher (if fewer than half the workers search) and
//!    steal half of a random victim's queue, then try the injection queue.
//! 4. Nothing anywhere: park (see `idle` for the protocol).
//!
//! Running a task polls it with a fresh coop budget, then runs the task it put in the
//! LIFO slot, up to [`MAX_LIFO_POLLS_PER_TICK`] in a row; after that the slot is
//! disabled for the rest of the tick so woken tasks go to the FIFO, where they queue
//! behind the others.
//!
//! # Scheduling
//!
//! A task woken on a worker thread that holds its core goes to that core: into the LIFO
//! slot when it is a new wake-up (its data is hot), to the back of the FIFO when the
//! task woke itself while running (a yield). Everything else goes through the injection
//! queue and notifies a sleeping worker.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::task::harness::Runnable;

use crate::blocking::{Mandatory, Spawner};
use crate::driver::park::Park;
use crate::driver::{self, CoreDriver};
use crate::loom::{Mutex, lock};
use crate::runtime::context::{self, BlockInPlace, Driving};
use crate::runtime::defer;
use crate::runtime::scheduler::multi_thread::core::{Core, FastRand};
use crate::runtime::scheduler::multi_thread::handle::{Handle, Remote};
use crate::runtime::scheduler::multi_thread::queue::{LocalQueue, pop_inject};
use crate::runtime::scheduler::{self, Common, Config};
use crate::task::{blocking::BlockingTask, coop, harness};

/// LIFO tasks run back to back before the slot is disabled for the tick.
const MAX_LIFO_POLLS_PER_TICK: usize = 3;

/// The worker currently running on this thread.
struct WorkerContext {
    handle: Arc<Handle>,
    core: RefCell<Option<Box<Core>>>,
}

thread_local! {
    static CURRENT: Cell<*const WorkerContext> = const { Cell::new(ptr::null()) };
}

fn with_current<R>(f: impl FnOnce(Option<&WorkerContext>) -> R) -> R {
    let current = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    // SAFETY: `CURRENT` is non-null only while `run` is on the stack, which owns the
    // `WorkerContext` it points to and resets the pointer before returning.
    f(unsafe { current.as_ref() })
}

/// Creates the shared handle and one core per worker; `start_worker` launches them.
#[allow(clippy::vec_box)] // each core is moved out as a box into its worker
pub(crate) fn launch(
    num_workers: usize,
    config: Config,
    blocking: Spawner,
    parkers: Vec<CoreDriver>,
    driver: crate::runtime::driver::Handle,
    common: Common,
) -> (Arc<Handle>, Vec<Box<Core>>) {
    assert_eq!(parkers.len(), num_workers);
    let mut cores = Vec::with_capacity(num_workers);
    let mut remotes = Vec::with_capacity(num_workers);
    for (index, park) in parkers.into_iter().enumerate() {
        let queue = LocalQueue::new();
        remotes.push(Remote {
            steal: queue.stealer(),
            unpark: park.unpark_handle(),
        });
        cores.push(Box::new(Core {
            index,
            tick: 0,
            queue,
            lifo_enabled: true,
            is_searching: false,
            is_shutdown: false,
            park: Some(park),
            rand: FastRand::new(index as u64),
            polls: 0,
            steals: 0,
            parks: 0,
        }));
    }
    let handle = Arc::new(Handle::new(
        remotes.into_boxed_slice(),
        config,
        blocking,
        driver,
        common,
    ));
    (handle, cores)
}

/// Starts a worker thread (on the blocking pool) that runs `core`.
///
/// On failure the core is given back so the caller can keep running it.
pub(crate) fn start_worker(handle: &Arc<Handle>, core: Box<Core>) -> Result<(), Box<Core>> {
    let slot = Arc::new(Mutex::new(Some(core)));
    let job = {
        let handle = handle.clone();
        let slot = slot.clone();
        BlockingTask::new(move || {
            if let Some(core) = lock(&slot).take() {
                run(handle, core);
            }
        })
    };
    let spawner = handle.blocking.clone();
    let (runnable, join) = harness::spawn(job, None, None, move |task, _| {
        // A worker job runs once and is never woken again; nothing to reschedule.
        drop(task);
    });
    drop(join);
    let runnable = runnable.expect("worker jobs are not registered, so never refused");
    match spawner.spawn(runnable, Mandatory::Yes) {
        Ok(()) => Ok(()),
        Err(_) => Err(lock(&slot)
            .take()
            .expect("a refused worker job never ran, so it still has its core")),
    }
}

fn run(handle: Arc<Handle>, core: Box<Core>) {
    let scheduler_handle = scheduler::Handle::MultiThread(handle.clone());
    let _driving = context::enter_driving(&scheduler_handle, BlockInPlace::Allowed);
    let cx = WorkerContext {
        handle,
        core: RefCell::new(None),
    };
    let previous = CURRENT.with(|c| c.replace(&cx));
    struct Reset(*const WorkerContext);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(previous);
    // Wake-ups still deferred when this thread stops being a worker (its core gone
    // with `block_in_place`, or shut down) go to the injection queue.
    let _defer = defer::enable();

    // `None`: the core left with `block_in_place`; this thread is done as a worker.
    // Ops this thread's ring could not get back from the kernel when it gave its core
    // away: only this thread can reap them.
    if let Some(mut core) = cx.run(core) {
        core.release_driver();
        cx.handle.shutdown_core(core);
        // A worker for good no more: its ring is closed too.
        driver::settle_this_thread(true);
    } else {
        // The core left with `block_in_place`: the thread goes back to the blocking
        // pool and keeps its ring for the next core it may drive.
        driver::settle_this_thread(false);
    }
}

impl WorkerContext {
    fn run(&self, mut core: Box<Core>) -> Option<Box<Core>> {
        let handle = &*self.handle;
        core.attach_driver();
        core.is_shutdown = handle.is_shutdown();
        while !core.is_shutdown {
            core.tick = core.tick.wrapping_add(1);
            if core.tick.is_multiple_of(handle.config.event_interval) {
                core = self.maintenance(core);
                if core.is_shutdown {
                    break;
                }
            }
            if let Some(task) = core.next_task(handle) {
                core = self.run_task(task, core)?;
                continue;
            }
            if core.park.as_ref().is_some_and(CoreDriver::has_unsubmitted) {
                // Submit before looking elsewhere: ops that complete at submission
                // wake their tasks here, without searching or parking.
                core = self.park_with(core, true);
                if let Some(task) = core.next_task(handle) {
                    core = self.run_task(task, core)?;
                    continue;
                }
            }
            if let Some(task) = core.steal_work(handle) {
                core = self.run_task(task, core)?;
                continue;
            }
            if defer::has_deferred() {
                // Tasks that yielded: poll the driver, then run them (never sleep).
                core = self.park_with(core, true);
                continue;
            }
            core = self.park(core);
        }
        Some(core)
    }

    /// Polls the driver without blocking, publishes counters, checks for shutdown.
    fn maintenance(&self, mut core: Box<Core>) -> Box<Core> {
        core = self.park_with(core, true);
        core.publish_metrics(&self.handle);
        core.is_shutdown = self.handle.is_shutdown();
        core
    }

    fn run_task(&self, task: Runnable, mut core: Box<Core>) -> Option<Box<Core>> {
        core.transition_from_searching(&self.handle);
        core.polls += 1;
        let lifo_enabled = core.lifo_enabled;
        *self.core.borrow_mut() = Some(core);

        coop::budget(|| {
            task.run();
            let mut lifo_polls = 0;
            loop {
                let mut core = self.core.borrow_mut().take()?;
                let Some(task) = core.queue.take_lifo() else {
                    core.lifo_enabled = lifo_enabled;
                    return Some(core);
                };
                if !coop::has_budget_remaining() {
                    // Out of budget: the LIFO task waits its turn in the FIFO.
                    core.queue.push_back(task, &self.handle.inject);
                    core.lifo_enabled = lifo_enabled;
                    return Some(core);
                }
                lifo_polls += 1;
                if lifo_polls >= MAX_LIFO_POLLS_PER_TICK {
                    core.lifo_enabled = false;
                }
                core.polls += 1;
                *self.core.borrow_mut() = Some(core);
                task.run();
            }
        })
    }

    fn park(&self, mut core: Box<Core>) -> Box<Core> {
        let handle = &*self.handle;
        if core.queue.has_tasks() {
            return core;
        }
        // Submit what is queued and collect completions that need no waiting (an op
        // that completed at submission): the woken tasks run without this worker going
        // through the idle protocol.
        // That poll may consume an unpark token; the only ones an awake worker can hold
        // are stale ones and shutdown's, so look at the flag again.
        core = self.park_with(core, true);
        core.is_shutdown = handle.is_shutdown();
        if core.queue.has_tasks() || core.is_shutdown {
            return core;
        }
        // Going idle. Work the callback makes (a spawn) reaches the injection queue,
        // which the idle protocol's last look below finds.
        handle.common.hooks.before_park();
        if handle
            .idle
            .transition_worker_to_parked(core.index, core.is_searching)
        {
            core.is_searching = false;
            // Last searcher or last awake worker: look once more before sleeping.
            handle.notify_if_work_pending();
        }
        core.is_searching = false;
        core.publish_metrics(handle);
        loop {
            core.parks += 1;
            core = self.park_with(core, false);
            core.is_shutdown = handle.is_shutdown();
            let force = core.queue.has_tasks() || core.is_shutdown;
            match handle.idle.transition_worker_from_parked(core.index, force) {
                Some(searching) => {
                    core.is_searching = searching;
                    handle.common.hooks.after_unpark();
                    return core;
                }
                None => continue,
            }
        }
    }

    /// Parks on the core's parker with the core stored in the context, so wake-ups
    /// delivered by the driver on this thread can schedule into it.
    fn park_with(&self, mut core: Box<Core>, no_wait: bool) -> Box<Core> {
        let mut park = core.park.take().expect("worker core without its parker");
        let index = core.index;
        *self.core.borrow_mut() = Some(core);
        self.handle.driver.park_core(index, &mut park, no_wait);
        // The driver has been polled: tasks that yielded run again (into this core).
        defer::wake_deferred();
        let mut core = self
            .core
            .borrow_mut()
            .take()
            .expect("core taken while its worker was parked");
        core.park = Some(park);
        // Work was queued here while parked: let a sleeping worker steal some of it.
        if !core.is_searching && core.queue.len() > 1 {
            self.handle.notify_parked();
        }
        core
    }
}

impl Core {
    fn next_task(&mut self, handle: &Handle) -> Option<Runnable> {
        if self
            .tick
            .is_multiple_of(handle.config.global_queue_interval)
        {
            if let Some(task) = pop_inject(&handle.inject) {
                return Some(task);
            }
            return self.queue.pop();
        }
        if let Some(task) = self.queue.pop() {
            return Some(task);
        }
        if handle.inject.is_empty() {
            return None;
        }
        self.queue.refill_from(&handle.inject)
    }

    fn steal_work(&mut self, handle: &Handle) -> Option<Runnable> {
        if !self.transition_to_searching(handle) {
            return None;
        }
        let num = handle.remotes.len();
        let start = self.rand.next_below(num);
        for offset in 0..num {
            let victim = (start + offset) % num;
            if victim == self.index {
                continue;
            }
            let before = self.queue.len();
            if let Some(task) = self.queue.steal_from(&handle.remotes[victim].steal) {
                self.steals += (self.queue.len() - before) as u64 + 1;
                return Some(task);
            }
        }
        self.queue.refill_from(&handle.inject)
    }

    fn transition_to_searching(&mut self, handle: &Handle) -> bool {
        if !self.is_searching {
            self.is_searching = handle.idle.transition_worker_to_searching();
        }
        self.is_searching
    }

    fn transition_from_searching(&mut self, handle: &Handle) {
        if !self.is_searching {
            return;
        }
        self.is_searching = false;
        if handle.idle.transition_worker_from_searching() {
            // The last searcher found work: others may be waiting behind it.
            handle.notify_parked();
        }
    }

    fn publish_metrics(&self, handle: &Handle) {
        let metrics = &handle.metrics[self.index];
        metrics.polls.store(self.polls, Ordering::Relaxed);
        metrics.steals.store(self.steals, Ordering::Relaxed);
        metrics.parks.store(self.parks, Ordering::Relaxed);
    }
}

/// The index of the core this thread runs for `handle`'s runtime, if it runs one of its
/// workers and holds the core.
pub(crate) fn current_core(handle: &Arc<Handle>) -> Option<usize> {
    with_current(|cx| {
        let cx = cx.filter(|cx| Arc::ptr_eq(&cx.handle, handle))?;
        let core = cx.core.try_borrow().ok()?;
        core.as_ref().map(|core| core.index)
    })
}

impl Handle {
    /// Queues a task that was woken (or spawned).
    pub(crate) fn schedule(self: &Arc<Self>, task: Runnable, is_yield: bool) {
        if let Err(task) = schedule_local(self, task, is_yield) {
            self.push_remote(task);
        }
    }
}

/// Schedules `task` on the current worker if this thread runs one of `handle`'s workers
/// and holds its core; gives the task back otherwise.
fn schedule_local(handle: &Arc<Handle>, task: Runnable, is_yield: bool) -> Result<(), Runnable> {
    with_current(|cx| {
        let Some(cx) = cx.filter(|cx| Arc::ptr_eq(&cx.handle, handle)) else {
            return Err(task);
        };
        let Ok(mut core) = cx.core.try_borrow_mut() else {
            return Err(task);
        };
        let Some(core) = core.as_mut() else {
            return Err(task);
        };
        if core.is_shutdown {
            return Err(task);
        }
        let is_yield = is_yield || defer::is_waking_deferred();
        let should_notify = if is_yield || !core.lifo_enabled {
            core.queue.push_back(task, &handle.inject);
            true
        } else {
            match core.queue.replace_lifo(task) {
                Some(previous) => {
                    core.queue.push_back(previous, &handle.inject);
                    true
                }
                None => false,
            }
        };
        // Only while the worker is running (its parker is in the core): a parked
        // worker wakes up and runs the task itself.
        if should_notify && core.park.is_some() {
            handle.notify_parked();
        }
        Ok(())
    })
}

/// See [`crate::task::block_in_place`].
pub(crate) fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    // A worker may always hand its core on, also while a task of it polls a `LocalSet`
    // (the set's tasks wait with that task, as in tokio).
    let on_worker = with_current(|cx| cx.is_some());
    match context::driving() {
        Driving::No => return f(),
        Driving::Yes {
            block_in_place: BlockInPlace::CurrentThread,
        } => panic!(
            "task::block_in_place can only be called from a multi-thread runtime: this thread \
             drives a current-thread runtime, which has no other thread to hand its tasks to. \
             Use task::spawn_blocking instead."
        ),
        Driving::Yes {
            block_in_place: BlockInPlace::LocalSet,
        } if !on_worker => panic!(
            "task::block_in_place cannot be called inside a LocalSet driven by `block_on`: \
             the set's local tasks cannot move to another thread while this one blocks. \
             Use task::spawn_blocking instead."
        ),
        Driving::Yes { .. } => {}
    }
    // Wake-ups deferred on this thread go to the core before it leaves; until this
    // thread is back, nothing here would wake them (see `runtime::defer`).
    let _no_defer = defer::suspend();
    let taken = with_current(|cx| {
        let cx = cx?;
        let core = cx.core.borrow_mut().take()?;
        Some((cx.handle.clone(), core))
    });
    if let Some((handle, mut core)) = taken {
        core.transition_from_searching(&handle);
        // The new thread serves the core with its own ring: cancel this thread's
        // in-flight ops so their tasks resubmit them there. The ring itself stays with
        // this thread (detached): it goes back to the blocking pool and, when it
        // drives a core again, reuses it instead of setting up a new one.
        core.detach_driver();
        if let Err(mut core) = start_worker(&handle, core) {
            // No thread to hand the core to (the pool is at its limit or shutting down):
            // keep it and block this worker instead.
            core.attach_driver();
            with_current(|cx| {
                if let Some(cx) = cx {
                    *cx.core.borrow_mut() = Some(core);
                }
            });
        }
    }
    let _not_driving = context::exit_driving();
    // The core's ops that this thread's ring still had in the kernel when the core
    // left (rare: their cancellation took longer than the detach deadline) come back
    // only through this thread: reap them once `f` returns (or unwinds).
    struct Settle;
    impl Drop for Settle {
        fn drop(&mut self) {
            driver::settle_this_thread(false);
        }
    }
    let _settle = Settle;
    f()
}
