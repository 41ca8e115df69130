//! Forgeries of an issued token, shared by the access-token and refresh families: tokens that a
//! vulnerable server would really accept (the empty key, `kid` lookups that yield a known key, an
//! embedded `jwk`), alg none and other algorithms, stripped, changed or foreign signatures,
//! claims changed without re-signing; and the raw-JSON helpers that write what a map cannot (a
//! member twice).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::check::jwt::Jwt;

pub const NONE_VARIANTS: &[&str] = &["none", "None", "NONE", "nOnE", "NoNe"];
pub const OTHER_ALGS: &[&str] = &["HS384", "HS512", "RS256", "ES256", "PS256"];
const TYPS: &[&str] = &["at+jwt", "JWS", "none", "", "refresh"];

/// `kid` values with the key their lookup yields on a vulnerable server: a key file read by the
/// path as given (/dev/null and blank or missing files give the empty key; the ASLR setting reads
/// "2\n" on Linux), or SQL built from strings (jwt_tool's playbook, PortSwigger's JWT labs).
pub const KIDS: &[(&str, &str)] = &[
    ("/dev/null", ""),
    ("../../../../../../../../dev/null", ""),
    (
        "../../../../../../../../../../../../../../../../dev/null",
        "",
    ),
    ("", ""),
    (" ", ""),
    ("/proc/sys/kernel/randomize_va_space", "2\n"),
    (
        "../../../../../../../../proc/sys/kernel/randomize_va_space",
        "2\n",
    ),
    ("x' UNION SELECT 'lelantos' -- ", "lelantos"),
    ("x' UNION SELECT '' -- ", ""),
];

#[derive(Debug, Clone)]
pub enum Tampered {
    SignatureStripped,
    SignatureEmptied,
    OtherSecret(Vec<u8>),
    EmptyKey,
    Kid(usize),
    SignatureByteChanged(usize, u8),
    PayloadChanged(usize, i64),
    /// An embedded `jwk` holding the attacker's key, signed with it.
    EmbeddedJwk(Vec<u8>),
    TypChanged(usize),
}

pub fn tampered() -> impl Strategy<Value = Tampered> {
    prop_oneof![
        1 => Just(Tampered::SignatureStripped),
        1 => Just(Tampered::SignatureEmptied),
        1 => proptest::collection::vec(any::<u8>(), 1..32).prop_map(Tampered::OtherSecret),
        2 => Just(Tampered::EmptyKey),
        3 => (0..KIDS.len()).prop_map(Tampered::Kid),
        1 => (0usize..64, 1u8..=255).prop_map(|(i, x)| Tampered::SignatureByteChanged(i, x)),
        1 => (0usize..8, 1i64..1_000_000).prop_map(|(c, d)| Tampered::PayloadChanged(c, d)),
        1 => proptest::collection::vec(any::<u8>(), 1..32).prop_map(Tampered::EmbeddedJwk),
        1 => (0..TYPS.len()).prop_map(Tampered::TypChanged),
    ]
}

pub fn b64(v: &Map<String, Value>) -> String {
    B64.encode(serde_json::to_vec(v).expect("json"))
}

