//! Generated repositories end to end: `impl Record` and `<Entity>Repo` emitted by capgen for
//! `proto/repo/v1/repo.proto`, on the memory store, SQLite and PostgreSQL 15 (started by the testkit), with the
//! tables `capgen migrate sql` renders for each dialect; and the same for an entity written by hand with
//! `#[derive(capacitor::Entity)]` and `#[capacitor(repository)]`.

use capacitor::{Cursor, Error, Record, Store};
use capacitor_codegen::proto::Input;
use capacitor_codegen::sql::{Dialect, render, table};
use capacitor_tests::repo::v1::{
    Address, Contact, Member, MemberRepo, Post, PostRepo, Profile, ProfileRepo, Role,
};
use std::path::PathBuf;

/// The CREATE scripts of the test schema's entities in `dialect`, as capgen renders them.
fn create_script(dialect: Dialect) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto");
    let input = Input::Files {
        files: vec![root.join("repo/v1/repo.proto")],
        includes: vec![root],
    };
    let (_, schema) = capacitor_codegen::generate::load_schema(&input).expect("schema loads");
    schema
        .entities()
        .map(|(message, entity)| {
            let name = entity.table_name(message);
            let indexes = message.resolved_indexes(entity);
            render::create_table(&table(message, &name, &indexes, dialect), dialect)
        })
        .collect()
}

async fn create_tables(store: &Store, dialect: Dialect) {
    for script in create_script(dialect) {
        // One statement per `;` (the renderer ends each with one and a newline).
        for statement in script.split(";\n").filter(|s| !s.trim().is_empty()) {
            match dialect {
                Dialect::Sqlite => {
                    sqlx::query(statement)
                        .execute(store.sqlite_pool().expect("sqlite store"))
                        .await
                        .unwrap_or_else(|e| panic!("{statement}: {e}"));
                }
                Dialect::Postgres => {
                    sqlx::query(statement)
                        .execute(store.postgres_pool().expect("postgres store"))
                        .await
                        .unwrap_or_else(|e| panic!("{statement}: {e}"));
                }
            }
        }
    }
}

fn member(id: &str, team: &str) -> Member {
    Member {
        id: id.to_owned(),
        email: format!("{id}@example.com"),
        team: team.to_owned(),
        role: Role::Admin as i32,
        karma: u64::MAX - 7,
        score: -0.5,
        active: true,
        avatar: vec![0, 1, 2, 255],
        level: Some(-3),
        joined_at: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        }),
        streak: Some(pbjson_types::Duration {
            seconds: -2,
            nanos: -5,
        }),
        nickname: Some(pbjson_types::StringValue {
            value: "Ada".into(),
        }),
        quota: Some(pbjson_types::UInt64Value { value: 1 << 63 }),
        badge: Some(pbjson_types::BytesValue {
            value: vec![9, 8].into(),
        }),
        scratch: String::new(),
    }
}

