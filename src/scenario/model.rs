//! The scenario model: what to do against a target and which clauses it decides. Every struct
//! refuses unknown fields.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::profile::Role;
use crate::yaml::word::{self, Scalar};

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
    #[serde(default, deserialize_with = "roles")]
    pub requires: Vec<Role>,
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
    /// The family: `api_keys`, `access_tokens`, `refresh`, `admin_token`, `rate_limits` or
    /// `ambiguous_credentials`.
    pub check: super::property::Family,
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
    #[serde(default, deserialize_with = "roles")]
    pub requires: Vec<Role>,
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// A pause: a duration (`2s`) or `retry_after` (the last Retry-After seen in this scenario).
    #[serde(default)]
    pub wait: Option<WaitFor>,
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
#[derive(Debug, Clone)]
pub enum As {
    Role(AsRole),
    Value(AsValue),
}

impl<'de> Deserialize<'de> for As {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = As;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a role or {api_key | bearer | admin_token: VALUE}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<As, E> {
                AsRole::deserialize(serde::de::value::StrDeserializer::<E>::new(v)).map(As::Role)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<As, A::Error> {
                AsValue::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(As::Value)
            }
        }
        d.deserialize_any(V)
    }
}

/// Who a request is sent as: no credential, the session's access token, or a credential role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsRole {
    None,
    AccessToken,
    Credential(Role),
}

impl AsRole {
    pub fn name(self) -> &'static str {
        match self {
            AsRole::None => "none",
            AsRole::AccessToken => "access_token",
            AsRole::Credential(r) => r.name(),
        }
    }
}

impl std::fmt::Display for AsRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for AsRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a role", "none", |s| {
            let name = s.written();
            match name.as_str() {
                "none" => Ok(AsRole::None),
                "access_token" => Ok(AsRole::AccessToken),
                n => Role::from_name(n).map(AsRole::Credential).ok_or_else(|| {
                    let known = Role::ALL
                        .iter()
                        .map(|r| r.name())
                        .chain(["none", "access_token"]);
                    format!("unknown role `{n}`{}", crate::error::did_you_mean(n, known))
                }),
            }
        })
    }
}

/// `requires: [ROLE, ...]`: each a credential role.
fn roles<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Role>, D::Error> {
    struct Required(Role);
    impl<'de> Deserialize<'de> for Required {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            word::parse(d, "a credential", "api_key", |s| {
                let name = s.written();
                Role::from_name(&name).map(Required).ok_or_else(|| {
                    format!(
                        "unknown credential `{name}`{}",
                        crate::error::did_you_mean(&name, Role::ALL.iter().map(|r| r.name()))
                    )
                })
            })
        }
    }
    Vec::<Required>::deserialize(d).map(|v| v.into_iter().map(|r| r.0).collect())
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
    /// Templates that must not appear, as a whole value (not inside a longer id), in the
    /// response body or headers.
    #[serde(default)]
    pub body_excludes: Vec<String>,
    /// Templates that must appear in the body.
    #[serde(default)]
    pub body_includes: Vec<String>,
}

/// Status codes: numbers, `2xx`-style classes, or `denied` (the effective denial statuses); one
/// or a list.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSet(pub Vec<StatusItem>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Code(u16),
    /// `1xx` to `5xx`: the hundreds digit.
    Class(u8),
    Denied,
}

