//! Field and rule paths: where a violation happened and which rule it broke.
//!
//! Generated code never builds a [`FieldPath`] on valid input: it passes a [`PathNode`] chain of borrowed,
//! mostly `'static` segments down the recursion, and the chain is materialized only when a violation is
//! recorded.

use std::borrow::Cow;
use std::fmt;

/// A protobuf field type, numbered as `google.protobuf.FieldDescriptorProto.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)] // the variants are protobuf's own type names
pub enum FieldType {
    Double = 1,
    Float = 2,
    Int64 = 3,
    Uint64 = 4,
    Int32 = 5,
    Fixed64 = 6,
    Fixed32 = 7,
    Bool = 8,
    String = 9,
    Group = 10,
    Message = 11,
    Bytes = 12,
    Uint32 = 13,
    Enum = 14,
    Sfixed32 = 15,
    Sfixed64 = 16,
    Sint32 = 17,
    Sint64 = 18,
}

impl FieldType {
    /// The type with this `FieldDescriptorProto.Type` number.
    ///
    /// ```
    /// use capacitor::validate::FieldType;
    /// assert_eq!(FieldType::from_number(9), Some(FieldType::String));
    /// assert_eq!(FieldType::from_number(0), None);
    /// ```
    pub fn from_number(n: i32) -> Option<FieldType> {
        use FieldType::*;
        Some(match n {
            1 => Double,
            2 => Float,
            3 => Int64,
            4 => Uint64,
            5 => Int32,
            6 => Fixed64,
            7 => Fixed32,
            8 => Bool,
            9 => String,
            10 => Group,
            11 => Message,
            12 => Bytes,
            13 => Uint32,
            14 => Enum,
            15 => Sfixed32,
            16 => Sfixed64,
            17 => Sint32,
            18 => Sint64,
            _ => return None,
        })
    }

    /// The `FieldDescriptorProto.Type` number.
    pub fn number(self) -> i32 {
        self as i32
    }
}

/// A list index or map key that selects one value of a repeated or map field.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Subscript {
    /// A position in a repeated field.
    Index(u64),
    /// A `bool` map key.
    Bool(bool),
    /// A signed integer map key.
    Int(i64),
    /// An unsigned integer map key.
    Uint(u64),
    /// A `string` map key.
    String(String),
}

/// One step of a [`FieldPath`]: a field, and the item of it when the field is repeated or a map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPathElement {
    /// The field's number; 0 for a oneof, which has none (the wire form then omits number and type).
    pub field_number: i32,
    /// The field's proto name.
    pub field_name: Cow<'static, str>,
    /// The field's type (`Message` for a map field).
    pub field_type: FieldType,
    /// A map field's key type.
    pub key_type: Option<FieldType>,
    /// A map field's value type.
    pub value_type: Option<FieldType>,
    /// Which item of a repeated or map field.
    pub subscript: Option<Subscript>,
}

/// A path through fields, outermost first: `items[2].name`, or `string.max_len` inside the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath {
    /// The steps, outermost first.
    pub elements: Vec<FieldPathElement>,
}

impl FieldPath {
    /// Whether the path has no steps (a message-level violation).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

/// `items[2].name`, `labels["k"]`, `string.max_len`: the path as protovalidate prints it.
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.elements.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&e.field_name)?;
            match &e.subscript {
                None => {}
                Some(Subscript::Index(n)) | Some(Subscript::Uint(n)) => write!(f, "[{n}]")?,
                Some(Subscript::Int(n)) => write!(f, "[{n}]")?,
                Some(Subscript::Bool(b)) => write!(f, "[{b}]")?,
                // A map key is data too: print its shape, never its value.
                Some(Subscript::String(_)) => f.write_str("[<key>]")?,
            }
        }
        Ok(())
    }
}

/// A field of a message or of a rules message, as generated code names it in `'static` tables.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub number: i32,
    pub name: &'static str,
    pub ty: FieldType,
    pub key_type: Option<FieldType>,
    pub value_type: Option<FieldType>,
    /// The position inside a repeated rules field (`cel[0]`).
    pub index: Option<u64>,
}

impl Segment {
    /// A plain field segment.
    pub const fn new(number: i32, name: &'static str, ty: FieldType) -> Segment {
        Segment {
            number,
            name,
            ty,
            key_type: None,
            value_type: None,
            index: None,
        }
    }

    /// One entry of a repeated rules field (`cel[0]`).
    pub const fn indexed(number: i32, name: &'static str, ty: FieldType, index: u64) -> Segment {
        Segment {
            number,
            name,
            ty,
            key_type: None,
            value_type: None,
            index: Some(index),
        }
    }

    /// A map field segment.
    pub const fn map(
        number: i32,
        name: &'static str,
        key_type: FieldType,
        value_type: FieldType,
    ) -> Segment {
        Segment {
            number,
            name,
            ty: FieldType::Message,
            key_type: Some(key_type),
            value_type: Some(value_type),
            index: None,
        }
    }

    /// A map's key and value types are named only on a path to one entry, as protovalidate does.
    fn element(&self, subscript: Option<Subscript>) -> FieldPathElement {
        let entry = subscript.is_some();
        FieldPathElement {
            field_number: self.number,
            field_name: Cow::Borrowed(self.name),
            field_type: self.ty,
            key_type: self.key_type.filter(|_| entry),
            value_type: self.value_type.filter(|_| entry),
            subscript,
        }
    }
}

/// A borrowed subscript, turned into a [`Subscript`] only when a violation is recorded.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    None,
    Index(usize),
    Bool(bool),
    Int(i64),
    Uint(u64),
    String(&'a str),
}

impl Key<'_> {
    fn to_subscript(self) -> Option<Subscript> {
        match self {
            Key::None => None,
            Key::Index(i) => Some(Subscript::Index(i as u64)),
            Key::Bool(b) => Some(Subscript::Bool(b)),
            Key::Int(i) => Some(Subscript::Int(i)),
            Key::Uint(u) => Some(Subscript::Uint(u)),
            Key::String(s) => Some(Subscript::String(s.to_string())),
        }
    }
}

/// One link of a field path under construction: a field of the current message, its subscript, and the
/// path of the message that holds it. Lives on the stack; costs nothing until a violation needs it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct PathNode<'a> {
    pub parent: Option<&'a PathNode<'a>>,
    pub segment: &'static Segment,
    pub key: Key<'a>,
}

impl<'a> PathNode<'a> {
    /// The path to `segment` inside the message at `parent`.
    pub fn new(parent: Option<&'a PathNode<'a>>, segment: &'static Segment) -> Self {
        PathNode {
            parent,
            segment,
            key: Key::None,
        }
    }

    /// The same field, one item of it.
    pub fn with_key(&self, key: Key<'a>) -> Self {
        PathNode { key, ..*self }
    }

    /// Materializes the chain, outermost first.
    pub fn to_field_path(node: Option<&PathNode<'_>>) -> FieldPath {
        let mut elements = Vec::new();
        let mut cursor = node;
        while let Some(n) = cursor {
            elements.push(n.segment.element(n.key.to_subscript()));
            cursor = n.parent;
        }
        elements.reverse();
        FieldPath { elements }
    }
}

/// Materializes a rule path (`string`, `max_len`) from its static segments.
pub(crate) fn rule_path(segments: &'static [Segment]) -> FieldPath {
    FieldPath {
        elements: segments
            .iter()
            .map(|s| s.element(s.index.map(Subscript::Index)))
            .collect(),
    }
}
