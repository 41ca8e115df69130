//! JWT surgery for the checks: decode without trusting, re-encode, re-sign with HS256/384/512.
//! No crate builds the broken tokens an attacker sends (alg none, stripped signatures, tampered
//! payloads), so this small module does, by the JWS compact serialization (RFC 7515).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};

#[derive(Default, Debug, Clone, PartialEq)]
pub struct Jwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signature: String,
}

impl Jwt {
    /// Splits and decodes a compact JWT; the signature is kept as its base64 text.
    pub fn decode(token: &str) -> Result<Jwt, String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(format!("a JWT has 3 segments, this has {}", parts.len()));
        }
        let obj = |seg: &str, what: &str| -> Result<Map<String, Value>, String> {
            let bytes = B64
                .decode(seg.trim_end_matches('='))
                .map_err(|e| format!("{what} is not base64url: {e}"))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(format!("{what} is not a JSON object")),
            }
        };
        Ok(Jwt {
            header: obj(parts[0], "the header")?,
            claims: obj(parts[1], "the payload")?,
            signature: parts[2].to_string(),
        })
    }

    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// A NumericDate claim in whole seconds. RFC 7519 allows a fraction (`1700000000.25`, as
    /// some libraries issue): it is floored, never taken for a missing claim.
    pub fn claim_secs(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        })
    }

    /// Moves each of these time claims that the token has by `by` seconds (negative: earlier),
    /// keeping an integer an integer and a fraction a fraction.
    pub fn shift(&mut self, claims: &[&str], by: i64) {
        for &c in claims {
            let moved = match self.claims.get(c) {
                Some(v) if v.is_i64() => v.as_i64().map(|n| Value::from(n + by)),
                Some(v) => v
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| Value::from(f + by as f64)),
                None => None,
            };
            if let Some(v) = moved {
                self.claims.insert(c.into(), v);
            }
        }
    }

    fn signing_input(&self) -> String {
        let h = B64.encode(serde_json::to_vec(&self.header).expect("json"));
        let c = B64.encode(serde_json::to_vec(&self.claims).expect("json"));
        format!("{h}.{c}")
    }

    /// The token with its current signature text (which may no longer match).
    pub fn encode_unsigned(&self) -> String {
        format!("{}.{}", self.signing_input(), self.signature)
    }

    /// Sets `alg` and signs with an HMAC of that algorithm.
    pub fn sign(&mut self, alg: &str, secret: &[u8]) -> Result<String, String> {
        self.header.insert("alg".into(), Value::String(alg.into()));
        let input = self.signing_input();
        let sig = hmac_sign(alg, secret, input.as_bytes())?;
        self.signature = B64.encode(sig);
        Ok(format!("{input}.{}", self.signature))
    }

    /// Whether the signature is a valid HS256 signature under `secret`.
    pub fn verifies(token: &str, secret: &[u8]) -> bool {
        let Some((input, sig)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(sig) = B64.decode(sig) else {
            return false;
        };
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(input.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }
}

fn hmac_sign(alg: &str, secret: &[u8], input: &[u8]) -> Result<Vec<u8>, String> {
    macro_rules! mac {
        ($h:ty) => {{
            let mut m = Hmac::<$h>::new_from_slice(secret).expect("any key length");
            m.update(input);
            m.finalize().into_bytes().to_vec()
        }};
    }
    Ok(match alg {
        "HS256" => mac!(sha2::Sha256),
        "HS384" => mac!(sha2::Sha384),
        "HS512" => mac!(sha2::Sha512),
        other => return Err(format!("cannot sign with {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_decode_verify_round_trip() {
        let mut jwt = Jwt::default();
        jwt.claims.insert("sub".into(), Value::from("u1"));
        let token = jwt.sign("HS256", b"secret").unwrap();
        assert!(Jwt::verifies(&token, b"secret"));
        assert!(!Jwt::verifies(&token, b"other"));
        let back = Jwt::decode(&token).unwrap();
        assert_eq!(back.alg(), Some("HS256"));
        assert_eq!(back.claims["sub"], "u1");
        // Known vector: jwt.io's HS256 example with secret "your-256-bit-secret".
        let known = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(Jwt::verifies(known, b"your-256-bit-secret"));
        assert!(Jwt::decode("a.b").is_err());
    }

    #[test]
    fn fractional_time_claims_are_read_and_shifted() {
        let mut jwt = Jwt::default();
        jwt.claims.insert("iat".into(), Value::from(1000.75));
        jwt.claims.insert("exp".into(), Value::from(87400));
        assert_eq!(jwt.claim_secs("iat"), Some(1000));
        assert_eq!(jwt.claim_secs("exp"), Some(87400));
        jwt.shift(&["iat", "exp", "nbf"], -100);
        assert_eq!(jwt.claims["iat"], Value::from(900.75));
        assert_eq!(jwt.claims["exp"], Value::from(87300));
        assert!(!jwt.claims.contains_key("nbf"));
    }
}
