//! The SQL text of one entity's operations in one dialect.

use crate::schema::columns::field_columns;
use crate::schema::{EntitySchema, FieldSchema};
use std::fmt::Write;

/// The SQL dialect of a store: the column layout's own.
pub(crate) use crate::schema::columns::Dialect;

/// The most values one statement binds: SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` (32,766; Postgres allows
/// 65,535). Larger batches are split into several statements.
pub(crate) const MAX_BIND_PARAMS: usize = 32_766;

/// The most keys one `select_many` looks up. Postgres plans a composite key's `(a, b) IN ((…), …)` as a chain of
/// `OR`s, and some 16,000 of them exceed its default `max_stack_depth` (2 MB): a bound well below that keeps any
/// key shape safe, and each statement still carries a large batch.
pub(crate) const MAX_KEYS_PER_STATEMENT: usize = 1024;

/// How long the sealed stored form of a blob reference (41 bytes) is: plus the ring format's 33 bytes of
/// overhead (`pii::cipher::OVERHEAD`) or the subject format's 45 (`pii::subject::SUBJECT_OVERHEAD`); a test
/// keeps them in step.
pub(crate) const SEALED_REFERENCE_LENGTHS: [usize; 2] = [
    crate::blob::BlobRef::ENCODED_LEN + 1 + 33,
    crate::blob::BlobRef::ENCODED_LEN + 1 + 45,
];

/// The statements of one entity. Placeholders are numbered in bind order: the row's columns, then the new
/// version, then (for `update`) the key and the expected version.
#[derive(Debug)]
pub(crate) struct Statements {
    dialect: Dialect,
    table: String,
    /// Every column of a row, in `write_row` order, then `"_version"`.
    select_list: String,
    columns: Vec<String>,
    key_columns: Vec<String>,
    pub(crate) select_one: String,
    pub(crate) version_of: String,
    pub(crate) insert: String,
    pub(crate) upsert: String,
    pub(crate) update: String,
    pub(crate) delete: String,
    pub(crate) scan_first: String,
    pub(crate) scan_after: String,
    /// Per field of `write_row`/`read_row` (one column call each), the field when it is stored encrypted.
    pub(crate) encrypted_at: Vec<Option<&'static FieldSchema>>,
    /// Per field of `write_row`/`read_row` (one column call each), the field when it is claim-checked.
    pub(crate) claimed_at: Vec<Option<&'static FieldSchema>>,
    /// The row index of each claim-checked field's column.
    pub(crate) claim_positions: Vec<(usize, &'static FieldSchema)>,
    /// The row index of each encrypted field's column (crypto-shredding reads the subject key ids there
    /// before a row is decoded).
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    pub(crate) encrypted_positions: Vec<usize>,
    /// The row index of the first column of each primary key field, in key order.
    pub(crate) key_positions: Vec<usize>,
    /// The encrypted fields with a blind index and their tokens' width in bits, in the order their columns
    /// follow the row's in `insert`, `upsert` and `update` (reads do not select them).
    pub(crate) blind: Vec<(&'static FieldSchema, u16)>,
    /// Crypto-shredding: the key and version of every row of one data subject (the subject's value the one
    /// parameter), when the entity names a subject.
    pub(crate) subject_rows: Option<String>,
    /// The outbox's statements, when the entity has one.
    pub(crate) outbox: Option<super::outbox::OutboxStatements>,
}

/// The encrypted fields of `schema` with a unique or secondary index, each with its blind index's width
/// ([`blind_index_width`](crate::schema::columns::blind_index_width)).
pub(crate) fn blind_indexed(schema: &'static EntitySchema) -> Vec<(&'static FieldSchema, u16)> {
    schema
        .fields
        .iter()
        .filter(|f| f.encrypt && f.oneof.is_none() && f.column.is_some())
        .filter_map(|f| {
            let unique = blind_unique(schema, f)?;
            Some((f, crate::schema::columns::blind_index_width(f, unique)))
        })
        .collect()
}

/// Whether a unique index is among the unique or secondary indexes on `field`; `None` when there is none.
pub(super) fn blind_unique(schema: &EntitySchema, field: &FieldSchema) -> Option<bool> {
    use crate::schema::IndexKind;
    schema
        .indexes
        .iter()
        .filter(|i| i.kind != IndexKind::Primary && i.fields.contains(&field.number))
        .map(|i| i.kind == IndexKind::Unique)
        .reduce(|a, b| a || b)
}

/// An identifier, double-quoted.
pub(super) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The quoted columns of the fields numbered `numbers` (a key's, an index's), in that order.
pub(super) fn columns_of_numbers(
    schema: &EntitySchema,
    numbers: &[u32],
    dialect: Dialect,
) -> Vec<String> {
    numbers
        .iter()
        .filter_map(|n| schema.field_by_number(*n))
        .flat_map(|f| field_columns(f, true, dialect))
        .map(|c| quote(&c.name))
        .collect()
}

/// Bind placeholder number `n` (from 1) in `dialect`.
pub(super) fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    }
}

