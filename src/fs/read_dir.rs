//! `read_dir` and `ReadDir`: the entries of a directory, read in batches on the
//! blocking pool (io_uring has no getdents opcode), like `tokio::fs::ReadDir`.
//!
//! # States
//!
//! ```text
//!   read_dir(path) ──pool: opendir + the first batch──► Idle(batch)
//!   Idle ─┬─ an entry (or error) buffered ──► hand it out, stay Idle
//!         ├─ buffer empty, listing ended ───► Ok(None), stay Idle
//!         └─ buffer empty, more to list ────► Pending (pool: read the next batch)
//!   Pending ─ the batch arrives ──► Idle(batch)
//!           ─ the runtime dropped the call unrun (shutting down) ──► Ended: the
//!             error once, then Ok(None)
//! ```
//!
//! A batch is [`BATCH`] entries (tokio's figure): one pool round trip (about 25 µs
//! here) per batch instead of per entry. An error from the listing ends its batch; the
//! next poll reads on after it, as `std::fs::ReadDir` does. Dropping a `ReadDir` with a
//! batch in flight lets that read finish on the pool and drops it there (closing the
//! directory).

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::fs::dir_entry::DirEntry;
use crate::fs::on_pool::{joined, on_pool, pool_available};
use crate::task::blocking::spawn_blocking;
use crate::task::join::JoinHandle;

/// Entries read per trip to the blocking pool.
const BATCH: usize = 32;

/// Opens the directory at `path` for listing its entries; the async version of
/// [`std::fs::read_dir`]. The entries come from [`ReadDir::next_entry`], in the order
/// the file system lists them, without `.` and `..`.
///
/// Opens the directory and reads the first batch of entries in one call on the
/// blocking pool (on both backends: io_uring has no opcode to list a directory).
///
/// # Errors
///
/// The errors of `std::fs::read_dir`: `NotFound`, `NotADirectory` for a file,
/// `PermissionDenied`, ...
///
/// # Examples
///
/// ```
/// # #[ringtide::main]
/// # async fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("ringtide-read-dir-{}", std::process::id()));
/// ringtide::fs::create_dir(&dir).await?;
/// std::fs::write(dir.join("a.txt"), b"a")?;
/// ringtide::fs::create_dir(dir.join("b")).await?;
///
/// let mut names = Vec::new();
/// let mut entries = ringtide::fs::read_dir(&dir).await?;
/// while let Some(entry) = entries.next_entry().await? {
///     names.push((entry.file_name(), entry.file_type().await?.is_dir()));
/// }
/// names.sort();
/// assert_eq!(names, [("a.txt".into(), false), ("b".into(), true)]);
/// ringtide::fs::remove_dir_all(&dir).await?;
/// # Ok(())
/// # }
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let batch =
        on_pool(move || std::fs::read_dir(path).map(|listing| Batch::new(listing).read())).await?;
    Ok(ReadDir {
        state: State::Idle(batch),
    })
}

/// The entries of a directory, from [`read_dir`]; the async version of
/// [`std::fs::ReadDir`].
///
/// [`next_entry`](ReadDir::next_entry) awaits the next entry;
/// [`poll_next_entry`](ReadDir::poll_next_entry) is the same for code that implements
/// `Future` or `Stream` by hand (the crate itself implements no `Stream`: it does not
/// depend on `futures-core`).
pub struct ReadDir {
    state: State,
}

enum State {
    /// Entries read and not handed out yet, and the listing to read more from.
    Idle(Batch),
    /// The next batch is being read on the blocking pool.
    Pending(JoinHandle<Batch>),
    /// The runtime dropped a batch read unrun: nothing more to list.
    Ended,
}

/// Entries read from a listing, and the listing.
struct Batch {
    entries: VecDeque<io::Result<DirEntry>>,
    listing: std::fs::ReadDir,
    /// Whether the listing may have more entries (it has not returned `None` yet).
    more: bool,
}

impl Batch {
    fn new(listing: std::fs::ReadDir) -> Batch {
        Batch {
            entries: VecDeque::with_capacity(BATCH),
            listing,
            more: true,
        }
    }

    /// Reads up to [`BATCH`] entries, stopping after an error. Blocks: on the pool.
    fn read(mut self) -> Batch {
        for _ in 0..BATCH {
            let Some(entry) = self.listing.next() else {
                self.more = false;
                break;
            };
            let failed = entry.is_err();
            self.entries.push_back(entry.map(DirEntry::from_std));
            if failed {
                break;
            }
        }
        self
    }
}

impl ReadDir {
    /// The next entry of the directory, or `None` once every entry was returned.
    ///
    /// Cancel-safe: dropping the future before it completes loses no entry (a batch
    /// being read stays in this `ReadDir`).
    ///
    /// # Errors
    ///
    /// An error reading the listing (`std::fs::ReadDir`'s item errors); later calls go
    /// on with the entries after it.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: `Ready(Ok(Some(entry)))`, `Ready(Ok(None))` once the
    /// listing has ended, or `Pending` while a batch is read on the blocking pool (the
    /// waker of `cx` is woken when it arrives).
    ///
    /// # Errors
    ///
    /// As [`next_entry`](ReadDir::next_entry); also when polled outside a runtime with
    /// I/O while a new batch is needed.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                State::Idle(batch) => {
                    if let Some(entry) = batch.entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    if !batch.more {
                        return Poll::Ready(Ok(None));
                    }
                    pool_available()?;
                    let State::Idle(batch) = std::mem::replace(&mut self.state, State::Ended)
                    else {
                        unreachable!("matched Idle above");
                    };
                    self.state = State::Pending(spawn_blocking(move || batch.read()));
                }
                State::Pending(reading) => {
                    let read = ready!(Pin::new(reading).poll(cx));
                    match joined(read) {
                        Ok(batch) => self.state = State::Idle(batch),
                        Err(error) => {
                            self.state = State::Ended;
                            return Poll::Ready(Err(error));
                        }
                    }
                }
                State::Ended => return Poll::Ready(Ok(None)),
            }
        }
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle(batch) if batch.more || !batch.entries.is_empty() => "idle",
            State::Idle(_) | State::Ended => "ended",
            State::Pending(_) => "reading a batch",
        };
        f.debug_struct("ReadDir")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
