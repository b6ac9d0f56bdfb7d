//! Differential test against protovalidate itself: a few thousand random and mutated `differential.v1.Sample`
//! messages (`proto/differential/v1/rules.proto`, one field per standard rule family) and as many
//! `differential.v1.CelSample` messages (CEL rules: field, item, map, message and predefined) are written as
//! binary protobuf with the generated validators' verdicts, and `scripts/differential.py` judges them with PyPI's
//! `protovalidate` (pinned 2.1.0, in the venv `scripts/test.sh` makes) and prints every message where the two
//! disagree on a violation's field path, rule id or `for_key`. Without the venv the test is skipped, except under
//! `CI=true`, where it fails.

use capacitor::Validate;
use capacitor_tests::differential::v1::{CelSample, Inner, Sample, Tier};
use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MESSAGES: usize = 3000;

/// xorshift64*: deterministic, so a mismatch reproduces from its message number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize].clone()
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn valid() -> Sample {
    Sample {
        email: "ada@example.com".into(),
        code: "ab1".into(),
        id: "7c4a0d5e-6f0b-4a8e-9d3c-2b1f0e9a8c7d".into(),
        ulid: "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        host: "example.com".into(),
        color: "red".into(),
        fqn: "buf.validate.FieldRules".into(),
        token: vec![1, 2],
        addr: vec![127, 0, 0, 1],
        raw_id: vec![9; 16],
        age: 30,
        balance: 10,
        count: 2,
        delta: 3,
        mask: 15,
        share: 0.5,
        ratio: 1.0,
        accepted: true,
        tier: Tier::Pro as i32,
        tags: vec!["ab".into()],
        scores: HashMap::from([("ab".into(), 1)]),
        by_rank: HashMap::from([(1, inner("x", 1))]),
        home: Some(inner("home", 0)),
        previous: Vec::new(),
        nickname: None,
    }
}

fn inner(name: &str, level: i32) -> Inner {
    Inner {
        name: name.into(),
        level,
    }
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "ab",
    "ab1",
    "aB1",
    "abc",
    "abcd",
    "red",
    "green",
    "blue",
    "x@y.z",
    "ada@example.com",
    "not an email",
    "@example.com",
    "example.com",
    "-bad-.com",
    "buf.validate.FieldRules",
    ".buf.validate",
    "buf..x",
    "_x9.y",
    "9x",
    "7c4a0d5e-6f0b-4a8e-9d3c-2b1f0e9a8c7d",
    "7C4A0D5E-6F0B-4A8E-9D3C-2B1F0E9A8C7D",
    "7c4a0d5e6f0b4a8e9d3c2b1f0e9a8c7d",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "81ARZ3NDEKTSV4RRFFQ69G5FAV",
    "01arz3ndektsv4rrffq69g5fav",
    "01ARZ3NDEKTSV4RRFFQ69G5FAU",
    "héllo",
    "日本",
];

const BYTES: &[&[u8]] = &[
    b"",
    b"\x01",
    b"\x01\x02",
    b"\x02\x02",
    b"\x01\x02\x03\x04",
    b"\x01\x02\x03\x04\x05",
    &[7; 16],
    &[7; 15],
];

