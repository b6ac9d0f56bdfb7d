//! Checks on `buf.validate` rules: a rule that cannot be generated is a diagnostic at the rule, never
//! generated code that fails to compile.

use crate::cel::{self, Binding};
use crate::diagnostic::{Diagnostic, OptionId, Text};
use crate::ir::{Field, FieldType, Label, Message, Origin, Rule, RuleValue, Schema, WellKnown};
use crate::rules;

/// Problems with the schema's `buf.validate` rules: errors (a rule that does not fit, a CEL rule that does not
/// compile), and message or oneof rules capgen does not know — warnings with `allow_unsupported` (the validators
/// skip them), errors otherwise.
#[derive(Debug, Default)]
pub struct RuleReport {
    /// Rules that stop generation.
    pub errors: Vec<Diagnostic>,
    /// Rules skipped with `allow_unsupported` (and, for test harnesses, refused messages' problems).
    pub warnings: Vec<Diagnostic>,
}

/// Checks every rule of the schema.
pub fn check_rules(schema: &Schema, allow_unsupported: bool) -> RuleReport {
    let mut report = RuleReport::default();
    for message in &schema.messages {
        check_message_in(schema, message, allow_unsupported, &mut report);
    }
    report
}

/// Checks the rules of one message and its fields (the derive front end calls this for its one struct).
/// CEL rules can read the message's own fields; another message's fields are unknown to them.
pub fn check_message(message: &Message, allow_unsupported: bool, report: &mut RuleReport) {
    let schema = Schema::new(vec![message.clone()]);
    check_message_in(&schema, message, allow_unsupported, report);
}

