//! Procedural macros for the [`ringtide`] async runtime.
//!
//! This crate provides the `#[ringtide::main]` and `#[ringtide::test]`
//! attributes. Use them through the `ringtide` crate (its default `macros`
//! feature re-exports them) rather than depending on this crate directly: the
//! generated code refers to `::ringtide::runtime::Builder`.
//!
//! Both attributes turn an `async fn` into a plain function that builds a
//! runtime and blocks on the function's body, mirroring tokio's macros:
//!
//! ```ignore
//! #[ringtide::main]
//! async fn main() {
//!     println!("hello from ringtide");
//! }
//! ```
//!
//! expands to
//!
//! ```ignore
//! fn main() {
//!     let body = async move {
//!         println!("hello from ringtide");
//!     };
//!     ::ringtide::runtime::Builder::new_multi_thread()
//!         .enable_all()
//!         .build()
//!         .expect("Failed building the ringtide runtime")
//!         .block_on(body);
//! }
//! ```
//!
//! # Arguments
//!
//! Both attributes accept the same comma-separated `name = value` arguments:
//!
//! | Argument | Values | Default |
//! |----------|--------|---------|
//! | `flavor` | `"multi_thread"`, `"current_thread"` | `main`: `"multi_thread"`, `test`: `"current_thread"` |
//! | `worker_threads` | integer ≥ 1, only with `flavor = "multi_thread"` | the runtime's default |
//! | `start_paused` | `true`, `false`, only with `flavor = "current_thread"` | `false` |
//! | `backend` | `"io_uring"`, `"mio"`, `"both"` (tests only), `"auto"` | `"auto"` |
//! | `name` | the runtime's name (`Builder::name`), a non-empty string | unnamed |
//! | `unhandled_panic` | `"ignore"`, only with `flavor = "current_thread"` | `"ignore"` |
//! | `crate` | path to the ringtide crate, as a string | `"::ringtide"` |
//!
//! `unhandled_panic = "ignore"` is accepted for code written for tokio; it is
//! what ringtide always does (a panic in a spawned task becomes that task's
//! `JoinError`). tokio's `"shutdown_runtime"` does not exist here: the
//! compile error says how to get the same effect.
//!
//! `backend` selects the runtime's I/O backend: `"io_uring"` and `"mio"` add
//! `.backend(::ringtide::runtime::Backend::IoUring)` (resp. `Backend::Mio`) to
//! the builder, so building the runtime fails if that backend is unavailable;
//! `"auto"` adds nothing and lets the runtime choose. `backend = "both"` runs a
//! test once on each backend: the function becomes a module of the same name
//! holding two tests, `io_uring` and `mio` (e.g. `my_test::io_uring`).
//!
//! Invalid arguments and functions are reported as compile errors pointing at
//! the offending tokens.
//!
//! [`ringtide`]: https://docs.rs/ringtide

#![warn(missing_docs)]

mod args;
mod expand;
mod flavor;
mod item;
mod kind;

use proc_macro::TokenStream;

use crate::kind::Kind;

