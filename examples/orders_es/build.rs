fn main() -> Result<(), capacitor_codegen::Error> {
    // `capacitor::migrations!` embeds `migrations/`: a new migration must rebuild the binary.
    println!("cargo:rerun-if-changed=migrations");
    capacitor_codegen::configure().compile_protos(&["proto/shop/v1/orders.proto"], &["proto"])
}
