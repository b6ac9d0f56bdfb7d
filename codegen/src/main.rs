//! `capgen`: Capacitor's command-line code generator.

use capacitor_codegen::ddl::Dialect;
use capacitor_codegen::emit::rust::RuntimePath;
use capacitor_codegen::fingerprint::{self, Fingerprint};
use capacitor_codegen::generate::{
    DtoOptions, Generated, Progress, generate, generate_with_progress, load_schema_with,
};
use capacitor_codegen::ir::Schema;
use capacitor_codegen::migrate::apply;
use capacitor_codegen::output::{stale_files, write_all};
use capacitor_codegen::pii_report::{PiiReport, Policy};
use capacitor_codegen::proto::{Input, Loaded};
use capacitor_codegen::{Error, inspect, migrate};
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
        /// Generates even when the inputs, options and outputs match the fingerprint of the last run
        /// (`DIR/.capgen-fingerprint`), which otherwise ends the run early as "up to date".
        #[arg(long)]
        force: bool,
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
        /// Generates and compares even when the fingerprint of the last `generate` shows nothing changed.
        #[arg(long)]
        force: bool,
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
    /// Writes the built-in `capacitor/v1/options.proto` and `buf/validate/validate.proto` into --out, for
    /// protoc and buf, which need the imports on their include path (`protoc-gen-capacitor`).
    #[command(after_help = "Example:\n  capgen protos --out vendor")]
    Protos {
        /// Directory to write into (created if missing).
        #[arg(long, short = 'o', value_name = "DIR")]
        out: PathBuf,
    },
    /// Prints the PII inventory: every field holding personal data, its protection, and where it is held.
    #[command(
        after_help = "Examples:\n  capgen report -I proto proto/app/v1/user.proto > docs/pii-inventory.md\n  capgen report --deny unencrypted-pii -I proto proto/app/v1/user.proto   # CI: exit 1 on plaintext PII"
    )]
    Report {
        #[command(flatten)]
        input: InputArgs,
        /// Prints JSON instead of Markdown.
        #[arg(long)]
        json: bool,
        /// Exits 1, listing every offending field on stderr, when the schema breaks this policy
        /// (`unencrypted-pii`: a PII field stored in plaintext).
        #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
        deny: Vec<Policy>,
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
    /// Applies the pending migrations of --dir's `sqlite/` or `postgres/` folder (picked by the URL's scheme).
    #[command(
        after_help = "Examples:\n  capgen migrate run --database-url sqlite:app.db\n  DATABASE_URL=postgres://app@db/shop capgen migrate run --dir migrations"
    )]
    Run {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Lists every migration with its state (applied, pending, edited, dirty); exits 1 on a problem.
    #[command(after_help = "Example:\n  capgen migrate status --database-url sqlite:app.db")]
    Status {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Reverts the last applied migration with its down script (or every one after --target-version).
    #[command(after_help = "Example:\n  capgen migrate revert --database-url sqlite:app.db")]
    Revert {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Reverts every applied migration newer than this version (0: all of them).
        #[arg(long, value_name = "VERSION")]
        target_version: Option<i64>,
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

#[derive(Args)]
struct DatabaseArgs {
    /// The database: `sqlite:path/app.db` or `postgres://user@host:port/db` (its password is never printed).
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The migrations directory (holds `postgres/` and `sqlite/`).
    #[arg(long, value_name = "DIR", default_value = "migrations")]
    dir: PathBuf,
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Dialect::from_name(text)
        .ok_or_else(|| format!("`{text}` is not a dialect: use postgres or sqlite"))
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    [Policy::UnencryptedPii]
        .into_iter()
        .find(|p| p.name() == text)
        .ok_or_else(|| format!("`{text}` is not a policy: use unencrypted-pii"))
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
    /// Reads a serialized FileDescriptorSet instead of .proto files (protoc's --descriptor_set_in). FILES
    /// then name the set's files to generate by import name (`app/v1/user.proto`); none: every file.
    #[arg(long, value_name = "FILE")]
    descriptor_set_in: Option<PathBuf>,
    /// Path the generated code uses for the runtime crate, for re-exports.
    #[arg(long, value_name = "PATH", default_value = "::capacitor")]
    runtime_crate: String,
    /// Generates validators even when the schema holds message or oneof rules capgen does not know: those
    /// rules are skipped, each with a warning (CEL rules are compiled, never skipped).
    #[arg(long)]
    allow_unsupported_rules: bool,
    /// buf or protoc 27+ to compile editions sources with (protox cannot parse them); default: one on PATH.
    #[arg(long, value_name = "PATH")]
    editions_compiler: Option<PathBuf>,
    /// The .proto files to compile (with --descriptor-set-in: the set's files to generate).
    #[arg(value_name = "FILES", required_unless_present = "descriptor_set_in")]
    files: Vec<PathBuf>,
}

impl InputArgs {
    fn input(&self) -> Result<Input, Error> {
        Ok(match &self.descriptor_set_in {
            Some(path) if self.files.is_empty() => Input::DescriptorSet { path: path.clone() },
            // A subset of the set: generate the named files only, as a protoc plugin request does.
            Some(path) => Input::DescriptorSetBytes {
                bytes: std::fs::read(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?,
                generate: self
                    .files
                    .iter()
                    .map(|f| f.to_string_lossy().replace('\\', "/"))
                    .collect(),
                origin: path.clone(),
            },
            None => Input::Files {
                includes: self.include_path(),
                files: self.files.clone(),
            },
        })
    }

    /// The include path imports resolve through: with no -I, the current directory, as protoc does; with a
    /// descriptor set, none.
    fn include_path(&self) -> Vec<PathBuf> {
        match (&self.descriptor_set_in, self.includes.is_empty()) {
            (Some(_), _) => Vec::new(),
            (None, true) => vec![PathBuf::from(".")],
            (None, false) => self.includes.clone(),
        }
    }

    /// The tool and every argument that shapes the output, for the fingerprint; `None` when capgen cannot
    /// identify its own executable (then every run generates).
    fn fingerprint_key(&self) -> Option<String> {
        let InputArgs {
            includes,
            descriptor_set_in,
            runtime_crate,
            allow_unsupported_rules,
            editions_compiler,
            files,
        } = self;
        Some(format!(
            "{}; includes {includes:?}; descriptor set {descriptor_set_in:?}; runtime crate {runtime_crate}; \
             allow unsupported rules {allow_unsupported_rules}; editions compiler {editions_compiler:?}; \
             files {files:?}",
            fingerprint::tool_identity()?
        ))
    }

    /// The fingerprint kept in `out` when it shows that generating again would change nothing.
    fn unchanged_since_last_run(&self, out: &Path) -> Option<Fingerprint> {
        let key = self.fingerprint_key()?;
        Fingerprint::load(out).filter(|last| last.is_current(&key, &self.include_path(), out))
    }

    /// Records what this run read and wrote in `out`, so that the next run can end early.
    fn record_fingerprint(&self, out: &Path, generated: &Generated) -> Result<(), Error> {
        let Some(key) = self.fingerprint_key() else {
            return Ok(());
        };
        let also_read: Vec<PathBuf> = self.descriptor_set_in.iter().cloned().collect();
        let fingerprint = Fingerprint::record(key, generated, &also_read)?;
        write_all(out, &[fingerprint.to_file()])?;
        Ok(())
    }

    fn options(&self) -> Result<DtoOptions, Error> {
        let runtime = RuntimePath::parse(&self.runtime_crate).map_err(|reason| Error::Config {
            option: "--runtime-crate",
            reason,
        })?;
        Ok(DtoOptions {
            runtime,
            allow_unsupported_rules: self.allow_unsupported_rules,
            editions_compiler: self.editions_compiler.clone(),
            ..DtoOptions::default()
        })
    }

    /// The checked schema, for the commands that read only the IR.
    fn load(&self) -> Result<(Loaded, Schema), Error> {
        load_schema_with(&self.input()?, self.editions_compiler.as_deref())
    }
}

/// Generates, showing progress on stderr when it is a terminal (a long run over thousands of files otherwise
/// looks hung).
fn generate_showing_progress(input: &InputArgs) -> Result<Generated, Error> {
    let (input, options) = (input.input()?, input.options()?);
    if !std::io::stderr().is_terminal() {
        return generate(&input, &options);
    }
    let mut shown = TerminalProgress::default();
    let generated = generate_with_progress(&input, &options, &mut |step| shown.show(step));
    shown.clear();
    generated
}

/// One line on the terminal, rewritten at most ten times a second.
#[derive(Default)]
struct TerminalProgress {
    last: Option<Instant>,
    shown: bool,
}

impl TerminalProgress {
    fn show(&mut self, step: Progress<'_>) {
        let last_of_its_kind = match step {
            Progress::Loading { done, total } => done == total,
            Progress::Emitting { done, total, .. } => done == total,
            _ => true,
        };
        if !last_of_its_kind
            && self
                .last
                .is_some_and(|at| at.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(Instant::now());
        let line = match step {
            Progress::Loading { done, total } => format!("capgen: compiling {done}/{total} files"),
            Progress::Loaded { files } => {
                format!("capgen: compiled {files} files (imports included), checking")
            }
            Progress::Emitting {
                done,
                total,
                package,
            } => format!("capgen: emitting {done}/{total} packages ({package})"),
            _ => return,
        };
        // `\r` and "erase to end of line": the line is rewritten in place.
        eprint!("\r{line}\x1b[K");
        self.shown = true;
    }

    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
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
        Command::Generate { input, out, force } => {
            if !force && let Some(last) = input.unchanged_since_last_run(&out) {
                for warning in &last.warnings {
                    eprintln!("warning: {warning}");
                }
                say(&format!(
                    "capgen: {} file(s) in {} up to date (inputs, options and outputs unchanged)",
                    last.written.len(),
                    out.display()
                ));
                return Ok(ExitCode::SUCCESS);
            }
            let generated = generate_showing_progress(&input)?;
            for warning in &generated.warnings {
                eprintln!("warning: {warning}");
            }
            let written = write_all(&out, &generated.files)?;
            input.record_fingerprint(&out, &generated)?;
            say(&format!(
                "capgen: {} file(s) generated in {} ({} changed)",
                generated.files.len(),
                out.display(),
                written.len()
            ));
            // The process ends here: freeing the schema and every file's text one allocation at a time took
            // seconds over googleapis, for memory the exit returns anyway.
            std::mem::forget(generated);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { input, out, force } => {
            if !force && input.unchanged_since_last_run(&out).is_some() {
                return Ok(ExitCode::SUCCESS);
            }
            let generated = generate_showing_progress(&input)?;
            let stale = stale_files(&out, &generated.files);
            // As in `generate`: the process ends here, so the exit frees it all at once.
            std::mem::forget(generated);
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
        Command::Protos { out } => {
            let files = capacitor_codegen::proto::EmbeddedFiles::as_files();
            write_all(&out, &files)?;
            say(&format!(
                "capgen: {} proto file(s) written in {}",
                files.len(),
                out.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { input, json } => {
            let (_, schema) = input.load()?;
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
        Command::Report { input, json, deny } => {
            let (_, schema) = input.load()?;
            let report = PiiReport::new(&schema);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("the report serializes")
                );
            } else {
                print!("{}", report.to_markdown());
            }
            let mut denied = 0;
            for policy in deny {
                for violation in report.violations(policy) {
                    say(&format!("denied ({}): {violation}", policy.name()));
                    denied += 1;
                }
            }
            if denied > 0 {
                say(&format!("capgen: {denied} field(s) break a --deny policy"));
                return Ok(ExitCode::from(1));
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
            let (_, schema) = migrations.input.load()?;
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
            let (_, schema) = migrations.input.load()?;
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
        MigrateCommand::Run { database: db } => Ok(block_on(async {
            let applied = apply::run(&db.database_url, &db.dir).await?;
            for m in &applied {
                say(&format!("capgen: applied {} {}", m.version, m.description));
            }
            say(&format!("capgen: {} migration(s) applied", applied.len()));
            Ok(ExitCode::SUCCESS)
        })),
        MigrateCommand::Status { database: db } => Ok(block_on(async {
            let states = apply::status(&db.database_url, &db.dir).await?;
            for m in &states {
                println!(
                    "{:>6}  {:<40}  {}",
                    m.version,
                    m.description,
                    m.state.label()
                );
            }
            let problems = states.iter().filter(|m| m.state.is_problem()).count();
            let pending = states
                .iter()
                .filter(|m| m.state == apply::State::Pending)
                .count();
            say(&format!(
                "capgen: {} migration(s), {pending} pending, {problems} problem(s)",
                states.len()
            ));
            Ok(ExitCode::from(u8::from(problems > 0)))
        })),
        MigrateCommand::Revert {
            database: db,
            target_version,
        } => Ok(block_on(async {
            let reverted = apply::revert(&db.database_url, &db.dir, target_version).await?;
            for m in &reverted {
                say(&format!("capgen: reverted {} {}", m.version, m.description));
            }
            say(&format!("capgen: {} migration(s) reverted", reverted.len()));
            Ok(ExitCode::SUCCESS)
        })),
        MigrateCommand::Sql { input, dialect } => {
            let (_, schema) = input.load()?;
            print!("{}", migrate::create_script(&schema, dialect));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs one database command on a small runtime; its error is printed with what to do, and exits 1.
fn block_on(command: impl Future<Output = Result<ExitCode, apply::ApplyError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            say(&format!("capgen: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(error) => {
            say(&format!("{:?}", miette::Report::new(error)));
            ExitCode::from(1)
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
