//! The masked view on the derive path: `#[derive(RedactedDebug)]` adds `masked()` to a struct with PII.

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(table = "people")]
pub struct Person {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email")]
    pub email: String,
    #[prost(string, optional, tag = "3")]
    #[capacitor(pii = "phone")]
    pub phone: Option<String>,
    #[prost(string, tag = "4")]
    #[capacitor(pii = "name")]
    pub name: String,
    #[prost(bytes = "vec", tag = "5")]
    #[capacitor(pii = "other")]
    pub photo: Vec<u8>,
    #[prost(int64, tag = "6")]
    pub age: i64,
}

#[test]
fn derived_structs_mask_pii_in_display_and_json() {
    let person = Person {
        id: "p-1".into(),
        email: "ada@example.com".into(),
        phone: Some("+44 20 7946 0958".into()),
        name: "Ada Lovelace".into(),
        photo: vec![1, 2, 3],
        age: 36,
    };
    assert_eq!(
        person.masked().to_string(),
        r#"Person { id: "p-1", email: a***@example.com, phone: ***58, name: A. L., photo: <redacted>, age: 36 }"#
    );
    assert_eq!(
        serde_json::to_value(person.masked()).unwrap(),
        serde_json::json!({
            "id": "p-1", "email": "a***@example.com", "phone": "***58", "name": "A. L.",
            "photo": "<redacted>", "age": 36
        })
    );
    let unset = Person {
        phone: None,
        ..person
    };
    assert_eq!(
        serde_json::to_value(unset.masked()).unwrap()["phone"],
        serde_json::Value::Null
    );
}
