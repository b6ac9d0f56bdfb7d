fn main() -> Result<(), capacitor_codegen::Error> {
    // `sqlx::migrate!` embeds `migrations/`: a new migration must rebuild the binary.
    println!("cargo:rerun-if-changed=migrations");
    capacitor_codegen::configure().compile_protos(&["proto/shop/v1/order.proto"], &["proto"])
}
