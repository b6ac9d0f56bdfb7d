//! CEL rules compiled to Rust, on a shop's checkout (codegen/tests/fixtures/validate/shop/v1/checkout.proto):
//! each rule holds on valid input and breaks where CEL says, evaluation errors are runtime errors, and CEL's
//! commutative logic absorbs an error that the other side decides.

use capacitor::Validate;
use capacitor::validate::{FieldPathElement, Violations};
use capacitor_conformance::shop::v1::{Checkout, Line};
use pbjson_types::Timestamp;

fn line(sku: &str, quantity: i64, unit_price_cents: i64) -> Line {
    Line {
        sku: sku.into(),
        quantity,
        unit_price_cents,
    }
}

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn valid() -> Checkout {
    Checkout {
        lines: vec![line("SKU-1", 2, 500), line("SKU-2", 1, 250)],
        total_cents: 1250,
        email: "ada@example.com".into(),
        window_start: at(1_700_000_000),
        window_end: at(1_700_000_000 + 3 * 86_400),
        placed_at: at(1_699_000_000),
        pack_size: 12,
        stock: [("SKU-1".to_string(), 4), ("SKU-2".to_string(), 0)]
            .into_iter()
            .collect(),
        coupons: vec!["WELCOME".into()],
        loyalty_points: 10_000,
        ..Default::default()
    }
}

/// `field rule_id` of every violation, sorted.
fn broken(v: &Violations) -> Vec<String> {
    let mut out: Vec<String> = v
        .iter()
        .map(|v| format!("{} {}", v.field, v.rule_id))
        .collect();
    out.sort();
    out
}

/// The violations of a message that must not hit a runtime error.
fn check<M: Validate>(c: &M) -> Vec<String> {
    match c.validate() {
        Ok(()) => Vec::new(),
        Err(v) => {
            assert!(v.runtime_error().is_none(), "unexpected runtime error: {v}");
            broken(&v)
        }
    }
}

#[test]
fn a_valid_checkout_passes_every_rule() {
    assert_eq!(valid().validate(), Ok(()));
    assert_eq!(valid().validate_fail_fast(), Ok(()));
}

#[test]
fn cross_field_rules_on_the_message() {
    let mut c = valid();
    c.window_end = at(1_700_000_000 - 1);
    assert_eq!(check(&c), [" checkout.window"]);
    // The window may last 30 days (720h) and not a second more: timestamp - timestamp <= duration.
    c.window_end = at(1_700_000_000 + 720 * 3600);
    assert_eq!(check(&c), Vec::<String>::new());
    c.window_end = at(1_700_000_000 + 720 * 3600 + 1);
    assert_eq!(check(&c), [" checkout.window"]);
    // Without an end, the window rule holds (`!has(...)`).
    c.window_end = None;
    assert_eq!(check(&c), Vec::<String>::new());

    let mut c = valid();
    c.phone = "+49 30 1234567".into();
    assert_eq!(check(&c), [" checkout.contact"]);
    c.email.clear();
    assert_eq!(check(&c), Vec::<String>::new());
    c.phone.clear();
    assert_eq!(check(&c), [" checkout.contact"]);
}

#[test]
fn comprehensions_map_unique_and_all() {
    let mut c = valid();
    c.lines[1].sku = "SKU-1".into();
    assert_eq!(check(&c), [" checkout.skus_unique"]);

    let mut c = valid();
    c.stock.insert("SKU-3".into(), -1);
    assert_eq!(check(&c), ["stock stock.non_negative"]);

    let mut c = valid();
    c.coupons.push("spring".into());
    assert_eq!(check(&c), ["coupons[1] coupon.upper"]);
}

