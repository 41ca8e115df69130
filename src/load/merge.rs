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
use crate::report::{Format, RunReport, Tool};
use crate::report::{RunOutcome, default_report_dir};
use crate::verdict;
use crate::verdict::ScenarioResult;

/// How late a part may start after its `--start-at` before the merge flags it.
pub const LATE_START: Duration = Duration::from_secs(1);

/// The parts must be every segment of one split, once: an incomplete set is refused, naming the
/// missing parts (a merge of segment 0 of 2 alone would judge half the swarm as if it were all
/// of it). Returns what the merged report must flag: a part that started more than
/// `LATE_START` after its `--start-at`, parts given different `--start-at`, and parts that did
/// not run alongside each other.
fn check_parts(parts: &[(LoadReport, RunReport)]) -> Result<Vec<String>, Error> {
    let label = |l: &LoadReport| match l.raw.segment {
        Some((i, n)) => format!("segment {i}/{n}"),
        None => "a part without --segment".to_string(),
    };
    let segs: Vec<Option<(usize, usize)>> = parts.iter().map(|(l, _)| l.raw.segment).collect();
    if parts.len() > 1 || segs.iter().any(Option::is_some) {
        if segs.iter().any(Option::is_none) {
            return Err(Error::Usage(
                "report merge: a part ran without --segment: only the segments of one swarm merge (load --segment I/N)".into(),
            ));
        }
        let counts: std::collections::BTreeSet<usize> =
            segs.iter().flatten().map(|&(_, n)| n).collect();
        if counts.len() > 1 {
            let shown: Vec<String> = counts.iter().map(|n| format!("/{n}")).collect();
            return Err(Error::Usage(format!(
                "report merge: the parts come from different splits ({}): merge the segments of one run",
                shown.join(", ")
            )));
        }
        let n = *counts.iter().next().expect("one count");
        let have: Vec<usize> = segs.iter().flatten().map(|&(i, _)| i).collect();
        let missing: Vec<String> = (0..n)
            .filter(|i| !have.contains(i))
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !missing.is_empty() {
            let mut given: Vec<String> = have.iter().map(|i| format!("{i}/{n}")).collect();
            given.sort();
            return Err(Error::Usage(format!(
                "report merge: incomplete set: segment{} {} missing (given: {}); merge every part of the swarm",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                given.join(", ")
            )));
        }
    }
    // One swarm: the same scenario, as resolved (users, tasks, rate), in every part.
    let first = serde_json::to_value(&parts[0].0.raw.scenario).ok();
    if parts
        .iter()
        .any(|(l, _)| serde_json::to_value(&l.raw.scenario).ok() != first)
    {
        return Err(Error::Usage(format!(
            "report merge: the parts ran {} with different settings (users, duration, tasks or rates differ in their load.json raw.scenario): merge the segments of one run",
            parts[0].0.scenario
        )));
    }
    let mut warnings = Vec::new();
    let mut targets: Vec<&str> = parts
        .iter()
        .map(|(_, r)| r.target.base_url.as_str())
        .collect();
    targets.sort();
    targets.dedup();
    if targets.len() > 1 {
        warnings.push(format!(
            "the parts checked different targets ({}): their admissions are judged as one deployment's",
            targets.join(", ")
        ));
    }
    let mut given_start = parts.iter().map(|(l, _)| l.raw.start_at_unix_ns.is_some());
    if given_start.clone().any(|g| g) && given_start.any(|g| !g) {
        warnings.push(
            "some parts were given --start-at and some were not: they were not started as one swarm"
                .into(),
        );
    }
    let rfc = |ns: u64| {
        humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_nanos(ns))
            .to_string()
    };
    let mut asked: Vec<u64> = parts
        .iter()
        .filter_map(|(l, _)| l.raw.start_at_unix_ns)
        .collect();
    asked.sort();
    asked.dedup();
    if asked.len() > 1 {
        let shown: Vec<String> = asked.iter().map(|&ns| rfc(ns)).collect();
        warnings.push(format!(
            "the parts were given different --start-at ({}): they were not started as one swarm",
            shown.join(", ")
        ));
    }
    for (l, _) in parts {
        if let Some(at) = l.raw.start_at_unix_ns
            && l.raw.started_unix_ns > at + LATE_START.as_nanos() as u64
        {
            let late = Duration::from_millis((l.raw.started_unix_ns - at) / 1_000_000);
            warnings.push(format!(
                "{} started {} after its --start-at {}: its users joined late, and the swarm was lighter than planned until then",
                label(l),
                humantime::format_duration(late),
                rfc(at)
            ));
        }
    }
    // Every part's span (from its start, as long as it ran) should overlap the others' almost
    // whole.
    let spans: Vec<(u64, u64, &LoadReport)> = parts
        .iter()
        .filter(|(l, _)| l.raw.started_unix_ns > 0)
        .map(|(l, _)| {
            (
                l.raw.started_unix_ns,
                l.raw.started_unix_ns + l.duration_ms * 1_000_000,
                l,
            )
        })
        .collect();
    if spans.len() > 1 {
        let start = spans.iter().map(|s| s.0).max().unwrap_or(0);
        let end = spans.iter().map(|s| s.1).min().unwrap_or(0);
        let shortest = spans.iter().map(|s| s.1 - s.0).min().unwrap_or(0);
        let overlap = end.saturating_sub(start);
        // Flagged when they ran together for less than the shortest part's span, less the
        // late-start allowance (at least half of it, for short swarms).
        let needed = shortest
            .saturating_sub(LATE_START.as_nanos() as u64)
            .max(shortest / 2);
        if overlap < needed {
            let shown: Vec<String> = spans
                .iter()
                .map(|(a, b, l)| format!("{} {} to {}", label(l), rfc(*a), rfc(*b)))
                .collect();
            warnings.push(format!(
                "the parts ran alongside each other for {} of {}: not one swarm ({})",
                humantime::format_duration(Duration::from_millis(overlap / 1_000_000)),
                humantime::format_duration(Duration::from_millis(shortest / 1_000_000)),
                shown.join("; ")
            ));
        }
    }
    Ok(warnings)
}

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
    let start_warnings = check_parts(&parts)?;
    let pacings: Vec<&super::pacing::PacingReport> = parts
        .iter()
        .filter_map(|(l, _)| l.pacing.as_ref())
        .collect();
    let pacing = super::pacing::PacingReport::merged(&pacings);
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
        load: None,
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
            ..Default::default()
        }],
        timelines: Vec::new(),
        timing: Vec::new(),
        warnings: {
            // A part's "partial verdict" warning is what the merge settles.
            let mut w: Vec<String> = parts
                .iter()
                .flat_map(|(_, r)| r.warnings.clone())
                .filter(|w| !w.contains("this verdict is partial"))
                .collect();
            w.sort();
            w.dedup();
            w.extend(start_warnings);
            w.extend(pacing.as_ref().and_then(|p| p.warning()));
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
    let mut merged = LoadReport::build(
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
    if pacing.is_some() {
        merged.load_model = super::report::OPEN_LOOP_MODEL.into();
    }
    merged.pacing = pacing;
    let mut report = report;
    report.load = Some(merged.summary());
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
        partial: None,
    })
}
