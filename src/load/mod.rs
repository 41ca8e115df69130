//! `load`: a goose swarm against a target, judged afterwards from every request's client-side
//! timestamps (`judge`), with HDR latency histograms (`record`) and reports (`report`).
//!
//! goose 0.19 is embedded, never let loose on the process: it is configured in code
//! (`initialize_with_config`, so it never parses our arguments), with telnet and websocket
//! controllers off, its metrics printing off and its own report written beside ours. Its Ctrl-C
//! handler triggers its killswitch: the swarm stops, `execute` returns, and the report is still
//! written (verdict `error`, exit 3, with what was judged). Its load model is closed-loop: a user
//! sends its next request when the last one was answered (plus the scenario's wait).

pub mod chart;
pub mod histogram;
pub mod judge;
pub mod merge;
mod mute;
pub mod pacing;
pub mod record;
pub mod report;
// Thresholds are parsed when scenarios load; the swarm only evaluates them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use goose::prelude::*;

use crate::error::Error;
use crate::profile::Role;
use crate::reference::{self, LimiterKind};
use crate::report::{Format, RunReport, Tool};
use crate::report::{RunOutcome, default_report_dir};
use crate::scenario::{Identities, Kind, Loaded, On429, Swarm};
use crate::spec::load_spec;
use crate::spec::{Category, Spec};
use crate::target::POOL_ENV;
use crate::verdict;
use crate::verdict::ScenarioResult;

use record::{Recorder, Retry, Sample};

#[derive(Debug, Clone, Default)]
pub struct LoadArgs {
    pub target: Option<String>,
    pub profile: Option<PathBuf>,
    /// `--spec`: the contract (default: the built-in one).
    pub spec: Option<PathBuf>,
    pub scenario: PathBuf,
    pub users: Option<usize>,
    pub duration: Option<Duration>,
    pub report_dir: Option<PathBuf>,
    pub quiet: bool,
    /// Embedded server only.
    pub limiter: Option<LimiterKind>,
    pub window: Option<Duration>,
    pub faults: Vec<reference::Fault>,
    /// `(index, count)`: run only this segment's share of users and identities.
    pub segment: Option<(usize, usize)>,
    /// Start the swarm at this instant (segments of one run start together).
    pub start_at: Option<SystemTime>,
    /// `--fail-on`: replaces the profile's `fail_on:` (default `must`).
    pub fail_on: Option<String>,
    /// `--max-duration`: the longest the whole command may take (default: the profile's, else
    /// the swarm's duration plus five of the longest window plus a minute).
    pub max_duration: Option<Duration>,
    /// `--cacert`, `--cert`, `--key`, `--insecure`: over the profile's `tls:`.
    pub tls: crate::probe::transport::TlsFlags,
}

