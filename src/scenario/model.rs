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

/// A scenario: exactly one of `steps`, `rate_limit`, `property`, `timing` or `load` says what kind it is. (A flat struct
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
    /// The statistical constant-time test of the admin token (see `timing`).
    #[serde(default)]
    pub timing: Option<TimingScenario>,
    /// A goose swarm judged by admission accounting (`lelantos-conform load`; `run` skips it).
    #[serde(default)]
    pub load: Option<LoadScenario>,
    /// Generated inputs hunting for a counterexample of a contract promise (see
    /// `check::property`).
    #[serde(default)]
    pub property: Option<PropertyScenario>,
}

pub enum Kind<'a> {
    Steps(&'a [Step]),
    RateLimit(&'a RateLimitScenario),
    Timing(&'a TimingScenario),
    Load(&'a LoadScenario),
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
        match (
            &self.steps,
            &self.rate_limit,
            &self.property,
            &self.timing,
            &self.load,
        ) {
            (Some(s), None, None, None, None) => Some(Kind::Steps(s)),
            (None, Some(r), None, None, None) => Some(Kind::RateLimit(r)),
            (None, None, Some(p), None, None) => Some(Kind::Property(p)),
            (None, None, None, Some(t), None) => Some(Kind::Timing(t)),
            (None, None, None, None, Some(l)) => Some(Kind::Load(l)),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind() {
            Some(Kind::Steps(_)) => "steps",
            Some(Kind::RateLimit(_)) => "rate_limit",
            Some(Kind::Timing(_)) => "timing",
            Some(Kind::Load(_)) => "load",
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

/// The timing test's settings; each defaults to `timing::Settings::default()`'s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingScenario {
    /// The clause decided (the admin token's constant-time comparison).
    pub clause: String,
    /// The admin endpoint timed (an endpoint of the spec taking the admin token).
    pub endpoint: String,
    /// Measured requests, both batches together.
    #[serde(default)]
    pub samples: Option<u64>,
    /// Wall-clock limit for sampling, throttling waits included.
    #[serde(default, with = "crate::yaml::duration::option")]
    pub budget: Option<Duration>,
    #[serde(default)]
    pub warmup: Option<u64>,
    /// A pass needs the run to have been able to see a leak this small.
    #[serde(default, with = "crate::yaml::duration::option")]
    pub max_detectable: Option<Duration>,
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
            // Last: its wrong tokens count against the admin throttle, which must not disturb
            // the other admin checks; and nothing else then shares the machine's time with it.
            Some(Kind::Timing(_)) => self.scenario.stage.unwrap_or(3),
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

/// A load swarm: goose users sending weighted tasks for a while, judged afterwards from every
/// request's client-side timestamps (see `load::judge`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadScenario {
    /// Concurrent users (closed loop: each sends its next request when the last one answered).
    /// Required without `plan`; with one, `load` sets it to the plan's peak.
    #[serde(default)]
    pub users: usize,
    /// Users started per second (goose's hatch rate); default: all at once. Not with `plan`.
    #[serde(default)]
    pub hatch_rate: Option<f64>,
    /// How long the swarm runs once hatched, e.g. `5s`. Required without `plan`; with one,
    /// `load` sets it to the plan's total length.
    #[serde(default)]
    pub duration: String,
    /// A goose test plan instead of `users`/`hatch_rate`/`duration`: steps of users and the
    /// time to reach them, as goose's `--test-plan` (`"10,5s;50,10s;50,30s;0,5s"`) or a list of
    /// `{users: N, over: 5s}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<LoadPlan>,
    /// A pause between a user's tasks, e.g. `{min: 0ms, max: 10ms}`; default none.
    #[serde(default)]
    pub wait: Option<WaitRange>,
    /// `shared` (one key for all users), `per_user` (a key each) or `pool` (`pool_size` keys,
    /// user `i` uses key `i mod pool_size`).
    pub identities: String,
    #[serde(default)]
    pub pool_size: Option<usize>,
    /// On a 429: `honour` (sleep Retry-After, then retry once and expect admission) or `hammer`.
    #[serde(default = "honour")]
    pub on_429: String,
    /// Weighted tasks; one is picked per iteration.
    pub tasks: Vec<LoadTask>,
    /// k6-style thresholds: `p99 < 50ms`, `errors == 0`, `5xx == 0`, `rps > 100`.
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// Which clause each judgement decides (each optional; the clause must be listed).
    #[serde(default)]
    pub limit_clauses: BTreeMap<String, String>,
    #[serde(default)]
    pub retry_after_clause: Option<String>,
    #[serde(default)]
    pub body_clause: Option<String>,
    #[serde(default)]
    pub retry_admits_clause: Option<String>,
    #[serde(default)]
    pub independence_clause: Option<String>,
    #[serde(default)]
    pub refresh_clause: Option<String>,
    #[serde(default)]
    pub no_5xx_clause: Option<String>,
    #[serde(default)]
    pub connections_clause: Option<String>,
    #[serde(default)]
    pub thresholds_clause: Option<String>,
}

/// A load plan as written: goose's test-plan text or a list of steps.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum LoadPlan {
    Text(String),
    Steps(Vec<PlanStep>),
}

/// One step of a plan: reach `users` over `over` (linearly; equal users hold them).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    pub users: usize,
    pub over: String,
}

impl LoadPlan {
    /// The steps as `(users, whole seconds)`, goose's form. A step's time is whole seconds
    /// (goose's test plan counts no finer), written as goose does (`90`, `1m30s`) or as any
    /// other duration here (`5s`, `2m`). At least one step must have users.
    pub fn steps(&self) -> Result<Vec<(usize, u64)>, String> {
        let secs = |text: &str| -> Result<u64, String> {
            let text = text.trim();
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                return text
                    .parse()
                    .map_err(|_| format!("`{text}` is too long a step"));
            }
            let d = crate::yaml::duration::parse(text)?;
            if d.subsec_nanos() != 0 {
                return Err(format!(
                    "`{text}`: a plan step lasts whole seconds (goose's test plan counts no finer)"
                ));
            }
            Ok(d.as_secs())
        };
        let steps: Vec<(usize, u64)> = match self {
            LoadPlan::Text(text) => text
                .split(';')
                .map(|step| {
                    let (users, over) = step.split_once(',').ok_or_else(|| {
                        format!("step `{}`: write USERS,TIME, e.g. `10,5s`", step.trim())
                    })?;
                    let users = users.trim().parse().map_err(|_| {
                        format!(
                            "step `{}`: `{}` is not a user count",
                            step.trim(),
                            users.trim()
                        )
                    })?;
                    Ok((users, secs(over)?))
                })
                .collect::<Result<_, String>>()?,
            LoadPlan::Steps(steps) => steps
                .iter()
                .map(|s| Ok((s.users, secs(&s.over)?)))
                .collect::<Result<_, String>>()?,
        };
        if steps.iter().all(|s| s.0 == 0) {
            return Err("a plan needs a step with at least one user".into());
        }
        Ok(steps)
    }
}

/// What `load` runs from a plan's steps.
pub fn plan_peak(steps: &[(usize, u64)]) -> usize {
    steps.iter().map(|s| s.0).max().unwrap_or(0)
}

/// The plan's total length: the sum of its steps' times.
pub fn plan_length(steps: &[(usize, u64)]) -> std::time::Duration {
    std::time::Duration::from_secs(steps.iter().map(|s| s.1).sum())
}

/// Goose's test-plan text for `steps`. A plan that ends with users gets a last `0,0` step, so
/// the swarm stops when the plan ends (goose would otherwise hold the last step's users until
/// stopped), as goose's own `--run-time` does.
pub fn goose_plan(steps: &[(usize, u64)]) -> String {
    let mut text: Vec<String> = steps.iter().map(|(u, s)| format!("{u},{s}")).collect();
    if steps.last().is_some_and(|s| s.0 > 0) {
        text.push("0,0".into());
    }
    text.join(";")
}

fn honour() -> String {
    "honour".into()
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaitRange {
    pub min: String,
    pub max: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadTask {
    /// An endpoint of the spec by name. `refresh` runs a session's rotation (login, refresh,
    /// replay of the used token, which must be refused).
    pub endpoint: String,
    #[serde(default = "one")]
    pub weight: usize,
    /// Path parameters besides `id` (the user's own sandbox, created when the user starts).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// A body sent as is (uploads).
    #[serde(default)]
    pub raw_body: Option<String>,
}

fn one() -> usize {
    1
}

impl LoadScenario {
    /// Every clause this scenario decides.
    pub fn decided(&self) -> Vec<&str> {
        self.limit_clauses
            .values()
            .chain(
                [
                    &self.retry_after_clause,
                    &self.body_clause,
                    &self.retry_admits_clause,
                    &self.independence_clause,
                    &self.refresh_clause,
                    &self.no_5xx_clause,
                    &self.connections_clause,
                    &self.thresholds_clause,
                ]
                .into_iter()
                .flatten(),
            )
            .map(String::as_str)
            .collect()
    }
}
