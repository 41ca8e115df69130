//! `load.json`: the swarm as data (counts, HDR histograms serialized, accounting, checks,
//! thresholds), beside the clause reports `run` writes (compliance.json, junit, md, html).
//!
//! Latency is the service time each request took as the client saw it (sent to body read), in
//! microseconds. goose's load model is closed-loop: a user does not send while it waits for an
//! answer, so a stalled target receives fewer requests and raw percentiles understate what an
//! open-loop client would see (coordinated omission). The `corrected` percentiles add, for each
//! sample longer than the expected interval, the samples a user at its intended cadence would have
//! sent meanwhile (HdrHistogram's `record_correct` / `clone_correct`), with the expected interval
//! the run's median service time plus the scenario's mean wait. Both are reported; thresholds use
//! the raw service time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::histogram::{deserialize, serialize};
use super::judge::{Account, Judged, ThresholdResult};
use super::record::{CLASSES, Checks, Observed};
use crate::error::Error;
use crate::redact::Redactor;
use crate::report::RunReport;
use crate::scenario::{LoadScenario, Swarm};
use crate::spec::Category;

pub const LOAD_MODEL: &str = "closed-loop (goose 0.19): each user sends its next request only after the previous one was answered, plus the scenario's wait";
/// With `arrival_rate`.
pub const OPEN_LOOP_MODEL: &str = "open-loop (arrival_rate): each user sends on a fixed schedule, whatever the answers' latency; a slot reached more than one interval late is dropped and counted";
pub const LATENCY_METHOD: &str = "service time per request from the client (sent to body read), HdrHistogram in microseconds with 3 significant digits; `corrected` adds coordinated-omission samples (HdrHistogram clone_correct) with the expected interval = median service time + mean wait; thresholds read the raw values";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p99_9_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyRow {
    pub endpoint: String,
    pub category: String,
    /// `2xx`, `429`, `other` or `error`.
    pub status: String,
    pub raw: Percentiles,
    pub corrected: Percentiles,
    /// HdrHistogram V2 serialization, base64 (raw values).
    pub histogram: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecondRow {
    pub second: usize,
    /// Requests sent in this second by status class: 2xx, 429, other, error.
    pub by_class: [u64; 4],
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    pub tool: crate::report::Tool,
    pub scenario: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub planned_duration_ms: u64,
    pub users: usize,
    pub identities: String,
    pub on_429: String,
    pub verdict: crate::verdict::RunVerdict,
    pub load_model: String,
    pub latency_method: String,
    pub requests: u64,
    pub requests_per_second: f64,
    pub statuses: std::collections::BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub overall: Percentiles,
    pub overall_corrected: Percentiles,
    pub overall_histogram: String,
    pub latency: Vec<LatencyRow>,
    pub seconds: Vec<SecondRow>,
    pub accounts: Vec<Account>,
    pub checks: Checks,
    pub retries: u64,
    pub retries_refused: u64,
    pub unexplained_refusals: u64,
    pub thresholds: Vec<ThresholdResult>,
    /// Open-loop pacing (`arrival_rate`): scheduled, sent and dropped slots and the lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<super::pacing::PacingReport>,
    /// How late the swarm started after `--start-at` (milliseconds), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    /// Everything `report merge` needs to judge segments together, exactly.
    pub raw: Raw,
}

/// The swarm's observations in full: admitted requests' timestamps per identity and category,
/// refusals, retries and every histogram (V2, base64). Times are nanoseconds since `epoch_unix_ns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    pub epoch_unix_ns: u64,
    /// `[index, count]` when the swarm was one segment of a distributed run.
    pub segment: Option<(usize, usize)>,
    /// The `--start-at` the part was given (Unix ns), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_unix_ns: Option<u64>,
    /// When its swarm actually started (Unix ns); its skew from `--start-at` is the difference.
    #[serde(default)]
    pub started_unix_ns: u64,
    pub scenario: LoadScenario,
    pub categories: Vec<(String, Category)>,
    pub endpoints: Vec<(String, u16)>,
    pub admitted: Vec<AdmittedRow>,
    pub refusals: Vec<super::record::Refusal>,
    pub retries: Vec<super::record::Retry>,
    /// `(endpoint, class, histogram)`
    pub latency: Vec<(u16, usize, String)>,
    /// Per second: requests by class and the latency histogram.
    pub seconds: Vec<([u64; 4], Option<String>)>,
    pub error_examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdmittedRow {
    pub identity: u32,
    pub category: u16,
    pub times: Vec<(u64, u64)>,
}

impl LoadReport {
    /// The swarm in the few figures its terminal output and compliance.md lead with.
    pub fn summary(&self) -> crate::report::LoadSummary {
        let p95_ms = deserialize(&self.overall_histogram)
            .filter(|h| !h.is_empty())
            .map_or(0.0, |h| h.value_at_quantile(0.95) as f64 / 1000.0);
        let server_errors: u64 = self
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum();
        let refused = self.statuses.get(&429).copied().unwrap_or(0);
        let duration = Duration::from_millis(self.duration_ms);
        let mut categories: Vec<crate::report::CategoryLoad> = Vec::new();
        for a in &self.accounts {
            let allowed = super::judge::allowed(
                a.limit,
                Duration::from_millis(a.window_ms),
                duration.as_nanos() as u64,
            );
            match categories.iter_mut().find(|c| c.category == a.category) {
                Some(c) => {
                    c.identities += 1;
                    c.admitted += a.admitted;
                    c.allowed += allowed;
                }
                None => categories.push(crate::report::CategoryLoad {
                    category: a.category.clone(),
                    identities: 1,
                    admitted: a.admitted,
                    allowed,
                }),
            }
        }
        crate::report::LoadSummary {
            requests: self.requests,
            duration_ms: self.duration_ms,
            requests_per_second: self.requests_per_second,
            p50_ms: self.overall.p50_ms,
            p95_ms,
            p99_ms: self.overall.p99_ms,
            errors: self.transport_errors + server_errors,
            share_429: if self.requests == 0 {
                0.0
            } else {
                refused as f64 / self.requests as f64
            },
            categories,
        }
    }
}

impl Raw {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        epoch_unix_ns: u64,
        segment: Option<(usize, usize)>,
        scenario: &LoadScenario,
        categories: &[(String, Category)],
        endpoints: &[(String, u16)],
        obs: &Observed,
    ) -> Self {
        Self {
            epoch_unix_ns,
            segment,
            start_at_unix_ns: None,
            started_unix_ns: epoch_unix_ns,
            scenario: scenario.clone(),
            categories: categories.to_vec(),
            endpoints: endpoints.to_vec(),
            admitted: obs
                .admitted
                .iter()
                .map(|((identity, category), times)| AdmittedRow {
                    identity: *identity,
                    category: *category,
                    times: times.clone(),
                })
                .collect(),
            refusals: obs.refusals.clone(),
            retries: obs.retries.clone(),
            latency: obs
                .latency
                .iter()
                .map(|((e, c), h)| (*e, *c, serialize(h)))
                .collect(),
            seconds: obs
                .seconds
                .iter()
                .map(|s| (s.by_class, s.latency.as_ref().map(serialize)))
                .collect(),
            error_examples: obs.error_examples.clone(),
        }
    }

    /// Adds this part's observations to `into`, its times shifted by `shift_ns` (its epoch's
    /// distance from the earliest part's).
    pub fn absorb(
        &self,
        report: &LoadReport,
        shift_ns: u64,
        into: &mut Observed,
    ) -> Result<(), String> {
        let bad = || "a histogram in load.json does not deserialize".to_string();
        let mut part = Observed::default();
        for row in &self.admitted {
            part.admitted
                .entry((row.identity, row.category))
                .or_default()
                .extend(row.times.iter().map(|(s, r)| (s + shift_ns, r + shift_ns)));
        }
        part.refusals = self
            .refusals
            .iter()
            .map(|r| {
                let mut r = *r;
                r.sent_ns += shift_ns;
                r.recv_ns += shift_ns;
                r
            })
            .collect();
        part.retries = self
            .retries
            .iter()
            .map(|r| {
                let mut r = *r;
                r.refused_sent_ns += shift_ns;
                r.sent_ns += shift_ns;
                r.recv_ns += shift_ns;
                r
            })
            .collect();
        for (e, c, h) in &self.latency {
            let h = deserialize(h).ok_or_else(bad)?;
            match part.latency.get_mut(&(*e, *c)) {
                Some(mine) => mine.add(&h).map_err(|e| e.to_string())?,
                None => {
                    part.latency.insert((*e, *c), h);
                }
            }
        }
        // Seconds are aligned on the earliest part's epoch (whole seconds of shift).
        let offset = (shift_ns / 1_000_000_000) as usize;
        part.seconds = (0..offset)
            .map(|_| super::record::Second::default())
            .collect();
        for (by_class, h) in &self.seconds {
            part.seconds.push(super::record::Second {
                by_class: *by_class,
                latency: match h {
                    Some(h) => Some(deserialize(h).ok_or_else(bad)?),
                    None => None,
                },
            });
        }
        part.statuses = report.statuses.clone();
        part.errors = report.transport_errors;
        part.error_examples = self.error_examples.clone();
        part.checks = report.checks.clone();
        into.absorb(part)
    }
}

