//! The type checker: resolves every identifier, field, operator and function of a parsed expression against
//! the schema and gives each node its static type, producing the typed tree [`Node`] the emitter lowers.
//!
//! CEL's rules are kept: no implicit conversion between `int`, `uint` and `double` (except the ordering
//! comparisons across numeric types, which CEL defines by value), `==` only between values of one type,
//! `&&`/`||`/`!`/`?:` on `bool` only. Constants of the rule (`rule`, `rules.*`, `getField(rules, …)`) are
//! folded into literals here.

use super::parse::Parsed;
use super::types::Type;
use crate::ir::{Field, FieldType, Label, RuleValue, Scalar, Schema};
use crate::rules::{self, RuleType};
use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, MapExpr, operators,
};
use std::collections::BTreeSet;

/// A compile error: what is wrong, and the id of the node it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    /// What is wrong.
    pub message: String,
    /// The parse node (for its place in the expression).
    pub id: u64,
}

/// How the rule's value (`this`) is held by the generated code.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// One value of this protobuf type (a field, a list item, a map value, or the message itself).
    Value(FieldType),
    /// A repeated field with items of this type.
    List(FieldType),
    /// A map field with keys and values of these types.
    Map(Scalar, FieldType),
}

/// A rules message's entries, for `rules` in a predefined rule (`StringRules` and what is set on the field).
#[derive(Debug, Clone)]
pub struct RulesValue<'a> {
    /// The rules message (`StringRules`).
    pub message: &'static str,
    /// The set rules, by field name.
    pub entries: Vec<(String, &'a RuleValue)>,
}

/// What an expression can refer to.
#[derive(Debug, Clone)]
pub struct Env<'a> {
    /// The schema, for the fields of messages.
    pub schema: &'a Schema,
    /// `this`.
    pub this: Binding,
    /// `rule` of a predefined rule: the extension's value and type.
    pub rule: Option<(&'a RuleValue, Type)>,
    /// `rules` of a predefined rule.
    pub rules: Option<RulesValue<'a>>,
    /// Fields (`pkg.Message.field`) declared with implicit presence but held as `Option` (proto2 lowered).
    pub implicit_presence: &'a BTreeSet<String>,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
    Null,
    Duration((i64, i32)),
    Timestamp((i64, i32)),
}

/// Where a list or map value comes from, which decides how the generated code reads its items.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Built by the expression (a literal, a `map`/`filter` result): items are CEL values already.
    Cel,
    /// A repeated field: a slice of items of this protobuf type.
    Field(FieldType),
    /// A map field, as `Option<&Map>`: keys and values of these protobuf types.
    MapField(Scalar, FieldType),
}

/// A message field read by a select or `has()`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The field.
    pub field: Field,
    /// For a oneof member: the oneof's Rust field and enum path.
    pub oneof: Option<(String, String)>,
    /// Declared implicit but held as `Option`.
    pub lowered_implicit: bool,
}

impl FieldRef {
    /// A singular wrapper field (`google.protobuf.Int64Value`, …): CEL reads it as its scalar, or `null` when
    /// unset.
    pub fn is_wrapper(&self) -> bool {
        matches!(&self.field.ty, FieldType::WellKnown(w) if w.wrapped().is_some())
            && !matches!(self.field.label, Label::Repeated | Label::Map { .. })
    }
}

impl Node {
    /// A read of a wrapper field: its scalar, `null` when unset (see [`FieldRef::is_wrapper`]).
    pub fn is_wrapper_read(&self) -> bool {
        matches!(&self.kind, Kind::Select(_, f) if f.is_wrapper())
    }
}