/// Replaces one field of `m` with a value drawn from the pools, which hold each rule's edges.
fn mutate(rng: &mut Rng, m: &mut Sample) {
    let s = |rng: &mut Rng| rng.pick(STRINGS).to_string();
    let b = |rng: &mut Rng| rng.pick(BYTES).to_vec();
    let int = |rng: &mut Rng| {
        rng.pick(&[
            i64::MIN,
            -6,
            -5,
            -1,
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            9,
            10,
            15,
            20,
            21,
            150,
            151,
        ])
    };
    match rng.next() % 25 {
        0 => m.email = s(rng),
        1 => m.code = s(rng),
        2 => m.id = s(rng),
        3 => m.ulid = s(rng),
        4 => m.host = s(rng),
        5 => m.color = s(rng),
        6 => m.fqn = s(rng),
        7 => m.token = b(rng),
        8 => m.addr = b(rng),
        9 => m.raw_id = b(rng),
        10 => m.age = int(rng) as i32,
        11 => m.balance = int(rng),
        12 => m.count = int(rng).unsigned_abs() as u32,
        13 => m.delta = int(rng),
        14 => m.mask = int(rng).unsigned_abs() as u32,
        15 => m.share = rng.pick(&[0.0, 0.5, 1.0, -0.1, f64::NAN, f64::INFINITY]),
        16 => m.ratio = rng.pick(&[0.0, -1.5, -1.6, f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
        17 => m.accepted = rng.chance(50),
        18 => m.tier = rng.pick(&[0, 1, 2, 3, -1]),
        19 => {
            let n = rng.next() % 5;
            m.tags = (0..n)
                .map(|_| rng.pick(&["a", "ab", "abc", "ab"]).to_string())
                .collect();
        }
        20 => {
            let n = rng.next() % 4;
            m.scores = (0..n)
                .map(|_| (rng.pick(&["a", "ab", "abc", "d"]).to_string(), int(rng)))
                .collect();
        }
        21 => {
            let n = rng.next() % 3;
            m.by_rank = (0..n)
                .map(|_| (int(rng) as i32, inner(rng.pick(STRINGS), int(rng) as i32)))
                .collect();
        }
        22 => {
            m.home = rng
                .chance(70)
                .then(|| inner(rng.pick(STRINGS), int(rng) as i32))
        }
        23 => {
            let n = rng.next() % 4;
            m.previous = (0..n)
                .map(|_| inner(rng.pick(STRINGS), int(rng) as i32))
                .collect();
        }
        _ => m.nickname = rng.chance(70).then(|| s(rng)),
    }
}

/// A valid `CelSample`.
fn valid_cel() -> CelSample {
    CelSample {
        name: "ada".into(),
        low: 5,
        high: 10,
        level: 3,
        score: 0.75,
        tags: vec!["ab".into(), "cd".into()],
        weights: HashMap::from([("main".into(), 2)]),
        home: Some(inner("ann", 4)),
        at: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        wait: Some(pbjson_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        blob: vec![1, 2],
        kind: 2,
        amounts: vec![3, -1],
        cap: Some(capacitor::well_known::Int64Value { value: 1_000 }),
        nick: Some(capacitor::well_known::StringValue { value: "ab".into() }),
        away: Some(inner("bob", 2)),
        rooms: vec![inner("ann", 4), inner("cy", 1)],
    }
}

/// Replaces one field of a `CelSample` with a value at or around its rules' edges.
fn mutate_cel(rng: &mut Rng, m: &mut CelSample) {
    let int = |rng: &mut Rng| rng.pick(&[-1001, -1000, -5, -1, 0, 1, 4, 5, 9, 10, 100, 999, 1000]);
    match rng.next() % 18 {
        0 => m.name = rng.pick(STRINGS).to_string(),
        1 => m.low = int(rng),
        2 => m.high = int(rng),
        3 => m.level = rng.pick(&[0, 9, 10, 99, 100, 101, u32::MAX]),
        4 => {
            m.score = rng.pick(&[
                0.5,
                0.49,
                1e300,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ])
        }
        5 => {
            let n = rng.next() % 5;
            m.tags = (0..n)
                .map(|_| rng.pick(&["ab", "AB", "x", "abcd", "", "cd"]).to_string())
                .collect();
        }
        6 => {
            let n = rng.next() % 4;
            m.weights = (0..n)
                .map(|_| {
                    (
                        rng.pick(&["main", "side", "x"]).to_string(),
                        rng.pick(&[0, 9, 10, -3]),
                    )
                })
                .collect();
        }
        7 => {
            m.home = rng.chance(70).then(|| {
                inner(
                    rng.pick(&["", "ann", "bob", "a"]),
                    rng.pick(&[0, 2, 3, 4, 5, 9]),
                )
            })
        }
        8 => {
            m.at = rng.chance(80).then(|| pbjson_types::Timestamp {
                seconds: rng.pick(&[
                    1_577_836_799,
                    1_577_836_800,
                    1_700_000_000,
                    1_893_455_999,
                    1_893_456_000,
                ]),
                nanos: rng.pick(&[0, 999_999_999]),
            })
        }
        9 => {
            m.wait = rng.chance(80).then(|| pbjson_types::Duration {
                seconds: rng.pick(&[-1, 0, 89, 90, 91]),
                nanos: rng.pick(&[0, 1]),
            })
        }
        10 => m.blob = rng.pick(BYTES).to_vec(),
        11 => m.kind = rng.pick(&[-1, 0, 1, 3, 4]),
        12 => {
            let n = rng.next() % 4;
            m.amounts = (0..n).map(|_| rng.pick(&[-2, -1, 0, 1, 5])).collect();
        }
        13 => {
            m.cap = rng.chance(70).then(|| capacitor::well_known::Int64Value {
                value: rng.pick(&[-1, 0, 9, 10, 1_000]),
            })
        }
        14 => {
            m.nick = rng.chance(70).then(|| capacitor::well_known::StringValue {
                value: rng.pick(&["", "ab", "root", "toolong"]).into(),
            })
        }
        // Rooms: named or not (an unnamed level-0 room equals an unset home), high or low.
        16 => {
            let n = rng.next() % 4;
            m.rooms = (0..n)
                .map(|_| inner(rng.pick(&["", "ann", "bob"]), rng.pick(&[0, 2, 4, 5])))
                .collect();
        }
        // Unset, empty (equal to unset), equal to the valid home, or another.
        15 => {
            m.away = rng
                .chance(70)
                .then(|| inner(rng.pick(&["", "ann", "bob"]), rng.pick(&[0, 2, 4])))
        }
        _ => {
            m.name = rng
                .pick(&["a b", "abcdefghi", "Ada", "a-1", ""])
                .to_string()
        }
    }
}

/// `field.path|rule_id|for_key` per violation, sorted: what both sides must agree on.
fn verdict<M: Validate>(m: &M) -> Vec<String> {
    let mut lines: Vec<String> = match m.validate() {
        Ok(()) => Vec::new(),
        Err(violations) => violations
            .iter()
            .map(|v| format!("{}|{}|{}", v.field, v.rule_id, v.for_key))
            .collect(),
    };
    lines.sort();
    lines
}

fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/protovalidate-venv/bin/python");
    venv.exists().then_some(venv)
}

#[test]
fn generated_validators_agree_with_protovalidate() {
    let Some(python) = python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "target/protovalidate-venv is missing (scripts/test.sh installs protovalidate==2.1.0 there)"
        );
        eprintln!("skipped: no target/protovalidate-venv (scripts/test.sh makes it)");
        return;
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    judge(&python, "differential.v1.Sample", |i| {
        let mut m = valid();
        // Mostly one to three mutations of a valid message, so each rule is hit alone; every tenth is scrambled.
        let mutations = if i % 10 == 0 { 25 } else { 1 + rng.next() % 3 };
        for _ in 0..mutations {
            mutate(&mut rng, &mut m);
        }
        (m.encode_to_vec(), verdict(&m))
    });
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    judge(&python, "differential.v1.CelSample", |i| {
        let mut m = valid_cel();
        let mutations = if i % 10 == 0 { 14 } else { 1 + rng.next() % 3 };
        for _ in 0..mutations {
            mutate_cel(&mut rng, &mut m);
        }
        (m.encode_to_vec(), verdict(&m))
    });
}

/// Writes `MESSAGES` messages of `name` made by `make` (their bytes and our verdict), and has
/// `scripts/differential.py` judge them with protovalidate.
fn judge(python: &Path, name: &str, mut make: impl FnMut(usize) -> (Vec<u8>, Vec<String>)) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("descriptors.bin"),
        capacitor_tests::DESCRIPTOR_SET,
    )
    .unwrap();
    let mut messages = Vec::new();
    let mut verdicts = String::new();
    for i in 0..MESSAGES {
        let (bytes, verdict) = make(i);
        messages.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        messages.extend_from_slice(&bytes);
        verdicts.push_str(&verdict.join("\t"));
        verdicts.push('\n');
    }
    std::fs::write(dir.path().join("messages.bin"), messages).unwrap();
    std::fs::write(dir.path().join("verdicts.txt"), verdicts).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/differential.py");
    let out = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .arg(name)
        .output()
        .expect("runs scripts/differential.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "differential.py failed on {name}:\n{stdout}\n{stderr}"
    );
    eprintln!("{name}: {stdout}");
}
