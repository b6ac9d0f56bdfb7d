//! The PII canary: fixtures full of canary values are driven through every path of the repository — CRUD,
//! lookups, pages, conflicts, unique violations, validation failures, Redis down, a corrupt row, erasure — on
//! real SQLite, Postgres and Redis, with a `tracing` subscriber at TRACE capturing every span and event (the
//! audit trail included). Every `Error`'s Display, Debug and whole `source()` chain, every cursor and erasure
//! report, and every Redis key name are collected; no canary may appear in any of them.
//!
//! `the_canary_check_catches_a_leak` proves the check can fail: a value leaked through the same subscriber is
//! found.
//!
//! Not covered here: Redis values (the protobuf bytes hold the plaintext until field encryption is wired) and
//! the `log` records of drivers (sqlx logs statements, never bound values).

use capacitor::pii::{Actor, SecretKey, TokenKey, TracingAuditSink};
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::validate::{FieldPath, Violation, Violations};
use capacitor::{Error, Repository, Store};
use capacitor_testkit::postgres::PostgresServer;
use capacitor_testkit::redis::RedisServer;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event, Metadata, Subscriber};

/// An entity whose primary key, unique index and another field are PII.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(
    package = "canary.v1",
    table = "contacts",
    consistency = "eventual",
    cache(ttl = "60s", max_entries = 100)
)]
pub struct Contact {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key, pii = "email")]
    pub email: String,
    #[prost(string, tag = "2")]
    #[capacitor(pii = "phone", unique)]
    pub phone: String,
    #[prost(string, tag = "3")]
    #[capacitor(pii = "name")]
    pub name: String,
    #[prost(int64, tag = "4")]
    pub age: i64,
}

impl Record for Contact {
    type Key = String;

    fn key(&self) -> String {
        self.email.clone()
    }

    fn write_key<W: ColumnWriter>(key: &String, out: &mut W) {
        out.column(key);
    }

    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<String, capacitor::error::DecodeError> {
        columns.column()
    }

    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.email);
        out.column(&self.phone);
        out.column(&self.name);
        out.column(&self.age);
    }

    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, capacitor::error::DecodeError> {
        Ok(Contact {
            email: columns.column()?,
            phone: columns.column()?,
            name: columns.column()?,
            age: columns.column()?,
        })
    }

    // What generated code does for `(buf.validate.field).int64 = { gte: 0, lte: 150 }` (by hand here).
    fn check_rules(&self) -> Result<(), Violations> {
        if !(0..=150).contains(&self.age) {
            return Err(Violations::from(vec![Violation {
                field: FieldPath::default(),
                rule: FieldPath::default(),
                rule_id: "int64.gte_lte".into(),
                message: "value must be greater than or equal to 0 and less than or equal to 150"
                    .into(),
                for_key: false,
            }]));
        }
        Ok(())
    }
}

const SQLITE_DDL: &str = r#"CREATE TABLE "contacts" ("email" TEXT NOT NULL PRIMARY KEY,
    "phone" TEXT NOT NULL UNIQUE, "name" TEXT NOT NULL, "age" INTEGER NOT NULL, "_version" INTEGER NOT NULL)"#;
const POSTGRES_DDL: &str = r#"CREATE TABLE "contacts" ("email" TEXT NOT NULL PRIMARY KEY,
    "phone" TEXT NOT NULL UNIQUE, "name" TEXT NOT NULL, "age" BIGINT NOT NULL, "_version" BIGINT NOT NULL)"#;

/// The canary values: distinctive enough that no token, hash or id contains one by chance.
fn canary(n: usize) -> Contact {
    Contact {
        email: format!("ada.zq9canary{n}@lovelace.example"),
        phone: format!("+44-7700-zq9-90{n}"),
        name: format!("Ada Zq9Canary{n} Lovelace"),
        age: 36,
    }
}

fn canaries() -> Vec<String> {
    (0..4)
        .flat_map(|n| {
            let c = canary(n);
            [c.email, c.phone, c.name]
        })
        .chain(["zq9canary".to_owned(), "Zq9Canary".to_owned()])
        .collect()
}

