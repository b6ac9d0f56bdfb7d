//! Generates the test schemas with the build.rs API users call, and writes the descriptor set the JSON oracle
//! (prost-reflect's `DynamicMessage`) reads.

use capacitor_codegen::proto::Input;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/e2e/v1/scalars.proto",
    "proto/e2e/v1/collections.proto",
    "proto/e2e/v1/wkt.proto",
    "proto/e2e/v1/keywords.proto",
    "proto/e2e/legacy/legacy.proto",
    "proto/bench/v1/signup.proto",
    "proto/derive/v1/twin.proto",
    "proto/repo/v1/repo.proto",
    "proto/pii/v1/patient.proto",
    "proto/pii/v1/subject.proto",
    "proto/differential/v1/rules.proto",
    "proto/redaction/v1/nested.proto",
    "proto/claim/v1/document.proto",
    "proto/claim/v1/sealed.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // prost's bytes option on a few repository fields, so generated repositories are tested with `Bytes` too.
    capacitor_codegen::configure()
        .bytes([
            ".repo.v1.Contact.avatar",
            ".repo.v1.Contact.thumbnails",
            ".repo.v1.Blob",
        ])
        .compile_protos(PROTOS, &["proto"])?;

    let loaded = capacitor_codegen::proto::load(&Input::Files {
        includes: vec![PathBuf::from("proto")],
        files: PROTOS.iter().map(PathBuf::from).collect(),
    })?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("descriptors.bin"), loaded.pool.encode_to_vec())?;
    Ok(())
}
