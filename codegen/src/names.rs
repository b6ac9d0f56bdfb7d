//! Rust names exactly as prost-build spells them, so the IR's `rust_name`s match the generated structs.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Escapes a name that is a Rust keyword: a raw identifier where Rust allows one, a trailing `_` where it
/// does not (`self`, `super`, `crate`, `Self`, `extern`, `_`), a leading `_` before a digit.
pub fn escape(name: &str) -> String {
    const RAW: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
        "virtual", "yield", "async", "await", "try", "gen",
    ];
    const SUFFIXED: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];
    if RAW.contains(&name) {
        format!("r#{name}")
    } else if SUFFIXED.contains(&name) {
        format!("{name}_")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// A field or module name: `lower_snake`, escaped.
pub fn field_name(proto_name: &str) -> String {
    escape(&proto_name.to_snake_case())
}

/// A type or variant name: `UpperCamel`, escaped.
pub fn type_name(proto_name: &str) -> String {
    escape(&proto_name.to_upper_camel_case())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped_as_prost_does() {
        assert_eq!(field_name("type"), "r#type");
        assert_eq!(field_name("gen"), "r#gen");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(field_name("userId"), "user_id");
        assert_eq!(type_name("user_profile"), "UserProfile");
        assert_eq!(type_name("Self"), "Self_");
    }
}
