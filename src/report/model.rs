//! The result of a run as data. `compliance.json` is this struct serialized (its fields named in
//! DESIGN.md are fixed; more fields are welcome); every other report renders the same value.

use serde::{Deserialize, Serialize};

use crate::verdict::{ClauseVerdict, RunVerdict, Summary};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub tool: Tool,
    pub target: TargetInfo,
    pub seed: u64,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub duration_ms: u64,
    pub verdict: RunVerdict,
    pub summary: Summary,
    /// What decided `verdict`: the `--fail-on` policy, the clauses that failed the gate, and the
    /// `must` clauses left undecided.
    #[serde(default)]
    pub gate: crate::gate::Gate,
    pub clauses: Vec<ClauseVerdict>,
    /// Why the run could not complete, when `verdict` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub scenarios: Vec<ScenarioResult>,
    /// Rate-limit bursts, for charts: every request with its outcome and every wait.
    #[serde(default)]
    pub timelines: Vec<Timeline>,
    /// Timing tests (AUTH-ADMIN-CONSTANT-TIME): statistics, sample counts, percentiles, CDFs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timing: Vec<crate::timing::TimingResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    pub base_url: String,
    pub embedded: bool,
    /// The profile file, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    pub scenario: String,
    pub category: String,
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