#[test]
fn field_rules_string_functions_and_cross_type_numbers() {
    let mut c = valid();
    c.lines[0].sku = "sku-1".into();
    c.lines[1].sku = "SKU-123456789".into();
    c.lines[1].quantity = 0;
    assert_eq!(
        check(&c),
        [
            "lines[0].sku sku.format",
            "lines[1].quantity quantity.positive",
            "lines[1].sku sku.format"
        ]
    );
    // `uint < int`: 10000 < 10001 holds, 10001 does not.
    let mut c = valid();
    c.loyalty_points = 10_001;
    assert_eq!(check(&c), ["loyalty_points loyalty.cap"]);
}

#[test]
fn a_predefined_rule_declared_by_the_schema() {
    let mut c = valid();
    c.pack_size = 7;
    let v = c.validate().unwrap_err();
    assert_eq!(broken(&v), ["pack_size int64.multiple_of"]);
    let violation = v.iter().next().unwrap();
    // The expression returned its own message, formatted with `rule`.
    assert_eq!(violation.message, "value must be a multiple of 6");
    // The rule path names the rules message and the extension.
    let names: Vec<&str> = violation
        .rule
        .elements
        .iter()
        .map(|e| e.field_name.as_ref())
        .collect();
    assert_eq!(names, ["int64", "[shop.v1.multiple_of]"]);
    assert_eq!(
        violation
            .rule
            .elements
            .iter()
            .map(|e: &FieldPathElement| e.field_number)
            .collect::<Vec<_>>(),
        [4, 1170]
    );
    c.pack_size = 0;
    assert_eq!(check(&c), Vec::<String>::new());
}

#[test]
fn a_message_rule_returning_its_message() {
    let mut c = valid();
    c.total_cents = -1;
    let v = c.validate().unwrap_err();
    let not_negative = v
        .iter()
        .find(|v| v.rule_id == "checkout.not_negative")
        .unwrap();
    assert_eq!(not_negative.message, "total must not be negative");
    assert!(not_negative.field.is_empty() && not_negative.rule.is_empty());
}

#[test]
fn now_is_the_clock() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut c = valid();
    c.placed_at = at(now + 1800);
    assert_eq!(check(&c), Vec::<String>::new());
    c.placed_at = at(now + 2 * 3600);
    assert_eq!(check(&c), ["placed_at placed_at.not_future"]);
}

#[test]
fn integer_overflow_is_a_runtime_error_not_a_wrap() {
    let mut c = valid();
    c.lines = vec![line("SKU-1", i64::MAX / 2, 3)];
    c.total_cents = 1;
    let v = c.validate().unwrap_err();
    let e = v.runtime_error().expect("a runtime error");
    assert_eq!(e.rule_id, "checkout.total");
    assert_eq!(e.reason, "integer overflow");
    assert!(e.field.is_empty());
    // Validation stops at a runtime error; what it says names the rule, never a value.
    let text = v.to_string();
    assert!(
        text.contains("rule `checkout.total` could not be evaluated: integer overflow"),
        "{text}"
    );
    assert!(!text.contains(&(i64::MAX / 2).to_string()), "{text}");
    // With a second line the right side of `||` is true, and decides: no error.
    c.lines.push(line("SKU-2", 1, 1));
    c.total_cents = 10;
    assert_eq!(check(&c), Vec::<String>::new());
}

#[test]
fn an_error_the_other_side_decides_is_absorbed() {
    // No lines: `total / size(lines)` divides by zero, but `size(lines) == 0` is true.
    let mut c = valid();
    c.lines.clear();
    c.stock.clear();
    assert_eq!(check(&c), Vec::<String>::new());
    // With lines, the division is evaluated and compared.
    let mut c = valid();
    c.total_cents = 1;
    assert_eq!(check(&c), [" checkout.average"]);
}

/// Wrapper fields: the value when set, `null` when unset (`GiftCard`, `Voucher` in the fixture).
mod wrappers {
    use super::{broken, check};
    use capacitor::Validate;
    use capacitor::well_known::{DoubleValue, Int32Value, Int64Value, StringValue, UInt32Value};
    use capacitor_conformance::shop::v1::gift_card::Reward;
    use capacitor_conformance::shop::v1::{GiftCard, Voucher};

