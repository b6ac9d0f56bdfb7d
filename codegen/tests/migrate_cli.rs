//! `capgen migrate diff | check | sql`, end to end on the migration chain's schemas
//! (`tests/migrations/schemas/v<N>`): files written per dialect, `check` failing on an uncaptured change,
//! refusals exiting 1 with every problem listed and nothing written, damaged lockfiles reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/migrations/schemas")
}

fn capgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capgen"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("capgen runs")
}

/// `capgen migrate <command> -I <schema vN> --dir <dir> <extra> shop/v1/shop.proto`.
fn migrate(command: &str, version: &str, dir: &Path, extra: &[&str]) -> Output {
    let include = schemas().join(version);
    let file = include.join("shop/v1/shop.proto");
    let mut args = vec![
        "migrate",
        command,
        "-I",
        include.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    capgen(&args)
}

fn text(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    // miette wraps long lines and frames them; fold that back.
    stderr
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("sqlite"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn diff_writes_the_next_migration_and_check_catches_uncaptured_changes() {
    let dir = tempfile::tempdir().unwrap();
    let check = migrate("check", "v1", dir.path(), &[]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("sqlite: new table \"customer\""),
        "{}",
        text(&check)
    );

    let diff = migrate("diff", "v1", dir.path(), &["--name", "init"]);
    assert!(diff.status.success(), "{}", text(&diff));
    assert_eq!(
        files(dir.path()),
        [
            "0001_init.down.sql",
            "0001_init.up.sql",
            "capacitor-lock.json"
        ]
    );
    // The entities are SQLite's: no postgres folder.
    assert!(!dir.path().join("postgres").exists());
    assert!(migrate("check", "v1", dir.path(), &[]).status.success());

    let again = migrate("diff", "v1", dir.path(), &["--name", "again"]);
    assert!(again.status.success());
    assert!(
        text(&again).contains("no schema changes"),
        "{}",
        text(&again)
    );

    let check = migrate("check", "v2", dir.path(), &[]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check).contains("new column \"phone\""),
        "{}",
        text(&check)
    );
    let diff = migrate(
        "diff",
        "v2",
        dir.path(),
        &["--name", "add_phone", "--dialect", "sqlite"],
    );
    assert!(diff.status.success(), "{}", text(&diff));
    assert!(files(dir.path()).contains(&"0002_add_phone.up.sql".to_string()));
}

#[test]
fn a_refused_diff_lists_every_problem_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for version in 1..=7 {
        let name = format!("v{version}");
        let out = migrate("diff", &name, dir.path(), &["--name", &name]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let before = files(dir.path());
    let out = migrate("diff", "v8", dir.path(), &["--name", "v8"]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    for expected in [
        "refusing to write migrations: 4 change(s)",
        "shop.v1.Customer field `age` (number 4): DESTRUCTIVE_NARROWING_TYPE_CHANGE",
        "shop.v1.Customer field `score` (number 5): DESTRUCTIVE_DROP_COLUMN",
        "shop.v1.Order: DESTRUCTIVE_DROP_TABLE",
        "shop.v1.Audit: DESTRUCTIVE_DROP_TABLE",
        "--allow-destructive",
    ] {
        assert!(
            message.contains(expected),
            "missing `{expected}` in {message}"
        );
    }
    assert_eq!(files(dir.path()), before, "nothing written");

    let out = migrate(
        "diff",
        "v8",
        dir.path(),
        &[
            "--name",
            "v8",
            "--allow-destructive",
            "--renamed-from",
            "shop.v1.Order=shop.v1.Purchase",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let up = std::fs::read_to_string(dir.path().join("sqlite/0008_v8.up.sql")).unwrap();
    assert!(
        up.contains("ALTER TABLE \"order\" RENAME TO \"purchase\";"),
        "{up}"
    );
}

#[test]
fn a_damaged_lockfile_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        migrate("diff", "v1", dir.path(), &["--name", "init"])
            .status
            .success()
    );
    let lock = dir.path().join("sqlite/capacitor-lock.json");
    let edited = std::fs::read_to_string(&lock)
        .unwrap()
        .replacen("TEXT", "BLOB", 1);
    std::fs::write(&lock, edited).unwrap();
    let out = migrate("check", "v1", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    assert!(
        message.contains("capacitor-lock.json: checksum mismatch"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = migrate("diff", "v1", dir.path(), &["--name", "Bad Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("invalid migration name `Bad Name`"),
        "{}",
        text(&out)
    );
    let out = migrate(
        "diff",
        "v1",
        dir.path(),
        &["--name", "x", "--renamed-from", "Nope=Customer"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no table in the lockfile belongs to a message named `Nope`"),
        "{}",
        text(&out)
    );
    let out = capgen(&["migrate", "sql", "--dialect", "oracle", "x.proto"]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(
        text(&out).contains("`oracle` is not a dialect"),
        "{}",
        text(&out)
    );
    assert!(files(dir.path()).is_empty());
}

#[test]
fn sql_prints_the_create_script_of_one_dialect() {
    let include = schemas().join("v1");
    let file = include.join("shop/v1/shop.proto");
    let out = capgen(&[
        "migrate",
        "sql",
        "--dialect",
        "sqlite",
        "-I",
        include.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(sql.starts_with("CREATE TABLE \"customer\" ("), "{sql}");
    assert!(sql.contains("CREATE TABLE \"order\" ("), "{sql}");
}
