//! [`Flavor`]: which scheduler the runtime built by the macro uses.

use crate::kind::Kind;

/// The scheduler flavor of the runtime built by the macro.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `flavor = "multi_thread"`: `Builder::new_multi_thread()`.
    MultiThread,
    /// `flavor = "current_thread"`: `Builder::new_current_thread()`.
    CurrentThread,
}

impl Flavor {
    pub(crate) const EXPECTED: &'static str = "`\"multi_thread\"` or `\"current_thread\"`";

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "multi_thread" => Some(Flavor::MultiThread),
            "current_thread" => Some(Flavor::CurrentThread),
            _ => None,
        }
    }

    /// The flavor used when no `flavor = "..."` argument is given (same defaults as
    /// tokio): multi-thread for `#[ringtide::main]`, current-thread for tests.
    pub(crate) fn default_for(kind: Kind) -> Flavor {
        match kind {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}
