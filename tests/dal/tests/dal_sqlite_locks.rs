//! The SQLite store runs statements on the caller's thread; a writer that finds the file locked waits on a
//! blocking thread instead. On a current-thread runtime the lock holder is a task of the same thread, so a
//! writer waiting in place would stall it until the busy timeout: these tests would fail (or take 5 s) then.
//! And a waiting write whose future is dropped leaves nothing behind: no row, no open transaction.

use capacitor::{Repository, Store};
use capacitor_dal_tests::{Account, account, sqlite_store};
use std::time::{Duration, Instant};

async fn store(dir: &std::path::Path) -> Store {
    sqlite_store(dir, "locks", &[Account::CREATE_TABLE_SQLITE]).await
}

#[tokio::test(flavor = "current_thread")]
async fn a_writer_waits_for_a_transaction_of_the_same_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let accounts: Repository<Account> = Repository::new(store.clone());

    let mut tx = store.begin().await.unwrap(); // holds the write lock (BEGIN IMMEDIATE)
    accounts.put_in(&mut tx, account("a", 1)).await.unwrap();
    let writer = tokio::spawn({
        let accounts = accounts.clone();
        async move { accounts.put(account("b", 2)).await }
    });
    // The writer meets the lock and moves to a blocking thread; this thread stays free to commit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!writer.is_finished(), "the writer waits for the lock");
    let started = Instant::now();
    tx.commit().await.unwrap();
    writer.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the writer got the lock when the transaction committed, not at the busy timeout"
    );
    assert_eq!(
        accounts.get(&"a".to_owned()).await.unwrap().value.balance,
        1
    );
    assert_eq!(
        accounts.get(&"b".to_owned()).await.unwrap().value.balance,
        2
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_waiting_write_leaves_no_row_and_no_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let accounts: Repository<Account> = Repository::new(store.clone());

    let mut holder = store.begin().await.unwrap();
    accounts
        .put_in(&mut holder, account("held", 1))
        .await
        .unwrap();

    // A second transaction waits for the lock at BEGIN; its future is dropped while it waits.
    let waiting = tokio::time::timeout(Duration::from_millis(50), store.begin()).await;
    assert!(waiting.is_err(), "the second transaction was still waiting");
    // A write through a transaction that got the lock only after it was abandoned, dropped in turn.
    let abandoned = tokio::time::timeout(Duration::from_millis(50), async {
        let mut tx = store.begin().await?;
        accounts.put_in(&mut tx, account("abandoned", 2)).await?;
        tx.commit().await
    })
    .await;
    assert!(
        abandoned.is_err(),
        "the abandoned transaction never got the lock"
    );

    holder.rollback().await;
    // Every lock is released: a new transaction starts at once and sees neither write.
    let started = Instant::now();
    let mut tx = store.begin().await.unwrap();
    accounts.put_in(&mut tx, account("after", 3)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(accounts.get(&"held".to_owned()).await.is_err());
    assert!(accounts.get(&"abandoned".to_owned()).await.is_err());
    assert_eq!(
        accounts
            .get(&"after".to_owned())
            .await
            .unwrap()
            .value
            .balance,
        3
    );
}
