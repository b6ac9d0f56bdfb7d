#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(index(fields("org_id", "created")))]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    pub org_id: String,
    #[prost(int64, tag = "3")]
    pub created_at: i64,
}

fn main() {}
