//! The handle through which one I/O object (a pipe, a socket) waits for readiness.
//!
//! A [`Registration`] is created by [`Shared::register_raw`] and owned by the I/O
//! object that wraps the registered fd. It holds the object's readiness cell, whose
//! protocol is described in [`scheduled_io`](super::scheduled_io), the driver's shared
//! half, and the registered source (`super::source`), through which every
//! non-blocking call on the fd is made ([`Registration::try_io`]: on Windows, mio's
//! emulated readiness is re-armed only by a `WouldBlock` it sees).
//!
//! An operation in one direction runs as follows (what [`Registration::poll_io`] does):
//!
//! ```text
//!   poll_ready ──Pending──► (the driver wakes the task on the next edge) ──► poll_ready
//!       │
//!     Ready(event)
//!       ▼
//!   non-blocking syscall (through try_io) ──Ok / other Err──► done
//!       │
//!   WouldBlock
//!       ▼
//!   clear_readiness(event) ──► poll_ready again
//! ```
//!
//! Dropping a `Registration` removes its cell from the driver, so later events for its
//! token are ignored; the owner deregisters the fd ([`Registration::deregister`])
//! before handing it out, or lets closing it remove it from the selector.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::Shared;
use super::scheduled_io::ScheduledIo;
pub(crate) use super::scheduled_io::{Direction, ReadinessWaiter, ReadyEvent};
use super::source::RawSource;

/// The registration of one I/O object with a driver (see the module documentation).
#[derive(Debug)]
pub(crate) struct Registration {
    io: Arc<ScheduledIo>,
    shared: Arc<Shared>,
    /// The registered fd; `None` only for sources the caller keeps (tests).
    source: Option<RawSource>,
}

impl Registration {
    /// Wraps a readiness cell that `shared` has just registered, with its source.
    pub(super) fn new(
        io: Arc<ScheduledIo>,
        shared: Arc<Shared>,
        source: Option<RawSource>,
    ) -> Registration {
        Registration { io, shared, source }
    }

    /// Makes `call`, one non-blocking syscall on the registered fd, the way mio's
    /// contract asks (on Windows through mio's `try_io`, so that a `WouldBlock` re-arms
    /// the emulated readiness; elsewhere directly). Every syscall on a registered fd
    /// goes through here.
    pub(crate) fn try_io<R>(&self, call: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        match &self.source {
            Some(source) => source.try_io(call),
            None => call(),
        }
    }

    /// Whether a read that returned fewer bytes than it asked for shows the fd
    /// drained, so that its readiness may be cleared without another syscall (see
    /// `super::source`): true on Unix, false on Windows.
    pub(crate) fn short_read_drains(&self) -> bool {
        super::source::SHORT_READ_DRAINS
    }

