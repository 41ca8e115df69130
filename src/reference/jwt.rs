//! Access and refresh tokens: the prefix and an HS256 JWT (claims `sub`, `team`, `typ`, `iat`,
//! `exp`, `jti`, and `fam` on refresh tokens), and the refresh sessions behind rotation.
//!
//! Tokens are issued with `jsonwebtoken` and verified here, by RFC 7515 and 7519 read strictly:
//! HS256 only (alg none in any case and every other algorithm are refused), the signature checked
//! in constant time over the segments as sent, strict base64url, no repeated JSON member (RFC 7515
//! 5.2 allows last-wins; this server refuses), `crit` refused (it understands no extension), the
//! time claims JSON integers, `exp` required and judged with no leeway, tokens issued in the
//! future (`iat`/`nbf` more than [`FUTURE_SKEW`] ahead) refused, and the token type must fit its
//! use. Verification is written out rather than left to `jsonwebtoken::decode` because each fault
//! below loosens one of these steps, which a library does not let one do.
//!
//! Refresh tokens are single-use. Each login starts a session family holding the one refresh
//! token that is current; a refresh consumes it and makes its successor current under one lock,
//! so of two concurrent refreshes exactly one wins. Presenting a refresh token that was already
//! used (RFC 9700 4.14.2, reuse detection) ends the whole family: its successor is refused too.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::directory::unix_now;
use super::fault::{Fault, Faults};

/// How far in the future `iat` or `nbf` may be (clock skew between hosts).
pub const FUTURE_SKEW: u64 = 60;
/// Live refresh-token families; beyond this the oldest session is dropped.
pub const MAX_FAMILIES: usize = 100_000;
/// Under `refresh-race`: the time between checking a refresh token and consuming it.
const RACE_GAP: Duration = Duration::from_millis(40);

pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

/// Where the `jwt-kid-file` fault looks a `kid` up (joined as given: the bug).
const KEY_DIR: &str = "/etc/lelantos/keys";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub team: String,
    /// Empty when the token has none (refused as the wrong type).
    #[serde(default)]
    pub typ: String,
    #[serde(default)]
    pub iat: u64,
    /// Required; `None` only reaches the checks under `jwt-exp-optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
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
    NoExpiry,
    Future,
    WrongType,
    Critical,
    Duplicate,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed token",
            Refusal::Algorithm => "token algorithm not accepted",
            Refusal::Signature => "invalid token signature",
            Refusal::Expired => "token expired",
            Refusal::NoExpiry => "token has no expiry",
            Refusal::Future => "token not valid yet",
            Refusal::WrongType => "wrong token type",
            Refusal::Critical => "unsupported critical header",
            Refusal::Duplicate => "repeated member in token",
        }
    }
}

pub struct Jwt {
    encoding: EncodingKey,
    secret: Vec<u8>,
    pub prefix: String,
    pub session_ttl: Duration,
    pub refresh_ttl: Duration,
}

pub fn random_hex(bytes: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let _ = write!(out, "{:02x}", rand::random::<u8>());
    }
    out
}

/// A compact token split and decoded, nothing verified yet.
struct Parts<'t> {
    input: &'t str,
    header: Value,
    header_bytes: Vec<u8>,
    payload_bytes: Vec<u8>,
    signature: Vec<u8>,
}