/// Everything a `tracing` subscriber at TRACE is given: span names and fields, event fields, in text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={value} {value:?}", field.name());
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(self.0, " caused by {s} {s:?}");
            source = s.source();
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "\nspan {}:", span.metadata().name());
        span.record(&mut Text(&mut text));
        Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, values: &SpanRecord<'_>) {
        values.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(
            text,
            "\nevent {} {}:",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Text(&mut text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The process-wide capture (a global subscriber, so the spawned tasks of Tokio workers are captured too).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
        capture
    })
}

/// The canaries found in `haystack`.
fn leaks(haystack: &str) -> Vec<String> {
    canaries()
        .into_iter()
        .filter(|c| haystack.contains(c.as_str()))
        .collect()
}

/// What an error shows anywhere: Display, Debug and every source's Display and Debug.
fn error_text(e: &Error) -> String {
    let mut text = format!("{e}\n{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(text, "\n{s}\n{s:?}");
        source = s.source();
    }
    text
}

/// Collected output of one run.
#[derive(Default)]
struct Seen {
    text: String,
    errors: usize,
}

impl Seen {
    fn error(&mut self, e: Error) -> Error {
        self.errors += 1;
        self.text.push('\n');
        self.text.push_str(&error_text(&e));
        e
    }
    fn show(&mut self, value: &impl std::fmt::Debug) {
        let _ = write!(self.text, "\n{value:?}");
    }
}

async fn tier(server: &RedisServer, prefix: &str) -> RedisTier {
    RedisTier::connect(
        &server.url(),
        RedisOptions {
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(100),
            write_timeout: Duration::from_millis(300),
            backoff: Duration::from_millis(50),
            ..RedisOptions::default()
        },
    )
    .await
    .expect("connects to the test server")
}

