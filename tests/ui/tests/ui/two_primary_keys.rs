#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(primary_key)]
    pub email: String,
}

fn main() {}
