//! Clause verdicts: what every scenario observed, judged per clause, and the run's result model
//! that every report renders (k6's lesson: a summary is data first, then text, JSON or JUnit).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{Level, Spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Skipped,
    NotTestable,
    Inconclusive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
            Status::NotTestable => "not_testable",
            Status::Inconclusive => "inconclusive",
        }
    }
}

/// One HTTP request and its answer, already redacted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// A transport error instead of a response (timeout, reset, refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds since the run started, when the request was sent.
    pub at_ms: f64,
    pub elapsed_ms: f64,
    /// A `curl` command line that replays the request (credentials as the variables that hold
    /// them); kept in the reports for the exchanges of failing clauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
}

/// What decided a verdict: a sentence and the exchanges behind it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub note: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
    /// A shell script that reproduces what the exchanges alone cannot (a burst: a fresh key,
    /// then the requests at once, the answers counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// One observation about one clause, made by one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub clause: String,
    pub status: Status,
    pub reason: String,
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// An inconclusive finding that takes every other scenario's pass of the clause with it: the
    /// valid credential was refused between cases, so the target's refusals prove nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vetoes_pass: bool,
}

impl Finding {
    pub fn new(clause: &str, status: Status, scenario: &str, reason: impl Into<String>) -> Self {
        Self {
            clause: clause.to_string(),
            status,
            reason: reason.into(),
            scenario: scenario.to_string(),
            evidence: None,
            vetoes_pass: false,
        }
    }

    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence = Some(evidence);
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClauseVerdict {
    pub id: String,
    pub level: Level,
    pub area: String,
    pub status: Status,
    pub title: String,
    pub reason: String,
    pub scenarios: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub skipped: usize,
    pub not_testable: usize,
    pub inconclusive: usize,
    /// Of `fail`: the `must` clauses (they fail the run) and the `should` ones (warnings).
    #[serde(default)]
    pub fail_must: usize,
    #[serde(default)]
    pub fail_should: usize,
}

/// The reason of a clause no scenario touched.
pub const NOT_COVERED: &str = "not covered by the scenarios of this run";

/// After the run stopped early: a clause that a scenario of this run was to decide, and that
/// got no finding, did not run because the run stopped, and its reason says so (`reason`
/// names the cause) instead of "not covered".
pub fn not_run(clauses: &mut [ClauseVerdict], planned: &dyn Fn(&str) -> bool, reason: &str) {
    for c in clauses.iter_mut() {
        if c.status == Status::Skipped && c.reason == NOT_COVERED && planned(&c.id) {
            c.reason = reason.to_string();
        }
    }
}

/// Judges findings per clause. A clause fails if any finding fails; passes if one passes and none
/// fails; otherwise it is inconclusive if a scenario tried and could not decide, or skipped (with
/// the reasons) if nothing could run. Clauses no scenario touched are skipped, "not covered".
pub fn judge(spec: &Spec, findings: &[Finding], only: &dyn Fn(&str) -> bool) -> Vec<ClauseVerdict> {
    let mut by_clause: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_clause.entry(f.clause.as_str()).or_default().push(f);
    }
    // Scenarios of one stage run side by side: their findings arrive in any order, the report
    // holds them by scenario (stable, so one scenario's own order stays).
    for fs in by_clause.values_mut() {
        fs.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    }
    spec.clauses
        .iter()
        .filter(|c| only(&c.id))
        .map(|clause| {
            let found = by_clause
                .get(clause.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut scenarios: Vec<String> = found.iter().map(|f| f.scenario.clone()).collect();
            scenarios.sort();
            scenarios.dedup();
            let pick = |s: Status| found.iter().filter(move |f| f.status == s);
            let (status, reason, evidence) = if let Some(why) = &clause.not_testable {
                (Status::NotTestable, why.clone(), Vec::new())
            } else if pick(Status::Fail).next().is_some() {
                let fails: Vec<&&Finding> = pick(Status::Fail).collect();
                (
                    Status::Fail,
                    join_reasons(fails.iter().map(|f| f.reason.as_str())),
                    fails
                        .iter()
                        .filter_map(|f| f.evidence.clone())
                        .take(5)
                        .collect(),
                )
            } else if found
                .iter()
                .any(|f| f.vetoes_pass && f.status == Status::Inconclusive)
            {
                let vetoes: Vec<&&Finding> = found.iter().filter(|f| f.vetoes_pass).collect();
                (
                    Status::Inconclusive,
                    join_reasons(vetoes.iter().map(|f| f.reason.as_str())),
                    Vec::new(),
                )
            } else if pick(Status::Pass).next().is_some() {
                let passes: Vec<&&Finding> = pick(Status::Pass).collect();
                (
                    Status::Pass,
                    join_reasons(passes.iter().map(|f| f.reason.as_str())),
                    // A few: a clause judged on several credentials (a key, the access token,
                    // the admin token) shows each.
                    passes
                        .iter()
                        .filter_map(|f| f.evidence.clone())
                        .take(4)
                        .collect(),
                )
            } else if pick(Status::Inconclusive).next().is_some() {
                let inc: Vec<&&Finding> = pick(Status::Inconclusive).collect();
                (
                    Status::Inconclusive,
                    join_reasons(inc.iter().map(|f| f.reason.as_str())),
                    inc.iter()
                        .filter_map(|f| f.evidence.clone())
                        .take(3)
                        .collect(),
                )
            } else if pick(Status::Skipped).next().is_some() {
                (
                    Status::Skipped,
                    join_reasons(pick(Status::Skipped).map(|f| f.reason.as_str())),
                    Vec::new(),
                )
            } else {
                (Status::Skipped, NOT_COVERED.to_string(), Vec::new())
            };
            ClauseVerdict {
                id: clause.id.clone(),
                level: clause.level,
                area: clause.area.clone(),
                status,
                title: clause.title.clone(),
                reason,
                scenarios,
                evidence,
            }
        })
        .collect()
}

/// A failing rate-limit clause says which windows it was judged against, where they come from
/// (and so what changes them), and any sign that the target's are others: a false failure
/// from windows given wrong is then read as that.
pub fn name_windows(clauses: &mut [ClauseVerdict], windows_from: &str, note: Option<&str>) {
    for c in clauses
        .iter_mut()
        .filter(|c| c.status == Status::Fail && c.area == "rate-limit")
    {
        c.reason
            .push_str(&format!(" (windows judged from {windows_from}"));
        if let Some(n) = note {
            c.reason.push_str(&format!("; {n}"));
        }
        c.reason.push(')');
    }
}

fn join_reasons<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for r in reasons {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    let more = unique.len().saturating_sub(3);
    let mut text = unique.into_iter().take(3).collect::<Vec<_>>().join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

pub fn summarize(verdicts: &[ClauseVerdict]) -> Summary {
    let mut s = Summary::default();
    for v in verdicts {
        match v.status {
            Status::Pass => s.pass += 1,
            Status::Fail => {
                s.fail += 1;
                match v.level {
                    Level::Must => s.fail_must += 1,
                    Level::Should => s.fail_should += 1,
                }
            }
            Status::Skipped => s.skipped += 1,
            Status::NotTestable => s.not_testable += 1,
            Status::Inconclusive => s.inconclusive += 1,
        }
    }
    s
}

/// The clauses as every report shows them: failing `must` clauses first, then failing `should`
/// ones, then the rest in the spec's order; replay lines kept only on the evidence of failures.
pub fn for_reports(clauses: &mut [ClauseVerdict]) {
    clauses.sort_by_key(|c| match (c.status, c.level) {
        (Status::Fail, Level::Must) => 0,
        (Status::Fail, Level::Should) => 1,
        _ => 2,
    });
    for c in clauses.iter_mut().filter(|c| c.status != Status::Fail) {
        for e in &mut c.evidence {
            e.exchanges.iter_mut().for_each(|x| x.curl = None);
        }
    }
}

/// `pass`, `fail` (a `must` clause failed) or `error` (the run could not complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunVerdict {
    Pass,
    Fail,
    Error,
}

/// How one scenario ran (every report lists them).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `file.yaml#name`
    pub name: String,
    pub kind: String,
    pub clauses: Vec<String>,
    pub duration_ms: u64,
    pub requests: u64,
    /// Set when the scenario could not run to its end (skipped for a missing credential, or an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it started (ms since the run's first request).
    #[serde(default)]
    pub started_ms: f64,
    /// The stage it ran in (0 where not staged).
    #[serde(default)]
    pub stage: u8,
    /// What it waited for, per reason, longest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<ScenarioWait>,
}

