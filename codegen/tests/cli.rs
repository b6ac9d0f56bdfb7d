//! The `capgen` binary, end to end: generation, `check`, `inspect`, descriptor-set input, and the bad-input
//! corpus in `tests/bad_input/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn capgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capgen"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("capgen runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// miette wraps long messages and frames them with box characters; fold that back into plain text.
fn unwrap_report(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

const QUICKSTART: &str = "examples/quickstart/proto/app/v1/user.proto";
const QUICKSTART_INCLUDE: &str = "examples/quickstart/proto";

fn generate_into(out: &Path) -> Output {
    capgen(&[
        "generate",
        "-I",
        QUICKSTART_INCLUDE,
        "--out",
        out.to_str().unwrap(),
        QUICKSTART,
    ])
}

#[test]
fn bad_input_corpus() {
    let dir = repo().join("tests/bad_input");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "the corpus has {} schemas; it needs at least 20",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let text = fs::read_to_string(case).unwrap();
        let expect = text
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("// expect: "))
            .unwrap_or_else(|| {
                panic!("{name}: the last line must be `// expect: <line>:<col> <text>`")
            });
        let (position, message) = expect.split_once(' ').unwrap();
        let out = tempfile::tempdir().unwrap();
        let out_dir = out.path().join("gen");
        // No PATH: no buf or protoc to compile `editions.proto` with, so it stays refused
        // (`tests/plugin.rs` compiles editions sources through buf).
        let output = Command::new(env!("CARGO_BIN_EXE_capgen"))
            .args([
                "generate",
                "-I",
                "tests/bad_input",
                "--out",
                out_dir.to_str().unwrap(),
                &format!("tests/bad_input/{name}"),
            ])
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .env_remove("PATH")
            .output()
            .expect("capgen runs");
        let err = stderr(&output);
        let plain = unwrap_report(&err);
        let mut problems = Vec::new();
        if output.status.code() != Some(1) {
            problems.push(format!("exit code {:?}, expected 1", output.status.code()));
        }
        if err.contains("panicked") {
            problems.push("panicked".to_string());
        }
        if !err.contains(&format!("{name}:{position}")) {
            problems.push(format!("no `{name}:{position}` in the report"));
        }
        if !plain.contains(&unwrap_report(message)) {
            problems.push(format!("no `{message}` in the report"));
        }
        if out_dir.exists() {
            problems.push("the output directory was created".to_string());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{err}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_bad_schema_leaves_earlier_output_untouched() {
    let out = tempfile::tempdir().unwrap();
    assert!(generate_into(out.path()).status.success());
    let before = fs::read(out.path().join("app.v1.rs")).unwrap();
    let fingerprint = fs::read(out.path().join(".capgen-fingerprint")).unwrap();
    let output = capgen(&[
        "generate",
        "-I",
        "tests/bad_input",
        "--out",
        out.path().to_str().unwrap(),
        "tests/bad_input/two_primary_keys.proto",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let mut names: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".capgen-fingerprint", "app.v1.rs"],
        "only the earlier files remain"
    );
    assert_eq!(fs::read(out.path().join("app.v1.rs")).unwrap(), before);
    assert_eq!(
        fs::read(out.path().join(".capgen-fingerprint")).unwrap(),
        fingerprint,
        "the earlier run's fingerprint stays"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("many.proto"),
        r#"syntax = "proto3";
package many.v1;
import "capacitor/v1/options.proto";
message User {
  option (capacitor.v1.entity) = { cache: { ttl: "soon" } };
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
  repeated string tags = 2 [(capacitor.v1.field).index = INDEX_SECONDARY];
  int32 age = 3 [(capacitor.v1.field).encrypt = true];
}
"#,
    )
    .unwrap();
    let include = dir.path().to_str().unwrap();
    let file = dir.path().join("many.proto");
    let output = capgen(&["inspect", "-I", include, file.to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    for position in ["many.proto:5:", "many.proto:7:29", "many.proto:8:18"] {
        assert!(err.contains(position), "missing {position} in\n{err}");
    }
    assert!(err.contains("3 problem(s) in the schema"), "{err}");
}

#[test]
fn generate_is_byte_stable_and_check_catches_stale_and_missing_files() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    assert!(generate_into(out.path()).status.success());
    let first = fs::read(out.path().join("app.v1.rs")).unwrap();
    // --force: generate again rather than trust the fingerprint.
    let again = capgen(&[
        "generate",
        "--force",
        "-I",
        QUICKSTART_INCLUDE,
        "--out",
        dir,
        QUICKSTART,
    ]);
    assert!(stderr(&again).contains("generated"), "{}", stderr(&again));
    assert_eq!(
        fs::read(out.path().join("app.v1.rs")).unwrap(),
        first,
        "same input, same bytes"
    );

    let check = |out: &str| capgen(&["check", "-I", QUICKSTART_INCLUDE, "--out", out, QUICKSTART]);
    assert!(
        check(dir).status.success(),
        "fresh output passes: {}",
        stderr(&check(dir))
    );

    let mut edited = first.clone();
    edited.extend_from_slice(b"\n// hand edit\n");
    fs::write(out.path().join("app.v1.rs"), edited).unwrap();
    let stale = check(dir);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("app.v1.rs: stale"),
        "{}",
        stderr(&stale)
    );

    fs::remove_file(out.path().join("app.v1.rs")).unwrap();
    let missing = check(dir);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("app.v1.rs: missing"),
        "{}",
        stderr(&missing)
    );
}

/// A copy of the quickstart schema under `root/b` (imported through `-I root/a -I root/b`), so a test can
/// change inputs and shadow them earlier on the include path.
fn incremental_fixture(root: &Path) -> [String; 2] {
    let schema = root.join("b/app/v1/user.proto");
    fs::create_dir_all(schema.parent().unwrap()).unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::copy(repo().join(QUICKSTART), &schema).unwrap();
    [root.join("a"), root.join("b")].map(|p| p.to_str().unwrap().to_string())
}

/// One run over the fixture: the exit status and stderr.
fn run_incremental(
    command: &str,
    includes: &[String; 2],
    out: &Path,
    extra: &[&str],
) -> (bool, String) {
    let schema = Path::new(&includes[1]).join("app/v1/user.proto");
    let mut args = vec![command, "-I", &includes[0], "-I", &includes[1]];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap(), schema.to_str().unwrap()]);
    let output = capgen(&args);
    (output.status.success(), stderr(&output))
}

