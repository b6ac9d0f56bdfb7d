#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Contact {
    #[prost(string, tag = "2")]
    Phone(String),
    #[prost(string, tag = "3")]
    Email(String),
}

// A oneof is stored as one structured value: it cannot be a key.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(oneof = "Contact", tags = "2, 3")]
    #[capacitor(primary_key)]
    pub contact: Option<Contact>,
}

fn main() {}
