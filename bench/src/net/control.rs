//! The control channel between the suite and a server process: the server side's
//! command loop and the client side's handle on a child.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{CPUS_ENV, ECHOED_BYTES, ROLE_ENV, THREADS_ENV};
use crate::cpu;
use crate::report::Implementation;

/// The server role: pins this process, starts the server, prints `LISTEN` (or `ERROR
/// <why>`), then runs the command loop until stdin closes.
pub fn serve(key: &str) {
    let Some(implementation) = Implementation::from_key(key) else {
        println!("ERROR unknown server {key:?}");
        return;
    };
    if let Ok(cpus) = std::env::var(CPUS_ENV) {
        match cpu::parse_list(&cpus)
            .map_err(std::io::Error::other)
            .and_then(|cpus| cpu::pin(&cpus))
        {
            Ok(()) => {}
            Err(error) => {
                println!("ERROR could not pin to CPU {cpus}: {error}");
                return;
            }
        }
    }
    let threads = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|threads| threads.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    cpu::raise_open_file_limit();
    match super::servers::start(implementation, threads) {
        Ok(server) => {
            println!("LISTEN {} {}", server.addr, server.description);
            command_loop();
            drop(server);
        }
        Err(error) => println!("ERROR {error}"),
    }
}

fn command_loop() {
    let mut start = (Duration::ZERO, 0);
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        let mut stdout = std::io::stdout().lock();
        let written = match line.trim() {
            "START" => {
                start = (cpu::process_time(), ECHOED_BYTES.load(Ordering::Relaxed));
                writeln!(stdout, "STARTED")
            }
            "STOP" => {
                let cpu = cpu::process_time().saturating_sub(start.0);
                let bytes = ECHOED_BYTES.load(Ordering::Relaxed) - start.1;
                writeln!(stdout, "STOPPED {} {bytes}", cpu.as_nanos())
            }
            other => writeln!(stdout, "ERROR unknown command {other:?}"),
        };
        if written.and_then(|()| stdout.flush()).is_err() {
            return;
        }
    }
}

/// What a server reported about one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub cpu: Duration,
    pub echoed_bytes: u64,
}

/// Parses `STOPPED <cpu ns> <bytes>`.
pub fn parse_stopped(reply: &str) -> Result<Window, String> {
    let fields: Option<Vec<u64>> = reply
        .strip_prefix("STOPPED ")
        .map(|rest| rest.split(' ').map(|field| field.parse().ok()).collect())
        .and_then(|fields: Vec<Option<u64>>| fields.into_iter().collect());
    match fields.as_deref() {
        Some(&[cpu, echoed_bytes]) => Ok(Window {
            cpu: Duration::from_nanos(cpu),
            echoed_bytes,
        }),
        _ => Err(format!("unexpected reply from the server: {reply:?}")),
    }
}

/// Parses `LISTEN <addr> <description>`; anything else is the server's error.
pub fn parse_listen(line: &str) -> Result<(SocketAddr, String), String> {
    let Some(rest) = line.strip_prefix("LISTEN ") else {
        return Err(line.strip_prefix("ERROR ").unwrap_or(line).to_owned());
    };
    let (addr, description) = rest.split_once(' ').unwrap_or((rest, ""));
    let addr = addr
        .parse()
        .map_err(|_| format!("the server's address {addr:?} does not parse"))?;
    Ok((addr, description.to_owned()))
}

/// One server child process.
pub struct ServerProcess {
    pub implementation: Implementation,
    pub addr: SocketAddr,
    /// What the server says it runs on (e.g. ringtide's `Runtime::backend()`).
    pub description: String,
    child: Child,
    /// `None` once closed, which ends the server.
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl ServerProcess {
    /// Starts `implementation` with `threads` threads, pinned to `cpus` (if any);
    /// the error says why it could not start.
    pub fn spawn(
        implementation: Implementation,
        threads: usize,
        cpus: &[usize],
    ) -> Result<ServerProcess, String> {
        let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
        let mut command = Command::new(exe);
        command
            .env(ROLE_ENV, implementation.key())
            .env(THREADS_ENV, threads.to_string());
        if !cpus.is_empty() {
            command.env(CPUS_ENV, cpu::list(cpus));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("spawning the server: {error}"))?;
        let input = child.stdin.take().expect("piped stdin");
        let mut output = BufReader::new(child.stdout.take().expect("piped stdout"));
        let listening = read_line(&mut output).and_then(|line| parse_listen(&line));
        match listening {
            Ok((addr, description)) => Ok(ServerProcess {
                implementation,
                addr,
                description,
                child,
                input: Some(input),
                output,
            }),
            Err(error) => {
                drop(input);
                let _ = child.wait();
                Err(error)
            }
        }
    }

    /// Sends `command` and returns the reply line.
    pub fn command(&mut self, command: &str) -> Result<String, String> {
        let input = self.input.as_mut().ok_or("the server was closed")?;
        writeln!(input, "{command}")
            .and_then(|()| input.flush())
            .map_err(|error| format!("writing to the server: {error}"))?;
        read_line(&mut self.output)
    }

    /// `START`: the window begins.
    pub fn start_window(&mut self) -> Result<(), String> {
        match self.command("START")?.as_str() {
            "STARTED" => Ok(()),
            other => Err(format!("unexpected reply from the server: {other:?}")),
        }
    }

    /// `STOP`: what the server did in the window.
    pub fn stop_window(&mut self) -> Result<Window, String> {
        parse_stopped(&self.command("STOP")?)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing stdin ends the command loop, and so the server.
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

fn read_line(output: &mut BufReader<ChildStdout>) -> Result<String, String> {
    let mut line = String::new();
    match output.read_line(&mut line) {
        Ok(0) => Err("the server exited".to_owned()),
        Ok(_) => Ok(line.trim().to_owned()),
        Err(error) => Err(format!("reading from the server: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_lines_parse_and_errors_pass_through() {
        let (addr, description) = parse_listen("LISTEN 127.0.0.1:4000 backend io_uring").unwrap();
        assert_eq!(addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(description, "backend io_uring");
        assert_eq!(parse_listen("LISTEN [::1]:5").unwrap().1, "");
        assert_eq!(
            parse_listen("ERROR io_uring_setup: EPERM").unwrap_err(),
            "io_uring_setup: EPERM"
        );
        assert!(
            parse_listen("LISTEN nowhere x")
                .unwrap_err()
                .contains("\"nowhere\"")
        );
    }

    #[test]
    fn stopped_lines_parse_and_bad_ones_are_errors() {
        assert_eq!(
            parse_stopped("STOPPED 1500 4096"),
            Ok(Window {
                cpu: Duration::from_nanos(1500),
                echoed_bytes: 4096
            })
        );
        for bad in ["STOPPED 1", "STOPPED a b", "STARTED", "STOPPED 1 2 3"] {
            assert!(parse_stopped(bad).is_err(), "{bad}");
        }
    }
}
