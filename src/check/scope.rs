//! A scenario's working state: its variables, its random source, where its findings go, and how
//! it turns a request description into a request (endpoint lookup, parameters, credentials).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::seed::SeededRng;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use tokio::sync::watch;

use super::template::{Env, TemplateError, expand, expand_json};
use crate::error::Error;
use crate::probe::{Outcome, Probe, Request};
use crate::profile::{Role, Target};
use crate::scenario::{As, AsRole, RequestSpec};
use crate::spec::Spec;
use crate::verdict::{Evidence, Finding, Status};

/// Characters left as they are in a path segment or query value.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// After this many requests in a row without any response the target is taken for gone and the
/// run ends.
const MAX_CONSECUTIVE_TRANSPORT_ERRORS: u32 = 8;

/// Where findings go; shared by every scenario so an interrupted run keeps what it found.
#[derive(Clone, Default)]
pub struct Findings(Arc<Mutex<Vec<Finding>>>);

impl Findings {
    pub fn push(&self, f: Finding) {
        self.0.lock().expect("findings lock").push(f);
    }

    pub fn snapshot(&self) -> Vec<Finding> {
        self.0.lock().expect("findings lock").clone()
    }
}

/// Run-wide health of the target, shared by every scenario. Once the target is taken for gone
/// (too many transport errors in a row) it stays gone: every request still in flight and every
/// wait is abandoned at once and every later request refused, so the run ends within about one
/// request timeout of the target going silent, not one timeout per request in flight or queued
/// (a burst against a hanging target would otherwise wait out its timeouts round after round).
#[derive(Clone)]
pub struct Health {
    consecutive_errors: Arc<AtomicU32>,
    gone: Arc<watch::Sender<Option<String>>>,
    /// The waits under way (their ends), for progress to show what the run waits for.
    waits: Arc<std::sync::Mutex<Vec<Instant>>>,
    /// The waits done, by scenario and reason, for each scenario's report.
    waited: Arc<std::sync::Mutex<Vec<Waited>>>,
}

/// A wait a scenario made: what for, and when.
#[derive(Debug, Clone)]
struct Waited {
    scenario: String,
    reason: &'static str,
    from: Instant,
    to: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            consecutive_errors: Arc::default(),
            gone: Arc::new(watch::channel(None).0),
            waits: Arc::default(),
            waited: Arc::default(),
        }
    }
}

impl Health {
    /// Counts requests in a row that got no response at all; an answer of any status (a 431
    /// and a reset among them) ends the count. An oversize probe's failure is not counted: a
    /// stack's header limit may refuse it at the transport, which is an answer, not an outage.
    pub fn record(&self, outcome: &Outcome, base_url: &str) -> Result<(), Error> {
        self.check()?;
        match &outcome.result {
            Ok(_) => {
                self.consecutive_errors.store(0, Ordering::Relaxed);
                Ok(())
            }
            Err(_) if outcome.request.oversize() => Ok(()),
            Err(e) => {
                let n = self.consecutive_errors.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= MAX_CONSECUTIVE_TRANSPORT_ERRORS {
                    let why =
                        format!("{base_url} stopped answering ({n} failures in a row; last: {e})");
                    self.gone.send_if_modified(|g| {
                        let first = g.is_none();
                        if first {
                            *g = Some(why);
                        }
                        first
                    });
                    self.check()
                } else {
                    Ok(())
                }
            }
        }
    }

    /// `Err` once the target is taken for gone.
    pub fn check(&self) -> Result<(), Error> {
        match &*self.gone.borrow() {
            Some(why) => Err(Error::Target(why.clone())),
            None => Ok(()),
        }
    }

    /// Resolves when the target is taken for gone.
    async fn gone(&self) -> Error {
        let mut rx = self.gone.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let why = rx
            .wait_for(Option::is_some)
            .await
            .map(|g| g.clone().unwrap_or_default());
        Error::Target(why.unwrap_or_else(|_| "the run ended".into()))
    }

    /// Sends and records the outcome; abandoned as soon as the target is taken for gone.
    pub async fn send(&self, probe: &Probe, request: Request) -> Result<Outcome, Error> {
        self.check()?;
        tokio::select! {
            o = probe.send(request) => {
                self.record(&o, probe.base_url())?;
                Ok(o)
            }
            e = self.gone() => Err(e),
        }
    }

