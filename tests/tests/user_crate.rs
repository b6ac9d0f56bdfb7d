//! A crate outside the workspace, written from the README alone: its dependencies are exactly the README's
//! `user-crate-dependencies` block (with each `capacitor*` version requirement pointed at this checkout), and
//! it has a build.rs, a repository on SQLite with embedded migrations and a validator (`tests/user_crate/`).
//! It is built and run with `cargo run`, as a user would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's dependency block, the TOML between the marker and the end of its fenced block.
fn readme_dependencies() -> String {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let after_marker = readme
        .split_once("<!-- user-crate-dependencies -->")
        .expect("the README marks its dependency block")
        .1;
    let block = after_marker
        .split_once("```toml\n")
        .expect("a ```toml block follows the marker")
        .1;
    block
        .split_once("```")
        .expect("the block ends")
        .0
        .to_string()
}

/// Points `capacitor = "0.1"` and `capacitor-codegen = { version = "0.1", … }` at this checkout; every other
/// line stays as the README has it.
fn with_local_paths(dependencies: &str) -> String {
    let crate_dirs = [("capacitor-codegen", "codegen"), ("capacitor", "runtime")];
    dependencies
        .lines()
        .map(|line| {
            let Some((name, value)) = line.split_once(" = ") else {
                return line.to_string();
            };
            let Some((_, dir)) = crate_dirs
                .iter()
                .find(|(crate_name, _)| *crate_name == name)
            else {
                return line.to_string();
            };
            let path = repo().join(dir).canonicalize().unwrap();
            let path = format!("path = {:?}", path.display().to_string());
            if value.starts_with('"') {
                format!("{name} = {{ {path} }}")
            } else {
                let version = value
                    .split(", ")
                    .find(|part| part.trim_start_matches("{ ").starts_with("version = "))
                    .expect("a version requirement")
                    .trim_start_matches("{ ");
                format!("{name} = {}", value.replacen(version, &path, 1))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_crate_from_the_readme_dependency_block_builds_and_runs() {
    let dependencies = readme_dependencies();
    for needed in ["capacitor = ", "prost = ", "capacitor-codegen = "] {
        assert!(dependencies.contains(needed), "{dependencies}");
    }
    let work = tempfile::tempdir().unwrap();
    let krate = work.path().join("user_crate");
    copy_dir(&repo().join("tests/user_crate"), &krate);
    fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"user-crate\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             {}\n\n# Its own workspace: this crate is not a member of Capacitor's.\n[workspace]\n",
            with_local_paths(&dependencies)
        ),
    )
    .unwrap();
    // The workspace's lockfile pins the same dependency versions the workspace built, so the shared target dir
    // already holds them and nothing is fetched.
    fs::copy(repo().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    // The target dir the tests were built in, so the dependencies are not rebuilt.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let output = Command::new(env!("CARGO"))
        .arg("run")
        .arg("--offline")
        .arg("--quiet")
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("user crate: ok"),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
