//! Child processes (tokio's `tokio::process`): [`Command`] spawns a [`Child`], whose
//! pipes ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]) are ringtide I/O types with
//! both the owned-buffer API and (features `tokio-io`/`futures-io`) the poll traits, so
//! `tokio::io::copy` and `BufReader::lines` work on them.
//!
//! ```no_run
//! # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use ringtide::process::Command;
//! let output = Command::new("echo").arg("hello").output().await.unwrap();
//! assert!(output.status.success());
//! assert_eq!(output.stdout, b"hello\n");
//! # });
//! ```
//!
//! # Reaping: pidfd, SIGCHLD fallback, no thread per child
//!
//! Each `Child` has an exit watch (`exit_watch`): its **pidfd** (`pidfd_open(2)`,
//! Linux 5.3+), readable once the process exits, waited on like any fd (an io_uring
//! `POLL_ADD`, or the epoll registration on mio); or, where `pidfd_open` fails with
//! `ENOSYS`/`EPERM`, a **`SIGCHLD`** listener ([`crate::signal::unix`]), on whose every
//! arrival the child checks itself. `wait` reaps with a non-blocking `waitpid` on the
//! child's pid (std's `try_wait`) each time the watch fires; the pid stays the child's
//! until that reap, so no other process can be reaped by mistake. No thread waits per
//! child; with the fallback, the signal dispatcher thread that `signal` shares serves
//! them all. (`RINGTIDE_PROCESS_SIGCHLD=1` in the environment forces the fallback, for
//! tests.)
//!
//! # Dropped children
//!
//! A `Child` dropped before its process was reaped (with or without
//! [`Command::kill_on_drop`], which sends `SIGKILL` first, as tokio's) is reaped in the
//! background, so no zombie is left:
//!
//! * inside a runtime: by a task spawned on the current runtime, which waits on the
//!   child's exit watch;
//! * with no current runtime, or when the runtime shuts down before that task ran to
//!   the end: the process goes to a process-wide orphan queue (`orphans`), drained on
//!   every later `Command::spawn` and every exit check of any `Child` (`try_wait`,
//!   each wake-up of `wait`). With no further ringtide process activity such an
//!   orphan stays a zombie until this process exits.
//!
//! # Cancel safety
//!
//! [`Child::wait`] is cancel-safe: the status is kept once reaped, and the next `wait`
//! (or `try_wait`) returns it. `output`/`status`/`wait_with_output` are not (dropping
//! them drops the `Child`: the process is reaped in the background, its output lost).

mod child;
mod command;
mod exit_watch;
mod orphans;
mod pipe;

pub use child::Child;
pub use command::Command;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
