//! State shared by all workers of a multi-thread runtime, and its entry points.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::task::harness::Runnable;
use crossbeam_deque::{Injector, Stealer};

use crate::blocking::Spawner;
use crate::driver;
use crate::driver::park::Unpark;
use crate::loom::{Mutex, lock};
use crate::runtime::context;
use crate::runtime::metrics::WorkerMetrics;
use crate::runtime::scheduler::multi_thread::core::Core;
use crate::runtime::scheduler::multi_thread::idle::Idle;
use crate::runtime::scheduler::multi_thread::queue::pop_inject;
use crate::runtime::scheduler::{self, Common, Config};
use crate::task::owned::OwnedTasks;
use crate::task::{JoinHandle, harness};

/// The multi-thread scheduler, shared by its workers and every runtime handle.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(super) remotes: Box<[Remote]>,
    pub(super) inject: Injector<Runnable>,
    pub(super) idle: Idle,
    pub(crate) owned: Arc<OwnedTasks>,
    pub(super) shutdown: AtomicBool,
    /// Cores of workers that have stopped; the last one to arrive finishes shutdown.
    #[allow(clippy::vec_box)] // cores are boxed everywhere else; they move as boxes
    pub(super) shutdown_cores: Mutex<Vec<Box<Core>>>,
    pub(crate) metrics: Box<[WorkerMetrics]>,
    pub(super) config: Config,
    pub(crate) blocking: Spawner,
    pub(crate) driver: crate::runtime::driver::Handle,
    pub(crate) common: Common,
}

/// What other threads can reach of one worker.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) steal: Stealer<Runnable>,
    pub(super) unpark: driver::Unpark,
}

impl Handle {
    pub(super) fn new(
        remotes: Box<[Remote]>,
        config: Config,
        blocking: Spawner,
        driver: crate::runtime::driver::Handle,
        common: Common,
    ) -> Handle {
        let num_workers = remotes.len();
        Handle {
            idle: Idle::new(num_workers),
            remotes,
            inject: Injector::new(),
            owned: Arc::new(OwnedTasks::new()),
            shutdown: AtomicBool::new(false),
            shutdown_cores: Mutex::new(Vec::with_capacity(num_workers)),
            metrics: (0..num_workers).map(|_| WorkerMetrics::default()).collect(),
            config,
            blocking,
            driver,
            common,
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
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
            move |task, info| scheduler.schedule(task, info.woken_while_running),
        );
        if let Some(runnable) = runnable {
            hooks.spawned(join.id());
            this.schedule(runnable, false);
        }
        join
    }

    /// Blocks the calling thread on `future`; tasks run on the workers meanwhile.
    pub(crate) fn block_on<F: Future>(this: &Arc<Handle>, future: F) -> F::Output {
        let handle = scheduler::Handle::MultiThread(this.clone());
        let _driving = context::enter_driving(&handle, context::BlockInPlace::Allowed);
        this.driver.block_on(future)
    }

    /// Queues a task from outside the workers (or a worker without its core).
    pub(super) fn push_remote(&self, task: Runnable) {
        if self.is_shutdown() {
            // Shutting down: cancel the task here.
            harness::cancel(task);
            return;
        }
        self.inject.push(task);
        if self.is_shutdown() {
            // Raced with the final drain: make sure nothing stays queued.
            self.drain_inject();
            return;
        }
        self.notify_parked();
    }

    /// Wakes a sleeping worker if the idle protocol says one should look for work.
    pub(super) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].unpark.unpark();
        }
    }

    /// Notifies a worker if any queue holds work (used by the last searcher).
    pub(super) fn notify_if_work_pending(&self) {
        let pending = !self.inject.is_empty() || self.remotes.iter().any(|r| !r.steal.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    pub(super) fn drain_inject(&self) {
        while let Some(task) = pop_inject(&self.inject) {
            harness::cancel(task);
        }
    }

    /// Starts shutdown: no new tasks, every worker told to stop. The last worker to stop
    /// cancels what is left (see `shutdown_core`).
    pub(crate) fn shutdown(&self) {
        if self.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        self.owned.close();
        for remote in self.remotes.iter() {
            remote.unpark.unpark();
        }
    }

    /// Called by each stopping worker with its core. The last one drops every queued
    /// task, then aborts the idle tasks (their wake-ups find the scheduler shut down
    /// and drop them on the spot).
    pub(super) fn shutdown_core(&self, mut core: Box<Core>) {
        core.shutdown();
        let mut cores = {
            let mut stopped = lock(&self.shutdown_cores);
            stopped.push(core);
            if stopped.len() < self.remotes.len() {
                return;
            }
            std::mem::take(&mut *stopped)
        };
        // Tasks woken by destructors since each core stopped land in the cores again.
        for core in &mut cores {
            core.shutdown();
        }
        self.drain_inject();
        self.owned.abort_all();
        self.drain_inject();
        // Break the handle -> registry -> task -> schedule closure -> handle cycle.
        self.owned.clear();
        // Keep the cores (their parkers) until the handle drops.
        lock(&self.shutdown_cores).extend(cores);
    }

    /// Number of tasks in the injection queue.
    pub(crate) fn injection_queue_depth(&self) -> usize {
        self.inject.len()
    }

    /// Number of tasks in worker `index`'s local FIFO.
    pub(crate) fn worker_local_queue_depth(&self, index: usize) -> usize {
        self.remotes[index].steal.len()
    }
}
