//! Parsing: the `cel` crate's parser (CEL's ANTLR grammar, with the standard macros `has`, `all`, `exists`,
//! `exists_one`, `map` and `filter` expanded), and where each node sits in the expression's text.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, MapExpr, SourceInfo, StructExpr};

/// A parsed expression with its source positions.
#[derive(Debug)]
pub struct Parsed {
    /// The expression tree.
    pub expr: IdedExpr,
    info: SourceInfo,
    source: String,
}

/// A syntax error: the parser's message and the character offset it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// What the parser says.
    pub message: String,
    /// Character offset in the expression, when the parser knows it.
    pub offset: Option<usize>,
}

/// Parses `source`.
pub fn parse(source: &str) -> Result<Parsed, SyntaxError> {
    match cel::parser::Parser::new().parse_with_source_info(source) {
        Ok((expr, info)) => Ok(Parsed {
            expr,
            info,
            source: source.to_string(),
        }),
        Err(errors) => {
            let first = errors.errors.first();
            Err(SyntaxError {
                message: first.map_or_else(|| "invalid expression".to_string(), |e| e.msg.clone()),
                offset: first.and_then(|e| {
                    // The parser's position is (line, column), 1-based line and 0-based column.
                    let (line, col) = e.pos;
                    let line = usize::try_from(line).ok()?.checked_sub(1)?;
                    let before: usize = source
                        .split_inclusive('\n')
                        .take(line)
                        .map(|l| l.chars().count())
                        .sum();
                    Some(before + usize::try_from(col).ok()?)
                }),
            })
        }
    }
}

impl Parsed {
    /// The character range `[start, stop]` the node with `id` and everything under it covers.
    pub fn span(&self, id: u64) -> Option<(usize, usize)> {
        let node = find(&self.expr, id)?;
        let mut range: Option<(u32, u32)> = None;
        visit(node, &mut |e| {
            if let Some((s, t)) = self.info.offset_for(e.id) {
                range = Some(match range {
                    None => (s, t),
                    Some((a, b)) => (a.min(s), b.max(t)),
                });
            }
        });
        range.map(|(s, t)| (s as usize, t as usize))
    }

    /// The text of the node with `id` (the sub-expression an error is about).
    pub fn text(&self, id: u64) -> Option<String> {
        let (start, mut stop) = self.span(id)?;
        // A select's offset is its `.`: take the field name after it too.
        let chars: Vec<char> = self.source.chars().collect();
        while chars
            .get(stop + 1)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            stop += 1;
        }
        // A call's offsets end at its last argument: close its parentheses.
        let open = |stop: usize| {
            let t = &chars[start..=stop.min(chars.len() - 1)];
            t.iter().filter(|c| **c == '(').count() > t.iter().filter(|c| **c == ')').count()
        };
        while open(stop) && chars.get(stop + 1).is_some() {
            stop += 1;
            if chars[stop] == ')' && !open(stop) {
                break;
            }
        }
        let text: String = chars.iter().skip(start).take(stop + 1 - start).collect();
        (!text.is_empty()).then_some(text)
    }
}

fn find(e: &IdedExpr, id: u64) -> Option<&IdedExpr> {
    if e.id == id {
        return Some(e);
    }
    children(e).into_iter().find_map(|c| find(c, id))
}

fn visit<'a>(e: &'a IdedExpr, f: &mut dyn FnMut(&'a IdedExpr)) {
    f(e);
    for c in children(e) {
        visit(c, f);
    }
}

fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(&c.args).collect(),
        Expr::Comprehension(c) => vec![&c.iter_range, &c.loop_step],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Select(s) => vec![&s.operand],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_text_covers_its_whole_sub_expression() {
        let p = parse("this.start < this.ends").unwrap();
        let Expr::Call(c) = &p.expr.expr else {
            panic!()
        };
        assert_eq!(p.text(c.args[1].id).as_deref(), Some("this.ends"));
        assert_eq!(p.text(p.expr.id).as_deref(), Some("this.start < this.ends"));
        let p = parse("this.string().size() < 9").unwrap();
        let Expr::Call(lt) = &p.expr.expr else {
            panic!()
        };
        let Expr::Call(size) = &lt.args[0].expr else {
            panic!()
        };
        let inner = size.target.as_ref().unwrap();
        assert_eq!(p.text(inner.id).as_deref(), Some("this.string()"));
        let e = parse("this.size() > 2 &&").unwrap_err();
        assert!(e.offset.is_some(), "{e:?}");
    }
}
