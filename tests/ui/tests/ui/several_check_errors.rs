// Every rule the schema breaks is reported in one compilation.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(cache(ttl = "0s"), index(fields("tags", "tags")))]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(primary_key, encrypt)]
    pub email: String,
    #[prost(string, repeated, tag = "3")]
    pub tags: Vec<String>,
    #[prost(string, tag = "4")]
    #[capacitor(column = "email")]
    pub backup_email: String,
}

fn main() {}
