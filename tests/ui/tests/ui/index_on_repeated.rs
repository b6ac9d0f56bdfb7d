#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, repeated, tag = "2")]
    #[capacitor(index)]
    pub tags: Vec<String>,
}

fn main() {}