/// Time a scenario spent waiting for one reason (waits side by side count once).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioWait {
    pub reason: String,
    pub ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    pub scenario: String,
    pub category: String,
    /// The clause whose limit this burst judged, so a report links the clause to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    pub limit: u32,
    pub window_ms: u64,
    pub events: Vec<TimelineEvent>,
    pub waits: Vec<TimelineWait>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Milliseconds since the run started.
    pub at_ms: f64,
    pub elapsed_ms: f64,
    /// The response status; none for a transport error.
    pub status: Option<u16>,
    /// `drain`, `burst`, `probe` (independence / other identity) or `retry` (after Retry-After).
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineWait {
    pub from_ms: f64,
    pub to_ms: f64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_limit_names_its_windows_and_what_the_target_stated() {
        let spec = Spec::builtin();
        let findings = vec![
            Finding::new(
                "RL-GENERAL-LIMIT",
                Status::Fail,
                "a",
                "general: refills faster",
            ),
            Finding::new("AUTH-KEY-HEADER", Status::Fail, "a", "refused"),
        ];
        let mut v = judge(&spec, &findings, &|id| {
            id == "RL-GENERAL-LIMIT" || id == "AUTH-KEY-HEADER"
        });
        name_windows(
            &mut v,
            "the spec: --target sets no window",
            Some("RateLimit-Policy `100;w=2` states a 2 s window"),
        );
        let rl = v.iter().find(|c| c.id == "RL-GENERAL-LIMIT").unwrap();
        assert_eq!(
            rl.reason,
            "general: refills faster (windows judged from the spec: --target sets no window; RateLimit-Policy `100;w=2` states a 2 s window)"
        );
        let key = v.iter().find(|c| c.id == "AUTH-KEY-HEADER").unwrap();
        assert_eq!(key.reason, "refused");
    }

    #[test]
    fn fail_beats_pass_and_uncovered_is_skipped() {
        let spec = Spec::builtin();
        let findings = vec![
            Finding::new("AUTH-KEY-HEADER", Status::Pass, "a", "ok"),
            Finding::new("AUTH-KEY-HEADER", Status::Fail, "b", "refused"),
            Finding::new("AUTH-KEY-PREFIX", Status::Pass, "a", "prefix ok"),
            Finding::new("AUTH-KEY-REVOKED", Status::Skipped, "a", "no revoked key"),
        ];
        let v = judge(&spec, &findings, &|_| true);
        let get = |id: &str| v.iter().find(|c| c.id == id).unwrap();
        assert_eq!(get("AUTH-KEY-HEADER").status, Status::Fail);
        assert_eq!(get("AUTH-KEY-HEADER").scenarios, vec!["a", "b"]);
        assert_eq!(get("AUTH-KEY-PREFIX").status, Status::Pass);
        assert_eq!(get("AUTH-KEY-REVOKED").status, Status::Skipped);
        assert_eq!(get("AUTH-KEY-HASHED").status, Status::NotTestable);
        assert_eq!(get("RL-429-BODY").status, Status::Skipped);
        let s = summarize(&v);
        assert_eq!(
            s.pass + s.fail + s.skipped + s.not_testable + s.inconclusive,
            spec.clauses.len()
        );
    }
}
