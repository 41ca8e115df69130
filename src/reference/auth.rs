//! Authentication: which credential a request presents, whether it is valid, and who it makes the
//! request. Denials are 401 with a `WWW-Authenticate` challenge and never quote the credential.
//!
//! Precedence on team endpoints: an API key if present, else a Bearer token, else the admin token
//! (its scope is all resources). A credential that is present and invalid is refused; the server
//! never falls back to another one.
//!
//! The admin token is compared in constant time (digests with `subtle`). Failed admin-token
//! attempts are counted per client address in the admin endpoints' category: beyond its limit
//! within its window the client gets the over-limit response (429), whatever token it sends,
//! until the window frees it. The comparison runs before the throttle decision, so the time a
//! refusal takes never depends on the guess.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::app::{App, Principal, Route};
use super::fault::Fault;
use super::jwt::ACCESS;
use super::keys::Digest;
use super::limiter::Identity;
use super::respond::Denial;

impl App {
    /// Authenticates a request to a team or admin endpoint.
    pub fn authenticate(
        &self,
        route: &Route,
        headers: &HeaderMap,
        query: Option<&str>,
        ip: IpAddr,
    ) -> Result<Principal, Response> {
        let n = &self.names;
        let a = route.accepts;
        let key = headers.get(&n.api_key);
        let bearer = headers.get(&n.authorization);
        let admin = headers.get(&n.admin);
        let deny = |d: Denial| d.into_response(self.faults);
        // A credential header sent twice: the first field counts, as with Go's `Header.Get`,
        // hyper's `HeaderMap::get` (used above) and Python; the contract does not say, and the
        // harness accepts every reading that acts as one identity (AUTH-AMBIGUOUS-CREDENTIALS).
        if a.team() {
            if a.api_key
                && self.faults.has(Fault::DuplicateKeySplit)
                && headers.get_all(&n.api_key).iter().nth(1).is_some()
            {
                return self.split_keys(headers).map_err(deny);
            }
            if a.api_key
                && let Some(v) = key
            {
                return self.api_key(v).map_err(deny);
            }
            if a.api_key
                && self.faults.has(Fault::ApikeyAsBearer)
                && let Some(k) = bearer.and_then(|v| self.bearer_key(v))
            {
                return self.api_key(&k).map_err(deny);
            }
            if a.access_token
                && let Some(v) = bearer
            {
                if self.faults.has(Fault::MalformedToken500)
                    && v.to_str().is_ok_and(|t| t.matches('.').count() > 2)
                {
                    return Err(super::respond::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                    ));
                }
                return self.bearer(v).map_err(deny);
            }
            if a.access_token
                && self.faults.has(Fault::TokenInQuery)
                && let Some(v) = query.and_then(|q| self.query_token(q))
            {
                return self.bearer(&v).map_err(deny);
            }
            if let Some(v) = admin {
                return self.admin_token(v, ip);
            }
            if self.faults.has(Fault::UnauthAllowed) {
                return Ok(Principal::Anonymous);
            }
            return Err(deny(self.denial(
                self.names.challenge_team.clone(),
                "missing credentials",
                None,
            )));
        }
        if let Some(v) = admin {
            return self.admin_token(v, ip);
        }
        if self.faults.has(Fault::AdminAcceptsApikey)
            && let Some(v) = key
        {
            return self.api_key(v).map(|_| Principal::Admin).map_err(deny);
        }
        if self.faults.has(Fault::AdminAcceptsBearer)
            && let Some(v) = bearer
        {
            return self.bearer(v).map(|_| Principal::Admin).map_err(deny);
        }
        Err(deny(self.denial(
            self.names.challenge_admin.clone(),
            "admin token required",
            None,
        )))
    }

    fn denial(
        &self,
        challenge: HeaderValue,
        message: &'static str,
        presented: Option<&HeaderValue>,
    ) -> Denial {
        Denial {
            status: StatusCode::UNAUTHORIZED,
            challenge,
            message,
            presented: presented
                .filter(|_| {
                    self.faults.has(Fault::EchoCredential) || self.faults.has(Fault::EchoBareJwt)
                })
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        }
    }

    /// The `duplicate-key-split` fault: authenticated by the last valid X-API-Key field, but
    /// charged as whatever the first field holds (a made-up identity per unknown value).
    fn split_keys(&self, headers: &HeaderMap) -> Result<Principal, Denial> {
        let fields: Vec<&HeaderValue> = headers.get_all(&self.names.api_key).iter().collect();
        let valid = fields
            .iter()
            .rev()
            .find_map(|v| self.api_key(v).ok())
            .ok_or_else(|| self.api_key(fields[0]).unwrap_err())?;
        let Principal::Key { team, .. } = valid else {
            return Ok(valid);
        };
        let first = Digest::of(fields[0].to_str().unwrap_or(""));
        let id = match self.api_key(fields[0]) {
            Ok(Principal::Key { id, .. }) => id,
            _ => u32::from_le_bytes(first.0[..4].try_into().unwrap_or([0; 4])) | 0x8000_0000,
        };
        Ok(Principal::Key { id, team })
    }

    /// The `apikey-as-bearer` fault: the value after `Bearer ` when it has the API-key prefix.
    fn bearer_key(&self, v: &HeaderValue) -> Option<HeaderValue> {
        let (_, token) = v.to_str().ok()?.split_once(' ')?;
        token
            .starts_with(self.names.key_prefix.as_str())
            .then(|| HeaderValue::from_str(token).ok())
            .flatten()
    }

    /// An API key: the prefix, then an exact match of its SHA-256 digest.
    pub fn api_key(&self, v: &HeaderValue) -> Result<Principal, Denial> {
        let invalid = || self.denial(self.names.challenge_key.clone(), "invalid API key", Some(v));
        let text = v.to_str().map_err(|_| invalid())?;
        if !text.starts_with(self.names.key_prefix.as_str()) {
            return Err(invalid());
        }
        match self.dir.keys.lookup(&Digest::of(text)) {
            Some(f) if !f.revoked || self.faults.has(Fault::ApikeyRevokedAccepted) => {
                Ok(Principal::Key {
                    id: f.id,
                    team: f.team,
                })
            }
            Some(_) => Err(invalid()),
            None if self.faults.has(Fault::ApikeyPrefixOnly) => Ok(Principal::Key {
                id: self.dir.primary_key,
                team: 0,
            }),
            None => Err(invalid()),
        }
    }

    /// The `token-in-query` fault: `access_token=` of the query, as an Authorization value.
    fn query_token(&self, query: &str) -> Option<HeaderValue> {
        let token = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("access_token="))?;
        let token = percent_encoding::percent_decode_str(token)
            .decode_utf8()
            .ok()?;
        HeaderValue::from_str(&format!("{} {token}", self.names.scheme)).ok()
    }

    /// The identity a request with an API key that authenticates nobody is charged to: the
    /// presented value itself, as a limiter keyed by the key header does (so one unknown key sent
    /// over and over meets the limit, while a near-miss sent once costs nobody anything).
    pub fn unknown_key_identity(&self, route: &Route, headers: &HeaderMap) -> Option<Identity> {
        if !route.accepts.api_key || self.faults.has(Fault::FailuresUnthrottled) {
            return None;
        }
        let v = headers.get(&self.names.api_key)?;
        Some(Identity::unknown_key(&Digest::of(
            &String::from_utf8_lossy(v.as_bytes()),
        )))
    }

    /// `Authorization: Bearer sk_lel_<jwt>` holding a valid access token of a known user.
    fn bearer(&self, v: &HeaderValue) -> Result<Principal, Denial> {
        let n = &self.names;
        let refuse = |m: &'static str| self.denial(n.challenge_bearer_invalid.clone(), m, Some(v));
        if self.faults.has(Fault::BearerRefused) {
            return Err(refuse("token refused"));
        }
        let text = v
            .to_str()
            .map_err(|_| refuse("malformed authorization header"))?;
        let Some((scheme, token)) = text.split_once(' ') else {
            return Err(refuse("malformed authorization header"));
        };
        if !scheme.eq_ignore_ascii_case(&n.scheme) {
            return Err(self.denial(
                n.challenge_bearer.clone(),
                "unsupported authorization scheme",
                Some(v),
            ));
        }
        let claims = self
            .jwt
            .verify(token, ACCESS, self.faults)
            .map_err(|r| refuse(r.message()))?;
        let user = self
            .dir
            .user_by_id(&claims.sub)
            .ok_or_else(|| refuse("unknown user"))?;
        Ok(Principal::User {
            id: user,
            team: self.dir.users[user as usize].team,
        })
    }

    /// The admin token, with the failed-attempt throttle.
    fn admin_token(&self, v: &HeaderValue, ip: IpAddr) -> Result<Principal, Response> {
        let presented = v.to_str().unwrap_or("");
        let ok = self.admin_compare(presented)
            || (self.faults.has(Fault::AdminAcceptsApikey) && self.api_key(v).is_ok());
        let category = self.routes.admin_users.category;
        let failures = Identity::admin_failures(ip);
        if ok {
            let locked = self.limiter.peek(category, failures);
            if !locked.admitted {
                return Err(self.over_limit_response(category, &locked));
            }
            return Ok(Principal::Admin);
        }
        let counted = self.limiter.check(category, failures);
        if !counted.admitted {
            return Err(self.over_limit_response(category, &counted));
        }
        Err(self
            .denial(
                self.names.challenge_admin.clone(),
                "invalid admin token",
                Some(v),
            )
            .into_response(self.faults))
    }

    fn admin_compare(&self, presented: &str) -> bool {
        if let Some(token) = self.dir.admin_plain() {
            if self.faults.has(Fault::AdminTimingLeak) {
                return leaky_eq(presented.as_bytes(), token.as_bytes(), self.leak_ns);
            }
            if self.faults.has(Fault::AdminPrefixMatch) {
                return !presented.is_empty() && token.starts_with(presented);
            }
        }
        self.dir.admin_matches(presented)
    }
}

/// The `admin-timing-leak` fault: byte by byte with an early exit, each matching byte costing
/// `leak_ns` of busy work (a spin, not a sleep, so the cost is precise).
fn leaky_eq(a: &[u8], b: &[u8], leak_ns: u64) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return false;
        }
        let start = Instant::now();
        while (start.elapsed().as_nanos() as u64) < leak_ns {
            std::hint::spin_loop();
        }
    }
    a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_eq_compares_and_leaks() {
        assert!(leaky_eq(b"abc", b"abc", 0));
        assert!(!leaky_eq(b"abd", b"abc", 0));
        assert!(!leaky_eq(b"ab", b"abc", 0));
        let t = Instant::now();
        leaky_eq(b"abcdefgh", b"abcdefgh", 100_000);
        assert!(t.elapsed().as_micros() >= 800);
    }
}
