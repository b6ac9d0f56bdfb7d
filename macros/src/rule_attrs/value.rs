//! Rule values read from attribute expressions, typed by the rules catalog; malformed ones reported with an
//! example of the expected form.

use super::item::Item;
use super::time_literal::{parse_duration, parse_timestamp};
use super::{IGNORE, KNOWN_REGEX};
use crate::ctxt::Ctxt;
use capacitor_codegen::ir::{RuleValue, Scalar};
use capacitor_codegen::rules::{RuleField, RuleType};
use syn::{Expr, ExprArray, ExprLit, ExprUnary, Lit, UnOp};

/// The rule's value, as the rules catalog types it.
pub(super) fn rule_value(
    cx: &mut Ctxt,
    meta: &Item,
    key: &str,
    field: &RuleField,
) -> Option<RuleValue> {
    let example = example(key, field);
    if field.repeated {
        let Item::NameValue { value, .. } = meta else {
            cx.error(meta, format!("`{key}` takes a list: write `{example}`"));
            return None;
        };
        let Expr::Array(array) = value else {
            cx.error(value, format!("`{key}` takes a list: write `{example}`"));
            return None;
        };
        let values: Vec<Option<RuleValue>> = array
            .elems
            .iter()
            .map(|e| scalar_value(cx, e, key, field.ty, &example))
            .collect();
        return values
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .map(RuleValue::List);
    }
    match (field.ty, meta) {
        (RuleType::Scalar(Scalar::Bool), Item::Path(_)) => Some(RuleValue::Bool(true)),
        (_, Item::NameValue { value, .. }) => scalar_value(cx, value, key, field.ty, &example),
        _ => {
            cx.error(meta, format!("`{key}` takes a value: write `{example}`"));
            None
        }
    }
}

pub(super) fn example(key: &str, field: &RuleField) -> String {
    let one = match (key, field.ty) {
        ("ignore", _) => "\"if_zero_value\"".to_string(),
        ("well_known_regex", _) => "\"http_header_name\"".to_string(),
        (_, RuleType::Scalar(Scalar::Bool)) => return format!("{key}` or `{key} = false"),
        (_, RuleType::Scalar(Scalar::String)) => "\"abc\"".to_string(),
        (_, RuleType::Scalar(Scalar::Bytes)) => "b\"abc\"".to_string(),
        (_, RuleType::Scalar(Scalar::Float) | RuleType::Scalar(Scalar::Double)) => {
            "1.5".to_string()
        }
        (_, RuleType::Duration) => "\"30s\"".to_string(),
        (_, RuleType::Timestamp) => "\"2024-01-01T00:00:00Z\"".to_string(),
        (_, RuleType::FieldMask) => "[\"name\", \"address.city\"]".to_string(),
        _ => "10".to_string(),
    };
    if field.repeated {
        format!("{key} = [{one}, ...]")
    } else {
        format!("{key} = {one}")
    }
}

