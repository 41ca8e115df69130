//! `report merge DIR...`: the segments of a distributed swarm (each pod ran `load --segment I/N`)
//! judged as one. Nothing is averaged or sampled: every part's load.json carries its admitted
//! requests' timestamps, refusals, retries and HDR histograms, so the merged counts equal the sums,
//! the merged histograms equal the parts' added, and the admission accounting runs again over the
//! union of the parts' admissions (an identity several segments share is judged with all of them).
//! Times are aligned on each part's wall-clock epoch: segments on different hosts rely on their
//! clocks agreeing (NTP), and their skew adds to the spans the accounting measures.

use std::path::PathBuf;
use std::time::Duration;

use super::judge;
use super::record::Observed;
use super::report::{LoadReport, Raw};
use crate::error::Error;
use crate::redact::Redactor;
use crate::report::{Format, RunReport, ScenarioResult, Tool};
use crate::report::{RunOutcome, default_report_dir};
use crate::verdict;

pub fn merge(
    dirs: &[PathBuf],
    report_dir: Option<PathBuf>,
    fail_on: Option<&str>,
) -> Result<RunOutcome, Error> {
    let policy =
        crate::gate::fail_on_option(fail_on, &crate::spec::Spec::builtin())?.unwrap_or_default();
    let policy = &policy;
    let mut parts: Vec<(LoadReport, RunReport)> = Vec::new();
    for d in dirs {
        let read = |name: &str| {
            let p = d.join(name);
            std::fs::read_to_string(&p)
                .map_err(|e| Error::Usage(format!("{}: cannot read: {e}", p.display())))
        };
        let load: LoadReport = serde_json::from_str(&read("load.json")?)
            .map_err(|e| Error::Usage(format!("{}: not a load.json: {e}", d.display())))?;
        let run: RunReport = serde_json::from_str(&read("compliance.json")?)
            .map_err(|e| Error::Usage(format!("{}: not a compliance.json: {e}", d.display())))?;
        parts.push((load, run));
    }
    let Some((first, first_run)) = parts.first() else {
        return Err(Error::Usage(
            "report merge: give at least one directory".into(),
        ));
    };
    if let Some((odd, _)) = parts.iter().find(|(l, _)| l.scenario != first.scenario) {
        return Err(Error::Usage(format!(
            "report merge: parts ran different scenarios ({} and {})",
            first.scenario, odd.scenario
        )));
    }
    let mut segments: Vec<(usize, usize)> =
        parts.iter().filter_map(|(l, _)| l.raw.segment).collect();
    segments.sort();
    if segments.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Usage(
            "report merge: the same segment is given twice".into(),
        ));
    }
    let epoch = parts
        .iter()
        .map(|(l, _)| l.raw.epoch_unix_ns)
        .min()
        .unwrap_or(0);
    let mut obs = Observed::default();
    let mut elapsed_ns = 0u64;
    for (l, _) in &parts {
        let shift = l.raw.epoch_unix_ns - epoch;
        l.raw
            .absorb(l, shift, &mut obs)
            .map_err(|e| Error::Usage(format!("report merge: {e}")))?;
        elapsed_ns = elapsed_ns.max(shift + l.duration_ms * 1_000_000);
    }
    obs.sort();
    let elapsed = Duration::from_nanos(elapsed_ns);
    // The scenario as its first part's load.json kept it, resolved as `load` resolved it.
    let mut load = crate::scenario::Swarm::plan(&first.raw.scenario).map_err(|problems| {
        let why: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        Error::Usage(format!(
            "report merge: raw.scenario of {}: {}",
            first.scenario,
            why.join("; ")
        ))
    })?;
    load.set_users(parts.iter().map(|(l, _)| l.users).sum());
    let categories = first.raw.categories.clone();
    let judged = judge::judge(&load, &first.scenario, &categories, &obs, elapsed, false);
    let spec = crate::spec::Spec::builtin();
    let decided = load.decided();
    let mut clauses = verdict::judge(&spec, &judged.findings, &|id| decided.contains(&id));
    let errors: Vec<String> = parts.iter().filter_map(|(_, r)| r.error.clone()).collect();
    verdict::for_reports(&mut clauses);
    let (verdict, gate) = policy.verdict(&clauses, !errors.is_empty());
    let report = RunReport {
        tool: Tool::default(),
        target: first_run.target.clone(),
        seed: 0,
        started_at: first.started_at.clone(),
        duration_ms: elapsed.as_millis() as u64,
        verdict,
        gate,
        summary: verdict::summarize(&clauses),
        clauses,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        scenarios: vec![ScenarioResult {
            name: first.scenario.clone(),
            kind: "load".into(),
            clauses: decided.iter().map(|c| c.to_string()).collect(),
            duration_ms: elapsed.as_millis() as u64,
            requests: obs.requests(),
            note: Some(format!("merged from {} segments", parts.len())),
        }],
        timelines: Vec::new(),
        timing: Vec::new(),
        warnings: {
            let mut w: Vec<String> = parts.iter().flat_map(|(_, r)| r.warnings.clone()).collect();
            w.dedup();
            w
        },
    };
    let planned = Duration::from_millis(first.planned_duration_ms);
    let raw = Raw::build(
        epoch,
        None,
        &load.written,
        &categories,
        &first.raw.endpoints,
        &obs,
    );
    let merged = LoadReport::build(
        &report,
        &first.scenario,
        &load,
        planned,
        &categories,
        &first.raw.endpoints,
        &obs,
        &judged,
        elapsed,
        raw,
    );
    let report_dir = report_dir.unwrap_or_else(default_report_dir);
    // The parts were redacted when written; the merge knows no secret itself, so it redacts
    // what is shaped like a credential of the contract (a key or token prefix and its body).
    let spec = crate::spec::Spec::builtin();
    let redactor = Redactor::new(
        std::iter::empty::<&str>(),
        &[
            spec.auth.api_key.prefix.as_str(),
            spec.auth.access_token.prefix.as_str(),
        ],
    );
    let report = report.redacted(&redactor);
    let section = redactor.redact(&super::chart::section(&merged));
    // Claimed only now: the parts are read, so a folder that is also a part loses nothing.
    let folder = crate::report::ReportDir::claim(&report_dir)?;
    let mut written =
        crate::report::write_all_with(&report, folder.path(), &Format::ALL, &[section])?;
    written.push(merged.write(folder.path(), &redactor)?);
    drop(folder);
    Ok(RunOutcome {
        report,
        report_dir,
        written,
    })
}
