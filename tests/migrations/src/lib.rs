//! Support for the migration tests: the versioned schemas under `schemas/v<N>/`, loaded for one dialect, and
//! the catalog of a database as a set of lines (columns with type, nullability and default; indexes;
//! constraints), so two databases compare equal whatever order `ADD COLUMN` appended their columns in.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::generate::load_schema;
use capacitor_codegen::ir::Schema;
use capacitor_codegen::proto::Input;
use sqlx::Row;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The number of schema versions in the chain.
pub const VERSIONS: u32 = 8;

/// `schemas/` of this crate.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// Schema version `version` with every entity on `dialect`'s backend. The files declare
/// `BACKEND_SQLITE`; for Postgres a copy with `BACKEND_POSTGRES` is compiled, so both dialects walk the same
/// chain.
pub fn load(version: u32, dialect: Dialect) -> Schema {
    load_from(&schemas_dir().join(format!("v{version}")), dialect)
}

/// The schema in `root` (holding `shop/v1/shop.proto`) for `dialect`.
pub fn load_from(root: &Path, dialect: Dialect) -> Schema {
    let copy = tempfile::tempdir().expect("temp dir");
    let file = Path::new("shop/v1/shop.proto");
    let text = std::fs::read_to_string(root.join(file)).expect("schema file");
    let text = match dialect {
        Dialect::Sqlite => text,
        Dialect::Postgres => text.replace("BACKEND_SQLITE", "BACKEND_POSTGRES"),
    };
    std::fs::create_dir_all(copy.path().join("shop/v1")).expect("dir");
    std::fs::write(copy.path().join(file), text).expect("write schema copy");
    let input = Input::Files {
        includes: vec![copy.path().to_path_buf()],
        files: vec![copy.path().join(file)],
    };
    match load_schema(&input) {
        Ok((_, schema)) => schema,
        Err(e) => panic!("schema {} does not load: {e}", root.display()),
    }
}

/// The catalog of a SQLite database, one line per column, index and primary key.
pub async fn sqlite_catalog(pool: &sqlx::SqlitePool) -> BTreeSet<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = BTreeSet::new();
    for table in tables {
        out.insert(format!("table {table}"));
        for row in
            sqlx::query("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .expect("columns")
        {
            let name: String = row.get(0);
            let ty: String = row.get(1);
            let not_null: i64 = row.get(2);
            let default: Option<String> = row.get(3);
            let pk: i64 = row.get(4);
            out.insert(format!(
                "column {table}.{name} {ty} not_null={not_null} default={default:?} pk_position={pk}"
            ));
        }
        for row in sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .expect("indexes")
        {
            let name: String = row.get(0);
            let unique: i64 = row.get(1);
            let origin: String = row.get(2);
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(pool)
                    .await
                    .expect("index columns");
            // The primary key's automatic index is named after the table's creation; its columns are what
            // matters.
            let name = if origin == "pk" {
                "<primary key>".to_string()
            } else {
                name
            };
            out.insert(format!(
                "index {table}.{name} unique={unique} origin={origin} ({})",
                columns.join(", ")
            ));
        }
    }
    out
}

/// The catalog of the `public` schema of a Postgres database.
pub async fn postgres_catalog(pool: &sqlx::PgPool) -> BTreeSet<String> {
    let queries = [
        "SELECT format('column %s.%s %s not_null=%s default=%s', c.relname, a.attname, \
         format_type(a.atttypid, a.atttypmod), a.attnotnull, COALESCE(pg_get_expr(d.adbin, d.adrelid), '<none>')) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
         AND c.relname <> '_sqlx_migrations'",
        "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'",
        "SELECT format('constraint %s %s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         WHERE c.connamespace = 'public'::regnamespace AND t.relname <> '_sqlx_migrations'",
    ];
    let mut out = BTreeSet::new();
    for query in queries {
        let lines: Vec<String> = sqlx::query_scalar(query)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("catalog query failed: {e}"));
        out.extend(lines);
    }
    out
}

/// Schema v1 with `edit` applied to its text, in a temp dir of its own (for [`load_from`]).
pub fn v1_with(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let text =
        std::fs::read_to_string(schemas_dir().join("v1/shop/v1/shop.proto")).expect("schema v1");
    schema_dir(&edit(&text))
}

/// `text` as `shop/v1/shop.proto` in a temp dir of its own (for [`load_from`]).
pub fn schema_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("shop/v1")).expect("dir");
    std::fs::write(dir.path().join("shop/v1/shop.proto"), text).expect("write schema");
    dir
}

/// The options of migration `name` for `dialect` alone, the rest at their defaults.
pub fn diff_options(name: &str, dialect: Dialect) -> capacitor_codegen::migrate::DiffOptions {
    capacitor_codegen::migrate::DiffOptions {
        name: name.to_string(),
        dialects: vec![dialect],
        ..Default::default()
    }
}

fn plan(
    root: &Path,
    migrations: &Path,
    dialect: Dialect,
    options: &capacitor_codegen::migrate::DiffOptions,
) -> Vec<capacitor_codegen::migrate::Planned> {
    capacitor_codegen::migrate::plan(&load_from(root, dialect), migrations, options)
        .expect("the migration plans")
}

/// Plans the next migration of the schema in `root` against `migrations` with `options`, writing nothing; its
/// `up` SQL.
pub fn plan_up(
    root: &Path,
    migrations: &Path,
    dialect: Dialect,
    options: &capacitor_codegen::migrate::DiffOptions,
) -> String {
    plan(root, migrations, dialect, options)
        .iter()
        .map(|p| p.up.clone())
        .collect()
}

/// Plans and writes the next migration (`name`) of the schema in `root` into `migrations`; its `up` SQL.
pub fn migrate_next(root: &Path, migrations: &Path, dialect: Dialect, name: &str) -> String {
    let planned = plan(root, migrations, dialect, &diff_options(name, dialect));
    capacitor_codegen::migrate::write(migrations, &planned, name).expect("write");
    planned.iter().map(|p| p.up.clone()).collect()
}
