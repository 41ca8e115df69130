//! `run`: load and validate everything, resolve the target (starting the embedded reference
//! server when none is given), execute the scenarios, judge, and write the reports. A report is
//! written whatever happens after loading: a dead target or Ctrl-C gives `verdict: error` with
//! what was judged so far.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::check;
use crate::engine::{self, Collected};
use crate::error::Error;
use crate::gate::FailOn;
use crate::probe::Probe;
use crate::profile::{Role, Target};
use crate::reference::{self, LimiterKind, ServeOptions};
use crate::report::{self, Format, RunReport, TargetInfo, Tool};
use crate::scenario::{self, Loaded};
use crate::spec::Spec;
use crate::verdict::{self, RunVerdict};

/// The spec's area of clauses only a load swarm decides (`run` leaves them out).
pub const LOAD_AREA: &str = "load";

/// The window of the embedded reference server: short, so a newcomer's run takes seconds.
pub const EMBEDDED_WINDOW: Duration = Duration::from_secs(2);

/// The embedded server's window for the `timing` command. The reference server throttles failed
/// admin attempts per client address with the general limit (100 per window), and every timing
/// request is a failed attempt: with 1 ms windows the throttle admits 100 000 a second, more than
/// one sequential connection can send, so it never interrupts the measurement. (The throttle is
/// `run`'s business, AUTH-ADMIN-THROTTLED; against a real target the timing test paces by
/// Retry-After instead, and needs a budget to match.)
pub const TIMING_EMBEDDED_WINDOW: Duration = Duration::from_millis(1);

/// The built-in scenario the `timing` command runs (its settings overridden from the command line).
pub const TIMING_SCENARIO: &str = "admin-timing.yaml#admin-constant-time";

#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub target: Option<String>,
    pub profile: Option<PathBuf>,
    pub spec: Option<PathBuf>,
    pub scenarios: Vec<PathBuf>,
    pub only: Option<String>,
    pub report_dir: Option<PathBuf>,
    pub format: Option<String>,
    pub seed: Option<u64>,
    pub quiet: bool,
    /// Embedded server only: its rate-limit algorithm, window and faults.
    pub limiter: Option<LimiterKind>,
    pub window: Option<Duration>,
    pub faults: Vec<reference::Fault>,
    /// Embedded server only: the cost of one matching byte under `admin-timing-leak`.
    pub leak_ns: Option<u64>,
    /// Set by the `timing` command: run only the timing scenario, with these settings.
    pub timing: Option<TimingArgs>,
    /// `--fail-on`: replaces the profile's `fail_on:` (default `must`).
    pub fail_on: Option<String>,
}

/// The `timing` command's settings; what is not given comes from `timing::Settings::default()`
/// (not from the scenario file, whose budget is sized for `run`).
#[derive(Debug, Clone, Default)]
pub struct TimingArgs {
    pub samples: Option<u64>,
    pub budget: Option<Duration>,
    pub max_detectable: Option<Duration>,
}

pub struct RunOutcome {
    pub report: RunReport,
    pub report_dir: PathBuf,
    pub written: Vec<PathBuf>,
}

impl RunOutcome {
    pub fn exit_code(&self) -> u8 {
        match self.report.verdict {
            RunVerdict::Pass => 0,
            RunVerdict::Fail => 1,
            RunVerdict::Error => 3,
        }
    }
}

/// Loads the spec: the file given, or the built-in one.
pub fn load_spec(path: Option<&Path>) -> Result<Spec, Error> {
    match path {
        Some(p) => Spec::load(p),
        None => Ok(Spec::builtin()),
    }
}

pub fn load_scenarios(paths: &[PathBuf], spec: &Spec) -> Result<Vec<Loaded>, Error> {
    if paths.is_empty() {
        scenario::builtin(spec)
    } else {
        scenario::load_paths(paths, spec)
    }
}

/// `reports/<UTC timestamp>/`, e.g. `reports/2026-11-26T232700Z`.
pub fn default_report_dir() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    PathBuf::from("reports").join(stamp)
}

