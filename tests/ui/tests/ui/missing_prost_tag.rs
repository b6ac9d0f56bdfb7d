// prost would infer the number from field order; Entity keys columns by number, so it wants it written.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct User {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string)]
    pub email: String,
}

fn main() {}
