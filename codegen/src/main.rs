//! `capgen`: Capacitor's command-line code generator.

use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::generate::{DtoOptions, generate, load_schema};
use capacitor_codegen::output::{stale_files, write_all};
use capacitor_codegen::proto::Input;
use capacitor_codegen::{Error, inspect};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Capacitor: typed DTOs, validators, migrations and repositories from annotated Protobuf schemas.
#[derive(Parser)]
#[command(name = "capgen", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generates Rust (one file per proto package) into --out.
    #[command(
        after_help = "Example:\n  capgen generate -I proto --out src/gen proto/app/v1/user.proto"
    )]
    Generate {
        #[command(flatten)]
        input: InputArgs,
        /// Directory to write into (created if missing). Files are written all or none.
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
    },
    /// Exits 1 when a generated file in --out is missing or stale (for CI, like `cargo fmt --check`).
    #[command(
        after_help = "Example:\n  capgen check -I proto --out src/gen proto/app/v1/user.proto"
    )]
    Check {
        #[command(flatten)]
        input: InputArgs,
        /// Directory the generated files live in.
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
    },
    /// Prints the schema's entities: keys, indexes, PII fields, backend, cache and consistency.
    #[command(
        after_help = "Examples:\n  capgen inspect -I proto proto/app/v1/user.proto\n  capgen inspect --json -I proto proto/app/v1/user.proto"
    )]
    Inspect {
        #[command(flatten)]
        input: InputArgs,
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct InputArgs {
    /// Directory to search for imports (repeatable). `capacitor/v1/options.proto` and the well-known types are
    /// built in.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    includes: Vec<PathBuf>,
    /// Reads a serialized FileDescriptorSet instead of .proto files (protoc's --descriptor_set_in).
    #[arg(long, value_name = "FILE", conflicts_with = "files")]
    descriptor_set_in: Option<PathBuf>,
    /// Path the generated code uses for the runtime crate, for re-exports.
    #[arg(long, value_name = "PATH", default_value = "::capacitor")]
    runtime_crate: String,
    /// The .proto files to compile.
    #[arg(value_name = "FILES", required_unless_present = "descriptor_set_in")]
    files: Vec<PathBuf>,
}

impl InputArgs {
    fn input(&self) -> Input {
        match &self.descriptor_set_in {
            Some(path) => Input::DescriptorSet { path: path.clone() },
            None => {
                // With no -I, resolve imports from the current directory, as protoc does.
                let includes = if self.includes.is_empty() {
                    vec![PathBuf::from(".")]
                } else {
                    self.includes.clone()
                };
                Input::Files {
                    includes,
                    files: self.files.clone(),
                }
            }
        }
    }

    fn options(&self) -> Result<DtoOptions, Error> {
        let runtime = RuntimePath::parse(&self.runtime_crate).map_err(|reason| Error::Config {
            option: "--runtime-crate",
            reason,
        })?;
        Ok(DtoOptions {
            runtime,
            ..DtoOptions::default()
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            report(error);
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Generate { input, out } => {
            let generated = generate(&input.input(), &input.options()?)?;
            let written = write_all(&out, &generated.files)?;
            say(&format!(
                "capgen: {} file(s) generated in {} ({} changed)",
                generated.files.len(),
                out.display(),
                written.len()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { input, out } => {
            let generated = generate(&input.input(), &input.options()?)?;
            let stale = stale_files(&out, &generated.files);
            if stale.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            for s in &stale {
                eprintln!("{s}");
            }
            eprintln!(
                "capgen: {} generated file(s) out of date: run `capgen generate` with the same arguments",
                stale.len()
            );
            Ok(ExitCode::from(1))
        }
        Command::Inspect { input, json } => {
            let (_, schema) = load_schema(&input.input())?;
            let view = inspect::Inventory::new(&schema);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view).expect("the inventory serializes")
                );
            } else {
                print!("{view}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints every problem with its source snippet.
fn report(error: Error) {
    match error {
        Error::Schema { diagnostics } => {
            let count = diagnostics.len();
            for d in diagnostics {
                say(&format!("{:?}", miette::Report::new(d)));
            }
            say(&format!(
                "capgen: {count} problem(s) in the schema; nothing was written"
            ));
        }
        other => say(&format!("{:?}", miette::Report::new(other))),
    }
}

/// Writes a line to stderr; a closed stderr is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
