#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct Document {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(bytes = "vec", tag = "2")]
    #[capacitor(claim_check(threshold = "lots"))]
    pub body: Vec<u8>,
    #[prost(int64, tag = "3")]
    #[capacitor(claim_check(threshold = "1KiB"))]
    pub size: i64,
    #[prost(string, tag = "4")]
    #[capacitor(unique, claim_check(threshold = "1KiB"))]
    pub title: String,
}

fn main() {}
