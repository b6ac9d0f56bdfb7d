//! The audit trail through a repository, with a real `tracing` subscriber: every access of a repository whose
//! sink is a `TracingAuditSink` is accounted for exactly (coalesced lines' counts add up to the accesses, by
//! key, actor, operation and outcome), with a time bound; a PII key is written as its token, never as itself;
//! a sink that is not a `TracingAuditSink` still gets one full `AuditEvent` per access.

use capacitor::error::DecodeError;
use capacitor::pii::{
    Actor, AuditEvent, AuditKey, AuditOutcome, AuditSink, Operation, SecretKey, TokenKey,
    TracingAuditSink,
};
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::{Repository, Store};
use capacitor_testkit::log_lines::MessageLines;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[path = "../benches/support/audit_user.rs"]
mod audit_user;
use audit_user::User;

/// An entity keyed by an email: its key is PII.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity)]
#[capacitor(
    package = "audit.v1",
    table = "contacts",
    consistency = "eventual",
    cache(ttl = "60s", max_entries = 100)
)]
struct Contact {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key, pii = "email")]
    email: String,
    #[prost(int64, tag = "2")]
    age: i64,
}

impl Record for Contact {
    type Key = String;
    fn key(&self) -> String {
        self.email.clone()
    }
    fn write_key<W: ColumnWriter>(key: &String, out: &mut W) {
        out.column(key);
    }
    fn read_key<R: ColumnReader>(columns: &mut R) -> Result<String, DecodeError> {
        columns.column()
    }
    fn write_row<W: ColumnWriter>(&self, out: &mut W) {
        out.column(&self.email);
        out.column(&self.age);
    }
    fn read_row<R: ColumnReader>(columns: &mut R) -> Result<Self, DecodeError> {
        Ok(Contact {
            email: columns.column()?,
            age: columns.column()?,
        })
    }
}

