#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(int64, tag = "2")]
    #[capacitor(encrypt)]
    pub salary: i64,
}

fn main() {}
