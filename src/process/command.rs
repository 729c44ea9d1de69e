//! [`Command`]: std's process builder with async `output`/`status` and `kill_on_drop`
//! (tokio's `tokio::process::Command`).

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

use super::child::Child;
use super::exit_watch::ExitWatch;
use super::orphans;

/// A process builder: std's [`std::process::Command`] with a [`Child`] whose pipes and
/// `wait` are async.
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command for `program` (see [`std::process::Command::new`]).
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// The std builder.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std builder, mutably.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// The std builder, by value (tokio's `into_std`).
    pub fn into_std(self) -> std::process::Command {
        self.std
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Clears the environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// The child's stdout.
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's stderr.
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Sends `SIGKILL` to the child when its [`Child`] is dropped before it was
    /// reaped; it is then reaped in the background (see the module docs).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The child's user id (`CommandExt::uid`).
    pub fn uid(&mut self, id: u32) -> &mut Command {
        self.std.uid(id);
        self
    }

    /// The child's group id (`CommandExt::gid`).
    pub fn gid(&mut self, id: u32) -> &mut Command {
        self.std.gid(id);
        self
    }

    /// The child's `argv[0]` (`CommandExt::arg0`).
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg0(arg);
        self
    }

    /// The child's process group (`CommandExt::process_group`).
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.std.process_group(pgroup);
        self
    }

    /// Runs `f` in the child between `fork` and `exec` (`CommandExt::pre_exec`).
    ///
    /// # Safety
    ///
    /// As [`CommandExt::pre_exec`]: `f` runs in a forked copy of a multi-threaded
    /// process and may only do async-signal-safe things.
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds `pre_exec`'s contract (this function's).
        unsafe { self.std.pre_exec(f) };
        self
    }

    /// Starts the process (synchronously, as tokio's `spawn`: fork/exec does not
    /// block on I/O). Must be called inside a runtime with I/O enabled.
    ///
    /// # Errors
    ///
    /// `NotFound` for a missing program, and std's other spawn errors; outside a
    /// runtime.
    pub fn spawn(&mut self) -> io::Result<Child> {
        orphans::reap();
        let child = self.std.spawn()?;
        let watch = match ExitWatch::new(child.id()) {
            Ok(watch) => watch,
            Err(error) => {
                orphans::adopt(child);
                return Err(error);
            }
        };
        Child::new(child, watch, self.kill_on_drop)
    }

    /// Runs the process to completion and returns its status. The child's stdio is
    /// inherited unless set; the parent's ends of any pipes are closed first.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }

    /// Runs the process to completion, collecting its stdout and stderr (both set to
    /// piped, as tokio does).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        self.spawn()?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
        }
    }
}
