//! Property scenarios: the contract's promises ("only this exact key", "only HS256",
//! "single-use", "never more than the limit") as properties, with proptest generating inputs
//! against the target at run time and shrinking a counterexample to the smallest one.
//!
//! The bridge: proptest's runner is synchronous, the probe is async. Each property runs its
//! `TestRunner` on a blocking thread (`spawn_blocking`); the test closure hands batches of
//! requests to the scenario's async task through a channel and waits for the outcomes. The async
//! side sends them with the scenario's `Scope` (health, counting, observers), so a property's
//! requests are watched like any other, and it stays the only place that touches the network.
//! A batch is sent concurrently (the refresh race); batches go one at a time.
//!
//! Seeding: the runner's `TestRng` is ChaCha, seeded from the scenario's random source, itself
//! the run's `--seed` mixed with the scenario id, and drawn in a fixed order per clause: the same
//! seed sends the same requests in the same order per property (shrinking included, as long as
//! the target answers the same). Failure persistence is off: a counterexample is reported, not
//! written next to the source.
//!
//! Known-good control: a hunt whose family names a control request (the valid credential on an
//! endpoint it opens) sends it before the first case, after every [`CONTROL_EVERY`] cases and
//! after the last. A target that has started refusing everything, or is throttling throughout,
//! refuses forgeries for no reason of theirs: a hunt with a refused control and no counterexample
//! is inconclusive with that reason, never a pass, and every finding says how many controls were
//! sent and how they were answered.
//!
//! Verdicts: one runner per clause, so two broken promises are both reported. A failure is
//! re-run once on the shrunk input before it fails the clause (a fixed window rolling over
//! mid-burst must not fail a limiter), and reported by its shape ("valid key with character 17
//! changed 'a'→'A'"), never by the secret it was made from, with the seed that reproduces it.

mod admin;
mod ambiguous;
mod forge;
mod keys;
mod limits;
mod refresh;
mod secrets;
mod tokens;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use super::scope::Scope;
use crate::error::Error;
use crate::probe::{Outcome, Request};
use crate::scenario::PropertyScenario;
use crate::scenario::property::Family;
use crate::spec::Spec;
use crate::verdict::{Evidence, Status};

/// Cases per clause when the scenario does not say.
const DEFAULT_CASES: u32 = 48;
/// Requests per scenario when the scenario does not say.
const DEFAULT_BUDGET: u32 = 2000;
/// Shrinking steps per failure: each is a request or a few (a login and a refresh for the
/// refresh family). The cases are mostly small enumerations, shrunk in a few steps; a target
/// that accepts every forgery would otherwise spend 256 requests per clause on shrinking.
const MAX_SHRINK_ITERS: u32 = 96;
/// Cases between two control requests.
pub const CONTROL_EVERY: u32 = 8;

/// What one case showed.
pub enum Judged {
    /// The promise held.
    Held,
    /// The promise broke: the input's shape in words, and the exchanges that show it.
    Broke(String, Vec<Outcome>),
    /// Could not be judged (budget spent, throttled throughout, the run ending).
    Unjudged,
}

/// How one clause's hunt ended.
pub struct Hunt {
    pub clause: &'static str,
    pub cases: u32,
    pub unjudged: u32,
    pub failure: Option<Failure>,
    /// Why the hunt could not run at all (a credential or capability missing).
    pub skipped: Option<(Status, String)>,
    /// A sentence on what was generated.
    pub about: String,
    /// Whether the request budget ran out during this hunt.
    pub budget_spent: bool,
    /// The known-good control requests this hunt sent, and how they were answered.
    pub controls: Controls,
}

/// What the control requests of one hunt saw.
#[derive(Debug, Default, Clone)]
pub struct Controls {
    pub sent: u32,
    /// The answers that were not an acceptance (a status, or "no answer").
    pub refused: Vec<String>,
}

