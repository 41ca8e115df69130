//! The engine: runs scenarios against a target, stage by stage, concurrently within a stage.
//!
//! Stage 1 holds the scenarios that use little budget (authentication checks); stage 2 those that
//! exhaust budgets on purpose (rate limits, admin throttling), so they cannot disturb stage 1;
//! then the properties (3), the timing screen alone (4) and the failure throttle (5). The rate
//! limits' one long wait (a fixed window's Retry-After, or the refill check's window) covers the
//! admin throttle's window too, so a target with real 60-second windows is judged in about one
//! window (`benches/run_windows.sh`). Findings and timelines go
//! to shared sinks as they are made, so an interrupted run still reports what it found.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::check::scope::{Findings, Health, Scope};
use crate::check::{property, rate_limit, steps, timing};
use crate::error::Error;
use crate::probe::Probe;
use crate::profile::{Role, Target};
use crate::scenario::{Kind, Loaded};
use crate::verdict::Status;
use crate::verdict::{ScenarioResult, ScenarioWait, Timeline};

/// What the engine collected; shared, so a caller that stops waiting still has it.
#[derive(Clone, Default)]
pub struct Collected {
    pub findings: Findings,
    pub timelines: Arc<Mutex<Vec<Timeline>>>,
    pub scenarios: Arc<Mutex<Vec<ScenarioResult>>>,
    pub timing: Arc<Mutex<Vec<crate::timing::TimingResult>>>,
}

/// Reports progress: a scenario started or finished.
pub trait Progress: Send + Sync {
    fn started(&self, _id: &str) {}
    fn finished(&self, _result: &ScenarioResult) {}
    /// A timing scenario measured this many samples so far.
    fn samples(&self, _id: &str, _done: u64) {}
    /// Every second the run waits (a Retry-After, a window to pass): how long the longest wait
    /// still lasts, and what is left of the run's time limit.
    fn waiting(&self, _wait: Duration, _left: Duration) {}
    /// A line to say now, above the progress (a warning the run found while it works).
    fn note(&self, _line: &str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

pub async fn execute(
    target: &Target,
    probe: &Probe,
    scenarios: &[Loaded],
    seed: u64,
    collected: &Collected,
    progress: &dyn Progress,
    deadline: Instant,
) -> Result<(), Error> {
    let health = Health::default();
    let mut stages: Vec<u8> = scenarios.iter().map(Loaded::stage).collect();
    stages.sort();
    stages.dedup();
    let work = async {
        for stage in stages {
            let runs = scenarios
                .iter()
                .filter(|s| s.stage() == stage)
                .map(|s| run_one(target, probe, s, seed, collected, &health, progress));
            // Every scenario of the stage runs; the first error (the target is gone) ends the
            // run.
            let results = futures::future::join_all(runs).await;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Err(e);
            }
        }
        Ok(())
    };
    // Once a second: what the run waits for, and the time limit left; and, once, a sign that
    // the target's windows are not those judged (before the bursts it would make fail).
    let said = std::sync::atomic::AtomicBool::new(false);
    let say_window_note = || {
        if let Some(note) = probe.observers().window_note()
            && !said.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            progress.note(&crate::report::terminal::for_stderr(&window_warning(&note)));
        }
    };
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Some(wait) = health.waiting() {
                progress.waiting(wait, deadline.saturating_duration_since(Instant::now()));
            }
            say_window_note();
        }
    };
    let r = tokio::select! {
        r = work => r,
        () = ticker => Ok(()),
    };
    // A run shorter than a tick says it at its end.
    say_window_note();
    r
}

/// What a run says when the target's windows look like others than those judged.
pub fn window_warning(note: &str) -> String {
    format!(
        "warning: {note}; if those are the target's windows, give them: a profile's `rate_limits.window` (`serve --profile-out` writes one for the reference server)"
    )
}

async fn run_one(
    target: &Target,
    probe: &Probe,
    loaded: &Loaded,
    seed: u64,
    collected: &Collected,
    health: &Health,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let started = Instant::now();
    let started_ms = probe.elapsed_ms();
    progress.started(&loaded.id);
    let s = &loaded.scenario;
    let mut scope = Scope::new(
        target,
        probe,
        &loaded.id,
        crate::seed::scenario_rng(seed, &loaded.id),
        &collected.findings,
        health,
    );
    let missing: Vec<Role> = s
        .requires
        .iter()
        .copied()
        .filter(|r| target.credential(*r).is_none())
        .collect();
    let result = if !missing.is_empty() {
        let why = missing
            .iter()
            .map(|r| r.missing())
            .collect::<Vec<_>>()
            .join(", ");
        for c in &s.clauses {
            scope.finding(
                c,
                Status::Skipped,
                format!("{why}: scenario {} not run", loaded.id),
            );
        }
        Err(format!("skipped: {why}"))
    } else {
        let result = match s.kind() {
            Some(Kind::Steps(steps)) => steps::run(steps, &mut scope).await,
            Some(Kind::RateLimit(rl)) => rate_limit::run(rl, &mut scope)
                .await
                .map(|t| collected.timelines.lock().expect("lock").extend(t)),
            Some(Kind::Timing(t)) => {
                let tick = |n: u64| progress.samples(&loaded.id, n);
                timing::run(t, &mut scope, seed, &tick).await.map(|r| {
                    collected.timing.lock().expect("lock").extend(r);
                })
            }
            Some(Kind::Property(p)) => property::run(p, &mut scope, seed).await,
            // Load swarms run under `load`, never here.
            Some(Kind::Load(_)) | None => Ok(()),
        };
        Ok(result)
    };
    // Skipped (Err: the note), or run (its result; an error is noted too).
    let (note, result) = match result {
        Err(skipped) => (Some(skipped), Ok(())),
        Ok(Err(e)) => (Some(format!("error: {e}")), Err(e)),
        Ok(Ok(())) => (None, Ok(())),
    };
    let timing = (started, started_ms);
    record(
        collected,
        progress,
        loaded,
        timing,
        health,
        scope.requests,
        note,
    );
    result
}

fn record(
    collected: &Collected,
    progress: &dyn Progress,
    loaded: &Loaded,
    (started, started_ms): (Instant, f64),
    health: &Health,
    requests: u64,
    note: Option<String>,
) {
    let result = ScenarioResult {
        name: loaded.id.clone(),
        kind: loaded.scenario.kind_name().to_string(),
        clauses: loaded.scenario.clauses.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        requests,
        note,
        started_ms,
        stage: loaded.stage(),
        waits: health
            .waited(&loaded.id)
            .into_iter()
            .map(|(reason, d)| ScenarioWait {
                reason: reason.to_string(),
                ms: d.as_millis() as u64,
            })
            .collect(),
    };
    progress.finished(&result);
    collected.scenarios.lock().expect("lock").push(result);
}
