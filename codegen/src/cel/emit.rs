//! Lowering: a typed tree ([`Node`]) becomes one Rust expression.
//!
//! Every CEL type has one Rust form: `bool`, `i64` (`int`), `u64` (`uint`), `f64` (`double`), something that
//! dereferences to `str` or `[u8]` (`&str`/`String`, `&[u8]`/`Vec<u8>`), `(i64, i32)` (duration, timestamp),
//! `Option<&M>` (a message: `None` reads as the default message), a slice or array (a list), `Option<&Map>` (a
//! map field). A node that can fail evaluates with `?` and so sits inside a closure returning
//! `Result<_, EvalError>`; nodes that cannot fail are plain expressions, which is most of them.

use super::check::{FieldRef, Fold, Func, Kind, Lit, Node, Op, Source};
use super::types::Type;
use crate::emit::tokens::{mentions, pattern, rust_ident, rust_path};
use crate::ir::{FieldType, Label, Scalar, WellKnown};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// How the rule's value is reached, and the runtime crate's path.
pub struct Lowering<'a> {
    /// The runtime crate (`::capacitor`).
    pub rt: &'a TokenStream,
    /// `this`, already in its CEL form.
    pub this: TokenStream,
}

impl Lowering<'_> {
    fn cel(&self) -> TokenStream {
        let rt = self.rt;
        quote!(#rt::validate::cel)
    }

    fn error(&self, name: &str) -> TokenStream {
        let cel = self.cel();
        let name = format_ident!("{name}");
        quote!(#cel::EvalError::#name)
    }

    /// The Rust expression computing `n`.
    pub fn expr(&self, n: &Node) -> TokenStream {
        match &n.kind {
            Kind::Lit(l) => literal(l),
            Kind::This => self.this.clone(),
            Kind::Now => quote!(cel_now),
            Kind::Var(name) => {
                let v = var(name);
                quote!(#v)
            }
            Kind::Select(operand, f) if f.is_wrapper() => {
                // CEL's `null` for an unset wrapper meets no operator or function: an evaluation error
                // (`==` and `!=` compare it instead, see `wrapper_equal`).
                let opt = self.wrapper(operand, f);
                let none = self.error("NO_OVERLOAD");
                quote!(#opt.ok_or(#none)?)
            }
            Kind::Select(operand, f) => {
                let m = self.expr(operand);
                let ident = rust_ident(&f.field.rust_name);
                let ty = &f.field.ty;
                match (&f.field.label, &f.oneof) {
                    (Label::Repeated, _) => quote!(#m.map_or(&[][..], |m| &m.#ident[..])),
                    (Label::Map { .. }, _) => quote!(#m.map(|m| &m.#ident)),
                    (_, Some(_)) | (Label::Optional, None) => {
                        self.unwrap_or_default(ty, self.present(operand, f))
                    }
                    (Label::Implicit | Label::Required, None) => {
                        if matches!(ty, FieldType::Message(_)) {
                            quote!(#m.map(|m| &m.#ident))
                        } else {
                            let default = default_value(&n.ty);
                            let conv = value(ty, &quote!(&m.#ident));
                            quote!(#m.map_or(#default, |m| #conv))
                        }
                    }
                }
            }
            Kind::Has(operand, f) => {
                let m = self.expr(operand);
                let ident = rust_ident(&f.field.rust_name);
                match (&f.field.label, &f.oneof) {
                    (_, Some((oneof, path))) => {
                        let oneof = rust_ident(oneof);
                        let path = rust_path(path);
                        let variant = format_ident!("{}", crate::names::type_name(&f.field.name));
                        quote!(#m.is_some_and(|m| ::core::matches!(&m.#oneof, ::core::option::Option::Some(#path::#variant(_)))))
                    }
                    (Label::Repeated | Label::Map { .. }, _) => {
                        quote!(#m.is_some_and(|m| !m.#ident.is_empty()))
                    }
                    (Label::Optional, None) if f.lowered_implicit => {
                        let set = nonzero(&f.field.ty, &quote!(x));
                        quote!(#m.is_some_and(|m| m.#ident.as_ref().is_some_and(|x| #set)))
                    }
                    (Label::Optional, None) => quote!(#m.is_some_and(|m| m.#ident.is_some())),
                    (Label::Required, None) => quote!(#m.is_some()),
                    (Label::Implicit, None) => {
                        let set = nonzero(&f.field.ty, &quote!((&m.#ident)));
                        quote!(#m.is_some_and(|m| #set))
                    }
                }
            }
            Kind::List(items) => {
                if items.is_empty() {
                    let Type::List(elem) = &n.ty else {
                        unreachable!("a list node has a list type")
                    };
                    let t = repr_type(elem);
                    return quote!({ let l: [#t; 0] = []; l });
                }
                // Lists built here are held as slices, so lists of different lengths fit one array (the checker
                // keeps repeated fields of one type apart from them, see `one_list_form`).
                let items = items.iter().map(|i| match (&i.ty, &i.source) {
                    (Type::List(_), Source::Cel) => {
                        let e = self.expr(i);
                        quote!(&(#e)[..])
                    }
                    _ => self.expr(i),
                });
                quote!([#(#items),*])
            }
            // An array of (key, value) pairs, searched in order: a literal's handful of entries.
            Kind::Map(entries) => {
                let pairs = entries.iter().map(|(k, v)| {
                    let (k, v) = (self.expr(k), self.expr(v));
                    quote!((#k, #v))
                });
                quote!([#(#pairs),*])
            }
            Kind::Not(a) => {
                let a = self.expr(a);
                quote!(!(#a))
            }
            Kind::Neg(a) => {
                let e = self.expr(a);
                let cel = self.cel();
                let overflow = self.error("OVERFLOW");
                match a.ty {
                    Type::Int => quote!((#e).checked_neg().ok_or(#overflow)?),
                    Type::Duration => quote!(#cel::duration_neg(#e)?),
                    _ => quote!(-(#e)),
                }
            }
            Kind::And(a, b) => self.logic(a, b, true),
            Kind::Or(a, b) => self.logic(a, b, false),
            Kind::Cond(c, a, b) => {
                let c = self.expr(c);
                let (a, b) = (self.branch(a), self.branch(b));
                quote!(if #c { #a } else { #b })
            }
            Kind::Binary(op, a, b) => self.binary(*op, a, b),
            Kind::In(a, b) => {
                let x = self.expr(a);
                match &b.ty {
                    Type::Map(key_ty, _) if b.source == Source::Cel => {
                        let m = self.expr(b);
                        let eq = equal(&self.cel(), key_ty, &quote!(key), &quote!(k));
                        quote!({ let k = #x; #m.into_iter().any(|(key, _)| #eq) })
                    }
                    Type::Map(..) => {
                        let Source::MapField(key, _) = &b.source else {
                            unreachable!("maps come from map fields or literals")
                        };
                        let m = self.expr(b);
                        let lookup = map_lookup(*key, &quote!(m), &quote!(k), true);
                        quote!({ let k = #x; #m.is_some_and(|m| #lookup) })
                    }
                    _ => {
                        let items = self.iter(b);
                        let eq = match &b.ty {
                            // `dyn(3.0) in [1, 2, 3]`: numbers of different types compare by value.
                            Type::List(t) if t.is_numeric() && a.ty.is_numeric() && **t != a.ty => {
                                numeric_equal(&self.cel(), t, &a.ty, &quote!(y), &quote!(x))
                            }
                            _ => equal(&self.cel(), &a.ty, &quote!(y), &quote!(x)),
                        };
                        quote!({ let x = #x; #items.any(|y| #eq) })
                    }
                }
            }
            Kind::Index(a, b) => {
                let k = self.expr(b);
                match (&a.ty, &a.source) {
                    (Type::Map(key_ty, _), Source::Cel) => {
                        let m = self.expr(a);
                        let eq = equal(&self.cel(), key_ty, &quote!(key), &quote!(k));
                        let missing = self.error("NO_SUCH_KEY");
                        quote!({ let k = #k; #m.into_iter().find(|(key, _)| { let key = *key; #eq }).map(|(_, v)| v).ok_or(#missing)? })
                    }
                    (Type::Map(..), Source::MapField(key, value_ty)) => {
                        let m = self.expr(a);
                        let lookup = map_lookup(*key, &quote!(m), &quote!(k), false);
                        let conv = value(value_ty, &quote!(x));
                        let missing = self.error("NO_SUCH_KEY");
                        quote!({ let k = #k; #m.and_then(|m| #lookup).map(|x| #conv).ok_or(#missing)? })
                    }
                    _ => {
                        let l = self.expr(a);
                        let conv = self.item(a, &quote!(x));
                        let out = self.error("INDEX");
                        quote!({
                            let (l, i) = (#l, #k);
                            usize::try_from(i).ok().and_then(|i| l.get(i)).map(|x| #conv).ok_or(#out)?
                        })
                    }
                }
            }
            Kind::Call(func, args) => self.call(func, args, &n.ty),
            Kind::NoOverload => {
                let cel = self.cel();
                let t = repr_type(&n.ty);
                quote!(#cel::no_overload::<#t>()?)
            }
            Kind::Fold {
                fold,
                range,
                var: name,
                body,
                filter,
            } => self.fold(*fold, range, name, body, filter.as_deref()),
        }
    }

    /// A field read through `Option<&T>`: its CEL value, or the default when unset.
    /// The field `f` of the message `operand` as an `Option` of a reference to it: a oneof member or an
    /// `Option` field (`None` when unset).
    fn present(&self, operand: &Node, f: &FieldRef) -> TokenStream {
        let m = self.expr(operand);
        let ident = rust_ident(&f.field.rust_name);
        // prost holds a message that makes its parent recursive (or one configured `boxed`) as `Box<M>`: read
        // every message as `&M`, so values of one type from different fields meet as one Rust type.
        let x = match &f.field.ty {
            FieldType::Message(_) => {
                let cel = self.cel();
                quote!({
                    // Only one of the two answers here (which depends on how prost holds the field).
                    #[allow(unused_imports)]
                    use #cel::held::{Boxed as _, Plain as _};
                    (&x).held()
                })
            }
            _ => quote!(x),
        };
        match &f.oneof {
            Some((oneof, path)) => {
                let oneof = rust_ident(oneof);
                let path = rust_path(path);
                let variant = format_ident!("{}", crate::names::type_name(&f.field.name));
                quote!(#m.and_then(|m| match &m.#oneof {
                    ::core::option::Option::Some(#path::#variant(x)) => ::core::option::Option::Some(#x),
                    _ => ::core::option::Option::None,
                }))
            }
            None => match &f.field.ty {
                FieldType::Message(_) => quote!(#m.and_then(|m| m.#ident.as_ref()).map(|x| #x)),
                _ => quote!(#m.and_then(|m| m.#ident.as_ref())),
            },
        }
    }

    /// A wrapper field's CEL value as an `Option` (`None` for CEL's `null`).
    fn wrapper(&self, operand: &Node, f: &FieldRef) -> TokenStream {
        let opt = self.present(operand, f);
        let conv = value(&f.field.ty, &quote!(x));
        quote!(#opt.map(|x| #conv))
    }

    /// `a == b` where one side or both read a wrapper field: `null` equals only `null`, never a value (CEL's
    /// heterogeneous equality), so an unset wrapper makes the comparison false, not an error.
    fn wrapper_equal(&self, a: &Node, b: &Node) -> TokenStream {
        let side = |n: &Node| match &n.kind {
            Kind::Select(operand, f) if f.is_wrapper() => Some(self.wrapper(operand, f)),
            _ => None,
        };
        let eq = |t: &Type, u: &Type| {
            if t.is_numeric() && u.is_numeric() && t != u {
                numeric_equal(&self.cel(), t, u, &quote!(p), &quote!(q))
            } else {
                equal(&self.cel(), t, &quote!(p), &quote!(q))
            }
        };
        let some = quote!(::core::option::Option::Some);
        let none = quote!(::core::option::Option::None);
        match (side(a), side(b)) {
            (Some(x), None) if b.ty == Type::Null => quote!(#x.is_none()),
            (None, Some(y)) if a.ty == Type::Null => quote!(#y.is_none()),
            (Some(x), Some(y)) => {
                let eq = eq(&a.ty, &b.ty);
                quote!(match (#x, #y) { (#some(p), #some(q)) => #eq, (#none, #none) => true, _ => false })
            }
            (Some(x), None) => {
                let (y, eq) = (self.expr(b), eq(&a.ty, &b.ty));
                quote!({ let q = #y; match #x { #some(p) => #eq, #none => false } })
            }
            (None, Some(y)) => {
                let (x, eq) = (self.expr(a), eq(&a.ty, &b.ty));
                quote!({ let p = #x; match #y { #some(q) => #eq, #none => false } })
            }
            (None, None) => unreachable!("one side reads a wrapper"),
        }
    }

    fn unwrap_or_default(&self, ty: &FieldType, opt: TokenStream) -> TokenStream {
        if matches!(ty, FieldType::Message(_)) {
            return opt;
        }
        let default = default_value(&Type::of_value(ty));
        let conv = value(ty, &quote!(x));
        quote!(#opt.map_or(#default, |x| #conv))
    }

    /// A `?:` branch: strings and bytes as `Cow` (one branch may be borrowed, the other computed), lists as slices.
    fn branch(&self, n: &Node) -> TokenStream {
        let e = self.expr(n);
        match (&n.ty, &n.source) {
            (Type::String, _) => quote!(::std::borrow::Cow::<str>::from(#e)),
            (Type::Bytes, _) => quote!(::std::borrow::Cow::<[u8]>::from(#e)),
            (Type::List(_), Source::Cel) => quote!(&(#e)[..]),
            _ => e,
        }
    }

    /// `&&` (`and`) or `||`: CEL's commutative logic, where `false && error` is `false` whichever side fails.
    fn logic(&self, a: &Node, b: &Node, and: bool) -> TokenStream {
        let (x, y) = (self.expr(a), self.expr(b));
        let op = if and { quote!(&&) } else { quote!(||) };
        match (a.fallible, b.fallible) {
            (false, _) => quote!((#x) #op (#y)),
            // The infallible side first: its deciding value makes the other side's error irrelevant.
            (true, false) => quote!((#y) #op (#x)),
            (true, true) => {
                let cel = self.cel();
                let decide = !and;
                quote!({
                    let l: ::core::result::Result<bool, #cel::EvalError> = (|| ::core::result::Result::Ok(#x))();
                    if l == ::core::result::Result::Ok(#decide) {
                        #decide
                    } else {
                        match (l, (|| ::core::result::Result::Ok(#y))()) {
                            (_, ::core::result::Result::Ok(#decide)) => #decide,
                            (::core::result::Result::Err(e), _) | (_, ::core::result::Result::Err(e)) => return ::core::result::Result::Err(e),
                            _ => !#decide,
                        }
                    }
                })
            }
        }
    }

    fn binary(&self, op: Op, a: &Node, b: &Node) -> TokenStream {
        let cel = self.cel();
        let (x0, y0) = (self.expr(a), self.expr(b));
        let (x, y) = (atom(x0.clone()), atom(y0.clone()));
        let overflow = self.error("OVERFLOW");
        let zero = self.error("DIVIDE_BY_ZERO");
        match op {
            Op::Eq | Op::Ne if a.is_wrapper_read() || b.is_wrapper_read() => {
                let eq = self.wrapper_equal(a, b);
                if op == Op::Eq { eq } else { quote!(!(#eq)) }
            }
            Op::Eq | Op::Ne => {
                let eq = match (&a.ty, &b.ty) {
                    (Type::Null, Type::Null) => quote!(true),
                    (Type::Null, Type::Message(_)) => quote!(#y.is_none()),
                    (Type::Message(_), Type::Null) => quote!(#x.is_none()),
                    (Type::Null, _) | (_, Type::Null) => quote!(false),
                    (Type::Message(_), Type::Message(_)) => {
                        quote!(#cel::message_eq(#x0, #y0))
                    }
                    (Type::List(_), _) => {
                        let (i, j) = (self.iter(a), self.iter(b));
                        let t = match &a.ty {
                            Type::List(t) => (**t).clone(),
                            _ => unreachable!(),
                        };
                        let eq = equal(&cel, &t, &quote!(p), &quote!(q));
                        // One call: the lists' temporaries (arguments) outlive the comparison.
                        quote!(#cel::lists_equal(#i, #j, |p, q| #eq))
                    }
                    (t, u) => {
                        let eq = if t.is_numeric() && u.is_numeric() && t != u {
                            numeric_equal(&cel, t, u, &quote!(p), &quote!(q))
                        } else {
                            equal(&cel, t, &quote!(p), &quote!(q))
                        };
                        quote!({ let (p, q) = (#x0, #y0); #eq })
                    }
                };
                if op == Op::Eq { eq } else { quote!(!(#eq)) }
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let o = match op {
                    Op::Lt => quote!(<),
                    Op::Le => quote!(<=),
                    Op::Gt => quote!(>),
                    _ => quote!(>=),
                };
                let is = |reversed: bool| {
                    let name = match (op, reversed) {
                        (Op::Lt, false) | (Op::Gt, true) => "is_lt",
                        (Op::Le, false) | (Op::Ge, true) => "is_le",
                        (Op::Gt, false) | (Op::Lt, true) => "is_gt",
                        _ => "is_ge",
                    };
                    format_ident!("{name}")
                };
                match (&a.ty, &b.ty) {
                    (Type::Int, Type::Uint) => {
                        let m = is(false);
                        quote!(#cel::cmp_int_uint(#x0, #y0).#m())
                    }
                    (Type::Uint, Type::Int) => {
                        let m = is(true);
                        quote!(#cel::cmp_int_uint(#y0, #x0).#m())
                    }
                    (Type::Int, Type::Double) => {
                        let m = is(false);
                        quote!(#cel::cmp_int_double(#x0, #y0).is_some_and(|o| o.#m()))
                    }
                    (Type::Double, Type::Int) => {
                        let m = is(true);
                        quote!(#cel::cmp_int_double(#y0, #x0).is_some_and(|o| o.#m()))
                    }
                    (Type::Uint, Type::Double) => {
                        let m = is(false);
                        quote!(#cel::cmp_uint_double(#x0, #y0).is_some_and(|o| o.#m()))
                    }
                    (Type::Double, Type::Uint) => {
                        let m = is(true);
                        quote!(#cel::cmp_uint_double(#y0, #x0).is_some_and(|o| o.#m()))
                    }
                    (Type::String | Type::Bytes, _) => quote!((&*#x) #o (&*#y)),
                    _ => quote!(#x #o #y),
                }
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => match (&a.ty, &b.ty) {
                (Type::Int | Type::Uint, _) => {
                    let checked = format_ident!(
                        "{}",
                        match op {
                            Op::Add => "checked_add",
                            Op::Sub => "checked_sub",
                            Op::Mul => "checked_mul",
                            Op::Div => "checked_div",
                            _ => "checked_rem",
                        }
                    );
                    if matches!(op, Op::Div | Op::Rem) {
                        quote!({
                            let (p, q) = (#x0, #y0);
                            if q == 0 { return ::core::result::Result::Err(#zero); }
                            p.#checked(q).ok_or(#overflow)?
                        })
                    } else {
                        quote!(#x.#checked(#y0).ok_or(#overflow)?)
                    }
                }
                (Type::Double, _) => {
                    let o = match op {
                        Op::Add => quote!(+),
                        Op::Sub => quote!(-),
                        Op::Mul => quote!(*),
                        _ => quote!(/),
                    };
                    quote!(#x #o #y)
                }
                (Type::String | Type::Bytes, _) => quote!([&*#x, &*#y].concat()),
                (Type::List(_), _) => {
                    let (i, j) = (self.iter(a), self.iter(b));
                    quote!(#i.chain(#j).collect::<::std::vec::Vec<_>>())
                }
                (Type::Duration, Type::Duration) if op == Op::Add => {
                    quote!(#cel::duration_add(#x0, #y0)?)
                }
                (Type::Duration, Type::Duration) => quote!(#cel::duration_sub(#x0, #y0)?),
                (Type::Timestamp, Type::Duration) => {
                    let sign = if op == Op::Add { quote!(1) } else { quote!(-1) };
                    quote!(#cel::timestamp_add(#x0, #y0, #sign)?)
                }
                (Type::Duration, Type::Timestamp) => quote!(#cel::timestamp_add(#y0, #x0, 1)?),
                (Type::Timestamp, Type::Timestamp) => quote!(#cel::timestamp_sub(#x0, #y0)?),
                _ => unreachable!("the checker allows no other arithmetic"),
            },
        }
    }

    fn call(&self, func: &Func, args: &[Node], ty: &Type) -> TokenStream {
        let rt = self.rt;
        let cel = self.cel();
        let fmt = quote!(#rt::validate::format);
        let a = self.expr(&args[0]);
        let arg = |i: usize| self.expr(&args[i]);
        match func {
            Func::Size => match &args[0].ty {
                Type::String => quote!(#cel::size(#rt::validate::support::char_len(&*(#a)))),
                Type::Map(..) if args[0].source == Source::Cel => quote!(#cel::size((#a).len())),
                Type::Map(..) => quote!(#cel::size((#a).map_or(0, |m| m.len()))),
                _ => quote!(#cel::size((#a).len())),
            },
            Func::StartsWith => {
                let b = arg(1);
                quote!((&*(#a)).starts_with(&*(#b)))
            }
            Func::EndsWith => {
                let b = arg(1);
                quote!((&*(#a)).ends_with(&*(#b)))
            }
            Func::Contains => {
                let b = arg(1);
                match args[0].ty {
                    Type::Bytes => quote!(#cel::bytes_contains(&*(#a), &*(#b))),
                    _ => quote!((&*(#a)).contains(&*(#b))),
                }
            }
            Func::Matches(p) => quote!({
                static RE: ::std::sync::LazyLock<#rt::validate::support::regex::Regex> =
                    ::std::sync::LazyLock::new(|| #rt::validate::support::regex::Regex::new(#p).expect("checked by capgen"));
                RE.is_match(&*(#a))
            }),
            Func::MatchesComputed => {
                let b = arg(1);
                quote!(#cel::matches(&*(#a), &*(#b))?)
            }
            Func::IsEmail => quote!(#fmt::is_email(&*(#a))),
            Func::IsHostname => quote!(#fmt::is_hostname(&*(#a))),
            Func::IsUri => quote!(#fmt::is_uri(&*(#a))),
            Func::IsUriRef => quote!(#fmt::is_uri_ref(&*(#a))),
            Func::IsIp => {
                let v = if args.len() > 1 { arg(1) } else { quote!(0i64) };
                quote!(#cel::is_ip(&*(#a), #v))
            }
            Func::IsIpPrefix { version, strict } => {
                let mut i = 1;
                let v = if *version {
                    i += 1;
                    arg(1)
                } else {
                    quote!(0i64)
                };
                let s = if *strict { arg(i) } else { quote!(false) };
                quote!(#cel::is_ip_prefix(&*(#a), #v, #s))
            }
            Func::IsHostAndPort => {
                let b = arg(1);
                quote!(#fmt::is_host_and_port(&*(#a), #b))
            }
            Func::IsNan => quote!((#a).is_nan()),
            Func::IsInf => {
                let sign = if args.len() > 1 { arg(1) } else { quote!(0i64) };
                quote!(#cel::is_inf(#a, #sign))
            }
            Func::Unique => {
                let items = self.iter(&args[0]);
                quote!(#cel::is_unique(#items))
            }
            Func::Convert => self.convert(&args[0], ty),
            Func::Format => {
                let items: Vec<TokenStream> = match &args[1].kind {
                    Kind::List(items) => items.iter().map(|i| self.format_arg(i)).collect(),
                    _ => {
                        let list = self.format_arg(&args[1]);
                        return quote!(#cel::format(&*(#a), ::core::slice::from_ref(&#list))?);
                    }
                };
                quote!(#cel::format(&*(#a), &[#(#items),*])?)
            }
            Func::LowerAscii => quote!((&*(#a)).to_ascii_lowercase()),
            Func::Strings(name) => {
                let opt = |i: usize| {
                    if args.len() > i {
                        let x = arg(i);
                        quote!(::core::option::Option::Some(#x))
                    } else {
                        quote!(::core::option::Option::None)
                    }
                };
                match *name {
                    "charAt" => {
                        let i = arg(1);
                        quote!(#cel::char_at(&*(#a), #i)?)
                    }
                    "indexOf" | "lastIndexOf" => {
                        let f = format_ident!(
                            "{}",
                            if *name == "indexOf" {
                                "index_of"
                            } else {
                                "last_index_of"
                            }
                        );
                        let (b, at) = (arg(1), opt(2));
                        quote!(#cel::#f(&*(#a), &*(#b), #at)?)
                    }
                    "replace" => {
                        let (b, c, n) = (arg(1), arg(2), opt(3));
                        quote!(#cel::replace(&*(#a), &*(#b), &*(#c), #n))
                    }
                    "split" => {
                        let (b, n) = (arg(1), opt(2));
                        quote!(#cel::split(&*(#a), &*(#b), #n))
                    }
                    "substring" => {
                        let (b, c) = (arg(1), opt(2));
                        quote!(#cel::substring(&*(#a), #b, #c)?)
                    }
                    "join" => {
                        let items = self.iter(&args[0]);
                        let sep = if args.len() > 1 {
                            let s = arg(1);
                            quote!(&*(#s))
                        } else {
                            quote!("")
                        };
                        quote!(#cel::join(#items, #sep))
                    }
                    "quote" => quote!(#cel::quote(&*(#a))),
                    _ => quote!(#cel::reverse(&*(#a))),
                }
            }
            Func::UpperAscii => quote!((&*(#a)).to_ascii_uppercase()),
            Func::Trim => quote!((&*(#a)).trim()),
            Func::TimestampPart(part, offset) => {
                let offset = Literal::i64_suffixed(*offset);
                quote!(#cel::timestamp_part(#a, #part, #offset))
            }
            Func::TimePart(unit) => match *unit {
                "seconds" => quote!((#a).0),
                "milliseconds" => quote!({ let d = #a; d.0 * 1000 + i64::from(d.1 / 1_000_000) }),
                "hours" => quote!(((#a).0 / 3600)),
                _ => quote!(((#a).0 / 60)),
            },
        }
    }

    /// One argument of `format`, as a `cel::Arg`.
    fn format_arg(&self, n: &Node) -> TokenStream {
        let cel = self.cel();
        let e = self.expr(n);
        let variant = |name: &str| format_ident!("{name}");
        match &n.ty {
            Type::String => quote!(#cel::Arg::Str(&*(#e))),
            Type::Bytes => quote!(#cel::Arg::Bytes(&*(#e))),
            Type::Int => quote!(#cel::Arg::Int(#e)),
            Type::Uint => quote!(#cel::Arg::Uint(#e)),
            Type::Double => quote!(#cel::Arg::Double(#e)),
            Type::Bool => quote!(#cel::Arg::Bool(#e)),
            Type::Duration => quote!(#cel::Arg::Duration(#e)),
            Type::Timestamp => quote!(#cel::Arg::Timestamp(#e)),
            Type::Null => quote!(#cel::Arg::Null),
            Type::List(t) => {
                let items = self.iter(n);
                let v = variant(match **t {
                    Type::String => "Str",
                    Type::Bytes => "Bytes",
                    Type::Int => "Int",
                    Type::Uint => "Uint",
                    Type::Double => "Double",
                    Type::Bool => "Bool",
                    Type::Duration => "Duration",
                    Type::Timestamp => "Timestamp",
                    _ => "Null",
                });
                if matches!(**t, Type::String | Type::Bytes) {
                    quote!(#cel::Arg::List(#items.map(|i| #cel::Arg::#v(i)).collect()))
                } else if matches!(
                    **t,
                    Type::Null | Type::Dyn | Type::Message(_) | Type::List(_) | Type::Map(..)
                ) {
                    quote!(#cel::Arg::List(#items.map(|_| #cel::Arg::Null).collect()))
                } else {
                    quote!(#cel::Arg::List(#items.map(#cel::Arg::#v).collect()))
                }
            }
            Type::Message(_) | Type::Map(..) | Type::Dyn => quote!(#cel::Arg::Null),
        }
    }

    fn convert(&self, from: &Node, to: &Type) -> TokenStream {
        let cel = self.cel();
        let a = self.expr(from);
        match (to, &from.ty) {
            (Type::Int, Type::Uint) => quote!(#cel::int_from_uint(#a)?),
            (Type::Int, Type::Double) => quote!(#cel::int_from_double(#a)?),
            (Type::Int, Type::String) => quote!(#cel::int_from_str(&*(#a))?),
            (Type::Int, Type::Timestamp) => quote!((#a).0),
            (Type::Uint, Type::Int) => quote!(#cel::uint_from_int(#a)?),
            (Type::Uint, Type::Double) => quote!(#cel::uint_from_double(#a)?),
            (Type::Uint, Type::String) => quote!(#cel::uint_from_str(&*(#a))?),
            (Type::Double, Type::Int | Type::Uint) => quote!(((#a) as f64)),
            (Type::Double, Type::String) => quote!(#cel::double_from_str(&*(#a))?),
            (Type::String, Type::Int | Type::Uint | Type::Bool) => quote!((#a).to_string()),
            (Type::String, Type::Double) => quote!(#cel::string_from_double(#a)),
            (Type::String, Type::Bytes) => quote!(#cel::string_from_bytes(&*(#a))?),
            (Type::String, Type::Duration) => quote!(#cel::format_duration(#a)),
            (Type::String, Type::Timestamp) => quote!(#cel::format_timestamp(#a)),
            (Type::Bytes, Type::String) => quote!((&*(#a)).as_bytes()),
            (Type::Duration, Type::String) => quote!(#cel::duration(&*(#a))?),
            (Type::Timestamp, Type::String) => quote!(#cel::timestamp(&*(#a))?),
            (Type::Bool, Type::String) => quote!(#cel::bool_from_str(&*(#a))?),
            _ => unreachable!("the checker allows no other conversion"),
        }
    }

    /// An iterator over a list's items (as CEL values), or a map's keys.
    fn iter(&self, n: &Node) -> TokenStream {
        // An infallible `map`/`filter` read only by iteration stays lazy: no list is built.
        if let Kind::Fold {
            fold: Fold::Map,
            range,
            var: name,
            body,
            filter,
        } = &n.kind
            && !n.fallible
        {
            let items = self.iter(range);
            let v = var(name);
            let b = self.expr(body);
            let keep = filter.as_ref().map(|f| {
                let f = self.expr(f);
                if mentions(&f, &v.to_string()) {
                    quote!(.filter(|#v| { let #v = *#v; #f }))
                } else {
                    quote!(.filter(|_| #f))
                }
            });
            // A `filter` (the body is the variable itself) keeps the items as they are.
            if matches!(&body.kind, Kind::Var(x) if x == name) {
                return quote!(#items #keep);
            }
            let bind = pattern(&v.to_string(), &b);
            return quote!(#items #keep .map(|#bind| #b));
        }
        let e = self.expr(n);
        match (&n.ty, &n.source) {
            (Type::Map(..), Source::MapField(key, _)) => {
                let conv = key_value(*key, &quote!(k));
                quote!((#e).into_iter().flat_map(|m| m.keys()).map(|k| #conv))
            }
            (Type::Map(..), Source::Cel) => quote!((#e).into_iter().map(|(k, _)| k)),
            (Type::List(t), Source::Cel) if !matches!(**t, Type::String | Type::Bytes) => {
                quote!((#e).iter().copied())
            }
            _ => {
                let conv = self.item(n, &quote!(x));
                quote!((#e).iter().map(|x| #conv))
            }
        }
    }

    /// A list item `x` (a reference into the list) as a CEL value.
    fn item(&self, list: &Node, x: &TokenStream) -> TokenStream {
        match (&list.ty, &list.source) {
            (_, Source::Field(ty)) => value(ty, x),
            (Type::List(t), _) if matches!(**t, Type::String | Type::Bytes) => quote!(&**#x),
            _ => quote!(*#x),
        }
    }

    fn fold(
        &self,
        fold: Fold,
        range: &Node,
        name: &str,
        body: &Node,
        filter: Option<&Node>,
    ) -> TokenStream {
        let items = self.iter(range);
        let v = var(name);
        let b = self.expr(body);
        let keep_tokens = filter.map(|f| self.expr(f));
        // An item the body (and filter) never reads is bound as `_`.
        let name = v.to_string();
        let used = mentions(&b, &name) || keep_tokens.as_ref().is_some_and(|k| mentions(k, &name));
        let bind = if used { quote!(#v) } else { quote!(_) };
        let cel = self.cel();
        let ok = quote!(::core::result::Result::Ok);
        match fold {
            Fold::All | Fold::Exists if !body.fallible => {
                let m = if fold == Fold::All {
                    quote!(all)
                } else {
                    quote!(any)
                };
                quote!(#items.#m(|#bind| #b))
            }
            Fold::All | Fold::Exists => {
                // `false && error` is false: an error is kept only while nothing decides the result.
                let decide = fold == Fold::Exists;
                quote!({
                    let mut acc: ::core::result::Result<bool, #cel::EvalError> = #ok(!#decide);
                    for #bind in #items {
                        match (|| #ok(#b))() {
                            #ok(#decide) => { acc = #ok(#decide); break; }
                            #ok(_) => {}
                            ::core::result::Result::Err(e) => { if acc.is_ok() { acc = ::core::result::Result::Err(e); } }
                        }
                    }
                    acc?
                })
            }
            Fold::ExistsOne if !body.fallible => {
                if used {
                    quote!(#items.filter(|#v| { let #v = *#v; #b }).count() == 1)
                } else {
                    quote!(#items.filter(|_| #b).count() == 1)
                }
            }
            Fold::ExistsOne => quote!({
                let mut n = 0usize;
                for #bind in #items { if #b { n += 1; } }
                n == 1
            }),
            Fold::Map => {
                let keep = keep_tokens.unwrap_or_else(|| quote!(true));
                quote!({
                    let mut out = ::std::vec::Vec::new();
                    for #bind in #items { if #keep { out.push(#b); } }
                    out
                })
            }
        }
    }
}

/// Whether `n` reads `now` anywhere.
pub fn uses_now(n: &Node) -> bool {
    let mut found = false;
    walk(n, &mut |x| found |= matches!(x.kind, Kind::Now));
    found
}

fn walk(n: &Node, f: &mut dyn FnMut(&Node)) {
    f(n);
    match &n.kind {
        Kind::Select(a, _) | Kind::Has(a, _) | Kind::Not(a) | Kind::Neg(a) => walk(a, f),
        Kind::And(a, b)
        | Kind::Or(a, b)
        | Kind::Binary(_, a, b)
        | Kind::In(a, b)
        | Kind::Index(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Kind::Cond(a, b, c) => {
            walk(a, f);
            walk(b, f);
            walk(c, f);
        }
        Kind::List(items) | Kind::Call(_, items) => items.iter().for_each(|i| walk(i, f)),
        Kind::Map(entries) => entries.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        Kind::Fold {
            range,
            body,
            filter,
            ..
        } => {
            walk(range, f);
            walk(body, f);
            if let Some(x) = filter {
                walk(x, f);
            }
        }
        Kind::Lit(_) | Kind::This | Kind::Now | Kind::Var(_) | Kind::NoOverload => {}
    }
}

fn var(name: &str) -> proc_macro2::Ident {
    format_ident!("cel_{}", name.trim_start_matches('@'))
}

/// `p == q` for numbers of different types (`int`, `uint`, `double`): by value, as CEL's heterogeneous equality.
fn numeric_equal(
    cel: &TokenStream,
    tp: &Type,
    tq: &Type,
    p: &TokenStream,
    q: &TokenStream,
) -> TokenStream {
    let eq = quote!(::core::cmp::Ordering::Equal);
    match (tp, tq) {
        (Type::Int, Type::Uint) => quote!(#cel::cmp_int_uint(#p, #q) == #eq),
        (Type::Uint, Type::Int) => quote!(#cel::cmp_int_uint(#q, #p) == #eq),
        (Type::Int, Type::Double) => {
            quote!(#cel::cmp_int_double(#p, #q) == ::core::option::Option::Some(#eq))
        }
        (Type::Double, Type::Int) => {
            quote!(#cel::cmp_int_double(#q, #p) == ::core::option::Option::Some(#eq))
        }
        (Type::Uint, Type::Double) => {
            quote!(#cel::cmp_uint_double(#p, #q) == ::core::option::Option::Some(#eq))
        }
        (Type::Double, Type::Uint) => {
            quote!(#cel::cmp_uint_double(#q, #p) == ::core::option::Option::Some(#eq))
        }
        (t, _) => equal(cel, t, p, q),
    }
}

/// `p == q` for two values of CEL type `t` (`cel`: the runtime's CEL module).
fn equal(cel: &TokenStream, t: &Type, p: &TokenStream, q: &TokenStream) -> TokenStream {
    match t {
        Type::String | Type::Bytes => quote!((&*(#p)) == (&*(#q))),
        // Protobuf equality, an unset message (`None`) equal to the empty one.
        Type::Message(_) => quote!(#cel::message_eq(#p, #q)),
        _ => quote!((#p) == (#q)),
    }
}

/// A value of protobuf type `ty`, reached by the reference `r`, as a CEL value.
pub fn value(ty: &FieldType, r: &TokenStream) -> TokenStream {
    match ty {
        FieldType::Scalar(s) => scalar_value(*s, r),
        FieldType::Enum(_) => quote!(i64::from(*(#r))),
        FieldType::WellKnown(WellKnown::Timestamp | WellKnown::Duration) => {
            quote!({ let t = #r; (t.seconds, t.nanos) })
        }
        FieldType::WellKnown(w) => {
            let inner = w
                .wrapped()
                .expect("Timestamp and Duration are matched above");
            scalar_value(inner, &quote!(&(#r).value))
        }
        FieldType::Message(_) => quote!(::core::option::Option::Some(#r)),
    }
}

fn scalar_value(s: Scalar, r: &TokenStream) -> TokenStream {
    match s {
        Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => quote!(i64::from(*(#r))),
        Scalar::Uint32 | Scalar::Fixed32 => quote!(u64::from(*(#r))),
        Scalar::Float => quote!(f64::from(*(#r))),
        Scalar::String => quote!((#r).as_str()),
        Scalar::Bytes => quote!(&(#r)[..]),
        _ => quote!(*(#r)),
    }
}

/// A map key of protobuf type `key`, reached by the reference `r`, as a CEL value.
fn key_value(key: Scalar, r: &TokenStream) -> TokenStream {
    scalar_value(key, r)
}

/// Looks the CEL key `k` up in the map `m` (keys of protobuf type `key`): `contains_key` when `test`, else `get`.
fn map_lookup(key: Scalar, m: &TokenStream, k: &TokenStream, test: bool) -> TokenStream {
    let method = if test {
        quote!(contains_key)
    } else {
        quote!(get)
    };
    let narrow = |t: TokenStream| {
        if test {
            quote!(#t::try_from(#k).is_ok_and(|k| #m.#method(&k)))
        } else {
            quote!(#t::try_from(#k).ok().and_then(|k| #m.#method(&k)))
        }
    };
    match key {
        Scalar::String => quote!(#m.#method(#k)),
        Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => narrow(quote!(i32)),
        Scalar::Uint32 | Scalar::Fixed32 => narrow(quote!(u32)),
        _ => quote!(#m.#method(&#k)),
    }
}

/// Whether the value at reference `r` of protobuf type `ty` is not its zero value.
fn nonzero(ty: &FieldType, r: &TokenStream) -> TokenStream {
    match ty {
        FieldType::Scalar(Scalar::String | Scalar::Bytes) => quote!(!(#r).is_empty()),
        FieldType::Scalar(Scalar::Bool) => quote!(*(#r)),
        FieldType::Scalar(Scalar::Float | Scalar::Double) => quote!(*(#r) != 0.0),
        FieldType::Scalar(_) | FieldType::Enum(_) => quote!(*(#r) != 0),
        _ => quote!(*(#r) != ::core::default::Default::default()),
    }
}

fn default_value(t: &Type) -> TokenStream {
    match t {
        Type::Bool => quote!(false),
        Type::Int => quote!(0i64),
        Type::Uint => quote!(0u64),
        Type::Double => quote!(0f64),
        Type::String => quote!(""),
        Type::Bytes => quote!(&[][..]),
        Type::Duration | Type::Timestamp => quote!((0i64, 0i32)),
        _ => quote!(::core::default::Default::default()),
    }
}

/// The Rust type of a plain CEL value (for an empty list literal's element).
fn repr_type(t: &Type) -> TokenStream {
    match t {
        Type::Bool => quote!(bool),
        Type::Int => quote!(i64),
        Type::Uint => quote!(u64),
        Type::Double => quote!(f64),
        Type::String => quote!(&'static str),
        Type::Bytes => quote!(&'static [u8]),
        Type::Duration | Type::Timestamp => quote!((i64, i32)),
        _ => quote!(()),
    }
}

fn literal(l: &Lit) -> TokenStream {
    match l {
        Lit::Bool(b) => quote!(#b),
        Lit::Int(i) => signed(Literal::i64_suffixed(*i), *i < 0),
        Lit::Uint(u) => {
            let l = Literal::u64_suffixed(*u);
            quote!(#l)
        }
        Lit::Double(d) if d.is_nan() => quote!(f64::NAN),
        Lit::Double(d) if d.is_infinite() && *d > 0.0 => quote!(f64::INFINITY),
        Lit::Double(d) if d.is_infinite() => quote!(f64::NEG_INFINITY),
        Lit::Double(d) => signed(Literal::f64_suffixed(*d), d.is_sign_negative()),
        Lit::String(s) => quote!(#s),
        Lit::Bytes(b) => {
            let bytes = b.iter().map(|b| Literal::u8_suffixed(*b));
            // Typed, so that an empty literal (`b''`) has an element type.
            quote!((&[#(#bytes),*] as &[u8]))
        }
        Lit::Null => quote!(()),
        Lit::Duration((s, n)) | Lit::Timestamp((s, n)) => {
            let (s, n) = (
                signed(Literal::i64_suffixed(*s), *s < 0),
                signed(Literal::i32_suffixed(*n), *n < 0),
            );
            quote!((#s, #n))
        }
    }
}

/// A numeric literal, parenthesized when negative (its `-` must not bind to what precedes it).
fn signed(l: Literal, negative: bool) -> TokenStream {
    if negative { quote!((#l)) } else { quote!(#l) }
}

/// `e` as an operand: parenthesized unless it already is one token (a name, a literal, a group).
fn atom(e: TokenStream) -> TokenStream {
    let mut tokens = e.clone().into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(proc_macro2::TokenTree::Group(g)), None)
            if g.delimiter() != proc_macro2::Delimiter::Brace =>
        {
            e
        }
        (Some(proc_macro2::TokenTree::Ident(_)), None) => e,
        (Some(proc_macro2::TokenTree::Literal(l)), None) if !l.to_string().starts_with('-') => e,
        _ => quote!((#e)),
    }
}
