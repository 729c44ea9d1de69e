//! Parsing and validation of the macro arguments, e.g. the
//! `flavor = "multi_thread", worker_threads = 4` in
//! `#[ringtide::main(flavor = "multi_thread", worker_threads = 4)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitBool, LitInt, LitStr, Meta, Path, Token};

use crate::flavor::Flavor;
use crate::kind::Kind;

const WORKER_THREADS_AT_LEAST_ONE: &str = "`worker_threads` must be at least 1";

/// The argument names accepted by both macros, for error messages.
const KNOWN_ARGS: &str =
    "`flavor`, `worker_threads`, `start_paused`, `backend`, `name`, `unhandled_panic`, `crate`";

/// Why `unhandled_panic = "shutdown_runtime"` is refused, and what to do instead.
const NO_SHUTDOWN_ON_PANIC: &str = "ringtide has no `unhandled_panic = \"shutdown_runtime\"`: \
     a panic in a spawned task always becomes that task's `JoinError` and the runtime \
     keeps running (tokio's default, `\"ignore\"`); to stop on a panic, await the task's \
     `JoinHandle` and resume it with `std::panic::resume_unwind(error.into_panic())`";

/// The I/O backend requested with `backend = "..."`.
///
/// `IoUring` and `Mio` add a `.backend(<crate>::runtime::Backend::..)` call to
/// the runtime builder; `Auto` adds nothing, leaving the choice to the
/// runtime. `Both` makes `#[ringtide::test]` generate one test per backend
/// (see `expand::generate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `backend = "auto"` (the default): let the runtime pick (io_uring when
    /// the kernel supports it, mio otherwise).
    #[default]
    Auto,
    /// `backend = "io_uring"`.
    IoUring,
    /// `backend = "mio"`.
    Mio,
    /// `backend = "both"` (`#[ringtide::test]` only): run the test once per
    /// backend, as two tests named `io_uring` and `mio` in a module named
    /// after the function.
    Both,
}

impl Backend {
    const EXPECTED: &'static str = "`\"io_uring\"`, `\"mio\"`, `\"both\"` or `\"auto\"`";

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Backend::Auto),
            "io_uring" => Some(Backend::IoUring),
            "mio" => Some(Backend::Mio),
            "both" => Some(Backend::Both),
            _ => None,
        }
    }
}

/// A validated `worker_threads = N` argument.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkerThreads {
    /// The number of worker threads, at least 1.
    pub(crate) count: usize,
    /// The span of the `N` literal, so that generated code points back at it.
    pub(crate) span: Span,
}

/// A validated `start_paused = true|false` argument.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StartPaused {
    /// Whether the runtime's clock starts paused.
    pub(crate) value: bool,
    /// The span of the `true`/`false` literal, so that generated code points back at it.
    pub(crate) span: Span,
}

/// The fully parsed and validated arguments of one macro invocation.
pub(crate) struct Config {
    /// The runtime flavor (explicit or the macro's default).
    pub(crate) flavor: Flavor,
    /// `worker_threads = N`, only ever set together with [`Flavor::MultiThread`].
    pub(crate) worker_threads: Option<WorkerThreads>,
    /// `start_paused = true|false`, only ever set together with
    /// [`Flavor::CurrentThread`].
    pub(crate) start_paused: Option<StartPaused>,
    /// The requested I/O backend; never [`Backend::Both`] for `main`.
    pub(crate) backend: Backend,
    /// The span of the `backend = "..."` value, so that the generated
    /// `.backend(..)` call points back at it; the call site when absent.
    pub(crate) backend_span: Span,
    /// The path of the ringtide crate given with `crate = "..."`; `None`
    /// means the default, `::ringtide`.
    pub(crate) crate_path: Option<Path>,
    /// `name = "..."`: the runtime's name (`Builder::name`), never empty.
    pub(crate) name: Option<LitStr>,
}

/// Parses the arguments of `#[ringtide::<kind>(...)]`, failing on any error.
///
/// All problems found are reported together in the returned error.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Config> {
    match parse_lenient(kind, args) {
        (config, None) => Ok(config),
        (_, Some(error)) => Err(error),
    }
}

