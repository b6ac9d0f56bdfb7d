//! Reading the mapping's text form of a `FieldMask`, which pbjson-types reads differently.

/// A `FieldMask`'s paths from the mapping's comma-separated string of lowerCamel paths, as snake_case paths.
/// Fails on a path holding `_`, which lowerCamel never does.
pub fn field_mask_from_json(text: &str) -> Result<Vec<String>, String> {
    let mut paths = Vec::new();
    for path in text.split(',').filter(|p| !p.is_empty()) {
        let mut snake = String::with_capacity(path.len() + 4);
        for c in path.chars() {
            if c == '_' {
                return Err(format!("FieldMask path `{path}` is not lowerCamelCase"));
            }
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        paths.push(snake);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_masks() {
        assert_eq!(field_mask_from_json("").unwrap(), Vec::<String>::new());
        assert_eq!(
            field_mask_from_json("userId,a.bC").unwrap(),
            ["user_id", "a.b_c"]
        );
        assert!(field_mask_from_json("user_id").is_err());
    }
}