#[test]
fn an_unchanged_second_run_ends_early_and_any_change_generates_again() {
    let root = tempfile::tempdir().unwrap();
    let includes = incremental_fixture(root.path());
    let out = root.path().join("gen");
    let generated = out.join("app.v1.rs");
    let run = |command: &str, extra: &[&str]| run_incremental(command, &includes, &out, extra);
    let up_to_date = |(ok, err): (bool, String)| {
        assert!(ok, "{err}");
        err.contains("up to date")
    };

    assert!(!up_to_date(run("generate", &[])), "the first run generates");
    let first = fs::read_to_string(&generated).unwrap();
    assert!(out.join(".capgen-fingerprint").is_file());
    assert!(up_to_date(run("generate", &[])), "nothing changed");
    let (ok, err) = run("check", &[]);
    assert!(ok && err.is_empty(), "check of unchanged output: {err}");

    // An output edited or deleted by hand is never trusted: check fails, generate restores it.
    fs::write(&generated, format!("{first}// hand edit\n")).unwrap();
    let (ok, err) = run("check", &[]);
    assert!(!ok && err.contains("app.v1.rs: stale"), "{err}");
    assert!(!up_to_date(run("generate", &[])));
    assert_eq!(fs::read_to_string(&generated).unwrap(), first);
    fs::remove_file(&generated).unwrap();
    assert!(!up_to_date(run("generate", &[])));
    assert_eq!(fs::read_to_string(&generated).unwrap(), first);
    assert!(up_to_date(run("generate", &[])));

    // An edited input.
    let schema = root.path().join("b/app/v1/user.proto");
    let text = fs::read_to_string(&schema).unwrap();
    fs::write(&schema, format!("{text}\n// a comment\n")).unwrap();
    assert!(!up_to_date(run("generate", &[])), "an input changed");
    assert!(up_to_date(run("generate", &[])));

    // A changed option.
    assert!(!up_to_date(run("generate", &["--runtime-crate", "::cap"])));
    assert!(fs::read_to_string(&generated).unwrap().contains("::cap::"));
    assert!(up_to_date(run("generate", &["--runtime-crate", "::cap"])));
    assert!(!up_to_date(run("generate", &[])));

    // A file earlier on the include path now shadows an import (here the built-in options): protoc and
    // capgen would read that one.
    let vendored = capgen(&["protos", "--out", &includes[0]]);
    assert!(vendored.status.success(), "{}", stderr(&vendored));
    assert!(
        !up_to_date(run("generate", &[])),
        "the import resolves elsewhere"
    );
    assert!(up_to_date(run("generate", &[])));

    // --force always generates; check --force always compares.
    assert!(!up_to_date(run("generate", &["--force"])));
    let (ok, err) = run("check", &["--force"]);
    assert!(ok && err.is_empty(), "{err}");
}

