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
//! | `backend` | `"io_uring"`, `"mio"`, `"both"` (tests only), `"auto"` | `"auto"` |
//! | `crate` | path to the ringtide crate, as a string | `"::ringtide"` |
//!
//! `backend` is reserved: it will select the runtime's I/O backend, and
//! `backend = "both"` will run a test once on each backend. For now the value
//! is validated but does not change the generated code, and the body runs
//! exactly once.
//!
//! Invalid arguments and functions are reported as compile errors pointing at
//! the offending tokens.
//!
//! [`ringtide`]: https://docs.rs/ringtide

#![warn(missing_docs)]

mod args;
mod expand;
mod item;
mod kind;

use proc_macro::TokenStream;

use crate::kind::Kind;

/// Marks an `async fn` as the program's entry point, running it on a ringtide
/// runtime.
///
/// The function must be `async` and take no parameters. Its attributes,
/// visibility and return type are kept, so `main` may return a `Result` and
/// use `?`. The attribute also works on functions not named `main`, which
/// then become synchronous functions that run their body on a fresh runtime.
///
/// # Arguments
///
/// - `flavor = "multi_thread" | "current_thread"`: the scheduler. Defaults to
///   `"multi_thread"`.
/// - `worker_threads = N`: number of worker threads, `N >= 1`. Only valid with
///   the `"multi_thread"` flavor; defaults to the runtime's choice.
/// - `backend = "io_uring" | "mio" | "auto"`: will select the I/O backend;
///   reserved for now (validated, but generates the same code as `"auto"`,
///   the default). `"both"` is only meaningful for tests and rejected here.
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
/// - `backend = "io_uring" | "mio" | "both" | "auto"`: will select the I/O
///   backend, with `"both"` running the test once on each backend; reserved
///   for now (validated, but every value generates the same code as
///   `"auto"`, the default, and the test body runs once).
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
/// # Panics
///
/// The generated test panics if the runtime cannot be built.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}
