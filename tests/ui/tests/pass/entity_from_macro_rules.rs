//! Entities declared by a `macro_rules!` macro: attribute values arrive as `literal` fragments (wrapped in an
//! invisible group), and the derive reads them like the literals written by hand.

macro_rules! entity {
    ($name:ident, $table:literal, $ttl:literal, $entries:literal) => {
        #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
        #[capacitor(table = $table, consistency = "eventual", cache(ttl = $ttl, max_entries = $entries))]
        pub struct $name {
            #[prost(int64, tag = "1")]
            #[capacitor(primary_key)]
            pub id: i64,
            #[prost(string, tag = "2")]
            pub name: String,
        }
    };
}

entity!(Widget, "widgets", "30s", 1000);
entity!(Gadget, "gadgets", "1m", 10);

fn main() {
    assert_eq!(<Widget as capacitor::Entity>::SCHEMA.table, "widgets");
    assert_eq!(<Gadget as capacitor::Entity>::SCHEMA.table, "gadgets");
    let cache = <Gadget as capacitor::Entity>::SCHEMA.cache.expect("a cache");
    assert_eq!(cache.max_entries, Some(10));
}
