#[derive(Clone, PartialEq, prost::Message)]
pub struct Address {
    #[prost(string, tag = "1")]
    pub city: String,
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    #[capacitor(index)]
    pub address: Option<Address>,
}

fn main() {}
