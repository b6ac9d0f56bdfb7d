#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(map = "string, int32", tag = "2")]
    #[capacitor(unique)]
    pub quotas: std::collections::HashMap<String, i32>,
}

fn main() {}
