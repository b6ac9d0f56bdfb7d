//! The process-wide default cursor key, in a test binary of its own (the default is resolved once per process):
//! with nothing configured, a random key and exactly one warning naming the setting; a repository with its own
//! key neither uses nor warns about the default; the default cannot be replaced once in use.

use capacitor::cursor::{CURSOR_KEY_ENV, CursorKey};
use capacitor::{Error, Repository};
use capacitor_dal_tests::{Account, account, sqlite_store};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps the message of every warning from `capacitor::cursor`.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn taken(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if *meta.level() == Level::WARN && meta.target().starts_with("capacitor::cursor") {
            let mut text = String::new();
            event.record(&mut Message(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Pages through every account and returns the ids.
async fn all_ids(repo: &Repository<Account>) -> Vec<String> {
    let (mut ids, mut after) = (Vec::new(), None);
    loop {
        let page = repo.scan(after.as_ref(), 2).await.unwrap();
        ids.extend(page.items.into_iter().map(|v| v.value.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn the_default_key_is_random_and_warned_about_once() {
    let warnings = Warnings::default();
    tracing::subscriber::set_global_default(warnings.clone()).unwrap();
    // CI and developers run without the variable; if one is set, the default is that key and nothing warns.
    let configured = CursorKey::from_env().unwrap().is_some();

    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), "default", &[Account::CREATE_TABLE_SQLITE]).await;
    let ids: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    let own_key: Repository<Account> = Repository::builder(store.clone())
        .cursor_key(CursorKey::generate().unwrap())
        .build();
    own_key
        .put_many(ids.iter().map(|id| account(id, 1)).collect())
        .await
        .unwrap();

    // A repository with its own key pages without a word about the default.
    assert_eq!(all_ids(&own_key).await, ids);
    assert!(warnings.taken().is_empty(), "{:?}", warnings.taken());

    // Repositories on the default page fine within the process, and the first page warns, once.
    let (one, two) = (
        Repository::new(store.clone()),
        Repository::new(store.clone()),
    );
    assert_eq!(all_ids(&one).await, ids);
    let next = one.scan(None, 2).await.unwrap().next.unwrap();
    assert_eq!(two.scan(Some(&next), 10).await.unwrap().items.len(), 3);
    assert_eq!(
        store
            .scan::<Account>(Some(&next), 10)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    // The default is not the repository's own key: its tokens are refused there.
    assert!(matches!(
        own_key.scan(Some(&next), 2).await.unwrap_err(),
        Error::InvalidCursor { .. }
    ));
    let taken = warnings.taken();
    match configured {
        true => assert!(taken.is_empty(), "{taken:?}"),
        false => {
            assert_eq!(taken.len(), 1, "{taken:?}");
            assert!(taken[0].contains(CURSOR_KEY_ENV), "{}", taken[0]);
            assert!(taken[0].contains("set_default_key"), "{}", taken[0]);
        }
    }

    // Once in use, the default stays: a late `set_default_key` is a configuration error.
    let err = capacitor::cursor::set_default_key(CursorKey::generate().unwrap()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert_eq!(all_ids(&two).await, ids);
    assert_eq!(warnings.taken().len(), taken.len(), "still one warning");
}