impl LoadReport {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        run: &RunReport,
        scenario: &str,
        load: &Swarm,
        planned: Duration,
        categories: &[(String, Category)],
        endpoints: &[(String, u16)],
        obs: &Observed,
        judged: &Judged,
        elapsed: Duration,
        raw: Raw,
    ) -> Self {
        let overall = obs.overall();
        let wait_us = load
            .wait
            .map(|w| (w.min + w.max).as_micros() as u64 / 2)
            .unwrap_or(0);
        let expected = (overall.value_at_quantile(0.5) + wait_us).max(1);
        let corrected = |h: &Histogram<u64>| Percentiles::of(&h.clone_correct(expected));
        let latency = obs
            .latency
            .iter()
            .map(|((ep, class), h)| LatencyRow {
                endpoint: endpoints
                    .get(*ep as usize)
                    .map(|e| e.0.clone())
                    .unwrap_or_default(),
                category: endpoints
                    .get(*ep as usize)
                    .and_then(|e| categories.get(e.1 as usize))
                    .map(|c| c.0.clone())
                    .unwrap_or_default(),
                status: CLASSES[*class].to_string(),
                raw: Percentiles::of(h),
                corrected: corrected(h),
                histogram: serialize(h),
            })
            .collect();
        let seconds = obs
            .seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (p50, p99, max) = s.latency.as_ref().map_or((0.0, 0.0, 0.0), |h| {
                    (
                        h.value_at_quantile(0.5) as f64 / 1000.0,
                        h.value_at_quantile(0.99) as f64 / 1000.0,
                        h.max() as f64 / 1000.0,
                    )
                });
                SecondRow {
                    second: i,
                    by_class: s.by_class,
                    p50_ms: p50,
                    p99_ms: p99,
                    max_ms: max,
                }
            })
            .collect();
        let requests = obs.requests();
        Self {
            tool: crate::report::Tool::default(),
            scenario: scenario.to_string(),
            started_at: run.started_at.clone(),
            duration_ms: elapsed.as_millis() as u64,
            planned_duration_ms: planned.as_millis() as u64,
            users: load.users,
            identities: load.identities.name().to_string(),
            on_429: load.on_429.name().to_string(),
            verdict: run.verdict,
            load_model: LOAD_MODEL.into(),
            latency_method: LATENCY_METHOD.into(),
            requests,
            requests_per_second: requests as f64 / elapsed.as_secs_f64().max(1e-9),
            statuses: obs.statuses.clone(),
            transport_errors: obs.errors,
            overall: Percentiles::of(&overall),
            overall_corrected: corrected(&overall),
            overall_histogram: serialize(&overall),
            latency,
            seconds,
            accounts: judged.accounts.clone(),
            checks: obs.checks.clone(),
            retries: judged.retries,
            retries_refused: judged.retries_refused,
            unexplained_refusals: judged.unexplained_refusals,
            thresholds: judged.thresholds.clone(),
            pacing: None,
            start_skew_ms: raw
                .start_at_unix_ns
                .map(|at| (raw.started_unix_ns as f64 - at as f64) / 1e6),
            raw,
        }
    }

    pub fn write(&self, dir: &Path, redactor: &Redactor) -> Result<PathBuf, Error> {
        let path = dir.join("load.json");
        let text = serde_json::to_string_pretty(self).expect("serializable");
        crate::report::write_atomic(&path, redactor.redact(&text).as_bytes())?;
        Ok(path)
    }
}
