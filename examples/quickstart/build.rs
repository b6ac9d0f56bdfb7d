fn main() -> Result<(), capacitor_codegen::Error> {
    capacitor_codegen::configure().compile_protos(&["proto/app/v1/user.proto"], &["proto"])
}
