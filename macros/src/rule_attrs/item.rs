//! The item parser of `validate(...)`: keys, `key = value`, `key(...)`, where a key may be a keyword.

use crate::ctxt::Ctxt;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token, token};

/// One item of `validate(...)`: `email`, `min_len = 3`, `in = [1, 2]`, `items(min_len = 1)`.
///
/// Like `syn::Meta`, except that a key may be a keyword (`in`, `const`): rule names are protobuf field names.
pub(super) enum Item {
    Path(Ident),
    NameValue {
        key: Ident,
        eq: Token![=],
        value: Expr,
    },
    List {
        key: Ident,
        paren: token::Paren,
        items: Vec<Item>,
    },
}

impl Item {
    pub(super) fn key(&self) -> &Ident {
        match self {
            Item::Path(key) | Item::NameValue { key, .. } | Item::List { key, .. } => key,
        }
    }
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        if input.peek(Token![=]) {
            Ok(Item::NameValue {
                key,
                eq: input.parse()?,
                value: input.parse()?,
            })
        } else if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let items = Punctuated::<Item, Token![,]>::parse_terminated(&content)?;
            Ok(Item::List {
                key,
                paren,
                items: items.into_iter().collect(),
            })
        } else {
            Ok(Item::Path(key))
        }
    }
}

impl ToTokens for Item {
    fn to_tokens(&self, out: &mut TokenStream) {
        match self {
            Item::Path(key) => key.to_tokens(out),
            Item::NameValue { key, eq, value } => {
                key.to_tokens(out);
                eq.to_tokens(out);
                value.to_tokens(out);
            }
            Item::List { key, paren, items } => {
                key.to_tokens(out);
                paren.surround(out, |out| {
                    for item in items {
                        item.to_tokens(out);
                        <Token![,]>::default().to_tokens(out);
                    }
                });
            }
        }
    }
}

/// The items of every `validate(...)` of a field, in order.
pub(super) fn parse_lists(cx: &mut Ctxt, lists: &[syn::MetaList]) -> Vec<Item> {
    let mut out = Vec::new();
    for list in lists {
        match list.parse_args_with(Punctuated::<Item, Token![,]>::parse_terminated) {
            Ok(items) => out.extend(items),
            Err(e) => cx.syn_error(e),
        }
    }
    out
}
