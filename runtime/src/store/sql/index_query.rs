//! The SQL of index lookups, per dialect, and its execution on each SQL store.
//!
//! `SELECT <row columns>, "_version" FROM <table> WHERE <index columns> = <values> [AND (<key>) > (<after>)]
//! ORDER BY <key> LIMIT <n>`: an equality lookup on the index (which the DDL creates, so it is an index scan)
//! paginated by the primary key.

use super::Dialect;
use super::statements::{columns_of_numbers, placeholder, quote, row_columns};
use crate::schema::{EntitySchema, IndexSchema};

/// The lookup statement of `index`; with `after`, it continues after a primary key. Placeholders, in bind
/// order: the index values, the key after which to start (if any), the limit. An encrypted field's value is
/// looked up in its blind index column by `tokens` tokens (one per key id of the ring): `IN (…)`.
pub(crate) fn lookup_sql(
    schema: &EntitySchema,
    index: &IndexSchema,
    dialect: Dialect,
    after: bool,
    tokens: usize,
) -> String {
    let row = row_columns(schema, dialect);
    let keys = columns_of_numbers(schema, schema.primary_key, dialect);
    let mut n = 0;
    let mut next = || {
        n += 1;
        placeholder(dialect, n)
    };
    let mut conditions: Vec<String> = Vec::new();
    for number in index.fields {
        let blind = schema.field_by_number(*number).and_then(|f| {
            let unique = super::statements::blind_unique(schema, f)?;
            crate::schema::columns::blind_index_column(f, unique, dialect)
        });
        match blind {
            Some(column) => {
                let list: Vec<String> = (0..tokens.max(1)).map(|_| next()).collect();
                conditions.push(format!("{} IN ({})", quote(&column.name), list.join(", ")));
            }
            None => {
                for c in columns_of_numbers(schema, &[*number], dialect) {
                    conditions.push(format!("{c} = {}", next()));
                }
            }
        }
    }
    if after {
        let bound: Vec<String> = keys.iter().map(|_| next()).collect();
        conditions.push(format!("({}) > ({})", keys.join(", "), bound.join(", ")));
    }
    format!(
        "SELECT {}, \"_version\" FROM {} WHERE {} ORDER BY {} LIMIT {}",
        row.join(", "),
        quote(schema.table),
        conditions.join(" AND "),
        keys.join(", "),
        next()
    )
}

/// `find_by_index` on one SQL store type, through the row writer and reader its `sql_store!` expansion defines.
macro_rules! lookup_store {
    ($module:ident, $store:ident, $dialect:expr) => {
        mod $module {
            use super::super::$module::{Writer, decode_row, $store};
            use crate::error::Error;
            use crate::record::Record;
            use crate::schema::IndexSchema;
            use crate::store::Page;
            use crate::store::index_lookup::IndexValues;
            use crate::versioned::Versioned;

            impl $store {
                pub(crate) async fn find_by_index<E: Record, V: IndexValues>(
                    &self,
                    index: &'static IndexSchema,
                    values: &V,
                    after: Option<&E::Key>,
                    limit: usize,
                    with: Option<&crate::cursor::CursorKey>,
                ) -> Result<Page<E>, Error> {
                    let st = self.statements::<E>();
                    let keys = self.keys::<E>()?;
                    let tokens = keys.as_ref().map_or(1, |k| k.key_ids());
                    let sql =
                        super::lookup_sql(E::SCHEMA, index, $dialect, after.is_some(), tokens);
                    let blind = index
                        .fields
                        .iter()
                        .any(|n| st.blind.iter().any(|(f, _)| f.number == *n));
                    let mut w = Writer::lookup(index, keys, &st);
                    values.write_values(&mut w);
                    if let Some(key) = after {
                        E::write_key(key, &mut w);
                    }
                    // One row more than asked tells whether there is a next page.
                    w.int(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1);
                    let rows = self.fetch_all_pooled::<E>(&sql, w.finish::<E>()?).await?;
                    let more = rows.len() > limit;
                    // A blind index token matches other values too (truncated tokens, or two key ids): the
                    // decrypted rows are compared with the wanted values, and the page's cursor follows the last
                    // row examined, so a page may hold fewer rows than `limit` and the next one continues.
                    let wanted = blind.then(|| crate::store::index_lookup::value_tokens(values));
                    let mut items = Vec::with_capacity(rows.len().min(limit));
                    let mut last = None;
                    let page = &rows[..rows.len().min(limit)];
                    let subjects = self.load_subject_keys::<E>(&st, page).await?;
                    let mut fetched = self.fetch_blobs::<E>(&st, page, &subjects).await?;
                    for row in page {
                        let keys = self.keys::<E>()?.map(|k| k.with_loaded(&subjects));
                        let (value, version) = decode_row::<E>(row, keys, &st, &mut fetched)?;
                        last = Some(value.key());
                        let matches = wanted.as_ref().is_none_or(|wanted| {
                            crate::store::index_lookup::field_tokens(&value, index.fields)
                                == *wanted
                        });
                        if matches {
                            items.push(Versioned::new(value, version));
                        }
                    }
                    let next = match (more, with) {
                        (true, Some(with)) => last
                            .as_ref()
                            .map(|key| crate::cursor::Cursor::seal::<E>(key, with)),
                        _ => None,
                    };
                    Ok(Page { items, next })
                }
            }
        }
    };
}

#[cfg(feature = "sqlite")]
lookup_store!(sqlite, SqliteStore, super::Dialect::Sqlite);

#[cfg(feature = "postgres")]
lookup_store!(postgres, PgStore, super::Dialect::Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    const FIELD: FieldSchema = FieldSchema {
        number: 1,
        name: "id",
        column: Some("id"),
        oneof: None,
        ty: FieldType::Scalar(Scalar::String),
        label: Label::Implicit,
        pii: None,
        redacted: false,
        encrypt: false,
        blind_index_bits: None,
        claim_check: None,
    };
    const SCHEMA: EntitySchema = EntitySchema {
        package: "t.v1",
        message: "Row",
        table: "rows",
        backend: Backend::Sqlite,
        consistency: Consistency::Strong,
        cache: None,
        primary_key: &[1],
        fields: &[
            FIELD,
            FieldSchema {
                number: 2,
                name: "email",
                column: Some("email"),
                ..FIELD
            },
            FieldSchema {
                number: 3,
                name: "at",
                column: Some("at"),
                ty: FieldType::WellKnown(WellKnown::Timestamp),
                label: Label::Optional,
                ..FIELD
            },
        ],
        indexes: &[],
        outbox: None,
        subject: None,
    };
    const BY_AT: IndexSchema = IndexSchema {
        name: "rows_at_idx",
        fields: &[3],
        kind: IndexKind::Secondary,
    };

    #[test]
    fn postgres_lookup_covers_the_nanos_column() {
        assert_eq!(
            lookup_sql(&SCHEMA, &BY_AT, Dialect::Postgres, true, 1),
            r#"SELECT "id", "email", "at", "at_nanos", "_version" FROM "rows" WHERE "at" = $1 AND "at_nanos" = $2 AND ("id") > ($3) ORDER BY "id" LIMIT $4"#
        );
    }

    #[test]
    fn sqlite_first_page() {
        let by_email = IndexSchema {
            name: "rows_email_key",
            fields: &[2],
            kind: IndexKind::Unique,
        };
        assert_eq!(
            lookup_sql(&SCHEMA, &by_email, Dialect::Sqlite, false, 1),
            r#"SELECT "id", "email", "at", "_version" FROM "rows" WHERE "email" = ?1 ORDER BY "id" LIMIT ?2"#
        );
    }
}
