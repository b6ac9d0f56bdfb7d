//! Two processes configured with the same `CAPACITOR_CURSOR_KEY` share page cursors; a process with another key
//! refuses them, and one with a malformed key says so without echoing it. Real processes (this binary runs itself
//! as each child), one SQLite file; no harness, so the parent's own process never resolves a default key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use capacitor::cursor::CURSOR_KEY_ENV;
use capacitor::{Cursor, Error, Repository, Store};
use capacitor_dal_tests::{Account, account, sqlite_store};
use std::process::Command;

/// Set in a child: which part it plays.
const ROLE: &str = "DAL_CURSOR_ENV_ROLE";
const URL: &str = "DAL_CURSOR_ENV_URL";
const AFTER: &str = "DAL_CURSOR_ENV_AFTER";

const KEY: &str = "7f3a9c2e5b8d1f4a6c0e2b4d6f8a1c3e5a7c9e0b2d4f6a8c1e3a5c7e9b0d2f4a\
                   13579bdf02468ace13579bdf02468ace13579bdf02468ace13579bdf02468ace";

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match std::env::var(ROLE) {
        Ok(role) => runtime.block_on(child(&role)),
        Err(_) => runtime.block_on(parent()),
    }
}

/// One page of accounts: `first` prints the ids of the first page and its `next`; `next` prints the ids of the
/// page after the cursor in [`AFTER`], or the error.
async fn child(role: &str) {
    let store = Store::open(&std::env::var(URL).unwrap()).await.unwrap();
    let repo: Repository<Account> = Repository::new(store);
    let after: Option<Cursor> = match role {
        "first" => None,
        _ => Some(std::env::var(AFTER).unwrap().parse().unwrap()),
    };
    match repo.scan(after.as_ref(), 3).await {
        Ok(page) => {
            let ids: Vec<String> = page.items.into_iter().map(|v| v.value.id).collect();
            println!("ids {}", ids.join(","));
            if let Some(next) = page.next {
                println!("next {next}");
            }
        }
        Err(Error::InvalidCursor { .. }) => println!("refused"),
        Err(e) => println!("error {e}"),
    }
}

/// Runs a child with `key` in the environment (or none) and returns its output lines.
fn run(role: &str, url: &str, key: Option<&str>, after: Option<&str>) -> Vec<String> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(ROLE, role)
        .env(URL, url)
        .env_remove(CURSOR_KEY_ENV);
    if let Some(key) = key {
        command.env(CURSOR_KEY_ENV, key);
    }
    if let Some(after) = after {
        command.env(AFTER, after);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{role}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), "env", &[Account::CREATE_TABLE_SQLITE]).await;
    // The children open the same file.
    let url = format!("sqlite:{}", dir.path().join("env.db").display());
    let ids: Vec<String> = (0..5).map(|i| format!("a{i}@example.com")).collect();
    let writer: Repository<Account> = Repository::new(store);
    writer
        .put_many(ids.iter().map(|id| account(id, 1)).collect())
        .await
        .unwrap();

    let first = run("first", &url, Some(KEY), None);
    assert_eq!(first[0], format!("ids {}", ids[..3].join(",")));
    let next = first[1].strip_prefix("next ").unwrap().to_owned();
    assert!(!next.contains("example") && !next.contains("a2"), "sealed");

    // Another process with the same key (base64 this time: the same 64 bytes) continues the pages.
    let bytes: Vec<u8> = (0..KEY.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&KEY[i..i + 2], 16).unwrap())
        .collect();
    let base64 = STANDARD.encode(&bytes);
    let second = run("next", &url, Some(&base64), Some(&next));
    assert_eq!(second, [format!("ids {}", ids[3..].join(","))]);

    // Another key, or none at all (that process makes up a random one): refused.
    let other = KEY.replace('7', "8");
    assert_eq!(run("next", &url, Some(&other), Some(&next)), ["refused"]);
    assert_eq!(run("next", &url, None, Some(&next)), ["refused"]);
    // A list that still accepts the old key opens it.
    let rotated = format!("{other},{KEY}");
    assert_eq!(run("next", &url, Some(&rotated), Some(&next)), second);

    // A malformed key is a configuration error that does not echo the value.
    let malformed = "0123456789abcdef-not-a-key";
    let said = run("next", &url, Some(malformed), Some(&next));
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("error ") && said[0].contains(CURSOR_KEY_ENV),
        "{said:?}"
    );
    assert!(!said[0].contains(malformed), "{said:?}");

    println!(
        "dal_cursor_env: ok (6 child processes; shared key, base64 and hex, rotation, refusals)"
    );
}