/// CRUD, the unique lookup, paginated secondary lookups and a composite key, on one store.
async fn exercise(store: Store) {
    let members = MemberRepo::new(store.clone());

    // Insert and read back every column kind exactly.
    let ada = member("m1", "blue");
    let v1 = members.insert(ada.clone()).await.unwrap();
    let got = members.get(&"m1".to_owned()).await.unwrap();
    assert_eq!(got.value, ada);
    assert_eq!(got.version, v1);
    // Unset optional columns read back unset.
    let bare = Member {
        id: "m0".into(),
        email: "m0@example.com".into(),
        ..Default::default()
    };
    members.put(bare.clone()).await.unwrap();
    assert_eq!(members.get(&"m0".to_owned()).await.unwrap().value, bare);

    // Insert of a present key conflicts; update checks the version.
    assert!(matches!(
        members.insert(ada.clone()).await,
        Err(Error::Conflict { .. })
    ));
    let mut renamed = ada.clone();
    renamed.nickname = None;
    let v2 = members.update(renamed.clone(), v1).await.unwrap();
    assert!(v2 > v1);
    assert!(matches!(
        members.update(renamed.clone(), v1).await,
        Err(Error::Conflict { .. })
    ));

    // The entity's rules run before any write.
    let mut invalid = member("m2", "blue");
    invalid.email = "not an email".into();
    assert!(matches!(
        members.put(invalid).await,
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        members.get(&"m2".to_owned()).await,
        Err(Error::NotFound { .. })
    ));

    // find_by_email (unique): sees the latest version.
    let found = members
        .find_by_email(&"m1@example.com".to_owned())
        .await
        .unwrap()
        .expect("found by email");
    assert_eq!(found.value, renamed);
    assert_eq!(found.version, v2);
    assert!(
        members
            .find_by_email(&"nobody@example.com".to_owned())
            .await
            .unwrap()
            .is_none()
    );

    // find_by_team (secondary): keyset pages in key order.
    let team: Vec<Member> = (0..5).map(|i| member(&format!("t{i}"), "green")).collect();
    members.put_many(team.clone()).await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = members
            .find_by_team(&"green".to_owned(), after.as_ref(), 2)
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|v| v.value.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Cursors are typed tokens: stable, they read back to their key, and survive Display/FromStr.
    let token = Cursor::of::<Member>(&"t1".to_owned());
    assert_eq!(token, Cursor::of::<Member>(&"t1".to_owned()), "stable");
    assert_eq!(format!("{token:?}"), "Cursor(<redacted>)");
    let parsed: Cursor = token.to_string().parse().unwrap();
    assert_eq!(parsed.key::<Member>().unwrap(), "t1");
    let resumed = members
        .find_by_team(&"green".to_owned(), Some(&parsed), 10)
        .await
        .unwrap();
    let ids: Vec<String> = resumed.items.into_iter().map(|v| v.value.id).collect();
    assert_eq!(ids, ["t2", "t3", "t4"]);
    // Another entity's token, a truncated one and junk are refused with the typed error.
    let post_token = Cursor::of::<Post>(&("t1".to_owned(), 1));
    let truncated: Cursor = token.as_str()[..token.as_str().len() - 2].parse().unwrap();
    let junk: Cursor = "AAAA".parse().unwrap();
    for bad in [&post_token, &truncated, &junk] {
        let err = members
            .find_by_team(&"green".to_owned(), Some(bad), 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidCursor { entity, .. } if entity == <Member as capacitor::Entity>::SCHEMA.message),
            "{err}"
        );
        assert!(!err.to_string().contains("t1") && !format!("{err:?}").contains("t1"));
    }
    for limit in [0, 10_001] {
        let err = members
            .find_by_team(&"green".to_owned(), None, limit)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidLimit { .. }), "{err}");
    }
    assert_eq!(seen, ["t0", "t1", "t2", "t3", "t4"]);
    let empty = members
        .find_by_team(&"none".to_owned(), None, 10)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next.is_none());

    // An optional index field: `Some` matches its rows, `None` (NULL) matches none, on every store.
    let leveled = members.find_by_level(&Some(-3), None, 100).await.unwrap();
    assert_eq!(leveled.items.len(), 6, "m1 and t0..t4");
    let unleveled = members.find_by_level(&None, None, 100).await.unwrap();
    assert!(
        unleveled.items.is_empty(),
        "m0 has no level, yet NULL equals nothing"
    );

    // A Timestamp index (two columns on Postgres): lookups keep the nanoseconds.
    let at = capacitor::sql::Timestamp {
        seconds: 1_700_000_000,
        nanos: 123_456_789,
    };
    let same_instant = members.find_by_joined_at(&at, None, 100).await.unwrap();
    assert_eq!(same_instant.items.len(), 6);
    let next_nano = capacitor::sql::Timestamp {
        nanos: 123_456_790,
        ..at
    };
    let none = members
        .find_by_joined_at(&next_nano, None, 100)
        .await
        .unwrap();
    assert!(none.items.is_empty());

    // get_many and delete.
    let many = members
        .get_many(&["t1".to_owned(), "missing".to_owned(), "t3".to_owned()])
        .await
        .unwrap();
    assert_eq!(many[0].as_ref().unwrap().value, team[1]);
    assert!(many[1].is_none());
    assert_eq!(many[2].as_ref().unwrap().value, team[3]);
    assert!(members.delete(&"t1".to_owned()).await.unwrap());
    assert!(!members.delete(&"t1".to_owned()).await.unwrap());
    assert!(
        members
            .find_by_email(&"t1@example.com".to_owned())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        members
            .delete_many(&["t2".to_owned(), "t3".to_owned(), "gone".to_owned()])
            .await
            .unwrap(),
        2
    );
    assert!(members.stats().writes > 0);

    // A composite key and a composite secondary index.
    let posts = PostRepo::new(store);
    let post = |seq: i64, author: &str, role: Role| Post {
        team: "blue".into(),
        seq,
        author: author.into(),
        role: role as i32,
        body: format!("post {seq}"),
    };
    for seq in 0..4 {
        posts.put(post(seq, "ada", Role::Admin)).await.unwrap();
    }
    posts.put(post(4, "ada", Role::Member)).await.unwrap();
    posts.put(post(5, "bob", Role::Admin)).await.unwrap();
    let key = ("blue".to_owned(), 2);
    assert_eq!(posts.get(&key).await.unwrap().value.key(), key);
    let first = posts
        .find_by_author_and_role(&"ada".to_owned(), &(Role::Admin as i32), None, 3)
        .await
        .unwrap();
    let seqs: Vec<i64> = first.items.iter().map(|p| p.value.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    let rest = posts
        .find_by_author_and_role(
            &"ada".to_owned(),
            &(Role::Admin as i32),
            first.next.as_ref(),
            3,
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = rest.items.iter().map(|p| p.value.seq).collect();
    assert_eq!(seqs, [3]);
    assert!(rest.next.is_none());
    let token = Cursor::of::<Post>(&("blue".to_owned(), -7));
    assert_eq!(token.key::<Post>().unwrap(), ("blue".to_owned(), -7));
    let err = token.key::<Member>().unwrap_err();
    assert!(matches!(err, Error::InvalidCursor { .. }), "{err}");
    let scanned = posts.scan(None, 10).await.unwrap();
    assert_eq!(scanned.items.len(), 6);

    // Collections round-trip exactly: arrays (Postgres) or JSON (SQLite), and proto3 JSON for messages and maps.
    let profiles = ProfileRepo::new(posts.store().clone());
    let address = |city: &str| Address {
        city: city.into(),
        lines: vec!["1 Main St".into(), String::new()],
        zip: -12,
    };
    let full = Profile {
        id: "p1".into(),
        tags: vec!["a".into(), "b,c".into(), String::new()],
        roles: vec![Role::Admin as i32, 99],
        big: vec![u64::MAX, 0],
        ratios: vec![f64::NAN, -0.0, 1e300],
        blobs: vec![vec![], vec![0, 255]],
        home: Some(address("Paris")),
        others: vec![address("Oslo"), Address::default()],
        counters: [("x".to_owned(), i64::MIN), ("y".to_owned(), 3)].into(),
        by_floor: [(-1, address("Basement"))].into(),
        seen: vec![
            pbjson_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
            },
            pbjson_types::Timestamp {
                seconds: -62_135_596_800,
                nanos: 0,
            },
        ],
    };
    profiles.put(full.clone()).await.unwrap();
    let got = profiles.get(&"p1".to_owned()).await.unwrap().value;
    // NaN != NaN: compare the doubles by bits, the rest by value.
    let bits = |v: &[f64]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got.ratios), bits(&full.ratios));
    assert_eq!(
        Profile {
            ratios: Vec::new(),
            ..got
        },
        Profile {
            ratios: Vec::new(),
            ..full
        }
    );
    let empty = Profile {
        id: "p2".into(),
        ..Default::default()
    };
    profiles.put(empty.clone()).await.unwrap();
    assert_eq!(profiles.get(&"p2".to_owned()).await.unwrap().value, empty);
}

