//! Debug of a message with PII and of the types nested in it: the PII is redacted, and the nested messages and
//! enums (which prost-build's `skip_debug` of the enclosing message leaves without Debug) print as usual.

use capacitor_tests::redaction::v1::{Account, account};

#[test]
fn nested_types_of_a_redacted_message_have_debug() {
    let preferences = account::Preferences {
        newsletter: true,
        theme: account::preferences::Theme::Dark as i32,
    };
    let account = Account {
        id: "a-1".into(),
        email: "canary-7f3e@example.com".into(),
        tier: account::Tier::Gold as i32,
        preferences: Some(preferences),
        contact: Some(account::Contact {
            phone: "+1 555 0100 canary".into(),
            preferences: Some(preferences),
        }),
    };
    let shown = format!("{account:?}");
    assert!(!shown.contains("canary"), "{shown}");
    assert!(shown.contains("newsletter: true"), "{shown}");
    assert!(shown.contains("\"a-1\""), "{shown}");
    assert_eq!(format!("{:?}", account::Tier::Gold), "TIER_GOLD");
    assert_eq!(
        format!("{:?}", account::preferences::Theme::Dark),
        "THEME_DARK"
    );
    assert_eq!(
        format!("{preferences:?}"),
        "Preferences { newsletter: true, theme: 1 }"
    );
}