/// Parses the arguments of `#[ringtide::<kind>(...)]`, always producing a
/// usable [`Config`].
///
/// Invalid arguments are left at their defaults and reported in the returned
/// error (all of them, combined). Expanding the function with that config
/// alongside the error means the user sees only the argument error, not a
/// cascade of follow-up errors about the unexpanded `async fn main`.
pub(crate) fn parse_lenient(kind: Kind, args: TokenStream) -> (Config, Option<syn::Error>) {
    let mut parser = ArgsParser::new(kind);
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => {
            for meta in &metas {
                if let Err(error) = parser.arg(meta) {
                    parser.push_error(error);
                }
            }
        }
        Err(error) => parser.push_error(syn::Error::new(
            error.span(),
            format!(
                "{error}; expected arguments of the form `name = value`, \
                 e.g. `#[ringtide::{}(flavor = \"multi_thread\")]`",
                kind.name()
            ),
        )),
    }
    parser.finish()
}

/// Accumulates arguments and errors for one invocation.
struct ArgsParser {
    kind: Kind,
    flavor: Option<(Flavor, Span)>,
    worker_threads: Option<WorkerThreads>,
    start_paused: Option<StartPaused>,
    backend: Option<(Backend, Span)>,
    crate_path: Option<Path>,
    name: Option<LitStr>,
    /// The span of a valid `unhandled_panic = "ignore"`, checked against the flavor.
    unhandled_panic: Option<Span>,
    error: Option<syn::Error>,
}

impl ArgsParser {
    fn new(kind: Kind) -> Self {
        ArgsParser {
            kind,
            flavor: None,
            worker_threads: None,
            start_paused: None,
            backend: None,
            crate_path: None,
            name: None,
            unhandled_panic: None,
            error: None,
        }
    }