/// Refuses a wrapper field's read where CEL would carry its `null` along as a value (a list element, a `?:`
/// branch, a `map` result, the left of `in`, `dyn`): the generated code reads a wrapper as its scalar and
/// fails on `null`, which is CEL's result everywhere else (an operator or function given `null` has no
/// overload), and `==`/`!=` compare it as CEL does.
/// Refuses a list or map literal whose string or bytes elements would lower to different Rust forms, which
/// one array cannot hold: a literal, `this`, a field or a comprehension variable is borrowed (`&str`), a `?:` is a
/// `Cow`, anything else (`+`, a function) is computed and owned. Elements of one form compile.
fn one_string_form<'n>(elements: impl Iterator<Item = &'n Node>, what: &str) -> Result<()> {
    let mut first: Option<u8> = None;
    for n in elements {
        if !matches!(n.ty, Type::String | Type::Bytes) {
            return Ok(());
        }
        let form = match n.kind {
            Kind::Lit(_) | Kind::This | Kind::Var(_) | Kind::Select(..) => 0,
            Kind::Cond(..) => 1,
            _ => 2,
        };
        match first {
            None => first = Some(form),
            Some(f) if f != form => {
                return err(
                    n.id,
                    format!(
                        "a {what} mixing computed string or bytes values with literals or fields is not supported: compare or test them one by one"
                    ),
                );
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Refuses a list literal of lists that one Rust array cannot hold. Lists built by the expression are held as
/// slices of their CEL values (`&[i64]`, whatever their lengths), a repeated field as a slice of its protobuf
/// type (`&[i32]` for `int32`): so the elements must all be built lists, or all the same field type. Built
/// lists of strings or bytes must be literals of borrowed items (literals and fields), whose slices have one
/// type (`&[&str]`).
fn one_list_form(items: &[Node]) -> Result<()> {
    let mut first: Option<&Source> = None;
    for n in items {
        let Type::List(inner) = &n.ty else {
            return Ok(());
        };
        let owned_strings = matches!(**inner, Type::String | Type::Bytes)
            && n.source == Source::Cel
            && !matches!(&n.kind, Kind::List(items) if items.iter().all(|i| matches!(i.kind, Kind::Lit(_) | Kind::This | Kind::Var(_) | Kind::Select(..))));
        let mixed = first.is_some_and(|f| *f != n.source);
        if owned_strings || mixed {
            return err(
                n.id,
                "a list literal of lists is supported when its lists are all repeated fields of one type, \
                 or all built by the expression (of strings or bytes: literals of literals or fields)",
            );
        }
        first.get_or_insert(&n.source);
    }
    Ok(())
}

fn no_null_value(n: &Node, place: &str) -> Result<()> {
    match n.is_wrapper_read() {
        true => err(
            n.id,
            format!(
                "a wrapper field's value (null when unset) as {place} is not supported: compare it, or test it with has()"
            ),
        ),
        false => Ok(()),
    }
}

/// A unary or binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A function of CEL's standard library, its strings extension or protovalidate's library.
#[derive(Debug, Clone, PartialEq)]
pub enum Func {
    Size,
    StartsWith,
    EndsWith,
    Contains,
    /// `matches` with its pattern, a constant checked here.
    Matches(String),
    /// `matches` with a pattern computed at evaluation (the second argument).
    MatchesComputed,
    IsEmail,
    IsHostname,
    /// `isIp(version?)`
    IsIp,
    /// `isIpPrefix(version?, strict?)`: which of the two arguments are given.
    IsIpPrefix {
        version: bool,
        strict: bool,
    },
    IsUri,
    IsUriRef,
    IsHostAndPort,
    IsNan,
    /// `isInf(sign?)`
    IsInf,
    Unique,
    /// A conversion to the node's type from the argument's.
    Convert,
    /// `'template'.format([args])`
    Format,
    LowerAscii,
    /// The strings extension: `charAt`, `indexOf`, `lastIndexOf`, `replace`, `split`, `substring`, `join`,
    /// `reverse` (by name; optional arguments as given).
    Strings(&'static str),
    UpperAscii,
    Trim,
    /// `getSeconds()` and friends on durations and timestamps: the unit, in seconds or a calendar field.
    TimePart(&'static str),
    /// A calendar or clock field of a timestamp (`getFullYear`, …), in a fixed offset from UTC (seconds).
    TimestampPart(&'static str, i64),
}

/// A comprehension macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    All,
    Exists,
    ExistsOne,
    /// `map` (with the filter of its three-argument form) and `filter` (a map whose transform is the item).
    Map,
}

/// A typed node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The parse node (for error positions).
    pub id: u64,
    /// Its static type.
    pub ty: Type,
    /// Whether evaluating it can end in an evaluation error.
    pub fallible: bool,
    /// For lists and maps: how the items are held.
    pub source: Source,
    /// Read through `dyn(…)`: a type mismatch with it is an evaluation error, not a compile error.
    pub dynamic: bool,
    /// What it computes.
    pub kind: Kind,
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Lit(Lit),
    This,
    Now,
    /// A comprehension's item variable.
    Var(String),
    Select(Box<Node>, FieldRef),
    Has(Box<Node>, FieldRef),
    List(Vec<Node>),
    /// A map literal: its entries in order (constant keys, distinct).
    Map(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Index(Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
    /// An operation whose operand types only meet at run time (`dyn`) and do not fit: it always fails.
    NoOverload,
    Fold {
        fold: Fold,
        range: Box<Node>,
        var: String,
        /// The predicate (all, exists, exists_one), or the transform (map).
        body: Box<Node>,
        /// map's filter.
        filter: Option<Box<Node>>,
    },
}

type Result<T> = std::result::Result<T, CheckError>;

/// Type-checks a parsed expression.
pub fn check(parsed: &Parsed, env: &Env<'_>) -> Result<Node> {
    Checker {
        env,
        vars: Vec::new(),
    }
    .expr(&parsed.expr)
}

struct Checker<'e, 'a> {
    env: &'e Env<'a>,
    /// Comprehension variables in scope, innermost last: name and type, and how the item is held.
    vars: Vec<(String, Type, Source)>,
}

fn err<T>(id: u64, message: impl Into<String>) -> Result<T> {
    Err(CheckError {
        message: message.into(),
        id,
    })
}

/// An empty list literal (`[]`, a `list(dyn)`) takes the list type `other` of the operand it meets
/// (`[] == [1]`, `[1] + []`, `7 in []`), so that it is lowered with that element type.
fn settle_empty_list(n: &mut Node, other: &Type) {
    if matches!(&n.kind, Kind::List(items) if items.is_empty())
        && n.ty == Type::List(Box::new(Type::Dyn))
        && matches!(other, Type::List(e) if **e != Type::Dyn)
    {
        n.ty = other.clone();
    }
}

fn node(id: u64, ty: Type, fallible: bool, kind: Kind) -> Node {
    Node {
        id,
        ty,
        fallible,
        source: Source::Cel,
        dynamic: false,
        kind,
    }
}

fn lit(id: u64, l: Lit) -> Node {
    let ty = match &l {
        Lit::Bool(_) => Type::Bool,
        Lit::Int(_) => Type::Int,
        Lit::Uint(_) => Type::Uint,
        Lit::Double(_) => Type::Double,
        Lit::String(_) => Type::String,
        Lit::Bytes(_) => Type::Bytes,
        Lit::Null => Type::Null,
        Lit::Duration(_) => Type::Duration,
        Lit::Timestamp(_) => Type::Timestamp,
    };
    node(id, ty, false, Kind::Lit(l))
}

impl Checker<'_, '_> {
    fn expr(&mut self, e: &IdedExpr) -> Result<Node> {
        let id = e.id;
        match &e.expr {
            Expr::Literal(l) => Ok(lit(id, literal(l))),
            Expr::Ident(name) => self.ident(id, name),
            Expr::Select(s) => {
                if let Expr::Ident(root) = &s.operand.expr
                    && root == "rules"
                    && self.env.rules.is_some()
                {
                    return self.rules_field(id, &s.field, s.test);
                }
                let operand = self.expr(&s.operand)?;
                self.select(id, operand, &s.field, s.test)
            }
            Expr::List(l) => {
                if !l.optional_indices.is_empty() {
                    return err(id, "optional list elements are not supported");
                }
                let items = l
                    .elements
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>>>()?;
                for item in &items {
                    no_null_value(item, "a list element")?;
                }
                one_string_form(items.iter(), "list literal")?;
                one_list_form(&items)?;
                let mut elem = Type::Dyn;
                for item in &items {
                    if elem == Type::Dyn {
                        elem = item.ty.clone();
                    } else if !elem.unifies(&item.ty) {
                        return err(
                            item.id,
                            format!(
                                "a list literal's elements must have one type: {elem} and {}",
                                item.ty
                            ),
                        );
                    }
                }
                let fallible = items.iter().any(|i| i.fallible);
                Ok(node(
                    id,
                    Type::List(Box::new(elem)),
                    fallible,
                    Kind::List(items),
                ))
            }
            Expr::Call(call) => self.call(id, call),
            Expr::Comprehension(c) => self.comprehension(id, c),
            Expr::Map(m) => self.map_literal(id, m),
            Expr::Struct(_) => err(id, "message literals are not supported"),
            Expr::Unspecified => err(id, "an empty expression"),
        }
    }

    /// `{k: v, …}`: constant keys of one of CEL's key types, all distinct, and values of one plain type.
    fn map_literal(&mut self, id: u64, m: &MapExpr) -> Result<Node> {
        if m.entries.is_empty() {
            return err(id, "an empty map literal is not supported");
        }
        let (mut key_ty, mut value_ty) = (Type::Dyn, Type::Dyn);
        let mut entries: Vec<(Node, Node)> = Vec::with_capacity(m.entries.len());
        for entry in &m.entries {
            let EntryExpr::MapEntry(e) = &entry.expr else {
                return err(entry.id, "a field initializer outside a message literal");
            };
            if e.optional {
                return err(e.key.id, "optional map entries are not supported");
            }
            let (k, v) = (self.expr(&e.key)?, self.expr(&e.value)?);
            no_null_value(&v, "a map value")?;
            let Kind::Lit(key) = &k.kind else {
                return err(k.id, "a map literal's keys must be constants");
            };
            if !matches!(k.ty, Type::Int | Type::Uint | Type::Bool | Type::String) {
                return err(
                    k.id,
                    format!(
                        "a map key must be an int, uint, bool or string, not a {}",
                        k.ty
                    ),
                );
            }
            if entries
                .iter()
                .any(|(other, _)| matches!(&other.kind, Kind::Lit(o) if o == key))
            {
                return err(k.id, "a map literal's key appears twice");
            }
            for (t, n, what) in [(&mut key_ty, &k, "keys"), (&mut value_ty, &v, "values")] {
                if *t == Type::Dyn {
                    *t = n.ty.clone();
                } else if *t != n.ty {
                    return err(
                        n.id,
                        format!(
                            "a map literal's {what} must have one type: {t} and {}",
                            n.ty
                        ),
                    );
                }
            }
            if !is_plain(&v.ty) {
                return err(
                    v.id,
                    format!("a map literal's value of type {} is not supported", v.ty),
                );
            }
            entries.push((k, v));
        }
        one_string_form(entries.iter().map(|(_, v)| v), "map literal")?;
        let fallible = entries.iter().any(|(_, v)| v.fallible);
        Ok(node(
            id,
            Type::Map(Box::new(key_ty), Box::new(value_ty)),
            fallible,
            Kind::Map(entries),
        ))
    }

    fn ident(&mut self, id: u64, name: &str) -> Result<Node> {
        if let Some((_, ty, source)) = self.vars.iter().rev().find(|(n, _, _)| n == name) {
            let mut n = node(id, ty.clone(), false, Kind::Var(name.to_string()));
            n.source = source.clone();
            return Ok(n);
        }
        match name {
            "this" => {
                let (ty, source) = match &self.env.this {
                    Binding::Value(t) => (Type::of_value(t), Source::Cel),
                    Binding::List(t) => (
                        Type::List(Box::new(Type::of_value(t))),
                        Source::Field(t.clone()),
                    ),
                    Binding::Map(k, v) => (
                        Type::Map(Box::new(Type::of_scalar(*k)), Box::new(Type::of_value(v))),
                        Source::MapField(*k, v.clone()),
                    ),
                };
                let mut n = node(id, ty, false, Kind::This);
                n.source = source;
                Ok(n)
            }
            "now" => Ok(node(id, Type::Timestamp, false, Kind::Now)),
            "rule" => match &self.env.rule {
                Some((value, ty)) => constant(id, value, ty),
                None => err(id, "`rule` exists only in a predefined rule"),
            },
            "rules" => err(
                id,
                "`rules` can only be read by field (`rules.max_len`, `getField(rules, 'max_len')`, `has(rules.x)`)",
            ),
            "null" => Ok(lit(id, Lit::Null)),
            other => err(id, format!("undeclared reference to `{other}`")),
        }
    }

    /// `rules.name` or `has(rules.name)`: a constant of the field's rules.
    fn rules_field(&mut self, id: u64, name: &str, test: bool) -> Result<Node> {
        let rules = self.env.rules.as_ref().expect("checked by the caller");
        let field = rules::rules_message(rules.message)
            .and_then(|fields| fields.iter().find(|f| f.name == name))
            .ok_or_else(|| CheckError {
                message: format!("`{}` has no field `{name}`", rules.message),
                id,
            })?;
        let value = rules.entries.iter().find(|(n, _)| n == name).map(|e| e.1);
        if test {
            return Ok(lit(id, Lit::Bool(value.is_some())));
        }
        let ty = rule_type(field.ty, field.repeated).ok_or_else(|| CheckError {
            message: format!("`rules.{name}` has a type the compiler does not read"),
            id,
        })?;
        match value {
            Some(v) => constant(id, v, &ty),
            None => default_of(id, &ty),
        }
    }

    fn select(&mut self, id: u64, operand: Node, name: &str, test: bool) -> Result<Node> {
        let Type::Message(message) = &operand.ty else {
            return err(
                id,
                format!(
                    "`.{name}` selects a field, but the value is a {}",
                    operand.ty
                ),
            );
        };
        let m = self.env.schema.message(message).ok_or_else(|| CheckError {
            message: format!("the fields of `{message}` are not known to the compiler"),
            id,
        })?;
        let Some(field) = m.field(name) else {
            if operand.dynamic {
                // Through `dyn`, a missing field is found at evaluation.
                let mut n = node(id, Type::Dyn, true, Kind::NoOverload);
                n.dynamic = true;
                return Ok(n);
            }
            return err(id, format!("`{message}` has no field `{name}`"));
        };
        let oneof = field.oneof.as_ref().and_then(|o| {
            m.oneofs
                .iter()
                .find(|x| &x.name == o)
                .map(|x| (x.rust_name.clone(), x.rust_type.clone()))
        });
        let field_ref = FieldRef {
            field: field.clone(),
            oneof,
            lowered_implicit: self
                .env
                .implicit_presence
                .contains(&format!("{message}.{name}")),
        };
        let fallible = operand.fallible;
        if test {
            return Ok(node(
                id,
                Type::Bool,
                fallible,
                Kind::Has(Box::new(operand), field_ref),
            ));
        }
        // A wrapper is read as its scalar and fails on `null` (unset): fallible.
        let fallible = fallible || field_ref.is_wrapper();
        let (ty, source) = match &field.label {
            Label::Repeated => (
                Type::List(Box::new(Type::of_value(&field.ty))),
                Source::Field(field.ty.clone()),
            ),
            Label::Map { key } => (
                Type::Map(
                    Box::new(Type::of_scalar(*key)),
                    Box::new(Type::of_value(&field.ty)),
                ),
                Source::MapField(*key, field.ty.clone()),
            ),
            _ => (Type::of_value(&field.ty), Source::Cel),
        };
        let dynamic = operand.dynamic;
        let mut n = node(id, ty, fallible, Kind::Select(Box::new(operand), field_ref));
        n.source = source;
        n.dynamic = dynamic;
        Ok(n)
    }

    fn call(&mut self, id: u64, call: &CallExpr) -> Result<Node> {
        let f = call.func_name.as_str();
        let args = &call.args;
        // Operators first: they never have a target.
        match (f, args.len()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, 2) => {
                let (a, b) = (self.boolean(&args[0])?, self.boolean(&args[1])?);
                let fallible = a.fallible || b.fallible;
                let (a, b) = (Box::new(a), Box::new(b));
                let kind = if f == operators::LOGICAL_AND {
                    Kind::And(a, b)
                } else {
                    Kind::Or(a, b)
                };
                return Ok(node(id, Type::Bool, fallible, kind));
            }
            (operators::LOGICAL_NOT, 1) => {
                let a = self.boolean(&args[0])?;
                return Ok(node(id, Type::Bool, a.fallible, Kind::Not(Box::new(a))));
            }
            (operators::NOT_STRICTLY_FALSE, 1) => return self.boolean(&args[0]),
            (operators::CONDITIONAL, 3) => {
                let c = self.boolean(&args[0])?;
                let (a, b) = (self.expr(&args[1])?, self.expr(&args[2])?);
                if !a.ty.unifies(&b.ty) {
                    return err(
                        id,
                        format!(
                            "the branches of `?:` have different types: {} and {}",
                            a.ty, b.ty
                        ),
                    );
                }
                let ty = if a.ty == Type::Dyn {
                    b.ty.clone()
                } else {
                    a.ty.clone()
                };
                no_null_value(&a, "a `?:` branch")?;
                no_null_value(&b, "a `?:` branch")?;
                for branch in [&a, &b] {
                    if matches!(branch.ty, Type::Map(..)) && branch.source == Source::Cel {
                        return err(branch.id, "a map literal as a `?:` branch is not supported");
                    }
                }
                let fallible = c.fallible || a.fallible || b.fallible;
                let source = a.source.clone();
                if source != b.source {
                    return err(id, "the branches of `?:` must be lists of one origin");
                }
                let mut n = node(
                    id,
                    ty,
                    fallible,
                    Kind::Cond(Box::new(c), Box::new(a), Box::new(b)),
                );
                n.source = source;
                return Ok(n);
            }
            (operators::NEGATE, 1) => {
                // The parser reads `-9223372036854775808` as one literal: a `-` it leaves is a negation, and
                // `-(-9223372036854775808)` overflows.
                let a = self.expr(&args[0])?;
                if let Kind::Lit(l) = &a.kind {
                    match l {
                        Lit::Int(i) => {
                            return match i.checked_neg() {
                                Some(v) => Ok(lit(id, Lit::Int(v))),
                                None => err(id, "integer overflow in a constant"),
                            };
                        }
                        Lit::Double(d) => return Ok(lit(id, Lit::Double(-d))),
                        _ => {}
                    }
                }
                return match a.ty {
                    Type::Int | Type::Double | Type::Duration => {
                        let fallible = a.fallible || a.ty != Type::Double;
                        Ok(node(id, a.ty.clone(), fallible, Kind::Neg(Box::new(a))))
                    }
                    ref t => err(id, format!("no `-` for a {t}")),
                };
            }
            (operators::IN, 2) => {
                let (a, mut b) = (self.expr(&args[0])?, self.expr(&args[1])?);
                no_null_value(&a, "the left of `in`")?;
                settle_empty_list(&mut b, &Type::List(Box::new(a.ty.clone())));
                let ok = match &b.ty {
                    Type::List(t) => t.unifies(&a.ty) || (t.is_numeric() && a.ty.is_numeric()),
                    Type::Map(k, _) => k.unifies(&a.ty),
                    _ => false,
                };
                if !ok {
                    return err(id, format!("no `in` for a {} in a {}", a.ty, b.ty));
                }
                let fallible = a.fallible || b.fallible;
                return Ok(node(
                    id,
                    Type::Bool,
                    fallible,
                    Kind::In(Box::new(a), Box::new(b)),
                ));
            }
            (operators::INDEX, 2) => {
                let (a, b) = (self.expr(&args[0])?, self.expr(&args[1])?);
                let (ty, source) = match (&a.ty, &b.ty, &a.source) {
                    (Type::List(t), Type::Int, _) => ((**t).clone(), Source::Cel),
                    (Type::Map(k, v), key, _) if k.unifies(key) => ((**v).clone(), Source::Cel),
                    _ => return err(id, format!("no `[]` for a {} by a {}", a.ty, b.ty)),
                };
                if matches!(ty, Type::List(_) | Type::Map(..)) {
                    return err(
                        id,
                        "indexing into a collection of collections is not supported",
                    );
                }
                let mut n = node(id, ty, true, Kind::Index(Box::new(a), Box::new(b)));
                n.source = source;
                return Ok(n);
            }
            (operators::OPT_INDEX | operators::OPT_SELECT, _) => {
                return err(id, "optional values (`?.`, `[?]`) are not supported");
            }
            _ => {}
        }
        if let Some(op) = binary_op(f)
            && args.len() == 2
        {
            let (a, b) = (self.expr(&args[0])?, self.expr(&args[1])?);
            return self.binary(id, op, a, b);
        }
        match &call.target {
            // `strings.quote(s)`: a function of the strings extension's namespace.
            Some(target)
                if f == "quote"
                    && args.len() == 1
                    && matches!(&target.expr, Expr::Ident(n) if n == "strings") =>
            {
                let a = self.expr(&args[0])?;
                if a.ty != Type::String {
                    return err(id, format!("no `strings.quote` of a {}", a.ty));
                }
                let fallible = a.fallible;
                Ok(node(
                    id,
                    Type::String,
                    fallible,
                    Kind::Call(Func::Strings("quote"), vec![a]),
                ))
            }
            Some(target) => self.method(id, f, target, args),
            None => self.global(id, f, args),
        }
    }

    fn boolean(&mut self, e: &IdedExpr) -> Result<Node> {
        let n = self.expr(e)?;
        if n.ty != Type::Bool {
            return err(n.id, format!("expected a bool, found a {}", n.ty));
        }
        Ok(n)
    }

    fn binary(&mut self, id: u64, op: Op, mut a: Node, mut b: Node) -> Result<Node> {
        use Type as T;
        if matches!(op, Op::Eq | Op::Ne | Op::Add) {
            settle_empty_list(&mut a, &b.ty);
            settle_empty_list(&mut b, &a.ty);
        }
        if a.kind == Kind::NoOverload || b.kind == Kind::NoOverload {
            let ty = match op {
                Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => T::Bool,
                _ => a.ty.clone(),
            };
            return Ok(node(id, ty, true, Kind::NoOverload));
        }
        // `==` and `!=` compare a wrapper's `null` instead of failing on it (see `no_null_value`).
        let fails = |n: &Node| match &n.kind {
            Kind::Select(operand, _) if matches!(op, Op::Eq | Op::Ne) && n.is_wrapper_read() => {
                operand.fallible
            }
            _ => n.fallible,
        };
        let fallible = fails(&a) || fails(&b);
        let bad = |a: &Node, b: &Node| {
            if a.dynamic || b.dynamic {
                let ty = match op {
                    Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => T::Bool,
                    _ => a.ty.clone(),
                };
                return Ok(node(id, ty, true, Kind::NoOverload));
            }
            err(
                id,
                format!("no `{}` for a {} and a {}", op_text(op), a.ty, b.ty),
            )
        };
        let ty = match op {
            Op::Eq | Op::Ne => {
                let comparable = |t: &Type| {
                    !matches!(t, T::Map(..))
                        && !matches!(t, T::List(e) if matches!(**e, T::List(_) | T::Map(..)))
                };
                // Two messages compare when they are of one type (protobuf equality), and with `null`.
                let messages = match (&a.ty, &b.ty) {
                    (T::Message(x), T::Message(y)) => x == y && !a.dynamic && !b.dynamic,
                    (T::Message(_), T::Null) | (T::Null, T::Message(_)) => true,
                    (T::Message(_), _) | (_, T::Message(_)) => false,
                    _ => true,
                };
                // `dyn(1) == 1u`: numbers of different types are compared by value (heterogeneous equality).
                let numbers = a.ty.is_numeric() && b.ty.is_numeric() && (a.dynamic || b.dynamic);
                if !(a.ty.unifies(&b.ty) || a.ty == T::Null || b.ty == T::Null || numbers)
                    || !comparable(&a.ty)
                    || !comparable(&b.ty)
                    || !messages
                {
                    return bad(&a, &b);
                }
                T::Bool
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let ordered = matches!(
                    (&a.ty, &b.ty),
                    (T::String, T::String)
                        | (T::Bytes, T::Bytes)
                        | (T::Bool, T::Bool)
                        | (T::Duration, T::Duration)
                        | (T::Timestamp, T::Timestamp)
                ) || (a.ty.is_numeric() && b.ty.is_numeric());
                if !ordered {
                    return bad(&a, &b);
                }
                T::Bool
            }
            Op::Add => match (&a.ty, &b.ty) {
                (T::Int, T::Int) | (T::Uint, T::Uint) | (T::Double, T::Double) => a.ty.clone(),
                (T::String, T::String) | (T::Bytes, T::Bytes) => a.ty.clone(),
                (T::Duration, T::Duration) => T::Duration,
                (T::Timestamp, T::Duration) | (T::Duration, T::Timestamp) => T::Timestamp,
                (T::List(x), T::List(y)) if x.unifies(y) => {
                    if a.source != Source::Cel || b.source != Source::Cel {
                        return err(id, "concatenating a repeated field is not supported");
                    }
                    if **x == T::Dyn {
                        b.ty.clone()
                    } else {
                        a.ty.clone()
                    }
                }
                _ => return bad(&a, &b),
            },
            Op::Sub => match (&a.ty, &b.ty) {
                (T::Int, T::Int) | (T::Uint, T::Uint) | (T::Double, T::Double) => a.ty.clone(),
                (T::Duration, T::Duration) | (T::Timestamp, T::Timestamp) => T::Duration,
                (T::Timestamp, T::Duration) => T::Timestamp,
                _ => return bad(&a, &b),
            },
            Op::Mul | Op::Div => match (&a.ty, &b.ty) {
                (T::Int, T::Int) | (T::Uint, T::Uint) | (T::Double, T::Double) => a.ty.clone(),
                _ => return bad(&a, &b),
            },
            Op::Rem => match (&a.ty, &b.ty) {
                (T::Int, T::Int) | (T::Uint, T::Uint) => a.ty.clone(),
                _ => return bad(&a, &b),
            },
        };
        // Integer arithmetic, and arithmetic on times, can overflow; double arithmetic cannot fail.
        let can_fail = match op {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => {
                !matches!(ty, T::Double | T::String | T::Bytes | T::List(_))
            }
            _ => false,
        };
        Ok(node(
            id,
            ty,
            fallible || can_fail,
            Kind::Binary(op, Box::new(a), Box::new(b)),
        ))
    }

    fn method(&mut self, id: u64, f: &str, target: &IdedExpr, args: &[IdedExpr]) -> Result<Node> {
        let t = self.expr(target)?;
        let args: Vec<Node> = args.iter().map(|a| self.expr(a)).collect::<Result<_>>()?;
        let types: Vec<&Type> = args.iter().map(|a| &a.ty).collect();
        use Type as T;
        let (func, ty, can_fail) = match (f, &t.ty, types.as_slice()) {
            ("size", T::String | T::Bytes | T::List(_) | T::Map(..), []) => {
                (Func::Size, T::Int, false)
            }
            ("startsWith" | "endsWith" | "contains", T::String, [T::String])
            | ("startsWith" | "endsWith" | "contains", T::Bytes, [T::Bytes]) => {
                let func = match f {
                    "startsWith" => Func::StartsWith,
                    "endsWith" => Func::EndsWith,
                    _ => Func::Contains,
                };
                (func, T::Bool, false)
            }
            ("matches", T::String, [T::String]) => {
                let Kind::Lit(Lit::String(p)) = &args[0].kind else {
                    // Known only at evaluation: compiled then (and cached); an invalid pattern is an error.
                    return Ok(node(
                        id,
                        T::Bool,
                        true,
                        Kind::Call(Func::MatchesComputed, vec![t, args[0].clone()]),
                    ));
                };
                if let Err(e) = regex::Regex::new(p) {
                    return err(
                        args[0].id,
                        format!("the pattern is not a valid RE2 regex: {e}"),
                    );
                }
                return Ok(node(
                    id,
                    T::Bool,
                    t.fallible,
                    Kind::Call(Func::Matches(p.clone()), vec![t]),
                ));
            }
            ("isEmail", T::String, []) => (Func::IsEmail, T::Bool, false),
            ("isHostname", T::String, []) => (Func::IsHostname, T::Bool, false),
            ("isIp", T::String, [] | [T::Int]) => (Func::IsIp, T::Bool, false),
            ("isIpPrefix", T::String, []) => (
                Func::IsIpPrefix {
                    version: false,
                    strict: false,
                },
                T::Bool,
                false,
            ),
            ("isIpPrefix", T::String, [T::Int]) => (
                Func::IsIpPrefix {
                    version: true,
                    strict: false,
                },
                T::Bool,
                false,
            ),
            ("isIpPrefix", T::String, [T::Bool]) => (
                Func::IsIpPrefix {
                    version: false,
                    strict: true,
                },
                T::Bool,
                false,
            ),
            ("isIpPrefix", T::String, [T::Int, T::Bool]) => (
                Func::IsIpPrefix {
                    version: true,
                    strict: true,
                },
                T::Bool,
                false,
            ),
            ("isUri", T::String, []) => (Func::IsUri, T::Bool, false),
            ("isUriRef", T::String, []) => (Func::IsUriRef, T::Bool, false),
            ("isHostAndPort", T::String, [T::Bool]) => (Func::IsHostAndPort, T::Bool, false),
            ("isNan", T::Double, []) => (Func::IsNan, T::Bool, false),
            ("isInf", T::Double, [] | [T::Int]) => (Func::IsInf, T::Bool, false),
            ("unique", T::List(e), [])
                if !matches!(**e, T::List(_) | T::Map(..) | T::Message(_)) =>
            {
                (Func::Unique, T::Bool, false)
            }
            // The template may be computed: `format` parses it at evaluation (a bad one is an error).
            ("format", T::String, [T::List(_)]) => (Func::Format, T::String, true),
            ("lowerAscii", T::String, []) => (Func::LowerAscii, T::String, false),
            ("upperAscii", T::String, []) => (Func::UpperAscii, T::String, false),
            ("trim", T::String, []) => (Func::Trim, T::String, false),
            ("charAt", T::String, [T::Int]) => (Func::Strings("charAt"), T::String, true),
            ("indexOf", T::String, [T::String] | [T::String, T::Int]) => {
                (Func::Strings("indexOf"), T::Int, true)
            }
            ("lastIndexOf", T::String, [T::String] | [T::String, T::Int]) => {
                (Func::Strings("lastIndexOf"), T::Int, true)
            }
            ("replace", T::String, [T::String, T::String] | [T::String, T::String, T::Int]) => {
                (Func::Strings("replace"), T::String, false)
            }
            ("split", T::String, [T::String] | [T::String, T::Int]) => {
                (Func::Strings("split"), T::List(Box::new(T::String)), false)
            }
            ("substring", T::String, [T::Int] | [T::Int, T::Int]) => {
                (Func::Strings("substring"), T::String, true)
            }
            ("join", T::List(e), [] | [T::String]) if **e == T::String => {
                (Func::Strings("join"), T::String, false)
            }
            // `[].join()`: an empty literal joins to the empty string.
            ("join", T::List(e), [] | [T::String])
                if **e == T::Dyn && matches!(&t.kind, Kind::List(items) if items.is_empty()) =>
            {
                return Ok(lit(id, Lit::String(String::new())));
            }
            ("reverse", T::String, []) => (Func::Strings("reverse"), T::String, false),
            (name, T::Timestamp, [] | [T::String]) if timestamp_part(name).is_some() => {
                let part = timestamp_part(name).expect("checked by the guard");
                let offset = match args.first() {
                    None => 0,
                    Some(zone) => match &zone.kind {
                        Kind::Lit(Lit::String(z)) => fixed_offset(z).ok_or_else(|| CheckError {
                            message: format!(
                                "the time zone `{z}` is not supported: use \"UTC\" or a fixed offset such as \"+01:00\""
                            ),
                            id: zone.id,
                        })?,
                        _ => return err(zone.id, "a time zone must be a constant"),
                    },
                };
                let fallible = t.fallible;
                return Ok(node(
                    id,
                    T::Int,
                    fallible,
                    Kind::Call(Func::TimestampPart(part, offset), vec![t]),
                ));
            }
            ("getSeconds", T::Duration, []) => (Func::TimePart("seconds"), T::Int, false),
            ("getMilliseconds", T::Duration, []) => (Func::TimePart("milliseconds"), T::Int, false),
            ("getHours", T::Duration, []) => (Func::TimePart("hours"), T::Int, false),
            ("getMinutes", T::Duration, []) => (Func::TimePart("minutes"), T::Int, false),
            _ => {
                let given: Vec<String> = types.iter().map(|t| t.to_string()).collect();
                return err(
                    id,
                    format!(
                        "no function `{f}` on a {} taking ({}) in the compiled CEL library",
                        t.ty,
                        given.join(", ")
                    ),
                );
            }
        };
        let fallible = can_fail || t.fallible || args.iter().any(|a| a.fallible);
        let mut all = vec![t];
        all.extend(args);
        Ok(node(id, ty, fallible, Kind::Call(func, all)))
    }

    fn global(&mut self, id: u64, f: &str, args: &[IdedExpr]) -> Result<Node> {
        use Type as T;
        if f == "getField" && args.len() == 2 {
            let (Expr::Ident(root), Expr::Literal(LiteralValue::String(name))) =
                (&args[0].expr, &args[1].expr)
            else {
                return err(
                    id,
                    "`getField` is supported on `rules` with a constant field name",
                );
            };
            if root != "rules" || self.env.rules.is_none() {
                return err(
                    id,
                    "`getField` is supported on `rules` with a constant field name",
                );
            }
            return self.rules_field(id, name.inner(), false);
        }
        if f == "dyn" && args.len() == 1 {
            // The compiler knows every type statically: `dyn` defers a type mismatch to evaluation.
            let mut n = self.expr(&args[0])?;
            no_null_value(&n, "the argument of `dyn`")?;
            n.dynamic = true;
            return Ok(n);
        }
        if f == "size" && args.len() == 1 {
            let a = self.expr(&args[0])?;
            if !matches!(a.ty, T::String | T::Bytes | T::List(_) | T::Map(..)) {
                return err(id, format!("no `size` of a {}", a.ty));
            }
            let fallible = a.fallible;
            return Ok(node(id, T::Int, fallible, Kind::Call(Func::Size, vec![a])));
        }
        let target = match f {
            "int" => T::Int,
            "uint" => T::Uint,
            "double" => T::Double,
            "string" => T::String,
            "bytes" => T::Bytes,
            "duration" => T::Duration,
            "timestamp" => T::Timestamp,
            "bool" => T::Bool,
            _ => {
                return err(
                    id,
                    format!("no global function `{f}` in the compiled CEL library"),
                );
            }
        };
        if args.len() != 1 {
            return err(id, format!("`{f}` takes one argument"));
        }
        let a = self.expr(&args[0])?;
        // Constant strings are converted here, so a bad literal is a build error.
        if let Kind::Lit(Lit::String(s)) = &a.kind {
            let folded = match target {
                T::Duration => Some(
                    capacitor_time::duration(s)
                        .map(Lit::Duration)
                        .map_err(|_| format!("`{s}` is not a duration")),
                ),
                T::Timestamp => Some(
                    capacitor_time::timestamp(s)
                        .map(Lit::Timestamp)
                        .map_err(|_| format!("`{s}` is not a timestamp")),
                ),
                _ => None,
            };
            if let Some(folded) = folded {
                return folded.map(|l| lit(id, l)).or_else(|m| err(id, m));
            }
        }
        let can_fail = match (&target, &a.ty) {
            (x, y) if x == y => false,
            (T::Int, T::Uint | T::Double | T::String) => true,
            (T::Int, T::Timestamp) => false,
            (T::Uint, T::Int | T::Double | T::String) => true,
            (T::Double, T::Int | T::Uint) => false,
            (T::Double, T::String) => true,
            (T::String, T::Int | T::Uint | T::Double | T::Bool | T::Duration | T::Timestamp) => {
                false
            }
            (T::String, T::Bytes) => true,
            (T::Bytes, T::String) => false,
            (T::Duration | T::Timestamp, T::String) => true,
            (T::Bool, T::String) => true,
            _ => return err(id, format!("no conversion `{f}` from a {}", a.ty)),
        };
        let fallible = can_fail || a.fallible;
        if target == a.ty {
            return Ok(a);
        }
        Ok(node(
            id,
            target,
            fallible,
            Kind::Call(Func::Convert, vec![a]),
        ))
    }

    fn comprehension(&mut self, id: u64, c: &ComprehensionExpr) -> Result<Node> {
        if c.iter_var2.is_some() {
            return err(id, "two-variable comprehensions are not supported");
        }
        let range = self.expr(&c.iter_range)?;
        // The item variable holds a CEL value: the lowering converts each item as it iterates.
        let item = match &range.ty {
            Type::List(t) => (**t).clone(),
            Type::Map(k, _) => (**k).clone(),
            t => {
                return err(
                    c.iter_range.id,
                    format!("a comprehension ranges over a list or a map, not a {t}"),
                );
            }
        };
        let accu = c.accu_var.as_str();
        let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == accu);
        let init = &c.accu_init.expr;
        let step = match &c.loop_step.expr {
            Expr::Call(call) => call,
            _ => return err(id, "an unrecognised comprehension"),
        };
        self.vars
            .push((c.iter_var.clone(), item.clone(), Source::Cel));
        let result = (|| {
            let fold = match (init, step.func_name.as_str()) {
                (Expr::Literal(LiteralValue::Boolean(b)), operators::LOGICAL_AND)
                    if *b.inner() && step.args.len() == 2 && is_accu(&step.args[0]) =>
                {
                    let body = self.boolean(&step.args[1])?;
                    (Fold::All, body, None, Type::Bool)
                }
                (Expr::Literal(LiteralValue::Boolean(b)), operators::LOGICAL_OR)
                    if !*b.inner() && step.args.len() == 2 && is_accu(&step.args[0]) =>
                {
                    let body = self.boolean(&step.args[1])?;
                    (Fold::Exists, body, None, Type::Bool)
                }
                (Expr::Literal(LiteralValue::Int(_)), operators::CONDITIONAL)
                    if step.args.len() == 3 =>
                {
                    let body = self.boolean(&step.args[0])?;
                    (Fold::ExistsOne, body, None, Type::Bool)
                }
                (Expr::List(_), operators::ADD) if step.args.len() == 2 => {
                    let body = self.transform(&step.args[1])?;
                    let ty = Type::List(Box::new(body.ty.clone()));
                    (Fold::Map, body, None, ty)
                }
                (Expr::List(_), operators::CONDITIONAL) if step.args.len() == 3 => {
                    let filter = self.boolean(&step.args[0])?;
                    let Expr::Call(add) = &step.args[1].expr else {
                        return err(id, "an unrecognised comprehension");
                    };
                    let body = self.transform(&add.args[1])?;
                    let ty = Type::List(Box::new(body.ty.clone()));
                    (Fold::Map, body, Some(Box::new(filter)), ty)
                }
                _ => {
                    return err(
                        id,
                        "an unrecognised comprehension (only all, exists, exists_one, map and filter)",
                    );
                }
            };
            Ok(fold)
        })();
        self.vars.pop();
        let (fold, body, filter, ty) = result?;
        if fold == Fold::Map {
            no_null_value(&body, "a `map` result")?;
        }
        if fold == Fold::Map && !is_plain(&body.ty) && !matches!(body.ty, Type::Message(_)) {
            return err(body.id, format!("`map` to a {} is not supported", body.ty));
        }
        // Over an empty list literal (`[].exists(e, e == 2)`) the body never runs and the result is known; the
        // variable, a `dyn`, would have no Rust type to be lowered with.
        if matches!(&range.kind, Kind::List(items) if items.is_empty()) {
            match fold {
                Fold::All => return Ok(lit(id, Lit::Bool(true))),
                Fold::Exists | Fold::ExistsOne => return Ok(lit(id, Lit::Bool(false))),
                Fold::Map => {}
            }
        }
        let fallible =
            range.fallible || body.fallible || filter.as_ref().is_some_and(|f| f.fallible);
        Ok(node(
            id,
            ty,
            fallible,
            Kind::Fold {
                fold,
                range: Box::new(range),
                var: c.iter_var.clone(),
                body: Box::new(body),
                filter,
            },
        ))
    }

    /// The `[F]` of a `map` step: the transform `F`.
    fn transform(&mut self, e: &IdedExpr) -> Result<Node> {
        match &e.expr {
            Expr::List(l) if l.elements.len() == 1 => self.expr(&l.elements[0]),
            _ => err(e.id, "an unrecognised map step"),
        }
    }
}

/// The runtime name of a timestamp getter.
fn timestamp_part(name: &str) -> Option<&'static str> {
    Some(match name {
        "getFullYear" => "year",
        "getMonth" => "month",
        "getDayOfYear" => "day_of_year",
        "getDayOfMonth" => "day_of_month",
        "getDate" => "date",
        "getDayOfWeek" => "day_of_week",
        "getHours" => "hours",
        "getMinutes" => "minutes",
        "getSeconds" => "seconds",
        "getMilliseconds" => "milliseconds",
        _ => return None,
    })
}

/// A fixed time zone: `UTC`, `Z`, or `±HH:MM`, as seconds east of UTC.
fn fixed_offset(zone: &str) -> Option<i64> {
    if zone == "UTC" || zone == "Z" {
        return Some(0);
    }
    let b = zone.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// Scalars and times: values the generated code holds by copy (or as `&str`/`&[u8]`).
fn is_plain(t: &Type) -> bool {
    matches!(
        t,
        Type::Bool
            | Type::Int
            | Type::Uint
            | Type::Double
            | Type::String
            | Type::Bytes
            | Type::Duration
            | Type::Timestamp
    )
}

fn binary_op(f: &str) -> Option<Op> {
    Some(match f {
        operators::EQUALS => Op::Eq,
        operators::NOT_EQUALS => Op::Ne,
        operators::LESS => Op::Lt,
        operators::LESS_EQUALS => Op::Le,
        operators::GREATER => Op::Gt,
        operators::GREATER_EQUALS => Op::Ge,
        operators::ADD => Op::Add,
        operators::SUBSTRACT => Op::Sub,
        operators::MULTIPLY => Op::Mul,
        operators::DIVIDE => Op::Div,
        operators::MODULO => Op::Rem,
        _ => return None,
    })
}

/// The operator as written.
pub fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::Rem => "%",
    }
}

fn literal(l: &LiteralValue) -> Lit {
    match l {
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Bytes(b) => Lit::Bytes(b.inner().to_vec()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::Null => Lit::Null,
        LiteralValue::String(s) => Lit::String(s.inner().to_string()),
        LiteralValue::UInt(u) => Lit::Uint(*u.inner()),
    }
}

/// The CEL type of a field of a rules message (`Int32Rules.const` is an `int`).
pub fn rule_type(ty: RuleType, repeated: bool) -> Option<Type> {
    let t = match ty {
        RuleType::Scalar(s) => Type::of_scalar(s),
        RuleType::Enum => Type::Int,
        RuleType::Duration => Type::Duration,
        RuleType::Timestamp => Type::Timestamp,
        RuleType::Message(_) | RuleType::FieldMask => return None,
    };
    Some(if repeated { Type::List(Box::new(t)) } else { t })
}

/// A rule's value as a literal of type `ty`.
pub fn constant(id: u64, value: &RuleValue, ty: &Type) -> Result<Node> {
    fn one(id: u64, v: &RuleValue, t: &Type) -> Result<Node> {
        // A wrapper message (`google.protobuf.Int64Value`) is its `value`.
        if let RuleValue::Message(entries) = v {
            return match entries.iter().find(|(n, _)| n == "value") {
                Some((_, inner)) => one(id, inner, t),
                None => default_of(id, t),
            };
        }
        let l = match (v, t) {
            (RuleValue::Bool(b), Type::Bool) => Lit::Bool(*b),
            (RuleValue::Int(i), Type::Int) => Lit::Int(*i),
            (RuleValue::Enum(i), Type::Int) => Lit::Int(i64::from(*i)),
            (RuleValue::Uint(u), Type::Uint) => Lit::Uint(*u),
            (RuleValue::Int(i), Type::Uint) => Lit::Uint(*i as u64),
            (RuleValue::Float(f), Type::Double) => Lit::Double(*f),
            (RuleValue::String(s), Type::String) => Lit::String(s.clone()),
            (RuleValue::Bytes(b), Type::Bytes) => Lit::Bytes(b.clone()),
            (RuleValue::Time { seconds, nanos }, Type::Duration) => {
                Lit::Duration((*seconds, *nanos))
            }
            (RuleValue::Time { seconds, nanos }, Type::Timestamp) => {
                Lit::Timestamp((*seconds, *nanos))
            }
            _ => {
                return err(
                    id,
                    format!("a rule value of an unexpected type (expected a {t})"),
                );
            }
        };
        Ok(lit(id, l))
    }
    match (value, ty) {
        (RuleValue::List(items), Type::List(t)) => {
            let items = items
                .iter()
                .map(|v| one(id, v, t))
                .collect::<Result<Vec<_>>>()?;
            Ok(node(id, ty.clone(), false, Kind::List(items)))
        }
        (v, t) => one(id, v, t),
    }
}

/// The value of an unset field of type `ty`.
fn default_of(id: u64, ty: &Type) -> Result<Node> {
    let l = match ty {
        Type::Bool => Lit::Bool(false),
        Type::Int => Lit::Int(0),
        Type::Uint => Lit::Uint(0),
        Type::Double => Lit::Double(0.0),
        Type::String => Lit::String(String::new()),
        Type::Bytes => Lit::Bytes(Vec::new()),
        Type::Duration => Lit::Duration((0, 0)),
        Type::Timestamp => Lit::Timestamp((0, 0)),
        Type::List(_) => return Ok(node(id, ty.clone(), false, Kind::List(Vec::new()))),
        other => return err(id, format!("no default for a {other}")),
    };
    Ok(lit(id, l))
}

/// Duration and timestamp literals, parsed at build time with the same code the runtime uses.
mod capacitor_time {
    pub use capacitor_schema::time_text::{duration, timestamp};
}
