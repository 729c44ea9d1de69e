//! Code generation: turning `async fn main() { body }` into a synchronous
//! function that builds a runtime and blocks on `body`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{AttrStyle, ItemFn, Path, PathSegment, ReturnType};

use crate::args::{self, Backend, Config};
use crate::flavor::Flavor;
use crate::item;
use crate::kind::Kind;

/// Expands `#[ringtide::<kind>(args)] item`.
///
/// Never panics: every problem becomes a `compile_error!` at the offending
/// span. When only the arguments are wrong, the function is still expanded
/// (with the invalid arguments at their defaults) so the user sees just the
/// argument error instead of follow-up errors such as "`main` function is not
/// allowed to be `async`". When the function itself is unusable it is emitted
/// unchanged next to the error, which keeps IDE features working inside it.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let (config, args_error) = args::parse_lenient(kind, args);

    let func = item::parse(kind, item.clone()).and_then(|func| {
        item::validate(kind, &func)?;
        Ok(func)
    });

    match func {
        Ok(func) => {
            let expanded = generate(kind, &config, func);
            let errors = args_error.map(|error| error.to_compile_error());
            quote! {
                #expanded
                #errors
            }
        }
        Err(mut error) => {
            if let Some(args_error) = args_error {
                let mut combined = args_error;
                combined.combine(error);
                error = combined;
            }
            let errors = error.to_compile_error();
            quote! {
                #item
                #errors
            }
        }
    }
}

