//! The masked view on the proto path: `capgen`'s generated messages with PII get `masked()`, whose Display and
//! JSON show PII masked by kind and the other fields as their Debug.

use capacitor_tests::repo::v1::{Member, Post};

#[test]
fn generated_messages_mask_pii_in_display_and_json() {
    let member = Member {
        id: "m-1".into(),
        email: "ada.lovelace@example.com".into(),
        team: "engines".into(),
        karma: 7,
        active: true,
        nickname: Some(String::from("Countess Ada").into()),
        ..Default::default()
    };
    let shown = member.masked().to_string();
    assert!(
        shown.starts_with("Member { id: \"m-1\", email: a***@example.com, team: \"engines\""),
        "{shown}"
    );
    assert!(shown.contains("nickname: <redacted>"), "{shown}");
    assert!(
        !shown.contains("lovelace") && !shown.contains("Countess"),
        "{shown}"
    );

    let json = serde_json::to_value(member.masked()).unwrap();
    assert_eq!(json["email"], "a***@example.com");
    assert_eq!(json["id"], "m-1");
    assert_eq!(json["karma"], 7);
    assert_eq!(json["active"], true);
    assert_eq!(json["nickname"], "<redacted>");

    let post = Post {
        team: "engines".into(),
        seq: 1,
        body: "a note about Ada".into(),
        ..Default::default()
    };
    let json = serde_json::to_value(post.masked()).unwrap();
    assert_eq!(json["body"], "<redacted>");
    assert_eq!(json["seq"], 1);
}
