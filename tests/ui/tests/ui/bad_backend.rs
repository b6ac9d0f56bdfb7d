#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(backend = "mysql")]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
}

fn main() {}