/// Every column of a row of `schema` in `dialect`, quoted, in `Record::write_row` order (the DDL's order), without
/// `_version`: the column layout's [`row_columns`](crate::schema::columns::row_columns).
pub(crate) fn row_columns(schema: &EntitySchema, dialect: Dialect) -> Vec<String> {
    crate::schema::columns::row_columns(schema.fields, schema.primary_key, dialect)
        .iter()
        .map(|c| quote(&c.name))
        .collect()
}

impl Statements {
    pub(crate) fn new(schema: &'static EntitySchema, dialect: Dialect) -> Self {
        let columns = row_columns(schema, dialect);
        let key_columns = columns_of_numbers(schema, schema.primary_key, dialect);
        let table = quote(schema.table);
        let select_list = format!("{}, \"_version\"", columns.join(", "));
        // Written after the row's columns, never read back.
        let blind = blind_indexed(schema);
        let numbers: Vec<(u32, bool)> = blind
            .iter()
            .map(|(f, _)| (f.number, blind_unique(schema, f) == Some(true)))
            .collect();
        let mut columns = columns;
        columns.extend(
            crate::schema::columns::blind_index_columns(schema.fields, &numbers, dialect)
                .iter()
                .map(|c| quote(&c.name)),
        );
        let fields: Vec<&'static FieldSchema> =
            crate::schema::columns::row_fields(schema.fields).collect();
        let encrypted_at = fields
            .iter()
            .map(|f| (f.encrypt && f.oneof.is_none()).then_some(*f))
            .collect();
        let claimed_at = fields
            .iter()
            .map(|f| (f.claim_check.is_some() && f.oneof.is_none()).then_some(*f))
            .collect();
        let mut key_positions = vec![0; schema.primary_key.len()];
        let mut claim_positions = Vec::new();
        let mut encrypted_positions = Vec::new();
        let mut at = 0;
        for field in &fields {
            let in_key = schema.primary_key.iter().position(|n| *n == field.number);
            if let Some(i) = in_key {
                key_positions[i] = at;
            }
            if field.claim_check.is_some() && field.oneof.is_none() {
                claim_positions.push((at, *field));
            }
            if field.encrypt && field.oneof.is_none() {
                encrypted_positions.push(at);
            }
            at += field_columns(*field, in_key.is_some(), dialect).len();
        }
        let mut s = Statements {
            dialect,
            table,
            select_list,
            columns,
            key_columns,
            select_one: String::new(),
            version_of: String::new(),
            insert: String::new(),
            upsert: String::new(),
            update: String::new(),
            delete: String::new(),
            scan_first: String::new(),
            scan_after: String::new(),
            encrypted_at,
            claimed_at,
            claim_positions,
            encrypted_positions,
            subject_rows: None,
            key_positions,
            blind,
            outbox: schema
                .outbox
                .map(|_| super::outbox::OutboxStatements::new(schema, dialect)),
        };
        s.build();
        s.subject_rows = schema
            .subject
            .and_then(|n| schema.field_by_number(n))
            .and_then(|f| f.column)
            .map(|column| {
                format!(
                    "SELECT {}, \"_version\" FROM {} WHERE {} = {}",
                    s.key_columns.join(", "),
                    s.table,
                    quote(column),
                    s.placeholder(1)
                )
            });
        if dialect == Dialect::Postgres
            && let Some(outbox) = &mut s.outbox
        {
            let (n, k) = (s.columns.len(), s.key_columns.len());
            outbox.combine([
                (&s.insert, n + 1),
                (&s.upsert, n + 1),
                (&s.update, n + 2 + k),
                (&s.delete, k),
            ]);
        }
        s
    }

