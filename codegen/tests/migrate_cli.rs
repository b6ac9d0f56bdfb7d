//! `capgen migrate diff | check | sql | run | status | revert`, end to end on the migration chain's schemas
//! (`tests/migrations/schemas/v<N>`): files written per dialect, `check` failing on an uncaptured change,
//! refusals exiting 1 with every problem listed and nothing written, damaged lockfiles reported; the written
//! migrations applied, listed and reverted on SQLite and PostgreSQL, edited or dirty ones refused.

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

// `capgen migrate run | status | revert`: the chain's first versions applied, listed and reverted on a
// SQLite file and on a real PostgreSQL 15 (the testkit's), through the binary as a deploy script runs it.

/// Writes the chain's migrations `versions` for one dialect, as `capgen migrate diff` does. The chain's
/// entities are SQLite's; for Postgres the schemas are copied with their backend switched.
fn write_chain(dir: &Path, dialect: &str, versions: std::ops::RangeInclusive<u32>) {
    let work = tempfile::tempdir().unwrap();
    for version in versions {
        let name = format!("v{version}");
        let source = schemas().join(&name).join("shop/v1/shop.proto");
        let proto = std::fs::read_to_string(&source).unwrap();
        let proto = match dialect {
            "postgres" => proto.replace("BACKEND_SQLITE", "BACKEND_POSTGRES"),
            _ => proto,
        };
        let include = work.path().join(&name);
        std::fs::create_dir_all(include.join("shop/v1")).unwrap();
        let file = include.join("shop/v1/shop.proto");
        std::fs::write(&file, proto).unwrap();
        let out = capgen(&[
            "migrate",
            "diff",
            "-I",
            include.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
            "--dialect",
            dialect,
            "--name",
            &name,
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// `capgen migrate <command> --database-url <url> --dir <dir> <extra>`.
fn database(command: &str, url: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "migrate",
        command,
        "--database-url",
        url,
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    capgen(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs one statement on the database, as a crashed or hand-edited deploy would leave it.
fn execute(url: &str, statement: &str) {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
        }
    });
}

/// The whole life of a deployed database, on either dialect.
fn run_status_revert(url: &str, dialect: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_chain(dir.path(), dialect, 1..=3);

    let run = database("run", url, dir.path(), &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("capgen: applied 1 v1")
            && text(&run).contains("3 migration(s) applied"),
        "{}",
        text(&run)
    );
    let again = database("run", url, dir.path(), &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("0 migration(s) applied"),
        "{}",
        text(&again)
    );

    let status = database("status", url, dir.path(), &[]);
    assert!(status.status.success(), "{}", text(&status));
    let lines: Vec<String> = stdout(&status)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1 v1 applied", "2 v2 applied", "3 v3 applied"]);

    // One back, then all the way, then forward again.
    let revert = database("revert", url, dir.path(), &[]);
    assert!(revert.status.success(), "{}", text(&revert));
    assert!(text(&revert).contains("reverted 3 v3"), "{}", text(&revert));
    let status = database("status", url, dir.path(), &[]);
    assert!(stdout(&status).contains("pending"), "{}", stdout(&status));
    assert!(
        text(&status).contains("1 pending, 0 problem(s)"),
        "{}",
        text(&status)
    );
    let revert = database("revert", url, dir.path(), &["--target-version", "0"]);
    assert!(revert.status.success(), "{}", text(&revert));
    assert!(
        text(&revert).contains("reverted 2 v2 capgen: reverted 1 v1"),
        "newest first: {}",
        text(&revert)
    );
    let revert = database("revert", url, dir.path(), &["--target-version", "7"]);
    assert_eq!(revert.status.code(), Some(1));
    assert!(
        text(&revert).contains("no applied migration has version 7"),
        "{}",
        text(&revert)
    );
    assert!(database("run", url, dir.path(), &[]).status.success());

    // An applied file edited afterwards: run, revert and status all stop.
    let up = dir.path().join(dialect).join("0002_v2.up.sql");
    let original = std::fs::read_to_string(&up).unwrap();
    std::fs::write(&up, format!("{original}\n-- edited\n")).unwrap();
    for command in ["run", "revert"] {
        let out = database(command, url, dir.path(), &[]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            text(&out).contains(
                "migration 2 (v2) was applied, then its file was edited (checksum mismatch)"
            ) && text(&out).contains("append-only"),
            "{command}: {}",
            text(&out)
        );
    }
    let status = database("status", url, dir.path(), &[]);
    assert_eq!(status.status.code(), Some(1));
    assert!(stdout(&status).contains("EDITED"), "{}", stdout(&status));
    std::fs::write(&up, original).unwrap();

    // A migration that failed midway (its row marked unsuccessful) stops `run` until repaired.
    write_chain(dir.path(), dialect, 4..=4);
    let checksum = match dialect {
        "postgres" => "'\\x00'::bytea",
        _ => "X'00'",
    };
    execute(
        url,
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (4, 'v4', FALSE, {checksum}, -1)"
        ),
    );
    let out = database("run", url, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("migration 4 (v4) is partially applied (dirty)"),
        "{}",
        text(&out)
    );
    let status = database("status", url, dir.path(), &[]);
    assert_eq!(status.status.code(), Some(1));
    assert!(stdout(&status).contains("DIRTY"), "{}", stdout(&status));
    execute(url, "DELETE FROM _sqlx_migrations WHERE version = 4");
    let out = database("run", url, dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applied 4 v4"), "{}", text(&out));
}

#[test]
fn run_status_revert_on_sqlite() {
    let work = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", work.path().join("app.db").display());
    // status and revert never create the file: a typo in the path is an error, not a new empty database.
    let dir = tempfile::tempdir().unwrap();
    write_chain(dir.path(), "sqlite", 1..=1);
    let status = database("status", &url, dir.path(), &[]);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        text(&status).contains("cannot connect to"),
        "{}",
        text(&status)
    );
    assert!(!work.path().join("app.db").exists());

    run_status_revert(&url, "sqlite");

    // The store's `synchronous` parameter is Capacitor's own: the same URL migrates, and a value the store
    // would refuse is refused here too.
    let chain = tempfile::tempdir().unwrap();
    write_chain(chain.path(), "sqlite", 1..=2);
    let durable = format!(
        "sqlite:{}?mode=rwc&synchronous=full",
        work.path().join("durable.db").display()
    );
    let run = database("run", &durable, chain.path(), &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("applied 2 v2"), "{}", text(&run));
    let out = database(
        "status",
        &format!("{url}?synchronous=off"),
        chain.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("`synchronous=off` is not a durability"),
        "{}",
        text(&out)
    );
}

#[test]
fn run_status_revert_on_postgres() {
    let url = capacitor_testkit::postgres::PostgresServer::shared()
        .create_database("capgen_migrate_run")
        .expect("create database");
    run_status_revert(&url, "postgres");
}

#[test]
fn a_dead_server_a_bad_url_or_folder_exit_1_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    write_chain(dir.path(), "postgres", 1..=1);
    // Port 1 on loopback: nothing listens there.
    let out = database(
        "run",
        "postgres://deploy:hunter2@127.0.0.1:1/shop",
        dir.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    assert!(
        message.contains("cannot connect to `postgres://deploy:***@127.0.0.1:1/shop`"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");

    let out = database("status", "mysql://root@db/shop", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("`mysql://root@db/shop` is not a database URL capgen knows"),
        "{}",
        text(&out)
    );

    let out = database("run", "sqlite::memory:", &dir.path().join("nowhere"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cannot read the migrations in")
            && text(&out).contains("no such folder"),
        "{}",
        text(&out)
    );
}

/// An entity with a data subject (crypto-shredding) brings the subject key table, once, after the entities'
/// tables, in both dialects (for Postgres the schema is copied with its backend switched).
#[test]
fn sql_of_a_schema_with_a_subject_creates_the_subject_key_table() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/proto/pii/v1/subject.proto");
    let proto = std::fs::read_to_string(source).unwrap();
    let work = tempfile::tempdir().unwrap();
    for dialect in ["sqlite", "postgres"] {
        let proto = match dialect {
            "postgres" => proto.replace(
                "consistency:",
                "backend: BACKEND_POSTGRES\n    consistency:",
            ),
            _ => proto.clone(),
        };
        let include = work.path().join(dialect);
        std::fs::create_dir_all(include.join("pii/v1")).unwrap();
        let file = include.join("pii/v1/subject.proto");
        std::fs::write(&file, proto).unwrap();
        let out = capgen(&[
            "migrate",
            "sql",
            "--dialect",
            dialect,
            "-I",
            include.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let sql = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            sql.matches("CREATE TABLE \"capacitor_subject_keys\"")
                .count(),
            1,
            "{sql}"
        );
        insta::assert_snapshot!(format!("subject_keys.{dialect}.sql"), sql);
    }
}
