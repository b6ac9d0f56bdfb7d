//! Richly populated values of every test message, and the JSON oracle: prost-reflect's `DynamicMessage`, which
//! implements the proto3 JSON mapping independently of pbjson and of our generator.

#![allow(dead_code)] // Each test binary uses part of this module.

use capacitor_tests::DESCRIPTOR_SET;
use capacitor_tests::e2e::{legacy, v1};
use pbjson_types as wkt;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::sync::OnceLock;

pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTOR_SET).expect("descriptor set decodes"))
}

/// The canonical proto3 JSON of `message`'s wire bytes, as prost-reflect writes it.
pub fn oracle_json<M: Message>(full_name: &str, message: &M) -> serde_json::Value {
    let descriptor = pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} is in the pool"));
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("the generated encoding decodes as a DynamicMessage");
    serde_json::to_value(&dynamic).expect("prost-reflect serializes")
}

/// Reads `json` with the oracle and returns the wire bytes it means.
pub fn oracle_parse(full_name: &str, json: &str) -> Vec<u8> {
    let descriptor = pool().get_message_by_name(full_name).unwrap();
    let mut de = serde_json::Deserializer::from_str(json);
    let dynamic =
        DynamicMessage::deserialize(descriptor, &mut de).expect("the oracle reads our JSON");
    dynamic.encode_to_vec()
}

pub fn scalars() -> v1::Scalars {
    v1::Scalars {
        f_double: -1.25e300,
        f_float: 3.5,
        f_int32: i32::MIN,
        f_int64: i64::MIN,
        f_uint32: u32::MAX,
        f_uint64: u64::MAX,
        f_sint32: -7,
        f_sint64: -9_007_199_254_740_993,
        f_fixed32: 4_000_000_000,
        f_fixed64: 18_000_000_000_000_000_000,
        f_sfixed32: -123_456,
        f_sfixed64: i64::MAX,
        f_bool: true,
        f_string: "héllo \"wörld\" \u{1F980}\n".into(),
        f_bytes: vec![0, 1, 2, 0xfb, 0xff, 0xfe],
        color: v1::Color::Blue as i32,
        level: v1::scalars::Level::High as i32,
    }
}

pub fn repeated_scalars() -> v1::RepeatedScalars {
    v1::RepeatedScalars {
        r_double: vec![0.0, -0.5, 1e-300],
        r_float: vec![1.5, -2.25],
        r_int32: vec![0, -1, i32::MAX],
        r_int64: vec![i64::MIN, 0, 1 << 60],
        r_uint32: vec![u32::MAX, 7],
        r_uint64: vec![u64::MAX, 1],
        r_sint32: vec![i32::MIN, -3],
        r_sint64: vec![i64::MIN + 1],
        r_fixed32: vec![1, 2, 3],
        r_fixed64: vec![u64::MAX - 1],
        r_sfixed32: vec![-1],
        r_sfixed64: vec![-(1 << 62)],
        r_bool: vec![true, false, true],
        r_string: vec![String::new(), "a,b".into(), "ü".into()],
        r_bytes: vec![vec![], vec![0xff; 5], b"hello".to_vec()],
        r_color: vec![v1::Color::Red as i32, v1::Color::Unspecified as i32],
        r_scalars: vec![scalars(), v1::Scalars::default()],
    }
}

pub fn optional_scalars() -> v1::OptionalScalars {
    // Explicit presence: zero values must still be written.
    v1::OptionalScalars {
        o_double: Some(0.0),
        o_float: Some(-0.0),
        o_int32: Some(0),
        o_int64: Some(0),
        o_uint32: Some(0),
        o_uint64: Some(u64::MAX),
        o_sint32: Some(-1),
        o_sint64: Some(0),
        o_fixed32: Some(0),
        o_fixed64: Some(1),
        o_sfixed32: Some(0),
        o_sfixed64: Some(-1),
        o_bool: Some(false),
        o_string: Some(String::new()),
        o_bytes: Some(vec![]),
        o_color: Some(v1::Color::Unspecified as i32),
    }
}

pub fn outer() -> v1::Outer {
    use v1::outer::{Middle, middle::Inner, middle::inner::Kind};
    let middle = Middle {
        inner: Some(Inner {
            kind: Kind::Branch as i32,
            kinds: vec![Kind::Leaf as i32, Kind::Branch as i32],
            depth: -42,
        }),
        label: "m".into(),
    };
    v1::Outer {
        middle: Some(middle.clone()),
        middles: vec![middle, Middle::default()],
        kind: Kind::Leaf as i32,
    }
}

pub fn maps() -> v1::Maps {
    v1::Maps {
        string_string: [("".into(), "empty key".into()), ("k".into(), "v".into())].into(),
        int32_string: [(-1, "minus one".into()), (i32::MAX, "max".into())].into(),
        int64_int64: [(i64::MIN, i64::MAX)].into(),
        uint32_bytes: [(0, vec![1, 2, 3]), (u32::MAX, vec![])].into(),
        uint64_color: [(u64::MAX, v1::Color::Green as i32)].into(),
        sint32_double: [(-5, 2.5)].into(),
        sint64_float: [(i64::MIN, -1.5)].into(),
        fixed32_bool: [(1, true), (2, false)].into(),
        fixed64_uint64: [(u64::MAX, u64::MAX)].into(),
        sfixed32_scalars: [(-7, scalars())].into(),
        sfixed64_sint64: [(-1, i64::MIN)].into(),
        bool_string: [(true, "yes".into()), (false, "no".into())].into(),
        string_middle: [("x".into(), outer().middle.unwrap())].into(),
    }
}

