//! [`Interest`] and [`Ready`]: the readiness a task waits for and the readiness it was
//! woken with, for the readiness API of the stream types (`ready`, `try_read`,
//! `try_write`, ...), with tokio's names and semantics.
//!
//! Both are plain bit sets; this file knows nothing of the backends (each stream's
//! `ready` translates its backend's readiness into a [`Ready`]).

use std::fmt;
use std::ops::{BitOr, BitOrAssign, Sub};

/// The readiness a task waits for in `ready(interest)`: readable, writable or both.
///
/// ```
/// use ringtide::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Interest in reading: data to read, end of stream or an error.
    pub const READABLE: Interest = Interest(0b01);
    /// Interest in writing: room in the send buffer, a closed write half or an error.
    pub const WRITABLE: Interest = Interest(0b10);

    /// Whether the interest includes reading.
    pub const fn is_readable(self) -> bool {
        self.0 & Interest::READABLE.0 != 0
    }

    /// Whether the interest includes writing.
    pub const fn is_writable(self) -> bool {
        self.0 & Interest::WRITABLE.0 != 0
    }

    /// Both interests together (the `const` form of `|`).
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(empty)"),
        }
    }
}

/// The readiness `ready(interest)` observed: a set of the bits below.
///
/// Readiness is a hint: a read or write after it may still report `WouldBlock`
/// (someone else consumed it, or the event was spurious), and the `try_*` methods are
/// written to cope with that.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready(u8);

impl Ready {
    /// No readiness.
    pub const EMPTY: Ready = Ready(0);
    /// A read would not block.
    pub const READABLE: Ready = Ready(1 << 0);
    /// A write would not block.
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The read half is closed: the peer shut down its write side (or hung up), and
    /// reads return end of stream once the buffered bytes are read.
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// The write half is closed: writes fail.
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// Every bit.
    pub const ALL: Ready = Ready(0b1111);

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set includes [`READABLE`](Ready::READABLE) or
    /// [`READ_CLOSED`](Ready::READ_CLOSED) (a read would not block).
    pub const fn is_readable(self) -> bool {
        self.0 & (Ready::READABLE.0 | Ready::READ_CLOSED.0) != 0
    }

    /// Whether the set includes [`WRITABLE`](Ready::WRITABLE) or
    /// [`WRITE_CLOSED`](Ready::WRITE_CLOSED) (a write would not block).
    pub const fn is_writable(self) -> bool {
        self.0 & (Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0) != 0
    }

    /// Whether the set includes [`READ_CLOSED`](Ready::READ_CLOSED).
    pub const fn is_read_closed(self) -> bool {
        self.0 & Ready::READ_CLOSED.0 != 0
    }

    /// Whether the set includes [`WRITE_CLOSED`](Ready::WRITE_CLOSED).
    pub const fn is_write_closed(self) -> bool {
        self.0 & Ready::WRITE_CLOSED.0 != 0
    }

    /// The bits of `self` that `interest` asks about: the read bits for
    /// [`Interest::READABLE`], the write bits for [`Interest::WRITABLE`].
    pub(crate) const fn for_interest(self, interest: Interest) -> Ready {
        let mut mask = 0;
        if interest.is_readable() {
            mask |= Ready::READABLE.0 | Ready::READ_CLOSED.0;
        }
        if interest.is_writable() {
            mask |= Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0;
        }
        Ready(self.0 & mask)
    }
}

impl BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

/// The bits of the left set that are not in the right one.
impl Sub for Ready {
    type Output = Ready;

    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("is_readable", &self.is_readable())
            .field("is_writable", &self.is_writable())
            .field("is_read_closed", &self.is_read_closed())
            .field("is_write_closed", &self.is_write_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_combines() {
        let mut interest = Interest::READABLE;
        assert!(interest.is_readable() && !interest.is_writable());
        interest |= Interest::WRITABLE;
        assert_eq!(interest, Interest::READABLE | Interest::WRITABLE);
        assert!(interest.is_writable());
    }

    #[test]
    fn ready_bits_and_interest_mask() {
        assert!(Ready::EMPTY.is_empty());
        let ready = Ready::READ_CLOSED | Ready::WRITABLE;
        assert!(ready.is_readable() && ready.is_read_closed());
        assert!(ready.is_writable() && !ready.is_write_closed());
        assert_eq!(ready.for_interest(Interest::READABLE), Ready::READ_CLOSED);
        assert_eq!(ready.for_interest(Interest::WRITABLE), Ready::WRITABLE);
        assert_eq!(ready - Ready::READ_CLOSED, Ready::WRITABLE);
        assert_eq!(Ready::ALL - Ready::ALL, Ready::EMPTY);
        assert_eq!(
            Ready::ALL.for_interest(Interest::READABLE | Interest::WRITABLE),
            Ready::ALL
        );
    }
}
