//! `run` and `timing`: one clause verdict per clause, through `run::run`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::options::{EmbeddedOpts, GateOpts, LimitOpts, ShowOpts, TargetOpts, TlsOpts, duration};
use super::{runtime, show};
use crate::error::Error;
use crate::run::{RunArgs, TimingArgs};

/// The options `run` and `timing` share.
#[derive(Args)]
pub struct CheckOpts {
    #[command(flatten)]
    at: TargetOpts,
    #[command(flatten)]
    tls: TlsOpts,
    /// The contract (default: the built-in specs/lelantos.yaml).
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Where reports go (default: reports/<UTC timestamp>/).
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Report files to write: json,junit,md,html (default: all).
    #[arg(long, value_name = "LIST")]
    format: Option<String>,
    #[command(flatten)]
    gate: GateOpts,
    #[command(flatten)]
    limits: LimitOpts,
    #[command(flatten)]
    show: ShowOpts,
    #[command(flatten)]
    embedded: EmbeddedOpts,
    /// Embedded server only: nanoseconds each matching byte costs under admin-timing-leak.
    #[arg(long, value_name = "NS")]
    leak_ns: Option<u64>,
}

impl CheckOpts {
    /// The library's options (the command's own left at their defaults), and `--verbose`.
    fn into_args(self) -> (RunArgs, bool) {
        let args = RunArgs {
            target: self.at.target,
            profile: self.at.profile,
            spec: self.spec,
            report_dir: self.report_dir,
            format: self.format,
            quiet: self.show.quiet,
            limiter: self.embedded.limiter,
            window: self.embedded.window,
            faults: self.embedded.faults,
            leak_ns: self.leak_ns,
            fail_on: self.gate.fail_on,
            max_duration: self.limits.max_duration,
            tls: self.tls.flags(),
            ..RunArgs::default()
        };
        (args, self.show.verbose)
    }
}

/// `run`.
#[derive(Args)]
pub struct RunCmd {
    #[command(flatten)]
    opts: CheckOpts,
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
    /// Seed for every generated value; a run with the same seed sends the same requests.
    #[arg(long)]
    seed: Option<u64>,
}

impl RunCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let (args, verbose) = self.opts.into_args();
        let args = RunArgs {
            scenarios: self.scenarios,
            only: self.only,
            exclude: self.exclude,
            seed: self.seed,
            ..args
        };
        Ok(show(runtime()?.block_on(crate::run::run(args))?, verbose))
    }
}

/// `timing`.
#[derive(Args)]
pub struct TimingCmd {
    #[command(flatten)]
    opts: CheckOpts,
    /// Measured requests, both batches together (default 30000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(200..))]
    samples: Option<u64>,
    /// Wall-clock limit for sampling, throttling waits included (default 60s).
    #[arg(long, value_name = "D", value_parser = duration)]
    budget: Option<Duration>,
    /// A pass needs the run to have been able to see a leak this small (default 10us).
    #[arg(long, value_name = "D", value_parser = duration)]
    max_detectable: Option<Duration>,
    /// Seed of the wrong tokens and of the order of the requests.
    #[arg(long)]
    seed: Option<u64>,
}

impl TimingCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let (args, verbose) = self.opts.into_args();
        if self.budget.is_some_and(|b| b.is_zero()) || args.window.is_some_and(|w| w.is_zero()) {
            return Err(Error::Usage(
                "--budget and --window must be longer than 0".into(),
            ));
        }
        let args = RunArgs {
            seed: self.seed,
            timing: Some(TimingArgs {
                samples: self.samples,
                budget: self.budget,
                max_detectable: self.max_detectable,
            }),
            ..args
        };
        Ok(show(runtime()?.block_on(crate::run::run(args))?, verbose))
    }
}
