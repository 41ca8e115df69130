//! `load` (a goose swarm, judged) and `report merge` (the parts of a distributed one).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};

use super::options::{
    EmbeddedOpts, GateOpts, LimitOpts, ShowOpts, TargetOpts, TlsOpts, duration, time,
};
use super::{runtime, show};
use crate::error::Error;
use crate::load::{LoadArgs, parse_segment};

/// `load`.
#[derive(Args)]
pub struct LoadCmd {
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
    #[arg(long, value_parser = duration, value_name = "D")]
    duration: Option<Duration>,
    /// Where reports go (default: reports/<UTC timestamp>/).
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    #[command(flatten)]
    show: ShowOpts,
    #[command(flatten)]
    embedded: EmbeddedOpts,
    /// Run segment I of N (0-based): its share of users and identities; merge the parts'
    /// reports with `report merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_segment)]
    segment: Option<(usize, usize)>,
    /// Start the swarm at this instant (RFC 3339, e.g. 2026-01-01T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = time)]
    start_at: Option<SystemTime>,
    #[command(flatten)]
    gate: GateOpts,
    #[command(flatten)]
    limits: LimitOpts,
}

impl LoadCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let args = LoadArgs {
            spec: self.spec,
            fail_on: self.gate.fail_on,
            max_duration: self.limits.max_duration,
            segment: self.segment,
            start_at: self.start_at,
            target: self.at.target,
            profile: self.at.profile,
            scenario: self.scenario,
            users: self.users,
            duration: self.duration,
            report_dir: self.report_dir,
            quiet: self.show.quiet,
            limiter: self.embedded.limiter,
            window: self.embedded.window,
            faults: self.embedded.faults,
            tls: self.tls.flags(),
        };
        Ok(show(
            runtime()?.block_on(crate::load::run(args))?,
            self.show.verbose,
        ))
    }
}

pub const MERGE_HELP: &str = "Examples:
  lelantos-conform report merge reports/seg-0 reports/seg-1 --report-dir reports/merged

Exit codes:
  0  every must clause that ran passed (and nothing --fail-on names occurred)
  1  a must clause failed, or a status --fail-on names occurred
  2  a part that does not load, or parts of different swarms
  3  a segment's run could not complete";

/// `report ...`.
#[derive(Subcommand)]
pub enum ReportCmd {
    /// Merge the load.json of the segments of one distributed swarm into one report (exact:
    /// counts, histograms and admission accounting are recomputed from the parts' raw data).
    #[command(after_help = MERGE_HELP)]
    Merge(MergeCmd),
}

impl ReportCmd {
    pub fn exec(self) -> Result<u8, Error> {
        match self {
            ReportCmd::Merge(m) => m.exec(),
        }
    }
}

/// `report merge`.
#[derive(Args)]
pub struct MergeCmd {
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
}

impl MergeCmd {
    fn exec(self) -> Result<u8, Error> {
        let outcome =
            crate::load::merge::merge(&self.dirs, self.report_dir, self.gate.fail_on.as_deref())?;
        Ok(show(outcome, self.verbose))
    }
}