    fn card() -> GiftCard {
        GiftCard {
            balance_cents: 500,
            limit_cents: Some(Int64Value { value: 1_000 }),
            code: Some(StringValue {
                value: "SPRING".into(),
            }),
            owner: Some(StringValue {
                value: "ada".into(),
            }),
            expiry_year: Some(UInt32Value { value: 2030 }),
            reward: Some(Reward::BonusPoints(Int64Value { value: 50 })),
        }
    }

    #[test]
    fn a_set_wrapper_is_its_value() {
        assert_eq!(check(&card()), Vec::<String>::new());
        let mut c = card();
        c.balance_cents = 1_001;
        c.code = Some(StringValue {
            value: "TEST".into(),
        });
        c.expiry_year = Some(UInt32Value { value: 2020 });
        c.owner = Some(StringValue {
            value: "a name longer than twenty".into(),
        });
        assert_eq!(
            check(&c),
            [
                " gift.code",
                " gift.expiry",
                " gift.limit",
                "owner owner.short"
            ]
        );
        // A oneof member: rate at most half; bonus compared with the limit, wrapper to wrapper.
        let mut c = card();
        c.reward = Some(Reward::Rate(DoubleValue { value: 0.75 }));
        assert_eq!(check(&c), [" gift.rate"]);
        c.reward = Some(Reward::BonusPoints(Int64Value { value: 1_000 }));
        assert_eq!(check(&c), [" gift.bonus"]);
    }

    #[test]
    fn an_unset_wrapper_is_null() {
        // Unset limit: `has` guards it. Unset code: null != 'TEST' holds. Unset expiry: `null > 2020u` fails and
        // `!has(…)` decides. Unset rate (the oneof holds the bonus): `== null`.
        let mut c = card();
        c.limit_cents = None;
        c.code = None;
        c.expiry_year = None;
        assert_eq!(check(&c), Vec::<String>::new());
        // Unset owner with a balance: `owner != null` is false.
        c.owner = None;
        assert_eq!(check(&c), [" gift.owner"]);
        c.balance_cents = 0;
        assert_eq!(check(&c), Vec::<String>::new());
        // Null equals null: with a rate set, the bonus is unset like the limit, and equal to it.
        c.reward = Some(Reward::Rate(DoubleValue { value: 0.5 }));
        assert_eq!(check(&c), [" gift.bonus"]);
        c.limit_cents = Some(Int64Value { value: 0 });
        assert_eq!(check(&c), Vec::<String>::new());
    }

    #[test]
    fn an_unguarded_null_is_a_runtime_error() {
        let ok = Voucher {
            uses: Some(Int32Value { value: 4 }),
        };
        assert!(ok.validate().is_ok());
        let used = Voucher {
            uses: Some(Int32Value { value: 5 }),
        };
        assert_eq!(broken(&used.validate().unwrap_err()), [" voucher.uses"]);
        let v = Voucher { uses: None }.validate().unwrap_err();
        let e = v.runtime_error().expect("a runtime error");
        assert_eq!(e.rule_id, "voucher.uses");
        assert_eq!(e.reason, "no such overload");
    }
}

/// A `shop.v1.CouponRule` (computed pattern, computed template, map literal).
fn coupon(
    pattern: &str,
    example: &str,
    notice: &str,
) -> capacitor_conformance::shop::v1::CouponRule {
    capacitor_conformance::shop::v1::CouponRule {
        pattern: pattern.into(),
        example: example.into(),
        notice: notice.into(),
    }
}