/// One value of rule type `rule_ty` written as the expression `expr`.
pub(super) fn scalar_value(
    cx: &mut Ctxt,
    expr: &Expr,
    key: &str,
    rule_ty: RuleType,
    example: &str,
) -> Option<RuleValue> {
    let wrong = |cx: &mut Ctxt, what: &str| {
        cx.error(expr, format!("`{key}` takes {what}: write `{example}`"));
        None
    };
    match rule_ty {
        RuleType::Scalar(Scalar::Bool) => match lit(expr) {
            Some(Lit::Bool(b)) => Some(RuleValue::Bool(b.value)),
            _ => wrong(cx, "true or false"),
        },
        RuleType::Scalar(Scalar::String) => match lit(expr) {
            Some(Lit::Str(s)) => Some(RuleValue::String(s.value())),
            _ => wrong(cx, "a string"),
        },
        RuleType::Scalar(Scalar::Bytes) => match lit(expr) {
            Some(Lit::ByteStr(b)) => Some(RuleValue::Bytes(b.value())),
            Some(Lit::Str(s)) => Some(RuleValue::Bytes(s.value().into_bytes())),
            _ => wrong(cx, "a byte string"),
        },
        RuleType::Scalar(Scalar::Int32)
        | RuleType::Scalar(Scalar::Sint32)
        | RuleType::Scalar(Scalar::Sfixed32)
        | RuleType::Scalar(Scalar::Int64)
        | RuleType::Scalar(Scalar::Sint64)
        | RuleType::Scalar(Scalar::Sfixed64) => {
            let wide = matches!(
                rule_ty,
                RuleType::Scalar(Scalar::Int64)
                    | RuleType::Scalar(Scalar::Sint64)
                    | RuleType::Scalar(Scalar::Sfixed64)
            );
            let range = if wide {
                i128::from(i64::MIN)..=i128::from(i64::MAX)
            } else {
                i128::from(i32::MIN)..=i128::from(i32::MAX)
            };
            match integer(expr) {
                Some(n) if range.contains(&n) => Some(RuleValue::Int(n as i64)),
                Some(_) => wrong(
                    cx,
                    if wide {
                        "a number that fits i64"
                    } else {
                        "a number that fits i32"
                    },
                ),
                None => wrong(cx, "a whole number"),
            }
        }
        RuleType::Scalar(Scalar::Uint32)
        | RuleType::Scalar(Scalar::Fixed32)
        | RuleType::Scalar(Scalar::Uint64)
        | RuleType::Scalar(Scalar::Fixed64) => {
            let max = if matches!(
                rule_ty,
                RuleType::Scalar(Scalar::Uint64) | RuleType::Scalar(Scalar::Fixed64)
            ) {
                i128::from(u64::MAX)
            } else {
                i128::from(u32::MAX)
            };
            match integer(expr) {
                Some(n) if (0..=max).contains(&n) => Some(RuleValue::Uint(n as u64)),
                Some(_) => wrong(cx, "a number from 0 that fits the field"),
                None => wrong(cx, "a whole number"),
            }
        }
        RuleType::Scalar(Scalar::Float) | RuleType::Scalar(Scalar::Double) => match float(expr) {
            // A `float` rule holds an f32, as the proto front end reads it.
            Some(x) if rule_ty == RuleType::Scalar(Scalar::Float) => {
                Some(RuleValue::Float(f64::from(x as f32)))
            }
            Some(x) => Some(RuleValue::Float(x)),
            None => wrong(cx, "a number"),
        },
        RuleType::Enum => {
            let (names, what) = match key {
                "ignore" => (IGNORE, "ignore mode"),
                "well_known_regex" => (KNOWN_REGEX, "well-known regex"),
                _ => return wrong(cx, "a value the derive does not know"),
            };
            let Some(Lit::Str(s)) = lit(expr) else {
                return wrong(cx, "a name in quotes");
            };
            match names.iter().find(|(n, _)| *n == s.value()) {
                Some((_, number)) => Some(RuleValue::Enum(*number)),
                None => {
                    let valid: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                    cx.error(
                        &s,
                        format!(
                            "unknown {what} `{}`; expected one of: {}",
                            s.value(),
                            valid.join(", ")
                        ),
                    );
                    None
                }
            }
        }
        RuleType::Duration => match lit(expr) {
            Some(Lit::Str(s)) => match parse_duration(&s.value()) {
                Some((seconds, nanos)) => Some(RuleValue::Time { seconds, nanos }),
                None => wrong(
                    cx,
                    "a duration such as \"30s\", \"1.5s\", \"250ms\", \"5m\" or \"2h\"",
                ),
            },
            _ => wrong(cx, "a duration in quotes"),
        },
        RuleType::Timestamp => match lit(expr) {
            Some(Lit::Str(s)) => match parse_timestamp(&s.value()) {
                Some((seconds, nanos)) => Some(RuleValue::Time { seconds, nanos }),
                None => wrong(cx, "an RFC 3339 time such as \"2024-01-01T00:00:00Z\""),
            },
            _ => wrong(cx, "an RFC 3339 time in quotes"),
        },
        RuleType::FieldMask => {
            let Expr::Array(array) = expr else {
                return wrong(cx, "a list of paths");
            };
            match string_list(array) {
                Some(paths) => Some(RuleValue::List(paths)),
                None => wrong(cx, "a list of paths in quotes"),
            }
        }
        RuleType::Message(_) => wrong(cx, "a list of rules"),
    }
}

/// A `["a", "b"]` literal as string rule values (oneof field names, field-mask paths); `None` when an
/// element is not a string literal.
pub(super) fn string_list(array: &ExprArray) -> Option<Vec<RuleValue>> {
    array
        .elems
        .iter()
        .map(|e| match lit(e) {
            Some(Lit::Str(s)) => Some(RuleValue::String(s.value())),
            _ => None,
        })
        .collect()
}

pub(super) fn lit(expr: &Expr) -> Option<Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit.clone()),
        Expr::Group(g) => lit(&g.expr),
        Expr::Paren(p) => lit(&p.expr),
        _ => None,
    }
}

/// A whole number, possibly negative (`-5` is a unary minus on a literal).
pub(super) fn integer(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => integer(expr).map(|n| -n),
        _ => match lit(expr)? {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
    }
}

/// A number, possibly negative; whole numbers are accepted too.
pub(super) fn float(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => float(expr).map(|n| -n),
        _ => match lit(expr)? {
            Lit::Float(f) => f.base10_parse().ok(),
            Lit::Int(i) => i.base10_parse::<i64>().ok().map(|n| n as f64),
            _ => None,
        },
    }
}

pub(super) fn string_lit(item: &Item) -> Option<String> {
    match item {
        Item::NameValue { value, .. } => match lit(value)? {
            Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn key_name(item: &Item) -> String {
    item.key().to_string()
}
