//! `Entity` and `Validate` on one struct: each derive reads its own keys and skips the other's, and the
//! repository's `check_rules` runs the derived rules.

use capacitor::Record;

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::Validate)]
#[capacitor(table = "users", repository, index(fields("org", "email")))]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key, validate(uuid))]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(unique, pii = "email", validate(email, max_len = 254))]
    pub email: String,
    #[prost(string, tag = "3")]
    #[capacitor(index, column = "org_id", validate(min_len = 1))]
    pub org: String,
    #[prost(string, tag = "4")]
    #[capacitor(ignore)]
    pub scratch: String,
}

fn main() {
    let user = User {
        id: "7c4a0d5e-6f0b-4a8e-9d3c-2b1f0e9a8c7d".into(),
        email: "ada@example.com".into(),
        org: "o1".into(),
        scratch: String::new(),
    };
    assert!(user.check_rules().is_ok());
    let bad = User {
        org: String::new(),
        ..user
    };
    assert!(bad.check_rules().is_err());
}