#[test]
fn a_computed_pattern_is_compiled_at_evaluation() {
    let rule = |pattern: &str, example: &str| coupon(pattern, example, "");
    assert_eq!(
        check(&rule("^[A-Z]+[0-9]{2}$", "SPRING24")),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&rule("^[A-Z]+[0-9]{2}$", "SPRING")),
        [" coupon_rule.matches"]
    );
    // The same pattern again comes from the cache; another one is compiled.
    assert_eq!(
        check(&rule("^[A-Z]+[0-9]{2}$", "SUMMER25")),
        Vec::<String>::new()
    );
    assert_eq!(check(&rule("^[a-z]+$", "spring")), Vec::<String>::new());
    // An invalid pattern cannot be evaluated: a runtime error that names the rule, not the pattern.
    let v = rule("([A-Z]", "SPRING").validate().unwrap_err();
    let e = v.runtime_error().expect("a runtime error");
    assert_eq!(e.rule_id, "coupon_rule.matches");
    assert_eq!(e.reason, "invalid regular expression");
    assert!(!v.to_string().contains("([A-Z]"), "{v}");
}

#[test]
fn a_computed_format_template_is_parsed_at_evaluation() {
    let rule = |notice: &str| coupon("^[A-Z]+$", "SPRING", notice);
    assert_eq!(rule("").validate(), Ok(()));
    let v = rule("%d characters to review").validate().unwrap_err();
    let notice = v
        .iter()
        .find(|v| v.rule_id == "coupon_rule.notice")
        .expect("the rule's message");
    assert_eq!(notice.message, "6 characters to review");
    let v = rule("%q is not a verb").validate().unwrap_err();
    let e = v.runtime_error().expect("a runtime error");
    assert_eq!(e.rule_id, "coupon_rule.notice");
    assert_eq!(e.reason, "invalid format");
}

#[test]
fn a_map_literal_is_searched_by_key() {
    let rule = |pattern: &str, example: &str| coupon(pattern, example, "");
    // "spring" is a key and a valid pattern; the example's length is checked against its value.
    assert_eq!(check(&rule("spring", "spring")), Vec::<String>::new());
    assert_eq!(check(&rule("spring", "springs")), [" coupon_rule.season"]);
    // Not a key: `in` is false and decides.
    assert_eq!(check(&rule("winter", "winters")), Vec::<String>::new());
}

#[test]
fn literals_of_one_string_form() {
    use capacitor_conformance::shop::v1::Slogan;
    let slogan = |name: &str, lang: &str, reserved: &str| Slogan {
        name: name.into(),
        lang: lang.into(),
        reserved: reserved.into(),
    };
    assert_eq!(check(&slogan("go", "en", "x")), Vec::<String>::new());
    assert_eq!(check(&slogan("stop", "en", "x")), [" slogan.reserved"]);
    assert_eq!(check(&slogan("go", "en", "go")), [" slogan.reserved"]);
    assert_eq!(check(&slogan("go", "en", "go?")), [" slogan.variants"]);
    assert_eq!(check(&slogan("gordonx", "en", "")), [" slogan.greeting"]);
    assert_eq!(check(&slogan("gordonx", "fr", "")), Vec::<String>::new());
    assert_eq!(check(&slogan("gordonx", "de", "")), Vec::<String>::new());
}

