//! Every value kind round-trips exactly through `capacitor::codec` and the columns capgen creates, on SQLite and
//! PostgreSQL 15: a Timestamp with nanoseconds (before 1970 and at the edges of the proto range), uint64 above
//! 2^63, NaN, ±Inf and -0.0, unknown enum numbers, negative Durations, NULL for unset explicit presence.

use capacitor::codec::{Duration, Json, PgTimestamp, PgValue, Repeated, SqliteValue, Timestamp};
use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate;
use capacitor_migration_tests::{load_from, schemas_dir};
use capacitor_testkit::postgres::PostgresServer;
use serde_json::json;
use sqlx::Row;

#[derive(Debug, Clone)]
struct Values {
    id: String,
    d: f64,
    f: f32,
    i32: i32,
    i64: i64,
    u32: u32,
    u64: u64,
    s32: i32,
    s64: i64,
    fx32: u32,
    fx64: u64,
    sf32: i32,
    sf64: i64,
    b: bool,
    raw: Vec<u8>,
    color: i32,
    at: Option<Timestamp>,
    took: Option<Duration>,
    maybe_u64: Option<u64>,
    maybe_d: Option<f64>,
    ds: Repeated<f64>,
    u64s: Repeated<u64>,
    raws: Repeated<Vec<u8>>,
    strs: Repeated<String>,
    colors: Repeated<i32>,
    fs: Repeated<f32>,
    i64s: Repeated<i64>,
    inner: Option<Json>,
    counts: Json,
    choice: Option<Json>,
    secret: Vec<u8>,
    name: String,
}

/// Debug text with floats as bit patterns, so NaN equals NaN and -0.0 differs from 0.0.
fn exact(v: &Values) -> String {
    let bits64 = |x: &f64| format!("{:016x}", x.to_bits());
    let bits32 = |x: &f32| format!("{:08x}", x.to_bits());
    format!(
        "{v:?} d={} f={} maybe_d={:?} ds={:?} fs={:?}",
        bits64(&v.d),
        bits32(&v.f),
        v.maybe_d.as_ref().map(bits64),
        v.ds.0.iter().map(bits64).collect::<Vec<_>>(),
        v.fs.0.iter().map(bits32).collect::<Vec<_>>(),
    )
}

