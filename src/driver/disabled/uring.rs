//! Stand-in for the io_uring backend when it is not compiled in (not Linux, or the
//! `io-uring` feature is off). Its types are uninhabited: nothing can create them, so
//! every method is unreachable, and selection reports io_uring as unavailable.

use std::io;
use std::time::Duration;

use crate::driver::{IoCounters, RingConfig};

/// Uninhabited: there is no io_uring driver in this build.
#[derive(Debug)]
pub(crate) enum Driver {}

impl Driver {
    pub(crate) fn new(_config: RingConfig) -> io::Result<Driver> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ringtide was built without the io_uring backend",
        ))
    }

    pub(crate) fn shared(&self) -> &std::sync::Arc<remote::RingShared> {
        match *self {}
    }

    pub(crate) fn set_cores(&mut self, _cores: std::sync::Arc<crate::driver::cores::Cores>) {
        match *self {}
    }

    pub(crate) fn attach(&mut self) {
        match *self {}
    }

    pub(crate) fn detach(&mut self) {
        match *self {}
    }

    pub(crate) fn detach_and_release(&mut self) {
        match *self {}
    }

    pub(crate) fn has_unsubmitted(&self) -> bool {
        match *self {}
    }

    pub(crate) fn park(&mut self, _timeout: Option<Duration>) {
        match *self {}
    }
}

pub(crate) fn counters(shared: &remote::RingShared) -> IoCounters {
    match *shared {}
}

pub(crate) mod remote {
    /// Uninhabited: see the module doc.
    #[derive(Debug)]
    pub(crate) enum RingShared {}

    impl RingShared {
        pub(crate) fn unpark(&self) {
            match *self {}
        }
    }
}

pub(crate) mod probe {
    pub(crate) fn check() -> Result<(), String> {
        Err("ringtide was built without the io_uring backend".to_owned())
    }
}
