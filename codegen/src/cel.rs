//! The subset of CEL that capgen compiles into Rust: a field rule whose expression compares the value (or one
//! scalar field of a message value) with a literal, or calls one of protovalidate's string-format functions.
//!
//! ```text
//! this == 'x'   this.size() ...  (not supported)
//! this.val == 'foo'              this > 3            this.isHostAndPort(false)
//! ```
//!
//! Anything else is not CEL capgen understands: [`parse`] says so, and the checks report the rule as
//! unsupported (an error, or a warning with `--allow-unsupported-rules`).

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal of the expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'` or `"text"` (no escapes).
    String(String),
    /// An integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
}

/// What the expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `this`: the field's value.
    This,
    /// `this.name`: a field of the message value.
    Field(String),
}

/// A string-format function of protovalidate's CEL library, called on `this`.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// `isEmail()`
    Email,
    /// `isHostname()`
    Hostname,
    /// `isIp()`, `isIp(4)`, `isIp(6)`.
    Ip(u8),
    /// `isIpPrefix(version?, strict?)`.
    IpPrefix(u8, bool),
    /// `isUri()`
    Uri,
    /// `isUriRef()`
    UriRef,
    /// `isHostAndPort(port_required)`.
    HostAndPort(bool),
}

/// An expression capgen can compile.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `<subject> <op> <literal>` (either side may hold the literal).
    Compare {
        /// What is compared.
        subject: Subject,
        /// How, read as `subject op literal`.
        op: CmpOp,
        /// With what.
        literal: Literal,
    },
    /// `this.isEmail()` and friends.
    Format {
        /// The function.
        format: Format,
        /// Whether a leading `!` negates it.
        negated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Dot,
    Open,
    Close,
    Comma,
    Not,
    Op(CmpOp),
}

fn tokens(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '.' => {
                out.push(Token::Dot);
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    if chars[i] == '\\' {
                        return Err("escapes in string literals are not supported".into());
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                if i == chars.len() {
                    return Err("unterminated string literal".into());
                }
                i += 1;
                out.push(Token::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (tok, len) = match (c, next) {
                    ('=', Some('=')) => (Token::Op(CmpOp::Eq), 2),
                    ('!', Some('=')) => (Token::Op(CmpOp::Ne), 2),
                    ('<', Some('=')) => (Token::Op(CmpOp::Le), 2),
                    ('>', Some('=')) => (Token::Op(CmpOp::Ge), 2),
                    ('<', _) => (Token::Op(CmpOp::Lt), 1),
                    ('>', _) => (Token::Op(CmpOp::Gt), 1),
                    ('!', _) => (Token::Not, 1),
                    _ => return Err(format!("unexpected `{c}`")),
                };
                out.push(tok);
                i += len;
            }
            '-' | '0'..='9' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Token::Int(
                    text.parse().map_err(|_| format!("bad number `{text}`"))?,
                ));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("`{other}` is outside the supported CEL subset")),
        }
    }
    Ok(out)
}

/// Parses `src` into the supported subset, or says why it is outside it.
///
/// ```
/// use capacitor_codegen::cel::{parse, Expr, Subject, CmpOp, Literal};
/// assert_eq!(
///     parse("this.val == 'foo'").unwrap(),
///     Expr::Compare { subject: Subject::Field("val".into()), op: CmpOp::Eq, literal: Literal::String("foo".into()) }
/// );
/// assert!(parse("this.size() > 2 && this.startsWith('a')").is_err());
/// ```
pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = tokens(src)?;
    let mut p = Parser { toks, pos: 0 };
    let expr = p.expr()?;
    if p.pos != p.toks.len() {
        return Err("only one comparison or format call is supported".into());
    }
    Ok(expr)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expr(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return match self.operand()? {
                Operand::Call(format) => Ok(Expr::Format {
                    format,
                    negated: true,
                }),
                _ => Err("`!` applies only to a format function call".into()),
            };
        }
        let lhs = self.operand()?;
        let op = match self.peek() {
            Some(Token::Op(op)) => *op,
            None => {
                return match lhs {
                    Operand::Call(format) => Ok(Expr::Format {
                        format,
                        negated: false,
                    }),
                    _ => Err("the expression must be a comparison or a format call".into()),
                };
            }
            _ => return Err("expected a comparison".into()),
        };
        self.pos += 1;
        let rhs = self.operand()?;
        match (lhs, rhs) {
            (Operand::Subject(subject), Operand::Literal(literal)) => Ok(Expr::Compare {
                subject,
                op,
                literal,
            }),
            (Operand::Literal(literal), Operand::Subject(subject)) => Ok(Expr::Compare {
                subject,
                op: match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    other => other,
                },
                literal,
            }),
            _ => Err("a comparison needs `this` (or `this.field`) on one side and a literal on the other".into()),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Operand::Literal(Literal::String(s))),
            Some(Token::Int(i)) => Ok(Operand::Literal(Literal::Int(i))),
            Some(Token::Ident(id)) if id == "true" || id == "false" => {
                Ok(Operand::Literal(Literal::Bool(id == "true")))
            }
            Some(Token::Ident(id)) if id == "this" => {
                if self.peek() != Some(&Token::Dot) {
                    return Ok(Operand::Subject(Subject::This));
                }
                self.pos += 1;
                let Some(Token::Ident(name)) = self.next() else {
                    return Err("expected a field or function name after `this.`".into());
                };
                if self.peek() != Some(&Token::Open) {
                    return Ok(Operand::Subject(Subject::Field(name)));
                }
                self.pos += 1;
                let mut args = Vec::new();
                while self.peek() != Some(&Token::Close) {
                    match self.next() {
                        Some(Token::Int(i)) => args.push(Literal::Int(i)),
                        Some(Token::Ident(b)) if b == "true" || b == "false" => {
                            args.push(Literal::Bool(b == "true"))
                        }
                        _ => return Err(format!("unsupported argument to `{name}`")),
                    }
                    if self.peek() == Some(&Token::Comma) {
                        self.pos += 1;
                    }
                }
                self.pos += 1;
                format_call(&name, &args).map(Operand::Call)
            }
            _ => Err("expected `this`, `this.field` or a literal".into()),
        }
    }
}