/// The tampered JWT (without the prefix) and its shape.
pub fn tamper(jwt: &str, t: &Tampered) -> Option<(String, String)> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let decoded = Jwt::decode(jwt).ok()?;
    let (h, p, sig) = (parts[0], parts[1], parts[2]);
    Some(match t {
        Tampered::SignatureStripped => (
            format!("{h}.{p}"),
            "valid token with its signature segment removed".into(),
        ),
        Tampered::SignatureEmptied => (
            format!("{h}.{p}."),
            "valid token with an empty signature".into(),
        ),
        Tampered::OtherSecret(k) => {
            let mut j = decoded;
            let alg = j.alg().unwrap_or("HS256").to_string();
            (
                j.sign(&alg, k).ok()?,
                format!(
                    "valid token's claims signed with another {}-byte secret",
                    k.len()
                ),
            )
        }
        Tampered::EmptyKey => {
            let mut j = decoded;
            (
                j.sign("HS256", b"").ok()?,
                "valid token's claims signed HS256 with the empty key".into(),
            )
        }
        Tampered::Kid(i) => {
            let (kid, key) = KIDS[*i];
            let mut j = decoded;
            j.header.insert("kid".into(), Value::from(kid));
            let yields = if key.is_empty() {
                "the empty key".to_string()
            } else {
                format!("the {}-byte key that lookup yields", key.len())
            };
            (
                j.sign("HS256", key.as_bytes()).ok()?,
                format!("valid token's claims with kid {kid:?}, signed with {yields}"),
            )
        }
        Tampered::SignatureByteChanged(i, x) => {
            let mut bytes = B64.decode(sig).ok()?;
            if bytes.is_empty() {
                return None;
            }
            let i = i % bytes.len();
            bytes[i] ^= x;
            (
                format!("{h}.{p}.{}", B64.encode(bytes)),
                format!("valid token with signature byte {i} changed (xor {x:#04x})"),
            )
        }
        Tampered::PayloadChanged(c, d) => {
            let mut j = decoded;
            let mut names: Vec<String> = j.claims.keys().cloned().collect();
            names.sort();
            let name = names.get(c % names.len().max(1))?.clone();
            let v = j.claims.get(&name)?.clone();
            let changed = match &v {
                Value::Number(n) => Value::from(n.as_i64()? + d),
                Value::String(s) => Value::from(format!("{s}{}", d % 10)),
                _ => Value::from(*d),
            };
            j.claims.insert(name.clone(), changed);
            (
                format!("{h}.{}.{sig}", b64(&j.claims)),
                format!("valid token with its claim `{name}` changed, not re-signed"),
            )
        }
        Tampered::EmbeddedJwk(key) => {
            let mut j = decoded;
            j.header.insert(
                "jwk".into(),
                serde_json::json!({"kty": "oct", "k": B64.encode(key)}),
            );
            (
                j.sign("HS256", key).ok()?,
                "valid token's claims with an embedded `jwk` of the attacker's key, signed with it"
                    .into(),
            )
        }
        Tampered::TypChanged(i) => {
            let mut j = decoded;
            j.header.insert("typ".into(), Value::from(TYPS[*i]));
            (
                format!("{}.{p}.{sig}", b64(&j.header)),
                format!("valid token with header typ {:?}, not re-signed", TYPS[*i]),
            )
        }
    })
}

/// Every forgery of a token without the deployment's secret (the refresh family's catalogue).
#[derive(Debug, Clone)]
pub enum Forgery {
    AlgNone(usize, bool),
    OtherAlg(usize, Vec<u8>),
    Tampered(Tampered),
}

pub fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        1 => (0..NONE_VARIANTS.len(), any::<bool>()).prop_map(|(v, k)| Forgery::AlgNone(v, k)),
        1 => (
            0..OTHER_ALGS.len(),
            proptest::collection::vec(any::<u8>(), 32..64)
        )
            .prop_map(|(a, junk)| Forgery::OtherAlg(a, junk)),
        4 => tampered().prop_map(Forgery::Tampered),
    ]
}

/// The forged JWT and its shape; with the secret, other HMAC algorithms are signed with it.
pub fn forge(jwt: &str, f: &Forgery, secret: Option<&[u8]>) -> Option<(String, String)> {
    match f {
        Forgery::AlgNone(v, keep) => {
            let mut j = Jwt::decode(jwt).ok()?;
            let alg = NONE_VARIANTS[*v];
            j.header.insert("alg".into(), Value::from(alg));
            let sig = if *keep {
                j.signature.clone()
            } else {
                String::new()
            };
            let what = if *keep {
                "its original signature"
            } else {
                "an empty signature"
            };
            Some((
                format!("{}.{}.{sig}", b64(&j.header), b64(&j.claims)),
                format!("valid token re-encoded with alg {alg:?} and {what}"),
            ))
        }
        Forgery::OtherAlg(a, junk) => {
            let mut j = Jwt::decode(jwt).ok()?;
            let alg = OTHER_ALGS[*a];
            if alg.starts_with("HS") {
                let (k, how) = match secret {
                    Some(s) => (s.to_vec(), "signed with the staging secret"),
                    None => (junk.clone(), "signed with a random secret"),
                };
                Some((
                    j.sign(alg, &k).ok()?,
                    format!("valid token's claims under alg {alg} {how}"),
                ))
            } else {
                j.header.insert("alg".into(), Value::from(alg));
                Some((
                    format!("{}.{}.{}", b64(&j.header), b64(&j.claims), B64.encode(junk)),
                    format!("valid token's claims under alg {alg} with a random signature"),
                ))
            }
        }
        Forgery::Tampered(t) => tamper(jwt, t),
    }
}

