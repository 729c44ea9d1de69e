//! [`Child`]: a spawned process, its pipes, and waiting for its exit.
//!
//! `wait` loops "non-blocking `waitpid` (std's `try_wait`, which keeps the status once
//! reaped), else wait for the [`ExitWatch`] to report a change". Nothing is lost when a
//! `wait` future is dropped: the status stays in the std child, and the next `wait` or
//! `try_wait` returns it.
//!
//! Dropping a `Child` whose process was not reaped hands it to a [`Reaper`]: with
//! `kill_on_drop` it is sent `SIGKILL` first. The reaper is a task on the current
//! runtime (waiting on the same watch); without a current runtime, or when the
//! runtime drops the task unfinished, the process goes to the orphan queue
//! (`process::orphans`).

use std::future::poll_fn;
use std::io;
use std::process::{Child as StdChild, ExitStatus};
use std::task::{Context, Poll, ready};

use super::exit_watch::ExitWatch;
use super::orphans;
use super::pipe::{ChildStderr, ChildStdin, ChildStdout};

/// A child process spawned by [`Command::spawn`](super::Command::spawn) (tokio's
/// `tokio::process::Child`).
#[derive(Debug)]
pub struct Child {
    /// The child's stdin, when [`Command::stdin`](super::Command::stdin) was `piped()`.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, when piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, when piped.
    pub stderr: Option<ChildStderr>,
    /// `None` only while dropping.
    process: Option<Process>,
    kill_on_drop: bool,
}

/// The std child and its exit watch.
#[derive(Debug)]
struct Process {
    child: StdChild,
    watch: ExitWatch,
    /// Set once reaped (std's `try_wait` keeps it too; this saves the syscall).
    status: Option<ExitStatus>,
}

impl Process {
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        loop {
            orphans::reap();
            if let Some(status) = self.try_wait()? {
                return Poll::Ready(Ok(status));
            }
            ready!(self.watch.poll_changed(cx))?;
        }
    }
}

impl Child {
    pub(crate) fn new(
        mut child: StdChild,
        watch: ExitWatch,
        kill_on_drop: bool,
    ) -> io::Result<Child> {
        let stdin = child.stdin.take().map(ChildStdin::from_std).transpose()?;
        let stdout = child.stdout.take().map(ChildStdout::from_std).transpose()?;
        let stderr = child.stderr.take().map(ChildStderr::from_std).transpose()?;
        Ok(Child {
            stdin,
            stdout,
            stderr,
            process: Some(Process {
                child,
                watch,
                status: None,
            }),
            kill_on_drop,
        })
    }

    fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .expect("a Child holds its process until dropped")
    }

    /// The OS process id, or `None` once the child has been reaped (by `wait`,
    /// `try_wait`, ...), as tokio's.
    pub fn id(&self) -> Option<u32> {
        let process = self.process.as_ref()?;
        match process.status {
            None => Some(process.child.id()),
            Some(_) => None,
        }
    }

    /// Whether the exit watch is a pidfd (`false`: the `SIGCHLD` fallback).
    #[doc(hidden)]
    pub fn __uses_pidfd(&self) -> bool {
        self.process
            .as_ref()
            .is_some_and(|process| process.watch.is_pidfd())
    }

    /// Waits for the child to exit and returns its status. Closes the child's stdin
    /// first (as tokio does), so a child reading it sees end of file.
    ///
    /// Cancel-safe: dropping the future loses nothing; a later `wait` or `try_wait`
    /// returns the status.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let process = self.process();
        poll_fn(|cx| process.poll_wait(cx)).await
    }

    /// The exit status if the child has exited (reaping it), else `None`, without
    /// waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        orphans::reap();
        self.process().try_wait()
    }

    /// Sends `SIGKILL` without waiting (a no-op once the child was reaped).
    pub fn start_kill(&mut self) -> io::Result<()> {
        let process = self.process();
        if process.status.is_some() {
            return Ok(());
        }
        process.child.kill()
    }

    /// Sends `SIGKILL` and waits for the child to exit.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Waits for the child to exit, collecting all of its stdout and stderr (those
    /// that are piped) meanwhile (tokio's `wait_with_output`).
    pub async fn wait_with_output(mut self) -> io::Result<std::process::Output> {
        drop(self.stdin.take());
        let (stdout, stderr) =
            super::pipe::read_both(self.stdout.take(), self.stderr.take()).await?;
        let status = self.wait().await?;
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        if !matches!(process.try_wait(), Ok(None)) {
            return;
        }
        if self.kill_on_drop {
            let _ = process.child.kill();
            if !matches!(process.try_wait(), Ok(None)) {
                return;
            }
        }
        let reaper = Reaper(Some(process));
        if let Ok(handle) = crate::runtime::Handle::try_current() {
            drop(handle.spawn(reaper.reap()));
        } else {
            drop(reaper);
        }
    }
}

/// A dropped child's process, reaped in the background; dropping it unfinished queues
/// the process as an orphan.
struct Reaper(Option<Process>);

impl Reaper {
    async fn reap(mut self) {
        if let Some(process) = self.0.as_mut() {
            if poll_fn(|cx| process.poll_wait(cx)).await.is_ok() {
                self.0 = None;
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(process) = self.0.take() {
            orphans::adopt(process.child);
        }
    }
}