pub async fn run(args: RunArgs) -> Result<RunOutcome, Error> {
    // Everything from files is loaded and validated before the first request.
    let spec = load_spec(args.spec.as_deref())?;
    let cli_policy = fail_on_option(args.fail_on.as_deref(), &spec)?;
    let formats = match &args.format {
        Some(f) => Format::parse_list(f)?,
        None => Format::ALL.to_vec(),
    };
    let only = match (&args.timing, &args.only) {
        // `timing` judges its clause only: the others were not tried, not skipped.
        (Some(_), None) => Some(crate::timing::CLAUSE),
        (_, o) => o.as_deref(),
    }
    .map(wildmatch::WildMatch::new);
    let matches = |id: &str| only.as_ref().is_none_or(|g| g.matches(id));
    let mut scenarios = match &args.timing {
        Some(t) => vec![timing_scenario(&spec, t)?],
        None => load_scenarios(&args.scenarios, &spec)?,
    };
    // Load swarms are `lelantos-conform load`'s; `run` skips them and their clauses.
    scenarios.retain(|s| !matches!(s.scenario.kind(), Some(scenario::Kind::Load(_))));
    scenarios.retain(|s| s.scenario.clauses.iter().any(|c| matches(c)));
    if let Some(g) = &args.only
        && !spec.clauses.iter().any(|c| matches(&c.id))
    {
        return Err(Error::Usage(format!(
            "--only {g}: matches no clause id (see `lelantos-conform list clauses`)"
        )));
    }
    let embedded_opts = args.limiter.is_some()
        || args.window.is_some()
        || !args.faults.is_empty()
        || args.leak_ns.is_some();
    let default_window = if args.timing.is_some() {
        TIMING_EMBEDDED_WINDOW
    } else {
        EMBEDDED_WINDOW
    };
    let mut server = None;
    let target = match (&args.target, &args.profile) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage("give --target or --profile, not both".into()));
        }
        (Some(url), None) => Target::from_url(url, spec.clone())?,
        (None, Some(p)) => Target::load(p, spec.clone())?,
        (None, None) => {
            let opts = ServeOptions {
                addr: ([127, 0, 0, 1], 0).into(),
                window: Some(args.window.unwrap_or(default_window)),
                limiter: args.limiter.unwrap_or_default(),
                faults: args.faults.clone(),
                leak_ns: args.leak_ns.unwrap_or(ServeOptions::default().leak_ns),
                ..ServeOptions::default()
            };
            let s = reference::start(Arc::new(spec.clone()), opts).await?;
            let mut effective = spec.clone();
            for c in effective.rate_limits.categories.values_mut() {
                c.window = args.window.unwrap_or(default_window);
            }
            let target = Target::embedded(
                &s.credentials.base_url,
                embedded_credentials(&s.credentials),
                effective,
            );
            server = Some(s);
            target
        }
    };
    if embedded_opts && !target.embedded {
        return Err(Error::Usage("--limiter, --window, --fault and --leak-ns apply to the embedded server only (no --target or --profile)".into()));
    }
    let policy = cli_policy.unwrap_or_else(|| target.fail_on.clone());
    let seed = args.seed.unwrap_or_else(rand::random);
    let report_dir = args.report_dir.clone().unwrap_or_else(default_report_dir);

    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let started = Instant::now();
    let probe = Probe::new(
        &target.spec,
        &target.base_url,
        target.timeouts,
        target.redactor(),
    )?;
    let collected = Collected::default();
    // The preflight is raced with Ctrl-C too: against a target that accepts and never answers it
    // waits the whole request timeout, and a Ctrl-C then must still end the run with a report.
    let work = async {
        probe.preflight().await?;
        let progress = match &args.timing {
            Some(_) => crate::progress::samples(
                scenarios
                    .iter()
                    .find_map(|s| s.scenario.timing.as_ref())
                    .map_or(0, |t| check::timing::settings(t).samples),
                args.quiet,
            ),
            None => crate::progress::make(scenarios.len(), args.quiet),
        };
        engine::execute(
            &target,
            &probe,
            &scenarios,
            seed,
            &collected,
            progress.as_ref(),
        )
        .await
    };
    let error = tokio::select! {
        r = work => r.err(),
        _ = tokio::signal::ctrl_c() => Some(Error::Target("interrupted (Ctrl-C): the report holds what was judged so far".into())),
    };
    if let Some(s) = server {
        s.shutdown().await;
    }
    if let Some(Error::Target(msg)) = &error
        && msg.starts_with("cannot reach")
        && collected.findings.snapshot().is_empty()
    {
        // Nothing was judged: an unreachable target is an error to the caller, not a report.
        return Err(Error::Target(msg.clone()));
    }

    let mut findings = collected.findings.snapshot();
    findings.extend(probe.observers().findings());
    let load_only: Vec<&str> = target
        .spec
        .clauses
        .iter()
        .filter(|c| c.area == LOAD_AREA)
        .map(|c| c.id.as_str())
        .collect();
    let clauses = verdict::judge(&target.spec, &findings, &|id| {
        matches(id) && !load_only.contains(&id)
    });
    let redactor = probe.redactor();
    let (verdict, gate) = verdict::run_verdict(&clauses, error.is_some(), &policy);
    let report = RunReport {
        tool: Tool::default(),
        target: TargetInfo {
            base_url: target.base_url.clone(),
            embedded: target.embedded,
            profile: target.profile.as_ref().map(|p| p.display().to_string()),
        },
        seed,
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        verdict,
        gate,
        summary: verdict::summarize(&clauses),
        clauses,
        error: error.map(|e| redactor.redact(&e.to_string())),
        scenarios: collected.scenarios.lock().expect("lock").clone(),
        timelines: collected.timelines.lock().expect("lock").clone(),
        timing: collected.timing.lock().expect("lock").clone(),
    };
    let written = report::write_all(&report, &report_dir, &formats)?;
    Ok(RunOutcome {
        report,
        report_dir,
        written,
    })
}