/// The parsed lines seen so far whose actor starts with `prefix` (each test uses its own actors).
fn lines_of(prefix: &str) -> Vec<serde_json::Value> {
    // The process-wide subscriber, so the sink's task, on any worker thread, is captured.
    static LINES: OnceLock<MessageLines> = OnceLock::new();
    let lines = LINES.get_or_init(|| {
        let lines = MessageLines::new(capacitor::pii::audit::AUDIT_TARGET);
        tracing::subscriber::set_global_default(lines.clone()).expect("the only subscriber");
        lines
    });
    lines
        .lines()
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| {
            line["actor"]
                .as_str()
                .is_some_and(|a| a.starts_with(prefix))
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

type Group = (String, String, String, String);

/// The sum of `count` by (key, actor, operation, outcome), checking each line's time bound against the test's
/// own clock readings.
fn counts(lines: &[serde_json::Value], before: u64, after: u64) -> HashMap<Group, u64> {
    let mut counts = HashMap::new();
    for line in lines {
        let (at, until) = (
            line["at_ms"].as_u64().unwrap(),
            line["until_ms"].as_u64().unwrap(),
        );
        assert!(at <= until && until <= after, "{line}");
        // The coarse clock lags the true time by about the writer's tick.
        assert!(at + 1_000 >= before, "{line}");
        let key = match (&line["key"], &line["key_token"]) {
            (serde_json::Value::String(key), serde_json::Value::Null) => key.clone(),
            (serde_json::Value::Null, serde_json::Value::String(token)) => format!("token:{token}"),
            _ => panic!("a key or a token: {line}"),
        };
        let group = (
            key,
            line["actor"].as_str().unwrap().to_owned(),
            line["operation"].as_str().unwrap().to_owned(),
            line["outcome"].as_str().unwrap().to_owned(),
        );
        *counts.entry(group).or_default() += line["count"].as_u64().unwrap();
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_access_is_counted_exactly_with_its_actor_and_a_time_bound() {
    lines_of("");
    let sink = TracingAuditSink::spawn();
    let repo: Repository<User> = Repository::builder(Store::memory())
        .audit(Arc::new(sink.clone()))
        .build();
    assert!(repo.has_l1());
    let before = now_ms();
    Actor::new("count:writer")
        .scope(async {
            for id in 0..10 {
                let email = format!("user{id}@example.com");
                repo.put(User { id, email }).await.unwrap();
            }
        })
        .await;
    let mut tasks = Vec::new();
    for t in 0..6 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(Actor::new(format!("count:{}", t % 3)).scope(
            async move {
                for n in 0..2_000i64 {
                    repo.get(&(n % 10)).await.unwrap();
                    if n % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                assert!(repo.get(&404).await.is_err());
                let many = repo.get_many(&[1, 405]).await.unwrap();
                assert!(many[0].is_some() && many[1].is_none());
            },
        )));
    }
    for task in tasks {
        task.await.unwrap();
    }
    sink.flush().await;
    let after = now_ms();
    let lines = lines_of("count:");
    let seen = counts(&lines, before, after);
    let mut expected: HashMap<Group, u64> = HashMap::new();
    let mut expect = |key: String, actor: &str, operation: &str, outcome: &str, count: u64| {
        *expected
            .entry((key, actor.into(), operation.into(), outcome.into()))
            .or_default() += count;
    };
    for id in 0..10 {
        expect(format!("i{id};"), "count:writer", "write", "success", 1);
    }
    for t in 0..6 {
        let actor = format!("count:{}", t % 3);
        for id in 0..10 {
            expect(format!("i{id};"), &actor, "read", "success", 200);
        }
        expect("i404;".into(), &actor, "read", "not_found", 1);
        expect("i1;".into(), &actor, "read", "success", 1);
        expect("i405;".into(), &actor, "read", "not_found", 1);
    }
    assert_eq!(seen, expected);
    // Repeated reads of a key by an actor within a drain are one line.
    assert!(lines.len() < 6 * 2_003, "{} lines", lines.len());
    for line in &lines {
        assert_eq!(line["entity"], "audit.v1.User");
        assert_eq!(line["fields"], serde_json::json!(["email"]));
    }
    assert_eq!(sink.dropped(), 0);
}

#[tokio::test]
async fn a_pii_key_is_written_as_its_token_never_itself() {
    lines_of("");
    let sink = TracingAuditSink::spawn();
    let tokens = TokenKey::new(&SecretKey::from_bytes([9; 32]));
    let repo: Repository<Contact> = Repository::builder(Store::memory())
        .token_key(tokens.clone())
        .audit(Arc::new(sink.clone()))
        .try_build()
        .unwrap();
    let email = "zq9canary.audit@lovelace.example".to_owned();
    let before = now_ms();
    Actor::new("token:support")
        .scope(async {
            repo.put(Contact {
                email: email.clone(),
                age: 36,
            })
            .await
            .unwrap();
            for _ in 0..3 {
                repo.get(&email).await.unwrap();
            }
            repo.erase(&email).await.unwrap();
        })
        .await;
    drop(repo);
    sink.flush().await;
    let after = now_ms();
    let lines = lines_of("token:");
    let token = format!(
        "token:{}",
        tokens.token(
            "audit.v1.Contact",
            format!("s{}:{email};", email.len()).as_bytes()
        )
    );
    let seen = counts(&lines, before, after);
    let count = |operation: &str| {
        seen.get(&(
            token.clone(),
            "token:support".into(),
            operation.into(),
            "success".into(),
        ))
        .copied()
    };
    assert_eq!(
        (count("write"), count("read"), count("erase")),
        (Some(1), Some(3), Some(1)),
        "{seen:?}"
    );
    assert_eq!(seen.values().sum::<u64>(), 5, "{seen:?}");
    for line in &lines {
        assert!(!line.to_string().contains("zq9canary"), "{line}");
    }
}

/// A sink that keeps every event.
#[derive(Default)]
struct Kept(Mutex<Vec<AuditEvent>>);

impl AuditSink for Kept {
    fn record(&self, event: AuditEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn another_sink_gets_one_full_event_per_access() {
    let kept = Arc::new(Kept::default());
    let repo: Repository<User> = Repository::builder(Store::memory())
        .audit(kept.clone())
        .build();
    let before = SystemTime::now();
    Actor::new("svc:events")
        .scope(async {
            repo.put(User {
                id: 7,
                email: "seven@example.com".into(),
            })
            .await
            .unwrap();
            repo.get(&7).await.unwrap();
            repo.get(&7).await.unwrap();
        })
        .await;
    let events = std::mem::take(&mut *kept.0.lock().unwrap());
    let operations: Vec<_> = events.iter().map(|e| e.operation).collect();
    assert_eq!(
        operations,
        [Operation::Write, Operation::Read, Operation::Read]
    );
    for event in &events {
        assert_eq!(event.entity, "audit.v1.User");
        assert_eq!(event.key, AuditKey::Clear("i7;".into()));
        assert_eq!(&*event.fields, &["email"]);
        assert_eq!(event.actor.as_ref().map(Actor::id), Some("svc:events"));
        assert_eq!(event.outcome, AuditOutcome::Success);
        assert!(event.at >= before && event.at <= SystemTime::now());
    }
}
