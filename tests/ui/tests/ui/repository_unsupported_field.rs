//! `#[capacitor(repository)]` on a struct whose prost oneof the row mapping cannot store (a derived struct has no
//! proto3 JSON serde impls for it): an error naming the field, not a silently missing `ReachesRepo`.

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Reach {
    #[prost(string, tag = "2")]
    Phone(String),
    #[prost(int64, tag = "3")]
    Pager(i64),
}

#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(table = "reaches", repository)]
pub struct Contact {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(oneof = "Reach", tags = "2, 3")]
    pub reach: Option<Reach>,
}

fn main() {}