pub fn choices() -> Vec<v1::Choice> {
    use v1::choice::{Other, Value};
    let values = [
        Value::Text("t".into()),
        Value::Text(String::new()),
        Value::Big(i64::MIN),
        Value::Blob(vec![9, 8, 7]),
        Value::Color(v1::Color::Red as i32),
        Value::Scalars(scalars()),
        Value::Ratio(0.25),
        Value::Flag(false),
    ];
    let mut out: Vec<v1::Choice> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| v1::Choice {
            id: format!("c{i}"),
            value: Some(value),
            other: match i % 3 {
                0 => None,
                1 => Some(Other::Count(u64::MAX)),
                _ => Some(Other::Middle(outer().middle.unwrap())),
            },
            children: vec![],
        })
        .collect();
    let parent = v1::Choice {
        id: "parent".into(),
        value: None,
        other: None,
        children: out.clone(),
    };
    out.push(parent);
    out
}

pub fn timestamp(seconds: i64, nanos: i32) -> wkt::Timestamp {
    wkt::Timestamp { seconds, nanos }
}

pub fn any_of<M: Message>(full_name: &str, message: &M) -> wkt::Any {
    wkt::Any {
        type_url: format!("type.googleapis.com/{full_name}"),
        value: message.encode_to_vec().into(),
    }
}

pub fn well_known() -> v1::WellKnown {
    use wkt::value::Kind;
    let value = |kind| wkt::Value { kind: Some(kind) };
    let list = wkt::ListValue {
        // No `null` element: pbjson-types reads JSON `null` in a Value as no kind at all (docs/json.md).
        values: vec![
            value(Kind::NumberValue(1.5)),
            value(Kind::StringValue("s".into())),
            value(Kind::BoolValue(true)),
        ],
    };
    let structure = wkt::Struct {
        fields: [
            ("list".to_string(), value(Kind::ListValue(list.clone()))),
            ("n".to_string(), value(Kind::NumberValue(-2.0))),
            (
                "nested".to_string(),
                value(Kind::StructValue(wkt::Struct {
                    fields: [("deep".to_string(), value(Kind::BoolValue(false)))].into(),
                })),
            ),
        ]
        .into(),
    };
    let mask = wkt::FieldMask {
        paths: vec!["f_double".into(), "middle.inner.depth".into()],
    };
    v1::WellKnown {
        weights: vec![0.5],
        timestamp: Some(timestamp(1_700_000_123, 456_000_000)),
        duration: Some(wkt::Duration {
            seconds: -90,
            nanos: -2_456_000,
        }),
        string_value: Some("".to_string().into()),
        int64_value: Some(i64::MIN.into()),
        uint64_value: Some(u64::MAX.into()),
        bytes_value: Some(wkt::BytesValue {
            value: vec![0xde, 0xad, 0xbe, 0xef].into(),
        }),
        int32_value: Some(0.into()),
        uint32_value: Some(u32::MAX.into()),
        bool_value: Some(false.into()),
        double_value: Some(0.1.into()),
        float_value: Some((-7.5f32).into()),
        r#struct: Some(structure),
        value: Some(value(Kind::StringValue("v".into()))),
        list_value: Some(list),
        any: None,
        field_mask: Some(mask.clone()),
        empty: Some(wkt::Empty {}),
        timestamps: vec![
            timestamp(0, 0),
            timestamp(-1, 999_999_999),
            timestamp(253_402_300_799, 1_000),
            timestamp(-62_135_596_800, 1),
        ],
        durations: vec![wkt::Duration {
            seconds: 1,
            nanos: 0,
        }],
        timestamp_map: [("epoch".to_string(), timestamp(0, 0))].into(),
        field_masks: vec![mask, wkt::FieldMask { paths: vec![] }],
        anys: vec![],
        any_map: Default::default(),
        when: Some(v1::well_known::When::Mask(wkt::FieldMask {
            paths: vec!["a_b.c".into()],
        })),
    }
}

pub fn order() -> v1::Order {
    v1::Order {
        order: "ord-1".into(),
        r#type: "express".into(),
        user: Some(user()),
        email: "ada@example.com".into(),
        secret: "tok_live_51H8".into(),
        r#gen: 7,
    }
}

pub fn user() -> v1::User {
    v1::User {
        name: "Ada".into(),
        r#match: "m".into(),
        self_: "s".into(),
        order: "o".into(),
        user: "u".into(),
        r#gen: "g".into(),
        r#async: "a".into(),
        crate_: "c".into(),
        super_: "su".into(),
        r#type: "t".into(),
        r#fn: vec!["f".into()],
        r#loop: -1,
        r#ref: Some(v1::Self_ {
            r#impl: "i".into(),
            r#move: vec![v1::Self_ {
                r#impl: "inner".into(),
                r#move: vec![],
                r#gen: Some(0),
            }],
            r#gen: Some(i64::MAX),
        }),
        r#dyn: Some(v1::user::Dyn::Try("yes".into())),
    }
}

pub fn account() -> legacy::Account {
    use legacy::account::{Address, Tier, address::Kind};
    let address = Address {
        street: Some("1 Main St".into()),
        city: None,
        kind: Some(Kind::Work as i32),
    };
    legacy::Account {
        id: "acc".into(),
        display_name: Some("Display".into()),
        retries: Some(0),
        quota: None,
        serial: Some(u64::MAX),
        active: Some(false),
        avatar: Some(vec![1, 2]),
        score: Some(-0.5),
        tier: Some(Tier::Gold as i32),
        aliases: vec!["a".into(), "b".into()],
        packed: vec![-1, 0, 1],
        addresses: [("home".to_string(), address.clone())].into(),
        home: Some(address.clone()),
        contact: Some(legacy::account::Contact::Mail(address)),
        created: u64::MAX,
    }
}