    fn push_error(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(existing) => existing.combine(error),
            None => self.error = Some(error),
        }
    }

    /// Handles one comma-separated argument.
    fn arg(&mut self, meta: &Meta) -> syn::Result<()> {
        let name = arg_name(meta.path())?;
        let name_str = name.to_string();
        let name_value = match meta {
            Meta::NameValue(name_value) => name_value,
            Meta::Path(_) => return Err(self.bare_word_error(&name, &name_str)),
            Meta::List(_) => {
                return Err(syn::Error::new_spanned(
                    meta,
                    format!(
                        "expected `name = value`; {}",
                        self.usage_hint(&name_str)
                            .unwrap_or_else(|| unknown_arg(&name_str))
                    ),
                ));
            }
        };
        let value = &name_value.value;
        match name_str.as_str() {
            "flavor" => {
                check_unset(self.flavor.is_some(), &name)?;
                let lit = expect_str(&name_str, value, "flavor = \"multi_thread\"")?;
                let flavor = Flavor::from_name(&lit.value()).ok_or_else(|| {
                    syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown runtime flavor `{}`; expected {}",
                            lit.value(),
                            Flavor::EXPECTED
                        ),
                    )
                })?;
                self.flavor = Some((flavor, lit.span()));
            }
            "worker_threads" => {
                check_unset(self.worker_threads.is_some(), &name)?;
                if is_negative_int(value) {
                    return Err(syn::Error::new(value.span(), WORKER_THREADS_AT_LEAST_ONE));
                }
                let lit = expect_int(&name_str, value, "worker_threads = 4")?;
                let count = lit.base10_parse::<usize>().map_err(|error| {
                    syn::Error::new(lit.span(), format!("invalid `worker_threads`: {error}"))
                })?;
                if count == 0 {
                    return Err(syn::Error::new(lit.span(), WORKER_THREADS_AT_LEAST_ONE));
                }
                self.worker_threads = Some(WorkerThreads {
                    count,
                    span: lit.span(),
                });
            }
            "start_paused" => {
                check_unset(self.start_paused.is_some(), &name)?;
                let lit = expect_bool(&name_str, value, "start_paused = true")?;
                self.start_paused = Some(StartPaused {
                    value: lit.value(),
                    span: lit.span(),
                });
            }
            "backend" => {
                check_unset(self.backend.is_some(), &name)?;
                let lit = expect_str(&name_str, value, "backend = \"io_uring\"")?;
                let backend = Backend::from_name(&lit.value()).ok_or_else(|| {
                    syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown I/O backend `{}`; expected {}",
                            lit.value(),
                            Backend::EXPECTED
                        ),
                    )
                })?;
                self.backend = Some((backend, lit.span()));
            }
            "name" => {
                check_unset(self.name.is_some(), &name)?;
                let lit = expect_str(&name_str, value, "name = \"my-runtime\"")?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "the runtime `name` must not be empty; leave `name` out for an \
                         unnamed runtime",
                    ));
                }
                self.name = Some(lit.clone());
            }
            "unhandled_panic" => {
                check_unset(self.unhandled_panic.is_some(), &name)?;
                let lit = expect_str(&name_str, value, "unhandled_panic = \"ignore\"")?;
                match lit.value().as_str() {
                    // What ringtide always does: nothing to add to the builder.
                    "ignore" => self.unhandled_panic = Some(lit.span()),
                    "shutdown_runtime" => {
                        return Err(syn::Error::new(lit.span(), NO_SHUTDOWN_ON_PANIC));
                    }
                    other => {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown `unhandled_panic` behavior `{other}`; expected \
                                 `\"ignore\"` (ringtide has no `\"shutdown_runtime\"`)"
                            ),
                        ));
                    }
                }
            }
            "crate" => {
                check_unset(self.crate_path.is_some(), &name)?;
                let lit = expect_str(&name_str, value, "crate = \"my_ringtide\"")?;
                let path = lit.parse::<Path>().map_err(|error| {
                    syn::Error::new(
                        lit.span(),
                        format!(
                            "`crate` must be a path to the ringtide crate, \
                             e.g. `crate = \"::my_ringtide\"`: {error}"
                        ),
                    )
                })?;
                self.crate_path = Some(path);
            }
            _ => return Err(syn::Error::new(name.span(), unknown_arg(&name_str))),
        }
        Ok(())
    }

    /// The error for an argument given without `= value`, e.g.
    /// `#[ringtide::main(current_thread)]`.
    fn bare_word_error(&self, name: &Ident, name_str: &str) -> syn::Error {
        let message = match self.usage_hint(name_str) {
            Some(hint) => format!("`{name_str}` requires a value; {hint}"),
            None if Flavor::from_name(name_str).is_some() => format!(
                "set the runtime flavor with `#[ringtide::{}(flavor = \"{name_str}\")]`",
                self.kind.name()
            ),
            None if Backend::from_name(name_str).is_some() => format!(
                "set the I/O backend with `#[ringtide::{}(backend = \"{name_str}\")]`",
                self.kind.name()
            ),
            None => unknown_arg(name_str),
        };
        syn::Error::new(name.span(), message)
    }

    /// How to write a known argument, or `None` for unknown names.
    fn usage_hint(&self, name: &str) -> Option<String> {
        let example = match name {
            "flavor" => "flavor = \"multi_thread\"",
            "worker_threads" => "flavor = \"multi_thread\", worker_threads = 4",
            "start_paused" => "start_paused = true",
            "backend" => "backend = \"io_uring\"",
            "name" => "name = \"my-runtime\"",
            "unhandled_panic" => "flavor = \"current_thread\", unhandled_panic = \"ignore\"",
            "crate" => "crate = \"my_ringtide\"",
            _ => return None,
        };
        Some(format!(
            "write it as `#[ringtide::{}({example})]`",
            self.kind.name()
        ))
    }

    /// Cross-argument validation; returns the final config and all errors.
    fn finish(mut self) -> (Config, Option<syn::Error>) {
        let kind = self.kind;
        let flavor = self
            .flavor
            .map_or(Flavor::default_for(kind), |(flavor, _)| flavor);

        let mut worker_threads = self.worker_threads;
        if let Some(threads) = worker_threads {
            if flavor == Flavor::CurrentThread {
                let message = if self.flavor.is_some() {
                    "`worker_threads` can only be used with `flavor = \"multi_thread\"`".to_owned()
                } else {
                    format!(
                        "`worker_threads` requires the `multi_thread` runtime flavor, but \
                         `#[ringtide::{0}]` defaults to `current_thread`; use \
                         `#[ringtide::{0}(flavor = \"multi_thread\", worker_threads = {1})]`",
                        kind.name(),
                        threads.count
                    )
                };
                self.push_error(syn::Error::new(threads.span, message));
                worker_threads = None;
            }
        }

        let mut start_paused = self.start_paused;
        if let Some(paused) = start_paused {
            if flavor == Flavor::MultiThread {
                let message = format!(
                    "the `start_paused` option requires the `current_thread` runtime \
                     flavor; use `#[ringtide::{}(flavor = \"current_thread\", \
                     start_paused = {})]`",
                    kind.name(),
                    paused.value
                );
                self.push_error(syn::Error::new(paused.span, message));
                start_paused = None;
            }
        }

        if let Some(span) = self.unhandled_panic {
            if flavor == Flavor::MultiThread {
                // As tokio: the option is a current-thread one.
                let message = format!(
                    "the `unhandled_panic` option requires the `current_thread` runtime \
                     flavor; use `#[ringtide::{}(flavor = \"current_thread\", \
                     unhandled_panic = \"ignore\")]`",
                    kind.name()
                );
                self.push_error(syn::Error::new(span, message));
            }
        }

        let (mut backend, backend_span) = self
            .backend
            .unwrap_or((Backend::default(), Span::call_site()));
        if let (Kind::Main, Some((Backend::Both, span))) = (kind, self.backend) {
            self.push_error(syn::Error::new(
                span,
                "`backend = \"both\"` is only supported by `#[ringtide::test]`: \
                 a program's `main` runs on a single runtime; \
                 use `\"io_uring\"`, `\"mio\"` or `\"auto\"`",
            ));
            backend = Backend::default();
        }

        let config = Config {
            flavor,
            worker_threads,
            start_paused,
            backend,
            backend_span,
            crate_path: self.crate_path,
            name: self.name,
        };
        (config, self.error)
    }
}

