//! JWTs forged by hand (base64url and HMAC, not the library the server uses), and the claims of
//! issued ones.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;

use lelantos_conform::spec::Spec;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn builtin() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(Spec::builtin)
}

/// The JWT of a token: without the access-token prefix.
pub fn jwt_part(token: &str) -> &str {
    token
        .strip_prefix(builtin().auth.access_token.prefix.as_str())
        .unwrap_or(token)
}

/// The JSON of a token's payload (token given with or without its prefix).
pub fn claims(token: &str) -> Value {
    let payload = jwt_part(token).split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn header_of(token: &str) -> Value {
    let h = jwt_part(token).split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

pub fn hmac(alg: &str, secret: &[u8], input: &[u8]) -> Vec<u8> {
    match alg {
        "HS384" => {
            let mut m = Hmac::<sha2::Sha384>::new_from_slice(secret).unwrap();
            m.update(input);
            m.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
            m.update(input);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            m.update(input);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// A JWT from a header and claims; signed with HMAC of the header's alg if `secret` is given,
/// else with an empty signature.
pub fn forge(header: &Value, claims: &Value, secret: Option<&[u8]>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match secret {
        Some(s) => b64(&hmac(
            header["alg"].as_str().unwrap_or("HS256"),
            s,
            input.as_bytes(),
        )),
        None => String::new(),
    };
    format!("{input}.{sig}")
}

/// Claims of a valid access token for the server's user, with `exp`/`iat` adjustable.
pub fn access_claims(from: &str, iat: u64, exp: u64) -> Value {
    let mut c = claims(from);
    c["iat"] = iat.into();
    c["exp"] = exp.into();
    c
}
