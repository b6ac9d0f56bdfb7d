//! The Redis hit against a raw `GET`, measured interleaved: on a loaded machine criterion's groups run one after
//! another under different load, so two benchmarks minutes apart can differ by 30% either way. Here every
//! variant runs 200 reads in turn, for `ROUNDS` rounds (default 60), and each variant's median round is compared
//! with the raw `GET`'s. Variants: `raw_get` (a `GET` of the cached bytes over a `ConnectionManager`, then the
//! protobuf decode), `raw_get_timeout` (the same under `tokio::time::timeout`, as the tier bounds each read),
//! `script_info` (a script doing what every hit did before: `INFO replication`, the generation record, the
//! entry), `script_min` (a script reading only the record and the entry), `tier_get_many` (`RedisEntity::get_many`
//! of one key) and `repo_get` (`Repository::get` of a strong entity: no L1).
//!
//! `cargo bench -p capacitor --features redis --bench redis_hit_interleaved` (needs Debian's redis-server).
use capacitor::error::DecodeError;
use capacitor::record::{ColumnReader, ColumnWriter, Record};
use capacitor::redis::{RedisOptions, RedisTier};
use capacitor::{Repository, Store};
use capacitor_testkit::redis::RedisServer;
use prost::Message;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/user_entity.rs"]
#[macro_use]
mod support_user_entity;

user_entity!(Strong, "strong");

const ROWS: i64 = 1000;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let redis = RedisServer::start().unwrap();
    let store = Store::memory();
    let tier = rt
        .block_on(RedisTier::connect(&redis.url(), RedisOptions::default()))
        .unwrap();
    let repo: Repository<Strong> = Repository::builder(store.clone())
        .redis(tier.clone())
        .build();
    let l2 = tier.entity::<Strong>(None, None).unwrap();
    let mut raw = rt
        .block_on(async {
            redis::aio::ConnectionManager::new(redis::Client::open(redis.url())?).await
        })
        .unwrap();
    rt.block_on(async {
        for id in 0..ROWS {
            repo.put(Strong::new(id)).await.unwrap();
            let cached = repo.get(&id).await.unwrap();
            let mut payload = format!("{:016x}L", cached.version).into_bytes();
            payload.extend(cached.value.encode_to_vec());
            redis::cmd("SET")
                .arg(format!("raw:{id}"))
                .arg(payload)
                .exec_async(&mut raw)
                .await
                .unwrap();
        }
    });
    let keys: Vec<String> = (0..ROWS).map(|id| format!("raw:{id}")).collect();
    let info = redis::Script::new(
        "local h = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)') or '-'; local r = redis.call('GET', KEYS[1]); return { r, redis.call('GET', ARGV[1]) }",
    );
    let min = redis::Script::new(
        "local r = redis.call('GET', KEYS[1]); return { r, redis.call('GET', ARGV[1]) }",
    );
    let names = [
        "raw_get",
        "raw_get_timeout",
        "script_info",
        "script_min",
        "tier_get_many",
        "repo_get",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let per = 200;
    let mut id = 0i64;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    for _ in 0..rounds {
        for (v, s) in samples.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..per {
                id = (id + 7) % ROWS;
                rt.block_on(async {
                    match v {
                        0 => {
                            let p: Vec<u8> = redis::cmd("GET")
                                .arg(&keys[id as usize])
                                .query_async(&mut raw)
                                .await
                                .unwrap();
                            black_box(Strong::decode(&p[17..]).unwrap());
                        }
                        1 => {
                            let p: Vec<u8> = tokio::time::timeout(
                                Duration::from_millis(50),
                                redis::cmd("GET")
                                    .arg(&keys[id as usize])
                                    .query_async(&mut raw),
                            )
                            .await
                            .unwrap()
                            .unwrap();
                            black_box(Strong::decode(&p[17..]).unwrap());
                        }
                        2 | 3 => {
                            let script = if v == 2 { &info } else { &min };
                            let o: redis::Value = script
                                .key("{x}gen")
                                .arg(&keys[id as usize])
                                .invoke_async(&mut raw)
                                .await
                                .unwrap();
                            black_box(o);
                        }
                        4 => {
                            black_box(l2.get_many(std::slice::from_ref(&id)).await.unwrap());
                        }
                        _ => {
                            black_box(repo.get(&id).await.unwrap());
                        }
                    }
                });
            }
            s.push(start.elapsed().as_secs_f64() * 1e6 / per as f64);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let base = med(&mut samples[0].clone());
    for (n, s) in names.iter().zip(samples.iter_mut()) {
        let m = med(s);
        println!("{n:>16}: median {m:7.2} us  ratio {:.2}", m / base);
    }
    drop(store);
}
