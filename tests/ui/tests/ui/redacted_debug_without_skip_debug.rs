#[derive(Clone, PartialEq, prost::Message, capacitor::RedactedDebug)]
pub struct User {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email")]
    pub email: String,
}

fn main() {}