#[test]
fn descriptor_set_input_generates_the_same_code() {
    let mut compiler = protox::Compiler::with_file_resolver({
        let mut chain = protox::file::ChainFileResolver::new();
        chain.add(protox::file::IncludeFileResolver::new(
            repo().join(QUICKSTART_INCLUDE),
        ));
        chain.add(protox::file::IncludeFileResolver::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"),
        ));
        chain.add(protox::file::GoogleFileResolver::new());
        chain
    });
    compiler.include_imports(true).include_source_info(true);
    compiler.open_file("app/v1/user.proto").unwrap();
    let set = compiler.encode_file_descriptor_set();
    let work = tempfile::tempdir().unwrap();
    let set_path = work.path().join("set.binpb");
    fs::write(&set_path, set).unwrap();

    let from_sources = work.path().join("sources");
    assert!(generate_into(&from_sources).status.success());
    let from_set = work.path().join("set");
    let output = capgen(&[
        "generate",
        "--descriptor-set-in",
        set_path.to_str().unwrap(),
        "--out",
        from_set.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(from_set.join("app.v1.rs")).unwrap(),
        fs::read_to_string(from_sources.join("app.v1.rs")).unwrap()
    );
}

#[test]
fn a_descriptor_set_generates_only_the_files_named() {
    let mut compiler = protox::Compiler::new([repo().join("tests/proto")]).unwrap();
    compiler.include_imports(true);
    compiler.open_file("e2e/v1/scalars.proto").unwrap();
    compiler.open_file("e2e/legacy/legacy.proto").unwrap();
    let work = tempfile::tempdir().unwrap();
    let set_path = work.path().join("set.binpb");
    fs::write(&set_path, compiler.encode_file_descriptor_set()).unwrap();
    let set = set_path.to_str().unwrap();

    let every = work.path().join("every");
    let output = capgen(&[
        "generate",
        "--descriptor-set-in",
        set,
        "--out",
        every.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut names: Vec<String> = fs::read_dir(&every)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != ".capgen-fingerprint")
        .collect();
    names.sort();
    assert_eq!(names, ["e2e.legacy.rs", "e2e.v1.rs"]);

    let named = work.path().join("named");
    let output = capgen(&[
        "generate",
        "--descriptor-set-in",
        set,
        "--out",
        named.to_str().unwrap(),
        "e2e/legacy/legacy.proto",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let names: Vec<String> = fs::read_dir(&named)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != ".capgen-fingerprint")
        .collect();
    assert_eq!(names, ["e2e.legacy.rs"]);
    assert_eq!(
        fs::read_to_string(named.join("e2e.legacy.rs")).unwrap(),
        fs::read_to_string(every.join("e2e.legacy.rs")).unwrap()
    );

    let output = capgen(&[
        "generate",
        "--descriptor-set-in",
        set,
        "--out",
        named.to_str().unwrap(),
        "e2e/v1/missing.proto",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has no file `e2e/v1/missing.proto`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_descriptor_set_that_is_not_one_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("garbage.binpb");
    fs::write(&path, b"\xff\xff\xff not protobuf").unwrap();
    let output = capgen(&["inspect", "--descriptor-set-in", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not a serialized FileDescriptorSet"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_editions_descriptor_set_is_lowered_to_proto2_and_generated() {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet {
        file: vec![prost_types::FileDescriptorProto {
            name: Some("ed/v1/thing.proto".into()),
            package: Some("ed.v1".into()),
            syntax: Some("editions".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("Thing".into()),
                field: vec![prost_types::FieldDescriptorProto {
                    name: Some("name".into()),
                    number: Some(1),
                    label: Some(prost_types::field_descriptor_proto::Label::Optional as i32),
                    r#type: Some(prost_types::field_descriptor_proto::Type::String as i32),
                    json_name: Some("name".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("editions.binpb");
    fs::write(&path, set.encode_to_vec()).unwrap();
    let out = work.path().join("gen");
    let output = capgen(&[
        "generate",
        "--descriptor-set-in",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let code = fs::read_to_string(out.join("ed.v1.rs")).unwrap();
    // Edition 2023's default presence is explicit: the field is optional.
    assert!(
        code.contains("pub name: ::core::option::Option<::prost::alloc::string::String>"),
        "{code}"
    );
}

#[test]
fn inspect_lists_keys_indexes_pii_backend_cache_and_consistency() {
    let output = capgen(&["inspect", "--json", "-I", QUICKSTART_INCLUDE, QUICKSTART]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let user = &json["entities"][0];
    assert_eq!(user["message"], "app.v1.UserProfile");
    assert_eq!(user["table"], "user_profile");
    assert_eq!(
        user["backend"], "sqlite",
        "an unspecified backend is the embedded default"
    );
    assert_eq!(user["consistency"], "strong");
    assert_eq!(user["cache"]["ttl_ms"], 60_000);
    assert_eq!(user["cache"]["max_entries"], 10_000);
    assert_eq!(user["primary_key"], serde_json::json!(["user_id"]));
    let pii: Vec<&str> = user["pii"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(pii, ["email", "name", "phone"]);
    let unique = user["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "unique")
        .unwrap();
    assert_eq!(unique["name"], "user_profile_email_key");
    assert_eq!(unique["fields"], serde_json::json!(["email"]));

    let table = capgen(&["inspect", "-I", QUICKSTART_INCLUDE, QUICKSTART]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("primary key  user_id"), "{text}");
    assert!(text.contains("pii          email (email)"), "{text}");
}

#[test]
fn file_options_supply_entity_defaults() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("defaults.proto"),
        r#"syntax = "proto3";
package defaults.v1;
import "capacitor/v1/options.proto";
option (capacitor.v1.file) = { backend: BACKEND_POSTGRES cache: { ttl: "5m" } consistency: CONSISTENCY_EVENTUAL };
message Inherits {
  option (capacitor.v1.entity) = {};
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
}
message Overrides {
  option (capacitor.v1.entity) = { backend: BACKEND_MEMORY cache: { disabled: true } consistency: CONSISTENCY_STRONG };
  string id = 1 [(capacitor.v1.field).index = INDEX_PRIMARY];
}
"#,
    )
    .unwrap();
    let file = dir.path().join("defaults.proto");
    let output = capgen(&[
        "inspect",
        "--json",
        "-I",
        dir.path().to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let inherits = &json["entities"][0];
    assert_eq!(inherits["backend"], "postgres");
    assert_eq!(inherits["consistency"], "eventual");
    assert_eq!(inherits["cache"]["ttl_ms"], 300_000);
    let overrides = &json["entities"][1];
    assert_eq!(overrides["backend"], "memory");
    assert_eq!(overrides["consistency"], "strong");
    assert!(overrides["cache"].is_null(), "a disabled cache is no cache");
}

#[test]
fn every_subcommand_help_shows_an_example() {
    for sub in ["generate", "check", "inspect"] {
        let output = capgen(&[sub, "--help"]);
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(
            text.contains("Example") && text.contains(&format!("capgen {sub} ")),
            "{sub}: {text}"
        );
    }
}

const REPORT_FIXTURE: &str = "tests/proto/report/v1/report.proto";

#[test]
fn report_of_the_quickstart_is_the_checked_in_inventory() {
    let output = capgen(&["report", "-I", QUICKSTART_INCLUDE, QUICKSTART]);
    assert!(output.status.success(), "{}", stderr(&output));
    let checked_in = fs::read_to_string(repo().join("docs/pii-inventory.md")).unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        checked_in,
        "docs/pii-inventory.md is stale: regenerate it with `capgen report -I {QUICKSTART_INCLUDE} {QUICKSTART} > docs/pii-inventory.md`"
    );
}

/// `capgen report --json` of `proto` (under `tests/proto`), asserting it succeeded.
fn report_json(proto: &str) -> serde_json::Value {
    let output = capgen(&["report", "--json", "-I", "tests/proto", proto]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `(tier, form)` pairs a reported PII field is held in.
fn held_in(field: &serde_json::Value) -> Vec<(&str, &str)> {
    field["held_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["tier"].as_str().unwrap(), h["form"].as_str().unwrap()))
        .collect()
}

#[test]
fn report_finds_pii_in_keys_nested_messages_and_caches() {
    let json = report_json(REPORT_FIXTURE);
    let entities = json["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 2);
    let customer = &entities[0];
    assert_eq!(customer["message"], "report.v1.Customer");
    let paths: Vec<&str> = customer["pii"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["email", "home.street", "previous.street"]);
    let email = &customer["pii"][0];
    assert_eq!(email["kind"], "email");
    assert_eq!(email["in_primary_key"], true);
    assert_eq!(email["index"], "primary");
    assert_eq!(email["encrypted"], false);
    assert_eq!(
        held_in(email),
        [
            ("l1", "plaintext"),
            ("redis", "plaintext"),
            ("store", "plaintext")
        ],
        "a cached eventual entity is held by L1 too"
    );
    assert_eq!(email["held_in"][0]["ttl_ms"], 300_000);
    let street = &customer["pii"][1];
    assert_eq!(
        street["column"], "home",
        "nested PII is reported under the column that stores the message"
    );
    assert_eq!(street["kind"], "postal_address");
    let ledger = &entities[1];
    assert_eq!(ledger["message"], "report.v1.Ledger");
    assert!(ledger["pii"].as_array().unwrap().is_empty());

    // The quickstart's entity is strong: no L1 holds it.
    let output = capgen(&["report", "--json", "-I", QUICKSTART_INCLUDE, QUICKSTART]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let held = json["entities"][0]["pii"][0]["held_in"].as_array().unwrap();
    assert!(held.iter().all(|h| h["tier"] != "l1"), "{held:?}");
}

#[test]
fn report_lists_the_blob_store_of_a_claim_checked_pii_field() {
    let json = report_json("tests/proto/claim/v1/document.proto");
    let notes = json["entities"][0]["pii"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "notes")
        .cloned()
        .unwrap_or_else(|| panic!("notes in {json}"));
    assert_eq!(
        held_in(&notes),
        [
            ("l1", "plaintext"),
            ("redis", "plaintext"),
            ("store", "plaintext"),
            ("blob store", "plaintext")
        ]
    );
}

#[test]
fn report_lists_the_sealed_blob_store_of_an_encrypted_claim_checked_field() {
    let json = report_json("tests/proto/claim/v1/sealed.proto");
    let scan = json["entities"][0]["pii"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "scan")
        .cloned()
        .unwrap_or_else(|| panic!("scan in {json}"));
    assert_eq!(
        held_in(&scan),
        [
            ("l1", "plaintext"),
            ("redis", "ciphertext"),
            ("store", "ciphertext"),
            ("blob store", "ciphertext")
        ]
    );
}

#[test]
fn report_gives_each_blind_index_its_width() {
    let json = report_json("tests/proto/pii/v1/patient.proto");
    let patient = &json["entities"][0];
    let field = |path: &str| {
        patient["pii"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .unwrap_or_else(|| panic!("{path} in {patient}"))
            .clone()
    };
    assert_eq!(
        field("email")["blind_index_bits"],
        256,
        "a unique blind index keeps the whole MAC"
    );
    assert_eq!(
        field("city")["blind_index_bits"],
        24,
        "the field's own width"
    );
    assert!(
        field("national_id").get("blind_index_bits").is_none(),
        "not indexed"
    );
    let markdown = capgen(&[
        "report",
        "-I",
        "tests/proto",
        "tests/proto/pii/v1/patient.proto",
    ]);
    let text = String::from_utf8(markdown.stdout).unwrap();
    assert!(text.contains("secondary (blind index, 24 bits)"), "{text}");
}

#[test]
fn report_deny_unencrypted_pii_lists_every_plaintext_field_and_exits_1() {
    let output = capgen(&[
        "report",
        "--deny",
        "unencrypted-pii",
        "-I",
        "tests/proto",
        REPORT_FIXTURE,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    for field in [
        "Customer.email",
        "Customer.home.street",
        "Customer.previous.street",
    ] {
        assert!(
            err.contains(&format!("report.v1.{field}")),
            "{field} missing: {err}"
        );
    }
    assert!(err.contains("3 field(s) break a --deny policy"), "{err}");
    assert!(!err.contains("Ledger"), "{err}");
    // The report itself still goes to stdout.
    assert!(String::from_utf8_lossy(&output.stdout).contains("# PII inventory"));

    let output = capgen(&[
        "report",
        "--deny",
        "everything",
        "-I",
        "tests/proto",
        REPORT_FIXTURE,
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses an unknown policy"
    );
    assert!(
        stderr(&output).contains("`everything` is not a policy"),
        "{}",
        stderr(&output)
    );
}

/// An entity with a data subject: the report says its encrypted fields are under the subject's key, and an
/// entity without one says nothing of it.
#[test]
fn report_marks_fields_under_a_subject_key() {
    let json = report_json("tests/proto/pii/v1/subject.proto");
    let entities = json["entities"].as_array().unwrap();
    let entity = |name: &str| {
        entities
            .iter()
            .find(|e| e["message"] == name)
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    let shredded = entity("pii.v1.HealthRecord");
    assert_eq!(shredded["subject"], "owner_id");
    for field in shredded["pii"].as_array().unwrap() {
        assert_eq!(field["subject_key"], true, "{field}");
    }
    let ring = entity("pii.v1.RingRecord");
    assert!(ring.get("subject").is_none(), "{ring}");
    for field in ring["pii"].as_array().unwrap() {
        assert!(field.get("subject_key").is_none(), "{field}");
    }
    let output = capgen(&[
        "report",
        "-I",
        "tests/proto",
        "tests/proto/pii/v1/subject.proto",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.contains("yes (subject key)"), "{markdown}");
    assert!(markdown.contains("Crypto-shredding: the encrypted fields are sealed under the data key of the subject in `owner_id`"), "{markdown}");
}