impl Controls {
    /// "3 control requests with the valid credential, all accepted", or what was refused.
    fn summary(&self) -> String {
        if self.refused.is_empty() {
            return format!(
                "{} control request(s) with the valid credential, all accepted",
                self.sent
            );
        }
        let mut counts: std::collections::BTreeMap<&str, u32> = Default::default();
        for r in &self.refused {
            *counts.entry(r.as_str()).or_default() += 1;
        }
        let answers: Vec<String> = counts
            .iter()
            .map(|(a, n)| {
                if *n > 1 {
                    format!("{a} ×{n}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        format!(
            "{} of {} control request(s) with the valid credential refused ({})",
            self.refused.len(),
            self.sent,
            answers.join(", ")
        )
    }
}

pub struct Failure {
    pub shape: String,
    pub exchanges: Vec<Outcome>,
    pub confirmed: bool,
    pub shrink_note: String,
}

enum Job {
    Send(Vec<Request>, oneshot::Sender<Option<Vec<Outcome>>>),
    Sleep(Duration, oneshot::Sender<bool>),
}

/// The blocking side's handle to the target. `None` from a send means "no more requests": the
/// budget is spent or the run is ending; the case is then left unjudged.
#[derive(Clone)]
pub struct Client {
    tx: mpsc::UnboundedSender<Job>,
    sent: Arc<AtomicU32>,
    budget: u32,
    stop: Arc<AtomicBool>,
    pub spec: Arc<Spec>,
    probe: crate::probe::Probe,
    prefixes: Vec<String>,
    /// The family's known-good request, sent between cases (see the module's notes).
    control: Arc<std::sync::Mutex<Option<Request>>>,
    /// Shrinking steps per failure for this family (each one a request or a few).
    max_shrink: Arc<AtomicU32>,
}

impl Client {
    /// Bounds shrinking for a family whose steps are dear (a login each).
    pub fn set_max_shrink(&self, steps: u32) {
        self.max_shrink.store(steps, Ordering::Relaxed);
    }

    /// Names the request that shows the valid credential still works; `None` for none.
    pub fn set_control(&self, request: Option<Request>) {
        *self.control.lock().expect("control lock") = request;
    }

    /// Sends the control request, if there is one, and records how it was answered.
    fn control(&self, controls: &std::sync::Mutex<Controls>) {
        let Some(request) = self.control.lock().expect("control lock").clone() else {
            return;
        };
        let Some(o) = self.send_paced(request, 3) else {
            return;
        };
        if accepted(&o) {
            // A control login answers tokens: they are secrets like any other.
            let prefix = self.spec.auth.access_token.prefix.clone();
            if let Some(v) = o.response().and_then(|r| r.json()) {
                let mut found = Vec::new();
                tokens_in(&v, &prefix, &mut found);
                let refs: Vec<&str> = found.iter().map(String::as_str).collect();
                self.learn(&refs);
            }
        }
        let mut c = controls.lock().expect("controls lock");
        c.sent += 1;
        if !accepted(&o) {
            c.refused.push(match o.status() {
                Some(s) => s.to_string(),
                None => "no answer".to_string(),
            });
        }
    }

    pub fn send_all(&self, requests: Vec<Request>) -> Option<Vec<Outcome>> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let n = requests.len() as u32;
        if self.sent.fetch_add(n, Ordering::Relaxed) + n > self.budget {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.tx.send(Job::Send(requests, tx)).ok()?;
        rx.blocking_recv().ok().flatten()
    }

    pub fn send(&self, request: Request) -> Option<Outcome> {
        self.send_all(vec![request]).and_then(|mut v| v.pop())
    }

    /// Sleeps on the async side (cut short when the target is gone); false when the run ends.
    pub fn sleep(&self, d: Duration) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Sleep(d, tx)).is_err() {
            return false;
        }
        rx.blocking_recv().unwrap_or(false)
    }

    /// Makes tokens issued during a property redacted from every output.
    pub fn learn(&self, secrets: &[&str]) {
        let prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        self.probe.learn_secrets(secrets.iter().copied(), &prefixes);
    }

    pub fn budget_left(&self) -> bool {
        self.sent.load(Ordering::Relaxed) < self.budget && !self.stop.load(Ordering::Relaxed)
    }

    fn over(&self) -> u16 {
        self.spec.rate_limits.over_limit.status
    }

    /// Sends; an over-limit answer is waited out (its Retry-After, bounded by the longest window
    /// plus a second) and the request sent again, at most `tries` times. A 429 is never taken for
    /// an acceptance, and pacing by it means the case is still judged on what the target does with
    /// the credential (a throttled near-miss would otherwise pass unexamined).
    pub fn send_paced(&self, request: Request, tries: u32) -> Option<Outcome> {
        let mut o = self.send(request.clone())?;
        for _ in 0..tries {
            if o.status() != Some(self.over()) {
                break;
            }
            if !self.sleep(crate::check::scope::backoff(&self.spec, &o)) {
                return None;
            }
            o = self.send(request.clone())?;
        }
        Some(o)
    }
}

/// Every string of a JSON value that starts with `prefix`.
fn tokens_in(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if !prefix.is_empty() && s.starts_with(prefix) => {
            out.push(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| tokens_in(x, prefix, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| tokens_in(x, prefix, out)),
        _ => {}
    }
}

/// Whether a response admits the request: any 2xx.
pub fn accepted(o: &Outcome) -> bool {
    o.status().is_some_and(|s| (200..300).contains(&s))
}

/// Runs one clause's hunt: `cases` generated inputs, the first counterexample shrunk, re-run once.
pub fn hunt<S>(
    client: &Client,
    clause: &'static str,
    cases: u32,
    seed: [u8; 32],
    strategy: S,
    test: impl Fn(&S::Value) -> Judged,
) -> Hunt
where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: client.max_shrink.load(Ordering::Relaxed),
        max_global_rejects: cases * 4,
        // Shrinking is bounded by iterations, not by the clock: a reproducible run.
        max_shrink_time: 0,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let ran = AtomicU32::new(0);
    let unjudged = AtomicU32::new(0);
    let failures = AtomicU32::new(0);
    let last = std::sync::Mutex::new(None::<(String, Vec<Outcome>)>);
    let controls = std::sync::Mutex::new(Controls::default());
    let result = runner.run(&strategy, |v| {
        let n = ran.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(CONTROL_EVERY) && client.budget_left() {
            client.control(&controls);
        }
        if !client.budget_left() {
            unjudged.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        match test(&v) {
            Judged::Held => Ok(()),
            Judged::Unjudged => {
                unjudged.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Judged::Broke(shape, ex) => {
                failures.fetch_add(1, Ordering::Relaxed);
                *last.lock().expect("lock") = Some((shape.clone(), ex));
                Err(TestCaseError::fail(shape))
            }
        }
    });
    let mut h = Hunt {
        clause,
        cases: ran.load(Ordering::Relaxed),
        unjudged: unjudged.load(Ordering::Relaxed),
        failure: None,
        skipped: None,
        about: String::new(),
        budget_spent: false,
        controls: Controls::default(),
    };
    if let Err(TestError::Fail(_, value)) = result {
        let (shape, exchanges) = last.into_inner().expect("lock").unwrap_or_default();
        let confirmed = match test(&value) {
            Judged::Broke(..) => true,
            Judged::Held => false,
            // Not re-run (budget): the first failure stands.
            Judged::Unjudged => true,
        };
        let n = failures.load(Ordering::Relaxed);
        h.failure = Some(Failure {
            shape,
            exchanges,
            confirmed,
            shrink_note: format!("shrunk through {} failing inputs", n.saturating_sub(1)),
        });
    }
    if client.budget_left() {
        client.control(&controls);
    }
    h.controls = controls.into_inner().expect("controls lock");
    h.budget_spent = !client.budget_left();
    h
}

/// A hunt over a short fixed list instead of generated values: every item is sent once (proptest
/// would sample a small space at random and might miss one), a failure is re-run once before it
/// is confirmed, and the first failure ends the hunt.
pub fn each<T>(
    client: &Client,
    clause: &'static str,
    items: &[T],
    test: impl Fn(&T) -> Judged,
) -> Hunt {
    let mut h = Hunt {
        clause,
        cases: 0,
        unjudged: 0,
        failure: None,
        skipped: None,
        about: String::new(),
        budget_spent: false,
        controls: Controls::default(),
    };
    let controls = std::sync::Mutex::new(Controls::default());
    for (i, item) in items.iter().enumerate() {
        if (i as u32).is_multiple_of(CONTROL_EVERY) && client.budget_left() {
            client.control(&controls);
        }
        if !client.budget_left() {
            h.unjudged += 1;
            h.cases += 1;
            continue;
        }
        h.cases += 1;
        match test(item) {
            Judged::Held => {}
            Judged::Unjudged => h.unjudged += 1,
            Judged::Broke(shape, exchanges) => {
                let confirmed = !matches!(test(item), Judged::Held);
                h.failure = Some(Failure {
                    shape,
                    exchanges,
                    confirmed,
                    shrink_note: "one of a fixed list, re-run once".into(),
                });
                break;
            }
        }
    }
    if client.budget_left() {
        client.control(&controls);
    }
    h.controls = controls.into_inner().expect("controls lock");
    h.budget_spent = !client.budget_left();
    h
}

pub fn skipped(clause: &'static str, status: Status, why: impl Into<String>) -> Hunt {
    Hunt {
        skipped: Some((status, why.into())),
        ..blank(clause)
    }
}

/// A hunt that has not run yet (for clauses judged without the runner).
pub fn blank(clause: &'static str) -> Hunt {
    Hunt {
        clause,
        cases: 0,
        unjudged: 0,
        failure: None,
        skipped: None,
        about: String::new(),
        budget_spent: false,
        controls: Controls::default(),
    }
}

/// What the async side prepares for a property: credentials, fresh tokens, request templates.
pub struct Ctx {
    pub client: Client,
    pub cases: u32,
    /// One ChaCha seed per clause, drawn in the order the property asks for them.
    seeds: std::sync::Mutex<crate::seed::SeededRng>,
    pub vars: std::collections::BTreeMap<String, String>,
    /// The fetch listener (access-token family with AUTH-TOKEN-NO-KEY-FETCH only).
    pub callback: Option<super::callback::Listener>,
}

impl Ctx {
    pub fn seed(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.seeds.lock().expect("lock").fill_bytes(&mut s);
        s
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A request to a named endpoint of the spec with its default body (templates filled from
    /// `extra`, then the known values) and no credential.
    pub fn request_with(&self, endpoint: &str, extra: &[(&str, &str)]) -> Request {
        let spec = &self.client.spec;
        let e = spec
            .endpoint(endpoint)
            .expect("endpoint named by the property");
        let mut values: std::collections::BTreeMap<String, String> = self.vars.clone();
        for (k, v) in extra {
            values.insert(k.to_string(), v.to_string());
        }
        let path = super::scope::fill_path(&e.path, &values).unwrap_or_else(|_| e.path.clone());
        let mut headers = Vec::new();
        let body = e.body.as_ref().map(|b| {
            headers.push(("content-type".to_string(), "application/json".to_string()));
            fill_json(b, &values).to_string()
        });
        Request {
            method: reqwest::Method::from_bytes(e.method.to_ascii_uppercase().as_bytes())
                .unwrap_or(reqwest::Method::GET),
            path,
            headers,
            body,
            category: Some(e.category.clone()),
        }
    }

    pub fn request(&self, endpoint: &str, params: &[(&str, &str)]) -> Request {
        self.request_with(endpoint, params)
    }

    /// Logs in (paced on over-limit answers): the access and refresh tokens, learned as secrets.
    pub fn login(&self) -> Option<(String, String)> {
        self.var("email")?;
        self.var("password")?;
        let o = self.client.send_paced(self.request("login", &[]), 3)?;
        let body = o.response()?.json()?;
        let e = self.client.spec.endpoint("login")?;
        let pick = |name: &str| {
            let pointer = e.returns.get(name).map(String::as_str).unwrap_or("");
            body.pointer(pointer)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let (a, r) = (pick("access_token")?, pick("refresh_token")?);
        self.client.learn(&[&a, &r]);
        Some((a, r))
    }
}

/// A JSON body with every string that is exactly `{{name}}` replaced by the named value.
fn fill_json(
    v: &serde_json::Value,
    values: &std::collections::BTreeMap<String, String>,
) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => s
            .strip_prefix("{{")
            .and_then(|r| r.strip_suffix("}}"))
            .and_then(|name| values.get(name.trim()))
            .map(|x| Value::String(x.clone()))
            .unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_json(x, values)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), fill_json(x, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub fn with_header(mut r: Request, name: &str, value: impl Into<String>) -> Request {
    r.headers.push((name.to_string(), value.into()));
    r
}

/// Runs a property scenario: set-up on the async side, the hunts on a blocking thread, the
/// requests served here, then one finding per clause.
pub async fn run(p: &PropertyScenario, scope: &mut Scope<'_>, seed: u64) -> Result<(), Error> {
    let clauses: Vec<&'static str> = p
        .check
        .decides()
        .iter()
        .copied()
        .filter(|c| scope.target.spec.clauses.iter().any(|k| k.id == *c))
        .collect();
    let vars = scope.vars.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut seeds = [0u8; 32];
    scope.rng.fill_bytes(&mut seeds);
    let ctx = Ctx {
        client: Client {
            tx,
            sent: Arc::default(),
            budget: p.budget.unwrap_or(DEFAULT_BUDGET),
            stop: stop.clone(),
            spec: scope.target.spec.clone(),
            probe: scope.probe.clone(),
            prefixes: scope
                .target
                .secret_prefixes()
                .into_iter()
                .map(str::to_string)
                .collect(),
            control: Arc::default(),
            max_shrink: Arc::new(AtomicU32::new(MAX_SHRINK_ITERS)),
        },
        cases: p.cases.unwrap_or(DEFAULT_CASES),
        seeds: std::sync::Mutex::new(rand::SeedableRng::from_seed(seeds)),
        vars,
        callback: if clauses.contains(&"AUTH-TOKEN-NO-KEY-FETCH") {
            Some(
                super::callback::Listener::start(
                    scope.target.callback_url.as_deref(),
                    &scope.target.base_url,
                )
                .await?,
            )
        } else {
            None
        },
    };
    let check = p.check;
    let probes = p.categories.clone();
    let chosen = clauses.clone();
    let worker = tokio::task::spawn_blocking(move || {
        let hunts = match check {
            Family::ApiKeys => keys::run(&ctx, &chosen),
            Family::AccessTokens => tokens::run(&ctx, &chosen),
            Family::Refresh => refresh::run(&ctx, &chosen),
            Family::AdminToken => admin::run(&ctx, &chosen),
            Family::RateLimits => limits::run_with(&ctx, &chosen, &probes),
            Family::AmbiguousCredentials => ambiguous::run(&ctx, &chosen),
        };
        (hunts, ctx.client.sent.load(Ordering::Relaxed))
    });
    let mut error = None;
    // A transport error: a property sends one request at a time, so waiting for the run-wide
    // count of errors in a row to take the target for gone would cost one request timeout per
    // request. Instead the same request goes out again 8 times at once: a target that stopped
    // answering is taken for gone within one more timeout, one that hiccupped answers.
    let mut silent = 0u32;
    while let Some(job) = rx.recv().await {
        match job {
            Job::Send(requests, reply) => {
                if error.is_some() {
                    let _ = reply.send(None);
                    continue;
                }
                let n = requests.len();
                let again = requests.first().cloned();
                let out = if n == 1 {
                    let r = requests.into_iter().next().expect("one");
                    scope.send(r).await.map(|o| vec![o])
                } else {
                    let (probe, health) = (scope.probe, scope.health);
                    let sends = requests.into_iter().map(|r| health.send(probe, r));
                    let results = futures::future::join_all(sends).await;
                    scope.requests += n as u64;
                    results.into_iter().collect()
                };
                match out {
                    Ok(v) => {
                        if v.iter().all(|o| o.result.is_err())
                            && let Some(r) = again
                        {
                            silent += 1;
                            let (probe, health) = (scope.probe, scope.health);
                            let sends = (0..8).map(|_| health.send(probe, r.clone()));
                            let results = futures::future::join_all(sends).await;
                            scope.requests += 8;
                            if let Some(e) = results.into_iter().find_map(Result::err) {
                                stop.store(true, Ordering::Relaxed);
                                error = Some(e);
                                let _ = reply.send(None);
                                continue;
                            }
                        }
                        let _ = reply.send(Some(v));
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        error = Some(e);
                        let _ = reply.send(None);
                    }
                }
            }
            Job::Sleep(d, reply) => {
                let ok = match scope.wait("Retry-After", d).await {
                    Ok(()) => true,
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        error = Some(e);
                        false
                    }
                };
                let _ = reply.send(ok);
            }
        }
    }
    let (hunts, _sent) = worker
        .await
        .map_err(|e| Error::Target(format!("property runner failed: {e}")))?;
    if let Some(e) = error {
        return Err(e);
    }
    let cut = silent > 0 && stop.load(Ordering::Relaxed);
    for h in hunts {
        if cut {
            scope.finding(
                h.clause,
                Status::Inconclusive,
                "property cut short: the target stopped answering",
            );
        } else {
            record(scope, &h, seed);
        }
    }
    Ok(())
}

fn record(scope: &Scope, h: &Hunt, seed: u64) {
    let budget_spent = h.budget_spent;
    if let Some((status, why)) = &h.skipped {
        scope.finding(h.clause, *status, why.clone());
        return;
    }
    let judged = h.cases.saturating_sub(h.unjudged);
    let spent = if budget_spent {
        " (the request budget ran out)"
    } else {
        ""
    };
    match &h.failure {
        Some(f) => {
            let exchanges = f
                .exchanges
                .iter()
                .map(|o| scope.probe.exchange(o))
                .collect();
            let (status, lead) = if f.confirmed {
                (Status::Fail, "counterexample")
            } else {
                (
                    Status::Inconclusive,
                    "counterexample not reproduced on a re-run",
                )
            };
            let controls = if h.controls.sent > 0 {
                format!("; {}", h.controls.summary())
            } else {
                String::new()
            };
            let note = format!(
                "{lead}: {} ({}; {} cases{controls}; reproduce with --seed {seed})",
                f.shape, f.shrink_note, h.cases
            );
            scope.finding_with(
                h.clause,
                status,
                scope.probe.redactor().redact(&note),
                Evidence {
        script: None,
                    note: scope.probe.redactor().redact(&f.shape),
                    exchanges,
                },
            );
        }
        None if judged == 0 => scope.finding(
            h.clause,
            Status::Inconclusive,
            format!("property: no case could be judged of {}{spent}", h.cases),
        ),
        None if !h.controls.refused.is_empty() => scope.finding_vetoing(
            h.clause,
            format!(
                "property: no counterexample in {judged} cases, but {}: a target that refuses everything, or throttles, refuses these cases for no reason of theirs{spent} (seed {seed})",
                h.controls.summary()
            ),
        ),
        None => scope.finding(
            h.clause,
            Status::Pass,
            format!(
                "property held for {judged} generated cases{}: {}{}{spent} (seed {seed})",
                if h.unjudged > 0 {
                    format!(" ({} more not judged)", h.unjudged)
                } else {
                    String::new()
                },
                h.about,
                if h.controls.sent > 0 {
                    format!("; {}", h.controls.summary())
                } else {
                    String::new()
                }
            ),
        ),
    }
}

/// One request with a credential that must not be accepted, paced through up to `tries`
/// throttled answers: accepted breaks the promise, a refusal holds it, and a case the target
/// throttled throughout is not judged. Shared by the key, token and admin-token families.
pub(super) fn judge_acceptance(ctx: &Ctx, request: Request, shape: String, tries: u32) -> Judged {
    let Some(o) = ctx.client.send_paced(request, tries) else {
        return Judged::Unjudged;
    };
    if accepted(&o) {
        Judged::Broke(
            format!("{shape} was accepted ({})", o.status().unwrap_or(0)),
            vec![o],
        )
    } else if o.status() == Some(ctx.client.spec.rate_limits.over_limit.status) {
        Judged::Unjudged
    } else {
        Judged::Held
    }
}
