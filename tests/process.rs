//! `ringtide::process` on both backends: output and stdin round trips, exit statuses,
//! `wait`/`try_wait`/`kill`, many children at once, `kill_on_drop` reaping, the poll
//! traits on the pipes, and `wait`'s cancel safety.

// Unix only: `ringtide::process` does not exist on Windows (see the crate docs).
#![cfg(unix)]

#[macro_use]
mod rt_common;

use std::future::Future;
use std::process::Stdio;

use ringtide::io::{AsyncReadOwned, AsyncWriteOwned};
use ringtide::process::Command;

/// Whether `pid` still exists (a zombie counts).
fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

backend_test! {
    fn output_and_status_codes(rt, multi) {
        rt.block_on(async {
            let output = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output().await.unwrap();
            assert_eq!(output.stdout, b"out\n");
            assert_eq!(output.stderr, b"err\n");
            assert_eq!(output.status.code(), Some(3));
            assert!(Command::new("true").status().await.unwrap().success());
            assert_eq!(Command::new("false").status().await.unwrap().code(), Some(1));
        });
    }
}

backend_test! {
    fn stdin_round_trip_through_cat(rt, multi) {
        rt.block_on(async {
            let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let (result, _) = stdin.write_all_owned(b"hello pipe".to_vec()).await;
            result.unwrap();
            drop(stdin);
            let mut stdout = child.stdout.take().unwrap();
            let (result, buf) = stdout.read_exact_owned(Vec::with_capacity(10)).await;
            result.unwrap();
            assert_eq!(buf, b"hello pipe");
            let (count, _) = stdout.read_owned(Vec::with_capacity(8)).await;
            assert_eq!(count.unwrap(), 0, "end of file once cat exits");
            assert!(child.wait().await.unwrap().success());
        });
    }
}

backend_test! {
    fn wait_after_the_child_already_exited(rt, multi) {
        rt.block_on(async {
            let mut child = Command::new("true").spawn().unwrap();
            let pid = child.id().unwrap();
            // Block (outside the runtime's knowledge) until the child is a zombie.
            // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waitid with WNOWAIT leaves the child waitable; `info` is valid.
            let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
            assert_eq!(rc, 0);
            assert!(child.wait().await.unwrap().success());
            assert_eq!(child.id(), None);
            assert!(child.wait().await.unwrap().success(), "the status is kept");
        });
    }
}

backend_test! {
    fn try_wait_and_kill(rt, multi) {
        rt.block_on(async {
            let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
            assert!(child.try_wait().unwrap().is_none());
            child.kill().await.unwrap();
            let status = child.try_wait().unwrap().expect("reaped by kill");
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGKILL));
        });
    }
}

backend_test! {
    fn a_hundred_concurrent_children(rt, multi) {
        rt.block_on(async {
            let handles: Vec<_> = (0..100)
                .map(|_| ringtide::spawn(async { Command::new("true").status().await.unwrap() }))
                .collect();
            for handle in handles {
                assert!(handle.await.unwrap().success());
            }
        });
    }
}