impl<'t> Parts<'t> {
    fn split(token: &'t str) -> Result<Parts<'t>, Refusal> {
        let mut it = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(Refusal::Malformed);
        };
        let b64 = |seg: &str| URL_SAFE_NO_PAD.decode(seg).map_err(|_| Refusal::Malformed);
        let header_bytes = b64(h)?;
        let header: Value =
            serde_json::from_slice(&header_bytes).map_err(|_| Refusal::Malformed)?;
        if !header.is_object() {
            return Err(Refusal::Malformed);
        }
        Ok(Parts {
            input: &token[..h.len() + 1 + p.len()],
            header,
            header_bytes,
            payload_bytes: b64(p)?,
            signature: b64(s)?,
        })
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    fn signed_by(&self, key: &[u8]) -> bool {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        mac.update(self.input.as_bytes());
        mac.verify_slice(&self.signature).is_ok()
    }
}

impl Jwt {
    pub fn new(
        secret: &str,
        prefix: &str,
        session_ttl: Duration,
        refresh_ttl: Duration,
        faults: Faults,
    ) -> Self {
        Jwt {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            secret: secret.as_bytes().to_vec(),
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
            exp: Some(iat + ttl.as_secs()),
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
        let refresh = want == REFRESH;
        let respelled;
        let token = if faults.has(Fault::TokenLenientBase64) {
            respelled = lenient_spelling(token);
            respelled.as_str()
        } else if refresh && faults.has(Fault::RefreshReuseByText) {
            respelled = canonical_signature(token);
            respelled.as_str()
        } else {
            token
        };
        let parts = Parts::split(token)?;
        if faults.has(Fault::JwtJkuFetch) {
            fetch_key_urls(&parts.header);
        }
        let alg = parts.header_str("alg").unwrap_or("");
        if alg.eq_ignore_ascii_case("none") {
            if !(faults.has(Fault::JwtAlgNone) && parts.signature.is_empty()) {
                return Err(Refusal::Algorithm);
            }
        } else {
            if alg != "HS256" {
                return Err(Refusal::Algorithm);
            }
            let unchecked = faults.has(Fault::JwtNoSignatureCheck)
                || (refresh && faults.has(Fault::RefreshNoSignatureCheck));
            if !unchecked && !self.keys(&parts, faults).iter().any(|k| parts.signed_by(k)) {
                return Err(Refusal::Signature);
            }
        }
        if parts.header.get("crit").is_some() && !faults.has(Fault::JwtIgnoresCrit) {
            return Err(Refusal::Critical);
        }
        if !faults.has(Fault::JwtDuplicateLastWins)
            && (repeats_a_member(&parts.header_bytes) || repeats_a_member(&parts.payload_bytes))
        {
            return Err(Refusal::Duplicate);
        }
        let mut payload: Value =
            serde_json::from_slice(&parts.payload_bytes).map_err(|_| Refusal::Malformed)?;
        if faults.has(Fault::JwtClaimsLenient) {
            numbers_from_strings(&mut payload);
        }
        let claims: Claims = serde_json::from_value(payload).map_err(|_| Refusal::Malformed)?;
        let now = unix_now();
        let exp_checked = !(faults.has(Fault::JwtIgnoresExp)
            || (refresh && faults.has(Fault::RefreshIgnoresExp)));
        match claims.exp {
            None if !faults.has(Fault::JwtExpOptional) => return Err(Refusal::NoExpiry),
            Some(exp) if exp_checked && exp <= now => return Err(Refusal::Expired),
            _ => {}
        }
        if claims.iat > now + FUTURE_SKEW || claims.nbf.is_some_and(|n| n > now + FUTURE_SKEW) {
            return Err(Refusal::Future);
        }
        let type_ok = claims.typ == want
            || (want == ACCESS && claims.typ == REFRESH && faults.has(Fault::JwtRefreshAsAccess))
            || (refresh && claims.typ == ACCESS && faults.has(Fault::JwtAccessAsRefresh))
            || (refresh && claims.fam.is_some() && faults.has(Fault::RefreshIgnoresType));
        if !type_ok {
            return Err(Refusal::WrongType);
        }
        Ok(claims)
    }

    /// The keys a signature may be made with: the secret, and what the key-lookup faults add.
    fn keys(&self, parts: &Parts, faults: Faults) -> Vec<Vec<u8>> {
        let mut keys = vec![self.secret.clone()];
        if faults.has(Fault::JwtEmptyKey) {
            keys.push(Vec::new());
        }
        if let Some(kid) = parts.header_str("kid") {
            if faults.has(Fault::JwtKidFile) {
                keys.push(kid_file(kid));
            }
            if faults.has(Fault::JwtKidSql)
                && let Some(k) = kid_sql(kid)
            {
                keys.push(k);
            }
        }
        keys
    }
}

/// The `jwt-kid-file` fault: the key is the content of `KEY_DIR/<kid>`, the path joined as
/// given, so an absolute or traversing kid leaves the directory; a file that cannot be read
/// yields the empty key (`unwrap_or_default`). Only two files are ever really read: /dev/null and
/// /proc/sys/kernel/randomize_va_space, the targets of the published playbooks.
fn kid_file(kid: &str) -> Vec<u8> {
    let mut path = PathBuf::new();
    for c in Path::new(KEY_DIR).join(kid).components() {
        match c {
            Component::ParentDir => {
                path.pop();
            }
            Component::CurDir => {}
            other => path.push(other),
        }
    }
    match path.to_str() {
        Some("/dev/null" | "/proc/sys/kernel/randomize_va_space") => {
            std::fs::read(&path).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// The `jwt-kid-sql` fault: `SELECT key FROM keys WHERE kid = '<kid>'` built from strings, so a
/// kid with `' UNION SELECT 'k` returns k (and an unknown kid no row, no key).
fn kid_sql(kid: &str) -> Option<Vec<u8>> {
    let re = regex::Regex::new(r"(?i)'\s*union\s+(?:all\s+)?select\s+'([^']*)'").ok()?;
    re.captures(kid).map(|c| c[1].as_bytes().to_vec())
}

/// The `jwt-jku-fetch` fault: GETs the URL of `jku`, `x5u` or an embedded jwk's `x5u`, before
/// the token is judged. Only loopback URLs are fetched: the fault exists for the harness on this machine.
fn fetch_key_urls(header: &Value) {
    let urls = [
        header.get("jku"),
        header.get("x5u"),
        header.get("jwk").and_then(|j| j.get("x5u")),
    ];
    for url in urls.into_iter().flatten().filter_map(Value::as_str) {
        let Ok(u) = reqwest::Url::parse(url) else {
            continue;
        };
        let Some(addr) = u
            .socket_addrs(|| Some(80))
            .ok()
            .and_then(|a| a.into_iter().find(|a| a.ip().is_loopback()))
        else {
            continue;
        };
        // Fetched before the token is judged, as a key lookup would: the answer waits for it
        // (bounded by a one-second timeout), so the fetch is never still in flight.
        let _ = (|| -> std::io::Result<()> {
            use std::io::{Read, Write};
            let timeout = Duration::from_secs(1);
            let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            write!(
                s,
                "GET {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                u.path()
            )?;
            let mut sink = Vec::new();
            s.take(64 * 1024).read_to_end(&mut sink)?;
            Ok(())
        })();
    }
}

/// The `jwt-claims-lenient` fault: a time claim that is a numeric string is read as a number.
fn numbers_from_strings(payload: &mut Value) {
    for claim in ["exp", "nbf", "iat"] {
        if let Some(v) = payload.get_mut(claim)
            && let Some(n) = v.as_str().and_then(|s| s.trim().parse::<u64>().ok())
        {
            *v = Value::from(n);
        }
    }
}

/// Whether a JSON text repeats a member name in any object (serde_json keeps the last).
fn repeats_a_member(json: &[u8]) -> bool {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct Repeats(bool);
    impl<'de> Deserialize<'de> for Repeats {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V)
        }
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Repeats;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Repeats, A::Error> {
            let mut seen = HashSet::new();
            let mut repeats = false;
            while let Some(k) = m.next_key::<String>()? {
                repeats |= !seen.insert(k);
                repeats |= m.next_value::<Repeats>()?.0;
            }
            Ok(Repeats(repeats))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Repeats, A::Error> {
            let mut repeats = false;
            while let Some(r) = s.next_element::<Repeats>()? {
                repeats |= r.0;
            }
            Ok(Repeats(repeats))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_unit<E>(self) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
    }
    serde_json::from_slice::<Repeats>(json).is_ok_and(|r| r.0)
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
    /// The texts of used tokens (only under `refresh-reuse-by-text`).
    used: HashSet<String>,
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
                used: HashSet::new(),
                exp: unix_now() + ttl.as_secs(),
            },
        );
        f.order.push_back(fam.clone());
        (fam, jti)
    }

    /// Consumes `jti` of family `fam` atomically and makes a successor current.
    pub fn rotate(&self, fam: &str, jti: &str, ttl: Duration, reusable: bool) -> Rotation {
        self.rotate_unless(fam, ttl, |family| family.current != jti && !reusable)
    }

    /// The `refresh-reuse-by-text` fault: a token is taken for used only when its exact text
    /// was presented before, so another spelling of a used token rotates the family again.
    pub fn rotate_by_text(&self, fam: &str, text: &str, ttl: Duration) -> Rotation {
        self.rotate_unless(fam, ttl, |family| !family.used.insert(text.to_string()))
    }

    /// Under one lock: ends the family when `reused` says the presented token was used,
    /// otherwise makes a successor current.
    fn rotate_unless(
        &self,
        fam: &str,
        ttl: Duration,
        reused: impl FnOnce(&mut Family) -> bool,
    ) -> Rotation {
        let mut f = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(family) = f.by_id.get_mut(fam) else {
            return Rotation::Unknown;
        };
        if reused(family) {
            f.by_id.remove(fam);
            return Rotation::Reused;
        }
        let next = random_hex(16);
        family.current = next.clone();
        family.exp = unix_now() + ttl.as_secs();
        Rotation::Rotated { jti: next }
    }

    /// The `refresh-race` fault: check, then (after an await) consume, in two steps. The gap
    /// stands for a storage round trip (a read, then a write) and is wide enough that requests
    /// sent together reach the check before the first consumes, however loaded the machine.
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
        tokio::time::sleep(RACE_GAP).await;
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

/// The `refresh-reuse-by-text` fault's decoder: the signature segment read leniently (unused
/// trailing bits ignored, as Python's and Node's decoders do) and spelled canonically again.
fn canonical_signature(token: &str) -> String {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    match token.rsplit_once('.') {
        Some((input, sig)) => match LENIENT.decode(sig) {
            Ok(bytes) => format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes)),
            Err(_) => token.to_string(),
        },
        None => token.to_string(),
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
        assert_eq!(c.exp.unwrap() - c.iat, 86400);
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

    /// A token from header and payload texts as given (duplicates kept), signed HS256 with `key`.
    fn raw(header: &str, payload: &str, key: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("sk_lel_{input}.{sig}")
    }

    #[test]
    fn strict_readings_and_the_faults_that_loosen_them() {
        let j = jwt(Faults::default());
        let exp = unix_now() + 600;
        let h = r#"{"alg":"HS256","typ":"JWT"}"#;
        let p = format!(r#"{{"sub":"u","typ":"access","exp":{exp}}}"#);
        let ok = |t: &str, f: &[Fault]| j.verify(t, ACCESS, Faults::new(f));
        assert!(ok(&raw(h, &p, b"secret"), &[]).is_ok());
        let cases: Vec<(String, Refusal, Fault)> = vec![
            (raw(h, &p, b""), Refusal::Signature, Fault::JwtEmptyKey),
            (
                raw(
                    r#"{"alg":"HS256","kid":"../../../../../dev/null"}"#,
                    &p,
                    b"",
                ),
                Refusal::Signature,
                Fault::JwtKidFile,
            ),
            (
                raw(
                    r#"{"alg":"HS256","kid":"x' UNION SELECT 'k' --"}"#,
                    &p,
                    b"k",
                ),
                Refusal::Signature,
                Fault::JwtKidSql,
            ),
            (
                raw(h, r#"{"sub":"u","typ":"access"}"#, b"secret"),
                Refusal::NoExpiry,
                Fault::JwtExpOptional,
            ),
            (
                raw(
                    h,
                    &format!(r#"{{"sub":"u","typ":"access","exp":"{exp}"}}"#),
                    b"secret",
                ),
                Refusal::Malformed,
                Fault::JwtClaimsLenient,
            ),
            (
                raw(
                    h,
                    &format!(r#"{{"sub":"u","typ":"access","exp":1,"exp":{exp}}}"#),
                    b"secret",
                ),
                Refusal::Duplicate,
                Fault::JwtDuplicateLastWins,
            ),
            (
                raw(
                    r#"{"alg":"HS256","crit":["x-unknown"],"x-unknown":true}"#,
                    &p,
                    b"secret",
                ),
                Refusal::Critical,
                Fault::JwtIgnoresCrit,
            ),
        ];
        for (token, refusal, fault) in cases {
            assert_eq!(ok(&token, &[]), Err(refusal), "{fault}");
            assert!(
                ok(&token, &[fault]).is_ok(),
                "{fault}: {:?}",
                ok(&token, &[fault])
            );
        }
    }

    #[test]
    fn a_refresh_token_spelled_otherwise_is_the_same_token_only_under_the_fault() {
        let j = jwt(Faults::default());
        let t = j.issue("usr_1", "team_a", REFRESH, random_hex(4), Some("f".into()));
        // 32 signature bytes in 43 characters: the last one carries 2 unused bits.
        let mut twin: Vec<char> = t.chars().collect();
        let last = twin.last_mut().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let v = alphabet.find(*last).unwrap();
        *last = alphabet.as_bytes()[v ^ 1] as char;
        let twin: String = twin.into_iter().collect();
        assert!(j.verify(&twin, REFRESH, Faults::default()).is_err());
        let f = Faults::new(&[Fault::RefreshReuseByText]);
        assert!(j.verify(&twin, REFRESH, f).is_ok());
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
