//! The command line: parse, call the library, map errors to exit codes. Nothing else.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use lelantos_conform::reference::{self, Fault, LimiterKind, ServeOptions};
use lelantos_conform::run::{RunArgs, TimingArgs};
use lelantos_conform::{Error, list, plural, report, spec::Spec, validate};
use std::io::IsTerminal as _;

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

/// The exit codes of the commands that judge a target (DESIGN.md; README's table says more).
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
enum Command {
    /// Check a target against the contract: one verdict per clause, reports, an exit code to gate on.
    ///
    /// With neither --target nor --profile, starts the embedded reference server and checks it.
    #[command(after_help = RUN_HELP)]
    Run {
        #[command(flatten)]
        at: TargetOpts,
        #[command(flatten)]
        tls: TlsOpts,
        /// The contract (default: the built-in specs/lelantos.yaml).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// Scenario files or directories (repeatable; default: the built-in scenarios); a built-in
        /// file by name: builtin:api-keys.
        #[arg(long, value_name = "PATH")]
        scenarios: Vec<PathBuf>,
        /// Only clauses whose id matches this glob, e.g. 'RL-*'; several, comma-separated.
        #[arg(long, value_name = "GLOB")]
        only: Option<String>,
        /// Leave out clauses whose id matches this glob (after --only), e.g. 'AUTH-ADMIN-*';
        /// several, comma-separated.
        #[arg(long, value_name = "GLOB")]
        exclude: Option<String>,
        /// Where reports go (default: reports/<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Report files to write: json,junit,md,html (default: all).
        #[arg(long, value_name = "LIST")]
        format: Option<String>,
        /// Seed for every generated value; a run with the same seed sends the same requests.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        gate: GateOpts,
        #[command(flatten)]
        limits: LimitOpts,
        /// No progress display.
        #[arg(long, short)]
        quiet: bool,
        /// List every clause in a table after the verdict (default: the ones that need a reader).
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        embedded: EmbeddedOpts,
        /// Embedded server only: nanoseconds each matching byte costs under admin-timing-leak.
        #[arg(long, value_name = "NS")]
        leak_ns: Option<u64>,
    },
    /// Test statistically that the admin token is compared in constant time (AUTH-ADMIN-CONSTANT-TIME).
    ///
    /// Times admin requests with wrong tokens of the token's length (wrong first byte, wrong last
    /// byte, random) over one connection; Welch's t in two batches decides. A pass says the
    /// smallest leak the run could have seen. With neither --target nor --profile, starts the
    /// embedded reference server (1 ms windows, so its admin throttle stays out of the way).
    #[command(after_help = TIMING_HELP)]
    Timing {
        #[command(flatten)]
        at: TargetOpts,
        #[command(flatten)]
        tls: TlsOpts,
        /// The contract (default: the built-in specs/lelantos.yaml).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// Measured requests, both batches together (default 30000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(200..))]
        samples: Option<u64>,
        /// Wall-clock limit for sampling, throttling waits included (default 60s).
        #[arg(long, value_name = "D", value_parser = parse_duration)]
        budget: Option<Duration>,
        /// A pass needs the run to have been able to see a leak this small (default 10us).
        #[arg(long, value_name = "D", value_parser = parse_duration)]
        max_detectable: Option<Duration>,
        /// Where reports go (default: reports/<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Report files to write: json,junit,md,html (default: all).
        #[arg(long, value_name = "LIST")]
        format: Option<String>,
        /// Seed of the wrong tokens and of the order of the requests.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        gate: GateOpts,
        #[command(flatten)]
        limits: LimitOpts,
        /// No progress display.
        #[arg(long, short)]
        quiet: bool,
        /// List every clause in a table after the verdict (default: the ones that need a reader).
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        embedded: EmbeddedOpts,
        /// Embedded server only: nanoseconds each matching byte costs under admin-timing-leak.
        #[arg(long, value_name = "NS")]
        leak_ns: Option<u64>,
    },
    /// Run a load scenario (a goose swarm) and judge the rate limits under concurrency.
    ///
    /// With neither --target nor --profile, starts the embedded reference server and loads it.
    #[command(after_help = LOAD_HELP)]
    Load {
        #[command(flatten)]
        at: TargetOpts,
        #[command(flatten)]
        tls: TlsOpts,
        /// The load scenario: a file, or a built-in one by name (load-burst, load-mixed, ...;
        /// `list scenarios` shows them).
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// The contract (default: the built-in specs/lelantos.yaml).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// Concurrent users (default: the scenario's; not with a scenario `plan`).
        #[arg(long, value_name = "N")]
        users: Option<usize>,
        /// How long the swarm runs (default: the scenario's; not with a `plan`), e.g. 30s.
        #[arg(long, value_parser = parse_duration, value_name = "D")]
        duration: Option<Duration>,
        /// Where reports go (default: reports/<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// No progress display.
        #[arg(long, short)]
        quiet: bool,
        /// List every clause in a table after the verdict (default: the ones that need a reader).
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        embedded: EmbeddedOpts,
        /// Run segment I of N (0-based): its share of users and identities; merge the parts'
        /// reports with `report merge`.
        #[arg(long, value_name = "I/N", value_parser = lelantos_conform::load::parse_segment)]
        segment: Option<(usize, usize)>,
        /// Start the swarm at this instant (RFC 3339, e.g. 2026-01-01T00:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        start_at: Option<std::time::SystemTime>,
        #[command(flatten)]
        gate: GateOpts,
        #[command(flatten)]
        limits: LimitOpts,
    },
    /// Work on written reports.
    #[command(after_help = MERGE_HELP)]
    Report {
        #[command(subcommand)]
        what: ReportCommand,
    },
    /// Check files (specs, profiles, scenarios) without sending a request.
    #[command(after_help = "Examples:
  lelantos-conform validate                      # the built-in spec and scenarios
  lelantos-conform validate staging.yaml scenarios/my-checks.yaml

Exit codes:
  0  every file is valid
  2  a file is not (each problem named by file:line:column, with the line)")]
    Validate {
        /// Files to check; without any, the built-in spec and scenarios.
        files: Vec<PathBuf>,
        /// The spec scenario files and profiles are checked against.
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
    },
    /// Print the clauses, scenarios or faults as a table.
    #[command(after_help = "Examples:
  lelantos-conform list                 # every clause: id, level, area, title, how it is checked
  lelantos-conform list scenarios       # which scenario decides which clauses
  lelantos-conform list faults          # the reference server's faults and the clause each breaks

Exit codes:
  0  done
  2  a spec or scenario file that does not load")]
    List {
        #[arg(value_enum, default_value = "clauses")]
        what: ListWhat,
        /// The spec to list (default: the built-in specs/lelantos.yaml).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Scenario files or directories (default: the built-in scenarios).
        #[arg(long, value_name = "PATH")]
        scenarios: Vec<PathBuf>,
    },
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
    Serve {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Replace every rate-limit category's window (limits unchanged), e.g. 2s.
        #[arg(long, value_parser = parse_duration)]
        window: Option<Duration>,
        /// Break one documented behaviour (repeatable); `list faults` shows them.
        #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault)]
        faults: Vec<Fault>,
        /// Write the generated credentials as JSON to this file (mode 0600).
        #[arg(long, value_name = "FILE")]
        credentials_out: Option<PathBuf>,
        /// Also write a target profile for this server (base URL, the credentials read from
        /// --credentials-out, the --window): `run --profile FILE` then judges its windows.
        #[arg(long, value_name = "FILE", requires = "credentials_out")]
        profile_out: Option<PathBuf>,
        /// Also write the credentials as shell `export` lines (mode 0600) under the variables
        /// replay lines read: `. ./FILE` makes a report's curl lines replay against this server.
        #[arg(long, value_name = "FILE")]
        env_out: Option<PathBuf>,
        /// Generate the credentials and fixtures from this seed: `serve --seed` with a run's
        /// seed gives that run's embedded server back (its report says the whole command).
        #[arg(long)]
        seed: Option<u64>,
        /// The rate-limiting algorithm.
        #[arg(long, value_enum, default_value = "fixed")]
        limiter: LimiterKind,
        /// Nanoseconds each matching byte costs under the admin-timing-leak fault.
        #[arg(long, default_value_t = 1000)]
        leak_ns: u64,
        /// Provision this many extra API keys (credentials file: extra_api_keys), for load tests.
        #[arg(long, default_value_t = 0)]
        identities: usize,
        /// The spec to serve (default: the built-in specs/lelantos.yaml).
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:
  lelantos-conform completions bash > /etc/bash_completion.d/lelantos-conform
  lelantos-conform completions zsh > \"${fpath[1]}/_lelantos-conform\"

Exit codes:
  0  done
  2  an unknown shell")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (roff): lelantos-conform.1 and one per command.
    #[command(after_help = "Examples:
  lelantos-conform man --dir /usr/local/share/man/man1
  lelantos-conform man | man -l -

Exit codes:
  0  done
  3  the folder cannot be written")]
    Man {
        /// Write every page into this folder; without it, the main page goes to stdout.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Which target `run`, `timing` and `load` check.
#[derive(Args)]
struct TargetOpts {
    /// The target's base URL; credentials come from LELANTOS_* environment variables
    /// (LELANTOS_API_KEY, LELANTOS_ADMIN_TOKEN, ...).
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// A target profile (YAML): base URL, credential sources, mappings, overrides.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
}

/// How the target's certificate is checked (each replaces the profile's `tls:` field).
#[derive(Args)]
struct TlsOpts {
    /// PEM file of CA certificates added to the platform's roots (a self-signed server
    /// certificate may be given as its own CA, as with curl).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM) to present; its key from --key, else from the same file.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM file).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Do not verify the target's certificate (a warning, and recorded in every report).
    #[arg(long, short = 'k')]
    insecure: bool,
}

impl TlsOpts {
    fn flags(self) -> lelantos_conform::probe::transport::TlsFlags {
        lelantos_conform::probe::transport::TlsFlags {
            cacert: self.cacert,
            cert: self.cert,
            key: self.key,
            insecure: self.insecure,
        }
    }
}

/// The embedded reference server's settings (used with neither --target nor --profile).
#[derive(Args)]
struct EmbeddedOpts {
    /// Embedded server only: its rate-limiting algorithm.
    #[arg(long, value_enum)]
    limiter: Option<LimiterKind>,
    /// Embedded server only: its rate-limit window (default 2s; `timing`: 1ms, so its admin
    /// throttle stays out of the way).
    #[arg(long, value_parser = parse_duration)]
    window: Option<Duration>,
    /// Embedded server only: inject a fault (repeatable), to see the harness catch it.
    #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault)]
    faults: Vec<Fault>,
}

/// What fails the gate.
#[derive(Args)]
struct GateOpts {
    /// What fails the gate (exit 1), comma-separated: must (always), should, inconclusive,
    /// skipped, and clause-id globs, e.g. --fail-on must,inconclusive,'RL-*'. Replaces the
    /// profile's fail_on.
    #[arg(long, value_name = "LIST")]
    fail_on: Option<String>,
}

/// How long a run may take.
#[derive(Args)]
struct LimitOpts {
    /// Stop the run after this long (e.g. 10m): every report is written, verdict `error`, exit 3.
    /// Default: the profile's max_duration, else five of the longest rate-limit window plus a
    /// minute (load: plus the swarm's duration).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_duration: Option<Duration>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    lelantos_conform::yaml::duration::parse(text)
}

const MERGE_HELP: &str = "Examples:
  lelantos-conform report merge reports/seg-0 reports/seg-1 --report-dir reports/merged

Exit codes:
  0  every must clause that ran passed (and nothing --fail-on names occurred)
  1  a must clause failed, or a status --fail-on names occurred
  2  a part that does not load, or parts of different swarms
  3  a segment's run could not complete";

#[derive(Subcommand)]
enum ReportCommand {
    /// Merge the load.json of the segments of one distributed swarm into one report (exact:
    /// counts, histograms and admission accounting are recomputed from the parts' raw data).
    #[command(after_help = MERGE_HELP)]
    Merge {
        /// Report directories of the segments, each holding a load.json.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged reports go (default: reports/<UTC timestamp>/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        #[command(flatten)]
        gate: GateOpts,
        /// List every clause in a table after the verdict.
        #[arg(long, short)]
        verbose: bool,
    },
}

fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(text).map_err(|e| format!("`{text}`: {e}"))
}

fn parse_fault(text: &str) -> Result<Fault, String> {
    text.parse()
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    Clauses,
    Scenarios,
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
            match &e {
                // Each file error on its own, with its source line.
                Error::Files(errors) => errors.iter().for_each(|f| eprintln!("error: {f}")),
                e => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Run {
            at,
            tls,
            spec,
            scenarios,
            only,
            exclude,
            report_dir,
            format,
            seed,
            gate,
            limits,
            quiet,
            verbose,
            embedded,
            leak_ns,
        } => {
            let args = RunArgs {
                exclude,
                fail_on: gate.fail_on,
                max_duration: limits.max_duration,
                target: at.target,
                profile: at.profile,
                spec,
                scenarios,
                only,
                report_dir,
                format,
                seed,
                quiet,
                limiter: embedded.limiter,
                window: embedded.window,
                faults: embedded.faults,
                leak_ns,
                timing: None,
                tls: tls.flags(),
            };
            Ok(show(
                runtime()?.block_on(lelantos_conform::run::run(args))?,
                verbose,
            ))
        }
        Command::Timing {
            at,
            tls,
            spec,
            samples,
            budget,
            max_detectable,
            report_dir,
            format,
            seed,
            gate,
            limits,
            quiet,
            verbose,
            embedded,
            leak_ns,
        } => {
            let window = embedded.window;
            if budget.is_some_and(|b| b.is_zero()) || window.is_some_and(|w| w.is_zero()) {
                return Err(Error::Usage(
                    "--budget and --window must be longer than 0".into(),
                ));
            }
            let args = RunArgs {
                target: at.target,
                profile: at.profile,
                spec,
                report_dir,
                format,
                seed,
                quiet,
                limiter: embedded.limiter,
                window,
                faults: embedded.faults,
                leak_ns,
                timing: Some(TimingArgs {
                    samples,
                    budget,
                    max_detectable,
                }),
                fail_on: gate.fail_on,
                max_duration: limits.max_duration,
                tls: tls.flags(),
                ..RunArgs::default()
            };
            Ok(show(
                runtime()?.block_on(lelantos_conform::run::run(args))?,
                verbose,
            ))
        }
        Command::Load {
            at,
            tls,
            scenario,
            spec,
            users,
            duration,
            report_dir,
            quiet,
            verbose,
            embedded,
            segment,
            start_at,
            gate,
            limits,
        } => {
            let args = lelantos_conform::load::LoadArgs {
                spec,
                fail_on: gate.fail_on,
                max_duration: limits.max_duration,
                segment,
                start_at,
                target: at.target,
                profile: at.profile,
                scenario,
                users,
                duration,
                report_dir,
                quiet,
                limiter: embedded.limiter,
                window: embedded.window,
                faults: embedded.faults,
                tls: tls.flags(),
            };
            Ok(show(
                runtime()?.block_on(lelantos_conform::load::run(args))?,
                verbose,
            ))
        }
        Command::Report {
            what:
                ReportCommand::Merge {
                    dirs,
                    report_dir,
                    gate,
                    verbose,
                },
        } => Ok(show(
            lelantos_conform::load::merge::merge(&dirs, report_dir, gate.fail_on.as_deref())?,
            verbose,
        )),
        Command::Validate { files, spec } => {
            let spec = lelantos_conform::spec::load_spec(spec.as_deref())?;
            if files.is_empty() {
                let scenarios = lelantos_conform::scenario::builtin(&spec)?;
                println!(
                    "ok: spec ({}), {}",
                    plural::count(spec.clauses.len() as u64, "clause"),
                    plural::count(scenarios.len() as u64, "built-in scenario")
                );
                return Ok(0);
            }
            let mut errors = Vec::new();
            for path in &files {
                match validate::file(path, &spec) {
                    Ok(checked) => println!("ok: {} ({})", path.display(), checked.describe()),
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
        Command::List {
            what,
            spec,
            scenarios,
        } => {
            let spec = lelantos_conform::spec::load_spec(spec.as_deref())?;
            match what {
                ListWhat::Clauses => println!("{}", list::clauses(&spec)),
                ListWhat::Scenarios => {
                    let loaded = lelantos_conform::run::load_scenarios(&scenarios, &spec)?;
                    println!("{}", list::scenarios(&loaded))
                }
                ListWhat::Faults => println!("{}", list::faults()),
            }
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "lelantos-conform", &mut script);
            print_all(&script)
        }
        Command::Man { dir } => man(dir),
        Command::Serve {
            addr,
            window,
            faults,
            credentials_out,
            profile_out,
            env_out,
            seed,
            limiter,
            leak_ns,
            identities,
            spec,
        } => {
            let spec = match spec {
                Some(path) => Spec::load(&path)?,
                None => Spec::builtin(),
            };
            if window.is_some_and(|w| w.is_zero()) {
                return Err(Error::Usage("--window must be longer than 0".into()));
            }
            let opts = ServeOptions {
                addr,
                window,
                limiter,
                faults,
                leak_ns,
                identities,
                seed,
            };
            reference::tune_allocator();
            let files = ServeFiles {
                credentials: credentials_out,
                profile: profile_out,
                env: env_out,
            };
            runtime()?.block_on(serve(Arc::new(spec), opts, files))
        }
    }
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is no error.
fn print_all(bytes: &[u8]) -> Result<u8, Error> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write to stdout", e))
        }
        _ => Ok(0),
    }
}

/// `man`: the main page on stdout, or every page (one per command) into a folder.
fn man(dir: Option<PathBuf>) -> Result<u8, Error> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| Error::io("cannot render the man page", e))?;
        return print_all(&page);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    clap_mangen::generate_to(cmd, &dir).map_err(|e| {
        Error::io(
            format!("cannot write the man pages into {}", dir.display()),
            e,
        )
    })?;
    Ok(0)
}

