//! The baseline capgen is measured against at scale: protox compiles the given files (imports resolved on the
//! include paths) and prost-build writes their structs, one file per package, as a user running the two alone
//! would. Also lays a directory of generated package files out as a crate's `lib.rs`, for the compile-time
//! comparison.
//!
//! ```text
//! prost-baseline generate --out DIR -I INCLUDE... -- FILE...
//! prost-baseline lib-rs DIR          # prints a lib.rs that include!s every DIR/<package>.rs in its module
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("lib-rs") => {
            let dir = args.get(1).ok_or("lib-rs DIR")?;
            print!("{}", lib_rs(Path::new(dir))?);
            Ok(())
        }
        _ => Err("usage: prost-baseline generate --out DIR -I INCLUDE... -- FILE... | lib-rs DIR".into()),
    }
}

fn generate(args: &[String]) -> Result<(), Box<dyn Error>> {
    let mut out = None;
    let mut includes = Vec::new();
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--out" => out = rest.next().map(PathBuf::from),
            "-I" => includes.extend(rest.next().map(PathBuf::from)),
            "--" => files.extend(rest.by_ref().map(PathBuf::from)),
            other => files.push(PathBuf::from(other)),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    std::fs::create_dir_all(&out)?;
    // As a user would call it: imports and source info (so the structs carry the schema's doc comments).
    let set = protox::compile(&files, &includes)?;
    prost_build::Config::new().out_dir(&out).compile_fds(set)?;
    Ok(())
}

/// A `lib.rs` nesting one module per package segment, each package's file `include!`d in its module, as
/// prost-build's and capgen's output is meant to be included.
fn lib_rs(dir: &Path) -> Result<String, Box<dyn Error>> {
    #[derive(Default)]
    struct Module {
        file: Option<String>,
        children: BTreeMap<String, Module>,
    }
    let mut root = Module::default();
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".rs"))
        .collect();
    names.sort();
    for name in names {
        let package = name.trim_end_matches(".rs");
        let mut module = &mut root;
        if package != "_" {
            for segment in package.split('.') {
                module = module.children.entry(segment.to_string()).or_default();
            }
        }
        module.file = Some(name.clone());
    }
    fn write(module: &Module, dir: &Path, depth: usize, out: &mut String) {
        let pad = "    ".repeat(depth);
        if let Some(file) = &module.file {
            out.push_str(&format!("{pad}include!({:?});\n", dir.join(file)));
        }
        for (name, child) in &module.children {
            // Package segments that are Rust keywords are raw identifiers, as prost-build spells them.
            const KEYWORDS: &[&str] = &[
                "as", "async", "await", "box", "break", "const", "continue", "dyn", "else", "enum",
                "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
                "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "try",
                "type", "unsafe", "use", "where", "while", "yield",
            ];
            let name = if KEYWORDS.contains(&name.as_str()) {
                format!("r#{name}")
            } else {
                name.clone()
            };
            out.push_str(&format!("{pad}pub mod {name} {{\n"));
            write(child, dir, depth + 1, out);
            out.push_str(&format!("{pad}}}\n"));
        }
    }
    let mut out = String::from("#![allow(clippy::all, rustdoc::all, deprecated, unused)]\n");
    write(&root, &std::fs::canonicalize(dir)?, 0, &mut out);
    Ok(out)
}
