//! Access and refresh tokens: the prefix and an HS256 JWT (claims `sub`, `team`, `typ`, `iat`,
//! `exp`, `jti`, and `fam` on refresh tokens), and the refresh sessions behind rotation.
//!
//! Validation is strict: HS256 only (alg none in any case and every other algorithm are
//! refused), expiry with no leeway, tokens issued in the future (`iat`/`nbf` more than
//! [`FUTURE_SKEW`] ahead) refused, and the token type must fit its use.
//!
//! Refresh tokens are single-use. Each login starts a session family holding the one refresh
//! token that is current; a refresh consumes it and makes its successor current under one lock,
//! so of two concurrent refreshes exactly one wins. Presenting a refresh token that was already
//! used (RFC 9700 4.14.2, reuse detection) ends the whole family: its successor is refused too.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::app::Faults;
use super::directory::unix_now;
use super::fault::Fault;

/// How far in the future `iat` or `nbf` may be (clock skew between hosts).
pub const FUTURE_SKEW: u64 = 60;
/// Live refresh-token families; beyond this the oldest session is dropped.
pub const MAX_FAMILIES: usize = 100_000;

pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub team: String,
    pub typ: String,
    #[serde(default)]
    pub iat: u64,
    pub exp: u64,
    #[serde(default)]
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The refresh family (refresh tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

/// Why a token was refused. The reasons are for logs and bodies; none quotes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    Algorithm,
    Signature,
    Expired,
    Future,
    WrongType,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed token",
            Refusal::Algorithm => "token algorithm not accepted",
            Refusal::Signature => "invalid token signature",
            Refusal::Expired => "token expired",
            Refusal::Future => "token not valid yet",
            Refusal::WrongType => "wrong token type",
        }
    }
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub prefix: String,
    pub session_ttl: Duration,
    pub refresh_ttl: Duration,
}

fn b64_json(segment: &str) -> Option<serde_json::Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn random_hex(bytes: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let _ = write!(out, "{:02x}", rand::random::<u8>());
    }
    out
}

impl Jwt {
    pub fn new(
        secret: &str,
        prefix: &str,
        session_ttl: Duration,
        refresh_ttl: Duration,
        faults: Faults,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // jsonwebtoken's default leeway is 60 s; the server judges expiry exactly.
        validation.leeway = 0;
        validation.validate_exp = !faults.has(Fault::JwtIgnoresExp);
        // `nbf` and `iat` are judged below with FUTURE_SKEW; jsonwebtoken would apply leeway 0.
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp"]);
        Jwt {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            prefix: prefix.to_string(),
            session_ttl: if faults.has(Fault::JwtSessionTtl) {
                Duration::from_secs(7 * 24 * 3600)
            } else {
                session_ttl
            },
            refresh_ttl: if faults.has(Fault::JwtRefreshTtl) {
                Duration::from_secs(90 * 24 * 3600)
            } else {
                refresh_ttl
            },
        }
    }

    /// Signs a token of type `typ` for `sub`, valid for the type's lifetime from now.
    pub fn issue(
        &self,
        sub: &str,
        team: &str,
        typ: &str,
        jti: String,
        fam: Option<String>,
    ) -> String {
        let iat = unix_now();
        let ttl = if typ == REFRESH {
            self.refresh_ttl
        } else {
            self.session_ttl
        };
        let claims = Claims {
            sub: sub.to_string(),
            team: team.to_string(),
            typ: typ.to_string(),
            iat,
            exp: iat + ttl.as_secs(),
            jti,
            nbf: None,
            fam,
        };
        // Encoding a struct of strings and integers with an HMAC key cannot fail.
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default();
        format!("{}{jwt}", self.prefix)
    }

    /// Validates a presented token (with its prefix) expected to be of type `want`.
    pub fn verify(&self, presented: &str, want: &str, faults: Faults) -> Result<Claims, Refusal> {
        let token = presented
            .strip_prefix(self.prefix.as_str())
            .ok_or(Refusal::Malformed)?;
        let lenient;
        let token = if faults.has(Fault::TokenLenientBase64) {
            lenient = lenient_spelling(token);
            lenient.as_str()
        } else {
            token
        };
        let claims = if faults.has(Fault::JwtAlgNone) || faults.has(Fault::JwtNoSignatureCheck) {
            self.decode_faulty(token, faults)?
        } else {
            self.decode(token)?
        };
        let now = unix_now();
        if !faults.has(Fault::JwtIgnoresExp) && claims.exp <= now {
            return Err(Refusal::Expired);
        }
        if claims.iat > now + FUTURE_SKEW || claims.nbf.is_some_and(|n| n > now + FUTURE_SKEW) {
            return Err(Refusal::Future);
        }
        let type_ok = claims.typ == want
            || (want == ACCESS && claims.typ == REFRESH && faults.has(Fault::JwtRefreshAsAccess))
            || (want == REFRESH && claims.typ == ACCESS && faults.has(Fault::JwtAccessAsRefresh));
        if !type_ok {
            return Err(Refusal::WrongType);
        }
        Ok(claims)
    }

