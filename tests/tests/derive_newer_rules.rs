//! The rules protovalidate added since v1.0 (`string.ulid`, `string.protobuf_fqn`, `string.protobuf_dot_fqn`,
//! `bytes.uuid`) through `#[derive(Validate)]`: the derive reads them from the same rules catalog as capgen.

use capacitor::Validate;

#[derive(Debug, Clone, Validate)]
struct Ids {
    #[capacitor(validate(ulid))]
    ulid: String,
    #[capacitor(validate(protobuf_fqn))]
    fqn: String,
    #[capacitor(validate(protobuf_dot_fqn))]
    dot_fqn: String,
    #[capacitor(validate(uuid))]
    uuid: Vec<u8>,
}

fn rule_ids(ids: &Ids) -> Vec<String> {
    match ids.validate() {
        Ok(()) => Vec::new(),
        Err(violations) => violations.iter().map(|v| v.rule_id.to_string()).collect(),
    }
}

#[test]
fn valid_values_pass() {
    let ids = Ids {
        ulid: "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        fqn: "buf.validate.FieldRules".into(),
        dot_fqn: ".buf.validate.FieldRules".into(),
        uuid: vec![7; 16],
    };
    assert_eq!(rule_ids(&ids), Vec::<String>::new());
}

#[test]
fn invalid_and_empty_values_report_the_rule() {
    let bad = Ids {
        ulid: "81ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        fqn: "buf..validate".into(),
        dot_fqn: "buf.validate".into(),
        uuid: vec![7; 15],
    };
    assert_eq!(
        rule_ids(&bad),
        [
            "string.ulid",
            "string.protobuf_fqn",
            "string.protobuf_dot_fqn",
            "bytes.uuid"
        ]
    );
    let empty = Ids {
        ulid: String::new(),
        fqn: String::new(),
        dot_fqn: String::new(),
        uuid: Vec::new(),
    };
    assert_eq!(
        rule_ids(&empty),
        [
            "string.ulid_empty",
            "string.protobuf_fqn_empty",
            "string.protobuf_dot_fqn_empty",
            "bytes.uuid_empty"
        ]
    );
}
