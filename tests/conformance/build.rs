//! Generates validators for every message of protovalidate's conformance suites through Capacitor's own
//! codegen (descriptor-set input), plus a dispatch from type URL to decode + validate.

#[path = "src/dump.rs"]
#[allow(dead_code)]
mod dump;

use capacitor_codegen::proto::Input;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let path = dump::dump_path(&manifest);
    println!("cargo:rerun-if-env-changed=CAPACITOR_CONFORMANCE_DUMP");
    println!("cargo:rerun-if-changed={}", path.display());
    println!(
        "cargo:rustc-env=CAPACITOR_CONFORMANCE_DUMP_PATH={}",
        path.display()
    );
    // Without the dump the crate still builds (the runner then fails, saying the dump is missing).
    let conformance = std::fs::read(&path).ok().map(|bytes| {
        // prost-types drops `edition` and `features`: keep the suites' raw file bytes instead.
        let fdset_path = out.join("conformance.fdset");
        std::fs::write(&fdset_path, raw_files(&bytes)).unwrap();
        capacitor_codegen::configure()
            .skip_json(true)
            .allow_unsupported_rules(true)
            .refuse_invalid_messages(true)
            .emit_rerun_if_changed(false)
            .generate(&Input::DescriptorSet { path: fdset_path })
            .unwrap_or_else(|e| panic!("{e:?}"))
    });
    // A schema that uses every rule family, for the API tests (tests/api.rs).
    let fixtures = PathBuf::from(&manifest).join("../../codegen/tests/fixtures/validate");
    println!("cargo:rerun-if-changed={}", fixtures.display());
    let shop = capacitor_codegen::configure()
        .skip_json(true)
        .emit_rerun_if_changed(false)
        .generate(&Input::Files {
            files: vec![
                fixtures.join("shop/v1/order.proto"),
                fixtures.join("shop/v1/checkout.proto"),
            ],
            includes: vec![fixtures],
        })
        .unwrap_or_else(|e| panic!("{e:?}"));
    let gen_dir = out.join("gen");
    std::fs::create_dir_all(&gen_dir).unwrap();
    // Module tree by package.
    #[derive(Default)]
    struct Tree(BTreeMap<String, Tree>, Option<String>);
    let mut tree = Tree::default();
    let (files, schema_messages, refused) = match &conformance {
        Some(g) => (&g.files[..], &g.schema.messages[..], &g.refused[..]),
        None => (&[][..], &[][..], &[][..]),
    };
    for file in files.iter().chain(&shop.files) {
        std::fs::write(gen_dir.join(&file.name), &file.contents).unwrap();
        let package = file.name.trim_end_matches(".rs");
        let mut node = &mut tree;
        for part in package.split('.') {
            node = node.0.entry(part.to_string()).or_default();
        }
        node.1 = Some(gen_dir.join(&file.name).display().to_string());
    }
    fn render(tree: &Tree, out: &mut String) {
        if let Some(file) = &tree.1 {
            writeln!(out, "include!({file:?});").unwrap();
        }
        for (name, child) in &tree.0 {
            writeln!(out, "pub mod {name} {{").unwrap();
            render(child, out);
            out.push_str("}\n");
        }
    }
    let mut code = format!(
        "/// Whether the dump was found and generated.\npub static DUMP_FOUND: bool = {};\n",
        conformance.is_some()
    );
    render(&tree, &mut code);
    code.push_str("/// Messages capgen refused to generate validators for (invalid rules): a \"compilation error\".\npub const REFUSED: &[&str] = &[\n");
    for name in refused {
        writeln!(code, "    {name:?},").unwrap();
    }
    code.push_str("];\n");
    code.push_str("/// Decodes `bytes` as the message named by `type_url` and validates it; `None` for a type that was not generated.\npub fn validate(type_url: &str, bytes: &[u8]) -> Option<Result<Result<(), ::capacitor::validate::Violations>, ::prost::DecodeError>> {\n    let name = type_url.rsplit('/').next().unwrap_or(type_url);\n    Some(match name {\n");
    for m in schema_messages {
        let module: Vec<String> = m
            .package
            .split('.')
            .map(capacitor_codegen::names::field_name)
            .collect();
        writeln!(
            code,
            "        {:?} => <self::{}::{} as ::prost::Message>::decode(bytes).map(|m| ::capacitor::Validate::validate(&m)),",
            m.full_name,
            module.join("::"),
            m.rust_path
        )
        .unwrap();
    }
    code.push_str("        _ => return None,\n    })\n}\n");
    if conformance.is_none() {
        // Nothing but the fallback arm: keep the generated dispatch warning-free.
        code = code.replace("    let name = type_url.rsplit('/').next().unwrap_or(type_url);\n    Some(match name {\n        _ => return None,\n    })\n", "    let _ = (type_url, bytes);\n    None\n");
    }
    std::fs::write(out.join("conformance.rs"), code).unwrap();
}

/// Every suite's files, each once, as a serialized `FileDescriptorSet`, copied byte for byte from the dump.
fn raw_files(dump: &[u8]) -> Vec<u8> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for suite in fields(dump).into_iter().filter(|(n, _)| *n == 3) {
        for fdset in fields(suite.1).into_iter().filter(|(n, _)| *n == 5) {
            for file in fields(fdset.1).into_iter().filter(|(n, _)| *n == 1) {
                let name = fields(file.1)
                    .into_iter()
                    .find(|(n, _)| *n == 1)
                    .map(|(_, b)| b.to_vec())
                    .unwrap_or_default();
                if seen.insert(name) {
                    prost::encoding::encode_key(
                        1,
                        prost::encoding::WireType::LengthDelimited,
                        &mut out,
                    );
                    prost::encoding::encode_varint(file.1.len() as u64, &mut out);
                    out.extend_from_slice(file.1);
                }
            }
        }
    }
    out
}

/// The length-delimited fields of a message (others skipped).
fn fields(mut buf: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (number, wire) = prost::encoding::decode_key(&mut buf).expect("valid key");
        match wire {
            prost::encoding::WireType::LengthDelimited => {
                let len = prost::encoding::decode_varint(&mut buf).expect("valid length") as usize;
                out.push((number, &buf[..len]));
                buf = &buf[len..];
            }
            prost::encoding::WireType::Varint => {
                prost::encoding::decode_varint(&mut buf).expect("valid varint");
            }
            prost::encoding::WireType::SixtyFourBit => buf = &buf[8..],
            prost::encoding::WireType::ThirtyTwoBit => buf = &buf[4..],
            _ => panic!("group in the dump"),
        }
    }
    out
}
