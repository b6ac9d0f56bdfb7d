//! `Store::transaction(async |tx| …)`: committed on `Ok` (caches written through after the commit), rolled back
//! on `Err` and on a panic (caches untouched), on the memory store, SQLite and Postgres; and the transaction's
//! future may be spawned.

use capacitor::{Error, Repository, Store};
use capacitor_dal_tests::{Account, Entry, postgres_store, sqlite_store};

fn account(id: &str, balance: i64) -> Account {
    Account {
        id: id.to_owned(),
        email: format!("{id}@example.com"),
        balance,
    }
}

fn entry(seq: i64, memo: &str) -> Entry {
    Entry {
        account: "a".to_owned(),
        seq,
        memo: memo.to_owned(),
    }
}

/// What the closure's own error type can be: anything `From<capacitor::Error>`.
#[derive(Debug)]
enum TransferError {
    Insufficient,
    Store(Error),
}

impl From<Error> for TransferError {
    fn from(e: Error) -> Self {
        TransferError::Store(e)
    }
}

async fn closures(store: Store) {
    let accounts: Repository<Account> = Repository::new(store.clone());
    let ledger: Repository<Entry> = Repository::new(store.clone());
    let v1 = accounts.put(account("a", 10)).await.unwrap();
    assert_eq!(accounts.get(&"a".to_owned()).await.unwrap().version, v1); // now in L1

    // Ok: both writes commit, and L1 sees the new version without a store read.
    let (v2, seq) = store
        .transaction(async |tx| {
            let v2 = accounts.update_in(tx, account("a", 7), v1).await?;
            ledger.insert_in(tx, entry(1, "paid 3")).await?;
            Ok::<_, Error>((v2, 1))
        })
        .await
        .unwrap();
    let hits = accounts.stats().l1_hits;
    let got = accounts.get(&"a".to_owned()).await.unwrap();
    assert_eq!((got.value.balance, got.version), (7, v2));
    assert_eq!(
        accounts.stats().l1_hits,
        hits + 1,
        "the commit wrote L1 through"
    );
    assert!(ledger.get(&("a".to_owned(), seq)).await.is_ok());

    // Err from the caller's own error type: rolled back, returned as is, caches untouched.
    let refused = store
        .transaction(async |tx| {
            accounts.update_in(tx, account("a", -100), v2).await?;
            ledger.insert_in(tx, entry(2, "overdraft")).await?;
            Err::<(), _>(TransferError::Insufficient)
        })
        .await;
    assert!(matches!(refused, Err(TransferError::Insufficient)));
    let got = accounts.get(&"a".to_owned()).await.unwrap();
    assert_eq!((got.value.balance, got.version), (7, v2), "L1 untouched");
    let stored = store
        .get::<Account>(&"a".to_owned())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.value.balance, stored.version),
        (7, v2),
        "store rolled back"
    );
    assert!(
        ledger
            .get(&("a".to_owned(), 2))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A store error inside (a version conflict) converts into the caller's error and rolls back the rest.
    let conflict = store
        .transaction(async |tx| {
            ledger.insert_in(tx, entry(3, "kept?")).await?;
            accounts.update_in(tx, account("a", 1), v1).await?; // stale version
            Ok::<_, TransferError>(())
        })
        .await;
    assert!(matches!(conflict, Err(TransferError::Store(ref e)) if e.is_conflict()));
    assert!(
        ledger
            .get(&("a".to_owned(), 3))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A panic inside unwinds through `transaction`, and the transaction is rolled back.
    let spawned_store = store.clone();
    let spawned_ledger = ledger.clone();
    let panicked = tokio::spawn(async move {
        spawned_store
            .transaction(async |tx| {
                spawned_ledger.insert_in(tx, entry(4, "then panic")).await?;
                if tx_must_panic() {
                    panic!("work failed");
                }
                Ok::<_, Error>(())
            })
            .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    assert!(
        ledger
            .get(&("a".to_owned(), 4))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Opaque to the compiler, so the closure above still has an `Ok` path.
fn tx_must_panic() -> bool {
    std::hint::black_box(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_closures_on_every_store() {
    closures(Store::memory()).await;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = [Account::CREATE_TABLE_SQLITE, Entry::CREATE_TABLE_SQLITE];
    closures(sqlite_store(dir.path(), "tx", &sqlite).await).await;
    let postgres = [Account::CREATE_TABLE_POSTGRES, Entry::CREATE_TABLE_POSTGRES];
    closures(postgres_store("dal_transaction", &postgres).await).await;
}
