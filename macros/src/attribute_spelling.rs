//! How the derive spells the options the checks name: as the `#[capacitor(...)]` attributes a user writes on
//! the struct and its fields, where the proto front end writes `(capacitor.v1.entity)` options.

use capacitor_codegen::diagnostic::{OptionId, Spelling};

/// The derive's spelling of [`OptionId`]s.
pub(crate) struct AttributeSpelling;

impl Spelling for AttributeSpelling {
    fn spell(&self, option: &OptionId) -> String {
        match option {
            OptionId::Entity => "`#[derive(Entity)]`".to_string(),
            OptionId::CacheTtl => "#[capacitor(cache(ttl = ...))]".to_string(),
            OptionId::CacheDisabled => "`cache(disabled)`".to_string(),
            OptionId::Indexes => "#[capacitor(index(...))]".to_string(),
            OptionId::PrimaryKey => "`primary_key`".to_string(),
            OptionId::PrimaryKeyField => "`#[capacitor(primary_key)]`".to_string(),
            OptionId::PrimaryIndex => {
                "`#[capacitor(index(fields(\"a\", \"b\"), primary))]` to the struct".to_string()
            }
            // A `validate(...)` key is the rule's path (`string.min_len`), whichever rule set it belongs to.
            OptionId::FieldRule(path) | OptionId::MessageRule(path) | OptionId::OneofRule(path) => {
                path.clone()
            }
            OptionId::UnsupportedRuleRemedy => {
                "remove the rule (a derive cannot skip a rule it cannot \
                check), or check it in a hand-written `Validate`"
                    .to_string()
            }
        }
    }
}