    /// Sleeps until `deadline`; cut short with `Err` when the target is taken for gone.
    pub async fn sleep_until(&self, deadline: Instant) -> Result<(), Error> {
        self.check()?;
        self.waits.lock().expect("lock").push(deadline);
        let r = tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => Ok(()),
            e = self.gone() => Err(e),
        };
        let mut waits = self.waits.lock().expect("lock");
        if let Some(i) = waits.iter().position(|w| *w == deadline) {
            waits.swap_remove(i);
        }
        r
    }

    /// How long the longest wait under way still lasts, if one is.
    pub fn waiting(&self) -> Option<Duration> {
        let now = Instant::now();
        self.waits
            .lock()
            .expect("lock")
            .iter()
            .max()
            .map(|w| w.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Records a wait of `scenario` for its report.
    pub fn log_wait(&self, scenario: &str, reason: &'static str, from: Instant, to: Instant) {
        if to > from {
            self.waited.lock().expect("lock").push(Waited {
                scenario: scenario.to_string(),
                reason,
                from,
                to,
            });
        }
    }

    /// What `scenario` waited for: per reason, the time covered by its waits (waits side by
    /// side count once), longest first.
    pub fn waited(&self, scenario: &str) -> Vec<(&'static str, Duration)> {
        let waited = self.waited.lock().expect("lock");
        let mut by: BTreeMap<&'static str, Vec<(Instant, Instant)>> = BTreeMap::new();
        for w in waited.iter().filter(|w| w.scenario == scenario) {
            by.entry(w.reason).or_default().push((w.from, w.to));
        }
        let mut out: Vec<(&'static str, Duration)> = by
            .into_iter()
            .map(|(reason, mut spans)| {
                spans.sort();
                let mut total = Duration::ZERO;
                let mut current: Option<(Instant, Instant)> = None;
                for (from, to) in spans {
                    current = match current {
                        Some((a, b)) if from <= b => Some((a, b.max(to))),
                        Some((a, b)) => {
                            total += b - a;
                            Some((from, to))
                        }
                        None => Some((from, to)),
                    };
                }
                if let Some((a, b)) = current {
                    total += b - a;
                }
                (reason, total)
            })
            .collect();
        out.sort_by_key(|w| std::cmp::Reverse(w.1));
        out
    }
}

pub struct Scope<'a> {
    pub target: &'a Target,
    pub probe: &'a Probe,
    pub scenario: &'a str,
    pub vars: BTreeMap<String, String>,
    pub rng: SeededRng,
    pub findings: &'a Findings,
    pub health: &'a Health,
    pub last_retry_after: Option<u64>,
    pub requests: u64,
}

impl<'a> Scope<'a> {
    pub fn new(
        target: &'a Target,
        probe: &'a Probe,
        scenario: &'a str,
        rng: SeededRng,
        findings: &'a Findings,
        health: &'a Health,
    ) -> Self {
        let vars = target
            .credentials
            .iter()
            .map(|(r, v)| (r.name().to_string(), v.clone()))
            .collect();
        Self {
            target,
            probe,
            scenario,
            vars,
            rng,
            findings,
            health,
            last_retry_after: None,
            requests: 0,
        }
    }

    /// Waits until `deadline` (cut short when the target is gone), recorded for the
    /// scenario's report as a wait for `reason`.
    pub async fn wait_until(&self, reason: &'static str, deadline: Instant) -> Result<(), Error> {
        let from = Instant::now();
        let r = self.health.sleep_until(deadline).await;
        self.health
            .log_wait(self.scenario, reason, from, Instant::now());
        r
    }

    /// [`Scope::wait_until`] for a span.
    pub async fn wait(&self, reason: &'static str, d: Duration) -> Result<(), Error> {
        self.wait_until(reason, Instant::now() + d).await
    }

    /// Another scope on the same target, findings and health, with the same variables and a
    /// random stream forked from this one's: for work that runs beside this scope's (the
    /// refill check beside the bursts). Its requests are counted where its result is recorded.
    pub fn sibling(&mut self) -> Scope<'a> {
        use rand::RngCore;
        Scope {
            target: self.target,
            probe: self.probe,
            scenario: self.scenario,
            vars: self.vars.clone(),
            rng: crate::seed::from_u64(self.rng.next_u64()),
            findings: self.findings,
            health: self.health,
            last_retry_after: None,
            requests: 0,
        }
    }

    pub fn env(&mut self) -> Env<'_> {
        Env {
            spec: &self.target.spec,
            vars: &self.vars,
            jwt_secret: self.target.credential(Role::JwtSecret),
            rng: &mut self.rng,
        }
    }

    pub fn expand(&mut self, text: &str) -> Result<String, TemplateError> {
        expand(text, &mut self.env())
    }

    pub fn finding(&self, clause: &str, status: Status, reason: impl Into<String>) {
        self.findings
            .push(Finding::new(clause, status, self.scenario, reason));
    }

    /// An inconclusive finding that no other scenario's pass of the clause outweighs.
    pub fn finding_vetoing(&self, clause: &str, reason: impl Into<String>) {
        let mut f = Finding::new(clause, Status::Inconclusive, self.scenario, reason);
        f.vetoes_pass = true;
        self.findings.push(f);
    }

    pub fn finding_with(
        &self,
        clause: &str,
        status: Status,
        reason: impl Into<String>,
        evidence: Evidence,
    ) {
        self.findings
            .push(Finding::new(clause, status, self.scenario, reason).with_evidence(evidence));
    }

    /// Sends, counts, and ends the run if the target is gone.
    pub async fn send(&mut self, request: Request) -> Result<Outcome, Error> {
        self.requests += 1;
        let outcome = self.health.send(self.probe, request).await?;
        if let Some(ra) = self.retry_after(&outcome) {
            self.last_retry_after = Some(ra);
        }
        Ok(outcome)
    }

    /// The Retry-After of an over-limit answer, if it is a whole number of seconds.
    pub fn retry_after(&self, outcome: &Outcome) -> Option<u64> {
        retry_after(&self.target.spec, outcome)
    }

    /// How long to wait on an over-limit answer (see [`backoff`]).
    pub fn backoff(&self, outcome: &Outcome) -> Duration {
        backoff(&self.target.spec, outcome)
    }

    /// Builds a request from its description, expanding every template.
    pub fn build(&mut self, spec: &RequestSpec) -> Result<Request, TemplateError> {
        let contract = self.target.spec.clone();
        let endpoint = spec.endpoint.as_deref().and_then(|n| contract.endpoint(n));
        let method = match (endpoint, &spec.method) {
            (_, Some(m)) => m.clone(),
            (Some(e), None) => e.method.clone(),
            (None, None) => {
                return Err(TemplateError::Invalid(
                    "a request needs an endpoint or a method".into(),
                ));
            }
        };
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| TemplateError::Invalid(format!("`{method}` is not an HTTP method")))?;
        let path_template = match (endpoint, &spec.path) {
            (_, Some(p)) => p.clone(),
            (Some(e), None) => e.path.clone(),
            (None, None) => {
                return Err(TemplateError::Invalid(
                    "a request needs an endpoint or a path".into(),
                ));
            }
        };
        let mut params = BTreeMap::new();
        for (k, v) in &spec.params {
            params.insert(k.clone(), self.expand(v)?);
        }
        let path = fill_path(&self.expand(&path_template)?, &params)?;

        let mut headers = Vec::new();
        if let Some(a) = &spec.as_
            && let Some(h) = self.credential_header(a)?
        {
            headers.push(h);
        }
        for (k, v) in &spec.headers {
            headers.push((k.clone(), self.expand(v)?));
        }
        let body = if let Some(raw) = &spec.raw_body {
            Some(self.expand(raw)?)
        } else {
            match spec
                .body
                .as_ref()
                .or(endpoint.and_then(|e| e.body.as_ref()))
            {
                Some(b) => {
                    let v = expand_json(b, &mut self.env())?;
                    headers.push(("content-type".into(), "application/json".into()));
                    Some(v.to_string())
                }
                None => None,
            }
        };
        Ok(Request {
            method,
            path,
            headers,
            body,
            category: endpoint.map(|e| e.category.clone()),
        })
    }

    /// The header that carries the credential `as` names, as the spec spells it.
    fn credential_header(&mut self, a: &As) -> Result<Option<(String, String)>, TemplateError> {
        let auth = &self.target.spec.auth;
        let bearer = |token: &str| {
            (
                auth.access_token.header.clone(),
                format!("{} {token}", auth.access_token.scheme),
            )
        };
        Ok(match a {
            As::Role(r) => match *r {
                AsRole::None => None,
                AsRole::AccessToken => {
                    let t = self
                        .vars
                        .get("access_token")
                        .ok_or_else(|| TemplateError::Missing("access_token".into()))?;
                    Some(bearer(t))
                }
                AsRole::Credential(Role::AdminToken) => {
                    Some((auth.admin_token.header.clone(), self.role("admin_token")?))
                }
                AsRole::Credential(key) => {
                    Some((auth.api_key.header.clone(), self.role(key.name())?))
                }
            },
            As::Value(v) => {
                if let Some(k) = &v.api_key {
                    Some((auth.api_key.header.clone(), self.expand(k)?))
                } else if let Some(t) = &v.bearer {
                    let t = self.expand(t)?;
                    Some(bearer(&t))
                } else if let Some(t) = &v.admin_token {
                    Some((auth.admin_token.header.clone(), self.expand(t)?))
                } else {
                    None
                }
            }
        })
    }

    fn role(&self, name: &str) -> Result<String, TemplateError> {
        self.vars
            .get(name)
            .cloned()
            .ok_or_else(|| TemplateError::Missing(name.to_string()))
    }

    /// Why a template could not be expanded, in the words of a skipped clause.
    pub fn missing_reason(&self, e: &TemplateError) -> (Status, String) {
        match e {
            TemplateError::Missing(name) => match Role::from_name(name) {
                Some(role) => (Status::Skipped, role.missing().to_string()),
                None => (
                    Status::Inconclusive,
                    format!("no value for `{name}`: an earlier step did not capture it"),
                ),
            },
            TemplateError::NeedsSecret => (Status::Skipped, Role::JwtSecret.missing().to_string()),
            TemplateError::Invalid(why) => (Status::Inconclusive, why.clone()),
        }
    }
}