backend_test! {
    fn kill_on_drop_leaves_no_zombie(rt, multi) {
        rt.block_on(async {
            let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
            let pid = child.id().unwrap();
            drop(child);
            // Polls /proc (not a synchronisation: the reap task has no event to offer).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while pid_exists(pid) {
                assert!(std::time::Instant::now() < deadline, "pid {pid} still exists (zombie?)");
                ringtide::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
    }
}

backend_test! {
    fn missing_program_is_not_found(rt, multi) {
        rt.block_on(async {
            let error = Command::new("/nonexistent/ringtide-no-such-program").spawn().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        });
    }
}

backend_test! {
    fn a_dropped_wait_future_is_cancel_safe(rt, multi) {
        rt.block_on(async {
            let mut child = Command::new("sh").args(["-c", "read line; exit 7"]).stdin(Stdio::piped()).spawn().unwrap();
            let stdin = child.stdin.take().unwrap();
            {
                let mut wait = std::pin::pin!(child.wait());
                let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(wait.as_mut().poll(cx))).await;
                assert!(polled.is_pending());
            }
            drop(stdin);
            assert_eq!(child.wait().await.unwrap().code(), Some(7));
        });
    }
}

#[cfg(feature = "tokio-io")]
backend_test! {
    fn tokio_copy_and_lines_on_the_pipes(rt, multi) {
        rt.block_on(async {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
            let mut child = Command::new("sh").args(["-c", "printf 'a\\nb\\nc\\n'"]).stdout(Stdio::piped()).spawn().unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line);
            }
            assert_eq!(seen, ["a", "b", "c"]);
            assert!(child.wait().await.unwrap().success());

            let mut cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
            let mut stdin = cat.stdin.take().unwrap();
            let mut stdout = cat.stdout.take().unwrap();
            let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let expected = data.clone();
            let writer = ringtide::spawn(async move {
                stdin.write_all(&data).await.unwrap();
                stdin.shutdown().await.unwrap();
            });
            let mut copied = Vec::new();
            let count = tokio::io::copy(&mut stdout, &mut copied).await.unwrap();
            writer.await.unwrap();
            assert_eq!(count, 200_000);
            assert_eq!(copied, expected);
            assert!(cat.wait().await.unwrap().success());
        });
    }
}

/// Set in the child process that runs the SIGCHLD-fallback scenario.
const SIGCHLD_CHILD_ENV: &str = "RINGTIDE_PROCESS_TEST_SIGCHLD_CHILD";
/// The line that child prints when its scenario succeeded.
const SIGCHLD_RESULT_MARK: &str = "RINGTIDE_PROCESS_TEST_SIGCHLD_OK";

/// How many of this process's fds are pidfds.
fn open_pidfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("pidfd"))
        .count()
}

backend_test! {
    /// The SIGCHLD fallback (kernels without `pidfd_open`), forced with
    /// `RINGTIDE_PROCESS_SIGCHLD=1` in a child process of its own (the choice is made
    /// once per process, and SIGCHLD handling is process-wide). It reaps like the
    /// pidfd path: `wait`, `try_wait` + `kill`, concurrent children, `output`. That the
    /// fallback really ran: a running child has a pidfd open in the parent process and
    /// none in the child process.
    fn the_sigchld_fallback_reaps_like_the_pidfd_path(rt, multi) {
        if std::env::var_os(SIGCHLD_CHILD_ENV).is_none() {
            rt.block_on(async {
                let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
                assert!(open_pidfds() >= 1, "the pidfd path holds a pidfd per child");
                child.kill().await.unwrap();
            });
            let flavor = if multi { "multi_thread" } else { "current_thread" };
            let test = format!(
                "the_sigchld_fallback_reaps_like_the_pidfd_path::{}_{flavor}",
                rt.backend().as_str().replace('-', "_")
            );
            drop(rt);
            let output = rt_common::run_child_test(
                &test,
                &[(SIGCHLD_CHILD_ENV, "1"), ("RINGTIDE_PROCESS_SIGCHLD", "1")],
                rt_common::TEST_TIMEOUT,
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains(SIGCHLD_RESULT_MARK),
                "child `{test}` failed ({})\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            return;
        }
        rt.block_on(async {
            let mut sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
            assert_eq!(open_pidfds(), 0, "the fallback opens no pidfd");
            assert!(sleeper.try_wait().unwrap().is_none());
            sleeper.kill().await.unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(sleeper.wait().await.unwrap().signal(), Some(libc::SIGKILL));
            let handles: Vec<_> = (0..20)
                .map(|index| {
                    ringtide::spawn(async move {
                        Command::new("sh")
                            .args(["-c", &format!("exit {}", index % 3)])
                            .status()
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for (index, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.await.unwrap().code(), Some(index as i32 % 3));
            }
            let output = Command::new("sh").args(["-c", "echo fallback"]).output().await.unwrap();
            assert_eq!(output.stdout, b"fallback\n");
        });
        println!("{SIGCHLD_RESULT_MARK}");
    }
}