/// Every path on `store`, with Redis `server` (stopped part-way) and an audit sink; returns what was seen.
async fn drive(store: Store, server: &RedisServer, prefix: &str, corrupt: &str) -> Seen {
    let mut seen = Seen::default();
    let audit = TracingAuditSink::spawn();
    let tokens = TokenKey::new(&SecretKey::from_bytes([42; 32]));
    let build = |store: Store, redis: RedisTier| {
        Repository::<Contact>::builder(store)
            .redis(redis)
            .token_key(tokens.clone())
            .cursor_key(capacitor::CursorKey::from_bytes([7; 64]))
            .audit(Arc::new(audit.clone()))
            .try_build()
            .expect("a token key is configured")
    };
    let repo = build(store.clone(), tier(server, prefix).await);

    // Without a token key, a Redis tier for a PII-keyed entity is refused (no environment key in this test).
    let refused = Repository::<Contact>::builder(store.clone())
        .redis(tier(server, prefix).await)
        .try_build()
        .err()
        .expect("no token key");
    assert!(matches!(refused, Error::Config(_)), "{refused:?}");
    seen.error(refused);

    // CRUD, reads through every tier.
    for n in 0..3 {
        repo.put(canary(n)).await.unwrap();
    }
    let got = repo.get(&canary(0).email).await.unwrap();
    assert_eq!(got.value, canary(0));
    seen.show(&got);
    repo.get(&canary(0).email).await.unwrap();
    let fresh = build(store.clone(), tier(server, prefix).await);
    seen.show(&fresh.get(&canary(1).email).await.unwrap());
    seen.show(
        &repo
            .get_many(&[canary(0).email, canary(1).email, canary(3).email])
            .await
            .unwrap(),
    );
    let mut updated = canary(2);
    updated.age = 37;
    let version = repo.put(updated.clone()).await.unwrap();
    repo.update(updated.clone(), version).await.unwrap();

    // Finders and pages (cursors are shown too).
    let phone = canary(1).phone;
    let found = repo
        .find_unique("contacts_phone_key", &(&phone,))
        .await
        .unwrap()
        .expect("found by phone");
    seen.show(&found);
    let mut after = None;
    loop {
        let page = repo.scan(after.as_ref(), 1).await.unwrap();
        seen.show(&page.items);
        if let Some(next) = &page.next {
            seen.text.push_str(&format!("\n{next} {next:?}"));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let page = repo
        .find_by_index("contacts_phone_key", &(&phone,), None, 5)
        .await
        .unwrap();
    seen.show(&page.items);
    seen.text
        .push_str(&format!("\n{}", repo.cursor(&canary(0).email).unwrap()));

    // Conflicts, unique violations, validation failures, not found.
    let err = seen.error(repo.insert(canary(0)).await.unwrap_err());
    assert!(err.is_conflict(), "{err:?}");
    let err = seen.error(repo.update(canary(0), 999).await.unwrap_err());
    assert!(err.is_conflict(), "{err:?}");
    let mut twin = canary(3);
    twin.phone = canary(0).phone;
    let err = seen.error(repo.put(twin).await.unwrap_err());
    assert!(
        matches!(
            err,
            Error::UniqueViolation {
                entity: "Contact",
                index: "contacts_phone_key"
            }
        ),
        "{err:?}"
    );
    let mut invalid = canary(3);
    invalid.age = -1;
    let err = seen.error(repo.put(invalid).await.unwrap_err());
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    seen.error(repo.get(&canary(3).email).await.unwrap_err());

    // Erasure, with Redis up: every tier purged.
    let report = Actor::new("svc:privacy")
        .scope(repo.erase(&canary(0).email))
        .await
        .unwrap();
    assert_eq!(
        report.held_by,
        vec![
            capacitor::Tier::Memory,
            capacitor::Tier::Redis,
            capacitor::Tier::Store
        ]
    );
    assert!(report.unconfirmed.is_empty(), "{report:?}");
    seen.show(&report);
    assert!(repo.get(&canary(0).email).await.unwrap_err().is_not_found());

    // The Redis key names, while Redis holds the entries.
    let keys = server.cli(&["KEYS", "*"]).unwrap();
    assert!(
        keys.lines().any(|k| k.starts_with(prefix)),
        "entries were cached: {keys}"
    );
    seen.text.push_str(&format!("\nredis keys:\n{keys}"));

    // Redis down: reads and writes go on through the store; the failures are logged.
    server.stop().unwrap();
    seen.show(&fresh.get(&canary(2).email).await.unwrap());
    let mut moved = canary(2);
    moved.age = 40;
    fresh.put(moved).await.unwrap();
    let report = fresh.erase(&canary(2).email).await.unwrap();
    seen.show(&report);
    server.restart().unwrap();

    // A corrupt row: its decode error names the column, not the value.
    let uncached = Repository::<Contact>::builder(store.clone())
        .without_l1()
        .build();
    corrupt_row(&store, corrupt).await;
    let err = seen.error(uncached.get(&canary(1).email).await.unwrap_err());
    assert!(
        matches!(
            err,
            Error::Backend {
                tier: capacitor::Tier::Store,
                ..
            }
        ),
        "{err:?}"
    );

    audit.flush().await;
    seen
}

/// Writes a canary into a column that does not hold its type (SQLite) or an out-of-range value (Postgres).
async fn corrupt_row(store: &Store, how: &str) {
    let email = canary(1).email;
    if let Some(pool) = store.sqlite_pool() {
        // Bound, not spliced: sqlx logs statements' text (at DEBUG), and this one is the test's, not the repository's.
        let _ = how;
        sqlx::query("UPDATE contacts SET age = ?1 WHERE email = ?2")
            .bind(canary(1).name)
            .bind(&email)
            .execute(pool)
            .await
            .unwrap();
    }
    if let Some(pool) = store.postgres_pool() {
        // Postgres types its columns strictly: a canary cannot reach an integer column, so the raw driver error
        // of a statement that quotes one stands in for it (what `Error` must not pass through).
        let raw =
            sqlx::query("UPDATE contacts SET age = CAST($1 AS TEXT)::BIGINT WHERE email = $2")
                .bind(canary(1).name)
                .bind(&email)
                .execute(pool)
                .await
                .unwrap_err();
        assert!(
            format!("{raw:?}").contains("Zq9Canary1"),
            "the raw driver error quotes the value: {raw:?}"
        );
        let mapped = Error::from_store_driver(<Contact as capacitor::Entity>::SCHEMA, raw);
        assert!(leaks(&error_text(&mapped)).is_empty(), "{mapped:?}");
        // The column now holds the name's bytes, which the entity cannot read as text.
        sqlx::query(how).execute(pool).await.unwrap();
    }
}

fn assert_clean(what: &str, seen: &Seen) {
    let logged = capture().0.lock().unwrap().clone();
    assert!(
        logged.contains("capacitor::audit") && logged.contains("\"operation\":\"erase\""),
        "the audit trail was captured"
    );
    assert!(
        logged.contains("tier failed"),
        "the Redis outage was logged"
    );
    assert!(seen.errors >= 7, "{what}: errors were collected");
    for (source, text) in [("tracing", &logged), ("errors, values, keys", &seen.text)] {
        let found = leaks(text);
        assert!(
            found.is_empty(),
            "{what}: canaries {found:?} leaked into {source}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_leaves_the_process_sqlite_and_postgres() {
    capture();

    // SQLite, with its own Redis (it is stopped part-way).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("canary.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(SQLITE_DDL)
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let seen = drive(store, &redis, "canary-sqlite", "").await;
    assert_clean("sqlite", &seen);

    // Postgres.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "canary_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let url = PostgresServer::shared().create_database(&name).unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::query(POSTGRES_DDL)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let seen = drive(
        store,
        &redis,
        "canary-postgres",
        r#"ALTER TABLE contacts ALTER COLUMN "name" TYPE BYTEA USING convert_to("name", 'UTF8')"#,
    )
    .await;
    assert_clean("postgres", &seen);
}

#[test]
fn the_canary_check_catches_a_leak() {
    // Its own capture, on this thread only: the leak must not reach the global one the other test checks.
    let local = Capture::default();
    let leaked = canary(3).email;
    tracing::subscriber::with_default(local.clone(), || {
        tracing::trace!(target: "canary::selftest", email = %leaked, "a careless log line");
    });
    let logged = local.0.lock().unwrap().clone();
    assert_eq!(leaks(&logged), vec![leaked.clone(), "zq9canary".to_owned()]);
    let mut seen = Seen::default();
    seen.error(Error::Config(format!("bad value {leaked}")));
    assert!(!leaks(&seen.text).is_empty());
}

#[test]
fn validation_messages_omit_values_of_every_pii_kind() {
    use capacitor::Validate;

    #[derive(capacitor::Validate)]
    struct EveryKind {
        #[capacitor(validate(email, max_len = 10))]
        email: String,
        #[capacitor(validate(max_len = 5))]
        name: String,
        #[capacitor(validate(pattern = "^[0-9]+$"))]
        phone: String,
        #[capacitor(validate(max_len = 5))]
        postal_address: String,
        #[capacitor(validate(pattern = "^[0-9]{9}$"))]
        national_id: String,
        #[capacitor(validate(prefix = "19"))]
        date_of_birth: String,
        #[capacitor(validate(ipv4))]
        ip_address: String,
        #[capacitor(validate(in = ["here"]))]
        geolocation: String,
        #[capacitor(validate(pattern = "^[0-9]{16}$"))]
        payment_card: String,
        #[capacitor(validate(max_len = 3))]
        free_text: String,
        #[capacitor(validate(max_len = 3))]
        other: String,
    }

    let value = EveryKind {
        email: "not an email zq9canary@".into(),
        name: "Ada Zq9Canary Lovelace".into(),
        phone: "+44 zq9canary".into(),
        postal_address: "12 Zq9Canary Street, London".into(),
        national_id: "AB zq9canary C".into(),
        date_of_birth: "2001-zq9canary".into(),
        ip_address: "10.zq9canary".into(),
        geolocation: "51.5,zq9canary".into(),
        payment_card: "4111 zq9canary".into(),
        free_text: "Zq9Canary free text".into(),
        other: "zq9canary other".into(),
    };
    let violations = value.validate().unwrap_err();
    assert!(violations.iter().count() >= 11, "{violations}");
    let mut text = format!("{violations}\n{violations:?}");
    text.push_str(&error_text(&Error::Validation(violations)));
    assert!(leaks(&text).is_empty(), "{text}");
}
