//! Switching `encrypt` or `claim_check` on or off for a stored field, or adding a blind index to a table that has
//! rows, is never a silent type change: `migrate::plan` refuses with the steps to take, and only the blind index (whose steps
//! start with `--allow-destructive`) can be written.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::migrate::{self, DiffOptions, Error};
use capacitor_migration_tests::{diff_options, load_from, migrate_next, v1_with};

fn options(name: &str, dialect: Dialect, allow_destructive: bool) -> DiffOptions {
    DiffOptions {
        allow_destructive,
        ..diff_options(name, dialect)
    }
}

use std::path::Path;

fn refusal(root: &Path, migrations: &Path, dialect: Dialect, allow: bool) -> Vec<migrate::Problem> {
    match migrate::plan(
        &load_from(root, dialect),
        migrations,
        &options("next", dialect, allow),
    ) {
        Err(Error::Refused { problems }) => problems,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a migration"),
    }
}

const NAME: &str = "string name = 3;";
const ENCRYPTED_NAME: &str = "string name = 3 [(capacitor.v1.field).encrypt = true];";
const INDEXED_ENCRYPTED_NAME: &str =
    "string name = 3 [(capacitor.v1.field) = { encrypt: true index: INDEX_SECONDARY }];";

/// Switching `NAME` to `on` (the field declared with the option) and back is refused under `rule`, with the
/// steps, even with `--allow-destructive`, on both dialects; `v1`: what the first migration's `up` must contain
/// per dialect when the field has the option.
fn switching_is_refused(on: &str, rule: &str, v1: impl Fn(Dialect) -> &'static str) {
    for dialect in Dialect::ALL {
        for (from, to) in [(NAME, on), (on, NAME)] {
            let migrations = tempfile::tempdir().unwrap();
            let before = v1_with(|t| t.replace(NAME, from));
            let up = migrate_next(before.path(), migrations.path(), dialect, "v1");
            if from == on {
                assert!(up.contains(v1(dialect)), "{up}");
            }
            let after = v1_with(|t| t.replace(NAME, to));
            for allow in [false, true] {
                let problems = refusal(after.path(), migrations.path(), dialect, allow);
                let rules: Vec<_> = problems.iter().map(|p| p.rule).collect();
                assert_eq!(rules, [rule], "{dialect} {to}");
                let problem = &problems[0];
                assert_eq!(problem.number, Some(3));
                assert!(!problem.allowable);
                assert!(
                    problem.reason.contains("add a new field with a new number")
                        && problem.reason.contains("reserving its number"),
                    "{}",
                    problem.reason
                );
            }
        }
    }
}

/// The column of an encrypted or claim-checked `name` in a CREATE statement: bytes.
fn bytes_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "\"name\" BYTEA",
        Dialect::Sqlite => "\"name\" BLOB",
    }
}

#[test]
fn switching_encrypt_on_or_off_is_refused_with_the_steps_even_with_allow_destructive() {
    switching_is_refused(
        ENCRYPTED_NAME,
        "ENCRYPT_CHANGE_NEEDS_A_NEW_FIELD",
        bytes_column,
    );
}

const CLAIMED_NAME: &str =
    "string name = 3 [(capacitor.v1.field).claim_check = { threshold: \"1KiB\" }];";

#[test]
fn switching_claim_check_on_or_off_is_refused_with_the_steps_and_a_new_threshold_needs_nothing() {
    // The column holds the stored form (value or reference, then a tag byte): bytes.
    switching_is_refused(
        CLAIMED_NAME,
        "CLAIM_CHECK_CHANGE_NEEDS_A_NEW_FIELD",
        bytes_column,
    );
    // Another threshold changes where new writes put a value, not the column: no migration.
    for dialect in Dialect::ALL {
        let migrations = tempfile::tempdir().unwrap();
        let before = v1_with(|t| t.replace(NAME, CLAIMED_NAME));
        migrate_next(before.path(), migrations.path(), dialect, "v1");
        let after = v1_with(|t| t.replace(NAME, &CLAIMED_NAME.replace("1KiB", "4MiB")));
        let planned = migrate::plan(
            &load_from(after.path(), dialect),
            migrations.path(),
            &options("next", dialect, false),
        )
        .unwrap();
        assert!(
            planned.is_empty(),
            "{dialect}: a new threshold planned a migration"
        );
    }
}

