//! `#[derive(capacitor::Validate)]`, one test per rule family: each asserts the violations' field paths (with
//! numbers and subscripts), rule paths, rule ids and `for_key`, which are protovalidate's.

use capacitor::Validate;
use capacitor::validate::{Subscript, Violation};
use std::collections::{BTreeMap, HashMap};

/// A violation as `(field path, rule path, rule id, for_key)`; path elements print as `name#number[subscript]`.
type Fired = (String, String, String, bool);

fn path(elements: &[capacitor::validate::FieldPathElement]) -> String {
    elements
        .iter()
        .map(|e| {
            let subscript = match &e.subscript {
                None => String::new(),
                Some(Subscript::Index(i)) | Some(Subscript::Uint(i)) => format!("[{i}]"),
                Some(Subscript::Int(i)) => format!("[{i}]"),
                Some(Subscript::Bool(b)) => format!("[{b}]"),
                Some(Subscript::String(s)) => format!("[{s:?}]"),
            };
            format!("{}#{}{subscript}", e.field_name, e.field_number)
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn fired(v: &Violation) -> Fired {
    (
        path(&v.field.elements),
        path(&v.rule.elements),
        v.rule_id.to_string(),
        v.for_key,
    )
}

fn violations(message: &impl Validate) -> Vec<Fired> {
    match message.validate() {
        Ok(()) => Vec::new(),
        Err(violations) => violations.iter().map(fired).collect(),
    }
}

fn f(field: &str, rule: &str, id: &str) -> Fired {
    (field.into(), rule.into(), id.into(), false)
}

#[derive(Default, Validate)]
struct Strings {
    #[capacitor(validate(email, max_len = 254))]
    email: String,
    #[capacitor(validate(min_len = 3, max_len = 5))]
    name: String,
    #[capacitor(validate(pattern = "^[a-z]+$"))]
    slug: String,
    #[capacitor(validate(in = ["free", "pro"]))]
    plan: String,
    #[capacitor(validate(not_in = ["root"], prefix = "u_"))]
    user: String,
    #[capacitor(validate(uuid))]
    id: String,
    #[capacitor(validate(well_known_regex = "http_header_name"))]
    header: String,
    #[capacitor(validate(hostname, ignore = "if_zero_value"))]
    host: String,
}

#[test]
fn string_rules() {
    let valid = Strings {
        email: "ada@example.com".into(),
        name: "ada".into(),
        slug: "ada".into(),
        plan: "pro".into(),
        user: "u_ada".into(),
        id: "123e4567-e89b-12d3-a456-426614174000".into(),
        header: "x-request-id".into(),
        host: String::new(),
    };
    assert_eq!(violations(&valid), []);
    let invalid = Strings {
        email: "ada".into(),
        name: "ad".into(),
        slug: "Ada".into(),
        plan: "gold".into(),
        user: "root".into(),
        id: "nope".into(),
        header: "a b".into(),
        host: "-bad".into(),
    };
    assert_eq!(
        violations(&invalid),
        [
            f("email#1", "string#14.email#12", "string.email"),
            f("name#2", "string#14.min_len#2", "string.min_len"),
            f("slug#3", "string#14.pattern#6", "string.pattern"),
            f("plan#4", "string#14.in#10", "string.in"),
            f("user#5", "string#14.prefix#7", "string.prefix"),
            f("user#5", "string#14.not_in#11", "string.not_in"),
            f("id#6", "string#14.uuid#22", "string.uuid"),
            f(
                "header#7",
                "string#14.well_known_regex#24",
                "string.well_known_regex.header_name"
            ),
            f("host#8", "string#14.hostname#13", "string.hostname"),
        ]
    );
}

#[derive(Default, Validate)]
struct Bytes {
    #[capacitor(validate(min_len = 2, prefix = b"\x01"))]
    payload: Vec<u8>,
    #[capacitor(validate(ipv4))]
    address: Vec<u8>,
}

#[test]
fn bytes_rules() {
    let valid = Bytes {
        payload: vec![1, 2],
        address: vec![127, 0, 0, 1],
    };
    assert_eq!(violations(&valid), []);
    let invalid = Bytes {
        payload: vec![2],
        address: vec![1, 2],
    };
    assert_eq!(
        violations(&invalid),
        [
            f("payload#1", "bytes#15.min_len#2", "bytes.min_len"),
            f("payload#1", "bytes#15.prefix#5", "bytes.prefix"),
            f("address#2", "bytes#15.ipv4#11", "bytes.ipv4"),
        ]
    );
}

#[derive(Default, Validate)]
struct Numbers {
    #[capacitor(validate(gt = 0, lte = 150))]
    age: i32,
    #[capacitor(validate(in = [-1, 1]))]
    sign: i64,
    #[capacitor(validate(gte = 10))]
    count: u32,
    #[capacitor(validate(lt = 100))]
    size: u64,
    #[capacitor(validate(finite, gt = -1.5))]
    ratio: f32,
    #[capacitor(validate(gt = 0.0, lt = 1.0))]
    share: f64,
    #[capacitor(validate(const = true))]
    accepted: bool,
}

#[test]
fn numeric_and_bool_rules() {
    let valid = Numbers {
        age: 36,
        sign: -1,
        count: 10,
        size: 99,
        ratio: 0.5,
        share: 0.5,
        accepted: true,
    };
    assert_eq!(violations(&valid), []);
    let invalid = Numbers {
        age: 151,
        sign: 0,
        count: 9,
        size: 100,
        ratio: f32::INFINITY,
        share: 1.0,
        accepted: false,
    };
    assert_eq!(
        violations(&invalid),
        [
            f("age#1", "int32#3.gt#4", "int32.gt_lte"),
            f("sign#2", "int64#4.in#6", "int64.in"),
            f("count#3", "uint32#5.gte#5", "uint32.gte"),
            f("size#4", "uint64#6.lt#2", "uint64.lt"),
            f("ratio#5", "float#1.finite#8", "float.finite"),
            f("share#6", "double#2.gt#4", "double.gt_lt"),
            f("accepted#7", "bool#13.const#1", "bool.const"),
        ]
    );
}

/// A prost enum, as prost-build writes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
enum Plan {
    Unspecified = 0,
    Free = 1,
    Pro = 2,
}

#[derive(Default, Validate)]
struct Enums {
    #[capacitor(validate(enumeration = "Plan", not_in = [0]))]
    plan: i32,
    #[capacitor(validate(enumeration = "Plan", const = 2))]
    upgrade: i32,
}

#[test]
fn enum_rules() {
    let valid = Enums {
        plan: Plan::Free as i32,
        upgrade: Plan::Pro as i32,
    };
    assert_eq!(violations(&valid), []);
    let invalid = Enums {
        plan: Plan::Unspecified as i32,
        upgrade: Plan::Free as i32,
    };
    assert_eq!(
        violations(&invalid),
        [
            f("plan#1", "enum#16.not_in#4", "enum.not_in"),
            f("upgrade#2", "enum#16.const#1", "enum.const"),
        ]
    );
}

#[derive(Default, Validate)]
struct Collections {
    #[capacitor(validate(min_items = 1, max_items = 3, unique, items(min_len = 2)))]
    tags: Vec<String>,
    #[capacitor(validate(max_pairs = 2, keys(min_len = 2), values(gt = 0)))]
    scores: HashMap<String, i32>,
    #[capacitor(validate(values(email)))]
    contacts: BTreeMap<u32, String>,
}

#[test]
fn repeated_and_map_rules() {
    let valid = Collections {
        tags: vec!["ab".into(), "cd".into()],
        scores: HashMap::from([("ab".into(), 1)]),
        contacts: BTreeMap::from([(7, "ada@example.com".into())]),
    };
    assert_eq!(violations(&valid), []);

    assert_eq!(
        violations(&Collections::default()),
        [f("tags#1", "repeated#18.min_items#1", "repeated.min_items")]
    );

    let invalid = Collections {
        tags: vec!["ab".into(), "ab".into(), "c".into(), "de".into()],
        scores: HashMap::from([("k".into(), 1)]),
        contacts: BTreeMap::from([(7, "ada".into())]),
    };
    assert_eq!(
        violations(&invalid),
        [
            f("tags#1", "repeated#18.max_items#2", "repeated.max_items"),
            f("tags#1", "repeated#18.unique#3", "repeated.unique"),
            f(
                "tags#1[2]",
                "repeated#18.items#4.string#14.min_len#2",
                "string.min_len"
            ),
            (
                "scores#2[\"k\"]".into(),
                "map#19.keys#4.string#14.min_len#2".into(),
                "string.min_len".into(),
                true
            ),
            f(
                "contacts#3[7]",
                "map#19.values#5.string#14.email#12",
                "string.email"
            ),
        ]
    );
}

#[derive(Default, Validate)]
struct Address {
    #[capacitor(validate(min_len = 1))]
    city: String,
}

#[derive(Default, Validate)]
struct Person {
    #[capacitor(validate(required))]
    name: String,
    /// Held directly: always present, always validated.
    home: Address,
    #[capacitor(validate(required))]
    work: Option<Address>,
    previous: Vec<Address>,
    #[capacitor(validate(min_len = 1))]
    nickname: Option<String>,
    /// Not a `Validate` type: left out entirely.
    #[capacitor(validate(ignore = "always"))]
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch(u32);

#[test]
fn presence_required_and_nested_messages() {
    let city = |c: &str| Address { city: c.into() };
    let valid = Person {
        name: "Ada".into(),
        home: city("London"),
        work: Some(city("Cambridge")),
        previous: vec![city("Paris")],
        nickname: None,
        scratch: Scratch(1),
    };
    assert_eq!(violations(&valid), []);

    let invalid = Person {
        name: String::new(),
        home: city(""),
        work: None,
        previous: vec![city("Paris"), city("")],
        nickname: Some(String::new()),
        scratch: Scratch::default(),
    };
    assert_eq!(invalid.scratch.0 + valid.scratch.0, 1);
    assert_eq!(
        violations(&invalid),
        [
            f("name#1", "required#25", "required"),
            f("home#2.city#1", "string#14.min_len#2", "string.min_len"),
            f("work#3", "required#25", "required"),
            f(
                "previous#4[1].city#1",
                "string#14.min_len#2",
                "string.min_len"
            ),
            f("nickname#5", "string#14.min_len#2", "string.min_len"),
        ]
    );
}

/// Field numbers come from prost tags when the struct is a prost message.
#[derive(Clone, PartialEq, prost::Message, Validate)]
struct Tagged {
    #[prost(string, tag = "7")]
    #[capacitor(validate(min_len = 1))]
    name: String,
    #[prost(sint32, tag = "9")]
    #[capacitor(validate(gt = 0))]
    delta: i32,
    #[prost(enumeration = "Plan", tag = "10")]
    #[capacitor(validate(in = [1, 2]))]
    plan: i32,
}

#[test]
fn prost_tags_and_types() {
    let invalid = Tagged {
        name: String::new(),
        delta: 0,
        plan: 0,
    };
    assert_eq!(
        violations(&invalid),
        [
            f("name#7", "string#14.min_len#2", "string.min_len"),
            f("delta#9", "sint32#7.gt#4", "sint32.gt"),
            f("plan#10", "enum#16.in#3", "enum.in"),
        ]
    );
}

#[derive(Default, Validate)]
struct FailFast {
    #[capacitor(validate(min_len = 1))]
    a: String,
    #[capacitor(validate(min_len = 1))]
    b: String,
}

#[test]
fn fail_fast_stops_at_the_first_violation() {
    let all = FailFast::default().validate().unwrap_err();
    assert_eq!(all.len(), 2);
    let first = FailFast::default().validate_fail_fast().unwrap_err();
    assert_eq!(
        first.iter().map(fired).collect::<Vec<_>>(),
        [f("a#1", "string#14.min_len#2", "string.min_len")]
    );
}

#[derive(Default, Validate)]
#[capacitor(validate(oneof(fields = ["email", "phone"], required)))]
struct Contact {
    email: String,
    phone: Option<String>,
}

#[test]
fn message_oneof_rule() {
    let one = Contact {
        email: "ada@example.com".into(),
        phone: None,
    };
    assert_eq!(violations(&one), []);
    assert_eq!(
        violations(&Contact::default()),
        [f("", "", "message.oneof")]
    );
    let both = Contact {
        email: "ada@example.com".into(),
        phone: Some("+44".into()),
    };
    assert_eq!(violations(&both), [f("", "", "message.oneof")]);
}

#[derive(Default, Validate)]
struct Times {
    #[capacitor(validate(gte = "1s", lt = "1.5s"))]
    timeout: Option<prost_types::Duration>,
    #[capacitor(validate(gt = "2024-01-01T00:00:00Z"))]
    at: Option<prost_types::Timestamp>,
    #[capacitor(validate(gt_now))]
    expires: Option<prost_types::Timestamp>,
}

#[test]
fn duration_and_timestamp_rules() {
    let duration = |seconds, nanos| Some(prost_types::Duration { seconds, nanos });
    let timestamp = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let valid = Times {
        timeout: duration(1, 499_999_999),
        at: timestamp(1_704_067_201),
        expires: timestamp(i64::from(i32::MAX) * 2),
    };
    assert_eq!(violations(&valid), []);
    assert_eq!(violations(&Times::default()), []);
    let invalid = Times {
        timeout: duration(1, 500_000_000),
        at: timestamp(1_704_067_200),
        expires: timestamp(0),
    };
    assert_eq!(
        violations(&invalid),
        [
            f("timeout#1", "duration#21.gte#6", "duration.gte_lt"),
            f("at#2", "timestamp#22.gt#5", "timestamp.gt"),
            f("expires#3", "timestamp#22.gt_now#8", "timestamp.gt_now"),
        ]
    );
}

/// prost's own types decide the family: fixed/sfixed scalars, wrapper messages.
#[derive(Clone, PartialEq, prost::Message, Validate)]
struct Prost {
    #[prost(fixed64, tag = "1")]
    #[capacitor(validate(lte = 10))]
    size: u64,
    #[prost(sfixed32, tag = "2")]
    #[capacitor(validate(not_in = [0]))]
    delta: i32,
    #[prost(message, optional, tag = "3")]
    #[capacitor(validate(min_len = 2))]
    label: Option<String>,
    #[prost(string, repeated, tag = "4")]
    #[capacitor(validate(items(in = ["a", "b"])))]
    letters: Vec<String>,
}

#[test]
fn prost_scalar_and_wrapper_types() {
    let valid = Prost {
        size: 10,
        delta: 1,
        label: None,
        letters: vec!["a".into()],
    };
    assert_eq!(violations(&valid), []);
    let invalid = Prost {
        size: 11,
        delta: 0,
        label: Some("x".into()),
        letters: vec!["a".into(), "c".into()],
    };
    assert_eq!(
        violations(&invalid),
        [
            f("size#1", "fixed64#10.lte#3", "fixed64.lte"),
            f("delta#2", "sfixed32#11.not_in#7", "sfixed32.not_in"),
            f("label#3", "string#14.min_len#2", "string.min_len"),
            f(
                "letters#4[1]",
                "repeated#18.items#4.string#14.in#10",
                "string.in"
            ),
        ]
    );
}

#[derive(Default, Validate)]
struct Cel {
    #[capacitor(validate(cel(
        id = "credits.positive",
        message = "must be positive",
        expression = "this > 0"
    )))]
    credits: i64,
    #[capacitor(validate(items(cel(id = "tag.host", expression = "this.isHostname()"))))]
    tags: Vec<String>,
}

