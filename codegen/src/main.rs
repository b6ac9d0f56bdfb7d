//! `capgen`: Capacitor's command-line code generator.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::generate::{DtoOptions, generate, load_schema};
use capacitor_codegen::output::{stale_files, write_all};
use capacitor_codegen::proto::Input;
use capacitor_codegen::{Error, inspect, migrate};
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
    /// Versioned SQL migrations (sqlx format) for the Postgres and SQLite entities.
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Writes the next reversible migration (and the lockfile) in each dialect folder whose tables changed.
    #[command(
        after_help = "Example:\n  capgen migrate diff -I proto --dir migrations --name add_email proto/app/v1/user.proto"
    )]
    Diff {
        #[command(flatten)]
        migrations: MigrationArgs,
        /// The migration's name (`add_email`): files are `<version>_<name>.up.sql` / `.down.sql`.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// A message was renamed: keep its table and data (`--renamed-from app.v1.User=app.v1.Account`).
        #[arg(long, value_name = "OLD=NEW", value_parser = parse_rename)]
        renamed_from: Vec<(String, String)>,
        /// Writes destructive changes (dropped tables or columns, narrowing types, NOT NULL without a
        /// default) instead of refusing them.
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Exits 1 when the schema has changes no migration in --dir captures (for CI).
    #[command(
        after_help = "Example:\n  capgen migrate check -I proto --dir migrations proto/app/v1/user.proto"
    )]
    Check {
        #[command(flatten)]
        migrations: MigrationArgs,
    },
    /// Prints the full CREATE script of one dialect.
    #[command(
        after_help = "Example:\n  capgen migrate sql --dialect postgres -I proto proto/app/v1/user.proto"
    )]
    Sql {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long, value_name = "DIALECT", value_parser = parse_dialect)]
        dialect: Dialect,
    },
}

#[derive(Args)]
struct MigrationArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The migrations directory (holds `postgres/` and `sqlite/`).
    #[arg(long, value_name = "DIR", default_value = "migrations")]
    dir: PathBuf,
    /// Only this dialect (`postgres` or `sqlite`); both by default.
    #[arg(long, value_name = "DIALECT", value_parser = parse_dialect)]
    dialect: Option<Dialect>,
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Dialect::from_name(text)
        .ok_or_else(|| format!("`{text}` is not a dialect: use postgres or sqlite"))
}

fn parse_rename(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| format!("`{text}` is not OLD=NEW"))
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
    /// Generates validators even when the schema holds rules capgen does not support yet (CEL): those
    /// rules are skipped, each with a warning.
    #[arg(long)]
    allow_unsupported_rules: bool,
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
            allow_unsupported_rules: self.allow_unsupported_rules,
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
        Command::Migrate(command) => migrate_command(command),
        Command::Generate { input, out } => {
            let generated = generate(&input.input(), &input.options()?)?;
            for warning in &generated.warnings {
                eprintln!("warning: {warning}");
            }
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

fn migrate_command(command: MigrateCommand) -> Result<ExitCode, Error> {
    let failed = |error: migrate::Error| {
        say(&format!("{:?}", miette::Report::new(error)));
        Ok(ExitCode::from(1))
    };
    match command {
        MigrateCommand::Diff {
            migrations,
            name,
            renamed_from,
            allow_destructive,
        } => {
            let (_, schema) = load_schema(&migrations.input.input())?;
            let options = migrate::DiffOptions {
                name: name.clone(),
                dialects: migrations.dialect.into_iter().collect(),
                renamed_from,
                allow_destructive,
            };
            let planned = match migrate::plan(&schema, &migrations.dir, &options) {
                Ok(planned) => planned,
                Err(e) => return failed(e),
            };
            if planned.is_empty() {
                say("capgen: no schema changes; no migration written");
                return Ok(ExitCode::SUCCESS);
            }
            match migrate::write(&migrations.dir, &planned, &name) {
                Ok(written) => {
                    for path in written {
                        say(&format!("capgen: wrote {}", path.display()));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => failed(e),
            }
        }
        MigrateCommand::Check { migrations } => {
            let (_, schema) = load_schema(&migrations.input.input())?;
            let dialects: Vec<Dialect> = migrations.dialect.into_iter().collect();
            let pending = match migrate::pending(&schema, &migrations.dir, &dialects) {
                Ok(pending) => pending,
                Err(e) => return failed(e),
            };
            if pending.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            for (dialect, changes) in &pending {
                for change in changes {
                    say(&format!("{dialect}: {}", migrate::describe(change)));
                }
            }
            say(
                "capgen: the schema has changes no migration captures: run `capgen migrate diff --name <name>` with the same arguments",
            );
            Ok(ExitCode::from(1))
        }
        MigrateCommand::Sql { input, dialect } => {
            let (_, schema) = load_schema(&input.input())?;
            print!("{}", migrate::create_script(&schema, dialect));
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