    /// Ready when the I/O object is readable (for [`Direction::Read`]) or writable (for
    /// [`Direction::Write`]), or when that half is closed or an error is pending: the
    /// next syscall then surfaces it. Otherwise stores `cx`'s waker for the direction
    /// and returns `Pending`.
    ///
    /// For `poll_*`-style callers, which keep no state between calls: there is one
    /// such waker per direction, replacing a previous one that would not wake the same
    /// task. Futures, of which several may wait at once, use
    /// [`waiter`](Registration::waiter); both are woken by the same event.
    ///
    /// Fails once the driver has shut down.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(cx, direction)
    }

    /// A waiter for `direction`, for a future to keep across its polls: any number may
    /// wait at once, every one is woken by the direction's next event, and dropping
    /// one takes it off the list.
    pub(crate) fn waiter(&self, direction: Direction) -> ReadinessWaiter<'_> {
        ReadinessWaiter::new(&self.io, direction)
    }

    /// The direction's readiness now, without storing a waker (for `try_*` calls that
    /// do not wait): `None` when there is none; an error once the driver has shut down.
    pub(crate) fn ready_event(&self, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        self.io.ready_event(direction)
    }

    /// After a syscall returned `WouldBlock`: clears the readiness `event` reported,
    /// unless a new readiness event arrived since it was observed.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
    }

    /// Runs `operation` (a non-blocking syscall) once the direction is ready; when it
    /// returns `WouldBlock`, clears the readiness and waits again. Returns the first
    /// result that is not `WouldBlock`.
    ///
    /// It spends no cooperative budget (the driver knows nothing of tasks): callers do,
    /// before calling it (`net`'s `Socket::poll_io`).
    #[cfg_attr(
        any(not(test), not(unix)),
        allow(
            dead_code,
            reason = "net's poll path runs its own loop (short-read clears); only the \
                      Unix unit tests call it"
        )
    )]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.poll_ready(cx, direction))?;
            match self.try_io(&mut operation) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(event);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Deregisters the fd from the driver: the selector stops reporting it and events
    /// already collected are ignored. Waiting tasks are not woken.
    pub(crate) fn deregister(&self) -> io::Result<()> {
        let result = match &self.source {
            Some(source) => source.deregister(&self.shared.registry),
            None => Ok(()),
        };
        self.shared.remove(&self.io);
        result
    }

    /// [`deregister`](Registration::deregister) for a source the caller kept (tests).
    #[cfg(all(test, unix))]
    fn deregister_source(&self, source: &mut impl ::mio::event::Source) -> io::Result<()> {
        let result = self.shared.registry.deregister(source);
        self.shared.remove(&self.io);
        result
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.remove(&self.io);
    }
}

