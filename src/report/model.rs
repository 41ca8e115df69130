//! The result of a run as data. `compliance.json` is this struct serialized (its fields named in
//! DESIGN.md are fixed; more fields are welcome); every other report renders the same value.

use serde::{Deserialize, Serialize};

use crate::verdict::{ClauseVerdict, RunVerdict, Summary};
// Result types that execution produces live below it, in `verdict`; reports render them.
use crate::verdict::{ScenarioResult, Timeline};

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
    /// What weakens the verdict and every reader must see (`--insecure`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// A load swarm's figures (`load`, `report merge`): what its terminal output and
    /// compliance.md lead with. load.json holds the swarm in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSummary>,
}

/// A swarm in a few figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadSummary {
    pub requests: u64,
    pub duration_ms: u64,
    pub requests_per_second: f64,
    /// Service time percentiles, milliseconds (raw, as the thresholds read them).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Requests that got no answer or a 5xx.
    pub errors: u64,
    /// The share of requests answered 429, from 0 to 1.
    pub share_429: f64,
    /// Per category: what its identities were admitted, and the most any reading allows them
    /// over the swarm's duration.
    pub categories: Vec<CategoryLoad>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CategoryLoad {
    pub category: String,
    pub identities: u64,
    pub admitted: u64,
    pub allowed: u64,
}

impl RunReport {
    /// The finished model with every string passed through `redactor`: what every renderer and
    /// the terminal see, whichever part of the run put a value there (a reason quoting a
    /// response, an evidence exchange, the error, a merged part written elsewhere).
    pub fn redacted(&self, redactor: &crate::redact::Redactor) -> RunReport {
        fn walk(v: &mut serde_json::Value, r: &crate::redact::Redactor) {
            match v {
                serde_json::Value::String(s) => {
                    let clean = r.redact(s);
                    if clean != *s {
                        *s = clean;
                    }
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, r)),
                serde_json::Value::Object(m) => {
                    for (k, x) in m.iter_mut() {
                        match x {
                            // A replay line writes forged values in full (credential-shaped,
                            // but no secret of the target); known secrets and near-copies of
                            // them are still fingerprints.
                            serde_json::Value::String(s) if k == "curl" => {
                                let clean = r.redact_known(s);
                                if clean != *s {
                                    *s = clean;
                                }
                            }
                            x => walk(x, r),
                        }
                    }
                }
                _ => {}
            }
        }
        let mut value = serde_json::to_value(self).expect("a report serializes");
        walk(&mut value, redactor);
        serde_json::from_value(value).unwrap_or_else(|_| self.clone())
    }
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetInfo {
    pub base_url: String,
    pub embedded: bool,
    /// The profile file, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// How the certificate was checked, when TLS options were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// The proxy the requests went through (no credentials), when one applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The names of the headers the profile added to every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// For the embedded server: the command that serves it again, credentials and all, with
    /// them as `export` lines for the replay lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve_again: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TlsInfo {
    /// CA files added to the platform's roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// `--insecure`: the target's certificate was not verified.
    pub insecure: bool,
}
