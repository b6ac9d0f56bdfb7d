// `subject` (crypto-shredding): the subject field must not be encrypted, and the memory backend has no subject
// key table.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(backend = "memory", subject = "email")]
pub struct Patient {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email", encrypt)]
    pub email: String,
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(subject = "owner")]
pub struct Note {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    pub text: String,
}

fn main() {}
