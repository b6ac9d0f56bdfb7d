//! Two generators over one proto: capgen writes the messages (prost structs with proto3 JSON and their
//! `impl Validate`) and tonic-build writes only the service, pointed at those messages with `extern_path` and
//! at Capacitor's validating codec with `codec_path`.

use protox::file::{ChainFileResolver, GoogleFileResolver, IncludeFileResolver};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    capacitor_codegen::configure().compile_protos(&["proto/shop/v1/catalog.proto"], &["proto"])?;

    // tonic-build reads a descriptor set; protox compiles one with capgen's built-in imports on the path.
    let mut files = ChainFileResolver::new();
    files.add(IncludeFileResolver::new(PathBuf::from("proto")));
    files.add(capacitor_codegen::proto::EmbeddedFiles);
    files.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(files);
    compiler.open_file("shop/v1/catalog.proto")?;

    // Its own folder: capgen's `shop.v1.rs` is already in OUT_DIR.
    let services = PathBuf::from(std::env::var("OUT_DIR")?).join("services");
    std::fs::create_dir_all(&services)?;
    tonic_prost_build::configure()
        .out_dir(&services)
        .extern_path(".shop.v1", "crate::shop::v1")
        .codec_path("::capacitor::grpc::ValidatingCodec")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
