//! `run`: load and validate everything, resolve the target (starting the embedded reference
//! server when none is given), execute the scenarios, judge, and write the reports. A report is
//! written whatever happens after loading: a dead target or Ctrl-C gives `verdict: error` with
//! what was judged so far.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::check;
use crate::engine::{self, Collected};
use crate::error::Error;
use crate::gate::fail_on_option;
use crate::reference::{self, LimiterKind};
use crate::report::{self, Format, RunReport, Tool};
use crate::report::{RunOutcome, default_report_dir};
use crate::scenario::{self, Loaded};
use crate::spec::Spec;
use crate::spec::load_spec;
use crate::target::{EMBEDDED_WINDOW, TIMING_EMBEDDED_WINDOW};
use crate::verdict::{self};

/// The spec's area of clauses only a load swarm decides (`run` leaves them out).
pub const LOAD_AREA: &str = "load";

/// The built-in scenario the `timing` command runs (its settings overridden from the command line).
pub const TIMING_SCENARIO: &str = "admin-timing.yaml#admin-constant-time";

#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub target: Option<String>,
    pub profile: Option<PathBuf>,
    pub spec: Option<PathBuf>,
    pub scenarios: Vec<PathBuf>,
    pub only: Option<String>,
    /// `--exclude`: clause-id globs left out of the run (after `--only`).
    pub exclude: Option<String>,
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
    /// `--max-duration`: the longest the run may take (default: the profile's, else five of the
    /// longest window plus a minute).
    pub max_duration: Option<Duration>,
    /// `--cacert`, `--cert`, `--key`, `--insecure`: over the profile's `tls:`.
    pub tls: crate::probe::transport::TlsFlags,
}

/// The `timing` command's settings; what is not given comes from `timing::Settings::default()`
/// (not from the scenario file, whose budget is sized for `run`).
#[derive(Debug, Clone, Default)]
pub struct TimingArgs {
    pub samples: Option<u64>,
    pub budget: Option<Duration>,
    pub max_detectable: Option<Duration>,
}

pub fn load_scenarios(paths: &[PathBuf], spec: &Spec) -> Result<Vec<Loaded>, Error> {
    if paths.is_empty() {
        scenario::builtin(spec)
    } else {
        scenario::load_paths(paths, spec)
    }
}

