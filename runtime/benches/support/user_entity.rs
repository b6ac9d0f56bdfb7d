//! The benchmarks' user row (`users`: an `int64` key, an email, a creation time) with a hand-written
//! `Record`, as `user_entity!(Name, "consistency")`. Included by the benches that compare against raw access to
//! the same table (`#[path]`, since files under `benches/support/` are not bench targets).

// `tt`, not `literal`: the derive does not look inside the invisible group a `literal` fragment becomes.
macro_rules! user_entity {
    ($name:ident, $consistency:tt) => {
        #[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
        #[capacitor(table = "users", consistency = $consistency, cache(ttl = "60s", max_entries = 100000))]
        struct $name {
            #[prost(int64, tag = "1")]
            #[capacitor(primary_key)]
            id: i64,
            #[prost(string, tag = "2")]
            email: String,
            #[prost(int64, tag = "3")]
            created_at: i64,
        }

        impl Record for $name {
            type Key = i64;
            fn key(&self) -> i64 {
                self.id
            }
            fn write_key<W: ColumnWriter>(key: &i64, out: &mut W) {
                out.column(key);
            }
            fn read_key<R: ColumnReader>(columns: &mut R) -> Result<i64, DecodeError> {
                columns.column()
            }
            fn write_row<W: ColumnWriter>(&self, out: &mut W) {
                out.column(&self.id);
                out.column(&self.email);
                out.column(&self.created_at);
            }
            fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
                Ok($name {
                    id: columns.column()?,
                    email: columns.column()?,
                    created_at: columns.column()?,
                })
            }
        }

        impl $name {
            fn new(id: i64) -> Self {
                $name {
                    id,
                    email: format!("user{id}@example.com"),
                    created_at: id,
                }
            }
        }
    };
}
