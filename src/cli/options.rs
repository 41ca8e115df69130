//! Option groups several commands flatten in, and the parsers of their values.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::PossibleValue;

use crate::probe::transport::TlsFlags;
use crate::reference::{Fault, LimiterKind};

/// Which target `run`, `timing` and `load` check.
#[derive(Args)]
pub struct TargetOpts {
    /// The target's base URL; credentials come from LELANTOS_* environment variables
    /// (LELANTOS_API_KEY, LELANTOS_ADMIN_TOKEN, ...).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// A target profile (YAML): base URL, credential sources, mappings, overrides.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

/// How the target's certificate is checked (each replaces the profile's `tls:` field).
#[derive(Args)]
pub struct TlsOpts {
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
    pub fn flags(self) -> TlsFlags {
        TlsFlags {
            cacert: self.cacert,
            cert: self.cert,
            key: self.key,
            insecure: self.insecure,
        }
    }
}

/// The embedded reference server's settings (used with neither --target nor --profile).
#[derive(Args)]
pub struct EmbeddedOpts {
    /// Embedded server only: its rate-limiting algorithm.
    #[arg(long, value_enum)]
    pub limiter: Option<LimiterKind>,
    /// Embedded server only: its rate-limit window (default 2s; `timing`: 1ms, so its admin
    /// throttle stays out of the way).
    #[arg(long, value_parser = duration)]
    pub window: Option<Duration>,
    /// Embedded server only: inject a fault (repeatable), to see the harness catch it.
    #[arg(long = "fault", value_name = "NAME", value_parser = fault)]
    pub faults: Vec<Fault>,
}

/// What fails the gate.
#[derive(Args)]
pub struct GateOpts {
    /// What fails the gate (exit 1), comma-separated: must (always), should, inconclusive,
    /// skipped, and clause-id globs, e.g. --fail-on must,inconclusive,'RL-*'. Replaces the
    /// profile's fail_on.
    #[arg(long, value_name = "LIST")]
    pub fail_on: Option<String>,
}

/// How long a run may take.
#[derive(Args)]
pub struct LimitOpts {
    /// Stop the run after this long (e.g. 10m): every report is written, verdict `error`, exit 3.
    /// Default: the profile's max_duration, else five of the longest rate-limit window plus a
    /// minute (load: plus the swarm's duration).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub max_duration: Option<Duration>,
}

/// How the verdict is shown.
#[derive(Args)]
pub struct ShowOpts {
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// List every clause in a table after the verdict (default: the ones that need a reader).
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn duration(text: &str) -> Result<Duration, String> {
    crate::yaml::duration::parse(text)
}

pub fn time(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(text).map_err(|e| format!("`{text}`: {e}"))
}

pub fn fault(text: &str) -> Result<Fault, String> {
    text.parse()
}

/// `--limiter`'s values and their help, from the reference server's own names.
impl clap::ValueEnum for LimiterKind {
    fn value_variants<'a>() -> &'a [Self] {
        &LimiterKind::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.describe()))
    }
}