pub async fn run(args: RunArgs) -> Result<RunOutcome, Error> {
    // Everything from files is loaded and validated before the first request.
    let spec = load_spec(args.spec.as_deref())?;
    let cli_policy = fail_on_option(args.fail_on.as_deref(), &spec)?;
    if args.max_duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Usage("--max-duration must be longer than 0".into()));
    }
    let formats = match &args.format {
        Some(f) => Format::parse_list(f)?,
        None => Format::ALL.to_vec(),
    };
    let only = match (&args.timing, &args.only) {
        // `timing` judges its clause only: the others were not tried, not skipped.
        (Some(_), None) => Some(crate::timing::CLAUSE),
        (_, o) => o.as_deref(),
    }
    .map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(wildmatch::WildMatch::new)
            .collect::<Vec<_>>()
    });
    let exclude: Vec<wildmatch::WildMatch> = args
        .exclude
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(wildmatch::WildMatch::new)
        .collect();
    // A clause is in the run when any of the comma-separated `--only` globs matches its id and
    // no `--exclude` glob does.
    let matches = |id: &str| {
        only.as_ref()
            .is_none_or(|gs| gs.iter().any(|g| g.matches(id)))
            && !exclude.iter().any(|g| g.matches(id))
    };
    let mut scenarios = match &args.timing {
        Some(t) => vec![timing_scenario(&spec, t)?],
        None => load_scenarios(&args.scenarios, &spec)?,
    };
    // Load swarms are `lelantos-conform load`'s; `run` skips them and their clauses.
    scenarios.retain(|s| !matches!(s.scenario.kind(), Some(scenario::Kind::Load(_))));
    scenarios.retain(|s| s.scenario.clauses.iter().any(|c| matches(c)));
    if (args.only.is_some() || args.exclude.is_some())
        && !spec.clauses.iter().any(|c| matches(&c.id))
    {
        let given: Vec<String> = [("--only", &args.only), ("--exclude", &args.exclude)]
            .into_iter()
            .filter_map(|(flag, g)| g.as_ref().map(|g| format!("{flag} {g}")))
            .collect();
        return Err(Error::Usage(format!(
            "{}: matches no clause id (see `lelantos-conform list clauses`)",
            given.join(" ")
        )));
    }
    if let Some(g) = &args.exclude
        && let Some(unknown) = g
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .find(|g| {
                let w = wildmatch::WildMatch::new(g);
                !spec.clauses.iter().any(|c| w.matches(&c.id))
            })
    {
        return Err(Error::Usage(format!(
            "--exclude {unknown}: matches no clause id (see `lelantos-conform list clauses`)"
        )));
    }
    let needs = crate::target::Needs {
        default_window: if args.timing.is_some() {
            TIMING_EMBEDDED_WINDOW
        } else {
            EMBEDDED_WINDOW
        },
        identities: 0,
    };
    // Before the target: the embedded server's credentials come from it.
    let seed = args.seed.unwrap_or_else(rand::random);
    let embedded = crate::target::EmbeddedOptions {
        limiter: args.limiter,
        window: args.window,
        faults: args.faults.clone(),
        leak_ns: args.leak_ns,
        seed: Some(seed),
    };
    let resolved = crate::target::resolve(
        &spec,
        args.target.as_deref(),
        args.profile.as_deref(),
        &embedded,
        needs,
        &args.tls,
    )
    .await?;
    let (target, server, serve_again) = (resolved.target, resolved.server, resolved.serve_again);
    let policy = cli_policy.unwrap_or_else(|| target.fail_on.clone());
    let report_dir = args.report_dir.clone().unwrap_or_else(default_report_dir);
    // Before the first request: a folder that cannot take the reports, or that another run is
    // writing, is a usage error now rather than a run lost at its end.
    let folder = report::ReportDir::claim(&report_dir)?;
    let limit = target.max_duration(args.max_duration);

    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let started = Instant::now();
    let transport =
        crate::probe::Transport::new(&target.base_url, &target.connection, target.timeouts)?;
    let probe = crate::target::probe(&target, &transport)?;
    let warnings = crate::target::warnings(&target);
    warnings.iter().for_each(|w| eprintln!("warning: {w}"));
    if !args.quiet && args.timing.is_none() {
        eprintln!(
            "{}",
            crate::report::terminal::for_stderr(&crate::target::limits_line(&target))
        );
    }
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
            started + limit,
        )
        .await
    };
    // Ctrl-C, SIGTERM or the time limit: every report is still written, verdict `error`.
    let mut stopped = None;
    let error = tokio::select! {
        r = work => r.err(),
        s = crate::stop::signal_or_limit(Some(limit)) => {
            let e = Error::Target(s.message());
            stopped = Some(s);
            Some(e)
        }
    };
    if let Some(s) = server {
        s.shutdown().await;
    }
    if let Some(Error::Unreachable(msg)) = &error
        && collected.findings.snapshot().is_empty()
    {
        // Nothing was judged: an unreachable target is an error to the caller, not a report.
        return Err(Error::Unreachable(msg.clone()));
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
    let mut clauses = verdict::judge(&target.spec, &findings, &|id| {
        matches(id) && !load_only.contains(&id)
    });
    // Clauses the run meant to decide and never reached say why: the run stopped first.
    let cause = match (&stopped, &error) {
        (Some(s), _) => Some(s.reason()),
        (None, Some(Error::Target(m))) => Some(format!("not run: the run stopped first ({m})")),
        _ => None,
    };
    if let Some(cause) = cause {
        let planned = |id: &str| {
            scenarios
                .iter()
                .any(|s| s.scenario.clauses.iter().any(|c| c == id))
        };
        verdict::not_run(&mut clauses, &planned, &cause);
    }
    verdict::name_windows(
        &mut clauses,
        &target.windows_from,
        probe.observers().window_note().as_deref(),
    );
    let redactor = probe.redactor();
    verdict::for_reports(&mut clauses);
    let (verdict, gate) = policy.verdict(&clauses, error.is_some());
    let report = RunReport {
        load: None,
        tool: Tool::default(),
        target: crate::report::TargetInfo {
            serve_again,
            ..crate::target::info(&target, probe.transport())
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
        warnings,
    };
    // Redaction happens once, over the finished model, with the run's final redactor (every
    // role credential, every key and token learned during the run).
    let report = report.redacted(&redactor);
    let written = report::write_all(&report, folder.path(), &formats)?;
    drop(folder);
    Ok(RunOutcome {
        report,
        report_dir,
        written,
        partial: None,
    })
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
