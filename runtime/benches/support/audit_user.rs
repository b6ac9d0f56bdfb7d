//! The audited entity of the audit test and benchmark (`audit.v1.User`: an `int64` key, a PII email) with a
//! hand-written `Record`. Included with `#[path]` by `tests/audit.rs` and `benches/audit.rs`.

use capacitor::error::DecodeError;
use capacitor::record::{ColumnReader, ColumnWriter, Record};

/// An entity keyed by a number, with a PII field.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(
    package = "audit.v1",
    table = "users",
    consistency = "eventual",
    cache(ttl = "60s", max_entries = 100000)
)]
pub struct User {
    #[prost(int64, tag = "1")]
    #[capacitor(primary_key)]
    pub id: i64,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email")]
    pub email: String,
}

impl Record for User {
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
    }
    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(User {
            id: columns.column()?,
            email: columns.column()?,
        })
    }
}