/// Parses `I/N` (0-based index `I` of `N` segments, as a Kubernetes Indexed Job numbers pods).
pub fn parse_segment(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}`: write INDEX/COUNT, e.g. 0/3"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("`{i}` is not an index"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a count"))?;
    if n == 0 || i >= n {
        return Err(format!(
            "segment {i}/{n}: the index is 0 to {}",
            n.max(1) - 1
        ));
    }
    Ok((i, n))
}

/// A segment's share of `users`: how many, and the global index of its first user. Users are
/// dealt in contiguous blocks, the first `users mod count` segments taking one more, so the
/// segments together run exactly the users (and so the identities) of the whole swarm.
pub fn segment_users(users: usize, (i, n): (usize, usize)) -> (usize, usize) {
    let base = users / n;
    let extra = users % n;
    (base + usize::from(i < extra), i * base + i.min(extra))
}

struct Endpoint {
    name: String,
    method: GooseMethod,
    path: String,
    category: u16,
    body: Option<serde_json::Value>,
    needs_key: bool,
}

/// Everything a user's transactions share.
struct Ctx {
    /// Global index of this process's first user (segments).
    user_offset: usize,
    spec: Arc<Spec>,
    load: Swarm,
    categories: Vec<(String, Category)>,
    endpoints: Vec<Endpoint>,
    /// The API-key header, and the key of each identity as a ready header value (marked
    /// sensitive); `shared` has one. Built once: the hot path only clones them (a reference
    /// count), never parses or copies a key per request.
    key_header: reqwest::header::HeaderName,
    keys: Vec<reqwest::header::HeaderValue>,
    /// Each task's endpoint index (`None`: the refresh rotation) and whether its path takes the
    /// user's sandbox id, looked up once.
    task_plans: Vec<TaskPlan>,
    email: Option<String>,
    password: Option<String>,
    recorder: Recorder,
    honour: bool,
    needs_sandbox: bool,
    upload_paths: Vec<String>,
    transport: crate::probe::Transport,
    /// `arrival_rate`: each user's schedule.
    pacing: Option<pacing::Pacing>,
}

#[derive(Clone, Copy)]
struct TaskPlan {
    endpoint: Option<usize>,
    needs_id: bool,
}

#[derive(Clone, Default)]
struct UserState {
    sandbox: Option<String>,
    refresh: Option<String>,
    /// With `arrival_rate`: the user's next slot.
    slot: u64,
}

struct Answer {
    status: Option<u16>,
    body: Option<String>,
    /// How long a 429's Retry-After says to wait (either form, capped), when it says anything.
    retry_after: Option<Duration>,
}

impl Ctx {
    fn endpoint(&self, name: &str) -> usize {
        self.endpoints
            .iter()
            .position(|e| e.name == name)
            .expect("validated endpoint")
    }

    fn identity(&self, user: usize) -> u32 {
        let user = user + self.user_offset;
        match self.load.identities {
            Identities::Shared => 0,
            _ => (user % self.keys.len()) as u32,
        }
    }

    /// Sends one request, records it, checks a 429, and with `honour` waits Retry-After and
    /// retries once.
    async fn send(
        &self,
        user: &mut GooseUser,
        ep: usize,
        params: &BTreeMap<String, String>,
        body: Option<String>,
        vars: &BTreeMap<&str, String>,
    ) -> Answer {
        let first = self.send_once(user, ep, params, body.clone(), vars).await;
        let (answer, sent) = first;
        if answer.status == Some(self.spec.rate_limits.over_limit.status)
            && self.honour
            && let Some(wait) = answer.retry_after
        {
            let uix = user.weighted_users_index;
            tokio::time::sleep(wait).await;
            let (again, retry_sent) = self.send_once(user, ep, params, body, vars).await;
            if self.endpoints[ep].needs_key {
                self.recorder.retry(
                    uix,
                    Retry {
                        identity: self.identity(uix),
                        category: self.endpoints[ep].category,
                        refused_sent_ns: sent,
                        sent_ns: retry_sent,
                        recv_ns: self.recorder.now_ns(),
                        admitted: again.status.is_some_and(|s| (200..300).contains(&s)),
                        status: again.status,
                    },
                );
            }
            return again;
        }
        answer
    }

    async fn send_once(
        &self,
        user: &mut GooseUser,
        ep: usize,
        params: &BTreeMap<String, String>,
        body: Option<String>,
        vars: &BTreeMap<&str, String>,
    ) -> (Answer, u64) {
        let e = &self.endpoints[ep];
        let uix = user.weighted_users_index;
        let path: std::borrow::Cow<'_, str> = if params.is_empty() {
            e.path.as_str().into()
        } else {
            let mut path = e.path.clone();
            for (k, v) in params {
                path = path.replace(&format!("{{{k}}}"), v);
            }
            path.into()
        };
        let builder = match user.get_request_builder(&e.method, &path) {
            Ok(b) => b,
            Err(err) => {
                self.recorder
                    .error_example(uix, format!("{}: cannot build: {err}", e.name));
                return (
                    Answer {
                        status: None,
                        body: None,
                        retry_after: None,
                    },
                    self.recorder.now_ns(),
                );
            }
        };
        let mut builder = builder;
        if e.needs_key {
            let key = &self.keys[self.identity(uix) as usize];
            builder = builder.header(self.key_header.clone(), key.clone());
        }
        if let Some(raw) = body {
            builder = builder.body(raw);
        } else if let Some(template) = &e.body {
            builder = builder.json(&fill(template, vars));
        }
        let request = GooseRequest::builder()
            .set_request_builder(builder)
            .name(e.name.as_str())
            .build();
        let sent = self.recorder.now_ns();
        let result = user.request(request).await;
        let (status, text, headers) = match result {
            Ok(goose) => match goose.response {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // Only a refusal's headers are read (Retry-After): no copy per request.
                    let headers = (status == self.spec.rate_limits.over_limit.status)
                        .then(|| resp.headers().clone());
                    let text = resp.text().await.ok();
                    (Some(status), text, headers)
                }
                Err(err) => {
                    self.recorder
                        .error_example(uix, format!("{}: {err}", e.name));
                    (None, None, None)
                }
            },
            Err(err) => {
                self.recorder
                    .error_example(uix, format!("{}: {err}", e.name));
                (None, None, None)
            }
        };
        let recv = self.recorder.now_ns();
        self.recorder.record(
            uix,
            Sample {
                identity: e.needs_key.then(|| self.identity(uix)),
                category: e.category,
                endpoint: ep as u16,
                sent_ns: sent,
                recv_ns: recv,
                status,
            },
        );
        let retry_after = if status == Some(self.spec.rate_limits.over_limit.status) {
            self.check_refusal(uix, e, headers.as_ref(), text.as_deref(), sent)
        } else {
            None
        };
        (
            Answer {
                status,
                body: text,
                retry_after,
            },
            sent,
        )
    }

    /// Checks a 429's Retry-After and body; returns the Retry-After when valid.
    fn check_refusal(
        &self,
        uix: usize,
        e: &Endpoint,
        headers: Option<&reqwest::header::HeaderMap>,
        body: Option<&str>,
        sent: u64,
    ) -> Option<Duration> {
        let ol = &self.spec.rate_limits.over_limit;
        let window = self.categories[e.category as usize].1.window;
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
        };
        let r = crate::rate::judge_refusal(
            &self.spec,
            window,
            header(ol.retry_after_header.as_str()),
            header("date"),
            header("content-type"),
            body,
            SystemTime::now(),
        );
        let at = sent as f64 / 1e6;
        self.recorder.with_checks(uix, |c| {
            c.refusals += 1;
            if let Some(why) = &r.header_violation {
                c.retry_after_invalid += 1;
                if c.examples.len() < record::MAX_EXAMPLES {
                    c.examples
                        .push(format!("retry-after: {} at {at:.1} ms: {why}", e.name));
                }
            }
            if let Some(why) = &r.body_violation {
                c.body_invalid += 1;
                if c.examples.len() < record::MAX_EXAMPLES {
                    let shown: String = body.unwrap_or("").chars().take(120).collect();
                    c.examples
                        .push(format!("body: {} at {at:.1} ms: {why}: {shown}", e.name));
                }
            }
        });
        // Honouring waits what it says in either form, never longer than the window plus a second.
        r.retry_after
            .wait()
            .map(|_| r.wait(window + Duration::from_secs(1)))
    }

    /// Creates the user's sandbox and the files its tasks download.
    async fn on_start(&self, user: &mut GooseUser) -> TransactionResult {
        // The run's TLS, proxy and headers (goose's own client knows none of them).
        user.set_client_builder(self.transport.builder(false))
            .await?;
        if !self.needs_sandbox {
            return Ok(());
        }
        let vars = BTreeMap::new();
        let create = self.endpoint("create_sandbox");
        let a = self.send(user, create, &BTreeMap::new(), None, &vars).await;
        let id = a
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .and_then(|j| {
                let pointer = self.spec.endpoints["create_sandbox"]
                    .returns
                    .get("id")
                    .cloned()
                    .unwrap_or("/id".into());
                j.pointer(&pointer).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            });
        let Some(id) = id else {
            return Ok(());
        };
        if let Some(up) = self.endpoints.iter().position(|e| e.name == "upload_file") {
            for path in &self.upload_paths {
                let params = BTreeMap::from([
                    ("id".to_string(), id.clone()),
                    ("path".to_string(), path.clone()),
                ]);
                self.send(user, up, &params, Some("load".into()), &vars)
                    .await;
            }
        }
        let mut state = user
            .get_session_data::<UserState>()
            .cloned()
            .unwrap_or_default();
        state.sandbox = Some(id);
        user.set_session_data(state);
        Ok(())
    }

    async fn task(&self, user: &mut GooseUser, task: usize) -> TransactionResult {
        if let Some(p) = &self.pacing {
            let mut state = user
                .get_session_data::<UserState>()
                .cloned()
                .unwrap_or_default();
            state.slot = p.wait_for_slot(user.weighted_users_index, state.slot).await;
            user.set_session_data(state);
        }
        let t = &self.load.written.tasks[task];
        let plan = self.task_plans[task];
        let Some(ep) = plan.endpoint else {
            return self.refresh_rotation(user).await;
        };
        let mut params = t.params.clone();
        if plan.needs_id {
            let Some(id) = user
                .get_session_data::<UserState>()
                .and_then(|s| s.sandbox.clone())
            else {
                // The sandbox could not be created (refused): try again.
                return self.on_start(user).await;
            };
            params.insert("id".into(), id);
        }
        self.send(user, ep, &params, t.raw_body.clone(), &BTreeMap::new())
            .await;
        Ok(())
    }

    /// One session's rotation: log in when needed, refresh, replay the used token (which must be
    /// refused), then start over with a new login (the replay may revoke the successor).
    async fn refresh_rotation(&self, user: &mut GooseUser) -> TransactionResult {
        let uix = user.weighted_users_index;
        let (Some(email), Some(password)) = (&self.email, &self.password) else {
            return Ok(());
        };
        let mut state = user
            .get_session_data::<UserState>()
            .cloned()
            .unwrap_or_default();
        let returns = |name: &str, key: &str, body: &str| -> Option<String> {
            let pointer = self.spec.endpoints.get(name)?.returns.get(key)?.clone();
            let j: serde_json::Value = serde_json::from_str(body).ok()?;
            j.pointer(&pointer)?.as_str().map(str::to_string)
        };
        if state.refresh.is_none() {
            let vars = BTreeMap::from([("email", email.clone()), ("password", password.clone())]);
            let login = self.endpoint("login");
            let a = self.send(user, login, &BTreeMap::new(), None, &vars).await;
            if a.status.is_some_and(|s| (200..300).contains(&s)) {
                state.refresh = a
                    .body
                    .as_deref()
                    .and_then(|b| returns("login", "refresh_token", b));
            }
            user.set_session_data(state);
            return Ok(());
        }
        let used = state.refresh.take().unwrap_or_default();
        let refresh = self.endpoint("refresh");
        let vars = BTreeMap::from([("refresh_token", used.clone())]);
        let a = self
            .send(user, refresh, &BTreeMap::new(), None, &vars)
            .await;
        match a.status {
            Some(s) if (200..300).contains(&s) => {
                self.recorder.with_checks(uix, |c| c.refresh_rotations += 1);
                let replay = self
                    .send(user, refresh, &BTreeMap::new(), None, &vars)
                    .await;
                match replay.status {
                    Some(s) if (200..300).contains(&s) => {
                        let at = self.recorder.now_ns() as f64 / 1e6;
                        self.recorder.with_checks(uix, |c| {
                            c.replays_admitted += 1;
                            if c.examples.len() < record::MAX_EXAMPLES {
                                c.examples.push(format!(
                                    "refresh: user {uix}: a used refresh token was accepted again at {at:.1} ms"
                                ));
                            }
                        });
                    }
                    Some(s) if s == self.spec.rate_limits.over_limit.status => {
                        self.recorder.with_checks(uix, |c| c.replays_throttled += 1)
                    }
                    Some(_) => self.recorder.with_checks(uix, |c| c.replays_refused += 1),
                    None => {}
                }
            }
            // Throttled: keep the token for the next iteration.
            Some(s) if s == self.spec.rate_limits.over_limit.status => state.refresh = Some(used),
            _ => {}
        }
        user.set_session_data(state);
        Ok(())
    }
}

/// Replaces `{{name}}` in every string of a JSON template.
fn fill(template: &serde_json::Value, vars: &BTreeMap<&str, String>) -> serde_json::Value {
    match template {
        serde_json::Value::String(s) => {
            let mut out = s.clone();
            for (k, v) in vars {
                out = out.replace(&format!("{{{{{k}}}}}"), v);
            }
            serde_json::Value::String(out)
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(|v| fill(v, vars)).collect())
        }
        serde_json::Value::Object(o) => {
            serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), fill(v, vars))).collect())
        }
        other => other.clone(),
    }
}

fn method(m: &str) -> Result<GooseMethod, Error> {
    Ok(match m.to_ascii_uppercase().as_str() {
        "GET" => GooseMethod::Get,
        "POST" => GooseMethod::Post,
        "PUT" => GooseMethod::Put,
        "DELETE" => GooseMethod::Delete,
        "PATCH" => GooseMethod::Patch,
        "HEAD" => GooseMethod::Head,
        other => {
            return Err(Error::Usage(format!(
                "method {other} is not supported by load"
            )));
        }
    })
}

fn pick_scenario(loaded: Vec<Loaded>, path: &std::path::Path) -> Result<Loaded, Error> {
    let mut loads: Vec<Loaded> = loaded
        .into_iter()
        .filter(|l| matches!(l.scenario.kind(), Some(Kind::Load(_))))
        .collect();
    match loads.len() {
        1 => Ok(loads.remove(0)),
        0 => Err(Error::Usage(format!(
            "{}: no load scenario (a scenario with `load:`)",
            path.display()
        ))),
        n => Err(Error::Usage(format!(
            "{}: {n} load scenarios; `load` runs one per file",
            path.display()
        ))),
    }
}

pub async fn run(args: LoadArgs) -> Result<RunOutcome, Error> {
    let spec = load_spec(args.spec.as_deref())?;
    let cli_policy = crate::gate::fail_on_option(args.fail_on.as_deref(), &spec)?;
    let loaded = crate::scenario::load_paths(std::slice::from_ref(&args.scenario), &spec)?;
    let loaded = pick_scenario(loaded, &args.scenario)?;
    let Some(mut load) = loaded.swarm.clone() else {
        unreachable!("picked a load scenario, resolved when it was validated")
    };
    // A plan fixes both the users and the time, so `--users`/`--duration` beside it are a usage
    // error rather than a guess at which steps to stretch or scale.
    if load.plan.is_some() && (args.users.is_some() || args.duration.is_some()) {
        return Err(Error::Usage(format!(
            "scenario {} has a `plan`: it gives the users and the time, so --users and --duration do not apply (edit the plan instead)",
            loaded.id
        )));
    }
    if args.max_duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Usage("--max-duration must be longer than 0".into()));
    }
    if let Some(u) = args.users {
        if u == 0 {
            return Err(Error::Usage("--users must be at least 1".into()));
        }
        load.set_users(u);
    }
    if let Some(d) = args.duration {
        if d.is_zero() {
            return Err(Error::Usage("--duration must be longer than 0".into()));
        }
        load.set_duration(d);
    }
    let total_users = load.users;
    let (local_users, user_offset) = match args.segment {
        Some(seg) => segment_users(total_users, seg),
        None => (total_users, 0),
    };
    // A segment runs its share of every step: `segment_users` of each step's users, so the
    // segments together run exactly each step's users, and its peak is its share of the peak
    // (the share is monotone in the users), matching `local_users` and `user_offset`.
    let plan = load.plan.clone().map(|steps| match args.segment {
        Some(seg) => steps
            .iter()
            .map(|&(users, secs)| (segment_users(users, seg).0, secs))
            .collect::<Vec<_>>(),
        None => steps,
    });
    if local_users == 0 {
        return Err(Error::Usage(format!(
            "segment {:?}: no user left for it ({total_users} users)",
            args.segment
        )));
    }
    let duration = load.duration;
    let identities_needed = load.identities.keys_needed(load.users);
    let embedded = crate::target::EmbeddedOptions {
        limiter: args.limiter,
        window: args.window,
        faults: args.faults.clone(),
        leak_ns: None,
        seed: None,
    };
    let needs = crate::target::Needs {
        default_window: crate::target::EMBEDDED_WINDOW,
        identities: identities_needed,
    };
    let resolved = crate::target::resolve(
        &spec,
        args.target.as_deref(),
        args.profile.as_deref(),
        &embedded,
        needs,
        &args.tls,
    )
    .await?;
    let (target, server, pool) = (resolved.target, resolved.server, resolved.pool);
    let policy = cli_policy.unwrap_or_else(|| target.fail_on.clone());
    let keys: Vec<String> = match load.identities {
        Identities::Shared => target
            .credential(Role::ApiKey)
            .map(|k| vec![k.to_string()])
            .unwrap_or_default(),
        _ => pool.iter().take(identities_needed).cloned().collect(),
    };
    let uses_keys = load.written.tasks.iter().any(|t| t.endpoint != "refresh");
    if uses_keys && keys.len() < identities_needed.max(1) {
        return Err(Error::Usage(format!(
            "scenario {} needs {} API keys ({}); {} available (against a real target, {POOL_ENV} names a file of keys)",
            loaded.id,
            identities_needed.max(1),
            load.identities.name(),
            keys.len()
        )));
    }

    let categories: Vec<(String, Category)> = target
        .spec
        .rate_limits
        .categories
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let mut endpoints = Vec::new();
    for (name, e) in &target.spec.endpoints {
        endpoints.push(Endpoint {
            name: name.clone(),
            method: method(&e.method)?,
            path: e.path.clone(),
            category: categories
                .iter()
                .position(|(c, _)| c == &e.category)
                .unwrap_or(0) as u16,
            body: e.body.clone(),
            needs_key: e.auth.contains(&crate::spec::AuthMethod::ApiKey),
        });
    }
    let needs_sandbox = load.written.tasks.iter().any(|t| {
        target
            .spec
            .endpoint(&t.endpoint)
            .is_some_and(|e| e.path.contains("{id}"))
    });
    let mut upload_paths: Vec<String> = load
        .written
        .tasks
        .iter()
        .filter_map(|t| t.params.get("path").cloned())
        .collect();
    upload_paths.sort();
    upload_paths.dedup();

    // A target that cannot be reached is an error (exit 3), not a swarm of transport errors.
    let transport =
        crate::probe::Transport::new(&target.base_url, &target.connection, target.timeouts)?;
    let probe = crate::target::probe(&target, &transport)?;
    let report_dir = args.report_dir.clone().unwrap_or_else(default_report_dir);
    let folder = crate::report::ReportDir::claim(&report_dir)?;
    let header = &target.spec.auth.api_key.header;
    let key_header = reqwest::header::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        Error::Usage(format!(
            "the spec's API-key header {header:?} is not a valid header name"
        ))
    })?;
    let keys = keys
        .iter()
        .map(|k| {
            let mut v = reqwest::header::HeaderValue::from_str(k).map_err(|_| {
                Error::Usage(format!(
                    "API key {} is not a valid header value (control characters or non-ASCII?)",
                    crate::redact::fingerprint(k, &[])
                ))
            })?;
            v.set_sensitive(true);
            Ok(v)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let keys_count = keys.len();
    let task_plans = load
        .written
        .tasks
        .iter()
        .map(|t| {
            if t.endpoint == "refresh" {
                return Ok(TaskPlan {
                    endpoint: None,
                    needs_id: false,
                });
            }
            let i = endpoints
                .iter()
                .position(|e| e.name == t.endpoint)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "scenario {}: task endpoint {:?} is not in the spec",
                        loaded.id, t.endpoint
                    ))
                })?;
            Ok(TaskPlan {
                endpoint: Some(i),
                needs_id: endpoints[i].path.contains("{id}"),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    // Every input is checked (the folder, the header, the keys, the tasks) before this first
    // request.
    probe.preflight().await?;
    crate::target::warnings(&target)
        .iter()
        .for_each(|w| eprintln!("warning: {w}"));
    if !args.quiet {
        eprintln!(
            "{}",
            crate::report::terminal::for_stderr(&crate::target::limits_line(&target))
        );
    }
    let ctx = Arc::new(Ctx {
        spec: target.spec.clone(),
        honour: load.on_429 == On429::Honour,
        categories: categories.clone(),
        endpoints,
        key_header,
        keys,
        task_plans,
        user_offset,
        email: target.credential(Role::Email).map(str::to_string),
        password: target.credential(Role::Password).map(str::to_string),
        recorder: Recorder::new(load.written.independence_clause.is_some()),
        needs_sandbox,
        upload_paths,
        pacing: load.arrival.map(|a| {
            pacing::Pacing::new(
                a,
                load.identities,
                keys_count,
                total_users,
                user_offset,
                local_users,
            )
        }),
        load: load.clone(),
        transport,
    });

    if let Some(at) = args.start_at {
        wait_for_start(at, args.quiet).await?;
    }
    let started_unix_ns = unix_ns(SystemTime::now());
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let started = Instant::now();
    let attack = build_attack(
        &ctx,
        &target.base_url,
        duration,
        local_users,
        plan.as_deref(),
    )?;
    install_logger();
    let progress = spawn_progress(ctx.clone(), args.quiet, duration);
    goose::reset_killswitch();
    // SIGTERM or the time limit stop the swarm as goose's own Ctrl-C does: its killswitch.
    let limit = args
        .max_duration
        .or(target.max_duration)
        .unwrap_or_else(|| duration + target.max_duration(None));
    let stopped = Arc::new(std::sync::Mutex::new(None));
    let watcher = {
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let stop = crate::stop::signal_or_limit(Some(limit)).await;
            goose::trigger_killswitch(&stop.message());
            *stopped.lock().expect("lock") = Some(stop);
        })
    };
    // goose prints "N users launched." and the like on stdout whatever its verbosity: stdout
    // is this tool's (the summary), so goose's lines go nowhere while the swarm runs.
    let muted = mute::Muted::begin();
    if let Some(p) = &ctx.pacing {
        // Every user is hatched by then (all at once, unless a hatch_rate spreads them).
        p.anchor(Instant::now() + Duration::from_millis(100));
    }
    let result = attack.execute().await;
    drop(muted);
    watcher.abort();
    progress.abort();
    if !args.quiet {
        eprintln!();
    }
    let interrupted = goose::is_killswitch_triggered();
    let elapsed = started.elapsed();
    if let Some(s) = server {
        s.shutdown().await;
    }
    let mut error = match result {
        Ok(_) => None,
        Err(e) => Some(format!("goose: {e}")),
    };
    let stopped = stopped.lock().expect("lock").take();
    if interrupted && error.is_none() {
        error = Some(match &stopped {
            Some(stop) => stop.message(),
            None => crate::stop::Stop::Signal("Ctrl-C").message(),
        });
    }
    let obs = ctx.recorder.finish();
    let epoch = ctx.recorder.epoch_unix_ns;
    let judged = judge::judge(&load, &loaded.id, &categories, &obs, elapsed, interrupted);
    let decided: Vec<String> = loaded.scenario.clauses.clone();
    let mut clauses = verdict::judge(&target.spec, &judged.findings, &|id| {
        decided.iter().any(|c| c == id)
    });
    let prefixes = target.secret_prefixes();
    let redactor = target.redactor().with(&pool, &prefixes);
    let endpoint_names: Vec<(String, u16)> = ctx
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.category))
        .collect();
    verdict::for_reports(&mut clauses);
    let pacing = ctx
        .pacing
        .as_ref()
        .map(|p| p.report(load.written.arrival_rate.as_deref().unwrap_or_default()));
    let (verdict, gate) = policy.verdict(&clauses, error.is_some());
    let report = RunReport {
        load: None,
        tool: Tool::default(),
        target: crate::target::info(&target, &ctx.transport),
        seed: 0,
        started_at: started_at.clone(),
        duration_ms: elapsed.as_millis() as u64,
        verdict,
        gate,
        summary: verdict::summarize(&clauses),
        clauses,
        error: error.map(|e| redactor.redact(&e)),
        scenarios: vec![ScenarioResult {
            name: loaded.id.clone(),
            kind: "load".into(),
            clauses: loaded.scenario.clauses.clone(),
            duration_ms: elapsed.as_millis() as u64,
            requests: obs.requests(),
            note: None,
            ..Default::default()
        }],
        timelines: Vec::new(),
        timing: Vec::new(),
        warnings: {
            let mut w = crate::target::warnings(&target);
            w.extend(pacing.as_ref().and_then(|p| p.warning()));
            if let Some((i, n)) = args.segment {
                w.push(format!(
                    "segment {i}/{n} of a distributed swarm: this verdict is partial; `report merge` of all {n} parts decides"
                ));
            }
            w
        },
    };
    let mut load_report = report::LoadReport::build(
        &report,
        &loaded.id,
        &load,
        duration,
        &categories,
        &endpoint_names,
        &obs,
        &judged,
        elapsed,
        report::Raw {
            start_at_unix_ns: args.start_at.map(unix_ns),
            started_unix_ns,
            ..report::Raw::build(
                epoch,
                args.segment,
                &load.written,
                &categories,
                &endpoint_names,
                &obs,
            )
        },
    );
    // This process's users (a segment's share); the scenario in `raw` keeps the whole swarm's.
    load_report.users = local_users;
    if pacing.is_some() {
        load_report.load_model = report::OPEN_LOOP_MODEL.into();
    }
    load_report.pacing = pacing;
    let mut report = report;
    report.load = Some(load_report.summary());
    let report = report.redacted(&redactor);
    let section = redactor.redact(&chart::section(&load_report));
    let mut written =
        crate::report::write_all_with(&report, folder.path(), &Format::ALL, &[section])?;
    written.push(load_report.write(folder.path(), &redactor)?);
    drop(folder);
    Ok(RunOutcome {
        report,
        report_dir,
        written,
        partial: args.segment,
    })
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `--start-at`: waits for it, saying until when (Ctrl-C or SIGTERM end the wait, exit 3); a
/// time already past starts now, with a warning (load.json records the skew, and `report
/// merge` flags a part that started late).
async fn wait_for_start(at: SystemTime, quiet: bool) -> Result<(), Error> {
    let when = humantime::format_rfc3339_millis(at);
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            if !quiet {
                eprintln!(
                    "waiting until {when} (--start-at, in {}) to start with the other segments",
                    humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => Ok(()),
                s = crate::stop::signal() => {
                    let name = match s {
                        crate::stop::Stop::Signal(name) => name,
                        crate::stop::Stop::TimeLimit(_) => "stopped",
                    };
                    Err(Error::Target(format!(
                        "interrupted ({name}) while waiting for --start-at {when}; nothing was sent"
                    )))
                }
            }
        }
        Err(e) => {
            eprintln!(
                "warning: --start-at {when} was {} ago: starting now, late (load.json records the skew; `report merge` flags it)",
                humantime::format_duration(Duration::from_millis(e.duration().as_millis() as u64))
            );
            Ok(())
        }
    }
}