#[test]
fn adding_a_blind_index_to_a_stored_table_says_to_rebuild_it() {
    for dialect in Dialect::ALL {
        let migrations = tempfile::tempdir().unwrap();
        let before = v1_with(|t| t.replace(NAME, ENCRYPTED_NAME));
        migrate_next(before.path(), migrations.path(), dialect, "v1");
        let after = v1_with(|t| t.replace(NAME, INDEXED_ENCRYPTED_NAME));
        let problems = refusal(after.path(), migrations.path(), dialect, false);
        let rules: Vec<_> = problems.iter().map(|p| p.rule).collect();
        assert_eq!(rules, ["BLIND_INDEX_NEEDS_A_REBUILD"], "{dialect}");
        assert!(problems[0].allowable);
        assert!(
            problems[0].reason.contains("all_rows: true"),
            "{}",
            problems[0].reason
        );
        // With the flag the migration adds the token column and indexes it, not the ciphertext.
        let planned = migrate::plan(
            &load_from(after.path(), dialect),
            migrations.path(),
            &options("name_index", dialect, true),
        )
        .expect("plan with --allow-destructive");
        let up = &planned[0].up;
        assert!(up.contains("\"name_bidx\""), "{up}");
        assert!(up.contains("CREATE INDEX"), "{up}");
        assert!(
            !up.contains("(\"name\")"),
            "the index is not on the ciphertext: {up}"
        );
    }
}

/// A blind index's token width is part of the lockfile: changing it (the option, or a secondary index becoming
/// unique, which keeps all 256 bits) leaves every stored token unmatchable, so it is refused until allowed, with
/// the rebuild step; the written lockfile then holds the new width.
#[test]
fn changing_a_blind_index_width_says_to_rebuild_it() {
    let wide = "string name = 3 [(capacitor.v1.field) = { encrypt: true index: INDEX_SECONDARY blind_index_bits: 24 }];";
    let unique = "string name = 3 [(capacitor.v1.field) = { encrypt: true index: INDEX_UNIQUE }];";
    for dialect in Dialect::ALL {
        for (to, bits) in [(wide, 24), (unique, 256)] {
            let migrations = tempfile::tempdir().unwrap();
            let before = v1_with(|t| t.replace(NAME, INDEXED_ENCRYPTED_NAME));
            migrate_next(before.path(), migrations.path(), dialect, "v1");
            let lock = std::fs::read_to_string(
                migrations
                    .path()
                    .join(dialect.name())
                    .join(migrate::LOCKFILE),
            )
            .unwrap();
            assert!(lock.contains("\"blind_bits\": 16"), "{lock}");

            let after = v1_with(|t| t.replace(NAME, to));
            let problems = refusal(after.path(), migrations.path(), dialect, false);
            let rules: Vec<_> = problems.iter().map(|p| p.rule).collect();
            assert_eq!(
                rules,
                ["BLIND_INDEX_WIDTH_NEEDS_A_REBUILD"],
                "{dialect} {to}"
            );
            let reason = &problems[0].reason;
            assert!(problems[0].allowable);
            assert!(
                reason.contains(&format!("from 16-bit to {bits}-bit"))
                    && reason.contains("all_rows: true"),
                "{reason}"
            );

            migrate::write(
                migrations.path(),
                &migrate::plan(
                    &load_from(after.path(), dialect),
                    migrations.path(),
                    &options("name_width", dialect, true),
                )
                .expect("plan with --allow-destructive"),
                "name_width",
            )
            .expect("write");
            let lock = std::fs::read_to_string(
                migrations
                    .path()
                    .join(dialect.name())
                    .join(migrate::LOCKFILE),
            )
            .unwrap();
            assert!(lock.contains(&format!("\"blind_bits\": {bits}")), "{lock}");
            // The same schema again is no change at all.
            let again = migrate::plan(
                &load_from(after.path(), dialect),
                migrations.path(),
                &options("again", dialect, false),
            )
            .expect("plan");
            assert!(again.is_empty(), "{dialect} {to}: {again:?}");
        }
    }
}