impl StatusItem {
    fn read(s: Scalar) -> Result<Self, String> {
        match s {
            Scalar::Int(c) if (100..600).contains(&c) => Ok(StatusItem::Code(c as u16)),
            Scalar::Int(c) => Err(format!("{c} is not an HTTP status")),
            Scalar::Text("denied") => Ok(StatusItem::Denied),
            Scalar::Text(n) => match n.as_bytes() {
                [d @ b'1'..=b'5', b'x', b'x'] => Ok(StatusItem::Class(d - b'0')),
                _ => Err(format!(
                    "unknown status `{n}`: write a code, a class like 2xx, or `denied`"
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for StatusItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a status", "200", StatusItem::read)
    }
}

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StatusSet;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status or a list of statuses")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusSet, E> {
                StatusItem::deserialize(serde::de::value::U64Deserializer::<E>::new(v))
                    .map(|i| StatusSet(vec![i]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusSet, E> {
                StatusItem::deserialize(serde::de::value::I64Deserializer::<E>::new(v))
                    .map(|i| StatusSet(vec![i]))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusSet, E> {
                StatusItem::deserialize(serde::de::value::StrDeserializer::<E>::new(v))
                    .map(|i| StatusSet(vec![i]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StatusSet, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = seq.next_element()? {
                    items.push(i);
                }
                Ok(StatusSet(items))
            }
        }
        d.deserialize_any(V)
    }
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
    pub matches: Option<Pattern>,
    /// `string`, `integer`, `number`, `boolean`, `array`, `object`, `null`.
    #[serde(default, rename = "type")]
    pub type_: Option<JsonType>,
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
    pub jwt_lifetime: Option<Lifetime>,
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
    pub as_: AsRole,
    /// A second identity that must stay admitted (RL-PER-IDENTITY).
    #[serde(default)]
    pub other_identity: Option<AsRole>,
    /// Steps run first (e.g. create a sandbox the file operations need).
    #[serde(default)]
    pub setup: Vec<Step>,
    /// Steps run right after the set-up, before any key's burst: the limits of the other
    /// credential types (an access token's burst), while budgets they may share are untouched
    /// and the bursts' waits leave them a window to refill before the next stage. Their
    /// findings stand on their own: a failure here stops nothing.
    #[serde(default)]
    pub other_credentials: Vec<Step>,
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
    /// Clause decided by the bypass battery (`check::bypass`), run last on keys created for it.
    #[serde(default)]
    pub bypass_clause: Option<String>,
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
    /// A request of the category that an authenticated identity gets a client error for (an
    /// unknown id, a malformed body): the bypass battery checks it is charged.
    #[serde(default)]
    pub client_error: Option<RequestSpec>,
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
    /// A load scenario resolved (`None` for the other kinds).
    pub swarm: Option<super::Swarm>,
    /// `file.yaml#name`
    pub id: String,
}

impl Loaded {
    pub fn stage(&self) -> u8 {
        match self.scenario.kind() {
            Some(Kind::RateLimit(_)) => self.scenario.stage.unwrap_or(2),
            // Last, after the properties too (stage 3): its wrong tokens count against the admin
            // throttle, which the admin near-miss property also spends (side by side, the
            // throttle cut the screen's second batch short and one batch's leak went
            // unconfirmed); and nothing else then shares the machine's time with it.
            Some(Kind::Timing(_)) => self.scenario.stage.unwrap_or(4),
            _ => self.scenario.stage.unwrap_or(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Duration(Duration),
    RetryAfter,
}

impl<'de> Deserialize<'de> for WaitFor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a duration or retry_after", "0s", |s| match s {
            Scalar::Text("retry_after") => Ok(WaitFor::RetryAfter),
            Scalar::Text(t) => crate::yaml::duration::parse(t).map(WaitFor::Duration),
            Scalar::Int(n) => Err(format!(
                "wait {n}: give a unit (e.g. {n}s or {n}ms) or retry_after"
            )),
        })
    }
}

/// How many times a step's request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    Times(u32),
    /// More than any reading of this category's limit admits in a short burst.
    OverLimit(String),
}

impl<'de> Deserialize<'de> for Repeat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a count or over_limit:<category>", "1", |s| match s {
            Scalar::Int(0) => Err("repeat 0 sends nothing: give at least 1".into()),
            Scalar::Int(n) => u32::try_from(n)
                .map(Repeat::Times)
                .map_err(|_| format!("repeat {n}: too many")),
            Scalar::Text(t) => match t.strip_prefix("over_limit:") {
                Some(cat) => Ok(Repeat::OverLimit(cat.to_string())),
                None => Err(format!(
                    "repeat `{t}`: write a count or over_limit:<category>"
                )),
            },
        })
    }
}

/// A regular expression, compiled when the file is read.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a regular expression", "x", |s| {
            let text = s.written();
            regex::Regex::new(&text)
                .map(Pattern)
                .map_err(|e| format!("invalid regular expression: {e}"))
        })
    }
}

/// A lifetime of the spec's access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Session,
    Refresh,
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(
            d,
            "session_ttl or refresh_ttl",
            "session_ttl",
            |s| match s {
                Scalar::Text("session_ttl") => Ok(Lifetime::Session),
                Scalar::Text("refresh_ttl") => Ok(Lifetime::Refresh),
                _ => Err("jwt_lifetime is session_ttl or refresh_ttl".into()),
            },
        )
    }
}

/// A JSON type, as `type:` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    const ALL: [JsonType; 7] = [
        JsonType::String,
        JsonType::Integer,
        JsonType::Number,
        JsonType::Boolean,
        JsonType::Array,
        JsonType::Object,
        JsonType::Null,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
            JsonType::Null => "null",
        }
    }

    /// The type of `v`; an integer is `Integer` (and, for `type: number`, a number too).
    pub fn of(v: &serde_json::Value) -> JsonType {
        use serde_json::Value;
        match v {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }
}

impl<'de> Deserialize<'de> for JsonType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        word::parse(d, "a JSON type", "array", |s| {
            let name = s.written();
            JsonType::ALL
                .into_iter()
                .find(|t| t.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown type `{name}`: one of {}{}",
                        JsonType::ALL.map(JsonType::name).join(", "),
                        crate::error::did_you_mean(&name, JsonType::ALL.iter().map(|t| t.name()))
                    )
                })
        })
    }
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
    /// Open-loop pacing, as k6's constant-arrival-rate executor: each user sends on a fixed
    /// schedule, not after its last answer, so a slow target still receives the rate:
    /// `150/min per identity` or `300/min` (in total). Excludes `wait` and `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<String>,
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
