//! The command line: clap's types, one `Args` per command with its own `exec`, shared option
//! groups flattened in (`options`), converted once into the library's options. The only module
//! that knows clap; `main.rs` calls [`main`].

mod check;
mod files;
mod load;
mod options;
mod serve;
mod shell;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::report::{self, RunOutcome};

#[derive(Parser)]
#[command(
    name = "lelantos-conform",
    version,
    about = "Conformance harness and load tester for the Lelantos API's authentication and rate-limit contract"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes of the commands that judge a target (README's table says more).
macro_rules! gate_exit_codes {
    () => {
        "Exit codes:
  0  every must clause that ran passed (and nothing --fail-on names occurred)
  1  a must clause failed, or a status --fail-on names occurred
  2  usage, spec, profile or scenario error, before the first request
  3  the target could not be reached or the run could not complete (every report is still written)"
    };
}

const RUN_HELP: &str = concat!(
    "Examples:
  lelantos-conform run                                   # the embedded reference server
  LELANTOS_API_KEY=... lelantos-conform run --target https://staging.example --only 'AUTH-KEY-*'
  lelantos-conform run --profile staging.yaml --cacert ca.pem --fail-on must,inconclusive

",
    gate_exit_codes!()
);

const TIMING_HELP: &str = concat!(
    "Examples:
  lelantos-conform timing                                # the embedded reference server
  LELANTOS_ADMIN_TOKEN=... lelantos-conform timing --target https://staging.example --samples 60000

",
    gate_exit_codes!()
);

const LOAD_HELP: &str = concat!(
    "Examples:
  lelantos-conform load --scenario scenarios/load-burst.yaml
  lelantos-conform load --profile staging.yaml --scenario scenarios/load-mixed.yaml --users 200 --duration 2m

",
    gate_exit_codes!()
);

#[derive(Subcommand)]
pub enum Command {
    /// Check a target against the contract: one verdict per clause, reports, an exit code to gate on.
    ///
    /// With neither --target nor --profile, starts the embedded reference server and checks it.
    #[command(after_help = RUN_HELP)]
    Run(check::RunCmd),
    /// Test statistically that the admin token is compared in constant time (AUTH-ADMIN-CONSTANT-TIME).
    ///
    /// Times admin requests with wrong tokens of the token's length (wrong first byte, wrong last
    /// byte, random) over one connection; Welch's t in two batches decides. A pass says the
    /// smallest leak the run could have seen. With neither --target nor --profile, starts the
    /// embedded reference server (1 ms windows, so its admin throttle stays out of the way).
    #[command(after_help = TIMING_HELP)]
    Timing(check::TimingCmd),
    /// Run a load scenario (a goose swarm) and judge the rate limits under concurrency.
    ///
    /// With neither --target nor --profile, starts the embedded reference server and loads it.
    #[command(after_help = LOAD_HELP)]
    Load(load::LoadCmd),
    /// Work on written reports.
    #[command(after_help = load::MERGE_HELP)]
    Report {
        #[command(subcommand)]
        what: load::ReportCmd,
    },
    /// Check files (specs, profiles, scenarios) without sending a request.
    #[command(after_help = "Examples:
  lelantos-conform validate                      # the built-in spec and scenarios
  lelantos-conform validate staging.yaml scenarios/my-checks.yaml

Exit codes:
  0  every file is valid
  2  a file is not (each problem named by file:line:column, with the line)")]
    Validate(files::ValidateCmd),
    /// Print the clauses, scenarios or faults as a table.
    #[command(after_help = "Examples:
  lelantos-conform list                 # every clause: id, level, area, title, how it is checked
  lelantos-conform list scenarios       # which scenario decides which clauses
  lelantos-conform list faults          # the reference server's faults and the clause each breaks

Exit codes:
  0  done
  2  a spec or scenario file that does not load")]
    List(files::ListCmd),
    /// Run the reference server (generated credentials; optional faults) until Ctrl-C.
    #[command(after_help = "Examples:
  lelantos-conform serve --addr 127.0.0.1:8080 --credentials-out creds.json
  lelantos-conform serve --window 2s --credentials-out creds.json --profile-out profile.yaml
  lelantos-conform serve --window 2s --fault apikey-revoked-accepted --limiter sliding

Exit codes:
  0  stopped by Ctrl-C or SIGTERM
  2  a usage error (an unknown fault, a window of 0, a credentials or profile file that cannot
     be written)
  3  the address cannot be bound")]
    Serve(serve::ServeCmd),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:
  lelantos-conform completions bash > /etc/bash_completion.d/lelantos-conform
  lelantos-conform completions zsh > \"${fpath[1]}/_lelantos-conform\"

Exit codes:
  0  done
  2  an unknown shell")]
    Completions(shell::CompletionsCmd),
    /// Write the man pages (roff): lelantos-conform.1 and one per command.
    #[command(after_help = "Examples:
  lelantos-conform man --dir /usr/local/share/man/man1
  lelantos-conform man | man -l -

Exit codes:
  0  done
  3  the folder cannot be written")]
    Man(shell::ManCmd),
}

impl Command {
    fn exec(self) -> Result<u8, Error> {
        match self {
            Command::Run(c) => c.exec(),
            Command::Timing(c) => c.exec(),
            Command::Load(c) => c.exec(),
            Command::Report { what } => what.exec(),
            Command::Validate(c) => c.exec(),
            Command::List(c) => c.exec(),
            Command::Serve(c) => c.exec(),
            Command::Completions(c) => c.exec(),
            Command::Man(c) => c.exec(),
        }
    }
}

/// Parses the command line, runs the command, prints its error: the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's own help and version are successes; every other parse error is usage (2).
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command.exec() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            match &e {
                // Each file error on its own, with its source line.
                Error::Files(errors) => errors.iter().for_each(|f| eprintln!("error: {f}")),
                e => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// The verdict table on stdout, where the reports went on stderr; the outcome's exit code.
fn show(outcome: RunOutcome, verbose: bool) -> u8 {
    let tty = std::io::stdout().is_terminal();
    let options = report::terminal::Options {
        color: report::terminal::color_enabled(tty),
        width: report::terminal::width(tty),
        verbose,
    };
    print!("{}", report::terminal::render(&outcome.report, &options));
    eprintln!("reports: {}", outcome.report_dir.display());
    if let Some((i, n)) = outcome.partial {
        eprintln!(
            "segment {i}/{n}: its verdict is partial; it completed, so it exits {}: `report merge` of all {n} parts decides",
            outcome.exit_code()
        );
    }
    outcome.exit_code()
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}