/// The argument's name, which must be a single identifier (keywords such as
/// `crate` included).
fn arg_name(path: &Path) -> syn::Result<Ident> {
    match path.get_ident() {
        Some(ident) => Ok(ident.clone()),
        None => Err(syn::Error::new_spanned(
            path,
            format!("expected an argument name, one of {KNOWN_ARGS}"),
        )),
    }
}

fn unknown_arg(name: &str) -> String {
    format!("unknown argument `{name}`; expected one of {KNOWN_ARGS}")
}

fn check_unset(already_set: bool, name: &Ident) -> syn::Result<()> {
    if already_set {
        Err(syn::Error::new(
            name.span(),
            format!("`{name}` is specified more than once"),
        ))
    } else {
        Ok(())
    }
}

/// Strips the invisible groups that `macro_rules!` wraps around `$x:expr`
/// fragments, so `#[ringtide::main(worker_threads = $n)]` works.
fn unwrap_groups(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

fn expect_str<'a>(name: &str, value: &'a Expr, example: &str) -> syn::Result<&'a LitStr> {
    match unwrap_groups(value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` expects a string literal, e.g. `{example}`"),
        )),
    }
}

fn expect_bool<'a>(name: &str, value: &'a Expr, example: &str) -> syn::Result<&'a LitBool> {
    match unwrap_groups(value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` expects `true` or `false`, e.g. `{example}`"),
        )),
    }
}

/// Whether `value` is a negative integer: `-N` (what the compiler passes) or a
/// single negative literal token (which `proc_macro2` can also produce).
fn is_negative_int(value: &Expr) -> bool {
    match unwrap_groups(value) {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => matches!(
            unwrap_groups(expr),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(_),
                ..
            })
        ),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_digits().starts_with('-'),
        _ => false,
    }
}

