fn main() -> Result<(), capacitor_codegen::Error> {
    capacitor_codegen::configure().compile_protos(&["proto/shop/v1/cart.proto"], &["proto"])
}
