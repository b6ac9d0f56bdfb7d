//! What a failed validation reports.

use super::path::{FieldPath, Subscript};
use std::borrow::Cow;
use std::fmt;

/// One broken rule: which field, which rule, and what was expected.
///
/// The message states the expectation (`value length must be at most 200 characters`) and never the value,
/// so a violation of a field holding personal data can be logged, displayed or returned as-is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Violation {
    /// The field that broke the rule, outermost first; empty for a message-level rule.
    pub field: FieldPath,
    /// The rule inside `buf.validate.FieldRules` (or `MessageRules`, `OneofRules`), e.g. `string.max_len`.
    pub rule: FieldPath,
    /// protovalidate's rule id (`string.email`, `int32.gt_lt`, `repeated.unique`, `required`).
    pub rule_id: Cow<'static, str>,
    /// What was expected, in words.
    pub message: Cow<'static, str>,
    /// Whether the violation is about a map key rather than its value.
    pub for_key: bool,
}

/// `items[2].name: value length must be at most 200 characters [string.max_len]`
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{} [{}]", self.message, self.rule_id)
    }
}

/// Like Display: the path and the expectation, never a field's value (a string map key prints as `<key>`).
impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Violation")
            .field("field", &format_args!("{}", self.field))
            .field("rule", &format_args!("{}", self.rule))
            .field("rule_id", &self.rule_id)
            .field("message", &self.message)
            .field("for_key", &self.for_key)
            .finish()
    }
}

/// Every violation one validation found, in the order the rules were checked. Never empty when returned
/// as an error.
///
/// ```
/// use capacitor::validate::{FieldPath, Violation, Violations};
/// let v = Violations::from(vec![Violation {
///     field: FieldPath::default(),
///     rule: FieldPath::default(),
///     rule_id: "required".into(),
///     message: "value is required".into(),
///     for_key: false,
/// }]);
/// assert_eq!(v.len(), 1);
/// assert_eq!(v.to_string(), "value is required [required]");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Violations(Vec<Violation>, Option<RuntimeError>);

/// A CEL rule that could not be evaluated for this input (an integer overflow, a division by zero, a
/// missing map key, an invalid conversion): protovalidate's *runtime error*. Validation stops there, and the
/// violations found before it are kept beside it.
///
/// The reason is one of a fixed set of phrases (`integer overflow`), never a value of the message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuntimeError {
    /// The field whose rule failed to evaluate; empty for a message-level rule.
    pub field: FieldPath,
    /// The rule's id (the `id` of its `buf.validate.Rule`).
    pub rule_id: Cow<'static, str>,
    /// Why it could not be evaluated.
    pub reason: &'static str,
}

/// `price: rule total_matches could not be evaluated: integer overflow`
impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(
            f,
            "rule `{}` could not be evaluated: {}",
            self.rule_id, self.reason
        )
    }
}

impl Violations {
    /// How many violations there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no violations and no runtime error (never true for an `Err` from
    /// [`Validate`](super::Validate)).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.is_none()
    }

    /// The CEL rule that could not be evaluated, when one could not: validation stopped there.
    pub fn runtime_error(&self) -> Option<&RuntimeError> {
        self.1.as_ref()
    }

    pub(crate) fn set_runtime_error(&mut self, e: RuntimeError) {
        self.1.get_or_insert(e);
    }

    pub(crate) fn count(&self) -> usize {
        self.0.len()
    }

    /// The violations, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }

    /// The violations as a vector.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }

    pub(crate) fn push(&mut self, v: Violation) {
        self.0.push(v);
    }

    /// Drops the violations after the first `len`, and a runtime error (found after them: one ends validation).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
        self.1 = None;
    }
}

impl From<Vec<Violation>> for Violations {
    fn from(v: Vec<Violation>) -> Self {
        Violations(v, None)
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One violation per line.
impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{v}")?;
        }
        if let Some(e) = &self.1 {
            if !self.0.is_empty() {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.1 {
            None => f.debug_list().entries(&self.0).finish(),
            Some(e) => f
                .debug_struct("Violations")
                .field("violations", &self.0)
                .field("runtime_error", e)
                .finish(),
        }
    }
}

impl std::error::Error for Violations {}

/// A string map key is data: Debug shows its shape, never its value.
impl fmt::Debug for Subscript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subscript::Index(i) => f.debug_tuple("Index").field(i).finish(),
            Subscript::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Subscript::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Subscript::Uint(u) => f.debug_tuple("Uint").field(u).finish(),
            Subscript::String(_) => f.write_str("String(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::path::{FieldPathElement, FieldType};
    use super::super::wire::WireViolations;
    use super::*;

    fn element(number: i32, name: &'static str, subscript: Option<Subscript>) -> FieldPathElement {
        FieldPathElement {
            field_number: number,
            field_name: name.into(),
            field_type: FieldType::String,
            key_type: None,
            value_type: None,
            subscript,
        }
    }

    fn sample() -> Violations {
        Violations::from(vec![
            Violation {
                field: FieldPath {
                    elements: vec![
                        element(
                            3,
                            "labels",
                            Some(Subscript::String("ada@example.com".into())),
                        ),
                        element(1, "name", None),
                    ],
                },
                rule: FieldPath {
                    elements: vec![element(14, "string", None), element(3, "max_len", None)],
                },
                rule_id: "string.max_len".into(),
                message: "value length must be at most 3 characters".into(),
                for_key: true,
            },
            Violation {
                // A oneof: no number, no type.
                field: FieldPath {
                    elements: vec![element(0, "payment", None)],
                },
                rule: FieldPath::default(),
                rule_id: "required".into(),
                message: "exactly one field is required in oneof".into(),
                for_key: false,
            },
        ])
    }

    #[test]
    fn display_names_path_rule_and_expectation_but_no_key_value() {
        let v = sample();
        assert_eq!(
            v.to_string(),
            "labels[<key>].name: value length must be at most 3 characters [string.max_len]\npayment: exactly one field is required in oneof [required]"
        );
        assert!(!format!("{v:?}").contains("ada@"));
    }

    #[test]
    fn the_wire_form_round_trips_and_omits_a_oneof_number() {
        let v = sample();
        let wire = WireViolations::from(&v);
        let oneof = &wire.violations[1].field.as_ref().unwrap().elements[0];
        assert_eq!((oneof.field_number, oneof.field_type), (None, None));
        assert!(wire.violations[1].rule.is_none());
        let back = Violations::try_from(&wire).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.iter().next(), v.iter().next());
        assert_eq!(back.into_vec()[1].field.elements[0].field_number, 0);
    }
}
