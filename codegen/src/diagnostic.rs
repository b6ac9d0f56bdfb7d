//! What a check or front end says about the user's schema, tied to where it was declared.
//!
//! The checks run on the IR, which both front ends build, but a user fixes the schema in the syntax they
//! wrote: the options a diagnostic names are therefore [`OptionId`]s inside its [`Text`], and each front end
//! spells them ([`Spelling`]): the proto front end as `(capacitor.v1.entity).cache.ttl` ([`ProtoSpelling`]),
//! the derive as `#[capacitor(cache(ttl = ...))]`.

use crate::ir::Origin;
use serde::{Serialize, Serializer};
use std::fmt;

/// One problem in a schema: what is wrong, where, and what to do.
///
/// Front ends render it their own way: the proto path as a miette report with the source snippet
/// (`file:line:col`), the derive path as a `compile_error!` at the Rust span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What is wrong, naming the message, the field and the option (`` `app.v1.User.tags`: (capacitor.v1.field).index on a repeated field ``).
    pub message: Text,
    /// Where it was declared.
    pub origin: Origin,
    /// A short label shown under the span.
    pub label: String,
    /// What to do about it.
    pub help: Option<Text>,
}

impl Diagnostic {
    /// A diagnostic at `origin`.
    pub fn new(origin: &Origin, message: impl Into<Text>, label: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            origin: origin.clone(),
            label: label.into(),
            help: None,
        }
    }

    /// Adds advice on how to fix it.
    pub fn help(mut self, help: impl Into<Text>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Origin::Proto(span) = &self.origin {
            write!(f, "{span}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// A schema option (or a way out) that a diagnostic names, for each front end to spell in its own syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OptionId {
    /// Declaring a message an entity.
    Entity,
    /// The entity cache's time to live.
    CacheTtl,
    /// Switching the entity cache off.
    CacheDisabled,
    /// The entity's composite indexes.
    Indexes,
    /// The primary-key value of a field's `index` option, named on its own ("keep one ...").
    PrimaryKey,
    /// A field marked as the primary key, as a user writes it on the field.
    PrimaryKeyField,
    /// A composite index that is the primary key, as a user adds it.
    PrimaryIndex,
    /// A validation rule on a field, by its path (`string.min_len`).
    FieldRule(String),
    /// A validation rule on a message, by its path (`oneof`, `cel`).
    MessageRule(String),
    /// A validation rule on a oneof, by its path (`required`).
    OneofRule(String),
    /// What to do about a rule that cannot be checked yet: each front end offers its own way out (capgen
    /// can skip the rule with a warning; a derive cannot).
    UnsupportedRuleRemedy,
}

/// How a front end writes the options a diagnostic names.
pub trait Spelling {
    /// `option` in this front end's syntax, as it reads inside a sentence.
    fn spell(&self, option: &OptionId) -> String;
}

/// The proto front end's spelling: the option names of `capacitor/v1/options.proto` and
/// `buf/validate/validate.proto`, and capgen's flags. [`Text`]'s `Display` uses it, as capgen, the
/// build.rs API and the protoc plugin print diagnostics.
pub struct ProtoSpelling;

impl Spelling for ProtoSpelling {
    fn spell(&self, option: &OptionId) -> String {
        match option {
            OptionId::Entity => "`option (capacitor.v1.entity) = {};`".to_string(),
            OptionId::CacheTtl => "(capacitor.v1.entity).cache.ttl".to_string(),
            OptionId::CacheDisabled => "`disabled: true`".to_string(),
            OptionId::Indexes => "(capacitor.v1.entity).indexes".to_string(),
            OptionId::PrimaryKey => "INDEX_PRIMARY".to_string(),
            OptionId::PrimaryKeyField => {
                "`[(capacitor.v1.field).index = INDEX_PRIMARY]`".to_string()
            }
            OptionId::PrimaryIndex => "a composite index with `primary: true`".to_string(),
            OptionId::FieldRule(path) => format!("(buf.validate.field).{path}"),
            OptionId::MessageRule(path) => format!("(buf.validate.message).{path}"),
            OptionId::OneofRule(path) => format!("(buf.validate.oneof).{path}"),
            OptionId::UnsupportedRuleRemedy => "remove the rule, or pass --allow-unsupported-rules \
                (Builder::allow_unsupported_rules) to generate the other rules and skip this one with a warning"
                .to_string(),
        }
    }
}

/// Diagnostic text: words, and the options they name as [`OptionId`]s, spelled when rendered.
///
/// Built from a `String`, a `&str` or an [`OptionId`] and extended with [`Text::then`].
/// `Display` and `Serialize` render it with [`ProtoSpelling`]; a front end with its own syntax calls
/// [`Text::spelled`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(Vec<Part>);

/// One piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Words(String),
    Option(OptionId),
}

impl Text {
    /// Appends words, an option or another text: `Text::from("`User`: ").then(OptionId::CacheTtl)`.
    pub fn then(mut self, more: impl Into<Text>) -> Self {
        self.0.extend(more.into().0);
        self
    }

    /// The options this text names, in order.
    pub fn options(&self) -> impl Iterator<Item = &OptionId> {
        self.0.iter().filter_map(|part| match part {
            Part::Option(option) => Some(option),
            Part::Words(_) => None,
        })
    }

    /// The text with its options in `spelling`.
    pub fn spelled(&self, spelling: &dyn Spelling) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Words(words) => out.push_str(words),
                Part::Option(option) => out.push_str(&spelling.spell(option)),
            }
        }
        out
    }
}

impl From<String> for Text {
    fn from(words: String) -> Self {
        Text(vec![Part::Words(words)])
    }
}

impl From<&str> for Text {
    fn from(words: &str) -> Self {
        Text::from(words.to_string())
    }
}

impl From<OptionId> for Text {
    fn from(option: OptionId) -> Self {
        Text(vec![Part::Option(option)])
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelled(&ProtoSpelling))
    }
}

/// Serialized as capgen prints it, so JSON output is the same text as the terminal's.
impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
