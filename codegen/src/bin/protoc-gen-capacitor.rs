//! `protoc-gen-capacitor`: capgen as a protoc / buf plugin (see [`capacitor_codegen::plugin`]).
//!
//! ```text
//! protoc -I proto -I vendor --capacitor_out=src/gen --capacitor_opt=runtime_crate=::capacitor app/v1/user.proto
//! buf generate   # with `- local: protoc-gen-capacitor` in buf.gen.yaml
//! ```

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!(
            "protoc-gen-capacitor is a protoc plugin: run it through `protoc --capacitor_out=DIR` or `buf generate` \
             (parameters: {})",
            capacitor_codegen::plugin::PARAMETERS
        );
        return ExitCode::from(1);
    }
    let mut request = Vec::new();
    if let Err(e) = stdin.read_to_end(&mut request) {
        eprintln!("protoc-gen-capacitor: cannot read the request from stdin: {e}");
        return ExitCode::from(1);
    }
    let (response, warnings) = capacitor_codegen::plugin::respond(&request);
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-capacitor: cannot write the response to stdout: {e}");
        return ExitCode::from(1);
    }
    // Problems in the schema travel in the response's `error` field: the protocol wants exit code 0 then.
    ExitCode::SUCCESS
}
