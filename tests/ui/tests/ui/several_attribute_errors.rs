// Every malformed attribute is reported in one compilation.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(backend = "oracle", consistency = "eventually", cache(ttl = 60))]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key, primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "mail", unique = true)]
    pub email: String,
    #[prost(string, tag = "3")]
    #[capacitor(colunm = "full_name")]
    pub name: String,
}

fn main() {}
