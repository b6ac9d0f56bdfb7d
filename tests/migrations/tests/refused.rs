//! Refused changes and untrustworthy migration folders: every problem is reported at once with its message,
//! field, number and reason, and nothing is written.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::{self, DiffOptions, Error, LOCKFILE};
use capacitor_migration_tests::{load, load_from, schemas_dir};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes the chain's migrations up to `last` into `dir` for `dialect`.
fn migrate_to(dir: &Path, last: u32, dialect: Dialect) {
    for version in 1..=last {
        let options = DiffOptions {
            name: format!("v{version}"),
            dialects: vec![dialect],
            ..DiffOptions::default()
        };
        let planned = migrate::plan(&load(version, dialect), dir, &options).expect("plan");
        migrate::write(dir, &planned, &options.name).expect("write");
    }
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for dialect in ["postgres", "sqlite"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(dialect)) {
            for entry in entries.flatten() {
                out.insert(
                    format!("{dialect}/{}", entry.file_name().to_string_lossy()),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    out
}

fn refused(result: Result<Vec<migrate::Planned>, Error>) -> Vec<migrate::Problem> {
    match result {
        Err(Error::Refused { problems }) => problems,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a migration"),
    }
}

#[test]
fn destructive_changes_are_listed_together_and_nothing_is_written() {
    for dialect in Dialect::ALL {
        let dir = tempfile::tempdir().unwrap();
        migrate_to(dir.path(), 7, dialect);
        let before = snapshot(dir.path());
        let options = DiffOptions {
            name: "v8".to_string(),
            dialects: vec![dialect],
            ..DiffOptions::default()
        };
        let error = migrate::plan(&load(8, dialect), dir.path(), &options).unwrap_err();
        let text = error.to_string();
        let Error::Refused { problems } = error else {
            panic!("{text}")
        };
        let rules: Vec<_> = problems
            .iter()
            .map(|p| (p.rule, p.message.as_str()))
            .collect();
        // Without --renamed-from, Order looks dropped (and Purchase new).
        assert_eq!(
            rules,
            [
                ("DESTRUCTIVE_NARROWING_TYPE_CHANGE", "shop.v1.Customer"),
                ("DESTRUCTIVE_DROP_COLUMN", "shop.v1.Customer"),
                ("DESTRUCTIVE_DROP_TABLE", "shop.v1.Order"),
                ("DESTRUCTIVE_DROP_TABLE", "shop.v1.Audit"),
            ],
            "{text}"
        );
        let score = &problems[1];
        assert_eq!(
            (score.field.as_deref(), score.number),
            (Some("score"), Some(5))
        );
        assert!(
            text.contains("shop.v1.Customer field `score` (number 5): DESTRUCTIVE_DROP_COLUMN"),
            "{text}"
        );
        assert!(text.contains("--allow-destructive"), "{text}");
        assert!(
            text.contains("--renamed-from shop.v1.Order=<new name>"),
            "{text}"
        );
        assert_eq!(snapshot(dir.path()), before, "nothing written");
    }
}

#[test]
fn a_field_deleted_without_reserving_its_number_is_refused_even_when_destructive_changes_are_allowed()
 {
    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 7, Dialect::Sqlite);
    let before = snapshot(dir.path());
    let options = DiffOptions {
        name: "v8".to_string(),
        dialects: vec![Dialect::Sqlite],
        renamed_from: vec![("Order".to_string(), "Purchase".to_string())],
        allow_destructive: true,
    };
    let schema = load_from(&schemas_dir().join("refused/unreserved"), Dialect::Sqlite);
    let problems = refused(migrate::plan(&schema, dir.path(), &options));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.rule, "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED");
    assert_eq!(
        (p.message.as_str(), p.field.as_deref(), p.number),
        ("shop.v1.Customer", Some("score"), Some(5))
    );
    assert!(p.reason.contains("reserved 5;"), "{}", p.reason);
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn narrowing_and_not_null_without_default_are_destructive() {
    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 7, Dialect::Postgres);
    let options = DiffOptions {
        name: "narrow".to_string(),
        dialects: vec![Dialect::Postgres],
        ..DiffOptions::default()
    };
    let schema = load_from(&schemas_dir().join("refused/narrowing"), Dialect::Postgres);
    let problems = refused(migrate::plan(&schema, dir.path(), &options));
    let found: Vec<_> = problems
        .iter()
        .map(|p| (p.rule, p.field.clone().unwrap_or_default(), p.number))
        .collect();
    assert_eq!(
        found,
        [
            (
                "DESTRUCTIVE_NARROWING_TYPE_CHANGE",
                "age".to_string(),
                Some(4)
            ),
            (
                "DESTRUCTIVE_NOT_NULL_WITHOUT_DEFAULT",
                "region".to_string(),
                Some(5)
            ),
        ],
        "{problems:?}"
    );
    assert!(
        problems[0].reason.contains("from BIGINT to INTEGER"),
        "{}",
        problems[0].reason
    );
    // Allowed, the same change is written.
    let allowed = DiffOptions {
        allow_destructive: true,
        ..options
    };
    assert_eq!(
        migrate::plan(&schema, dir.path(), &allowed).unwrap().len(),
        1
    );
}

fn lockfile_error(dir: &Path) -> String {
    let options = DiffOptions {
        name: "next".to_string(),
        dialects: vec![Dialect::Sqlite],
        ..DiffOptions::default()
    };
    match migrate::plan(&load(2, Dialect::Sqlite), dir, &options) {
        Err(e @ (Error::Lockfile(_) | Error::Folder { .. })) => e.to_string(),
        Err(other) => panic!("expected a lockfile error, got {other}"),
        Ok(_) => panic!("a damaged folder was trusted"),
    }
}

#[test]
fn a_hand_edited_lockfile_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 1, Dialect::Sqlite);
    let lock = dir.path().join("sqlite").join(LOCKFILE);
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(
        &lock,
        text.replace("\"full_name\"", "\"fullname\"")
            .replace("\"name\": \"name\"", "\"name\": \"nom\""),
    )
    .unwrap();
    let error = lockfile_error(dir.path());
    assert!(
        error.contains("checksum mismatch: the lockfile was edited by hand"),
        "{error}"
    );
    assert!(error.contains(LOCKFILE), "{error}");
}

