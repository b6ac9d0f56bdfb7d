//! CEL rules compiled to Rust at build time.
//!
//! protovalidate's custom rules (`(buf.validate.field).cel`, `(buf.validate.message).cel`, `cel_expression`)
//! and predefined rules (extensions of the `*Rules` messages) are CEL expressions. Every other implementation
//! interprets them at run time; capgen compiles them, in four steps, one module each:
//!
//! 1. [`parse`]: the `cel` crate's parser, macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`)
//!    expanded.
//! 2. [`check`]: CEL's type checker over the schema's field types — every field, operator and function
//!    resolved, `rule` and `rules` folded into constants. A type error, or a construct outside the compiled
//!    subset, is a build error naming the sub-expression.
//! 3. [`emit`]: lowering to one Rust expression, with CEL's semantics (checked integer arithmetic, no implicit
//!    numeric conversion, cross-type numeric ordering by value, commutative `&&`/`||` over errors). What can fail
//!    at run time returns [`EvalError`](../../capacitor/validate/cel/struct.EvalError.html), reported as
//!    protovalidate's runtime error.
//! 4. The validator emitter (`emit/validate/cel_rules.rs`) places the expression in the message's
//!    `validate_into`, with the violation it reports.
//!
//! ```
//! use capacitor_codegen::cel::{compile, Binding, Env};
//! use capacitor_codegen::ir::{FieldType, Scalar, Schema};
//! let schema = Schema::default();
//! let env = Env::new(&schema, Binding::Value(FieldType::Scalar(Scalar::Int64)));
//! assert!(compile("this % 2 == 0 && this < 100", &env).is_ok());
//! let e = compile("this == 'x'", &env).unwrap_err();
//! assert_eq!(e.to_string(), "no `==` for a int and a string, in `this == 'x'`");
//! ```

pub mod check;
pub mod emit;
pub mod parse;
mod types;

pub use check::{Binding, Env, RulesValue};
pub use types::Type;

use proc_macro2::TokenStream;
use std::collections::BTreeSet;
use std::fmt;

static NO_IMPLICIT: BTreeSet<String> = BTreeSet::new();

impl<'a> Env<'a> {
    /// An environment where `this` is bound as `this`, without `rule` or `rules`.
    pub fn new(schema: &'a crate::ir::Schema, this: Binding) -> Self {
        Env {
            schema,
            this,
            rule: None,
            rules: None,
            implicit_presence: &NO_IMPLICIT,
        }
    }
}

/// Why an expression does not compile.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    /// What is wrong.
    pub message: String,
    /// The sub-expression it is about.
    pub subexpression: Option<String>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.subexpression {
            write!(f, ", in `{s}`")?;
        }
        Ok(())
    }
}

/// A type-checked expression, ready to be lowered.
#[derive(Debug, Clone)]
pub struct Compiled {
    node: check::Node,
}

/// A compiled expression lowered to Rust.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The expression: a `bool`, or for a rule returning its message, something that dereferences to `str`.
    pub expr: TokenStream,
    /// Whether it uses `?` (and must be evaluated inside a closure returning `Result<_, EvalError>`).
    pub fallible: bool,
    /// Whether it reads `cel_now` (bound from `cx.now()` before it).
    pub uses_now: bool,
    /// Whether it returns a message (empty when the rule holds) rather than a `bool`.
    pub returns_message: bool,
}

/// Parses and type-checks `expression`; a rule's expression must give a `bool` or a `string`.
pub fn compile(expression: &str, env: &Env<'_>) -> Result<Compiled, CompileError> {
    let node = compile_expression(expression, env)?.node;
    if !matches!(node.ty, Type::Bool | Type::String) {
        return Err(CompileError {
            message: format!(
                "a rule's expression must give a bool or a string (its violation message), not a {}",
                node.ty
            ),
            subexpression: None,
        });
    }
    Ok(Compiled { node })
}

/// Parses and type-checks `expression` whatever type it gives (for tools and tests; a rule goes through
/// [`compile`]). [`Compiled::ty`] says the type; [`Compiled::lower`] gives the Rust form described in [`emit`].
pub fn compile_expression(expression: &str, env: &Env<'_>) -> Result<Compiled, CompileError> {
    let parsed = parse::parse(expression).map_err(|e| CompileError {
        message: format!("syntax error: {}", e.message),
        subexpression: e
            .offset
            .map(|o| expression.chars().skip(o).take(24).collect()),
    })?;
    let node = check::check(&parsed, env).map_err(|e| CompileError {
        message: e.message,
        subexpression: parsed.text(e.id),
    })?;
    Ok(Compiled { node })
}