/// A hand-written entity: `#[capacitor(repository)]` makes the derive emit `impl Record` and `NoteRepo` with
/// the same emitter as the proto path; with `Validate` derived too, writes check its rules first.
#[derive(
    Clone,
    PartialEq,
    prost::Message,
    capacitor::Entity,
    capacitor::RedactedDebug,
    capacitor::Validate,
)]
#[prost(skip_debug)]
#[capacitor(package = "repo.v1", table = "notes", repository)]
pub struct Note {
    #[prost(uint64, tag = "1")]
    #[capacitor(primary_key, validate(gt = 0))]
    pub id: u64,
    #[prost(string, tag = "2")]
    #[capacitor(index, validate(min_len = 1, max_len = 32))]
    pub author: String,
    #[prost(message, optional, tag = "3")]
    pub at: Option<pbjson_types::Timestamp>,
    #[prost(string, optional, tag = "4")]
    #[capacitor(pii = "free_text")]
    pub text: Option<String>,
}

async fn exercise_derived(store: Store) {
    let notes = NoteRepo::new(store);
    let note = |id: u64, author: &str| Note {
        id,
        author: author.into(),
        at: Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000 + id as i64,
            nanos: 999_999_999,
        }),
        text: id.is_multiple_of(2).then(|| format!("note {id}")),
    };
    notes
        .put_many((1..=5).map(|id| note(id, "ada")).collect())
        .await
        .unwrap();
    notes.put(note(u64::MAX, "bob")).await.unwrap();
    assert_eq!(notes.get(&3).await.unwrap().value, note(3, "ada"));
    assert_eq!(
        notes.get(&u64::MAX).await.unwrap().value,
        note(u64::MAX, "bob")
    );
    let first = notes
        .find_by_author(&"ada".to_owned(), None, 4)
        .await
        .unwrap();
    let ids: Vec<u64> = first.items.iter().map(|n| n.value.id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    let rest = notes
        .find_by_author(&"ada".to_owned(), first.next.as_ref(), 4)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].value, note(5, "ada"));
    assert!(rest.next.is_none());

    // `Validate` is derived next to `Entity`: its rules run before any tier is touched.
    let nameless = note(6, "");
    let err = notes.put(nameless.clone()).await.unwrap_err();
    let Error::Validation(violations) = err else {
        panic!("an empty author is refused by its rules, not {err}");
    };
    let ids: Vec<&str> = violations.iter().map(|v| &*v.rule_id).collect();
    assert_eq!(ids, ["string.min_len"]);
    assert!(matches!(
        notes.insert(nameless).await,
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        notes.put(note(0, "ada")).await,
        Err(Error::Validation(_))
    ));
    let mut renamed = notes.get(&3).await.unwrap();
    let version = renamed.version;
    renamed.value.author = "x".repeat(33);
    assert!(matches!(
        notes.update(renamed.value, version).await,
        Err(Error::Validation(_))
    ));
    assert!(matches!(notes.get(&6).await, Err(Error::NotFound { .. })));
    assert!(matches!(notes.get(&0).await, Err(Error::NotFound { .. })));
    assert_eq!(notes.get(&3).await.unwrap().value, note(3, "ada"));
}

