//! Generates the benchmark messages with Capacitor (DTO + validator) and writes its descriptor set, which
//! prost-protovalidate's runtime validator reads the rules from.

use capacitor_codegen::proto::Input;
use std::path::PathBuf;

const PROTOS: [&str; 2] = [
    "../../tests/proto/bench/v1/signup.proto",
    "../../tests/proto/bench/v1/booking.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    capacitor_codegen::configure().compile_protos(&PROTOS, &["../../tests/proto"])?;
    let loaded = capacitor_codegen::proto::load(&Input::Files {
        includes: vec![PathBuf::from("../../tests/proto")],
        files: PROTOS.iter().map(PathBuf::from).collect(),
    })?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("descriptors.bin"), loaded.pool.encode_to_vec())?;
    Ok(())
}