    fn placeholder(&self, n: usize) -> String {
        placeholder(self.dialect, n)
    }

    /// Whether a row holds `field`'s stored form given as the one parameter (a blob reference's, to tell
    /// whether another row still names the blob): `SELECT 1 FROM t WHERE col = $1 LIMIT 1`.
    pub(crate) fn claim_referenced(&self, field: &FieldSchema) -> String {
        format!(
            "SELECT 1 FROM {} WHERE {} = {} LIMIT 1",
            self.table,
            quote(field.column.unwrap_or(field.name)),
            self.placeholder(1)
        )
    }

    /// The stored forms of `field` that can be blob references (by their length; the caller tells them from
    /// inline values of the same length by the tag byte), for the blob collector.
    pub(crate) fn claim_references(&self, field: &FieldSchema) -> String {
        let column = quote(field.column.unwrap_or(field.name));
        format!(
            "SELECT {column} FROM {} WHERE length({column}) = {}",
            self.table,
            crate::blob::BlobRef::ENCODED_LEN + 1
        )
    }

    /// The rows whose sealed (encrypted) stored form of `field` can be a blob reference's, whole (the collector
    /// opens the column, bound to the row's key, under the subject keys the row names): a reference's stored
    /// form sealed under the ring (format 1) or a subject key (format 2) is [`SEALED_REFERENCE_LENGTHS`] long.
    pub(crate) fn sealed_claim_references(&self, field: &FieldSchema) -> String {
        let column = quote(field.column.unwrap_or(field.name));
        let [ring, subject] = SEALED_REFERENCE_LENGTHS;
        format!(
            "SELECT {} FROM {} WHERE length({column}) IN ({ring}, {subject})",
            self.select_list, self.table
        )
    }

    /// `"k1" = $from AND "k2" = $from+1`.
    fn key_match(&self, from: usize) -> String {
        self.key_columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", self.placeholder(from + i)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn greatest(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        }
    }

    fn build(&mut self) {
        let (t, list, n) = (&self.table, &self.select_list, self.columns.len());
        let keys = self.key_columns.join(", ");
        self.select_one = format!("SELECT {list} FROM {t} WHERE {}", self.key_match(1));
        self.version_of = format!("SELECT \"_version\" FROM {t} WHERE {}", self.key_match(1));
        let values: Vec<String> = (1..=n + 1).map(|i| self.placeholder(i)).collect();
        let insert_head = format!(
            "INSERT INTO {t} ({}, \"_version\") VALUES ({})",
            self.columns.join(", "),
            values.join(", ")
        );
        self.insert =
            format!("{insert_head} ON CONFLICT ({keys}) DO NOTHING RETURNING \"_version\"");
        let set_excluded: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.key_columns.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let greatest = self.greatest();
        let mut set_list = set_excluded.join(", ");
        if !set_list.is_empty() {
            set_list.push_str(", ");
        }
        self.upsert = format!(
            "{insert_head} ON CONFLICT ({keys}) DO UPDATE SET {set_list}\"_version\" = \
             {greatest}({t}.\"_version\" + 1, excluded.\"_version\") RETURNING \"_version\""
        );
        // UPDATE binds the whole row (keys included, rewritten to themselves), the new version, the key, and
        // the expected version.
        let assignments: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", self.placeholder(i + 1)))
            .collect();
        let k = self.key_columns.len();
        self.update = format!(
            "UPDATE {t} SET {}, \"_version\" = {greatest}(\"_version\" + 1, {}) WHERE {} AND \"_version\" = {} \
             RETURNING \"_version\"",
            assignments.join(", "),
            self.placeholder(n + 1),
            self.key_match(n + 2),
            self.placeholder(n + 2 + k)
        );
        self.delete = format!(
            "DELETE FROM {t} WHERE {} RETURNING \"_version\"",
            self.key_match(1)
        );
        self.scan_first = format!(
            "SELECT {list} FROM {t} ORDER BY {keys} LIMIT {}",
            self.placeholder(1)
        );
        let after: Vec<String> = (1..=k).map(|i| self.placeholder(i)).collect();
        self.scan_after = format!(
            "SELECT {list} FROM {t} WHERE ({keys}) > ({}) ORDER BY {keys} LIMIT {}",
            after.join(", "),
            self.placeholder(k + 1)
        );
    }

