//! Model test: any sequence of operations on the tiered repository behaves like one map — on the memory
//! store with L1, and on SQLite with L1 and a real Redis. Two repositories share the store and Redis; only
//! one writes, so every read must see the model's state exactly (its own L1 is updated by its writes).

use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Error, Repository, Store};
use capacitor_dal_tests::account;
use capacitor_testkit::redis::RedisServer;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    GetMany(Vec<u8>),
    Put(u8, i64),
    Insert(u8, i64),
    Update { key: u8, balance: i64, stale: bool },
    Delete(u8),
    DeleteMany(Vec<u8>),
    PutMany(Vec<(u8, i64)>),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    prop_oneof![
        key.clone().prop_map(Op::Get),
        prop::collection::vec(key.clone(), 0..5).prop_map(Op::GetMany),
        (key.clone(), any::<i64>()).prop_map(|(k, b)| Op::Put(k, b)),
        (key.clone(), any::<i64>()).prop_map(|(k, b)| Op::Insert(k, b)),
        (key.clone(), any::<i64>(), any::<bool>()).prop_map(|(key, balance, stale)| Op::Update {
            key,
            balance,
            stale
        }),
        key.clone().prop_map(Op::Delete),
        prop::collection::vec(key.clone(), 0..4).prop_map(Op::DeleteMany),
        prop::collection::btree_map(key, any::<i64>(), 0..4)
            .prop_map(|m| Op::PutMany(m.into_iter().collect())),
    ]
}

fn name(k: u8) -> String {
    format!("key{k}")
}

/// Runs `ops` against `repo` and a map of (balance, version), asserting they agree after every step.
async fn check(repo: &Repository<capacitor_dal_tests::Account>, ops: &[Op]) {
    let mut model: BTreeMap<u8, (i64, u64)> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Get(k) => {
                let got = repo.get(&name(*k)).await;
                match model.get(k) {
                    Some(&(balance, version)) => {
                        let v = got.unwrap();
                        assert_eq!(
                            (v.value.balance, v.version),
                            (balance, version),
                            "{step}: {op:?}"
                        );
                    }
                    None => assert!(got.unwrap_err().is_not_found(), "{step}: {op:?}"),
                }
            }
            Op::GetMany(keys) => {
                let names: Vec<String> = keys.iter().map(|k| name(*k)).collect();
                let got = repo.get_many(&names).await.unwrap();
                for (k, v) in keys.iter().zip(got) {
                    let v = v.map(|v| (v.value.balance, v.version));
                    assert_eq!(v, model.get(k).copied(), "{step}: {op:?}");
                }
            }
            Op::Put(k, b) => {
                let v = repo.put(account(&name(*k), *b)).await.unwrap();
                if let Some(&(_, old)) = model.get(k) {
                    assert!(v > old, "{step}: versions grow");
                }
                model.insert(*k, (*b, v));
            }
            Op::Insert(k, b) => match (repo.insert(account(&name(*k), *b)).await, model.get(k)) {
                (Ok(v), None) => {
                    model.insert(*k, (*b, v));
                }
                (Err(Error::Conflict { found, .. }), Some(&(_, version))) => {
                    assert_eq!(found, Some(version), "{step}")
                }
                (other, m) => panic!("{step}: {op:?} gave {other:?} with model {m:?}"),
            },
            Op::Update {
                key,
                balance,
                stale,
            } => {
                let current = model.get(key).map(|&(_, v)| v);
                let expected = match (current, stale) {
                    (Some(v), false) => v,
                    (Some(v), true) => v - 1,
                    (None, _) => 1,
                };
                let result = repo.update(account(&name(*key), *balance), expected).await;
                match (result, current, stale) {
                    (Ok(v), Some(_), false) => {
                        model.insert(*key, (*balance, v));
                    }
                    (Err(Error::Conflict { found, .. }), _, _) => {
                        assert_eq!(found, current, "{step}")
                    }
                    (other, c, s) => panic!("{step}: {op:?} gave {other:?} ({c:?}, stale {s})"),
                }
            }
            Op::Delete(k) => {
                let existed = repo.delete(&name(*k)).await.unwrap();
                assert_eq!(existed, model.remove(k).is_some(), "{step}: {op:?}");
            }
            Op::DeleteMany(keys) => {
                let mut unique = keys.clone();
                unique.sort();
                unique.dedup();
                let names: Vec<String> = unique.iter().map(|k| name(*k)).collect();
                let n = repo.delete_many(&names).await.unwrap();
                let expected = unique.iter().filter(|k| model.remove(k).is_some()).count();
                assert_eq!(n, expected, "{step}: {op:?}");
            }
            Op::PutMany(values) => {
                let accounts = values.iter().map(|(k, b)| account(&name(*k), *b)).collect();
                let versions = repo.put_many(accounts).await.unwrap();
                for ((k, b), v) in values.iter().zip(versions) {
                    model.insert(*k, (*b, v));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_with_l1_is_a_map(ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let repo = Repository::new(Store::memory());
            check(&repo, &ops).await;
        });
    }
}

fn redis() -> &'static RedisServer {
    RedisServer::shared()
}

proptest! {
    // Each case opens a SQLite file: fewer cases, longer sequences.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_with_l1_and_redis_is_a_map(ops in prop::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
            sqlx::query(r#"CREATE TABLE "accounts" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT NOT NULL UNIQUE,
                "balance" INTEGER NOT NULL, "_version" INTEGER NOT NULL)"#)
                .execute(store.sqlite_pool().unwrap()).await.unwrap();
            // A prefix per case: cases share the server, not keys.
            let prefix = format!("model{}", dir.path().file_name().unwrap().to_string_lossy());
            let tier = RedisTier::connect(&redis().url(), RedisOptions { prefix, ..RedisOptions::default() })
                .await.unwrap();
            let repo = Repository::builder(store).redis(tier).build();
            check(&repo, &ops).await;
        });
    }
}
