//! Which entry-point macro is being expanded.

/// The attribute macro being expanded: `#[ringtide::main]` or `#[ringtide::test]`.
///
/// The two macros share argument parsing and code generation; this type carries
/// the few places where they differ (defaults, validation and messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[ringtide::main]`.
    Main,
    /// `#[ringtide::test]`.
    Test,
}

impl Kind {
    /// The macro's name as users write it after `ringtide::`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Main => "main",
            Kind::Test => "test",
        }
    }
}