/// The verdict table on stdout, where the reports went on stderr; the outcome's exit code.
fn show(outcome: lelantos_conform::report::RunOutcome, verbose: bool) -> u8 {
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

/// Where `serve` writes what it generated.
struct ServeFiles {
    credentials: Option<PathBuf>,
    profile: Option<PathBuf>,
    env: Option<PathBuf>,
}

/// `serve`: start, write the credentials (only to the 0600 file: never to the terminal), say
/// where it listens, run until Ctrl-C or SIGTERM.
/// With `--profile-out`, a profile for it beside them; with `--env-out`, `export` lines.
async fn serve(spec: Arc<Spec>, opts: ServeOptions, files: ServeFiles) -> Result<u8, Error> {
    let window = opts.window;
    let mut server = reference::start(spec, opts).await?;
    if let Some(path) = &files.credentials {
        reference::write_credentials(path, &server.credentials)?;
        if let Some(profile) = &files.profile {
            reference::write_profile(profile, &server.credentials.base_url, path, window)?;
        }
    }
    if let Some(path) = &files.env {
        reference::write_env(path, &server.credentials)?;
    }
    // The extra keys are in the file; the server keeps only their digests.
    server.credentials.extra_api_keys = Vec::new();
    reference::release_free_memory();
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{}", server.addr);
    let _ = stdout.flush();
    let server = Arc::new(tokio::sync::Mutex::new(Some(server)));
    let report = {
        let server = server.clone();
        tokio::spawn(async move {
            // A line on stderr when the limiter's state count moves a lot (load tests watch it).
            let mut last = 0usize;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let guard = server.lock().await;
                let Some(s) = guard.as_ref() else { return };
                let now = s.limiter_states();
                if now != last && now.max(last) >= 1000 {
                    eprintln!("limiter: {now} identity states");
                }
                last = now;
            }
        })
    };
    lelantos_conform::stop::signal().await;
    report.abort();
    if let Some(s) = server.lock().await.take() {
        s.shutdown().await;
    }
    Ok(0)
}
