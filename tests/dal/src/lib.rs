//! Entities for the repository tests, with the [`capacitor::Record`] impls generated code will emit (written
//! by hand until the emitter does).

use capacitor::codec;
use capacitor::error::DecodeError;
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::validate::{FieldPath, Violation, Violations};

/// An eventual entity with an L1 cache.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    package = "dal.v1",
    table = "accounts",
    consistency = "eventual",
    cache(ttl = "60s", max_entries = 1000)
)]
pub struct Account {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email", unique)]
    pub email: String,
    #[prost(int64, tag = "3")]
    pub balance: i64,
}

impl Record for Account {
    type Key = String;

    fn key(&self) -> String {
        self.id.clone()
    }

    fn write_key<W: ColumnWriter>(key: &String, out: &mut W) {
        out.column(key);
    }

    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<String, DecodeError> {
        columns.column()
    }

    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.id);
        out.column(&self.email);
        out.column(&self.balance);
    }

    // What generated code does for `(buf.validate.field).string.min_len = 1` (written by hand here).
    fn check_rules(&self) -> Result<(), Violations> {
        if self.email.is_empty() {
            return Err(Violations::from(vec![Violation {
                field: FieldPath::default(),
                rule: FieldPath::default(),
                rule_id: "string.min_len".into(),
                message: "value length must be at least 1 characters".into(),
                for_key: false,
            }]));
        }
        Ok(())
    }

    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(Account {
            id: columns.column()?,
            email: columns.column()?,
            balance: columns.column()?,
        })
    }
}

/// A strong entity (no L1) with a composite key.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    package = "dal.v1",
    table = "ledger",
    consistency = "strong",
    cache(ttl = "60s"),
    index(name = "ledger_pkey", fields("account", "seq"), primary)
)]
pub struct Entry {
    #[prost(string, tag = "1")]
    pub account: String,
    #[prost(int64, tag = "2")]
    pub seq: i64,
    #[prost(string, tag = "3")]
    #[capacitor(pii = "free_text")]
    pub memo: String,
}

impl Record for Entry {
    type Key = (String, i64);

    fn key(&self) -> (String, i64) {
        (self.account.clone(), self.seq)
    }

    fn write_key<W: ColumnWriter>(key: &(String, i64), out: &mut W) {
        out.column(&key.0);
        out.column(&key.1);
    }

    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<(String, i64), DecodeError> {
        Ok((columns.column()?, columns.column()?))
    }

    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.account);
        out.column(&self.seq);
        out.column(&self.memo);
    }

    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(Entry {
            account: columns.column()?,
            seq: columns.column()?,
            memo: columns.column()?,
        })
    }
}

/// An account with an id and a balance (the email derived from the id).
pub fn account(id: &str, balance: i64) -> Account {
    Account {
        id: id.to_owned(),
        email: format!("{id}@example.com"),
        balance,
    }
}

/// Every column kind the codec maps, for round trips through each store.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(package = "dal.v1", table = "kinds", consistency = "strong")]
pub struct Kinds {
    #[prost(uint64, tag = "1")]
    #[capacitor(primary_key)]
    pub id: u64,
    #[prost(message, optional, tag = "2")]
    pub at: Option<prost_types::Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub took: Option<prost_types::Duration>,
    #[prost(double, tag = "4")]
    pub ratio: f64,
    #[prost(bool, tag = "5")]
    pub flag: bool,
    #[prost(bytes = "vec", tag = "6")]
    pub blob: Vec<u8>,
    #[prost(int32, tag = "7")]
    pub small: i32,
    #[prost(string, optional, tag = "8")]
    pub note: Option<String>,
    #[prost(string, tag = "9")]
    pub json: String,
}

impl Record for Kinds {
    type Key = u64;

    fn key(&self) -> u64 {
        self.id
    }

    fn write_key<W: ColumnWriter>(key: &u64, out: &mut W) {
        out.column(key);
    }

    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<u64, DecodeError> {
        columns.column()
    }

    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.id);
        out.column(&self.at.map(|t| codec::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        }));
        out.column(&self.took.map(|d| codec::Duration {
            seconds: d.seconds,
            nanos: d.nanos,
        }));
        out.column(&self.ratio);
        out.column(&self.flag);
        out.column(&self.blob);
        out.column(&self.small);
        out.column(&self.note);
        out.column(&codec::Json(
            serde_json::from_str(&self.json).unwrap_or(serde_json::Value::Null),
        ));
    }

    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(Kinds {
            id: columns.column()?,
            at: columns
                .column::<Option<codec::Timestamp>>()?
                .map(|t| prost_types::Timestamp {
                    seconds: t.seconds,
                    nanos: t.nanos,
                }),
            took: columns
                .column::<Option<codec::Duration>>()?
                .map(|d| prost_types::Duration {
                    seconds: d.seconds,
                    nanos: d.nanos,
                }),
            ratio: columns.column()?,
            flag: columns.column()?,
            blob: columns.column()?,
            small: columns.column()?,
            note: columns.column()?,
            json: columns.column::<codec::Json>()?.0.to_string(),
        })
    }
}

/// A SQLite store in the file `<dir>/<name>.db` with the tables `ddl` creates (the entities'
/// `CREATE_TABLE_SQLITE`).
pub async fn sqlite_store(dir: &std::path::Path, name: &str, ddl: &[&str]) -> capacitor::Store {
    let url = format!("sqlite:{}", dir.join(format!("{name}.db")).display());
    let store = capacitor::Store::open(&url)
        .await
        .expect("open the SQLite file");
    for statement in ddl {
        sqlx::raw_sql(statement)
            .execute(store.sqlite_pool().expect("a SQLite store"))
            .await
            .expect("create the tables");
    }
    store
}

/// A new database `name` on the testkit's shared Postgres server with the tables `ddl` creates (the entities'
/// `CREATE_TABLE_POSTGRES`).
pub async fn postgres_store(name: &str, ddl: &[&str]) -> capacitor::Store {
    let url = capacitor_testkit::postgres::PostgresServer::shared()
        .create_database(name)
        .expect("a Postgres database");
    let store = capacitor::Store::open(&url).await.expect("open Postgres");
    for statement in ddl {
        sqlx::raw_sql(statement)
            .execute(store.postgres_pool().expect("a Postgres store"))
            .await
            .expect("create the tables");
    }
    store
}

/// An eventual, cached entity with a transactional outbox and a PII field (so it can be erased): the outbox,
/// change feed and L1 invalidation tests (`dal_outbox`, `dal_outbox_processes`).
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    package = "outbox.v1",
    table = "orders",
    consistency = "eventual",
    cache(ttl = "600s", max_entries = 1000),
    outbox(topic = "orders"),
    repository
)]
pub struct Order {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key)]
    pub id: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "email")]
    pub email: String,
    #[prost(int64, tag = "3")]
    pub total: i64,
}

/// Runs the test `test` of the current test binary again, as a child OS process, with `env` set to `value`
/// (the child test reads it to know its role and returns at once when it is unset); its output is piped.
pub fn spawn_child(test: &str, env: &str, value: String) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(env, value)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child test process")
}

/// Waits for a child of [`spawn_child`]; its standard output, after asserting it succeeded (the failure shows
/// the end of its output and its standard error).
pub fn child_output(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("wait for the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        stdout.lines().rev().take(40).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