#[test]
fn cel_rules_in_the_compiled_subset() {
    let valid = Cel {
        credits: 1,
        tags: vec!["example.com".into()],
    };
    assert_eq!(violations(&valid), []);
    let invalid = Cel {
        credits: 0,
        tags: vec!["example.com".into(), "-x".into()],
    };
    assert_eq!(
        violations(&invalid),
        [
            f("credits#1", "cel#23[0]", "credits.positive"),
            f("tags#2[1]", "repeated#18.items#4.cel#23[0]", "tag.host"),
        ]
    );
}

/// `defined_only` asks the prost enum's `TryFrom<i32>`: the derive cannot see the enum's numbers.
#[derive(Default, Validate)]
struct Defined {
    #[capacitor(validate(enumeration = "Plan", defined_only))]
    plan: i32,
    #[capacitor(validate(enumeration = "Plan", items(defined_only)))]
    history: Vec<i32>,
    #[capacitor(validate(enumeration = "Plan", values(defined_only)))]
    by_team: BTreeMap<String, i32>,
}

#[derive(Clone, PartialEq, prost::Message, Validate)]
struct DefinedProst {
    #[prost(enumeration = "Plan", tag = "4")]
    #[capacitor(validate(defined_only, not_in = [0]))]
    plan: i32,
}

