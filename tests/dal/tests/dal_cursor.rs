//! Sealed page cursors on the memory store, SQLite files and PostgreSQL: a token hides its key (an email here),
//! is stable, opens only under the key it was sealed with and for its own entity, and pages across two
//! repositories (two "processes") that share a configured key.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use capacitor::cursor::CursorKey;
use capacitor::{Cursor, Error, Repository, Store};
use capacitor_dal_tests::Account;
use capacitor_testkit::postgres::PostgresServer;

/// A mailing-list subscriber keyed by its email: the key itself is PII.
#[derive(Clone, PartialEq, prost::Message, capacitor::Entity, capacitor::RedactedDebug)]
#[prost(skip_debug)]
#[capacitor(package = "cursor.v1", table = "subscribers", repository)]
pub struct Subscriber {
    #[prost(string, tag = "1")]
    #[capacitor(primary_key, pii = "email")]
    pub email: String,
    #[prost(string, tag = "2")]
    #[capacitor(index)]
    pub list: String,
}

const SQLITE_DDL: &str = r#"CREATE TABLE "subscribers" ("email" TEXT NOT NULL PRIMARY KEY,
    "list" TEXT NOT NULL, "_version" INTEGER NOT NULL)"#;
const POSTGRES_DDL: &str = r#"CREATE TABLE "subscribers" ("email" TEXT NOT NULL PRIMARY KEY,
    "list" TEXT NOT NULL, "_version" BIGINT NOT NULL)"#;

const EMAIL: &str = "alice.liddell@example.com";

/// The key every "process" of the service is configured with (as `CAPACITOR_CURSOR_KEY` would hold it).
const SHARED_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                          202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

fn shared_key() -> CursorKey {
    SHARED_KEY.parse().unwrap()
}

fn subscriber(email: &str, list: &str) -> Subscriber {
    Subscriber {
        email: email.to_owned(),
        list: list.to_owned(),
    }
}

fn repo(store: &Store, key: &CursorKey) -> SubscriberRepo {
    SubscriberRepo::builder(store.clone())
        .cursor_key(key.clone())
        .build()
        .into()
}

/// Emails in key order: `s00@…` to `s{n-1}@…`, half on list "a", half on "b".
async fn fill(repo: &SubscriberRepo, n: usize) -> Vec<String> {
    let all: Vec<Subscriber> = (0..n)
        .map(|i| subscriber(&format!("s{i:02}@example.com"), ["a", "b"][i % 2]))
        .collect();
    repo.put_many(all.clone()).await.unwrap();
    all.into_iter().map(|s| s.email).collect()
}

fn is_refused(err: &Error) -> bool {
    let subscriber = <Subscriber as capacitor::Entity>::SCHEMA.message;
    matches!(err, Error::InvalidCursor { entity, .. } if *entity == subscriber)
}

/// The token's raw bytes.
fn raw(token: &Cursor) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(token.as_str()).unwrap()
}

fn token(bytes: &[u8]) -> Cursor {
    URL_SAFE_NO_PAD.encode(bytes).parse().unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_token_hides_its_email_key() {
    let repo = repo(&Store::memory(), &shared_key());
    let cursor = repo.cursor(&EMAIL.to_owned()).unwrap();
    let text = cursor.to_string();
    let hex: String = EMAIL.bytes().map(|b| format!("{b:02x}")).collect();
    let mut shown = vec![
        EMAIL.to_owned(),
        "alice".to_owned(),
        "example".to_owned(),
        hex.clone(),
        hex.to_uppercase(),
    ];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        // The key at each of base64's three alignments, less the characters that depend on its neighbours.
        for pad in 0..3 {
            let encoded = engine.encode([&b"xx"[..pad], EMAIL.as_bytes()].concat());
            shown.push(encoded[4..encoded.len() - 4].to_owned());
        }
    }
    for form in &shown {
        assert!(!text.contains(form.as_str()), "the token shows {form:?}");
    }
    let bytes = raw(&cursor);
    for form in [EMAIL.as_bytes(), b"alice", b"example", hex.as_bytes()] {
        assert!(!contains(&bytes, form), "the token's bytes hold the key");
    }
    assert_eq!(format!("{cursor:?}"), "Cursor(<redacted>)");
    assert_eq!(format!("{:?}", shared_key()), "CursorKey(<redacted>)");
}