fn samples() -> Vec<Values> {
    vec![
        Values {
            id: "edges".into(),
            d: f64::NAN,
            f: f32::NEG_INFINITY,
            i32: i32::MIN,
            i64: i64::MIN,
            u32: u32::MAX,
            u64: u64::MAX,
            s32: i32::MAX,
            s64: i64::MAX,
            fx32: u32::MAX,
            fx64: (1 << 63) + 1,
            sf32: -1,
            sf64: -1,
            b: true,
            raw: vec![0, 255, 0x27, 0x5c],
            color: 99, // unknown to the schema
            at: Some(Timestamp {
                seconds: -1,
                nanos: 999_999_999,
            }),
            took: Some(Duration {
                seconds: -315_576_000_000,
                nanos: -999_999_999,
            }),
            maybe_u64: Some(u64::MAX - 1),
            maybe_d: Some(-0.0),
            ds: Repeated(vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                1.25e300,
                f64::MIN_POSITIVE,
            ]),
            u64s: Repeated(vec![0, 1 << 63, u64::MAX]),
            raws: Repeated(vec![vec![], vec![1, 2, 3]]),
            strs: Repeated(vec![
                "".into(),
                "quote ' \" and, comma".into(),
                "ünïcödé".into(),
            ]),
            colors: Repeated(vec![0, 1, 42, -7]),
            fs: Repeated(vec![f32::NAN, -0.0, f32::MAX, f32::MIN_POSITIVE]),
            i64s: Repeated(vec![i64::MIN, 0, i64::MAX]),
            inner: Some(Json(json!({ "label": "a \"quoted\" label" }))),
            counts: Json(json!({ "a": "-9223372036854775808", "b": "9223372036854775807" })),
            choice: Some(Json(json!({ "number": "18446744073709551615" }))),
            secret: vec![9; 48],
            name: "order".into(),
        },
        Values {
            id: "range".into(),
            d: f64::INFINITY,
            f: -0.0,
            i32: 0,
            i64: 0,
            u32: 0,
            u64: 1 << 63,
            s32: i32::MIN,
            s64: i64::MIN,
            fx32: 0,
            fx64: 0,
            sf32: i32::MIN,
            sf64: i64::MIN,
            b: false,
            raw: vec![],
            color: -2,
            at: Some(Timestamp {
                seconds: 253_402_300_799,
                nanos: 1,
            }), // 9999-12-31T23:59:59.000000001Z
            took: Some(Duration {
                seconds: 0,
                nanos: -1,
            }),
            maybe_u64: None,
            maybe_d: None,
            ds: Repeated(vec![]),
            u64s: Repeated(vec![]),
            raws: Repeated(vec![]),
            strs: Repeated(vec![]),
            colors: Repeated(vec![]),
            fs: Repeated(vec![]),
            i64s: Repeated(vec![]),
            inner: None,
            counts: Json(json!({})),
            choice: Some(Json(json!({ "text": "" }))),
            secret: vec![],
            name: String::new(),
        },
        Values {
            id: "first".into(),
            d: f64::MIN_POSITIVE / 2.0, // subnormal
            f: f32::NAN,
            i32: 1,
            i64: 1,
            u32: 1,
            u64: 0,
            s32: 0,
            s64: 0,
            fx32: 1,
            fx64: u64::MAX,
            sf32: 0,
            sf64: 0,
            b: false,
            raw: vec![0],
            color: 1,
            at: Some(Timestamp {
                seconds: -62_135_596_800,
                nanos: 0,
            }), // 0001-01-01T00:00:00Z
            took: Some(Duration {
                seconds: 315_576_000_000,
                nanos: 999_999_999,
            }),
            maybe_u64: Some(0),
            maybe_d: Some(f64::NAN),
            ds: Repeated(vec![0.1]),
            u64s: Repeated(vec![42]),
            raws: Repeated(vec![vec![0]]),
            strs: Repeated(vec!["x".into()]),
            colors: Repeated(vec![1]),
            fs: Repeated(vec![0.1]),
            i64s: Repeated(vec![-1]),
            inner: Some(Json(json!({}))),
            counts: Json(json!({ "": "0" })),
            choice: None,
            secret: vec![1],
            name: "select".into(),
        },
    ]
}

fn create_script(dialect: Dialect) -> String {
    let schema = load_from(&schemas_dir().join("roundtrip"), dialect);
    let script = migrate::create_script(&schema, dialect);
    insta::assert_snapshot!(format!("every_kind_{dialect}"), script);
    script
}

const COLUMNS: &[&str] = &[
    "id",
    "d",
    "f",
    "i32",
    "i64",
    "u32",
    "u64",
    "s32",
    "s64",
    "fx32",
    "fx64",
    "sf32",
    "sf64",
    "b",
    "raw",
    "color",
    "at",
    "took",
    "maybe_u64",
    "maybe_d",
    "ds",
    "u64s",
    "raws",
    "strs",
    "colors",
    "fs",
    "i64s",
    "inner",
    "counts",
    "choice",
    "secret",
    "name",
];

