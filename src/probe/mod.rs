//! The one HTTP client wrapper: timeouts, no redirects, a cap on response bodies, monotonic
//! timing, redacted transcripts, and the observers that watch every exchange of a run.

mod observe;
pub mod replay;
mod timer;
pub mod transport;

pub use observe::Observers;
pub use timer::{Timed, Timer};
pub use transport::{Connection, Transport};

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::error::Error;
use crate::redact::Redactor;
use crate::verdict::Exchange;

/// The most of a response body the harness reads; the rest is dropped and the body marked
/// truncated. A hostile target cannot make the harness hold more than this per response.
pub const BODY_CAP: usize = 1 << 20;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(15),
        }
    }
}

/// A request, before it is sent. `path` holds the path and query, already expanded.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The rate-limit category of the spec endpoint it calls, when it calls one: an over-limit
    /// answer's Retry-After is judged against that category's window.
    pub category: Option<String>,
}

/// Header bytes beyond which a request is an oversize probe: the smallest common header limit
/// (nginx's 8 KiB buffer line, Apache's 8190 bytes). A stack may refuse such a request at the
/// transport, so its failure to get an answer says nothing about the target's health.
pub const OVERSIZE_HEADER_BYTES: usize = 8 * 1024;

impl Request {
    /// Whether its headers exceed the smallest common header limit.
    pub fn oversize(&self) -> bool {
        self.headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>()
            > OVERSIZE_HEADER_BYTES
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub truncated: bool,
    /// The connection closed or reset after the status line, before the body ended (Node's 431
    /// to an oversize header, then a reset): still an answer, judged by its status; the body is
    /// what arrived.
    pub broke_off: Option<String>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A sent request and what came back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request: Request,
    /// Milliseconds since the run started, when the request was sent.
    pub at_ms: f64,
    pub elapsed: Duration,
    pub result: Result<Response, String>,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        self.result.as_ref().ok().map(|r| r.status)
    }

    pub fn response(&self) -> Option<&Response> {
        self.result.as_ref().ok()
    }

    pub fn done_ms(&self) -> f64 {
        self.at_ms + self.elapsed.as_secs_f64() * 1000.0
    }
}

/// Sends requests to one target. Cheap to clone.
#[derive(Clone)]
pub struct Probe {
    client: reqwest::Client,
    base_url: Arc<str>,
    redactor: Arc<std::sync::RwLock<Redactor>>,
    started: Instant,
    observers: Observers,
    /// Headers that carry credentials: their values are always shown as fingerprints, known
    /// secret or not (a forged token a faulty target accepts is a working credential too).
    credential_headers: Arc<[String]>,
    prefixes: Arc<[String]>,
    /// The proxy the target is reached through, named in a connection error.
    through: Option<Arc<str>>,
    transport: Transport,
    /// Builds the `curl` line of each exchange.
    replay: Arc<replay::Replay>,
}

impl Probe {
    /// The curl line that sends `request` (credentials as their variables).
    pub fn curl(&self, request: &Request) -> String {
        self.replay.curl(&self.base_url, request, &self.redactor())
    }

