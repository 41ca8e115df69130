//! The command line: parse, call the library, map errors to exit codes. Nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use lelantos_conform::{Error, list, spec::Spec, validate};

#[derive(Parser)]
#[command(
    name = "lelantos-conform",
    version,
    about = "Conformance harness and load tester for the Lelantos API's authentication and rate-limit contract"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files (specs, profiles, scenarios) without sending a request.
    Validate {
        /// Files to check; without any, the built-in spec.
        files: Vec<PathBuf>,
    },
    /// Print the clauses, scenarios or faults as a table.
    List {
        #[arg(value_enum, default_value = "clauses")]
        what: ListWhat,
        /// The spec to list (default: the built-in specs/lelantos.yaml).
        #[arg(long)]
        spec: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    Clauses,
    Faults,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's own help and version are successes; every other parse error is usage (2).
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Validate { files } => {
            if files.is_empty() {
                let spec = Spec::builtin();
                println!("ok: built-in spec ({} clauses)", spec.clauses.len());
            }
            let mut errors = Vec::new();
            for path in &files {
                match validate::file(path) {
                    Ok(validate::Checked::Spec { clauses }) => {
                        println!("ok: {} (spec, {clauses} clauses)", path.display())
                    }
                    Err(Error::Files(mut e)) => errors.append(&mut e),
                    Err(other) => return Err(other),
                }
            }
            if errors.is_empty() {
                Ok(0)
            } else {
                Err(Error::Files(errors))
            }
        }
        Command::List { what, spec } => {
            let spec = match spec {
                Some(path) => Spec::load(&path)?,
                None => Spec::builtin(),
            };
            match what {
                ListWhat::Clauses => println!("{}", list::clauses(&spec)),
                ListWhat::Faults => println!("{}", list::faults()),
            }
            Ok(0)
        }
    }
}