fn column_list(dialect: Dialect) -> Vec<String> {
    let mut out: Vec<String> = COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    if dialect == Dialect::Postgres {
        out.insert(17, "\"at_nanos\"".to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_round_trips_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("kinds.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(&create_script(Dialect::Sqlite))
        .execute(&pool)
        .await
        .unwrap();
    let columns = column_list(Dialect::Sqlite);
    let insert = format!(
        "INSERT INTO \"kinds\" ({}, \"_version\") VALUES ({}, 1)",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    for v in samples() {
        macro_rules! bind_all {
            ($q:expr, $($field:ident),*) => { $q$(.bind(v.$field.to_sqlite().unwrap()))* };
        }
        bind_all!(
            sqlx::query(&insert),
            id,
            d,
            f,
            i32,
            i64,
            u32,
            u64,
            s32,
            s64,
            fx32,
            fx64,
            sf32,
            sf64,
            b,
            raw,
            color,
            at,
            took,
            maybe_u64,
            maybe_d,
            ds,
            u64s,
            raws,
            strs,
            colors,
            fs,
            i64s,
            inner,
            counts,
            choice,
            secret,
            name
        )
        .execute(&pool)
        .await
        .unwrap();
        let row = sqlx::query(&format!(
            "SELECT {} FROM \"kinds\" WHERE \"id\" = ?",
            columns.join(", ")
        ))
        .bind(&v.id)
        .fetch_one(&pool)
        .await
        .unwrap();
        macro_rules! read_all {
            ($($field:ident: $ty:ty),*) => {
                Values { $($field: <$ty>::from_sqlite(row.try_get(stringify!($field)).unwrap()).unwrap(),)* }
            };
        }
        let back = read_all!(
            id: String, d: f64, f: f32, i32: i32, i64: i64, u32: u32, u64: u64, s32: i32, s64: i64,
            fx32: u32, fx64: u64, sf32: i32, sf64: i64, b: bool, raw: Vec<u8>, color: i32,
            at: Option<Timestamp>, took: Option<Duration>, maybe_u64: Option<u64>, maybe_d: Option<f64>,
            ds: Repeated<f64>, u64s: Repeated<u64>, raws: Repeated<Vec<u8>>, strs: Repeated<String>,
            colors: Repeated<i32>, fs: Repeated<f32>, i64s: Repeated<i64>, inner: Option<Json>,
            counts: Json, choice: Option<Json>, secret: Vec<u8>, name: String
        );
        assert_eq!(exact(&back), exact(&v), "sqlite row {}", v.id);
    }
    // Floats sort in IEEE total order in SQL.
    let order: Vec<String> = sqlx::query_scalar("SELECT \"id\" FROM \"kinds\" ORDER BY \"d\"")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(order, ["first", "range", "edges"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_round_trips_on_postgres() {
    let url = PostgresServer::shared()
        .create_database("roundtrip")
        .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(&create_script(Dialect::Postgres))
        .execute(&pool)
        .await
        .unwrap();
    let columns = column_list(Dialect::Postgres);
    let insert = format!(
        "INSERT INTO \"kinds\" ({}, \"_version\") VALUES ({}, 1)",
        columns.join(", "),
        (1..=columns.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for v in samples() {
        macro_rules! bind_all {
            ($q:expr, $($field:ident),*) => { $q$(.bind(v.$field.to_pg().unwrap()))* };
        }
        let at = v.at.to_pg().unwrap();
        let query = bind_all!(
            sqlx::query(&insert),
            id,
            d,
            f,
            i32,
            i64,
            u32,
            u64,
            s32,
            s64,
            fx32,
            fx64,
            sf32,
            sf64,
            b,
            raw,
            color
        )
        .bind(at.map(|t| t.at))
        .bind(at.map(|t| t.nanos));
        bind_all!(
            query, took, maybe_u64, maybe_d, ds, u64s, raws, strs, colors, fs, i64s, inner, counts,
            choice, secret, name
        )
        .execute(&pool)
        .await
        .unwrap();
        let row = sqlx::query(&format!(
            "SELECT {} FROM \"kinds\" WHERE \"id\" = $1",
            columns.join(", ")
        ))
        .bind(&v.id)
        .fetch_one(&pool)
        .await
        .unwrap();
        let at_parts: (Option<_>, Option<i32>) =
            (row.try_get("at").unwrap(), row.try_get("at_nanos").unwrap());
        let at = match at_parts {
            (Some(at), Some(nanos)) => Some(PgTimestamp { at, nanos }),
            _ => None,
        };
        macro_rules! read_all {
            ($($field:ident: $ty:ty),*) => {
                Values {
                    at: Option::<Timestamp>::from_pg(at).unwrap(),
                    $($field: <$ty>::from_pg(row.try_get(stringify!($field)).unwrap()).unwrap(),)*
                }
            };
        }
        let back = read_all!(
            id: String, d: f64, f: f32, i32: i32, i64: i64, u32: u32, u64: u64, s32: i32, s64: i64,
            fx32: u32, fx64: u64, sf32: i32, sf64: i64, b: bool, raw: Vec<u8>, color: i32,
            took: Option<Duration>, maybe_u64: Option<u64>, maybe_d: Option<f64>,
            ds: Repeated<f64>, u64s: Repeated<u64>, raws: Repeated<Vec<u8>>, strs: Repeated<String>,
            colors: Repeated<i32>, fs: Repeated<f32>, i64s: Repeated<i64>, inner: Option<Json>,
            counts: Json, choice: Option<Json>, secret: Vec<u8>, name: String
        );
        assert_eq!(exact(&back), exact(&v), "postgres row {}", v.id);
    }
}
