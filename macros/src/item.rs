//! Parsing and validation of the function the attribute is applied to.

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, ItemFn};

use crate::kind::Kind;

/// Parses the annotated item as a function.
///
/// Non-function items get a dedicated message; functions that fail to parse
/// (e.g. a syntax error in the body) report syn's error.
pub(crate) fn parse(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|error| {
        if syn::parse2::<syn::Item>(item).is_ok() {
            syn::Error::new(
                Span::call_site(),
                format!(
                    "the `#[ringtide::{}]` attribute can only be applied to an `async fn`",
                    kind.name()
                ),
            )
        } else {
            error
        }
    })
}

/// Checks that the function can be turned into an entry point: it must be
/// `async`, take no parameters if it is `main` or a test (other functions,
/// methods taking `self` included, may), and (for tests) not already be a
/// `#[test]`.
///
/// All problems are reported together.
pub(crate) fn validate(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match &mut errors {
        Some(existing) => existing.combine(error),
        None => errors = Some(error),
    };

    let sig = &func.sig;
    if sig.asyncness.is_none() {
        push(syn::Error::new(
            sig.fn_token.span,
            format!(
                "the `async` keyword is missing from the function declaration: \
                 `#[ringtide::{}]` must be applied to an `async fn`",
                kind.name()
            ),
        ));
    }

    // Other functions may take parameters (`self` included), as with tokio: the body
    // moves them into the future it blocks on.
    let parameters_forbidden = match kind {
        Kind::Main => sig.ident == "main",
        Kind::Test => true,
    };
    if parameters_forbidden && !sig.inputs.is_empty() {
        let message = match kind {
            Kind::Main => "the `main` function cannot accept arguments",
            Kind::Test => "test functions cannot accept arguments",
        };
        push(syn::Error::new_spanned(&sig.inputs, message));
    }

    if kind == Kind::Test {
        for attr in func.attrs.iter().filter(|attr| is_test_attribute(attr)) {
            push(syn::Error::new_spanned(
                attr,
                "a second test attribute is supplied: `#[ringtide::test]` already \
                 adds `#[test]`; remove this attribute",
            ));
        }
    }

    match errors {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Whether `attr` is the built-in `#[test]`, spelled `#[test]`,
/// `#[core::prelude::v1::test]`, `#[::std::prelude::rust_2024::test]`, etc.
fn is_test_attribute(attr: &Attribute) -> bool {
    let path = match &attr.meta {
        syn::Meta::Path(path) => path,
        _ => return false,
    };
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    match segments.as_slice() {
        [test] => path.leading_colon.is_none() && test == "test",
        [krate, prelude, _edition, test] => {
            (krate == "core" || krate == "std") && prelude == "prelude" && test == "test"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn func(tokens: TokenStream) -> ItemFn {
        syn::parse2(tokens).expect("valid function")
    }

    fn parse_err(kind: Kind, tokens: TokenStream) -> String {
        match parse(kind, tokens) {
            Ok(_) => panic!("expected a parse error"),
            Err(error) => error.to_string(),
        }
    }

    fn errors(kind: Kind, tokens: TokenStream) -> Vec<String> {
        match validate(kind, &func(tokens)) {
            Ok(()) => panic!("expected an error"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_async_fns_without_parameters() {
        for kind in [Kind::Main, Kind::Test] {
            validate(
                kind,
                &func(quote!(
                    async fn main() {}
                )),
            )
            .unwrap();
            validate(
                kind,
                &func(quote!(
                    #[allow(unused)]
                    pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
                        Ok(())
                    }
                )),
            )
            .unwrap();
        }
        validate(
            Kind::Test,
            &func(quote!(
                #[should_panic(expected = "boom")]
                #[ignore]
                async fn panics() {
                    panic!("boom")
                }
            )),
        )
        .unwrap();
    }

    #[test]
    fn rejects_non_async() {
        let messages = errors(
            Kind::Main,
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(
            messages,
            [
                "the `async` keyword is missing from the function declaration: \
              `#[ringtide::main]` must be applied to an `async fn`"
            ]
        );
        let messages = errors(
            Kind::Test,
            quote!(
                fn it_works() {}
            ),
        );
        assert_eq!(
            messages,
            [
                "the `async` keyword is missing from the function declaration: \
              `#[ringtide::test]` must be applied to an `async fn`"
            ]
        );
    }

    #[test]
    fn rejects_parameters() {
        let messages = errors(
            Kind::Main,
            quote!(
                async fn main(args: Vec<String>) {}
            ),
        );
        assert_eq!(messages, ["the `main` function cannot accept arguments"]);
        let messages = errors(
            Kind::Test,
            quote!(
                async fn it_works(x: u32) {}
            ),
        );
        assert_eq!(messages, ["test functions cannot accept arguments"]);
    }

    #[test]
    fn main_on_other_functions_and_methods_takes_parameters() {
        // As tokio: only `main` itself must take none.
        for tokens in [
            quote!(
                async fn run(x: u32, name: &str) -> u32 {
                    x
                }
            ),
            quote!(
                pub async fn serve(self) {}
            ),
            quote!(
                async fn handle(&mut self, request: Request) {}
            ),
        ] {
            validate(Kind::Main, &func(tokens)).unwrap();
        }
    }

    #[test]
    fn reports_every_problem() {
        let messages = errors(
            Kind::Test,
            quote!(
                #[test]
                fn it_works(x: u32) {}
            ),
        );
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].starts_with("the `async` keyword is missing"));
        assert!(messages[1].starts_with("test functions cannot accept arguments"));
        assert!(messages[2].starts_with("a second test attribute is supplied"));
    }

    #[test]
    fn rejects_second_test_attribute() {
        for attr in [
            quote!(#[test]),
            quote!(#[core::prelude::v1::test]),
            quote!(#[::core::prelude::v1::test]),
            quote!(#[std::prelude::rust_2024::test]),
        ] {
            let messages = errors(Kind::Test, quote!(#attr async fn it_works() {}));
            assert_eq!(messages.len(), 1, "{attr}: {messages:?}");
            assert!(
                messages[0].starts_with("a second test attribute is supplied"),
                "{messages:?}"
            );
        }
        // `#[test]` is only a conflict for `#[ringtide::test]`.
        validate(
            Kind::Main,
            &func(quote!(
                #[test]
                async fn main() {}
            )),
        )
        .unwrap();
        // Other attributes named like `test` are left alone.
        validate(
            Kind::Test,
            &func(quote!(
                #[my::test]
                #[test_case(1)]
                async fn it_works() {}
            )),
        )
        .unwrap();
    }

    #[test]
    fn non_function_items() {
        assert_eq!(
            parse_err(
                Kind::Main,
                quote!(
                    struct Foo;
                )
            ),
            "the `#[ringtide::main]` attribute can only be applied to an `async fn`"
        );
        assert_eq!(
            parse_err(
                Kind::Test,
                quote!(
                    const X: u8 = 1;
                )
            ),
            "the `#[ringtide::test]` attribute can only be applied to an `async fn`"
        );
        // Genuine syntax errors keep syn's message.
        let error = parse_err(Kind::Main, quote!(async fn main() -> {}));
        assert!(!error.contains("can only be applied"), "{error}");
    }
}
