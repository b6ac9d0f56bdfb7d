#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
pub struct Envelope<T: prost::Message + Default + std::fmt::Debug> {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub body: Option<T>,
}

fn main() {}
