//! The scenario model: what to do against a target and which clauses it decides. Every struct
//! refuses unknown fields.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenarios: Vec<Scenario>,
}

/// A scenario: exactly one of `steps`, `rate_limit` or `property` says what kind it is. (A flat struct
/// rather than a tagged enum: serde's flatten and tags lose the line and column of errors.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The clauses this scenario decides.
    pub clauses: Vec<String>,
    /// Credentials without which the whole scenario is skipped.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Stage 1 runs before stage 2. Scenarios that exhaust a budget (rate limits, admin
    /// throttling) run in stage 2 so they cannot disturb the others.
    #[serde(default)]
    pub stage: Option<u8>,
    /// Requests with expectations, run in order.
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    /// The algorithm-independent rate-limit judgement (see `check::rate_limit`).
    #[serde(default)]
    pub rate_limit: Option<RateLimitScenario>,
    /// Generated inputs hunting for a counterexample of a contract promise (see
    /// `check::property`).
    #[serde(default)]
    pub property: Option<PropertyScenario>,
}

pub enum Kind<'a> {
    Steps(&'a [Step]),
    RateLimit(&'a RateLimitScenario),
    Property(&'a PropertyScenario),
}

/// A property scenario: which family of promises, how many generated cases per clause, and how
/// many requests the whole scenario may send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyScenario {
    /// `api_keys`, `access_tokens`, `refresh`, `admin_token` or `rate_limits`.
    pub check: String,
    /// Generated cases per clause (before shrinking).
    #[serde(default)]
    pub cases: Option<u32>,
    /// The most requests the scenario sends, shrinking included; cases beyond it are not run.
    #[serde(default)]
    pub budget: Option<u32>,
    /// `rate_limits` only: the category each limit clause is judged in and its endpoint.
    #[serde(default)]
    pub categories: Vec<CategoryProbe>,
}

impl Scenario {
    /// The kind; `None` when not exactly one kind is given (a validation error).
    pub fn kind(&self) -> Option<Kind<'_>> {
        match (&self.steps, &self.rate_limit, &self.property) {
            (Some(s), None, None) => Some(Kind::Steps(s)),
            (None, Some(r), None) => Some(Kind::RateLimit(r)),
            (None, None, Some(p)) => Some(Kind::Property(p)),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind() {
            Some(Kind::Steps(_)) => "steps",
            Some(Kind::RateLimit(_)) => "rate_limit",
            Some(Kind::Property(_)) => "property",
            None => "invalid",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// The clause this step's expectations decide; none for a set-up step.
    #[serde(default)]
    pub clause: Option<String>,
    /// Credentials without which this step is skipped (its clause then reported skipped).
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// A pause: a duration (`2s`) or `retry_after` (the last Retry-After seen in this scenario).
    #[serde(default)]
    pub wait: Option<String>,
    /// Checks on values, without a request.
    #[serde(default)]
    pub assert: Option<Assertion>,
    /// Runs the step once for each value, bound to the variable `var`.
    #[serde(default)]
    pub for_each: Option<ForEach>,
    /// Sends the request this many times: a number, or `over_limit:<category>` for more than
    /// any reading of that category's limit admits in a short burst (twice the limit plus 10;
    /// a scenario so follows the spec's numbers). With
    /// `parallel`, the requests go that many at a time.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// Sends this many copies at once.
    #[serde(default)]
    pub parallel: Option<u32>,
    #[serde(default)]
    pub expect: Option<Expect>,
    /// For repeated or parallel requests: how many responses may match.
    #[serde(default)]
    pub expect_count: Option<CountExpect>,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    /// Statuses meaning "the target does not offer this": the rest of the scenario is skipped.
    #[serde(default)]
    pub skip_on: Option<SkipOn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// An endpoint of the spec by name; or `method` and `path`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// Path and query parameters: `{id}` in the endpoint's path.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Which credential authenticates the request (see `As`).
    #[serde(default, rename = "as")]
    pub as_: Option<As>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (string values are templates); defaults to the endpoint's body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// A body sent as is (a template), e.g. broken JSON.
    #[serde(default)]
    pub raw_body: Option<String>,
}

/// A credential role (`api_key`, `access_token`, `admin_token`, `none`...) or an explicit value
/// in the header the spec names for that kind of credential.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum As {
    Role(String),
    Value(AsValue),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsValue {
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub bearer: Option<String>,
    #[serde(default)]
    pub admin_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    pub var: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<StatusSet>,
    #[serde(default)]
    pub headers: BTreeMap<String, ValueCheck>,
    /// JSON pointer -> check.
    #[serde(default)]
    pub json: BTreeMap<String, ValueCheck>,
    /// Templates that must not appear in the response body or headers.
    #[serde(default)]
    pub body_excludes: Vec<String>,
    /// Templates that must appear in the body.
    #[serde(default)]
    pub body_includes: Vec<String>,
}

/// Status codes: numbers, `2xx`-style classes, or `denied` (the effective denial statuses).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusSet {
    One(StatusItem),
    Many(Vec<StatusItem>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusItem {
    Code(u16),
    Name(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueCheck {
    #[serde(default)]
    pub present: Option<bool>,
    /// A template; compared as text for headers, as JSON (or text) for JSON values.
    #[serde(default)]
    pub equals: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub matches: Option<String>,
    /// `string`, `integer`, `number`, `boolean`, `array`, `object`, `null`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// Inclusive bounds for numbers (templates allowed).
    #[serde(default)]
    pub range: Option<(serde_yaml_ng::Value, serde_yaml_ng::Value)>,
    #[serde(default)]
    pub starts_with: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountExpect {
    pub status: StatusSet,
    #[serde(default)]
    pub at_most: Option<u32>,
    #[serde(default)]
    pub at_least: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// A JSON pointer into the response body.
    #[serde(default)]
    pub json: Option<String>,
    /// A response header.
    #[serde(default)]
    pub header: Option<String>,
    /// A value the endpoint's `returns` names (the profile may map its pointer).
    #[serde(default)]
    pub returns: Option<String>,
    /// Whether the value is a secret to redact from every output (default: true).
    #[serde(default = "yes")]
    pub secret: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub value: String,
    #[serde(default)]
    pub starts_with: Option<String>,
    /// The value (after the access-token prefix) is a JWT with this `alg`.
    #[serde(default)]
    pub jwt_alg: Option<String>,
    /// `exp - iat` equals the named lifetime (`session_ttl` or `refresh_ttl`) within the leeway.
    #[serde(default)]
    pub jwt_lifetime: Option<String>,
    /// The signature verifies with the deployment's HS256 secret (needs `jwt_secret`).
    #[serde(default)]
    pub jwt_verifies: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipOn {
    pub status: Vec<u16>,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitScenario {
    /// The identity whose budgets are exhausted.
    #[serde(rename = "as")]
    pub as_: String,
    /// A second identity that must stay admitted (RL-PER-IDENTITY).
    #[serde(default)]
    pub other_identity: Option<String>,
    /// Steps run first (e.g. create a sandbox the file operations need).
    #[serde(default)]
    pub setup: Vec<Step>,
    pub categories: Vec<CategoryProbe>,
    /// Clause decided by "one category exhausted, the others admit".
    #[serde(default)]
    pub independence_clause: Option<String>,
    #[serde(default)]
    pub per_identity_clause: Option<String>,
    #[serde(default)]
    pub status_clause: Option<String>,
    #[serde(default)]
    pub retry_clause: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryProbe {
    pub category: String,
    pub endpoint: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The clause "this category's limit holds".
    pub clause: String,
}

/// A scenario with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    /// `file.yaml#name`
    pub id: String,
}

impl Loaded {
    pub fn stage(&self) -> u8 {
        match self.scenario.kind() {
            Some(Kind::RateLimit(_)) => self.scenario.stage.unwrap_or(2),
            _ => self.scenario.stage.unwrap_or(1),
        }
    }
}

pub fn parse_wait(text: &str) -> Result<WaitFor, String> {
    if text == "retry_after" {
        return Ok(WaitFor::RetryAfter);
    }
    crate::yaml::duration::parse(text).map(WaitFor::Duration)
}

#[derive(Debug, Clone, Copy)]
pub enum WaitFor {
    Duration(Duration),
    RetryAfter,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Repeat {
    Times(u32),
    Named(String),
}