impl Compiled {
    /// What personal data the violation message this expression computes would carry: `Some("`this`")` when
    /// `this` is PII (`this_is_pii`) and flows into the message, `Some("the field `email`")` for a PII field (`pii`
    /// or `debug_redact`) of a message that does; `None` when the message carries none (a `bool` rule's message is
    /// fixed text, so only a rule giving a `string` can carry data).
    pub fn reveals(&self, this_is_pii: bool) -> Option<String> {
        if self.node.ty != Type::String {
            return None;
        }
        reveals(&self.node, true, this_is_pii)
    }

    /// The expression's type (`bool` or `string`).
    pub fn ty(&self) -> &Type {
        &self.node.ty
    }

    /// Lowers to Rust, `this` being the CEL form of the rule's value (see [`this_value`]).
    pub fn lower(&self, rt: &TokenStream, this: TokenStream) -> Lowered {
        let l = emit::Lowering { rt, this };
        Lowered {
            expr: l.expr(&self.node),
            fallible: self.node.fallible,
            uses_now: emit::uses_now(&self.node),
            returns_message: self.node.ty == Type::String,
        }
    }
}

/// The CEL form of the rule's value, from the Rust reference `v` the validator holds it by.
pub fn this_value(binding: &Binding, v: &TokenStream) -> TokenStream {
    match binding {
        Binding::Value(ty) => emit::value(ty, v),
        Binding::List(_) => quote::quote!(&(#v)[..]),
        Binding::Map(..) => quote::quote!(::core::option::Option::Some(#v)),
    }
}

/// One CEL rule of a `cel` list (`id`, `message`, `expression`) or a `cel_expression` (the expression is its id).
#[derive(Debug, Clone, PartialEq)]
pub struct CelRule {
    /// Its index in the list (the last element of the violation's rule path).
    pub index: u64,
    /// The rule id violations report.
    pub id: String,
    /// The message a violation carries when the expression gives `false`.
    pub message: Option<String>,
    /// The expression.
    pub expression: String,
}

/// The CEL rules of a rule whose path ends in `cel` or `cel_expression`; empty for any other rule.
pub fn rules_of(rule: &crate::ir::Rule) -> Vec<CelRule> {
    rules_in(
        rule.path.rsplit('.').next().unwrap_or_default(),
        &rule.value,
    )
}

/// The CEL rules held by the value of a `cel` (`name`) or `cel_expression` rule.
pub fn rules_in(name: &str, value: &crate::ir::RuleValue) -> Vec<CelRule> {
    use crate::ir::RuleValue;
    let last = name;
    let RuleValue::List(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match (last, item) {
            ("cel_expression", RuleValue::String(e)) => Some(CelRule {
                index: i as u64,
                id: e.clone(),
                message: None,
                expression: e.clone(),
            }),
            ("cel", RuleValue::Message(entries)) => {
                let text = |name: &str| {
                    entries.iter().find_map(|(n, v)| match v {
                        RuleValue::String(s) if n == name => Some(s.clone()),
                        _ => None,
                    })
                };
                Some(CelRule {
                    index: i as u64,
                    id: text("id").unwrap_or_default(),
                    message: text("message").filter(|m| !m.is_empty()),
                    expression: text("expression").unwrap_or_default(),
                })
            }
            _ => None,
        })
        .collect()
}

/// Whether a rule path names CEL rules (`cel`, `cel_expression`, `repeated.items.cel`, …).
pub fn is_cel_path(path: &str) -> bool {
    matches!(path.rsplit('.').next(), Some("cel" | "cel_expression"))
}

/// What `this` is for the field rule at `path` (`cel`, `repeated.items.cel`, `map.keys.cel_expression`, …) of
/// `field`; `None` when the path does not fit the field.
pub fn field_binding(field: &crate::ir::Field, path: &str) -> Option<Binding> {
    use crate::ir::{FieldType, Label};
    let prefix = path.rsplit_once('.').map_or("", |(p, _)| p);
    match (prefix, &field.label) {
        ("", Label::Repeated) => Some(Binding::List(field.ty.clone())),
        ("", Label::Map { key }) => Some(Binding::Map(*key, field.ty.clone())),
        ("", _) => Some(Binding::Value(field.ty.clone())),
        ("repeated.items", Label::Repeated) | ("map.values", Label::Map { .. }) => {
            Some(Binding::Value(field.ty.clone()))
        }
        ("map.keys", Label::Map { key }) => Some(Binding::Value(FieldType::Scalar(*key))),
        _ => None,
    }
}

/// The type of `rule` in a predefined rule's expressions: the extension's value type, a list when repeated.
pub fn predefined_rule_type(rule: &crate::ir::PredefinedRule) -> Type {
    let t = Type::of_value(&rule.ty);
    if rule.repeated {
        Type::List(Box::new(t))
    } else {
        t
    }
}

/// What `this` is for a predefined rule set at `before` (the rule path up to the extension: `float`,
/// `repeated.items.string`, `repeated`, `map`, `map.keys.string`) on `field`; `None` when it does not fit.
pub fn predefined_binding(field: &crate::ir::Field, before: &str) -> Option<Binding> {
    use crate::ir::{FieldType, Label};
    let (prefix, member) = before.rsplit_once('.').unwrap_or(("", before));
    match (prefix, member, &field.label) {
        ("", "repeated", Label::Repeated) => Some(Binding::List(field.ty.clone())),
        ("", "map", Label::Map { key }) => Some(Binding::Map(*key, field.ty.clone())),
        ("", _, Label::Repeated | Label::Map { .. }) => None,
        ("", _, _) => Some(Binding::Value(field.ty.clone())),
        ("repeated.items", _, Label::Repeated) | ("map.values", _, Label::Map { .. }) => {
            Some(Binding::Value(field.ty.clone()))
        }
        ("map.keys", _, Label::Map { key }) => Some(Binding::Value(FieldType::Scalar(*key))),
        _ => None,
    }
}

/// Whether `n` puts PII into text: `in_text` says whether `n`'s value flows into the message being built.
fn reveals(n: &check::Node, in_text: bool, this_is_pii: bool) -> Option<String> {
    use check::{Func, Kind, Op};
    match &n.kind {
        Kind::This if in_text && this_is_pii => return Some("`this`".into()),
        Kind::Select(_, f) if in_text && f.field.is_redacted() => {
            return Some(format!("the field `{}`", f.field.name));
        }
        _ => {}
    }
    let text_valued = matches!(n.ty, Type::String | Type::Bytes | Type::List(_));
    let each = |children: &[&check::Node], flows: bool| {
        children.iter().find_map(|c| reveals(c, flows, this_is_pii))
    };
    match &n.kind {
        Kind::Select(m, _) | Kind::Has(m, _) => each(&[m], false),
        Kind::Not(a) | Kind::Neg(a) => each(&[a], false),
        Kind::And(a, b) | Kind::In(a, b) => each(&[a, b], false),
        Kind::Or(a, b) => each(&[a, b], false),
        Kind::Binary(Op::Add, a, b) if text_valued => each(&[a, b], in_text),
        Kind::Binary(_, a, b) => each(&[a, b], false),
        Kind::Cond(c, a, b) => each(&[c], false).or_else(|| each(&[a, b], in_text)),
        Kind::Index(l, i) => each(&[l], in_text).or_else(|| each(&[i], false)),
        Kind::List(items) => items.iter().find_map(|i| reveals(i, in_text, this_is_pii)),
        // Keys are constants; a value read out of the map flows where the map does.
        Kind::Map(entries) => entries
            .iter()
            .find_map(|(_, v)| reveals(v, in_text, this_is_pii)),
        Kind::Call(func, args) => {
            let flows = in_text
                && match func {
                    Func::Format | Func::Convert => true,
                    Func::LowerAscii | Func::UpperAscii | Func::Trim | Func::Strings(_) => {
                        text_valued
                    }
                    _ => false,
                };
            args.iter().find_map(|a| reveals(a, flows, this_is_pii))
        }
        Kind::Fold {
            range,
            body,
            filter,
            ..
        } => each(&[range], in_text)
            .or_else(|| each(&[body], in_text))
            .or_else(|| {
                filter
                    .as_deref()
                    .and_then(|f| reveals(f, false, this_is_pii))
            }),
        Kind::Lit(_) | Kind::This | Kind::Now | Kind::Var(_) | Kind::NoOverload => None,
    }
}