/// Checks the rules of one message of `schema`.
pub fn check_message_in(
    schema: &Schema,
    message: &Message,
    allow_unsupported: bool,
    report: &mut RuleReport,
) {
    for rule in &message.rules {
        if cel::is_cel_path(&rule.path) {
            let this = Binding::Value(FieldType::Message(message.full_name.clone()));
            let what = format!("`{}`", message.full_name);
            check_cel(
                schema,
                &what,
                OptionId::MessageRule,
                rule,
                this,
                false,
                report,
            );
            continue;
        }
        if is_unsupported(&rule.path) {
            unsupported(
                &format!("`{}`", message.full_name),
                OptionId::MessageRule,
                rule,
                allow_unsupported,
                report,
            );
        }
    }
    for oneof in &message.oneofs {
        for rule in &oneof.rules {
            if rule.path != "required" {
                unsupported(
                    &format!("`{}.{}`", message.full_name, oneof.name),
                    OptionId::OneofRule,
                    rule,
                    allow_unsupported,
                    report,
                );
            }
        }
    }
    if let Some(RuleValue::List(items)) = message
        .rules
        .iter()
        .find(|r| r.path == "oneof")
        .map(|r| &r.value)
    {
        let rule = message.rules.iter().find(|r| r.path == "oneof");
        for item in items {
            if let (RuleValue::Message(entries), Some(rule)) = (item, rule) {
                for (name, value) in entries {
                    if let ("fields", RuleValue::List(names)) = (name.as_str(), value) {
                        for n in names {
                            if let RuleValue::String(n) = n
                                && message.field(n).is_none()
                            {
                                report.errors.push(
                                    Diagnostic::new(
                                        &rule.origin,
                                        rule_text(
                                            &format!("`{}`", message.full_name),
                                            OptionId::MessageRule("oneof".to_string()),
                                            format!(
                                                " names `{n}`, which is not a field of the message"
                                            ),
                                        ),
                                        "unknown field",
                                    )
                                    .help("list the message's own field names"),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    for field in &message.fields {
        check_field(schema, message, field, report);
    }
}

/// Compiles every CEL rule of `rule` with `this` bound as `this`; each one that does not compile is an error
/// at the rule, naming its index, id and the offending sub-expression.
fn check_cel(
    schema: &Schema,
    what: &str,
    option: fn(String) -> OptionId,
    rule: &Rule,
    this: Binding,
    this_is_pii: bool,
    report: &mut RuleReport,
) {
    let env = cel::Env::new(schema, this);
    for entry in cel::rules_of(rule) {
        let at = || option(format!("{}[{}]", rule.path, entry.index));
        let rule_words = format!("(id `{}`)", entry.id);
        check_cel_entry(
            &env,
            &entry,
            this_is_pii,
            rule.item_origin(entry.index as usize),
            what,
            at,
            &rule_words,
            report,
        );
    }
}

/// Compiles one CEL rule: a rule that does not compile, or whose computed message would carry PII, is an error
/// at `origin`, the option named by `at` and the rule described by `rule_words` (its id, its predefined rule).
#[allow(clippy::too_many_arguments)]
fn check_cel_entry(
    env: &cel::Env<'_>,
    entry: &cel::CelRule,
    this_is_pii: bool,
    origin: &Origin,
    what: &str,
    at: impl Fn() -> OptionId,
    rule_words: &str,
    report: &mut RuleReport,
) {
    let (problem, label, help) = match cel::compile(&entry.expression, env) {
        Err(e) => (
            format!(" {rule_words} does not compile: {e}"),
            "invalid CEL rule",
            "docs/validation.md lists the CEL capgen compiles: fix the expression, or write the rule another way",
        ),
        Ok(compiled) => match compiled.reveals(this_is_pii) {
            Some(data) => (
                format!(
                    " {rule_words} would put {data}, which is personal data, into its violation message"
                ),
                "PII in a violation message",
                "return a fixed message (or `false` and the rule's `message`): violations never carry PII",
            ),
            None => return,
        },
    };
    report
        .errors
        .push(Diagnostic::new(origin, rule_text(what, at(), problem), label).help(help));
}

/// A predefined rule set on `field` (`float.[acme.abs_range]`): the extension must be a predefined rule the
/// schema can see, fit the field, and each of its expressions compile with `this`, `rule` and `rules` bound.
fn check_predefined(
    schema: &Schema,
    what: &str,
    field: &Field,
    rule: &Rule,
    report: &mut RuleReport,
) {
    let fail = |report: &mut RuleReport, text: String, label: &str| {
        report.errors.push(Diagnostic::new(
            &rule.origin,
            rule_text(what, OptionId::FieldRule(rule.path.clone()), text),
            label,
        ));
    };
    let Some((before, ext)) = rule.path.split_once(".[") else {
        return fail(report, " is not a buf.validate rule".into(), "unknown rule");
    };
    let full_name = ext.trim_end_matches(']');
    let Some(pre) = schema.predefined_rule(full_name) else {
        return fail(
            report,
            format!(" sets `{full_name}`, which declares no `(buf.validate.predefined).cel`"),
            "not a predefined rule",
        );
    };
    let Some(binding) = cel::predefined_binding(field, before) else {
        return fail(
            report,
            format!(
                " does not fit a {} field",
                type_words(&field.ty, &field.label)
            ),
            "rule does not fit the field",
        );
    };
    let member = before.rsplit('.').next().unwrap_or(before);
    let Some(rules::RuleType::Message(message)) =
        rules::resolve_field_rule(member).and_then(|p| p.last().map(|f| f.ty))
    else {
        return fail(report, " is not a buf.validate rule".into(), "unknown rule");
    };
    if pre.extends != message {
        return fail(
            report,
            format!(
                " sets `{full_name}`, which extends `{}`, not `{message}`",
                pre.extends
            ),
            "rule does not fit the field",
        );
    }
    let siblings: Vec<(String, &RuleValue)> = field
        .rules
        .iter()
        .filter_map(|r| {
            let rest = r.path.strip_prefix(before)?.strip_prefix('.')?;
            (!rest.starts_with('[')).then(|| (rest.to_string(), &r.value))
        })
        .collect();
    let env = cel::Env {
        rule: Some((&rule.value, cel::predefined_rule_type(pre))),
        rules: Some(cel::RulesValue {
            message,
            entries: siblings,
        }),
        ..cel::Env::new(schema, binding)
    };
    for entry in pre.cel.iter().flat_map(cel::rules_of) {
        let at = || OptionId::FieldRule(rule.path.clone());
        let rule_words = format!("(predefined rule `{full_name}`, id `{}`)", entry.id);
        check_cel_entry(
            &env,
            &entry,
            field.is_redacted(),
            &rule.origin,
            what,
            at,
            &rule_words,
            report,
        );
    }
}

fn is_unsupported(path: &str) -> bool {
    path.contains('[')
}

/// `` `app.v1.User.email` (field 2): (buf.validate.field).string.min_len`` followed by `rest`.
fn rule_text(what: &str, rule: OptionId, rest: impl Into<Text>) -> Text {
    Text::from(format!("{what}: ")).then(rule).then(rest)
}

fn unsupported(
    what: &str,
    option: fn(String) -> OptionId,
    rule: &Rule,
    allow: bool,
    report: &mut RuleReport,
) {
    // CEL and predefined field rules are compiled; what is left here are message and oneof rules capgen does
    // not know.
    let kind = if rule.path.contains('[') {
        "an extension of the rules message (predefined rules extend only the field rules' types)"
    } else {
        "a rule capgen does not know"
    };
    let d = Diagnostic::new(
        &rule.origin,
        rule_text(
            what,
            option(rule.path.clone()),
            format!(" is {kind}, which Capacitor does not support yet"),
        ),
        "unsupported rule",
    );
    if allow {
        report
            .warnings
            .push(d.help("skipped: the generated validator does not check it"));
    } else {
        report.errors.push(d.help(OptionId::UnsupportedRuleRemedy));
    }
}

/// Which typed rules (`string`, `int32`, …) fit a value of this type.
fn member_for(ty: &FieldType) -> Option<&'static str> {
    match ty {
        FieldType::Scalar(s) => Some(s.proto_name()),
        FieldType::Enum(_) => Some("enum"),
        FieldType::WellKnown(w) => Some(match w {
            WellKnown::Timestamp => "timestamp",
            WellKnown::Duration => "duration",
            WellKnown::DoubleValue => "double",
            WellKnown::FloatValue => "float",
            WellKnown::Int64Value => "int64",
            WellKnown::Uint64Value => "uint64",
            WellKnown::Int32Value => "int32",
            WellKnown::Uint32Value => "uint32",
            WellKnown::BoolValue => "bool",
            WellKnown::StringValue => "string",
            WellKnown::BytesValue => "bytes",
        }),
        FieldType::Message(m) if m == "google.protobuf.Any" => Some("any"),
        FieldType::Message(m) if rules::is_field_mask(m) => Some("field_mask"),
        FieldType::Message(_) => None,
    }
}

fn type_words(ty: &FieldType, label: &Label) -> String {
    let base = match ty {
        FieldType::Scalar(s) => s.proto_name().to_string(),
        FieldType::Enum(e) => format!("enum {e}"),
        FieldType::WellKnown(w) => format!("google.protobuf.{}", w.name()),
        FieldType::Message(m) => format!("message {m}"),
    };
    match label {
        Label::Repeated => format!("repeated {base}"),
        Label::Map { key } => format!("map<{}, {base}>", key.proto_name()),
        _ => base,
    }
}

fn check_field(schema: &Schema, message: &Message, field: &Field, report: &mut RuleReport) {
    let what = format!(
        "`{}.{}` (field {})",
        message.full_name, field.name, field.number
    );
    for rule in &field.rules {
        if cel::is_cel_path(&rule.path) {
            match cel::field_binding(field, &rule.path) {
                Some(this) => check_cel(
                    schema,
                    &what,
                    OptionId::FieldRule,
                    rule,
                    this,
                    field.is_redacted(),
                    report,
                ),
                None => report.errors.push(
                    Diagnostic::new(
                        &rule.origin,
                        rule_text(
                            &what,
                            OptionId::FieldRule(rule.path.clone()),
                            format!(" does not fit a {} field", type_words(&field.ty, &field.label)),
                        ),
                        "rule does not fit the field",
                    )
                    .help("`repeated.items.cel` on a repeated field, `map.keys.cel`/`map.values.cel` on a map, `cel` on any field"),
                ),
            }
            continue;
        }
        if rule.path.contains('[') {
            check_predefined(schema, &what, field, rule, report);
            continue;
        }
        if rules::resolve_field_rule(&rule.path).is_none() {
            report.errors.push(Diagnostic::new(
                &rule.origin,
                rule_text(
                    &what,
                    OptionId::FieldRule(rule.path.clone()),
                    " is not a buf.validate rule",
                ),
                "unknown rule",
            ));
            continue;
        }
        if let Some(problem) = fit(&rule.path, &field.ty, &field.label) {
            report.errors.push(
                Diagnostic::new(
                    &rule.origin,
                    rule_text(
                        &what,
                        OptionId::FieldRule(rule.path.clone()),
                        format!(" {problem}"),
                    ),
                    "rule does not fit the field",
                )
                .help("use the rules of the field's own type (`string.*` on a string, `repeated.items.*` on a repeated field's items)"),
            );
            continue;
        }
        check_value(&what, rule, report);
    }
    check_bounds(&what, &field.rules, report);
}

/// Why a rule does not fit a field of this type and label, if it does not.
fn fit(path: &str, ty: &FieldType, label: &Label) -> Option<String> {
    let mut steps = path.split('.');
    let first = steps.next()?;
    let rest: Vec<&str> = steps.collect();
    let rest_path = rest.join(".");
    match first {
        "required" | "ignore" => None,
        "repeated" => match label {
            Label::Repeated => match rest.first() {
                Some(&"unique")
                    if matches!(ty, FieldType::Message(_) | FieldType::WellKnown(_)) =>
                {
                    Some(format!(
                        "applies to scalar, enum, string and bytes items, but the field is {}",
                        type_words(ty, label)
                    ))
                }
                Some(&"items") => fit(
                    &rest_path["items.".len().min(rest_path.len())..],
                    ty,
                    &Label::Implicit,
                ),
                _ => None,
            },
            other => Some(format!(
                "needs a repeated field, but the field is {}",
                type_words(ty, other)
            )),
        },
        "map" => match label {
            Label::Map { key } => match rest.first() {
                Some(&"keys") => fit(
                    &rest_path["keys.".len().min(rest_path.len())..],
                    &FieldType::Scalar(*key),
                    &Label::Implicit,
                ),
                Some(&"values") => fit(
                    &rest_path["values.".len().min(rest_path.len())..],
                    ty,
                    &Label::Implicit,
                ),
                _ => None,
            },
            other => Some(format!(
                "needs a map field, but the field is {}",
                type_words(ty, other)
            )),
        },
        member => {
            if matches!(label, Label::Repeated | Label::Map { .. }) {
                return Some(format!(
                    "applies to single values, but the field is {}: put it under `{}`",
                    type_words(ty, label),
                    if matches!(label, Label::Repeated) {
                        "repeated.items"
                    } else {
                        "map.values"
                    }
                ));
            }
            match member_for(ty) {
                Some(m) if m == member => None,
                _ => Some(format!(
                    "needs a {member} field, but the field is {}",
                    type_words(ty, label)
                )),
            }
        }
    }
}

fn check_value(what: &str, rule: &Rule, report: &mut RuleReport) {
    let last = rule.path.rsplit('.').next().unwrap_or("");
    if last == "pattern"
        && let RuleValue::String(p) = &rule.value
        && let Err(e) = regex::Regex::new(p)
    {
        let reason = e.to_string();
        let reason = reason.lines().last().unwrap_or("").trim().to_string();
        report.errors.push(
            Diagnostic::new(
                &rule.origin,
                rule_text(
                    what,
                    OptionId::FieldRule(rule.path.clone()),
                    format!(" is not a valid RE2 regular expression: {reason}"),
                ),
                "invalid pattern",
            )
            .help("patterns use RE2 syntax: no look-around, no backreferences"),
        );
    }
    if (last == "in" || last == "not_in")
        && let RuleValue::List(items) = &rule.value
    {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                report.errors.push(
                    Diagnostic::new(
                        &rule.origin,
                        rule_text(
                            what,
                            OptionId::FieldRule(rule.path.clone()),
                            format!(" lists {} more than once", show(item)),
                        ),
                        "duplicate value",
                    )
                    .help("list each value once"),
                );
                break;
            }
        }
    }
}

fn show(v: &RuleValue) -> String {
    match v {
        RuleValue::String(s) => format!("\"{s}\""),
        RuleValue::Int(i) => i.to_string(),
        RuleValue::Uint(u) => u.to_string(),
        RuleValue::Float(f) => f.to_string(),
        RuleValue::Enum(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// `min_len` above `max_len` (and the other min/max pairs) can never be satisfied.
fn check_bounds(what: &str, field_rules: &[Rule], report: &mut RuleReport) {
    let get = |path: &str| field_rules.iter().find(|r| r.path == path);
    let mut prefixes = vec![String::new()];
    for p in ["repeated.items.", "map.keys.", "map.values."] {
        prefixes.push(p.to_string());
    }
    for prefix in prefixes {
        for (min, max) in [
            ("string.min_len", "string.max_len"),
            ("string.min_bytes", "string.max_bytes"),
            ("bytes.min_len", "bytes.max_len"),
            ("repeated.min_items", "repeated.max_items"),
            ("map.min_pairs", "map.max_pairs"),
        ] {
            let (min, max) = (format!("{prefix}{min}"), format!("{prefix}{max}"));
            if let (Some(lo), Some(hi)) = (get(&min), get(&max))
                && let (RuleValue::Uint(l), RuleValue::Uint(h)) = (&lo.value, &hi.value)
                && l > h
            {
                report.errors.push(
                    Diagnostic::new(
                        &lo.origin,
                        rule_text(
                            what,
                            OptionId::FieldRule(min.clone()),
                            format!(" = {l} is greater than {max} = {h}, so no value can pass"),
                        ),
                        "min above max",
                    )
                    .help(format!("make {min} at most {max}")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Scalar;

    #[test]
    fn rules_fit_their_fields() {
        let string = FieldType::Scalar(Scalar::String);
        assert_eq!(fit("string.min_len", &string, &Label::Implicit), None);
        assert!(
            fit(
                "string.min_len",
                &FieldType::Scalar(Scalar::Int32),
                &Label::Implicit
            )
            .is_some()
        );
        assert_eq!(
            fit("repeated.items.string.uuid", &string, &Label::Repeated),
            None
        );
        assert!(fit("repeated.min_items", &string, &Label::Implicit).is_some());
        assert!(fit("string.min_len", &string, &Label::Repeated).is_some());
        assert_eq!(
            fit(
                "map.keys.int32.gt",
                &string,
                &Label::Map { key: Scalar::Int32 }
            ),
            None
        );
        assert_eq!(
            fit(
                "int32.gt",
                &FieldType::WellKnown(WellKnown::Int32Value),
                &Label::Optional
            ),
            None
        );
        let mask = FieldType::Message("google.protobuf.FieldMask".into());
        assert_eq!(fit("field_mask.in", &mask, &Label::Optional), None);
        assert_eq!(
            fit(
                "field_mask.const",
                &FieldType::Message("prost_types::FieldMask".into()),
                &Label::Optional
            ),
            None
        );
        assert!(fit("field_mask.not_in", &string, &Label::Implicit).is_some());
        assert!(fit("string.min_len", &mask, &Label::Optional).is_some());
        assert!(
            fit(
                "field_mask.in",
                &FieldType::Message("shop.v1.Address".into()),
                &Label::Optional
            )
            .is_some()
        );
    }
}
