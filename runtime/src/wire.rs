//! A walk over the top-level fields of a protobuf encoding that rewrites the length-delimited payloads of some
//! fields and copies everything else byte for byte. Generic over the message: the schema says which field
//! numbers to rewrite (the encrypted ones for field encryption, the claim-checked ones for the claim check), so
//! generated code needs no per-entity visitor.

use crate::schema::{EntitySchema, FieldSchema};

fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Skips one value of `wire_type` (a group up to its end tag).
fn skip(input: &mut &[u8], wire_type: u64, depth: u32) -> Option<()> {
    let advance = |input: &mut &[u8], n: usize| {
        *input = input.get(n..)?;
        Some(())
    };
    match wire_type {
        0 => varint(input).map(|_| ()),
        1 => advance(input, 8),
        2 => {
            let len = usize::try_from(varint(input)?).ok()?;
            advance(input, len)
        }
        3 if depth < 64 => loop {
            let tag = varint(input)?;
            if tag & 7 == 4 {
                return Some(());
            }
            skip(input, tag & 7, depth + 1)?;
        },
        5 => advance(input, 4),
        _ => None,
    }
}

/// One top-level field of an encoding, as [`walk`] hands it out.
enum Part<'a> {
    /// A length-delimited field `select` picked: its schema, its tag (number and wire type) and its payload.
    Picked(&'static FieldSchema, u64, &'a [u8]),
    /// Any other field, its tag and value as encoded.
    Other(&'a [u8]),
}

/// Hands every top-level field of `encoded` to `each`, in encoding order; `malformed()` when the encoding does
/// not parse.
fn walk<Err>(
    schema: &'static EntitySchema,
    encoded: &[u8],
    select: impl Fn(&FieldSchema) -> bool,
    mut each: impl FnMut(Part<'_>) -> Result<(), Err>,
    malformed: impl Fn() -> Err,
) -> Result<(), Err> {
    let mut input = encoded;
    while !input.is_empty() {
        let start = input;
        let tag = varint(&mut input).ok_or_else(&malformed)?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        let picked = schema
            .fields
            .iter()
            .find(|f| u64::from(f.number) == number && select(f));
        match (picked, wire_type) {
            (Some(field), 2) => {
                let len = varint(&mut input)
                    .and_then(|l| usize::try_from(l).ok())
                    .ok_or_else(&malformed)?;
                let payload = input.get(..len).ok_or_else(&malformed)?;
                input = &input[len..];
                each(Part::Picked(field, tag, payload))?;
            }
            _ => {
                skip(&mut input, wire_type, 0).ok_or_else(&malformed)?;
                each(Part::Other(&start[..start.len() - input.len()]))?;
            }
        }
    }
    Ok(())
}

/// Calls `each` with every length-delimited payload of a top-level field `select` picks, in encoding order;
/// `malformed()` when the encoding does not parse.
pub(crate) fn visit<Err>(
    schema: &'static EntitySchema,
    encoded: &[u8],
    select: impl Fn(&FieldSchema) -> bool,
    mut each: impl FnMut(&'static FieldSchema, &[u8]) -> Result<(), Err>,
    malformed: impl Fn() -> Err,
) -> Result<(), Err> {
    walk(
        schema,
        encoded,
        select,
        |part| match part {
            Part::Picked(field, _, payload) => each(field, payload),
            Part::Other(_) => Ok(()),
        },
        malformed,
    )
}

/// `encoded` with the payload of every top-level field `select` picks replaced by `each`'s result; everything
/// else copied byte for byte. `malformed()` when the encoding does not parse.
pub(crate) fn rewrite<Err>(
    schema: &'static EntitySchema,
    encoded: &[u8],
    select: impl Fn(&FieldSchema) -> bool,
    mut each: impl FnMut(&'static FieldSchema, &[u8]) -> Result<Vec<u8>, Err>,
    malformed: impl Fn() -> Err,
) -> Result<Vec<u8>, Err> {
    let mut out = Vec::with_capacity(encoded.len() + 64);
    walk(
        schema,
        encoded,
        select,
        |part| {
            match part {
                Part::Picked(field, tag, payload) => {
                    let rewritten = each(field, payload)?;
                    put_varint(tag, &mut out);
                    put_varint(rewritten.len() as u64, &mut out);
                    out.extend_from_slice(&rewritten);
                }
                Part::Other(raw) => out.extend_from_slice(raw),
            }
            Ok(())
        },
        malformed,
    )?;
    Ok(out)
}
