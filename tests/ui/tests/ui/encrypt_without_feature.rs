//! An entity with an `encrypt` field, stored through a repository, against a runtime without its `encryption`
//! feature: a compile error that names the feature (never a repository that would store plaintext).

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(table = "patients", repository)]
pub struct Patient {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "national_id", encrypt)]
    pub national_id: String,
}

fn main() {}