/// Fields named after Rust keywords (`order`, `type`) make finders with raw parameters.
#[tokio::test]
async fn keyword_fields_get_finders() {
    use capacitor_tests::e2e::v1::{Order, OrderRepo};
    let orders = OrderRepo::new(Store::memory());
    let order = Order {
        order: "o1".into(),
        r#type: "gift".into(),
        email: "o1@example.com".into(),
        ..Default::default()
    };
    orders.put(order.clone()).await.unwrap();
    let page = orders
        .find_by_type(&"gift".to_owned(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.items[0].value, order);
    let found = orders
        .find_by_email(&"o1@example.com".to_owned())
        .await
        .unwrap();
    assert_eq!(found.unwrap().value, order);
}

#[tokio::test]
async fn generated_repos_on_memory() {
    exercise(Store::memory()).await;
    exercise_derived(Store::memory()).await;
}

#[tokio::test]
async fn generated_repos_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("repo.db").display());
    let store = Store::open(&url).await.unwrap();
    create_tables(&store, Dialect::Sqlite).await;
    for statement in Note::CREATE_TABLE_SQLITE
        .split(";\n")
        .filter(|s| !s.trim().is_empty())
    {
        sqlx::query(statement)
            .execute(store.sqlite_pool().unwrap())
            .await
            .unwrap();
    }
    exercise(store.clone()).await;
    exercise_derived(store).await;
}

#[tokio::test]
async fn generated_repos_on_postgres() {
    let server = capacitor_testkit::postgres::PostgresServer::shared();
    let url = server
        .create_database("generated_repo")
        .expect("creates the test database");
    let store = Store::open(&url).await.unwrap();
    create_tables(&store, Dialect::Postgres).await;
    for statement in Note::CREATE_TABLE_POSTGRES
        .split(";\n")
        .filter(|s| !s.trim().is_empty())
    {
        sqlx::query(statement)
            .execute(store.postgres_pool().unwrap())
            .await
            .unwrap();
    }
    exercise(store.clone()).await;
    exercise_derived(store).await;
}

#[test]
fn repository_of_an_unsupported_entity_says_why() {
    // A oneof is one JSON value, which the emitter does not map yet.
    let reason = Contact::NO_REPOSITORY_REASON;
    assert!(reason.contains("`phone` is a oneof member"), "{reason}");
}
