//! Generates googleapis' `google/api`, `google/rpc`, `google/type` and `google/longrunning` (91 files, 17
//! packages) with the build.rs API users call, from the tree `scripts/fetch-googleapis.sh` fetches (npm
//! `google-proto-files@6.0.1`; nothing is committed). `scripts/test.sh` and `.ci/run` set
//! `CAPACITOR_GOOGLEAPIS` to it (test.sh fails if it cannot fetch it), so the CI test command always
//! generates and compiles it. A plain `cargo test` without it leaves the crate empty, with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DIRS: &[&str] = &[
    "google/api",
    "google/rpc",
    "google/type",
    "google/longrunning",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=CAPACITOR_GOOGLEAPIS");
    println!("cargo::rustc-check-cfg=cfg(googleapis)");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let Some(root) = std::env::var_os("CAPACITOR_GOOGLEAPIS").map(PathBuf::from) else {
        println!(
            "cargo:warning=CAPACITOR_GOOGLEAPIS is not set: the googleapis corpus is not generated (scripts/test.sh sets it)"
        );
        std::fs::write(out.join("googleapis.rs"), "")?;
        return Ok(());
    };
    let mut files = Vec::new();
    for dir in DIRS {
        collect_protos(&root.join(dir), &mut files)?;
    }
    files.sort();
    let generated =
        capacitor_codegen::configure().generate(&capacitor_codegen::proto::Input::Files {
            includes: vec![root.clone()],
            files,
        })?;
    for input in &generated.inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    let mut tree = Module::default();
    for file in &generated.files {
        std::fs::write(out.join(&file.name), &file.contents)?;
        let package = file.name.trim_end_matches(".rs");
        let mut module = &mut tree;
        for segment in package.split('.') {
            module = module.children.entry(segment.to_string()).or_default();
        }
        module.file = Some(file.name.clone());
    }
    let mut code = String::new();
    tree.write(&out, &mut code);
    std::fs::write(out.join("googleapis.rs"), code)?;
    // The tests use the generated types only when they exist.
    println!("cargo::rustc-cfg=googleapis");
    Ok(())
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            files.push(path);
        }
    }
    Ok(())
}

/// A module per package segment, each package's file included in its module, as prost-build's users lay
/// them out (`google.r#type.rs` in `google::r#type`).
#[derive(Default)]
struct Module {
    file: Option<String>,
    children: BTreeMap<String, Module>,
}

impl Module {
    fn write(&self, out: &Path, code: &mut String) {
        if let Some(file) = &self.file {
            code.push_str(&format!("include!({:?});\n", out.join(file)));
        }
        for (name, child) in &self.children {
            // File names already spell keywords as raw identifiers (`google.r#type.rs`).
            code.push_str(&format!("pub mod {name} {{\n"));
            child.write(out, code);
            code.push_str("}\n");
        }
    }
}