    /// The most keys one `select_many` may look up: [`MAX_KEYS_PER_STATEMENT`], fewer if the key has so many
    /// columns that they would bind more than [`MAX_BIND_PARAMS`] values.
    pub(crate) fn batch_capacity(&self) -> usize {
        (MAX_BIND_PARAMS / self.key_columns.len().max(1)).clamp(1, MAX_KEYS_PER_STATEMENT)
    }

    /// `SELECT … WHERE (keys) IN ((…), …)` for `count` keys: one round trip for a batch.
    pub(crate) fn select_many(&self, count: usize) -> String {
        let k = self.key_columns.len();
        let mut sql = format!(
            "SELECT {} FROM {} WHERE ({}) IN (",
            self.select_list,
            self.table,
            self.key_columns.join(", ")
        );
        for i in 0..count {
            if i > 0 {
                sql.push_str(", ");
            }
            let tuple: Vec<String> = (0..k).map(|j| self.placeholder(i * k + j + 1)).collect();
            let _ = write!(sql, "({})", tuple.join(", "));
        }
        sql.push(')');
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    #[cfg(feature = "encryption")]
    #[test]
    fn sealed_reference_lengths_follow_the_ciphertext_formats() {
        let stored = crate::blob::BlobRef::ENCODED_LEN + 1;
        assert_eq!(
            SEALED_REFERENCE_LENGTHS,
            [
                stored + crate::pii::cipher::OVERHEAD,
                stored + crate::pii::subject::SUBJECT_OVERHEAD
            ]
        );
    }

    const SCHEMA: EntitySchema = EntitySchema {
        package: "t.v1",
        message: "Row",
        table: "rows",
        backend: Backend::Sqlite,
        consistency: Consistency::Strong,
        cache: None,
        primary_key: &[1],
        fields: &[
            FieldSchema {
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
            },
            FieldSchema {
                number: 2,
                name: "at",
                column: Some("at"),
                oneof: None,
                ty: FieldType::WellKnown(WellKnown::Timestamp),
                label: Label::Optional,
                pii: None,
                redacted: false,
                encrypt: false,
                blind_index_bits: None,
                claim_check: None,
            },
        ],
        indexes: &[],
        outbox: None,
        subject: None,
    };

    #[test]
    fn postgres_statements() {
        let s = Statements::new(&SCHEMA, Dialect::Postgres);
        assert_eq!(
            s.select_one,
            r#"SELECT "id", "at", "at_nanos", "_version" FROM "rows" WHERE "id" = $1"#
        );
        assert_eq!(
            s.upsert,
            r#"INSERT INTO "rows" ("id", "at", "at_nanos", "_version") VALUES ($1, $2, $3, $4) ON CONFLICT ("id") DO UPDATE SET "at" = excluded."at", "at_nanos" = excluded."at_nanos", "_version" = GREATEST("rows"."_version" + 1, excluded."_version") RETURNING "_version""#
        );
        assert_eq!(
            s.update,
            r#"UPDATE "rows" SET "id" = $1, "at" = $2, "at_nanos" = $3, "_version" = GREATEST("_version" + 1, $4) WHERE "id" = $5 AND "_version" = $6 RETURNING "_version""#
        );
        assert_eq!(
            s.select_many(2),
            r#"SELECT "id", "at", "at_nanos", "_version" FROM "rows" WHERE ("id") IN (($1), ($2))"#
        );
    }

    #[test]
    fn repeated_timestamps_are_one_column_on_postgres() {
        const FIELDS: [FieldSchema; 3] = [
            SCHEMA.fields[0],
            SCHEMA.fields[1],
            FieldSchema {
                number: 3,
                name: "seen",
                column: Some("seen"),
                oneof: None,
                ty: FieldType::WellKnown(WellKnown::Timestamp),
                label: Label::Repeated,
                pii: None,
                redacted: false,
                encrypt: false,
                blind_index_bits: None,
                claim_check: None,
            },
        ];
        const WITH_REPEATED: EntitySchema = EntitySchema {
            fields: &FIELDS,
            ..SCHEMA
        };
        let s = Statements::new(&WITH_REPEATED, Dialect::Postgres);
        assert_eq!(
            s.select_one,
            r#"SELECT "id", "at", "at_nanos", "seen", "_version" FROM "rows" WHERE "id" = $1"#
        );
    }

    #[test]
    fn a_oneof_is_one_json_column_where_its_first_member_is() {
        const MEMBER: FieldSchema = FieldSchema {
            number: 3,
            name: "when",
            column: Some("choice"),
            oneof: Some("choice"),
            ty: FieldType::WellKnown(WellKnown::Timestamp),
            label: Label::Optional,
            pii: None,
            redacted: false,
            encrypt: false,
            blind_index_bits: None,
            claim_check: None,
        };
        const FIELDS: [FieldSchema; 5] = [
            SCHEMA.fields[0],
            MEMBER,
            SCHEMA.fields[1],
            FieldSchema {
                number: 4,
                name: "text",
                ty: FieldType::Scalar(Scalar::String),
                ..MEMBER
            },
            // An `ignore`d member has no column; the oneof's column is still there, once.
            FieldSchema {
                number: 5,
                name: "scratch",
                column: None,
                ..MEMBER
            },
        ];
        const WITH_ONEOF: EntitySchema = EntitySchema {
            fields: &FIELDS,
            ..SCHEMA
        };
        let s = Statements::new(&WITH_ONEOF, Dialect::Postgres);
        assert_eq!(
            s.select_one,
            r#"SELECT "id", "choice", "at", "at_nanos", "_version" FROM "rows" WHERE "id" = $1"#
        );
        let s = Statements::new(&WITH_ONEOF, Dialect::Sqlite);
        assert_eq!(
            s.insert,
            r#"INSERT INTO "rows" ("id", "choice", "at", "_version") VALUES (?1, ?2, ?3, ?4) ON CONFLICT ("id") DO NOTHING RETURNING "_version""#
        );
        let stored: Vec<&str> = crate::record::stored_columns(&WITH_ONEOF)
            .map(|(_, c)| c)
            .collect();
        assert_eq!(stored, ["id", "choice", "at"]);
    }

    #[test]
    fn sqlite_statements() {
        let s = Statements::new(&SCHEMA, Dialect::Sqlite);
        assert_eq!(
            s.scan_after,
            r#"SELECT "id", "at", "_version" FROM "rows" WHERE ("id") > (?1) ORDER BY "id" LIMIT ?2"#
        );
        assert_eq!(
            s.insert,
            r#"INSERT INTO "rows" ("id", "at", "_version") VALUES (?1, ?2, ?3) ON CONFLICT ("id") DO NOTHING RETURNING "_version""#
        );
    }
}