#[tokio::test]
async fn tokens_are_stable() {
    let store = Store::memory();
    let key = shared_key();
    let (one, two) = (repo(&store, &key), repo(&store, &key));
    let email = EMAIL.to_owned();
    assert_eq!(one.cursor(&email).unwrap(), one.cursor(&email).unwrap());
    assert_eq!(one.cursor(&email).unwrap(), two.cursor(&email).unwrap());
    assert_eq!(
        one.cursor(&email).unwrap(),
        Cursor::seal::<Subscriber>(&email, &key)
    );
    // A page's `next` is the cursor of its last key, the same on every read of that page.
    let emails = fill(&one, 5).await;
    let page = one.scan(None, 2).await.unwrap();
    assert_eq!(page.next, Some(one.cursor(&emails[1]).unwrap()));
    assert_eq!(page.next, two.scan(None, 2).await.unwrap().next);
    // Another key seals the same email differently.
    let other = CursorKey::generate().unwrap();
    assert_ne!(
        Cursor::seal::<Subscriber>(&email, &other),
        one.cursor(&email).unwrap()
    );
}

/// Every way a token can be wrong, through `scan` and a generated finder alike.
async fn refuses_bad_tokens(store: Store) {
    let key = shared_key();
    let repo = repo(&store, &key);
    fill(&repo, 6).await;
    let good = repo.scan(None, 2).await.unwrap().next.unwrap();
    let bytes = raw(&good);

    let mut bad: Vec<(String, Cursor)> = Vec::new();
    let stranger = CursorKey::generate().unwrap();
    bad.push((
        "another key".into(),
        Cursor::seal::<Subscriber>(&EMAIL.to_owned(), &stranger),
    ));
    bad.push((
        "another entity with the same key type".into(),
        Cursor::seal::<Account>(&"s01@example.com".to_owned(), &key),
    ));
    for at in 0..bytes.len() {
        for bit in [0, 7] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            bad.push((format!("bit {bit} of byte {at} flipped"), token(&flipped)));
        }
    }
    for len in 1..bytes.len() {
        bad.push((format!("truncated to {len} bytes"), token(&bytes[..len])));
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 16]);
    bad.push(("a block appended".into(), token(&longer)));
    // The unsealed layout of old: format 1, the fingerprint, the key in clear.
    let mut old = vec![1u8];
    old.extend_from_slice(&<Subscriber as capacitor::Record>::fingerprint().to_be_bytes());
    old.extend_from_slice(b"s16:s01@example.com;");
    bad.push(("the unsealed format".into(), token(&old)));
    for junk in ["AAAA", "x", "_-_-", &"A".repeat(400)] {
        bad.push((format!("junk {junk:.8}"), junk.parse().unwrap()));
    }

    for (what, cursor) in &bad {
        let err = repo.scan(Some(cursor), 2).await.unwrap_err();
        assert!(is_refused(&err), "{what}: {err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("@example.com"), "{what}: {shown}");
        assert!(!shown.contains(cursor.as_str()), "{what}: {shown}");
        let err = repo
            .find_by_list(&"a".to_owned(), Some(cursor), 2)
            .await
            .unwrap_err();
        assert!(is_refused(&err), "{what}: {err}");
    }
    // The good token still works after all that.
    assert_eq!(repo.scan(Some(&good), 10).await.unwrap().items.len(), 4);
}

#[tokio::test]
async fn bad_tokens_are_refused_on_memory() {
    refuses_bad_tokens(Store::memory()).await;
}

#[tokio::test]
async fn bad_tokens_are_refused_on_sqlite() {
    let (store, _dir) = sqlite().await;
    refuses_bad_tokens(store).await;
}

/// A fresh SQLite file with the table (kept alive by the returned temp dir).
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&sqlite_url(&dir)).await.unwrap();
    sqlx::query(SQLITE_DDL)
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    (store, dir)
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cursor.db").display())
}

/// Pages through `scan` and `find_by_list`, alternating between `one` and `two` (each a "process" with its own
/// store handle and repository), and checks nothing is skipped or repeated.
async fn pages_across(one: &SubscriberRepo, two: &SubscriberRepo, emails: &[String]) {
    let (mut seen, mut after, mut turn) = (Vec::new(), None::<Cursor>, 0);
    loop {
        let repo = [one, two][turn % 2];
        turn += 1;
        let page = repo.scan(after.as_ref(), 3).await.unwrap();
        seen.extend(page.items.into_iter().map(|v| v.value.email));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, emails);
    assert!(turn > 2, "several pages");

    let on_a: Vec<&String> = emails.iter().step_by(2).collect();
    let (mut seen, mut after, mut turn) = (Vec::new(), None::<Cursor>, 0);
    loop {
        let repo = [two, one][turn % 2];
        turn += 1;
        let page = repo
            .find_by_list(&"a".to_owned(), after.as_ref(), 2)
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|v| v.value.email));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.iter().collect::<Vec<_>>(), on_a);
}

