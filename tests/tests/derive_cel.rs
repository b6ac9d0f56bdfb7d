//! `#[derive(capacitor::Validate)]` with CEL rules: the derive reads `cel(...)` on fields and on the struct into the
//! same rules the proto front end builds, and capgen's CEL compiler turns them into Rust.

use capacitor::Validate;

#[derive(Debug, Clone, Validate)]
#[capacitor(validate(cel(
    id = "stay.ordered",
    message = "a stay ends after it starts",
    expression = "this.nights > 0 && this.check_in < this.check_out"
)))]
#[capacitor(validate(cel(
    id = "stay.guests",
    expression = "this.guests.size() <= this.nights * 4 ? '' : 'too many guests for the stay'"
)))]
struct Stay {
    #[capacitor(validate(cel(
        id = "code.shape",
        message = "codes are ST- and digits",
        expression = "this.startsWith('ST-') && this.matches('^ST-[0-9]+$')"
    )))]
    code: String,
    nights: i64,
    check_in: i64,
    check_out: i64,
    #[capacitor(validate(items(cel(
        id = "guest.named",
        message = "a guest has a name",
        expression = "size(this) > 0"
    ))))]
    guests: Vec<String>,
}

fn stay() -> Stay {
    Stay {
        code: "ST-42".into(),
        nights: 2,
        check_in: 10,
        check_out: 12,
        guests: vec!["ada".into(), "bob".into()],
    }
}

fn ids(s: &Stay) -> Vec<String> {
    let mut v: Vec<String> = match s.validate() {
        Ok(()) => Vec::new(),
        Err(v) => v
            .iter()
            .map(|v| format!("{} {}", v.field, v.rule_id))
            .collect(),
    };
    v.sort();
    v
}

#[test]
fn derived_cel_rules_compile_and_hold() {
    assert_eq!(stay().validate(), Ok(()));
    let mut s = stay();
    s.check_out = 9;
    s.code = "ST-x".into();
    s.guests.push(String::new());
    assert_eq!(
        ids(&s),
        [" stay.ordered", "code code.shape", "guests[2] guest.named"]
    );
    let mut s = stay();
    s.nights = 0;
    let v = s.validate().unwrap_err();
    let guests = v.iter().find(|v| v.rule_id == "stay.guests").unwrap();
    assert_eq!(guests.message, "too many guests for the stay");
}

#[test]
fn overflow_in_a_derived_rule_is_a_runtime_error() {
    let mut s = stay();
    s.nights = i64::MAX;
    let e = s.validate().unwrap_err();
    let runtime = e.runtime_error().expect("a runtime error");
    assert_eq!(runtime.rule_id, "stay.guests");
    assert_eq!(runtime.reason, "integer overflow");
}