fn expect_int<'a>(name: &str, value: &'a Expr, example: &str) -> syn::Result<&'a LitInt> {
    match unwrap_groups(value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` expects an integer literal, e.g. `{example}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    fn ok(kind: Kind, args: TokenStream) -> Config {
        match parse(kind, args) {
            Ok(config) => config,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    /// All error messages, in order.
    fn errors(kind: Kind, args: TokenStream) -> Vec<String> {
        match parse(kind, args) {
            Ok(_) => panic!("expected an error"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn single_error(kind: Kind, args: TokenStream) -> String {
        let mut errors = errors(kind, args);
        assert_eq!(errors.len(), 1, "expected exactly one error: {errors:?}");
        errors.remove(0)
    }

    fn path_string(path: &Option<Path>) -> String {
        path.as_ref()
            .expect("a crate path")
            .to_token_stream()
            .to_string()
    }

    #[test]
    fn defaults() {
        let main = ok(Kind::Main, quote!());
        assert_eq!(main.flavor, Flavor::MultiThread);
        assert!(main.worker_threads.is_none());
        assert_eq!(main.backend, Backend::Auto);
        assert!(main.crate_path.is_none());

        let test = ok(Kind::Test, quote!());
        assert_eq!(test.flavor, Flavor::CurrentThread);
        assert!(test.worker_threads.is_none());
        assert_eq!(test.backend, Backend::Auto);
        assert!(test.crate_path.is_none());
    }

    #[test]
    fn flavors() {
        for kind in [Kind::Main, Kind::Test] {
            let config = ok(kind, quote!(flavor = "current_thread"));
            assert_eq!(config.flavor, Flavor::CurrentThread);
            let config = ok(kind, quote!(flavor = "multi_thread"));
            assert_eq!(config.flavor, Flavor::MultiThread);
        }
    }

    #[test]
    fn worker_threads() {
        let config = ok(Kind::Main, quote!(worker_threads = 4));
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|w| w.count), Some(4));

        let config = ok(
            Kind::Main,
            quote!(flavor = "multi_thread", worker_threads = 1),
        );
        assert_eq!(config.worker_threads.map(|w| w.count), Some(1));

        // Order does not matter, trailing commas and suffixes are fine.
        let config = ok(
            Kind::Test,
            quote!(worker_threads = 2usize, flavor = "multi_thread",),
        );
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|w| w.count), Some(2));
    }

    #[test]
    fn backends() {
        let cases = [
            ("auto", Backend::Auto),
            ("io_uring", Backend::IoUring),
            ("mio", Backend::Mio),
            ("both", Backend::Both),
        ];
        for (name, expected) in cases {
            let config = ok(Kind::Test, quote!(backend = #name));
            assert_eq!(config.backend, expected, "{name}");
            if expected != Backend::Both {
                let config = ok(Kind::Main, quote!(backend = #name));
                assert_eq!(config.backend, expected, "{name}");
            }
        }
    }

    #[test]
    fn crate_path() {
        let config = ok(Kind::Main, quote!(crate = "my_ringtide"));
        assert_eq!(path_string(&config.crate_path), "my_ringtide");
        let config = ok(Kind::Test, quote!(crate = "::reexports::ringtide"));
        assert_eq!(path_string(&config.crate_path), ":: reexports :: ringtide");
        let config = ok(Kind::Test, quote!(crate = "crate"));
        assert_eq!(path_string(&config.crate_path), "crate");
    }

    #[test]
    fn all_arguments() {
        let config = ok(
            Kind::Test,
            quote!(
                flavor = "multi_thread",
                worker_threads = 8,
                backend = "both",
                crate = "rt"
            ),
        );
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|w| w.count), Some(8));
        assert_eq!(config.backend, Backend::Both);
        assert_eq!(path_string(&config.crate_path), "rt");
    }

    #[test]
    fn unknown_argument() {
        let error = single_error(Kind::Main, quote!(start_pause = true));
        assert_eq!(
            error,
            "unknown argument `start_pause`; expected one of \
             `flavor`, `worker_threads`, `start_paused`, `backend`, `name`, \
             `unhandled_panic`, `crate`"
        );
    }

    #[test]
    fn runtime_name() {
        assert!(ok(Kind::Main, quote!()).name.is_none());
        let config = ok(Kind::Main, quote!(name = "my-runtime"));
        assert_eq!(config.name.unwrap().value(), "my-runtime");
        let config = ok(Kind::Test, quote!(flavor = "multi_thread", name = "tests"));
        assert_eq!(config.name.unwrap().value(), "tests");
        assert_eq!(
            single_error(Kind::Main, quote!(name = "  ")),
            "the runtime `name` must not be empty; leave `name` out for an unnamed runtime"
        );
        assert_eq!(
            single_error(Kind::Main, quote!(name = 3)),
            "`name` expects a string literal, e.g. `name = \"my-runtime\"`"
        );
        assert_eq!(
            single_error(Kind::Main, quote!(name = "a", name = "b")),
            "`name` is specified more than once"
        );
    }

    #[test]
    fn unhandled_panic_ignore_is_accepted_on_current_thread() {
        ok(Kind::Test, quote!(unhandled_panic = "ignore"));
        ok(
            Kind::Main,
            quote!(flavor = "current_thread", unhandled_panic = "ignore"),
        );
        assert_eq!(
            single_error(Kind::Main, quote!(unhandled_panic = "ignore")),
            "the `unhandled_panic` option requires the `current_thread` runtime flavor; \
             use `#[ringtide::main(flavor = \"current_thread\", unhandled_panic = \"ignore\")]`"
        );
    }

    #[test]
    fn unhandled_panic_shutdown_runtime_says_what_ringtide_does_instead() {
        let error = single_error(Kind::Test, quote!(unhandled_panic = "shutdown_runtime"));
        assert_eq!(error, NO_SHUTDOWN_ON_PANIC);
        assert!(error.contains("`JoinError`"), "{error}");
        assert!(error.contains("resume_unwind"), "{error}");
        assert_eq!(
            single_error(Kind::Test, quote!(unhandled_panic = "abort")),
            "unknown `unhandled_panic` behavior `abort`; expected `\"ignore\"` (ringtide \
             has no `\"shutdown_runtime\"`)"
        );
        assert_eq!(
            single_error(Kind::Test, quote!(unhandled_panic)),
            "`unhandled_panic` requires a value; write it as \
             `#[ringtide::test(flavor = \"current_thread\", unhandled_panic = \"ignore\")]`"
        );
    }

    #[test]
    fn start_paused() {
        let paused = |config: &Config| config.start_paused.map(|paused| paused.value);
        assert_eq!(paused(&ok(Kind::Test, quote!())), None);
        assert_eq!(
            paused(&ok(Kind::Test, quote!(start_paused = true))),
            Some(true)
        );
        assert_eq!(
            paused(&ok(Kind::Test, quote!(start_paused = false))),
            Some(false)
        );
        let config = ok(
            Kind::Main,
            quote!(start_paused = true, flavor = "current_thread"),
        );
        assert_eq!(config.flavor, Flavor::CurrentThread);
        assert_eq!(paused(&config), Some(true));
        let config = ok(
            Kind::Test,
            quote!(backend = "both", start_paused = true, crate = "rt"),
        );
        assert_eq!(config.backend, Backend::Both);
        assert_eq!(paused(&config), Some(true));
    }

    #[test]
    fn start_paused_requires_current_thread() {
        let error = single_error(
            Kind::Test,
            quote!(flavor = "multi_thread", start_paused = true),
        );
        assert_eq!(
            error,
            "the `start_paused` option requires the `current_thread` runtime flavor; \
             use `#[ringtide::test(flavor = \"current_thread\", start_paused = true)]`"
        );
        // `main` defaults to multi_thread, so the flavor must be explicit.
        let error = single_error(Kind::Main, quote!(start_paused = true));
        assert_eq!(
            error,
            "the `start_paused` option requires the `current_thread` runtime flavor; \
             use `#[ringtide::main(flavor = \"current_thread\", start_paused = true)]`"
        );
        // As tokio: even `false` is only accepted with current_thread.
        let error = single_error(
            Kind::Test,
            quote!(flavor = "multi_thread", start_paused = false),
        );
        assert!(
            error.starts_with("the `start_paused` option requires"),
            "{error}"
        );
        // The rest of the arguments is kept.
        let (config, error) = parse_lenient(
            Kind::Test,
            quote!(
                flavor = "multi_thread",
                worker_threads = 2,
                start_paused = true
            ),
        );
        assert!(error.is_some());
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert!(config.start_paused.is_none());
        assert_eq!(config.worker_threads.map(|w| w.count), Some(2));
    }

    #[test]
    fn start_paused_must_be_a_bool() {
        for value in [quote!("true"), quote!(1), quote!(yes)] {
            let error = single_error(Kind::Test, quote!(start_paused = #value));
            assert_eq!(
                error,
                "`start_paused` expects `true` or `false`, e.g. `start_paused = true`"
            );
        }
        let error = single_error(Kind::Test, quote!(start_paused));
        assert_eq!(
            error,
            "`start_paused` requires a value; write it as \
             `#[ringtide::test(start_paused = true)]`"
        );
        let error = single_error(
            Kind::Test,
            quote!(start_paused = true, start_paused = false),
        );
        assert_eq!(error, "`start_paused` is specified more than once");
    }

    #[test]
    fn argument_name_must_be_an_identifier() {
        let error = single_error(Kind::Main, quote!(a::flavor = "multi_thread"));
        assert!(error.starts_with("expected an argument name"), "{error}");
    }

    #[test]
    fn unknown_flavor() {
        let error = single_error(Kind::Main, quote!(flavor = "threaded"));
        assert_eq!(
            error,
            "unknown runtime flavor `threaded`; expected \
             `\"multi_thread\"` or `\"current_thread\"`"
        );
    }

    #[test]
    fn flavor_must_be_a_string() {
        let error = single_error(Kind::Main, quote!(flavor = multi_thread));
        assert_eq!(
            error,
            "`flavor` expects a string literal, e.g. `flavor = \"multi_thread\"`"
        );
        let error = single_error(Kind::Test, quote!(flavor = 1));
        assert!(error.starts_with("`flavor` expects a string literal"));
    }

    #[test]
    fn bare_flavor_name() {
        let error = single_error(Kind::Test, quote!(multi_thread));
        assert_eq!(
            error,
            "set the runtime flavor with `#[ringtide::test(flavor = \"multi_thread\")]`"
        );
    }

    #[test]
    fn bare_backend_name() {
        let error = single_error(Kind::Main, quote!(io_uring));
        assert_eq!(
            error,
            "set the I/O backend with `#[ringtide::main(backend = \"io_uring\")]`"
        );
    }

    #[test]
    fn known_argument_without_value() {
        let error = single_error(Kind::Main, quote!(flavor));
        assert_eq!(
            error,
            "`flavor` requires a value; write it as \
             `#[ringtide::main(flavor = \"multi_thread\")]`"
        );
        let error = single_error(Kind::Main, quote!(bogus));
        assert!(error.starts_with("unknown argument `bogus`"), "{error}");
    }

    #[test]
    fn list_syntax() {
        let error = single_error(Kind::Main, quote!(flavor("multi_thread")));
        assert_eq!(
            error,
            "expected `name = value`; write it as \
             `#[ringtide::main(flavor = \"multi_thread\")]`"
        );
        let error = single_error(Kind::Main, quote!(bogus(1)));
        assert!(
            error.starts_with("expected `name = value`; unknown argument `bogus`"),
            "{error}"
        );
    }

    #[test]
    fn unparsable_arguments() {
        let error = single_error(Kind::Main, quote!(42));
        assert!(
            error.ends_with(
                "expected arguments of the form `name = value`, \
                 e.g. `#[ringtide::main(flavor = \"multi_thread\")]`"
            ),
            "{error}"
        );
        let error = single_error(
            Kind::Test,
            quote!(flavor = "multi_thread" worker_threads = 2),
        );
        assert!(error.contains("expected arguments of the form"), "{error}");
    }

    #[test]
    fn duplicate_arguments() {
        let error = single_error(
            Kind::Main,
            quote!(flavor = "multi_thread", flavor = "current_thread"),
        );
        assert_eq!(error, "`flavor` is specified more than once");
        let error = single_error(Kind::Main, quote!(worker_threads = 1, worker_threads = 2));
        assert_eq!(error, "`worker_threads` is specified more than once");
        let error = single_error(Kind::Test, quote!(backend = "mio", backend = "mio"));
        assert_eq!(error, "`backend` is specified more than once");
        let error = single_error(Kind::Test, quote!(crate = "a", crate = "b"));
        assert_eq!(error, "`crate` is specified more than once");
    }

    #[test]
    fn worker_threads_must_be_positive() {
        let error = single_error(Kind::Main, quote!(worker_threads = 0));
        assert_eq!(error, "`worker_threads` must be at least 1");
    }

    #[test]
    fn worker_threads_must_be_an_integer() {
        let error = single_error(Kind::Main, quote!(worker_threads = "4"));
        assert_eq!(
            error,
            "`worker_threads` expects an integer literal, e.g. `worker_threads = 4`"
        );
        let error = single_error(Kind::Main, quote!(worker_threads = 4.5));
        assert!(
            error.starts_with("`worker_threads` expects an integer literal"),
            "{error}"
        );
        let error = single_error(Kind::Main, quote!(worker_threads = n));
        assert!(
            error.starts_with("`worker_threads` expects an integer literal"),
            "{error}"
        );
    }

    #[test]
    fn worker_threads_must_not_be_negative() {
        use proc_macro2::{Literal, Punct, Spacing, TokenTree};
        // A single negative literal token, as `quote!` builds it ...
        let error = single_error(Kind::Main, quote!(worker_threads = -1));
        assert_eq!(error, "`worker_threads` must be at least 1");
        // ... and `-` followed by a literal, as rustc passes it.
        let minus = TokenTree::Punct(Punct::new('-', Spacing::Alone));
        let one = TokenTree::Literal(Literal::usize_unsuffixed(1));
        let error = single_error(Kind::Main, quote!(worker_threads = #minus #one));
        assert_eq!(error, "`worker_threads` must be at least 1");
    }

    #[test]
    fn worker_threads_must_fit_usize() {
        let error = single_error(
            Kind::Main,
            quote!(worker_threads = 100000000000000000000000000000),
        );
        assert!(error.starts_with("invalid `worker_threads`"), "{error}");
        // A type suffix is ignored: the generated call uses an unsuffixed literal.
        let config = ok(Kind::Main, quote!(worker_threads = 4u8));
        assert_eq!(config.worker_threads.map(|w| w.count), Some(4));
    }

    #[test]
    fn worker_threads_requires_multi_thread() {
        let error = single_error(
            Kind::Main,
            quote!(flavor = "current_thread", worker_threads = 2),
        );
        assert_eq!(
            error,
            "`worker_threads` can only be used with `flavor = \"multi_thread\"`"
        );
        // `test` defaults to current_thread, so the flavor must be explicit.
        let error = single_error(Kind::Test, quote!(worker_threads = 2));
        assert_eq!(
            error,
            "`worker_threads` requires the `multi_thread` runtime flavor, but \
             `#[ringtide::test]` defaults to `current_thread`; use \
             `#[ringtide::test(flavor = \"multi_thread\", worker_threads = 2)]`"
        );
    }

    #[test]
    fn unknown_backend() {
        let error = single_error(Kind::Test, quote!(backend = "epoll"));
        assert_eq!(
            error,
            "unknown I/O backend `epoll`; expected \
             `\"io_uring\"`, `\"mio\"`, `\"both\"` or `\"auto\"`"
        );
        let error = single_error(Kind::Test, quote!(backend = io_uring));
        assert_eq!(
            error,
            "`backend` expects a string literal, e.g. `backend = \"io_uring\"`"
        );
    }

    #[test]
    fn backend_both_is_test_only() {
        let error = single_error(Kind::Main, quote!(backend = "both"));
        assert!(
            error.starts_with("`backend = \"both\"` is only supported by `#[ringtide::test]`"),
            "{error}"
        );
    }

    #[test]
    fn invalid_crate_path() {
        let error = single_error(Kind::Main, quote!(crate = "not a path"));
        assert!(
            error.starts_with("`crate` must be a path to the ringtide crate"),
            "{error}"
        );
        let error = single_error(Kind::Main, quote!(crate = ringtide));
        assert_eq!(
            error,
            "`crate` expects a string literal, e.g. `crate = \"my_ringtide\"`"
        );
    }

    #[test]
    fn all_errors_are_reported() {
        let errors = errors(
            Kind::Main,
            quote!(
                flavor = "bogus",
                worker_threads = 0,
                nope = 1,
                backend = "both"
            ),
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("unknown runtime flavor"));
        assert!(errors[1].starts_with("`worker_threads` must be at least 1"));
        assert!(errors[2].starts_with("unknown argument `nope`"));
        assert!(errors[3].starts_with("`backend = \"both\"`"));
    }

    #[test]
    fn lenient_parse_keeps_valid_arguments() {
        let (config, error) = parse_lenient(
            Kind::Main,
            quote!(
                flavor = "current_thread",
                worker_threads = 2,
                backend = "both",
                crate = "rt",
                bogus = 1
            ),
        );
        let messages: Vec<String> = error
            .expect("errors")
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        // Valid arguments are kept, invalid ones fall back to defaults.
        assert_eq!(config.flavor, Flavor::CurrentThread);
        assert!(config.worker_threads.is_none());
        assert_eq!(config.backend, Backend::Auto);
        assert_eq!(path_string(&config.crate_path), "rt");
    }

    #[test]
    fn macro_rules_groups_are_unwrapped() {
        use proc_macro2::{Delimiter, Group, Literal, TokenTree};
        // What `macro_rules!` produces for `worker_threads = $n` with `$n:expr`.
        let n = TokenTree::Group(Group::new(
            Delimiter::None,
            TokenTree::Literal(Literal::usize_unsuffixed(3)).into(),
        ));
        let config = ok(Kind::Main, quote!(worker_threads = #n));
        assert_eq!(config.worker_threads.map(|w| w.count), Some(3));
    }
}
