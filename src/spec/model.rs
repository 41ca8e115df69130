//! The spec's data model. Every struct refuses unknown fields, so a typo is an error, not a
//! silently ignored line.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub version: u32,
    pub name: String,
    pub auth: Auth,
    pub rate_limits: RateLimits,
    pub endpoints: BTreeMap<String, Endpoint>,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub api_key: ApiKeyAuth,
    pub access_token: AccessTokenAuth,
    pub admin_token: AdminTokenAuth,
    pub denial_statuses: Vec<u16>,
    #[serde(with = "crate::yaml::duration")]
    pub leeway: Duration,
}

impl Auth {
    /// The header names that carry the contract's credentials (API key, access token, admin
    /// token), as the spec writes them.
    pub fn credential_headers(&self) -> [&str; 3] {
        [
            self.api_key.header.as_str(),
            self.access_token.header.as_str(),
            self.admin_token.header.as_str(),
        ]
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuth {
    pub header: String,
    pub prefix: String,
    pub storage: String,
    pub scope: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenAuth {
    pub header: String,
    pub scheme: String,
    pub prefix: String,
    pub algorithm: String,
    #[serde(with = "crate::yaml::duration")]
    pub session_ttl: Duration,
    #[serde(with = "crate::yaml::duration")]
    pub refresh_ttl: Duration,
    pub scope: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenAuth {
    pub header: String,
    pub scope: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    pub categories: BTreeMap<String, Category>,
    pub per: String,
    pub fresh_after_windows: u32,
    pub over_limit: OverLimit,
    /// Which reading of "limit / window" the bounds allow (a profile may narrow it).
    #[serde(default)]
    pub algorithm: Algorithm,
}

/// The readings of "N requests / minute" a bound allows. `Any` (the default) allows every one;
/// a profile that knows its deployment narrows it and gets tighter bounds.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    Any,
    /// Fixed windows: at most `limit` in each window; a span may straddle an edge.
    #[serde(alias = "fixed")]
    FixedWindow,
    /// A sliding log: at most `limit` in any interval of one window.
    #[serde(alias = "sliding")]
    SlidingWindow,
    /// A token bucket or GCRA: capacity `limit`, refilled at `limit` per window. The names of
    /// `--limiter` (`bucket`, `gcra`) are taken too: GCRA admits what a token bucket does.
    #[serde(alias = "bucket", alias = "gcra")]
    TokenBucket,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Any => "any",
            Algorithm::FixedWindow => "fixed_window",
            Algorithm::SlidingWindow => "sliding_window",
            Algorithm::TokenBucket => "token_bucket",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub limit: u32,
    #[serde(with = "crate::yaml::duration")]
    pub window: Duration,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverLimit {
    pub status: u16,
    pub retry_after_header: String,
    pub content_type: String,
    pub body: OverLimitBody,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverLimitBody {
    pub error: String,
    pub retry_after_field: String,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    None,
    ApiKey,
    AccessToken,
    AdminToken,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub method: String,
    /// The path, with `{name}` parameters and an optional `?query` template.
    pub path: String,
    pub category: String,
    pub auth: Vec<AuthMethod>,
    /// A JSON body template; string values may hold `{{variable}}` placeholders.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Where the response holds values the harness needs: name -> JSON pointer.
    #[serde(default)]
    pub returns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Must,
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub id: String,
    pub area: String,
    pub level: Level,
    pub title: String,
    pub source: String,
    #[serde(default)]
    pub reading: Option<String>,
    /// Set when the clause cannot be observed from outside: why.
    #[serde(default)]
    pub not_testable: Option<String>,
}