/// `--fail-on LIST`, checked against the spec's clause ids before anything runs.
pub fn fail_on_option(list: Option<&str>, spec: &Spec) -> Result<Option<FailOn>, Error> {
    list.map(|l| FailOn::from_option("--fail-on", &[l], spec))
        .transpose()
}

/// The `timing` command's scenario: the built-in timing scenario with the command's settings.
fn timing_scenario(spec: &Spec, t: &TimingArgs) -> Result<Loaded, Error> {
    let mut loaded = scenario::builtin(spec)?
        .into_iter()
        .find(|l| l.id == TIMING_SCENARIO)
        .ok_or_else(|| Error::Usage(format!("built-in scenario {TIMING_SCENARIO} missing")))?;
    let d = crate::timing::Settings::default();
    if let Some(ts) = loaded.scenario.timing.as_mut() {
        ts.samples = Some(t.samples.unwrap_or(d.samples));
        ts.budget = Some(t.budget.unwrap_or(d.budget));
        ts.warmup = Some(d.warmup);
        ts.max_detectable = Some(t.max_detectable.unwrap_or(d.max_detectable));
    }
    Ok(loaded)
}

pub fn embedded_credentials(c: &reference::Credentials) -> Vec<(Role, String)> {
    vec![
        (Role::ApiKey, c.api_key.clone()),
        (Role::ApiKeyOtherTeam, c.api_key_other_team.clone()),
        (Role::ApiKeyRevoked, c.api_key_revoked.clone()),
        (Role::Email, c.email.clone()),
        (Role::Password, c.password.clone()),
        (Role::AdminToken, c.admin_token.clone()),
        (Role::JwtSecret, c.jwt_secret.clone()),
        (Role::OtherTeamSandbox, c.other_team_sandbox.clone()),
    ]
}
