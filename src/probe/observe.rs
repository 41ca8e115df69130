//! Observers: checks that hold for every exchange of a run rather than for one step, so every
//! violation is counted, not sampled: no response echoes a presented credential, every 401 carries
//! WWW-Authenticate, every 429 carries a valid Retry-After and body, RateLimit headers agree.

use std::sync::{Arc, Mutex};

use super::{Outcome, Probe};
use crate::spec::Spec;
use crate::verdict::{Evidence, Exchange, Finding, Status};

const KEEP_EXAMPLES: usize = 3;

#[derive(Default)]
struct Tally {
    seen: u64,
    violations: u64,
    first: Vec<(String, Exchange)>,
}

impl Tally {
    fn record(&mut self, violation: Option<String>, exchange: impl FnOnce() -> Exchange) {
        self.seen += 1;
        if let Some(why) = violation {
            self.violations += 1;
            if self.first.len() < KEEP_EXAMPLES {
                self.first.push((why, exchange()));
            }
        }
    }
}

#[derive(Default)]
struct State {
    echo: Tally,
    www_authenticate: Tally,
    retry_after: Tally,
    body: Tally,
    ratelimit_headers: Tally,
    /// The first sign that the target's windows are not the ones judged (a RateLimit-Policy
    /// window, a Retry-After longer than the window).
    window_note: Option<String>,
}

struct Config {
    credential_headers: Vec<(String, Option<String>)>,
    prefixes: Vec<String>,
    over_status: u16,
    /// The effective contract, for the one judgement of an over-limit answer (`crate::rate`).
    spec: Spec,
    longest_window: std::time::Duration,
    categories: Vec<(String, u32, u64)>,
}

/// Shared by every clone of a `Probe`.
#[derive(Clone)]
pub struct Observers {
    config: Arc<Config>,
    state: Arc<Mutex<State>>,
}