/// Marks an `async fn` as the program's entry point, running it on a ringtide
/// runtime.
///
/// The function must be `async`; `main` itself takes no parameters. Its
/// attributes, visibility and return type are kept, so `main` may return a
/// `Result` and use `?`. The attribute also works on functions not named
/// `main`, which then become synchronous functions that run their body on a
/// fresh runtime; as with tokio, those may take parameters, `self` included
/// (a method), which the body takes ownership of.
///
/// # Arguments
///
/// - `flavor = "multi_thread" | "current_thread"`: the scheduler. Defaults to
///   `"multi_thread"`.
/// - `worker_threads = N`: number of worker threads, `N >= 1`. Only valid with
///   the `"multi_thread"` flavor; defaults to the runtime's choice.
/// - `start_paused = true | false`: calls `Builder::start_paused`, so the
///   runtime's clock starts paused. Only valid with an explicit
///   `flavor = "current_thread"`.
/// - `backend = "io_uring" | "mio" | "auto"`: the I/O backend. `"io_uring"`
///   and `"mio"` call `Builder::backend` with that backend (building the
///   runtime then fails if it is unavailable); `"auto"`, the default, lets the
///   runtime choose. `"both"` is only meaningful for tests and rejected here.
/// - `name = "..."`: names the runtime (`Builder::name`, read back with
///   `Handle::name`).
/// - `unhandled_panic = "ignore"`: accepted (with `"current_thread"`) for code
///   written for tokio; it is ringtide's only behaviour. `"shutdown_runtime"`
///   is a compile error saying what to do instead.
/// - `crate = "path"`: the path to the ringtide crate, for when it is renamed
///   or re-exported. Defaults to `"::ringtide"`.
///
/// # Examples
///
/// ```ignore
/// #[ringtide::main]
/// async fn main() {
///     println!("Hello world");
/// }
/// ```
///
/// With a single-threaded scheduler and an error return:
///
/// ```ignore
/// #[ringtide::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let port: u16 = "8080".parse()?;
///     println!("listening on {port}");
///     Ok(())
/// }
/// ```
///
/// With a fixed number of worker threads:
///
/// ```ignore
/// #[ringtide::main(flavor = "multi_thread", worker_threads = 4)]
/// async fn main() {
///     println!("Hello world");
/// }
/// ```
///
/// Using a renamed or re-exported ringtide crate:
///
/// ```ignore
/// use my_framework::ringtide as rt;
///
/// #[rt::main(crate = "rt")]
/// async fn main() {}
/// ```
///
/// # Expansion
///
/// ```ignore
/// #[ringtide::main(worker_threads = 4)]
/// async fn main() -> Result<(), MyError> {
///     body
/// }
/// ```
///
/// becomes
///
/// ```ignore
/// fn main() -> Result<(), MyError> {
///     let body = async move { body };
///     return ::ringtide::runtime::Builder::new_multi_thread()
///         .worker_threads(4)
///         .enable_all()
///         .build()
///         .expect("Failed building the ringtide runtime")
///         .block_on(body);
/// }
/// ```
///
/// # Panics
///
/// The generated code panics if the runtime cannot be built.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Marks an `async fn` as a test, running it on a ringtide runtime.
///
/// This adds `#[test]` (do not add it yourself) and runs the body on a fresh
/// runtime. The function must be `async` and take no parameters. Other
/// attributes such as `#[should_panic]` or `#[ignore]` and the return type
/// (e.g. `Result<(), E>`) are kept.
///
/// # Arguments
///
/// - `flavor = "current_thread" | "multi_thread"`: the scheduler. Defaults to
///   `"current_thread"`, so each test gets a single-threaded runtime.
/// - `worker_threads = N`: number of worker threads, `N >= 1`. Only valid with
///   an explicit `flavor = "multi_thread"`.
/// - `start_paused = true | false`: calls `Builder::start_paused`, so the
///   runtime's clock starts paused: timers fire as soon as the test has nothing
///   else to do, and `time::advance` works from the start. Only valid with the
///   `"current_thread"` flavor (the default). With `backend = "both"` it applies
///   to both tests.
/// - `backend = "io_uring" | "mio" | "both" | "auto"`: the I/O backend.
///   `"io_uring"` and `"mio"` call `Builder::backend` with that backend (the
///   test fails if it is unavailable); `"auto"`, the default, lets the runtime
///   choose. `"both"` runs the test once on each backend: the function becomes
///   a module of the same name holding two tests, `io_uring` and `mio`, each
///   with the function's attributes (`#[should_panic]`, `#[ignore]`, ...).
///   Their bodies resolve names through `use super::*;`, so items declared
///   inside an enclosing function body are not visible to them.
/// - `name = "..."`, `unhandled_panic = "ignore"`: as for
///   [`macro@main`].
/// - `crate = "path"`: the path to the ringtide crate, for when it is renamed
///   or re-exported. Defaults to `"::ringtide"`.
///
/// # Examples
///
/// ```ignore
/// #[ringtide::test]
/// async fn it_works() {
///     assert_eq!(2 + 2, 4);
/// }
/// ```
///
/// On a multi-threaded runtime:
///
/// ```ignore
/// #[ringtide::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn runs_on_many_threads() {
///     assert!(true);
/// }
/// ```
///
/// Returning a `Result` or expecting a panic:
///
/// ```ignore
/// #[ringtide::test]
/// async fn parses() -> Result<(), std::num::ParseIntError> {
///     let n: u32 = "42".parse()?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
///
/// #[ringtide::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
/// ```
///
/// On each I/O backend, as the tests `same_on_both::io_uring` and
/// `same_on_both::mio`:
///
/// ```ignore
/// #[ringtide::test(backend = "both")]
/// async fn same_on_both() {
///     assert_eq!(2 + 2, 4);
/// }
/// ```
///
/// Inside the ringtide crate itself (its own unit tests), `::ringtide` does
/// not resolve; point the macro at `crate` instead:
///
/// ```ignore
/// #[ringtide_macros::test(crate = "crate")]
/// async fn internal() {}
/// ```
///
/// # Expansion
///
/// ```ignore
/// #[ringtide::test]
/// async fn it_works() -> Result<(), MyError> {
///     body
/// }
/// ```
///
/// becomes
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// fn it_works() -> Result<(), MyError> {
///     let body = async move { body };
///     let body = ::core::pin::pin!(body);
///     let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = Result<(), MyError>>> = body;
///     return ::ringtide::runtime::Builder::new_current_thread()
///         .enable_all()
///         .build()
///         .expect("Failed building the ringtide runtime")
///         .block_on(body);
/// }
/// ```
///
/// With `backend = "both"`,
///
/// ```ignore
/// #[ringtide::test(backend = "both")]
/// #[should_panic]
/// async fn it_panics() {
///     body
/// }
/// ```
///
/// becomes
///
/// ```ignore
/// mod it_panics {
///     #[allow(unused_imports)]
///     use super::*;
///
///     #[::core::prelude::v1::test]
///     #[should_panic]
///     fn io_uring() {
///         let body = async move { body };
///         let body = ::core::pin::pin!(body);
///         let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>> = body;
///         return ::ringtide::runtime::Builder::new_current_thread()
///             .backend(::ringtide::runtime::Backend::IoUring)
///             .enable_all()
///             .build()
///             .expect("Failed building the ringtide runtime")
///             .block_on(body);
///     }
///
///     #[::core::prelude::v1::test]
///     #[should_panic]
///     fn mio() {
///         // the same, with `Backend::Mio`
///     }
/// }
/// ```
///
/// # Panics
///
/// The generated test panics if the runtime cannot be built (for example
/// when the selected backend is not available).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}
