//! Generates the benchmark message with Capacitor (DTO + validator) and writes its descriptor set, which
//! prost-protovalidate's runtime validator reads the rules from.

use capacitor_codegen::proto::Input;
use std::path::PathBuf;

const PROTO: &str = "../../tests/proto/bench/v1/signup.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    capacitor_codegen::configure().compile_protos(&[PROTO], &["../../tests/proto"])?;
    let loaded = capacitor_codegen::proto::load(&Input::Files {
        includes: vec![PathBuf::from("../../tests/proto")],
        files: vec![PathBuf::from(PROTO)],
    })?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("descriptors.bin"), loaded.pool.encode_to_vec())?;
    Ok(())
}
