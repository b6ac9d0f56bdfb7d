//! The rules of one field, item or map entry as a flat list of rule paths under a rules message.

use crate::ir::{Rule, RuleValue};

/// A set of rules relative to some rules message (`FieldRules` of a field, of its items, …).
#[derive(Debug, Clone, Default)]
pub(super) struct Rules<'r> {
    pub(super) entries: Vec<(&'r str, &'r RuleValue)>,
}

impl<'r> Rules<'r> {
    pub(super) fn of(rules: &'r [Rule]) -> Self {
        Rules {
            entries: rules.iter().map(|r| (r.path.as_str(), &r.value)).collect(),
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'r RuleValue> {
        self.entries
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, v)| *v)
    }

    pub(super) fn sub(&self, prefix: &str) -> Rules<'r> {
        Rules {
            entries: self
                .entries
                .iter()
                .filter_map(|(p, v)| {
                    p.strip_prefix(prefix)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .map(|rest| (rest, *v))
                })
                .collect(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(RuleValue::Bool(true)))
    }

    pub(super) fn ignore(&self) -> i32 {
        match self.get("ignore") {
            Some(RuleValue::Enum(n)) => *n,
            _ => 0,
        }
    }
}
