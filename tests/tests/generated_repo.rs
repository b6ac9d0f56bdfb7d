//! Generated repositories end to end: `impl Record` and `<Entity>Repo` emitted by capgen for
//! `proto/repo/v1/repo.proto`, on the memory store, SQLite and PostgreSQL 15 (started by the testkit), with the
//! tables `capgen migrate sql` renders for each dialect; and the same for an entity written by hand with
//! `#[derive(capacitor::Entity)]` and `#[capacitor(repository)]`.

use capacitor::{Cursor, Error, Record, Store};
use capacitor_codegen::ddl::{Dialect, render, table};
use capacitor_codegen::proto::Input;
use capacitor_tests::repo::v1::{
    Address, Blob, BlobRepo, Contact, ContactRepo, Member, MemberRepo, Post, PostRepo, Profile,
    ProfileRepo, Role, contact,
};
use prost::bytes::Bytes;
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
    let at = capacitor::codec::Timestamp {
        seconds: 1_700_000_000,
        nanos: 123_456_789,
    };
    let same_instant = members.find_by_joined_at(&at, None, 100).await.unwrap();
    assert_eq!(same_instant.items.len(), 6);
    let next_nano = capacitor::codec::Timestamp {
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

fn contact_with(id: &str, via: Option<contact::Via>) -> Contact {
    Contact {
        id: id.to_owned(),
        via,
        owner: "ada".into(),
        tag: Some(contact::Tag::Level(7)),
        avatar: Bytes::from_static(&[0, 1, 255]),
        thumbnails: vec![Bytes::new(), Bytes::from_static(&[9, 0])],
        draft: String::new(),
    }
}

/// One contact per oneof member kind (a Timestamp, strings, an int64, an enum, a message), zero values set
/// explicitly (still a set member), and the unset oneof (`c0`).
fn contacts() -> Vec<Contact> {
    use contact::Via;
    let postal = Address {
        city: "Paris".into(),
        lines: vec!["1 Main St".into()],
        zip: -12,
    };
    let vias = [
        None,
        Some(Via::Since(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        })),
        Some(Via::Phone("+33 1 23 45".into())),
        Some(Via::Phone(String::new())),
        Some(Via::PagerNumber(i64::MIN)),
        Some(Via::RoleHint(Role::Admin as i32)),
        Some(Via::RoleHint(0)),
        Some(Via::Postal(postal)),
        Some(Via::Postal(Address::default())),
    ];
    let mut all: Vec<Contact> = vias
        .into_iter()
        .enumerate()
        .map(|(i, via)| contact_with(&format!("c{i}"), via))
        .collect();
    all[2].tag = Some(contact::Tag::Label("home".into()));
    all[3].tag = None;
    all[4].avatar = Bytes::new();
    all[4].thumbnails.clear();
    all
}