/// Replaces `{name}` in a path template (query included) with percent-encoded values.
pub fn fill_path(
    template: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            return Err(TemplateError::Invalid(format!(
                "unclosed `{{` in path `{template}`"
            )));
        };
        let name = &rest[start + 1..start + len];
        let value = params.get(name).ok_or_else(|| {
            TemplateError::Invalid(format!("path `{template}` needs the parameter `{name}`"))
        })?;
        out.extend(utf8_percent_encode(value, SEGMENT));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An over-limit answer judged by the contract's one reading (`crate::rate::judge_refusal`),
/// against the window of the request's category (the longest when it has none); `None` for any
/// other answer.
pub fn refusal(spec: &Spec, outcome: &Outcome) -> Option<crate::rate::Refusal> {
    let ol = &spec.rate_limits.over_limit;
    let resp = outcome.response()?;
    if resp.status != ol.status {
        return None;
    }
    Some(crate::rate::judge_refusal(
        spec,
        window_of(spec, outcome),
        resp.header(&ol.retry_after_header),
        resp.header("date"),
        resp.header("content-type"),
        Some(&resp.body),
        std::time::SystemTime::now(),
    ))
}

fn longest_window(spec: &Spec) -> Duration {
    spec.rate_limits
        .categories
        .values()
        .map(|c| c.window)
        .max()
        .unwrap_or(Duration::from_secs(60))
}