#[test]
fn a_corrupt_lockfile_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 1, Dialect::Sqlite);
    let lock = dir.path().join("sqlite").join(LOCKFILE);
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text[..text.len() / 2]).unwrap();
    let error = lockfile_error(dir.path());
    assert!(error.contains("corrupt lockfile (line"), "{error}");
}

#[test]
fn a_lockfile_out_of_step_with_the_migrations_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 2, Dialect::Sqlite);
    let folder = dir.path().join("sqlite");
    std::fs::remove_file(folder.join(LOCKFILE)).unwrap();
    let error = lockfile_error(dir.path());
    assert!(
        error.contains("migrations up to version 2 exist but there is no"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    migrate_to(dir.path(), 2, Dialect::Sqlite);
    for entry in std::fs::read_dir(dir.path().join("sqlite"))
        .unwrap()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("0002_") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let error = lockfile_error(dir.path());
    assert!(
        error.contains("records version 2 but the last migration is version 1"),
        "{error}"
    );
}

#[test]
fn memory_entities_get_no_tables_and_each_backend_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("schema");
    std::fs::create_dir_all(root.join("shop/v1")).unwrap();
    std::fs::write(
        root.join("shop/v1/shop.proto"),
        r#"syntax = "proto3";
package shop.v1;
import "capacitor/v1/options.proto";
message Session {
  option (capacitor.v1.entity) = { backend: BACKEND_MEMORY };
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
}
message Select {
  option (capacitor.v1.entity) = { backend: BACKEND_SQLITE };
  string from = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
}
"#,
    )
    .unwrap();
    let schema = load_from(&root, Dialect::Sqlite);
    assert_eq!(migrate::create_script(&schema, Dialect::Postgres), "");
    let sqlite = migrate::create_script(&schema, Dialect::Sqlite);
    assert!(sqlite.contains("CREATE TABLE \"select\""), "{sqlite}");
    assert!(!sqlite.contains("session"), "{sqlite}");
    let migrations = dir.path().join("migrations");
    let options = DiffOptions {
        name: "init".to_string(),
        ..DiffOptions::default()
    };
    let planned = migrate::plan(&schema, &migrations, &options).unwrap();
    assert_eq!(
        planned.iter().map(|p| p.dialect).collect::<Vec<_>>(),
        [Dialect::Sqlite]
    );
}

#[test]
fn output_is_byte_stable() {
    let write = || {
        let dir = tempfile::tempdir().unwrap();
        migrate_to(dir.path(), 7, Dialect::Postgres);
        snapshot(dir.path())
    };
    assert_eq!(write(), write());
}