/// Entities with oneofs: CRUD, get_many, scan and a finder, every member kind and the unset oneof, read back from
/// L1 and from the store (a repository without L1); `Bytes` fields (prost's bytes option) and a `Bytes` key.
async fn exercise_oneofs(store: Store) {
    use contact::Via;
    let cached = ContactRepo::new(store.clone());
    let uncached = ContactRepo::from(ContactRepo::builder(store.clone()).without_l1().build());
    let all = contacts();
    let mut versions = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let version = match i % 2 {
            0 => cached.insert(c.clone()).await.unwrap(),
            _ => cached.put(c.clone()).await.unwrap(),
        };
        versions.push(version);
    }
    for (c, version) in all.iter().zip(&versions) {
        for repo in [&cached, &uncached] {
            let got = repo.get(&c.id).await.unwrap();
            assert_eq!(&got.value, c);
            assert_eq!(got.version, *version);
        }
    }
    let mut keys: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    keys.insert(3, "missing".into());
    for repo in [&cached, &uncached] {
        let many = repo.get_many(&keys).await.unwrap();
        let found: Vec<Option<Contact>> = many.into_iter().map(|v| v.map(|v| v.value)).collect();
        let mut expected: Vec<Option<Contact>> = all.iter().cloned().map(Some).collect();
        expected.insert(3, None);
        assert_eq!(found, expected);
    }
    // Scan and the secondary finder page through the store in key order.
    let mut scanned = Vec::new();
    let mut after = None;
    loop {
        let page = cached.scan(after.as_ref(), 4).await.unwrap();
        scanned.extend(page.items.into_iter().map(|v| v.value));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(scanned, all);
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = cached
            .find_by_owner(&"ada".to_owned(), after.as_ref(), 3)
            .await
            .unwrap();
        found.extend(page.items.into_iter().map(|v| v.value));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(found, all);

    // Update from one member to another, and to unset; a stale version conflicts.
    let mut changed = all[2].clone();
    changed.via = Some(Via::PagerNumber(42));
    changed.tag = None;
    let v2 = cached.update(changed.clone(), versions[2]).await.unwrap();
    assert!(matches!(
        cached.update(changed.clone(), versions[2]).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(uncached.get(&changed.id).await.unwrap().value, changed);
    changed.via = None;
    cached.update(changed.clone(), v2).await.unwrap();
    for repo in [&cached, &uncached] {
        assert_eq!(repo.get(&changed.id).await.unwrap().value, changed);
    }

    // What the store does not keep (an ignored field, an ignored oneof member) is cleared before every tier:
    // an L1 hit and a store read return the same value.
    let mut scratch = contact_with("c9", Some(Via::ScratchPad("not stored".into())));
    scratch.draft = "not stored either".into();
    cached.put(scratch.clone()).await.unwrap();
    let scratch_copy = scratch.clone();
    let stored = Contact {
        via: None,
        draft: String::new(),
        ..scratch
    };
    assert_eq!(cached.get(&stored.id).await.unwrap().value, stored);
    assert_eq!(uncached.get(&stored.id).await.unwrap().value, stored);
    // Through the `Store` API too: every store (the memory store included) keeps only the columns.
    let mut direct = scratch_copy.clone();
    direct.id = "c10".into();
    store.put(&direct).await.unwrap();
    let kept = store
        .get::<Contact>(&direct.id)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        kept,
        Contact {
            via: None,
            draft: String::new(),
            ..direct
        }
    );
    assert!(
        store
            .delete::<Contact>(&"c10".to_owned())
            .await
            .unwrap()
            .is_some()
    );

    assert!(cached.delete(&"c1".to_owned()).await.unwrap());
    for repo in [&cached, &uncached] {
        assert!(matches!(
            repo.get(&"c1".to_owned()).await,
            Err(Error::NotFound { .. })
        ));
    }

    // A `Bytes` primary key (still a `Vec<u8>` key) and an optional `Bytes` column, through scan's cursor too.
    let blobs = BlobRepo::new(store);
    let blob = |digest: &'static [u8], body: Option<&'static [u8]>| Blob {
        digest: Bytes::from_static(digest),
        body: body.map(Bytes::from_static),
    };
    let stored_blobs = [
        blob(&[0x00, 0xff], Some(b"hello")),
        blob(&[0x01], None),
        blob(&[0x02, 0x3b], Some(b"")),
    ];
    blobs.put_many(stored_blobs.to_vec()).await.unwrap();
    assert_eq!(
        blobs.get(&vec![0x00, 0xff]).await.unwrap().value,
        stored_blobs[0]
    );
    let first = blobs.scan(None, 2).await.unwrap();
    let rest = blobs.scan(first.next.as_ref(), 2).await.unwrap();
    let paged: Vec<Blob> = first
        .items
        .into_iter()
        .chain(rest.items)
        .map(|v| v.value)
        .collect();
    assert_eq!(paged, stored_blobs);
}

/// The `via` column of contact `id` as JSON text, read with raw SQL (`None` for NULL).
async fn via_column(store: &Store, dialect: Dialect, id: &str) -> Option<String> {
    match dialect {
        Dialect::Sqlite => sqlx::query_scalar(r#"SELECT "via" FROM "contacts" WHERE "id" = ?1"#)
            .bind(id)
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap(),
        Dialect::Postgres => {
            sqlx::query_scalar(r#"SELECT "via"::text FROM "contacts" WHERE "id" = $1"#)
                .bind(id)
                .fetch_one(store.postgres_pool().unwrap())
                .await
                .unwrap()
        }
    }
}

/// Sets the `via` column of contact `id` to `json` with raw SQL (JSONB on Postgres, TEXT on SQLite).
async fn set_via_column(store: &Store, dialect: Dialect, id: &str, json: &str) {
    match dialect {
        Dialect::Sqlite => {
            sqlx::query(r#"UPDATE "contacts" SET "via" = ?1 WHERE "id" = ?2"#)
                .bind(json)
                .bind(id)
                .execute(store.sqlite_pool().unwrap())
                .await
                .unwrap();
        }
        Dialect::Postgres => {
            sqlx::query(r#"UPDATE "contacts" SET "via" = $1::jsonb WHERE "id" = $2"#)
                .bind(json)
                .bind(id)
                .execute(store.postgres_pool().unwrap())
                .await
                .unwrap();
        }
    }
}

/// After [`exercise_oneofs`]: the JSON a oneof column holds in each SQL store, as docs/migrations.md promises —
/// `{"<member>": <proto3 JSON>}` keyed by the member's lowerCamelCase JSON name, NULL when unset; and a column
/// the schema cannot read is a store error naming the oneof, never the value.
async fn check_oneof_columns(store: &Store, dialect: Dialect) {
    use serde_json::json;
    let json = async |id| {
        via_column(store, dialect, id)
            .await
            .map(|text| serde_json::from_str::<serde_json::Value>(&text).unwrap())
    };
    assert_eq!(json("c0").await, None);
    assert_eq!(json("c9").await, None, "an ignored member is not stored");
    assert_eq!(
        json("c2").await,
        None,
        "updated to unset (it was a phone, then a pager number)"
    );
    assert_eq!(
        json("c3").await,
        Some(json!({ "phone": "" })),
        "a member set to its zero value is still set"
    );
    assert_eq!(
        json("c4").await,
        Some(json!({ "pagerNumber": "-9223372036854775808" }))
    );
    assert_eq!(json("c5").await, Some(json!({ "roleHint": "ROLE_ADMIN" })));
    assert_eq!(
        json("c6").await,
        Some(json!({ "roleHint": "ROLE_UNSPECIFIED" }))
    );
    assert_eq!(
        json("c7").await,
        Some(json!({ "postal": { "city": "Paris", "lines": ["1 Main St"], "zip": "-12" } }))
    );
    assert_eq!(json("c8").await, Some(json!({ "postal": {} })));

    // Written by hand with the proto field name (what pbjson also reads), the member reads back.
    set_via_column(store, dialect, "c3", r#"{"pager_number": "17"}"#).await;
    let uncached = ContactRepo::from(ContactRepo::builder(store.clone()).without_l1().build());
    assert_eq!(
        uncached.get(&"c3".to_owned()).await.unwrap().value.via,
        Some(contact::Via::PagerNumber(17))
    );
    let bad = [
        r#"{"nickname": "SECRET-1"}"#,
        r#"{"phone": ["SECRET-2"]}"#,
        r#"{"phone": "SECRET-3", "pagerNumber": "1"}"#,
        r#"{"owner": "SECRET-4"}"#,
        r#"["SECRET-5"]"#,
        r#""SECRET-6""#,
        r#"{"roleHint": "SECRET-7"}"#,
        r#"{"since": "SECRET-8"}"#,
    ];
    for json in bad {
        set_via_column(store, dialect, "c3", json).await;
        let err = uncached.get(&"c3".to_owned()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Backend {
                    tier: capacitor::Tier::Store,
                    ..
                }
            ),
            "{json}: {err}"
        );
        let text = format!("{err} {err:?}");
        assert!(text.contains("oneof `via`"), "{json}: {text}");
        assert!(!text.contains("SECRET"), "{json}: {text}");
    }
    set_via_column(store, dialect, "c3", r#"{"phone": ""}"#).await;
}

async fn redis_tier(server: &capacitor_testkit::redis::RedisServer) -> capacitor::redis::RedisTier {
    capacitor::redis::RedisTier::connect(
        &server.url(),
        capacitor::redis::RedisOptions {
            prefix: "generated-repo".into(),
            // Generous: the test asserts Redis hits, so a write-through must not time out on a busy machine.
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
    )
    .await
    .expect("connects to the test Redis")
}

/// `value` read through an L1 hit, a Redis hit and the store (three repositories on one store and one Redis),
/// each checked to come from that tier. `put` went through `repos[0]` (L1 + Redis), so L1 and Redis hold it.
async fn read_from_every_tier<E: Record + std::fmt::Debug>(
    repos: &[capacitor::Repository<E>; 3],
    key: &E::Key,
) -> [E; 3] {
    let mut out = Vec::new();
    for (repo, tier) in repos.iter().zip(["l1", "redis", "store"]) {
        let before = repo.stats();
        let value = repo.get(key).await.unwrap().value;
        let after = repo.stats();
        let hit = match tier {
            "l1" => after.l1_hits - before.l1_hits,
            "redis" => after.redis_hits - before.redis_hits,
            _ => after.store_hits - before.store_hits,
        };
        assert_eq!(hit, 1, "{tier} hit: {after:?}");
        out.push(value);
    }
    out.try_into().unwrap()
}

/// Every tier returns what the store holds: ignored fields and ignored oneof members are cleared before a write
/// reaches any tier, and oneof values read back identically from L1, Redis and Postgres (and through Redis'
/// batch read).
#[tokio::test]
async fn every_tier_returns_what_the_store_holds() {
    let server = capacitor_testkit::postgres::PostgresServer::shared();
    let url = server
        .create_database("generated_repo_tiers")
        .expect("creates the test database");
    let store = Store::open(&url).await.unwrap();
    create_tables(&store, Dialect::Postgres).await;
    let redis = capacitor_testkit::redis::RedisServer::start().unwrap();
    async fn three<E: Record>(
        store: &Store,
        redis: &capacitor_testkit::redis::RedisServer,
    ) -> [capacitor::Repository<E>; 3] {
        [
            capacitor::Repository::builder(store.clone())
                .redis(redis_tier(redis).await)
                .build(),
            capacitor::Repository::builder(store.clone())
                .without_l1()
                .redis(redis_tier(redis).await)
                .build(),
            capacitor::Repository::builder(store.clone())
                .without_l1()
                .build(),
        ]
    }

    let members = three::<Member>(&store, &redis).await;
    assert!(members[0].has_l1(), "Member is eventual: it has an L1");
    let mut written = member("s1", "blue");
    written.scratch = "kept in the DTO only".into();
    members[0].put(written.clone()).await.unwrap();
    let stored = Member {
        scratch: String::new(),
        ..written
    };
    for (value, tier) in read_from_every_tier(&members, &stored.id)
        .await
        .into_iter()
        .zip(["l1", "redis", "store"])
    {
        assert_eq!(value, stored, "{tier}");
    }

    let contacts = three::<Contact>(&store, &redis).await;
    let mut all = self::contacts();
    let mut scratch = contact_with("c9", Some(contact::Via::ScratchPad("not stored".into())));
    scratch.draft = "not stored either".into();
    all.push(scratch);
    contacts[0].put_many(all.clone()).await.unwrap();
    let last = all.len() - 1;
    all[last].via = None;
    all[last].draft = String::new();
    for expected in &all {
        for (value, tier) in read_from_every_tier(&contacts, &expected.id)
            .await
            .into_iter()
            .zip(["l1", "redis", "store"])
        {
            assert_eq!(&value, expected, "{tier}");
        }
    }
    let keys: Vec<String> = all.iter().map(|c| c.id.clone()).collect();
    let before = contacts[1].stats();
    let batch = contacts[1].get_many(&keys).await.unwrap();
    assert_eq!(
        contacts[1].stats().redis_hits - before.redis_hits,
        keys.len() as u64
    );
    let batch: Vec<Contact> = batch.into_iter().map(|v| v.unwrap().value).collect();
    assert_eq!(batch, all);
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
    /// prost's bytes option on a derived struct: a `Bytes` column.
    #[prost(bytes = "bytes", tag = "5")]
    pub attachment: Bytes,
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
        attachment: Bytes::from(id.to_be_bytes().to_vec()),
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
    exercise_oneofs(Store::memory()).await;
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
    exercise_oneofs(store.clone()).await;
    check_oneof_columns(&store, Dialect::Sqlite).await;
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
    exercise_oneofs(store.clone()).await;
    check_oneof_columns(&store, Dialect::Postgres).await;
    exercise_derived(store).await;
}