/// A JSON object's text with `key` written twice: `first`, then the map's own value (so a
/// last-wins reader sees the map as it is, a first-wins reader sees `first`).
pub fn with_repeat(map: &Map<String, Value>, key: &str, first: &Value) -> String {
    let rest = serde_json::to_string(map).expect("json");
    let head = format!("{{{}:{first}", Value::from(key));
    match rest.as_str() {
        "{}" => format!("{head}}}"),
        _ => format!("{head},{}", &rest[1..]),
    }
}

/// A compact JWT of header and payload texts as given, signed HS256 with `key`.
pub fn sign_texts(header: &str, payload: &str, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// Another spelling of the same token: the signature's last character with one of its unused
/// trailing bits flipped (the same bytes to a lenient base64url decoder). None when the
/// signature has no unused bits.
pub fn twin(jwt: &str) -> Option<String> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (input, sig) = jwt.rsplit_once('.')?;
    let bytes = B64.decode(sig).ok()?;
    if sig.len() * 6 == bytes.len() * 8 {
        return None;
    }
    let last = sig.chars().last()?;
    let v = ALPHABET.find(last)?;
    let flipped = ALPHABET.as_bytes()[v ^ 1] as char;
    Some(format!("{input}.{}{flipped}", &sig[..sig.len() - 1]))
}

/// The claim that says a token is a refresh token: the first whose string value names refresh.
pub fn type_claim(refresh: &Jwt) -> Option<String> {
    let mut names: Vec<&String> = refresh.claims.keys().collect();
    names.sort();
    names
        .into_iter()
        .find(|k| {
            refresh.claims[k.as_str()]
                .as_str()
                .is_some_and(|v| v.to_ascii_lowercase().contains("refresh"))
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let mut j = Jwt {
            header: Map::new(),
            claims: Map::new(),
            signature: String::new(),
        };
        j.claims.insert("sub".into(), Value::from("u"));
        j.claims.insert("typ".into(), Value::from("refresh"));
        j.sign("HS256", b"secret").unwrap()
    }

    #[test]
    fn a_twin_is_the_same_bytes_in_another_spelling() {
        let t = token();
        let w = twin(&t).unwrap();
        assert_ne!(w, t);
        let (_, a) = t.rsplit_once('.').unwrap();
        let (_, b) = w.rsplit_once('.').unwrap();
        assert!(B64.decode(b).is_err(), "strict decoders refuse the twin");
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        assert_eq!(lenient.decode(b).unwrap(), B64.decode(a).unwrap());
    }

    #[test]
    fn repeated_members_and_kid_forgeries() {
        let mut m = Map::new();
        m.insert("exp".into(), Value::from(10));
        m.insert("sub".into(), Value::from("u"));
        assert_eq!(
            with_repeat(&m, "exp", &Value::from(1)),
            r#"{"exp":1,"exp":10,"sub":"u"}"#
        );
        let t = token();
        let (forged, shape) = tamper(&t, &Tampered::Kid(0)).unwrap();
        assert!(Jwt::verifies(&forged, b""), "{shape}");
        let (forged, _) = tamper(&t, &Tampered::Kid(7)).unwrap();
        assert!(Jwt::verifies(&forged, b"lelantos"));
        assert_eq!(
            type_claim(&Jwt::decode(&t).unwrap()).as_deref(),
            Some("typ")
        );
    }
}
