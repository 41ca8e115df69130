//! Building responses: JSON bodies, denials with their challenge, the over-limit response as the
//! spec describes it, and the IETF RateLimit headers.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::fault::{Fault, Faults};
use super::limiter::Outcome;
use crate::error::Error;
use crate::spec::Spec;

/// The realm every challenge names (a server choice; the contract names none).
pub const REALM: &str = "lelantos";
/// The largest request body the server reads; a larger one is answered 413.
pub const MAX_BODY: usize = 1 << 20;

/// IETF draft-ietf-httpapi-ratelimit-headers field names.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

const JSON: HeaderValue = HeaderValue::from_static("application/json");

pub fn bytes(status: StatusCode, content_type: HeaderValue, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, content_type);
    r
}

pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    bytes(status, JSON, serde_json::to_vec(value).unwrap_or_default())
}

pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    bytes(status, JSON, body)
}

pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

pub fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// A refused credential. The message never holds the credential, except under the
/// `echo-credential` fault.
#[derive(Debug)]
pub struct Denial {
    pub status: StatusCode,
    pub challenge: HeaderValue,
    pub message: &'static str,
    /// The presented credential, quoted only under `echo-credential`.
    pub presented: Option<String>,
}

impl Denial {
    pub fn into_response(self, faults: Faults) -> Response {
        let echoed = self
            .presented
            .as_ref()
            .filter(|_| faults.has(Fault::EchoCredential));
        let message = match echoed {
            // As presented, and a truncated copy: a harness must fingerprint both.
            Some(p) => {
                let cut: String = p
                    .chars()
                    .take(p.chars().count().saturating_sub(3))
                    .collect();
                format!("{}: {p} (began {cut})", self.message)
            }
            None => self.message.to_string(),
        };
        let bare = self
            .presented
            .as_deref()
            .filter(|_| faults.has(Fault::EchoBareJwt))
            .and_then(|p| p.find("eyJ").map(|i| &p[i..]));
        let mut r = match bare {
            // The JWT without its prefix, every character a JSON escape: the same string to any
            // JSON reader, and no copy of the token in the raw text.
            Some(jwt) => {
                let escaped: String = jwt
                    .chars()
                    .map(|c| format!("\\u{:04x}", c as u32))
                    .collect();
                let body = format!(r#"{{"error":"{}","token":"{escaped}"}}"#, self.message);
                json_bytes(self.status, body.into_bytes())
            }
            None => error(self.status, &message),
        };
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(WWW_AUTHENTICATE, self.challenge);
        }
        // And case-flipped, in a header.
        if let Some(p) = echoed {
            let flipped: String = p
                .chars()
                .map(|c| {
                    if c.is_ascii_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect();
            if let Ok(v) = HeaderValue::from_str(&flipped) {
                r.headers_mut().insert("x-echoed-credential", v);
            }
        }
        r
    }
}

/// Seconds to wait, as Retry-After states them: the ceiling of the true wait, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The over-limit response of the spec (`rate_limits.over_limit`).
pub struct OverLimit {
    status: StatusCode,
    retry_after: HeaderName,
    content_type: HeaderValue,
    error: String,
    field: String,
}

impl OverLimit {
    pub fn from_spec(spec: &Spec) -> Result<Self, Error> {
        let o = &spec.rate_limits.over_limit;
        let bad =
            |what: &str| Error::Usage(format!("spec: rate_limits.over_limit.{what} is not valid"));
        Ok(OverLimit {
            status: StatusCode::from_u16(o.status).map_err(|_| bad("status"))?,
            retry_after: HeaderName::try_from(o.retry_after_header.as_str())
                .map_err(|_| bad("retry_after_header"))?,
            content_type: HeaderValue::try_from(o.content_type.as_str())
                .map_err(|_| bad("content_type"))?,
            error: o.body.error.clone(),
            field: o.body.retry_after_field.clone(),
        })
    }

    /// The answer to a refused request that would be admitted after `wait`.
    pub fn response(&self, wait: Duration, faults: Faults) -> Response {
        let n = if faults.has(Fault::RlRetryAfterMs) {
            (wait.as_millis() as u64).max(1)
        } else if faults.has(Fault::RlRetryAfterShort) {
            1
        } else {
            retry_after_secs(wait)
        };
        let status = if faults.has(Fault::RlStatus503) {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            self.status
        };
        let mut r = if faults.has(Fault::RlBodyNotJson) {
            bytes(
                status,
                HeaderValue::from_static("text/plain; charset=utf-8"),
                format!("{}; retry after {n} seconds", self.error).into_bytes(),
            )
        } else {
            let mut body = serde_json::Map::new();
            body.insert("error".into(), self.error.clone().into());
            body.insert(self.field.clone(), n.into());
            let content_type = if faults.has(Fault::Rl429Html) {
                HeaderValue::from_static("text/html; charset=utf-8")
            } else {
                self.content_type.clone()
            };
            bytes(
                status,
                content_type,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        };
        if !faults.has(Fault::RlNoRetryAfter) {
            r.headers_mut()
                .insert(self.retry_after.clone(), HeaderValue::from(n));
        }
        r
    }
}

/// A category as the responses describe it.
pub struct CategoryInfo {
    pub name: String,
    /// The contract's limit (what RateLimit-Policy announces, whatever a fault enforces).
    pub limit: u32,
    /// `RateLimit-Policy`, when the window is a whole number of seconds (the draft's `w` is an
    /// integer; a sub-second staging window has no faithful policy to announce, so none is sent).
    pub policy: Option<HeaderValue>,
}

impl CategoryInfo {
    pub fn new(name: &str, limit: u32, window: Duration) -> Self {
        let policy = (window.subsec_nanos() == 0 && window.as_secs() > 0)
            .then(|| format!("\"{name}\";q={limit};w={}", window.as_secs()))
            .and_then(|v| HeaderValue::try_from(v).ok());
        CategoryInfo {
            name: name.to_string(),
            limit,
            policy,
        }
    }

    /// Adds `RateLimit-Policy` and `RateLimit` for a decision in this category.
    pub fn decorate(&self, r: &mut Response, o: &Outcome) {
        let Some(policy) = &self.policy else { return };
        let remaining = o.remaining.min(self.limit);
        let t = if o.admitted {
            ceil_secs(o.reset)
        } else {
            retry_after_secs(o.wait)
        };
        let value = format!("\"{}\";r={remaining};t={t}", self.name);
        if let Ok(v) = HeaderValue::try_from(value) {
            r.headers_mut().insert(RATELIMIT_POLICY, policy.clone());
            r.headers_mut().insert(RATELIMIT, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(12)), 12);
        assert_eq!(retry_after_secs(Duration::from_millis(12_001)), 13);
    }
}