// The tests drive mio's Unix pipes and sockets.
#[cfg(all(test, unix))]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::SeqCst;
    use std::task::{Wake, Waker};
    use std::time::Duration;

    use ::mio::Interest;
    use ::mio::net::UnixStream;
    use ::mio::unix::pipe;

    use super::super::Driver;
    use super::super::scheduled_io::Ready;
    use super::*;

    /// Long enough never to expire when the expected event comes; it only bounds how
    /// long a broken test takes to fail.
    const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker {
        wakes: AtomicUsize,
    }

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        (Arc::clone(&counter), Waker::from(Arc::clone(&counter)))
    }

    fn wakes(counter: &CountingWaker) -> usize {
        counter.wakes.load(SeqCst)
    }

    fn expect_ready(poll: Poll<io::Result<ReadyEvent>>) -> ReadyEvent {
        match poll {
            Poll::Ready(Ok(event)) => event,
            other => panic!("expected readiness, got {other:?}"),
        }
    }

    fn read_all_available(receiver: &mut pipe::Receiver) -> Vec<u8> {
        let mut data = Vec::new();
        let mut buffer = [0; 64];
        loop {
            match receiver.read(&mut buffer) {
                Ok(0) => return data,
                Ok(read) => data.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return data,
                Err(error) => panic!("read failed: {error}"),
            }
        }
    }

    #[test]
    fn read_readiness_wakes_then_clears() {
        let mut driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);

        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        sender.write_all(b"hello").unwrap();
        driver.park(Some(EVENT_TIMEOUT));
        assert_eq!(wakes(&counter), 1);

        let event = expect_ready(registration.poll_ready(&mut cx, Direction::Read));
        assert!(event.ready().contains(Ready::READABLE));
        let mut buffer = [0; 16];
        assert_eq!(receiver.read(&mut buffer).unwrap(), 5);
        assert_eq!(&buffer[..5], b"hello");
        let error = receiver.read(&mut buffer).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        registration.clear_readiness(event);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        assert_eq!(driver.shared().metrics().events(), 1);
    }

    #[test]
    fn poll_io_waits_through_would_block() {
        let mut driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut buffer = [0; 16];
        let mut attempts = 0;

        // Pending without a syscall: no readiness yet.
        let poll = registration.poll_io(&mut cx, Direction::Read, || {
            attempts += 1;
            receiver.read(&mut buffer)
        });
        assert!(poll.is_pending());
        assert_eq!(attempts, 0);

        sender.write_all(b"abc").unwrap();
        driver.park(Some(EVENT_TIMEOUT));
        assert_eq!(wakes(&counter), 1);
        let poll = registration.poll_io(&mut cx, Direction::Read, || receiver.read(&mut buffer));
        assert!(matches!(poll, Poll::Ready(Ok(3))));

        // Readiness is still set: the syscall runs, would block, and the call waits.
        let poll = registration.poll_io(&mut cx, Direction::Read, || {
            attempts += 1;
            receiver.read(&mut buffer)
        });
        assert!(poll.is_pending());
        assert_eq!(attempts, 1);
    }

    #[test]
    fn readiness_arriving_before_the_clear_is_kept() {
        let mut driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let (_counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);

        sender.write_all(b"first").unwrap();
        driver.park(Some(EVENT_TIMEOUT));
        let observed = expect_ready(registration.poll_ready(&mut cx, Direction::Read));
        assert_eq!(read_all_available(&mut receiver), b"first");

        // A new edge is dispatched between the WouldBlock and the clear.
        sender.write_all(b"second").unwrap();
        driver.park(Some(EVENT_TIMEOUT));
        registration.clear_readiness(observed);

        let current = expect_ready(registration.poll_ready(&mut cx, Direction::Read));
        assert_ne!(current, observed);
        assert_eq!(read_all_available(&mut receiver), b"second");
        registration.clear_readiness(current);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
    }

    #[test]
    fn a_fresh_socket_is_writable_after_one_poll() {
        let mut driver = Driver::new(16).unwrap();
        let (mut socket, _peer) = UnixStream::pair().unwrap();
        let registration = driver
            .shared()
            .register(&mut socket, Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);

        // The selector reports the registration's current state on the first poll.
        driver.park(Some(Duration::ZERO));
        let event = expect_ready(registration.poll_ready(&mut cx, Direction::Write));
        assert!(event.ready().contains(Ready::WRITABLE));
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        let poll = registration.poll_io(&mut cx, Direction::Write, || socket.write(b"ping"));
        assert!(matches!(poll, Poll::Ready(Ok(4))));
        assert_eq!(wakes(&counter), 0);
    }

    #[test]
    fn peer_hang_up_makes_reads_ready_with_end_of_file() {
        let mut driver = Driver::new(16).unwrap();
        let (mut socket, peer) = UnixStream::pair().unwrap();
        let registration = driver
            .shared()
            .register(&mut socket, Interest::READABLE)
            .unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);

        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        drop(peer);
        driver.park(Some(EVENT_TIMEOUT));
        assert_eq!(wakes(&counter), 1);
        let event = expect_ready(registration.poll_ready(&mut cx, Direction::Read));
        assert!(event.ready().contains(Ready::READ_CLOSED));
        let mut buffer = [0; 8];
        assert_eq!(socket.read(&mut buffer).unwrap(), 0);

        // A hang-up survives clearing: end of file is final.
        registration.clear_readiness(event);
        let event = expect_ready(registration.poll_ready(&mut cx, Direction::Read));
        assert!(event.ready().contains(Ready::READ_CLOSED));
    }

    #[test]
    fn events_after_deregistration_are_ignored() {
        let mut driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        assert_eq!(driver.shared().metrics().registered(), 1);
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );

        registration.deregister_source(&mut receiver).unwrap();
        assert_eq!(driver.shared().metrics().registered(), 0);
        sender.write_all(b"late").unwrap();
        driver.park(Some(Duration::ZERO));
        assert_eq!(wakes(&counter), 0);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );

        // Dropping after deregistering removes nothing twice.
        drop(registration);
        assert_eq!(driver.shared().metrics().registered(), 0);
        assert_eq!(driver.shared().metrics().events(), 0);
    }

    #[test]
    fn a_stale_token_does_not_reach_the_registration_reusing_its_key() {
        let mut driver = Driver::new(16).unwrap();
        let (mut old_sender, mut old_receiver) = pipe::new().unwrap();
        let old = driver
            .shared()
            .register(&mut old_receiver, Interest::READABLE)
            .unwrap();
        let old_token = old.io.token();
        // Dropped without deregistering: the selector still reports the old token.
        drop(old);

        let (_new_sender, mut new_receiver) = pipe::new().unwrap();
        let new = driver
            .shared()
            .register(&mut new_receiver, Interest::READABLE)
            .unwrap();
        let new_token = new.io.token();
        assert_eq!(
            old_token.0 & super::super::KEY_MASK,
            new_token.0 & super::super::KEY_MASK
        );
        assert_ne!(old_token, new_token);

        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(new.poll_ready(&mut cx, Direction::Read).is_pending());
        old_sender.write_all(b"stale").unwrap();
        driver.park(Some(Duration::ZERO));
        assert!(
            driver.events.iter().any(|event| event.token() == old_token),
            "the selector should still report the old token"
        );
        assert_eq!(wakes(&counter), 0);
        assert!(new.poll_ready(&mut cx, Direction::Read).is_pending());
        assert_eq!(driver.shared().metrics().events(), 0);
    }

    fn assert_shutdown_error(poll: Poll<io::Result<ReadyEvent>>) {
        match poll {
            Poll::Ready(Err(error)) => {
                assert_eq!(error.kind(), io::ErrorKind::Other);
                assert_eq!(
                    error.to_string(),
                    "the ringtide runtime driving this I/O object has shut down"
                );
            }
            other => panic!("expected the shut-down error, got {other:?}"),
        }
    }

    #[test]
    fn shutdown_wakes_waiters_and_fails_them() {
        let driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let reader = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let writer = driver
            .shared()
            .register(&mut sender, Interest::WRITABLE)
            .unwrap();
        let (read_counter, read_waker) = counting_waker();
        let (write_counter, write_waker) = counting_waker();
        assert!(
            reader
                .poll_ready(&mut Context::from_waker(&read_waker), Direction::Read)
                .is_pending()
        );
        assert!(
            writer
                .poll_ready(&mut Context::from_waker(&write_waker), Direction::Write)
                .is_pending()
        );

        driver.shared().shutdown();
        assert_eq!(wakes(&read_counter), 1);
        assert_eq!(wakes(&write_counter), 1);
        let mut cx = Context::from_waker(&read_waker);
        assert_shutdown_error(reader.poll_ready(&mut cx, Direction::Read));
        assert_shutdown_error(writer.poll_ready(&mut cx, Direction::Write));

        let (_other_sender, mut other_receiver) = pipe::new().unwrap();
        let error = driver
            .shared()
            .register(&mut other_receiver, Interest::READABLE)
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Other);
    }

    #[test]
    fn dropping_the_driver_shuts_it_down() {
        let driver = Driver::new(16).unwrap();
        let (_sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        drop(driver);
        assert_eq!(wakes(&counter), 1);
        assert_shutdown_error(registration.poll_ready(&mut cx, Direction::Read));
    }

    #[test]
    fn a_waker_that_would_wake_the_same_task_is_kept() {
        let mut driver = Driver::new(16).unwrap();
        let (mut sender, mut receiver) = pipe::new().unwrap();
        let registration = driver
            .shared()
            .register(&mut receiver, Interest::READABLE)
            .unwrap();
        let (first_counter, first_waker) = counting_waker();
        let (second_counter, second_waker) = counting_waker();

        let mut cx = Context::from_waker(&first_waker);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );
        // A different task takes over the read direction.
        let mut cx = Context::from_waker(&second_waker);
        assert!(
            registration
                .poll_ready(&mut cx, Direction::Read)
                .is_pending()
        );

        sender.write_all(b"x").unwrap();
        driver.park(Some(EVENT_TIMEOUT));
        assert_eq!(wakes(&first_counter), 0);
        assert_eq!(wakes(&second_counter), 1);
    }
}
