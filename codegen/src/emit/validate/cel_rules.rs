//! CEL rules (`cel`, `cel_expression`) placed in a message's `validate_into`: the expression compiled by
//! [`crate::cel`], the violation it reports when it gives `false` (or a non-empty message), and the runtime
//! error when it cannot be evaluated.

use super::{Emitter, Rules};
use crate::cel::{self, Binding, Env};
use crate::rules::{self, RuleField};
use proc_macro2::TokenStream;
use quote::quote;

impl Emitter<'_> {
    /// The `cel` and `cel_expression` rules among `rules` (a view of the rules message `root`, under the rule
    /// path `prefix`), with `this` bound as `binding` to the Rust reference `v`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cel_checks(
        &self,
        binding: Binding,
        v: &TokenStream,
        rules: &Rules<'_>,
        root: &str,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let env = Env {
            implicit_presence: self.cx.implicit_presence,
            ..Env::new(self.cx.schema, binding.clone())
        };
        let mut out = Vec::new();
        for name in ["cel", "cel_expression"] {
            let Some(value) = rules.get(name) else {
                continue;
            };
            let mut path = prefix.to_vec();
            path.extend(rules::resolve(root, name).unwrap_or_default());
            for rule in cel::rules_in(name, value) {
                // protovalidate reports a message-level CEL rule without a rule path.
                let path = if root == "MessageRules" {
                    self.rule_static(&[], None)
                } else {
                    self.rule_static(&path, Some(rule.index))
                };
                out.push(self.cel_check(&env, &binding, v, &rule, path, at, for_key));
            }
        }
        quote!(#(#out)*)
    }

    /// One CEL rule with `this` bound as `binding` to `v`: evaluate, and report a violation (at the rule path
    /// `path`, a `static R`) or a runtime error. The checks compiled every rule before generation (one that does
    /// not compile refuses the message), so a rule that does not compile here emits nothing.
    #[allow(clippy::too_many_arguments)]
    fn cel_check(
        &self,
        env: &Env<'_>,
        binding: &Binding,
        v: &TokenStream,
        rule: &cel::CelRule,
        path: TokenStream,
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let Ok(compiled) = cel::compile(&rule.expression, env) else {
            return quote!();
        };
        let lowered = compiled.lower(&self.rt, cel::this_value(binding, v));
        let message = rule
            .message
            .clone()
            .unwrap_or_else(|| format!("`{}` returned false", rule.expression));
        let id = &rule.id;
        let rt = &self.rt;
        let e = &lowered.expr;
        let now = if lowered.uses_now {
            quote!(let cel_now = cx.now();)
        } else {
            quote!()
        };
        let method = if for_key {
            quote!(key_violation)
        } else {
            quote!(violation)
        };
        let fail = if lowered.returns_message {
            quote!({
                let m: &str = ::core::ops::Deref::deref(&m);
                if !m.is_empty() {
                    #path
                    cx.violation_owned(#at, &R, #id, ::std::string::ToString::to_string(m), #for_key)?;
                }
            })
        } else {
            quote!(if !m { #path cx.#method(#at, &R, #id, #message)?; })
        };
        if lowered.fallible {
            quote!({
                #now
                match (move || -> ::core::result::Result<_, #rt::validate::cel::EvalError> { ::core::result::Result::Ok(#e) })() {
                    ::core::result::Result::Ok(m) => #fail,
                    ::core::result::Result::Err(e) => { cx.runtime_error(#at, #id, e)?; }
                }
            })
        } else {
            quote!({
                #now
                let m = #e;
                #fail
            })
        }
    }
}

impl Emitter<'_> {
    /// A field value's CEL checks: its own `cel` rules and, when its rules have a typed `member` (`string`,
    /// `repeated`, `map`, …), the predefined rules set on that member.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn field_cel_checks(
        &self,
        binding: Binding,
        v: &TokenStream,
        rules: &Rules<'_>,
        member: Option<&str>,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let cel = self.cel_checks(binding.clone(), v, rules, "FieldRules", prefix, at, for_key);
        let predefined =
            member.map(|m| self.predefined_checks(binding, v, rules, m, prefix, at, for_key));
        quote!(#cel #predefined)
    }

    /// The predefined rules (extensions of the rules message `member`, `[full.name]` entries of `rules`, the
    /// field's rules) on a value bound as `binding` to `v`: each extension's `(buf.validate.predefined).cel`,
    /// with `rule` its value and `rules` the other rules of `member`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn predefined_checks(
        &self,
        binding: Binding,
        v: &TokenStream,
        rules: &Rules<'_>,
        member: &str,
        prefix: &[RuleField],
        at: &TokenStream,
        for_key: bool,
    ) -> TokenStream {
        let typed = rules.sub(member);
        let mut member_path = prefix.to_vec();
        member_path.extend(rules::resolve_field_rule(member).unwrap_or_default());
        let Some(rules::RuleType::Message(message)) = member_path.last().map(|f| f.ty) else {
            return quote!();
        };
        let standard: Vec<(String, &crate::ir::RuleValue)> = typed
            .entries
            .iter()
            .filter(|(name, _)| !name.starts_with('['))
            .map(|(name, value)| (name.to_string(), *value))
            .collect();
        let mut out = Vec::new();
        for (name, value) in &typed.entries {
            let Some(full_name) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) else {
                continue;
            };
            let Some(pre) = self.cx.schema.predefined_rule(full_name) else {
                continue;
            };
            let Some(cel_rule) = &pre.cel else {
                continue;
            };
            let env = Env {
                rule: Some((value, cel::predefined_rule_type(pre))),
                rules: Some(cel::RulesValue {
                    message,
                    entries: standard.clone(),
                }),
                implicit_presence: self.cx.implicit_presence,
                ..Env::new(self.cx.schema, binding.clone())
            };
            let ext_segment = self.segment_tokens(
                pre.number as i32,
                &format!("[{full_name}]"),
                super::descriptor_type(&pre.ty),
            );
            // The member's path, then the extension.
            let n = member_path.len() + 1;
            let rt = &self.rt;
            let path = {
                let member_segments = member_path
                    .iter()
                    .map(|f| self.segment_tokens(f.number, f.name, super::rule_type_variant(f.ty)));
                quote!(static R: [#rt::validate::Segment; #n] = [#(#member_segments,)* #ext_segment];)
            };
            for rule in cel::rules_of(cel_rule) {
                out.push(self.cel_check(&env, &binding, v, &rule, path.clone(), at, for_key));
            }
        }
        quote!(#(#out)*)
    }
}