impl Observers {
    /// `spec` is the effective contract (profile overrides applied).
    pub fn new(spec: &Spec) -> Self {
        let auth = &spec.auth;
        let ol = &spec.rate_limits.over_limit;
        let config = Config {
            credential_headers: vec![
                (auth.api_key.header.clone(), None),
                (
                    auth.access_token.header.clone(),
                    Some(format!("{} ", auth.access_token.scheme)),
                ),
                (auth.admin_token.header.clone(), None),
            ],
            prefixes: vec![
                auth.api_key.prefix.clone(),
                auth.access_token.prefix.clone(),
            ],
            over_status: ol.status,
            spec: spec.clone(),
            longest_window: spec
                .rate_limits
                .categories
                .values()
                .map(|c| c.window)
                .max()
                .unwrap_or(std::time::Duration::from_secs(60)),
            categories: spec
                .rate_limits
                .categories
                .iter()
                .map(|(n, c)| (n.clone(), c.limit, c.window.as_secs_f64().ceil() as u64))
                .collect(),
        };
        Self {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    pub(super) fn observe(&self, outcome: &Outcome, probe: &Probe) {
        let Ok(resp) = &outcome.result else { return };
        let cfg = &self.config;
        let mut st = self.state.lock().expect("observer lock");
        let ex = || probe.exchange(outcome);

        let presented = self.presented_credentials(outcome, probe);
        let bodies = readings(&resp.body);
        let echoed = presented.iter().any(|c| {
            bodies.iter().any(|b| b.contains(c.as_str()))
                || resp.headers.iter().any(|(_, v)| v.contains(c.as_str()))
        });
        st.echo.record(
            echoed.then(|| "the response contains a credential the request presented".to_string()),
            ex,
        );

        if resp.status == 401 {
            let missing = resp.header("www-authenticate").is_none();
            st.www_authenticate.record(
                missing.then(|| "401 without WWW-Authenticate".to_string()),
                ex,
            );
        }

        // The documented limits are those of authenticated requests: a 429 is judged when the
        // request presented a credential the run holds. A throttle of failed attempts (a wrong
        // password, an unknown key, a wrong admin token) may answer in a form of its own.
        let authenticated = || {
            let r = probe.redactor();
            let known: Vec<&str> = r.secrets().collect();
            presented.iter().any(|c| known.contains(&c.as_str()))
        };
        if resp.status == cfg.over_status && authenticated() {
            // The window of the request's own category; the longest when it called no endpoint.
            let window = outcome
                .request
                .category
                .as_deref()
                .and_then(|c| cfg.spec.category(c))
                .map_or(cfg.longest_window, |c| c.window);
            let r = crate::rate::judge_refusal(
                &cfg.spec,
                window,
                resp.header(&cfg.spec.rate_limits.over_limit.retry_after_header),
                resp.header("date"),
                resp.header("content-type"),
                Some(&resp.body),
                std::time::SystemTime::now(),
            );
            st.retry_after.record(r.header_violation, ex);
            st.body.record(r.body_violation, ex);
            let said = resp
                .header(&cfg.spec.rate_limits.over_limit.retry_after_header)
                .and_then(|v| v.trim().parse::<u64>().ok());
            if st.window_note.is_none()
                && let Some(secs) = said.filter(|s| *s > window.as_secs_f64().ceil() as u64)
            {
                st.window_note = Some(format!(
                    "a 429 said Retry-After: {secs}, longer than the {} window judged",
                    humantime::format_duration(window)
                ));
            }
        }

        if let Some(fields) = ratelimit_fields(&resp.headers) {
            let violation = check_ratelimit(&fields, &cfg.categories);
            st.ratelimit_headers.record(violation, ex);
            if st.window_note.is_none() {
                st.window_note = fields
                    .policy
                    .iter()
                    .find_map(|v| stated_window(v, &cfg.categories));
            }
        }
    }

    /// The first sign that the target's windows are others than those judged, if any.
    pub fn window_note(&self) -> Option<String> {
        self.state
            .lock()
            .expect("observer lock")
            .window_note
            .clone()
    }

    /// Raw values of the credentials a request presented: credential headers and any known secret
    /// in its body. Bare prefixes and very short values are left out: they are no credential.
    fn presented_credentials(&self, outcome: &Outcome, probe: &Probe) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in &outcome.request.headers {
            for (header, scheme) in &self.config.credential_headers {
                if name.eq_ignore_ascii_case(header) {
                    let v = match scheme {
                        Some(s) => value.strip_prefix(s.as_str()).unwrap_or(value),
                        None => value,
                    };
                    out.push(v.trim().to_string());
                }
            }
        }
        if let Some(body) = &outcome.request.body {
            out.extend(
                probe
                    .redactor()
                    .secrets()
                    .filter(|s| body.contains(s))
                    .map(str::to_string),
            );
        }
        // The bare value too: a token's JWT without `sk_lel_` is the whole secret.
        let bare: Vec<String> = out
            .iter()
            .flat_map(|v| {
                self.config
                    .prefixes
                    .iter()
                    .filter_map(|p| v.strip_prefix(p.as_str()))
            })
            .map(str::to_string)
            .collect();
        out.extend(bare);
        out.retain(|v| v.len() >= 12 && !self.config.prefixes.iter().any(|p| p == v));
        out
    }

    /// The observers' findings so far.
    pub fn findings(&self) -> Vec<Finding> {
        let st = self.state.lock().expect("observer lock");
        let mut out = Vec::new();
        let mut judge = |clause: &str, tally: &Tally, what: &str, none_seen: &str| {
            let scenario = "observer";
            let f = if tally.seen == 0 {
                Finding::new(clause, Status::Skipped, scenario, none_seen)
            } else if tally.violations == 0 {
                Finding::new(
                    clause,
                    Status::Pass,
                    scenario,
                    format!("all {} {what} conform", tally.seen),
                )
            } else {
                let (why, _) = &tally.first[0];
                Finding::new(
                    clause,
                    Status::Fail,
                    scenario,
                    format!(
                        "{} of {} {what} violate it; first: {why}",
                        tally.violations, tally.seen
                    ),
                )
                .with_evidence(Evidence {
                    script: None,
                    note: tally
                        .first
                        .iter()
                        .map(|(w, _)| w.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    exchanges: tally.first.iter().map(|(_, e)| e.clone()).collect(),
                })
            };
            out.push(f);
        };
        judge(
            "AUTH-NO-ECHO",
            &st.echo,
            "responses",
            "no response was received",
        );
        judge(
            "HTTP-WWW-AUTHENTICATE",
            &st.www_authenticate,
            "401 responses",
            "the run saw no 401",
        );
        judge(
            "RL-429-RETRY-AFTER",
            &st.retry_after,
            "over-limit responses",
            "the run saw no over-limit response",
        );
        judge(
            "RL-429-BODY",
            &st.body,
            "over-limit responses",
            "the run saw no over-limit response",
        );
        judge(
            "RL-RATELIMIT-HEADERS",
            &st.ratelimit_headers,
            "responses with RateLimit fields",
            "the target sends no RateLimit-Policy, RateLimit or RateLimit-Remaining field",
        );
        out
    }
}

/// The IETF RateLimit fields of a response, in the forms the drafts and common libraries send
/// (express-rate-limit's `standardHeaders`, gateways): `RateLimit-Policy` as `100;w=60` (drafts
/// 6 and 7) or `"name";q=100;w=60` (draft 8), one field or several; the remaining quota as
/// `RateLimit-Remaining: 99` (draft 6), `RateLimit: limit=100, remaining=99, reset=60` (draft
/// 7) or `RateLimit: "name";r=99;t=60` (draft 8). `None` when the response carries none.
fn ratelimit_fields(headers: &[(String, String)]) -> Option<RateLimitFields> {
    let values = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let policy = values("ratelimit-policy");
    let mut remaining = values("ratelimit-remaining")
        .into_iter()
        .map(|v| {
            (
                format!("RateLimit-Remaining `{v}`"),
                v.trim().parse::<i64>().ok(),
            )
        })
        .collect::<Vec<_>>();
    for v in values("ratelimit") {
        for item in v.split(',') {
            for param in item.split(';') {
                if let Some((k, n)) = param.trim().split_once('=')
                    && ["remaining", "r"].contains(&k.trim())
                {
                    remaining.push((format!("RateLimit `{v}`"), n.trim().parse::<i64>().ok()));
                }
            }
        }
    }
    (!policy.is_empty() || !remaining.is_empty()).then(|| RateLimitFields {
        policy: policy.into_iter().map(str::to_string).collect(),
        remaining,
    })
}

struct RateLimitFields {
    policy: Vec<String>,
    /// Each remaining quota stated, with where it was said (`None`: not a number).
    remaining: Vec<(String, Option<i64>)>,
}

/// Judges the RateLimit fields against the categories' limits and windows: every policy item's
/// quota (and window, when given) is some category's; a remaining quota is a whole number, never
/// above the largest limit.
fn check_ratelimit(f: &RateLimitFields, categories: &[(String, u32, u64)]) -> Option<String> {
    for value in &f.policy {
        if let Some(v) = check_policy(value, categories) {
            return Some(v);
        }
    }
    let most = categories.iter().map(|(_, l, _)| i64::from(*l)).max()?;
    for (said, n) in &f.remaining {
        match n {
            None => return Some(format!("{said}: the remaining quota is not a whole number")),
            Some(n) if *n < 0 || *n > most => {
                return Some(format!(
                    "{said}: {n} remaining, more than any category's limit ({most}) or negative"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Checks a `RateLimit-Policy` value (items comma-separated; each a quota as its bare first
/// member, `100;w=60`, or as `q`, `"name";q=100;w=60`) against the categories' limits and
/// windows.
fn check_policy(value: &str, categories: &[(String, u32, u64)]) -> Option<String> {
    for item in value.split(',') {
        let mut members = item.split(';').map(str::trim);
        let mut q = members.next().and_then(|first| first.parse::<u32>().ok());
        let mut w = None;
        for param in members {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            match k.trim() {
                "q" => q = v.trim().parse::<u32>().ok(),
                "w" => w = v.trim().parse::<u64>().ok(),
                _ => {}
            }
        }
        let Some(q) = q else {
            return Some(format!("RateLimit-Policy `{value}` has no quota"));
        };
        let matches = categories
            .iter()
            .any(|(_, limit, window)| *limit == q && w.is_none_or(|w| w == *window));
        if !matches {
            return Some(format!(
                "RateLimit-Policy `{value}` matches no category's limit and window"
            ));
        }
    }
    None
}

/// A RateLimit-Policy item whose quota is a category's limit but whose window is not that
/// category's (nor any category's of that limit): the target states another window.
fn stated_window(value: &str, categories: &[(String, u32, u64)]) -> Option<String> {
    value.split(',').find_map(|item| {
        let mut members = item.split(';').map(str::trim);
        let mut q = members.next().and_then(|first| first.parse::<u32>().ok());
        let mut w = None;
        for param in members {
            match param.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("q", v)) => q = v.parse::<u32>().ok(),
                Some(("w", v)) => w = v.parse::<u64>().ok(),
                _ => {}
            }
        }
        let (q, w) = (q?, w?);
        let same_limit: Vec<&(String, u32, u64)> =
            categories.iter().filter(|(_, l, _)| *l == q).collect();
        let (name, _, judged) = same_limit.first()?;
        (!same_limit.iter().any(|(_, _, cw)| *cw == w)).then(|| {
            format!(
                "RateLimit-Policy `{}` states a {w} s window for {name}'s limit of {q}, where {judged} s is judged",
                value.trim()
            )
        })
    })
}

/// A response body as a reader of it would see it: as sent, with its JSON string escapes
/// (`\u0073k_lel_`), percent-encoding and HTML character references decoded.
fn readings(body: &str) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out = vec![Cow::Borrowed(body)];
    if body.contains('\\')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
    {
        let mut strings = String::new();
        json_strings(&v, &mut strings);
        out.push(Cow::Owned(strings));
    }
    if body.contains('%') {
        out.push(percent_encoding::percent_decode_str(body).decode_utf8_lossy());
    }
    if body.contains("&#") || body.contains("&amp;") {
        out.push(Cow::Owned(html_unescape(body)));
    }
    out
}

/// Every string and member name of a JSON value, one per line.
fn json_strings(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push_str(k);
                out.push('\n');
                json_strings(x, out);
            }
        }
        _ => {}
    }
}

/// Numeric character references (`&#115;`, `&#x73;`) and the five named ones decoded.
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_must_match_a_category() {
        let cats = vec![
            ("general".to_string(), 100, 60),
            ("sandbox_creation".to_string(), 10, 60),
        ];
        assert_eq!(check_policy("\"general\";q=100;w=60", &cats), None);
        assert_eq!(check_policy("\"x\";q=10;w=60, \"y\";q=100", &cats), None);
        assert!(check_policy("\"general\";q=1000;w=60", &cats).is_some());
        assert!(check_policy("\"general\";q=100;w=1", &cats).is_some());
        // Drafts 6 and 7 (express-rate-limit's `standardHeaders`): the quota is the bare item.
        assert_eq!(check_policy("100;w=60", &cats), None);
        assert_eq!(check_policy("10;w=60, 100;w=60", &cats), None);
        assert!(check_policy("1000;w=60", &cats).is_some());
        assert!(check_policy("w=60", &cats).is_some());
    }

    #[test]
    fn remaining_is_read_in_every_draft_form() {
        let cats = vec![("general".to_string(), 100, 60)];
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let judge = |pairs: &[(&str, &str)]| {
            ratelimit_fields(&h(pairs)).map(|f| check_ratelimit(&f, &cats))
        };
        assert_eq!(judge(&[("content-type", "application/json")]), None);
        assert_eq!(
            judge(&[
                ("RateLimit-Policy", "100;w=60"),
                ("RateLimit-Remaining", "99")
            ]),
            Some(None)
        );
        assert_eq!(
            judge(&[("ratelimit", "limit=100, remaining=0, reset=60")]),
            Some(None)
        );
        assert_eq!(
            judge(&[
                ("ratelimit-policy", "\"general\"; q=100; w=60; pk=:YQ==:"),
                ("ratelimit", "\"general\"; r=42; t=30"),
            ]),
            Some(None)
        );
        assert!(matches!(
            judge(&[("RateLimit-Remaining", "500")]),
            Some(Some(_))
        ));
        assert!(matches!(
            judge(&[("ratelimit", "limit=100, remaining=lots, reset=60")]),
            Some(Some(_))
        ));
        // A second policy field is judged too.
        assert!(matches!(
            judge(&[
                ("ratelimit-policy", "100;w=60"),
                ("ratelimit-policy", "5000;w=60"),
            ]),
            Some(Some(_))
        ));
    }
}