    /// A probe of `base_url`; `replay` writes each exchange's curl line (the target's
    /// credentials as their variables: `target::replay`).
    pub fn new(
        spec: &crate::spec::Spec,
        base_url: &str,
        transport: &Transport,
        redactor: Redactor,
        replay: replay::Replay,
    ) -> Result<Self, Error> {
        let client = transport
            .builder(false)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| Error::Usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').into(),
            redactor: Arc::new(std::sync::RwLock::new(redactor)),
            through: transport.through().map(Arc::from),
            replay: Arc::new(replay),
            transport: transport.clone(),
            started: Instant::now(),
            observers: Observers::new(spec),
            credential_headers: spec
                .auth
                .credential_headers()
                .into_iter()
                .map(str::to_ascii_lowercase)
                .collect(),
            prefixes: [&spec.auth.api_key.prefix, &spec.auth.access_token.prefix]
                .into_iter()
                .cloned()
                .collect(),
        })
    }

    /// TLS, proxy and extra headers: what every other client of the run is built with.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    pub fn redactor(&self) -> Redactor {
        self.redactor.read().expect("redactor lock").clone()
    }

    /// Makes secrets learned during the run (issued tokens, created keys) redacted from now on.
    pub fn learn_secrets<S: AsRef<str>>(
        &self,
        secrets: impl IntoIterator<Item = S>,
        prefixes: &[&str],
    ) {
        let mut r = self.redactor.write().expect("redactor lock");
        *r = r.with(secrets, prefixes);
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Checks that the target answers at all, so an unreachable target fails fast (exit 3).
    pub async fn preflight(&self) -> Result<(), Error> {
        let url = format!("{}/", self.base_url);
        match self.client.get(&url).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Unreachable(match &self.through {
                Some(proxy) => format!(
                    "cannot reach {} through proxy {proxy}: {}",
                    self.base_url,
                    describe(&e)
                ),
                None => format!("cannot reach {}: {}", self.base_url, describe(&e)),
            })),
        }
    }

    pub async fn send(&self, request: Request) -> Outcome {
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self.client.request(request.method.clone(), &url);
        for (k, v) in &request.headers {
            // From bytes, so a non-ASCII value (a look-alike character) goes out as its UTF-8
            // bytes rather than failing the request; values HTTP cannot carry (control
            // characters) still fail as a request error.
            builder = match reqwest::header::HeaderValue::from_bytes(v.as_bytes()) {
                Ok(value) => builder.header(k, value),
                Err(_) => builder.header(k, v),
            };
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let at_ms = self.elapsed_ms();
        let start = Instant::now();
        let result = match builder.send().await {
            Ok(resp) => read_capped(resp).await,
            Err(e) => Err(describe(&e)),
        };
        let outcome = Outcome {
            request,
            at_ms,
            elapsed: start.elapsed(),
            result,
        };
        self.observers.observe(&outcome, self);
        outcome
    }

    /// The exchange as evidence: every known secret replaced by its fingerprint.
    pub fn exchange(&self, outcome: &Outcome) -> Exchange {
        let r = self.redactor();
        let prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        let red_headers = |h: &[(String, String)]| {
            h.iter()
                .map(|(k, v)| {
                    if self.credential_headers.contains(&k.to_ascii_lowercase()) {
                        // Keep an auth scheme ("Bearer ") readable; fingerprint the credential.
                        let (scheme, cred) = match v.split_once(' ') {
                            Some((s, c))
                                if !s.is_empty()
                                    && s.chars().all(|ch| ch.is_ascii_alphabetic()) =>
                            {
                                (format!("{s} "), c)
                            }
                            _ => (String::new(), v.as_str()),
                        };
                        let shown = crate::redact::fingerprint(cred, &prefixes);
                        (k.clone(), format!("{scheme}{shown}"))
                    } else {
                        (k.clone(), r.redact(v))
                    }
                })
                .collect::<Vec<_>>()
        };
        let clip = |s: &str| {
            let s = r.redact(s);
            if s.len() > 4096 {
                let mut end = 4096;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}… ({} bytes)", &s[..end], s.len())
            } else {
                s
            }
        };
        let (status, response_headers, response_body, error) = match &outcome.result {
            Ok(resp) => (
                Some(resp.status),
                red_headers(&resp.headers),
                Some(clip(&unescaped(&resp.body))),
                resp.broke_off
                    .as_ref()
                    .map(|e| r.redact(&format!("the body broke off after the status line: {e}"))),
            ),
            Err(e) => (None, Vec::new(), None, Some(r.redact(e))),
        };
        Exchange {
            method: outcome.request.method.to_string(),
            url: r.redact(&format!("{}{}", self.base_url, outcome.request.path)),
            request_headers: red_headers(&outcome.request.headers),
            request_body: outcome.request.body.as_deref().map(clip),
            status,
            response_headers,
            response_body,
            error,
            at_ms: outcome.at_ms,
            elapsed_ms: outcome.elapsed.as_secs_f64() * 1000.0,
            curl: Some(self.replay.curl(&self.base_url, &outcome.request, &r)),
        }
    }
}

/// A JSON body with string escapes is shown re-serialized (`\u0073k_` as `sk_`): the report
/// reads the same, and a secret spelled in escapes is plain text again, which the redactor sees.
fn unescaped(body: &str) -> std::borrow::Cow<'_, str> {
    if body.contains('\\')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && let Ok(s) = serde_json::to_string(&v)
    {
        return std::borrow::Cow::Owned(s);
    }
    std::borrow::Cow::Borrowed(body)
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Response, String> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut truncated = false;
    let mut broke_off = None;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_CAP - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            // A body still arriving when the request timed out is a target too slow to answer
            // (a trickle): a failure, counted toward "stopped answering".
            Err(e) if e.is_timeout() => return Err(describe(&e)),
            Err(e) => {
                // A status line followed by a closed or reset connection is an answer.
                broke_off = Some(describe(&e));
                break;
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        truncated,
        broke_off,
    })
}

/// A transport error in words, with its cause chain (reqwest's top message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirect"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    let text = if causes.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", causes.join(": "))
    };
    match certificate_hint(&text) {
        Some(hint) => format!("{text} ({hint})"),
        None => text,
    }
}

/// What to do about a certificate the target's TLS handshake was refused for.
fn certificate_hint(error: &str) -> Option<&'static str> {
    let hints = [
        (
            "CaUsedAsEndEntity",
            "the target presents a CA certificate as its own, as a self-signed `openssl req -x509` one is: trust it with --cacert FILE or the profile's tls.ca",
        ),
        (
            "UnknownIssuer",
            "the certificate's issuer is not trusted: give its CA with --cacert FILE or the profile's tls.ca (--insecure skips verification)",
        ),
        (
            "NotValidForName",
            "the certificate is not valid for this host name",
        ),
        ("Expired", "the certificate has expired"),
        ("NotValidYet", "the certificate is not valid yet"),
        (
            "CertificateRequired",
            "the target wants a client certificate: --cert FILE --key FILE or the profile's tls.client_cert and tls.client_key",
        ),
    ];
    hints
        .iter()
        .find(|(needle, _)| error.contains(needle))
        .map(|(_, hint)| *hint)
}