#[tokio::test]
async fn two_processes_with_one_key_share_pages_on_memory() {
    let store = Store::memory();
    let (one, two) = (repo(&store, &shared_key()), repo(&store, &shared_key()));
    let emails = fill(&one, 11).await;
    pages_across(&one, &two, &emails).await;
}

#[tokio::test]
async fn two_processes_with_one_key_share_pages_on_sqlite() {
    let (store, dir) = sqlite().await;
    // Two pools on one file, two repositories, two parsings of the configured key: nothing shared in memory.
    let other = Store::open(&sqlite_url(&dir)).await.unwrap();
    let (one, two) = (repo(&store, &shared_key()), repo(&other, &shared_key()));
    let emails = fill(&one, 11).await;
    pages_across(&one, &two, &emails).await;
    // A "process" with another key refuses the first one's tokens.
    let third = repo(&other, &CursorKey::generate().unwrap());
    let next = one.scan(None, 3).await.unwrap().next.unwrap();
    assert!(is_refused(&third.scan(Some(&next), 3).await.unwrap_err()));
}

#[tokio::test]
async fn two_processes_with_one_key_share_pages_on_postgres() {
    let name = format!("cursor_{}", std::process::id());
    let url = PostgresServer::shared().create_database(&name).unwrap();
    let store = Store::open(&url).await.unwrap();
    sqlx::query(POSTGRES_DDL)
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    let other = Store::open(&url).await.unwrap();
    let (one, two) = (repo(&store, &shared_key()), repo(&other, &shared_key()));
    let emails = fill(&one, 11).await;
    pages_across(&one, &two, &emails).await;
    refuses_bad_tokens_briefly(&one).await;
}

/// The cheap part of [`refuses_bad_tokens`], for the Postgres store.
async fn refuses_bad_tokens_briefly(repo: &SubscriberRepo) {
    let good = repo.scan(None, 2).await.unwrap().next.unwrap();
    let mut flipped = raw(&good);
    *flipped.last_mut().unwrap() ^= 1;
    for bad in [
        token(&flipped),
        Cursor::seal::<Subscriber>(&EMAIL.to_owned(), &CursorKey::generate().unwrap()),
        Cursor::seal::<Account>(&EMAIL.to_owned(), &shared_key()),
    ] {
        assert!(is_refused(&repo.scan(Some(&bad), 2).await.unwrap_err()));
        let err = repo
            .find_by_list(&"a".to_owned(), Some(&bad), 2)
            .await
            .unwrap_err();
        assert!(is_refused(&err));
    }
}

#[tokio::test]
async fn a_rotated_key_still_opens_tokens_of_the_previous_one() {
    let (store, _dir) = sqlite().await;
    let old = shared_key();
    let before = repo(&store, &old);
    let emails = fill(&before, 8).await;
    let handed_out = before.scan(None, 3).await.unwrap().next.unwrap();

    let new = CursorKey::generate().unwrap();
    let after = repo(&store, &new.clone().accepting(&old));
    let rest = after.scan(Some(&handed_out), 10).await.unwrap();
    let seen: Vec<String> = rest.items.into_iter().map(|v| v.value.email).collect();
    assert_eq!(seen, emails[3..]);
    // New tokens are sealed under the new key only: the old key alone refuses them.
    let fresh = after.scan(None, 3).await.unwrap().next.unwrap();
    assert_eq!(fresh, Cursor::seal::<Subscriber>(&emails[2], &new));
    assert!(is_refused(&before.scan(Some(&fresh), 3).await.unwrap_err()));
    // Once the old key is dropped from the list, its tokens are refused.
    let rotated = repo(&store, &new);
    assert!(is_refused(
        &rotated.scan(Some(&handed_out), 3).await.unwrap_err()
    ));
}

#[tokio::test]
async fn a_plain_repository_and_the_generic_one_agree() {
    // `SubscriberRepo` derefs to `Repository<Subscriber>`: the key flows through either.
    let store = Store::memory();
    let typed = repo(&store, &shared_key());
    let generic: Repository<Subscriber> = Repository::builder(store.clone())
        .cursor_key(shared_key())
        .build();
    let emails = fill(&typed, 4).await;
    let next = generic.scan(None, 2).await.unwrap().next.unwrap();
    let rest = typed.scan(Some(&next), 2).await.unwrap();
    assert_eq!(rest.items[0].value.email, emails[2]);
}
