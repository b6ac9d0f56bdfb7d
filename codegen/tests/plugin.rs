//! `protoc-gen-capacitor`, end to end with a real `protoc` (Debian's `protobuf-compiler` 3.21) and a real
//! `buf` (npm `@bufbuild/buf`) driven by the checked-in `tests/plugin/buf.gen.yaml`: the plugin writes
//! byte-for-byte what `capgen generate` writes for the same sources, reports schema problems in the
//! response's `error` field with `file:line:col`, and takes editions files from buf (it declares
//! editions support and lowers them to proto2). The protocol itself (features, parameters, a bad request) is
//! tested without either tool. capgen's own editions sources go through the same buf (`capgen generate` on
//! an `edition = "2023"` file), found on PATH or named by `--editions-compiler` / `Builder::editions_compiler`.
//!
//! A missing tool skips its test with a note, except under `CI=true`, where it fails saying what to install
//! (`scripts/test.sh` installs both).

use prost::Message as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugin")
}

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-capacitor");
const CAPGEN: &str = env!("CARGO_BIN_EXE_capgen");

/// Finds `name` on PATH; without it the test is skipped, or fails under CI.
fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{name}` is not on PATH: install it ({install}); scripts/test.sh does"
        );
        eprintln!("skipped: `{name}` is not on PATH ({install})");
    }
    found
}

fn protoc() -> Option<PathBuf> {
    tool(
        "protoc",
        "`apt-get install protobuf-compiler libprotobuf-dev`",
    )
}

fn buf() -> Option<PathBuf> {
    tool("buf", "`npm install -g @bufbuild/buf`")
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the command runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A copy of `tests/plugin` with `vendor/` written by `capgen protos`, as a user would set it up.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures(), dir.path());
    let out = run(Command::new(CAPGEN)
        .args(["protos", "--out"])
        .arg(dir.path().join("vendor")));
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What `capgen generate -I proto --out <dir> proto/shop/v1/shop.proto` writes, by file name.
fn capgen_generate(work: &Path) -> Vec<(String, String)> {
    let out_dir = work.join("capgen-out");
    let out = run(Command::new(CAPGEN)
        .current_dir(work)
        .args(["generate", "-I", "proto", "--out"])
        .arg(&out_dir)
        .arg("proto/shop/v1/shop.proto"));
    assert!(out.status.success(), "{}", stderr(&out));
    files(&out_dir)
}

/// The generated files in `dir` by name: capgen's fingerprint of its run is not generated code (and the plugin
/// keeps none: protoc owns its output directory).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.file_name() != ".capgen-fingerprint")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn protoc_plugin(protoc: &Path, work: &Path, include: &str, file: &str) -> Output {
    let out = work.join("protoc-out");
    std::fs::create_dir_all(&out).unwrap();
    run(Command::new(protoc)
        .current_dir(work)
        .args(["-I", include, "-I", "vendor"])
        .arg(format!("--plugin=protoc-gen-capacitor={PLUGIN}"))
        .arg(format!("--capacitor_out={}", out.display()))
        .arg("--capacitor_opt=runtime_crate=::capacitor")
        .arg(file))
}

/// `buf generate` with the checked-in `buf.gen.yaml`, the plugin found on PATH as a user's would be.
fn buf_generate(buf: &Path, work: &Path, path: &str) -> Output {
    let plugin_dir = Path::new(PLUGIN).parent().unwrap();
    let paths = std::env::var_os("PATH").unwrap_or_default();
    let mut search = vec![plugin_dir.to_path_buf()];
    search.extend(std::env::split_paths(&paths));
    run(Command::new(buf)
        .current_dir(work)
        .env("PATH", std::env::join_paths(search).unwrap())
        // buf keeps a cache; keep it inside the test's temp dir.
        .env("BUF_CACHE_DIR", work.join(".buf-cache"))
        .args(["generate", "--path", path]))
}

#[test]
fn protoc_writes_what_capgen_generate_writes() {
    let Some(protoc) = protoc() else { return };
    let work = workspace();
    let out = protoc_plugin(&protoc, work.path(), "proto", "shop/v1/shop.proto");
    assert!(out.status.success(), "{}", stderr(&out));
    let plugin = files(&work.path().join("protoc-out"));
    assert_eq!(
        plugin.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["shop.v1.rs"]
    );
    assert_eq!(plugin, capgen_generate(work.path()));
}

#[test]
fn buf_generate_writes_what_capgen_generate_writes() {
    let Some(buf) = buf() else { return };
    let work = workspace();
    let out = buf_generate(&buf, work.path(), "proto/shop");
    assert!(out.status.success(), "{}", stderr(&out));
    let plugin = files(&work.path().join("gen"));
    assert_eq!(
        plugin.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["shop.v1.rs"],
        "the vendor files are imports only: nothing generated for them"
    );
    assert_eq!(plugin, capgen_generate(work.path()));
}

#[test]
fn schema_problems_come_back_with_file_line_col() {
    let expected = "shop/v1/bad.proto:12:21: entity `shop.v1.Broken` has more than one primary key";
    if let Some(protoc) = protoc() {
        let work = workspace();
        let out = protoc_plugin(&protoc, work.path(), "bad", "shop/v1/bad.proto");
        assert!(!out.status.success());
        let text = stderr(&out);
        assert!(
            text.contains(&format!("--capacitor_out: {expected}")),
            "{text}"
        );
        assert!(text.contains("help: keep one INDEX_PRIMARY"), "{text}");
        assert!(
            std::fs::read_dir(work.path().join("protoc-out"))
                .unwrap()
                .next()
                .is_none(),
            "nothing written"
        );
    }
    if let Some(buf) = buf() {
        let work = workspace();
        std::fs::copy(
            work.path().join("bad/shop/v1/bad.proto"),
            work.path().join("proto/shop/v1/bad.proto"),
        )
        .unwrap();
        let out = buf_generate(&buf, work.path(), "proto/shop");
        assert!(!out.status.success());
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert!(!work.path().join("gen").exists(), "nothing written");
    }
}

#[test]
fn buf_hands_editions_files_to_the_plugin_which_lowers_them() {
    let Some(buf) = buf() else { return };
    let work = workspace();
    let out = buf_generate(&buf, work.path(), "editions/ed");
    assert!(out.status.success(), "{}", stderr(&out));
    let generated = files(&work.path().join("gen"));
    assert_eq!(generated.len(), 1);
    let (name, code) = &generated[0];
    assert_eq!(name, "ed.v1.rs");
    assert!(code.contains("pub struct Note"), "{code}");
    assert!(code.contains("impl ::capacitor::Entity for Note"), "{code}");
    // Packed repeated scalars are edition 2023's default: lowering keeps them packed (prost-build writes
    // `packed = "false"` only for unpacked ones).
    assert!(
        code.contains("#[prost(int32, repeated, tag = \"3\")]"),
        "{code}"
    );
}

// The protocol without protoc: a request built from protox's descriptor set, answered by the binary.

/// A `FileDescriptorSet` with its files as raw bytes (prost-types would drop their extension options).
#[derive(Clone, PartialEq, prost::Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

fn request(parameter: Option<&str>) -> Vec<u8> {
    let work = workspace();
    let mut compiler =
        protox::Compiler::new([work.path().join("proto"), work.path().join("vendor")]).unwrap();
    compiler.include_imports(true).include_source_info(true);
    compiler.open_file("shop/v1/shop.proto").unwrap();
    let set = RawSet::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap();
    capacitor_codegen::plugin::Request {
        file_to_generate: vec!["shop/v1/shop.proto".to_string()],
        parameter: parameter.map(str::to_string),
        proto_file: set.file,
    }
    .encode_to_vec()
}

fn answer(request: &[u8]) -> capacitor_codegen::plugin::Response {
    use std::io::Write as _;
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exit 0 even on errors: {}",
        stderr(&out)
    );
    capacitor_codegen::plugin::Response::decode(out.stdout.as_slice()).unwrap()
}

#[test]
fn the_plugin_declares_proto3_optional_and_editions_and_generates() {
    let response = answer(&request(Some("runtime_crate=::my_app::capacitor")));
    assert_eq!(response.error, None);
    assert_eq!(response.supported_features, Some(1 | 2));
    assert_eq!(response.minimum_edition, Some(998), "EDITION_PROTO2");
    assert_eq!(response.maximum_edition, Some(1000), "EDITION_2023");
    assert_eq!(response.file.len(), 1);
    assert_eq!(response.file[0].name.as_deref(), Some("shop.v1.rs"));
    let code = response.file[0].content.as_deref().unwrap();
    assert!(
        code.contains("impl ::my_app::capacitor::Entity for Customer"),
        "the runtime_crate parameter is honoured"
    );
}

#[test]
fn bad_parameters_and_requests_are_errors_in_the_response() {
    let response = answer(&request(Some("runtime_crate=::capacitor,colour=blue")));
    let error = response.error.unwrap();
    assert!(
        error.contains("unknown parameter `colour=blue`") && error.contains("runtime_crate=PATH"),
        "{error}"
    );
    assert!(response.file.is_empty());

    let response = answer(&request(Some("runtime_crate=not a path")));
    assert!(
        response
            .error
            .unwrap()
            .contains("invalid parameter `runtime_crate`")
    );

    let response = answer(b"\xff\xff not a request");
    assert!(
        response
            .error
            .unwrap()
            .contains("stdin is not a CodeGeneratorRequest")
    );
}

#[test]
fn capgen_protos_writes_the_built_in_imports() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new(CAPGEN)
        .args(["protos", "--out"])
        .arg(dir.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for name in ["capacitor/v1/options.proto", "buf/validate/validate.proto"] {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            std::fs::read_to_string(root.join(name)).unwrap(),
            "{name}"
        );
    }
}

// Editions sources: protox cannot parse them, so capgen compiles them through buf.

/// `capgen <args>` in `work`, with `PATH` as given (`None`: no PATH at all).
fn capgen_in(work: &Path, args: &[&str], path: Option<&std::ffi::OsStr>) -> Output {
    let mut command = Command::new(CAPGEN);
    command.current_dir(work).args(args).env("NO_COLOR", "1");
    match path {
        Some(path) => command.env("PATH", path),
        None => command.env_remove("PATH"),
    };
    run(&mut command)
}

fn unwrap_report(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn editions_sources_compile_through_buf_like_a_descriptor_set() {
    let Some(buf) = buf() else { return };
    let work = workspace();
    let dir = work.path();
    // The reference: buf's descriptor set through the existing lowering.
    let out = run(Command::new(&buf)
        .current_dir(dir)
        .env("BUF_CACHE_DIR", dir.join(".buf-cache"))
        .args(["build", "--path", "editions/ed", "-o", "set.binpb"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let generate = |out: &str, extra: &[&str], path: Option<&std::ffi::OsStr>| {
        let mut args = vec!["generate", "--out", out];
        args.extend_from_slice(extra);
        let output = capgen_in(dir, &args, path);
        assert!(output.status.success(), "{}", stderr(&output));
        files(&dir.join(out))
    };
    let from_set = generate(
        "from-set",
        &["--descriptor-set-in", "set.binpb"],
        std::env::var_os("PATH").as_deref(),
    );

    // buf found on PATH; the vendor files are not on the include path: capgen supplies its own.
    let sources = ["-I", "editions", "editions/ed/v1/ed.proto"];
    let path = std::env::var_os("PATH");
    assert_eq!(generate("from-path", &sources, path.as_deref()), from_set);
    // buf named by the flag and not on PATH (npm's `buf` is a node script: keep node's folder).
    let node = tool("node", "`apt-get install nodejs`").expect("npm's buf runs on node");
    let without_buf = std::env::join_paths([node.parent().unwrap()]).unwrap();
    let mut named = vec!["--editions-compiler", buf.to_str().unwrap()];
    named.extend_from_slice(&sources);
    assert_eq!(generate("from-flag", &named, Some(&without_buf)), from_set);

    // The build.rs option.
    let out_dir = dir.join("from-builder");
    capacitor_codegen::configure()
        .editions_compiler(&buf)
        .out_dir(&out_dir)
        .emit_rerun_if_changed(false)
        .compile_protos(
            &[dir.join("editions/ed/v1/ed.proto")],
            &[dir.join("editions")],
        )
        .unwrap();
    assert_eq!(files(&out_dir), from_set);
}

#[test]
fn editions_source_problems_point_at_the_file_on_disk() {
    let Some(buf) = buf() else { return };
    let work = workspace();
    let dir = work.path();
    let file = dir.join("editions/ed/v1/ed.proto");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "string body = 2 [",
            "string body = 2 [(capacitor.v1.field).index = INDEX_PRIMARY, ",
        ),
    )
    .unwrap();
    let generate = || {
        capgen_in(
            dir,
            &[
                "generate",
                "--editions-compiler",
                buf.to_str().unwrap(),
                "-I",
                "editions",
                "--out",
                "gen",
                "editions/ed/v1/ed.proto",
            ],
            std::env::var_os("PATH").as_deref(),
        )
    };
    let out = generate();
    assert_eq!(out.status.code(), Some(1));
    let report = stderr(&out);
    assert!(
        report.contains("editions/ed/v1/ed.proto:12:")
            && unwrap_report(&report).contains("has more than one primary key")
            && report
                .contains("12 │   string body = 2 [(capacitor.v1.field).index = INDEX_PRIMARY"),
        "the source snippet is shown: {report}"
    );

    // A syntax error is buf's to report, named by the include path rather than buf's module.
    std::fs::write(&file, format!("{text}\nnot proto\n")).unwrap();
    let out = generate();
    assert_eq!(out.status.code(), Some(1));
    let report = unwrap_report(&stderr(&out));
    assert!(
        report.contains("could not compile the editions sources")
            && report.contains("editions/ed/v1/ed.proto:16:"),
        "{report}"
    );
    assert!(!dir.join("gen").exists(), "nothing written");
}

#[test]
fn without_buf_or_a_new_protoc_the_error_says_what_to_install() {
    let work = workspace();
    let args = [
        "generate",
        "-I",
        "editions",
        "--out",
        "gen",
        "editions/ed/v1/ed.proto",
    ];
    let out = capgen_in(work.path(), &args, None);
    assert_eq!(out.status.code(), Some(1));
    let report = unwrap_report(&stderr(&out));
    assert!(
        report.contains("ed.proto:1:1: `ed/v1/ed.proto` uses protobuf editions")
            && report.contains("neither buf nor protoc is on PATH")
            && report.contains("npm install -g @bufbuild/buf")
            && report.contains("protoc 27 or newer"),
        "{report}"
    );
    // Debian's protoc 3.21 is too old: said so, with its version.
    if let Some(protoc) = protoc() {
        let version = run(Command::new(&protoc).arg("--version"));
        if String::from_utf8_lossy(&version.stdout).contains("libprotoc 3.") {
            // A PATH holding protoc alone: buf, installed globally by npm, may sit in protoc's own directory
            // (`/usr/bin` with Debian's node), and would be found first.
            let only_protoc = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(&protoc, only_protoc.path().join("protoc")).unwrap();
            let path = std::env::join_paths([only_protoc.path()]).unwrap();
            let out = capgen_in(work.path(), &args, Some(&path));
            let report = unwrap_report(&stderr(&out));
            assert!(
                report.contains("too old for editions") && report.contains("libprotoc 3."),
                "{report}"
            );
        }
    }
}