#[test]
fn enum_defined_only() {
    let valid = Defined {
        plan: Plan::Pro as i32,
        history: vec![0, 1, 2],
        by_team: BTreeMap::from([("core".into(), 1)]),
    };
    assert_eq!(violations(&valid), []);
    let invalid = Defined {
        plan: 3,
        history: vec![1, -1],
        by_team: BTreeMap::from([("core".into(), 9)]),
    };
    assert_eq!(
        violations(&invalid),
        [
            f("plan#1", "enum#16.defined_only#2", "enum.defined_only"),
            f(
                "history#2[1]",
                "repeated#18.items#4.enum#16.defined_only#2",
                "enum.defined_only"
            ),
            f(
                "by_team#3[\"core\"]",
                "map#19.values#5.enum#16.defined_only#2",
                "enum.defined_only"
            ),
        ]
    );
    assert_eq!(violations(&DefinedProst { plan: 2 }), []);
    assert_eq!(
        violations(&DefinedProst { plan: 0 }),
        [f("plan#4", "enum#16.not_in#4", "enum.not_in")]
    );
    assert_eq!(
        violations(&DefinedProst { plan: 5 }),
        [f("plan#4", "enum#16.defined_only#2", "enum.defined_only")]
    );
}

#[derive(Default, Validate)]
struct Masks {
    #[capacitor(validate(in = ["name", "address"], not_in = ["address.country"]))]
    update: Option<prost_types::FieldMask>,
    #[capacitor(validate(const = ["name"]))]
    view: Option<prost_types::FieldMask>,
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[test]
fn field_mask_rules() {
    assert_eq!(violations(&Masks::default()), []);
    let valid = Masks {
        update: mask(&["name", "address.city"]),
        view: mask(&["name"]),
    };
    assert_eq!(violations(&valid), []);
    let invalid = Masks {
        update: mask(&["names", "address.country"]),
        view: mask(&["name", "address"]),
    };
    assert_eq!(
        violations(&invalid),
        [
            f("update#1", "field_mask#28.in#2", "field_mask.in"),
            f("update#1", "field_mask#28.not_in#3", "field_mask.not_in"),
            f("view#2", "field_mask#28.const#1", "field_mask.const"),
        ]
    );
}

#[derive(Default, Validate)]
struct Scores {
    #[capacitor(validate(keys(min_len = 2), values(gt = 0)))]
    by_name: HashMap<String, i32>,
}

#[test]
fn map_violations_come_in_key_order() {
    for _ in 0..32 {
        let scores = Scores {
            by_name: HashMap::from([
                ("zed".into(), -1),
                ("amy".into(), 0),
                ("m".into(), 3),
                ("bob".into(), 7),
            ]),
        };
        let first = scores.validate_fail_fast().unwrap_err();
        assert_eq!(
            first.iter().map(fired).collect::<Vec<_>>(),
            [f(
                "by_name#1[\"amy\"]",
                "map#19.values#5.int32#3.gt#4",
                "int32.gt"
            )]
        );
        assert_eq!(
            violations(&scores),
            [
                f(
                    "by_name#1[\"amy\"]",
                    "map#19.values#5.int32#3.gt#4",
                    "int32.gt"
                ),
                (
                    "by_name#1[\"m\"]".into(),
                    "map#19.keys#4.string#14.min_len#2".into(),
                    "string.min_len".into(),
                    true
                ),
                f(
                    "by_name#1[\"zed\"]",
                    "map#19.values#5.int32#3.gt#4",
                    "int32.gt"
                ),
            ]
        );
    }
}