/// CEL values of one message type that prost holds two ways (`Box<Category>` for the recursive field,
/// `Category` elsewhere) meet in `?:`, `!=`, `in` and list literals.
#[test]
fn message_values_held_boxed_and_not() {
    use capacitor_conformance::shop::v1::{Category, Shelf};
    let category = |name: &str, child: Option<Category>| Category {
        name: name.into(),
        child: child.map(Box::new),
    };
    let shelf = |parent: Category, fallback: Category| Shelf {
        parent: Some(parent),
        fallback: Some(fallback),
        others: Vec::new(),
    };
    assert_eq!(
        check(&shelf(
            category("p", Some(category("c", None))),
            category("f", None)
        )),
        Vec::<String>::new()
    );
    // The child (boxed) is picked: unnamed.
    assert_eq!(
        check(&shelf(
            category("p", Some(category("", None))),
            category("f", None)
        )),
        [" shelf.label"]
    );
    // No child: the fallback (not boxed) is picked: unnamed.
    assert_eq!(
        check(&shelf(category("p", None), category("", None))),
        [" shelf.label"]
    );
    // Equal messages held differently (protobuf equality, nested fields included).
    assert_eq!(
        check(&shelf(
            category("p", Some(category("c", Some(category("d", None))))),
            category("c", Some(category("d", None)))
        )),
        [" shelf.distinct"]
    );
    assert_eq!(
        check(&shelf(
            category("p", Some(category("c", Some(category("d", None))))),
            category("c", Some(category("e", None)))
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&shelf(category("void", None), category("f", None))),
        [" shelf.any_named"]
    );
    // `in` a repeated message field, and a repeated field against a list literal.
    let listed = |fallback: Option<Category>, others: Vec<Category>| Shelf {
        parent: Some(category("p", None)),
        fallback,
        others,
    };
    let f = || category("f", None);
    assert_eq!(
        check(&listed(Some(f()), vec![category("g", None), f()])),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&listed(Some(f()), vec![category("g", None)])),
        [" shelf.fallback_listed", " shelf.named_others"]
    );
    // An unset fallback reads as the empty message, which the others hold (its empty name breaks the label).
    assert_eq!(
        check(&listed(None, vec![Category::default(), f()])),
        [" shelf.label", " shelf.named_others"]
    );
    assert_eq!(
        check(&listed(None, vec![f()])),
        [
            " shelf.fallback_listed",
            " shelf.label",
            " shelf.named_others"
        ]
    );
    assert_eq!(
        check(&listed(Some(f()), vec![category("p", None), f()])),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&listed(
            Some(category("p", None)),
            vec![category("p", None)]
        )),
        [" shelf.not_only_parent"]
    );
    // A boxed child against a list item in `?:`; `in` a filtered list of messages.
    let lead = |child: Option<Category>, others: Vec<Category>| Shelf {
        parent: Some(category("p", child)),
        fallback: Some(f()),
        others,
    };
    assert_eq!(
        check(&lead(None, vec![category("void", None), f()])),
        [" shelf.lead_named"]
    );
    assert_eq!(
        check(&lead(Some(category("void", None)), vec![f()])),
        [" shelf.any_named", " shelf.lead_named"]
    );
    assert_eq!(
        check(&lead(
            Some(category("c", None)),
            vec![category("void", None), f()]
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&lead(Some(category("c", None)), vec![category("g", None)])),
        [" shelf.fallback_listed", " shelf.named_others"]
    );
    assert_eq!(
        check(&shelf(
            category("p", Some(category("void", None))),
            category("f", None)
        )),
        [" shelf.any_named"]
    );
}

/// Lists of lists built by the expression (held as slices, so lengths may differ), and lists of different
/// protobuf widths compared by value.
#[test]
fn lists_of_lists_and_widths() {
    use capacitor_conformance::shop::v1::Batches;
    let batches = |small: &[i32], large: &[i64], label: &str, tag: &str| Batches {
        small: small.to_vec(),
        large: large.to_vec(),
        label: label.into(),
        tag: tag.into(),
    };
    assert_eq!(check(&batches(&[5], &[5], "q", "a")), Vec::<String>::new());
    assert_eq!(
        check(&batches(&[5, 6], &[5, 6], "q", "b")),
        Vec::<String>::new()
    );
    assert_eq!(
        check(&batches(&[5, 6, 7], &[5], "q", "a")),
        [" batches.known_size", " batches.same"]
    );
    assert_eq!(
        check(&batches(&[], &[9], "q", "a")),
        [" batches.known_size"]
    );
    assert_eq!(check(&batches(&[1], &[1], "q", "q")), Vec::<String>::new());
    assert_eq!(check(&batches(&[1], &[1], "q", "z")), [" batches.tagged"]);
}