    fn decode(&self, token: &str) -> Result<Claims, Refusal> {
        // (See `lenient_spelling` for the `token-lenient-base64` fault.)
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refusal::Signature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::ImmatureSignature => Refusal::Future,
                _ => Refusal::Malformed,
            })
    }

    /// The faulty paths: `jwt-alg-none` accepts an unsigned token, `jwt-no-signature-check`
    /// reads an HS256 token without checking its signature.
    fn decode_faulty(&self, token: &str, faults: Faults) -> Result<Claims, Refusal> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Malformed);
        };
        let header = b64_json(h).ok_or(Refusal::Malformed)?;
        let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
        let unchecked = || -> Result<Claims, Refusal> {
            let payload = b64_json(p).ok_or(Refusal::Malformed)?;
            serde_json::from_value(payload).map_err(|_| Refusal::Malformed)
        };
        if alg.eq_ignore_ascii_case("none") {
            if faults.has(Fault::JwtAlgNone) && sig.is_empty() {
                return unchecked();
            }
            return Err(Refusal::Algorithm);
        }
        if alg != "HS256" {
            return Err(Refusal::Algorithm);
        }
        if faults.has(Fault::JwtNoSignatureCheck) {
            return unchecked();
        }
        self.decode(token)
    }
}

/// What the refresh endpoint decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: this jti is now current in its family.
    Rotated { jti: String },
    /// No such session (never issued, expired, dropped, or ended by reuse detection).
    Unknown,
    /// The token was already used: the family is ended.
    Reused,
}

struct Family {
    current: String,
    /// Unix seconds after which the family's current token has expired.
    exp: u64,
}

#[derive(Default)]
struct Families {
    by_id: HashMap<String, Family>,
    order: VecDeque<String>,
}

/// Refresh sessions, one lock for all (refresh is not a hot path; correctness is).
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Families>,
}

impl Sessions {
    /// Starts a family; returns (family id, jti of its first refresh token).
    pub fn start(&self, ttl: Duration) -> (String, String) {
        let fam = random_hex(12);
        let jti = random_hex(16);
        let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while f.by_id.len() >= MAX_FAMILIES {
            match f.order.pop_front() {
                Some(old) => {
                    f.by_id.remove(&old);
                }
                None => break,
            }
        }
        f.by_id.insert(
            fam.clone(),
            Family {
                current: jti.clone(),
                exp: unix_now() + ttl.as_secs(),
            },
        );
        f.order.push_back(fam.clone());
        (fam, jti)
    }

    /// Consumes `jti` of family `fam` atomically and makes a successor current.
    pub fn rotate(&self, fam: &str, jti: &str, ttl: Duration, reusable: bool) -> Rotation {
        let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(family) = f.by_id.get_mut(fam) else {
            return Rotation::Unknown;
        };
        if family.current != jti && !reusable {
            f.by_id.remove(fam);
            return Rotation::Reused;
        }
        let next = random_hex(16);
        family.current = next.clone();
        family.exp = unix_now() + ttl.as_secs();
        Rotation::Rotated { jti: next }
    }

    /// The `refresh-race` fault: check, then (after an await) consume, in two steps.
    pub async fn rotate_racy(&self, fam: &str, jti: &str, ttl: Duration) -> Rotation {
        {
            let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            match f.by_id.get(fam) {
                None => return Rotation::Unknown,
                Some(family) if family.current != jti => {
                    f.by_id.remove(fam);
                    return Rotation::Reused;
                }
                Some(_) => {}
            }
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        let next = random_hex(16);
        let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(family) = f.by_id.get_mut(fam) {
            family.current = next.clone();
            family.exp = unix_now() + ttl.as_secs();
        }
        Rotation::Rotated { jti: next }
    }

    /// Drops expired families; returns how many are left.
    pub fn sweep(&self) -> usize {
        let now = unix_now();
        let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.by_id.retain(|_, fam| fam.exp > now);
        let Families { by_id, order } = &mut *f;
        order.retain(|id| by_id.contains_key(id));
        by_id.len()
    }
}

/// The `token-lenient-base64` fault: what a lenient decoder reads (Python's base64 discards
/// characters outside its alphabet): the first three segments, each without its padding and
/// without any character outside base64url. The genuine token's bytes, in another spelling.
fn lenient_spelling(token: &str) -> String {
    token
        .split('.')
        .take(3)
        .map(|seg| {
            seg.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(faults: Faults) -> Jwt {
        Jwt::new(
            "secret",
            "sk_lel_",
            Duration::from_secs(86400),
            Duration::from_secs(30 * 86400),
            faults,
        )
    }

    #[test]
    fn issue_verify_and_types() {
        let j = jwt(Faults::default());
        let t = j.issue("usr_1", "team_a", ACCESS, random_hex(4), None);
        assert!(t.starts_with("sk_lel_"));
        let c = j.verify(&t, ACCESS, Faults::default()).unwrap();
        assert_eq!(c.exp - c.iat, 86400);
        assert_eq!(
            j.verify(&t, REFRESH, Faults::default()),
            Err(Refusal::WrongType)
        );
        assert_eq!(
            j.verify(&t[7..], ACCESS, Faults::default()),
            Err(Refusal::Malformed)
        );
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(j.verify(&bad, ACCESS, Faults::default()).is_err());
    }

    #[test]
    fn rotation_is_single_use_with_reuse_detection() {
        let s = Sessions::default();
        let ttl = Duration::from_secs(60);
        let (fam, jti) = s.start(ttl);
        let Rotation::Rotated { jti: next } = s.rotate(&fam, &jti, ttl, false) else {
            panic!()
        };
        assert_eq!(s.rotate(&fam, &jti, ttl, false), Rotation::Reused);
        assert_eq!(s.rotate(&fam, &next, ttl, false), Rotation::Unknown);
        assert_eq!(s.sweep(), 0);
    }
}