/// The window of the request's category, the longest when it has none.
fn window_of(spec: &Spec, outcome: &Outcome) -> Duration {
    outcome
        .request
        .category
        .as_deref()
        .and_then(|c| spec.category(c))
        .map_or_else(|| longest_window(spec), |c| c.window)
}

/// The Retry-After of an over-limit answer, if it is a whole number of seconds.
pub fn retry_after(spec: &Spec, outcome: &Outcome) -> Option<u64> {
    refusal(spec, outcome)?.retry_after.seconds()
}

/// How long to wait on an over-limit answer: its Retry-After in either form (delay-seconds or an
/// HTTP-date), else one second, never more than its category's window plus a second (a broken
/// or hostile Retry-After must not stall the run; RL-429-RETRY-AFTER fails it).
pub fn backoff(spec: &Spec, outcome: &Outcome) -> Duration {
    let cap = window_of(spec, outcome) + Duration::from_secs(1);
    refusal(spec, outcome).map_or(Duration::from_secs(1), |r| r.wait(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_side_by_side_count_once_per_reason() {
        let h = Health::default();
        let t = Instant::now();
        let s = |ms| t + Duration::from_millis(ms);
        // Three Retry-After waits side by side (0-2 s, 1-3 s) and apart (5-6 s): 4 s.
        h.log_wait("a", "Retry-After", s(0), s(2000));
        h.log_wait("a", "Retry-After", s(1000), s(3000));
        h.log_wait("a", "Retry-After", s(5000), s(6000));
        h.log_wait("a", "until fresh", s(0), s(500));
        h.log_wait("b", "Retry-After", s(0), s(9000));
        assert_eq!(
            h.waited("a"),
            [
                ("Retry-After", Duration::from_secs(4)),
                ("until fresh", Duration::from_millis(500))
            ]
        );
        assert_eq!(h.waited("c"), []);
    }

    #[test]
    fn fills_path_and_query_parameters() {
        let p: BTreeMap<String, String> = [
            ("id".to_string(), "a b/c".to_string()),
            ("path".to_string(), "x.txt".to_string()),
        ]
        .into();
        assert_eq!(
            fill_path("/sandboxes/{id}/files?path={path}", &p).unwrap(),
            "/sandboxes/a%20b%2Fc/files?path=x.txt"
        );
        assert!(fill_path("/sandboxes/{nope}", &p).is_err());
    }
}