enum Operand {
    Subject(Subject),
    Literal(Literal),
    Call(Format),
}

fn format_call(name: &str, args: &[Literal]) -> Result<Format, String> {
    let version = |v: &Literal| match v {
        Literal::Int(n @ (0 | 4 | 6)) => Ok(*n as u8),
        _ => Err(format!("`{name}` takes a version of 0, 4 or 6")),
    };
    Ok(match (name, args) {
        ("isEmail", []) => Format::Email,
        ("isHostname", []) => Format::Hostname,
        ("isIp", []) => Format::Ip(0),
        ("isIp", [v]) => Format::Ip(version(v)?),
        ("isIpPrefix", []) => Format::IpPrefix(0, false),
        ("isIpPrefix", [Literal::Bool(strict)]) => Format::IpPrefix(0, *strict),
        ("isIpPrefix", [v]) => Format::IpPrefix(version(v)?, false),
        ("isIpPrefix", [v, Literal::Bool(strict)]) => Format::IpPrefix(version(v)?, *strict),
        ("isUri", []) => Format::Uri,
        ("isUriRef", []) => Format::UriRef,
        ("isHostAndPort", [Literal::Bool(port)]) => Format::HostAndPort(*port),
        _ => {
            return Err(format!(
                "`{name}` with these arguments is outside the supported CEL subset"
            ));
        }
    })
}

/// Whether `expr` can be compiled for a value of type `value`: the literal's type fits what it is compared with,
/// and `this.field` names a singular scalar field of the message `value` (looked up in `schema`).
pub fn fits(
    expr: &Expr,
    value: &crate::ir::FieldType,
    schema: &crate::ir::Schema,
) -> Result<(), String> {
    use crate::ir::{FieldType, Label, Scalar};
    let scalar_fits = |ty: &FieldType, literal: &Literal| match (ty, literal) {
        (FieldType::Scalar(Scalar::String), Literal::String(_)) => true,
        (FieldType::Scalar(Scalar::Bool), Literal::Bool(_)) => true,
        (FieldType::Scalar(Scalar::String | Scalar::Bytes | Scalar::Bool), _) => false,
        (FieldType::Scalar(_) | FieldType::Enum(_), Literal::Int(_)) => true,
        _ => false,
    };
    match expr {
        Expr::Format { .. } => match value {
            FieldType::Scalar(Scalar::String) => Ok(()),
            _ => Err("format functions apply to strings".into()),
        },
        Expr::Compare {
            subject: Subject::This,
            literal,
            ..
        } => match scalar_fits(value, literal) {
            true => Ok(()),
            false => Err("the literal's type does not match the field".into()),
        },
        Expr::Compare {
            subject: Subject::Field(name),
            literal,
            ..
        } => {
            let FieldType::Message(message) = value else {
                return Err("`this.field` needs a message value".into());
            };
            let field = schema
                .message(message)
                .and_then(|m| m.field(name))
                .ok_or_else(|| format!("`{message}` has no field `{name}` capgen can see"))?;
            if field.oneof.is_some()
                || matches!(field.label, Label::Repeated | Label::Map { .. })
                || !scalar_fits(&field.ty, literal)
            {
                return Err(format!(
                    "`this.{name}` must be a singular scalar matching the literal"
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_parses_and_the_rest_is_refused() {
        assert_eq!(
            parse("this.isHostAndPort(false)").unwrap(),
            Expr::Format {
                format: Format::HostAndPort(false),
                negated: false
            }
        );
        assert_eq!(
            parse("3 < this").unwrap(),
            Expr::Compare {
                subject: Subject::This,
                op: CmpOp::Gt,
                literal: Literal::Int(3)
            }
        );
        assert!(parse("this.val == 'a' && this.x == 'b'").is_err());
        assert!(parse("size(this) > 1").is_err());
        assert!(parse("this == 'a' ? '' : 'bad'").is_err());
    }
}