/// Generates the synchronous function for a validated `async fn`.
///
/// The shape (for `#[ringtide::main(worker_threads = 4, backend = "mio")]`) is:
///
/// ```ignore
/// #(#attrs)*
/// #vis fn main() -> #output {
///     let body = async move #block;
///     #[allow(clippy::expect_used, clippy::diverging_sub_expression, clippy::needless_return)]
///     {
///         return ::ringtide::runtime::Builder::new_multi_thread()
///             .worker_threads(4)
///             .backend(::ringtide::runtime::Backend::Mio)
///             .enable_all()
///             .build()
///             .expect("Failed building the ringtide runtime")
///             .block_on(body);
///     }
/// }
/// ```
///
/// `backend = "io_uring"` gives `.backend(..::Backend::IoUring)` instead;
/// `backend = "auto"` (the default) adds no `.backend(..)` call at all.
/// `start_paused = true|false` adds `.start_paused(true|false)` after
/// `.enable_all()` (current-thread only, see `args`).
///
/// Tests additionally get `#[::core::prelude::v1::test]` as their first
/// attribute, and pin the body behind `Pin<&mut dyn Future<Output = #output>>`
/// (as tokio does) so that every test shares one `block_on` instantiation
/// instead of monomorphizing it per test.
///
/// A test with `backend = "both"` becomes a module named after the function,
/// holding one such test per backend, each with all of the function's
/// attributes and its own copy of the body (a future runs only once):
///
/// ```ignore
/// #vis mod #name {
///     #[allow(unused_imports)]
///     use super::*;
///
///     #[::core::prelude::v1::test]
///     #(#attrs)*
///     fn io_uring() -> #output {
///         /* the test body above, with `.backend(..::Backend::IoUring)` */
///     }
///
///     #[::core::prelude::v1::test]
///     #(#attrs)*
///     fn mio() -> #output {
///         /* the test body above, with `.backend(..::Backend::Mio)` */
///     }
/// }
/// ```
///
/// A `crate = "self::.."` or `crate = "super::.."` path is adjusted for the
/// extra module level.
pub(crate) fn generate(kind: Kind, config: &Config, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;

    // Inner attributes of the body (`#![allow(..)]`) are not allowed on the
    // `async` block the body moves into; apply them to the function instead.
    let attrs: Vec<_> = attrs
        .into_iter()
        .map(|mut attr| {
            attr.style = AttrStyle::Outer;
            attr
        })
        .collect();

    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));

    // Diagnostics about the runtime call (e.g. "mismatched types" when the
    // body's value does not match the return type) point at the closing brace
    // of the user's body, as tokio does. The `body` identifier keeps the
    // call-site hygiene (only its location is moved) so that it always
    // resolves to our own `let body`, even when the function comes out of a
    // `macro_rules!` whose tokens have different hygiene.
    let span = block.brace_token.span.close();
    let body_ident = Ident::new("body", Span::call_site().located_at(span));

    let both = kind == Kind::Test && config.backend == Backend::Both;

    // The default path gets the same span as the rest of the runtime call, as
    // in tokio, so that errors about the call point at the user's code.
    let crate_path = match &config.crate_path {
        Some(path) if both => path_from_child_module(path).to_token_stream(),
        Some(path) => path.to_token_stream(),
        None => quote_spanned!(span=> ::ringtide),
    };
    let constructor = match config.flavor {
        Flavor::MultiThread => quote_spanned!(span=> new_multi_thread),
        Flavor::CurrentThread => quote_spanned!(span=> new_current_thread),
    };
    let worker_threads = config.worker_threads.map(|threads| {
        let mut count = Literal::usize_unsuffixed(threads.count);
        count.set_span(threads.span);
        quote_spanned!(threads.span=> .worker_threads(#count))
    });
    let start_paused = config.start_paused.map(|paused| {
        let value = syn::LitBool::new(paused.value, paused.span);
        quote_spanned!(paused.span=> .start_paused(#value))
    });

    let name = config
        .name
        .as_ref()
        .map(|name| quote_spanned!(name.span()=> .name(#name)));

    let body = match kind {
        Kind::Main => quote! {
            let body = async move #block;
        },
        Kind::Test => {
            let output = match &sig.output {
                // `()` must be spelled out as the `Output` of the trait object.
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => ty.to_token_stream(),
            };
            // Spanned like the runtime call, so that a body whose value does not
            // match the return type is reported at the body's closing brace.
            let pinned = quote_spanned! {span=>
                let #body_ident = ::core::pin::pin!(#body_ident);
                let #body_ident: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #output>> =
                    #body_ident;
            };
            quote! {
                let body = async move #block;
                #pinned
            }
        }
    };

    // The block that builds the runtime (selecting `backend`, if any) and
    // runs the body on it.
    let run = |backend: Backend| {
        let variant = match backend {
            Backend::Auto | Backend::Both => None,
            Backend::IoUring => Some(quote_spanned!(config.backend_span=> IoUring)),
            Backend::Mio => Some(quote_spanned!(config.backend_span=> Mio)),
        };
        let backend = variant.map(|variant| {
            quote_spanned! {config.backend_span=>
                .backend(#crate_path::runtime::Backend::#variant)
            }
        });
        quote_spanned! {span=>
            #[allow(
                clippy::expect_used,
                clippy::diverging_sub_expression,
                clippy::needless_return
            )]
            {
                return #crate_path::runtime::Builder::#constructor()
                    #worker_threads
                    #backend
                    #name
                    .enable_all()
                    #start_paused
                    .build()
                    .expect("Failed building the ringtide runtime")
                    .block_on(#body_ident);
            }
        }
    };

    if !both {
        // `Both` only reaches here for `main` if `generate` is called with a
        // config that `args` would have rejected; run once, like `Auto`.
        let run = run(config.backend);
        return quote! {
            #test_attr
            #(#attrs)*
            #vis #sig {
                #body
                #run
            }
        };
    }

    let name = sig.ident.clone();
    let tests =
        [(Backend::IoUring, "io_uring"), (Backend::Mio, "mio")].map(|(backend, fn_name)| {
            let mut sig = sig.clone();
            sig.ident = Ident::new(fn_name, name.span());
            let run = run(backend);
            quote! {
                #test_attr
                #(#attrs)*
                #sig {
                    #body
                    #run
                }
            }
        });
    quote! {
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;

            #(#tests)*
        }
    }
}

/// Rewrites a `crate = "..."` path for use one module level deeper (inside
/// the module generated for `backend = "both"`): `self::a` becomes
/// `super::a` and `super::a` becomes `super::super::a`. Other paths
/// (`::a`, `crate::a`, `a`) resolve the same there, the last one through the
/// module's `use super::*;`.
fn path_from_child_module(path: &Path) -> Path {
    let mut path = path.clone();
    if path.leading_colon.is_some() {
        return path;
    }
    let Some(first) = path.segments.first_mut() else {
        return path;
    };
    if first.ident == "self" {
        first.ident = Ident::new("super", first.ident.span());
    } else if first.ident == "super" {
        let span = first.ident.span();
        path.segments
            .insert(0, PathSegment::from(Ident::new("super", span)));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares token streams, ignoring whitespace and token spacing
    /// (`>>` vs `> >`).
    fn assert_tokens_eq(actual: TokenStream, expected: TokenStream) {
        let normalize = |tokens: TokenStream| tokens.to_string().replace(' ', "");
        assert_eq!(normalize(actual), normalize(expected));
    }

    /// The `compile_error!` messages in an expansion.
    fn compile_errors(tokens: &TokenStream) -> Vec<String> {
        let file: syn::File = syn::parse2(tokens.clone()).expect("expansion parses as items");
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Macro(mac)
                    if mac
                        .mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|segment| segment.ident == "compile_error") =>
                {
                    Some(mac.mac.tokens.to_string())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn main_default() {
        let expanded = expand(
            Kind::Main,
            quote!(),
            quote! {
                async fn main() {
                    println!("hello");
                }
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                fn main() {
                    let body = async move {
                        println!("hello");
                    };
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_multi_thread()
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn main_with_all_arguments_and_result() {
        let expanded = expand(
            Kind::Main,
            quote!(
                flavor = "multi_thread",
                worker_threads = 4,
                backend = "io_uring",
                crate = "rt"
            ),
            quote! {
                /// Docs.
                #[allow(unused)]
                pub async fn main() -> Result<(), std::io::Error> {
                    #![allow(unreachable_code)]
                    return Ok(());
                }
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                /// Docs.
                #[allow(unused)]
                #[allow(unreachable_code)]
                pub fn main() -> Result<(), std::io::Error> {
                    let body = async move {
                        return Ok(());
                    };
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return rt::runtime::Builder::new_multi_thread()
                            .worker_threads(4)
                            .backend(rt::runtime::Backend::IoUring)
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn main_current_thread() {
        let expanded = expand(
            Kind::Main,
            quote!(flavor = "current_thread"),
            quote!(
                async fn main() {}
            ),
        );
        let expanded = expanded.to_string();
        assert!(
            expanded.contains(":: ringtide :: runtime :: Builder :: new_current_thread ()"),
            "{expanded}"
        );
        assert!(!expanded.contains("worker_threads"), "{expanded}");
    }

    #[test]
    fn test_default() {
        let expanded = expand(
            Kind::Test,
            quote!(),
            quote! {
                #[should_panic(expected = "boom")]
                async fn it_panics() {
                    panic!("boom");
                }
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                #[::core::prelude::v1::test]
                #[should_panic(expected = "boom")]
                fn it_panics() {
                    let body = async move {
                        panic!("boom");
                    };
                    let body = ::core::pin::pin!(body);
                    let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>> = body;
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn test_multi_thread_with_result() {
        let expanded = expand(
            Kind::Test,
            quote!(flavor = "multi_thread", worker_threads = 2),
            quote! {
                async fn it_works() -> Result<(), String> {
                    Err("nope".into())
                }
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                #[::core::prelude::v1::test]
                fn it_works() -> Result<(), String> {
                    let body = async move {
                        Err("nope".into())
                    };
                    let body = ::core::pin::pin!(body);
                    let body: ::core::pin::Pin<
                        &mut dyn ::core::future::Future<Output = Result<(), String> >
                    > = body;
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_multi_thread()
                            .worker_threads(2)
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn worker_threads_suffix_is_dropped() {
        let expanded = expand(
            Kind::Main,
            quote!(worker_threads = 3usize),
            quote!(
                async fn main() {}
            ),
        );
        assert!(
            expanded.to_string().contains(". worker_threads (3)"),
            "{expanded}"
        );
    }

    #[test]
    fn argument_errors_still_expand_the_function() {
        let expanded = expand(
            Kind::Main,
            quote!(flavor = "bogus", worker_threads = 2, crate = "rt"),
            quote!(
                async fn main() {}
            ),
        );
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("unknown runtime flavor `bogus`"),
            "{errors:?}"
        );
        // Valid arguments are still honoured, the function is no longer async.
        let text = expanded.to_string();
        assert!(text.contains("fn main ()"), "{text}");
        assert!(!text.contains("async fn"), "{text}");
        assert!(
            text.contains("rt :: runtime :: Builder :: new_multi_thread () . worker_threads (2)"),
            "{text}"
        );
    }

    #[test]
    fn invalid_function_is_emitted_unchanged() {
        let item = quote!(
            fn main() {}
        );
        let expanded = expand(Kind::Main, quote!(nope = 1), item.clone());
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("unknown argument `nope`"), "{errors:?}");
        assert!(
            errors[1].contains("the `async` keyword is missing"),
            "{errors:?}"
        );
        assert!(expanded.to_string().starts_with(&item.to_string()));
        assert!(!expanded.to_string().contains("runtime"));
    }

    #[test]
    fn test_with_parameters_is_rejected() {
        let expanded = expand(
            Kind::Test,
            quote!(),
            quote!(
                async fn t(x: u8) {}
            ),
        );
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("test functions cannot accept arguments"));
        assert!(!expanded.to_string().contains("prelude :: v1 :: test"));
    }

    #[test]
    fn main_method_taking_self_moves_it_into_the_body() {
        let expanded = expand(
            Kind::Main,
            quote!(flavor = "current_thread"),
            quote!(
                pub async fn serve(self, port: u16) -> u16 {
                    self.run(port).await
                }
            ),
        );
        assert!(compile_errors(&expanded).is_empty());
        let text = expanded.to_string().replace(' ', "");
        assert!(
            text.starts_with("pubfnserve(self,port:u16)->u16{letbody=asyncmove{"),
            "{text}"
        );
    }

    #[test]
    fn runtime_name_goes_to_the_builder() {
        let text = expand(
            Kind::Main,
            quote!(name = "ingest"),
            quote!(
                async fn main() {}
            ),
        )
        .to_string();
        assert!(
            text.contains("new_multi_thread () . name (\"ingest\") . enable_all ()"),
            "{text}"
        );
        // `unhandled_panic = "ignore"` is ringtide's behaviour: nothing to add.
        let text = expand(
            Kind::Test,
            quote!(unhandled_panic = "ignore"),
            quote!(
                async fn t() {}
            ),
        )
        .to_string();
        assert!(
            text.contains("new_current_thread () . enable_all () . build ()"),
            "{text}"
        );
    }

    #[test]
    fn non_function_item() {
        let expanded = expand(
            Kind::Test,
            quote!(),
            quote!(
                struct S;
            ),
        );
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("can only be applied to an `async fn`"));
    }

    #[test]
    fn test_io_uring() {
        let expanded = expand(
            Kind::Test,
            quote!(backend = "io_uring"),
            quote! {
                async fn on_uring() {}
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                #[::core::prelude::v1::test]
                fn on_uring() {
                    let body = async move {};
                    let body = ::core::pin::pin!(body);
                    let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>> = body;
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_current_thread()
                            .backend(::ringtide::runtime::Backend::IoUring)
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn main_mio() {
        let expanded = expand(
            Kind::Main,
            quote!(backend = "mio", worker_threads = 2),
            quote! {
                async fn main() {}
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                fn main() {
                    let body = async move {};
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_multi_thread()
                            .worker_threads(2)
                            .backend(::ringtide::runtime::Backend::Mio)
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
    }

    #[test]
    fn explicit_auto_is_the_default() {
        let item = quote! {
            async fn f() -> u8 { 1 }
        };
        for kind in [Kind::Main, Kind::Test] {
            let auto = expand(kind, quote!(backend = "auto"), item.clone());
            let default = expand(kind, quote!(), item.clone());
            assert_eq!(auto.to_string(), default.to_string());
            assert!(!auto.to_string().contains("backend"), "{auto}");
        }
    }

    #[test]
    fn test_both() {
        let expanded = expand(
            Kind::Test,
            quote!(backend = "both"),
            quote! {
                async fn it_works() -> Result<(), String> {
                    Ok(())
                }
            },
        );
        let per_backend = |name: TokenStream, variant: TokenStream| {
            quote! {
                #[::core::prelude::v1::test]
                fn #name() -> Result<(), String> {
                    let body = async move {
                        Ok(())
                    };
                    let body = ::core::pin::pin!(body);
                    let body: ::core::pin::Pin<
                        &mut dyn ::core::future::Future<Output = Result<(), String> >
                    > = body;
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_current_thread()
                            .backend(::ringtide::runtime::Backend::#variant)
                            .enable_all()
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            }
        };
        let io_uring = per_backend(quote!(io_uring), quote!(IoUring));
        let mio = per_backend(quote!(mio), quote!(Mio));
        assert_tokens_eq(
            expanded,
            quote! {
                mod it_works {
                    #[allow(unused_imports)]
                    use super::*;

                    #io_uring
                    #mio
                }
            },
        );
    }

    /// The two functions generated for `backend = "both"`, by name, checking
    /// that the expansion is a single module named `module` without errors.
    fn both_fns(expanded: TokenStream, module: &str) -> Vec<(String, syn::ItemFn)> {
        assert!(compile_errors(&expanded).is_empty(), "{expanded}");
        let file: syn::File = syn::parse2(expanded).expect("valid items");
        assert_eq!(file.items.len(), 1);
        let syn::Item::Mod(item_mod) = &file.items[0] else {
            panic!("expected a module");
        };
        assert_eq!(item_mod.ident, module);
        let (_, items) = item_mod.content.as_ref().expect("inline module");
        assert!(
            matches!(&items[0], syn::Item::Use(use_item) if use_item.to_token_stream().to_string().contains("use super :: * ;"))
        );
        let fns: Vec<_> = items[1..]
            .iter()
            .map(|item| match item {
                syn::Item::Fn(func) => (func.sig.ident.to_string(), func.clone()),
                _ => panic!("expected only functions after the `use`"),
            })
            .collect();
        let names: Vec<_> = fns.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["io_uring", "mio"]);
        fns
    }

    #[test]
    fn test_both_keeps_attributes_on_each_test() {
        let expanded = expand(
            Kind::Test,
            quote!(
                backend = "both",
                flavor = "multi_thread",
                worker_threads = 2
            ),
            quote! {
                /// Docs.
                #[should_panic(expected = "boom")]
                #[ignore]
                pub async fn panics() {
                    #![allow(unreachable_code)]
                    panic!("boom");
                }
            },
        );
        let text = expanded.to_string();
        assert!(text.starts_with("pub mod panics"), "{text}");
        for (name, func) in both_fns(expanded, "panics") {
            let attrs: Vec<String> = func
                .attrs
                .iter()
                .map(|attr| attr.to_token_stream().to_string().replace(' ', ""))
                .collect();
            assert_eq!(
                attrs,
                [
                    "#[::core::prelude::v1::test]",
                    "#[doc=r\"Docs.\"]",
                    "#[should_panic(expected=\"boom\")]",
                    "#[ignore]",
                    "#[allow(unreachable_code)]",
                ],
                "{name}"
            );
            // The test functions themselves stay private to the module.
            assert!(matches!(func.vis, syn::Visibility::Inherited), "{name}");
            assert!(func.sig.asyncness.is_none(), "{name}");
            let variant = if name == "io_uring" { "IoUring" } else { "Mio" };
            let body = func.block.to_token_stream().to_string();
            assert!(body.contains("panic ! (\"boom\")"), "{body}");
            assert!(
                body.contains(&format!(
                    "new_multi_thread () . worker_threads (2) . backend \
                     (:: ringtide :: runtime :: Backend :: {variant}) . enable_all ()"
                )),
                "{body}"
            );
        }
    }

    #[test]
    fn test_start_paused() {
        let expanded = expand(
            Kind::Test,
            quote!(start_paused = true),
            quote! {
                async fn sleeps() {}
            },
        );
        assert_tokens_eq(
            expanded,
            quote! {
                #[::core::prelude::v1::test]
                fn sleeps() {
                    let body = async move {};
                    let body = ::core::pin::pin!(body);
                    let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = ()>> =
                        body;
                    #[allow(
                        clippy::expect_used,
                        clippy::diverging_sub_expression,
                        clippy::needless_return
                    )]
                    {
                        return ::ringtide::runtime::Builder::new_current_thread()
                            .enable_all()
                            .start_paused(true)
                            .build()
                            .expect("Failed building the ringtide runtime")
                            .block_on(body);
                    }
                }
            },
        );
        // `false` is passed on as written; no argument, no call.
        let text = expand(
            Kind::Main,
            quote!(flavor = "current_thread", start_paused = false),
            quote!(
                async fn main() {}
            ),
        )
        .to_string();
        assert!(
            text.contains(". enable_all () . start_paused (false) . build ()"),
            "{text}"
        );
        let text = expand(
            Kind::Test,
            quote!(),
            quote!(
                async fn t() {}
            ),
        )
        .to_string();
        assert!(!text.contains("start_paused"), "{text}");
    }

    #[test]
    fn test_both_start_paused_applies_to_each_backend() {
        let expanded = expand(
            Kind::Test,
            quote!(backend = "both", start_paused = true),
            quote!(
                async fn t() {}
            ),
        );
        for (name, func) in both_fns(expanded, "t") {
            let variant = if name == "io_uring" { "IoUring" } else { "Mio" };
            let body = func.block.to_token_stream().to_string();
            assert!(
                body.contains(&format!(
                    "new_current_thread () . backend (:: ringtide :: runtime :: Backend :: \
                     {variant}) . enable_all () . start_paused (true) . build ()"
                )),
                "{name}: {body}"
            );
        }
    }

    #[test]
    fn start_paused_on_multi_thread_is_an_error() {
        let expanded = expand(
            Kind::Test,
            quote!(flavor = "multi_thread", start_paused = true),
            quote!(
                async fn t() {}
            ),
        );
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .contains("the `start_paused` option requires the `current_thread` runtime flavor"),
            "{errors:?}"
        );
        // The test is still expanded, without the call.
        let text = expanded.to_string();
        assert!(text.contains("fn t ()"), "{text}");
        assert!(!text.contains(". start_paused"), "{text}");
    }

    #[test]
    fn test_both_crate_paths() {
        let cases = [
            ("rt", "rt :: runtime ::"),
            ("::my::rt", ":: my :: rt :: runtime ::"),
            ("crate", "crate :: runtime ::"),
            // One module level deeper than the function.
            ("self::rt", "super :: rt :: runtime ::"),
            ("super::rt", "super :: super :: rt :: runtime ::"),
        ];
        for (path, expected) in cases {
            let expanded = expand(
                Kind::Test,
                quote!(backend = "both", crate = #path),
                quote!(
                    async fn t() {}
                ),
            );
            for (name, func) in both_fns(expanded, "t") {
                let body = func.block.to_token_stream().to_string();
                assert!(
                    body.contains(&format!(
                        "return {expected} Builder :: new_current_thread ()"
                    )),
                    "{path} {name}: {body}"
                );
                assert!(
                    body.contains(&format!(". backend ({expected} Backend ::")),
                    "{path} {name}: {body}"
                );
            }
        }
        // Without `both` the path is used as written.
        let expanded = expand(
            Kind::Test,
            quote!(backend = "mio", crate = "self::rt"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(
            expanded
                .to_string()
                .contains(". backend (self :: rt :: runtime :: Backend :: Mio)"),
            "{expanded}"
        );
    }

    #[test]
    fn main_both_is_an_error() {
        let expanded = expand(
            Kind::Main,
            quote!(backend = "both"),
            quote!(
                async fn main() {}
            ),
        );
        let errors = compile_errors(&expanded);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("`backend = \\\"both\\\"` is only supported by `#[ringtide::test]`"),
            "{errors:?}"
        );
        // `main` is still expanded, once, as with the default backend.
        let file: syn::File = syn::parse2(expanded.clone()).expect("valid items");
        assert_eq!(file.items.len(), 2, "{expanded}");
        assert!(matches!(&file.items[0], syn::Item::Fn(func) if func.sig.ident == "main"));
        let text = expanded.to_string();
        assert!(!text.contains("mod "), "{text}");
        assert!(!text.contains(". backend"), "{text}");
    }

    #[test]
    fn expansion_is_valid_rust() {
        let cases = [
            (Kind::Main, "auto"),
            (Kind::Main, "io_uring"),
            (Kind::Main, "mio"),
            (Kind::Test, "auto"),
            (Kind::Test, "io_uring"),
            (Kind::Test, "mio"),
            (Kind::Test, "both"),
        ];
        for (kind, backend) in cases {
            let expanded = expand(
                kind,
                quote!(flavor = "multi_thread", worker_threads = 2, backend = #backend),
                quote! {
                    async fn f() -> Result<(), Box<dyn std::error::Error>> {
                        let _x: u32 = "1".parse()?;
                        Ok(())
                    }
                },
            );
            let file: syn::File = syn::parse2(expanded).expect("valid items");
            assert_eq!(file.items.len(), 1);
            assert!(compile_errors(&file.to_token_stream()).is_empty());
        }
    }
}