/// A logger that keeps only errors: installed before goose so goose keeps its hands off the
/// process's logging (its own would print a line per failed request); transport errors are
/// counted and reported by the swarm instead.
struct QuietLogger;

impl log::Log for QuietLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Error
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("goose: {}", record.args());
        }
    }
    fn flush(&self) {}
}

static QUIET: QuietLogger = QuietLogger;

fn install_logger() {
    // Fails only when a logger is already installed (a second swarm in one process): keep it.
    if log::set_logger(&QUIET).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}

fn build_attack(
    ctx: &Arc<Ctx>,
    base_url: &str,
    duration: Duration,
    users: usize,
    plan: Option<&[(usize, u64)]>,
) -> Result<GooseAttack, Error> {
    let load = &ctx.load;
    let goose_err = |e: GooseError| Error::Usage(format!("goose: {e}"));
    let mut config = goose::config::GooseConfiguration::default();
    config.host = Some(base_url.to_string());
    if plan.is_none() {
        config.users = Some(users);
        let rate = load.hatch_rate.unwrap_or(users as f64 * 20.0);
        config.increase_rate = Some(format!("{rate}"));
        config.run_time = Some(format!("{}", duration.as_secs().max(1)));
    }
    config.quiet = 1;
    config.no_telnet = true;
    // The WebSocket controller is off unless asked for in 0.19 (`no_websocket` only warns).
    config.no_print_metrics = true;
    config.no_error_summary = true;
    // No goose-report.html: it loads its charts from a CDN (blank offline, in an air-gapped CI,
    // in an artefact viewer); report.html's load section, drawn from the same observations
    // with nothing fetched, replaces it.
    let mut scenario = Scenario::new(&crate::scenario::id_of(
        std::path::Path::new("load"),
        "swarm",
    ));
    if let Some(w) = load.wait {
        scenario = scenario.set_wait_time(w.min, w.max).map_err(goose_err)?;
    }
    let start = ctx.clone();
    scenario = scenario.register_transaction(
        Transaction::new(Arc::new(move |user| {
            let ctx = start.clone();
            Box::pin(async move { ctx.on_start(user).await })
        }))
        .set_name("on_start")
        .set_on_start(),
    );
    for (i, t) in load.written.tasks.iter().enumerate() {
        let c = ctx.clone();
        scenario = scenario.register_transaction(
            Transaction::new(Arc::new(move |user| {
                let ctx = c.clone();
                Box::pin(async move { ctx.task(user, i).await })
            }))
            .set_name(&t.endpoint)
            .set_weight(t.weight)
            .map_err(goose_err)?,
        );
    }
    let mut attack = GooseAttack::initialize_with_config(config).map_err(goose_err)?;
    if let Some(steps) = plan {
        // `GooseConfiguration::test_plan` is not public: a default is how code sets a plan.
        attack = *attack
            .set_default(
                GooseDefault::TestPlan,
                crate::scenario::goose_plan(steps).as_str(),
            )
            .map_err(goose_err)?;
    }
    Ok(attack.register_scenario(scenario))
}

/// A line a second on stderr (redrawn in place on a terminal): requests, rate and classes.
fn spawn_progress(ctx: Arc<Ctx>, quiet: bool, duration: Duration) -> tokio::task::JoinHandle<()> {
    use std::io::IsTerminal as _;
    let tty = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        if quiet {
            return;
        }
        let start = Instant::now();
        let mut last = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let c = ctx.recorder.live_counts();
            let total: u64 = c.iter().sum();
            let line = format!(
                "load {:>4.0}s/{}s  {total} requests  {} req/s  2xx {}  429 {}  other {}  errors {}",
                start.elapsed().as_secs_f64(),
                duration.as_secs(),
                total - last,
                c[0],
                c[1],
                c[2],
                c[3]
            );
            last = total;
            if tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
        }
    })
}
