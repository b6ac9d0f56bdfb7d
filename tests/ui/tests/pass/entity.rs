//! Every attribute at once, in a shape that must compile.

use capacitor::Entity;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Role {
    Unspecified = 0,
    Admin = 1,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Contact {
    #[prost(string, tag = "9")]
    Phone(String),
    #[prost(string, tag = "10")]
    Fax(String),
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    table = "members",
    backend = "postgres",
    consistency = "strong",
    cache(ttl = "90s", max_entries = 100, max_bytes = 65536),
    package = "club.v1",
    crate = "::capacitor",
    index(name = "members_by_role", fields("role", "joined_at")),
    index(fields("email", "role"), unique)
)]
pub struct Member {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email", unique, column = "email_address")]
    pub email: String,
    #[prost(bytes = "vec", tag = "3")]
    #[capacitor(pii = "national_id")]
    pub national_id: Vec<u8>,
    #[prost(enumeration = "Role", tag = "4")]
    #[capacitor(index)]
    pub role: i32,
    #[prost(int64, tag = "5")]
    pub joined_at: i64,
    #[prost(string, repeated, tag = "6")]
    pub tags: Vec<String>,
    #[prost(map = "string, string", tag = "7")]
    #[capacitor(ignore)]
    pub scratch: HashMap<String, String>,
    #[prost(string, tag = "8")]
    #[capacitor(redact)]
    pub r#type: String,
    #[prost(oneof = "Contact", tags = "9, 10")]
    #[capacitor(pii = "phone")]
    pub contact: Option<Contact>,
    #[prost(bytes = "vec", tag = "11")]
    #[capacitor(claim_check(threshold = "256KiB"))]
    pub avatar: Vec<u8>,
}

fn main() {
    assert_eq!(Member::SCHEMA.table, "members");
    assert_eq!(Member::SCHEMA.indexes.len(), 5);
    assert_eq!(Member::SCHEMA.field("avatar").unwrap().claim_check, Some(256 * 1024));
}
