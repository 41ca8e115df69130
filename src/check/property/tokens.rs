//! Access tokens: a catalogue of JWT attacks, each a generated family made from a token the
//! target issued: `alg` none in its case variants, other algorithms, stripped, emptied or foreign
//! signatures, payloads changed without re-signing, injected `kid`/`jku`/`x5u`/`jwk` headers,
//! `typ` changes, the prefix missing. With the staging secret (`jwt_secret`), correctly signed
//! tokens that are expired beyond the leeway or not yet valid (`nbf`/`iat` in the future), and
//! refresh tokens presented as access tokens and the reverse.
//!
//! Every must-level signature case is a forgery: a signature whose decoded bytes differ from the
//! valid one's, or a changed header or payload. Other spellings of the same bytes (a character
//! outside base64url or `=` inserted, extra segments) forge nothing: a lenient base64url decoder
//! (Python's discards what is not in its alphabet) reads the genuine signature, so they are the
//! `should` clause AUTH-TOKEN-STRICT-ENCODING. Likewise the token in a place the documentation
//! does not put it (X-API-Key, the prefix doubled or upper-cased) is AUTH-CREDENTIAL-PLACEMENT.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proptest::prelude::*;
use serde_json::Value;

use super::{Ctx, Hunt, Judged, each, hunt, skipped, with_header};
use crate::check::jwt::Jwt;
use crate::probe::Request;
use crate::verdict::Status;

const NONE_VARIANTS: &[&str] = &["none", "None", "NONE", "nOnE", "NoNe"];
const OTHER_ALGS: &[&str] = &["HS384", "HS512", "RS256", "ES256", "PS256"];
const INJECTED: &[&str] = &["kid", "jku", "x5u", "jwk"];
const TYPS: &[&str] = &["at+jwt", "JWS", "none", "", "refresh"];

#[derive(Debug, Clone)]
pub enum Tampered {
    SignatureStripped,
    SignatureEmptied,
    OtherSecret(Vec<u8>),
    SignatureByteChanged(usize, u8),
    PayloadChanged(usize, i64),
    HeaderInjected(usize, Vec<u8>),
    TypChanged(usize),
}

/// Another spelling of the valid token's bytes (AUTH-TOKEN-STRICT-ENCODING).
#[derive(Debug, Clone)]
pub enum Respelled {
    /// A character outside base64url (or `=`) inserted into segment `.0` at `.1`.
    Inserted(usize, usize, char),
    ExtraSegments(usize),
}

fn respelled() -> impl Strategy<Value = Respelled> {
    prop_oneof![
        (
            0usize..3,
            0usize..64,
            prop_oneof![Just('!'), Just('*'), Just('='), Just('+'), Just('/')]
        )
            .prop_map(|(s, p, c)| Respelled::Inserted(s, p, c)),
        (1usize..4).prop_map(Respelled::ExtraSegments),
    ]
}

fn respell(jwt: &str, r: &Respelled) -> (String, String) {
    match r {
        Respelled::Inserted(s, pos, c) => {
            let mut segs: Vec<String> = jwt.split('.').map(str::to_string).collect();
            let s = s % segs.len();
            let seg = &mut segs[s];
            let at = pos % (seg.len() + 1);
            seg.insert(at, *c);
            (
                segs.join("."),
                format!("valid token with {c:?} inserted at {at} of segment {s} (not base64url)"),
            )
        }
        Respelled::ExtraSegments(n) => (
            format!("{jwt}{}", ".e30".repeat(*n)),
            format!("valid token with {n} extra segment(s)"),
        ),
    }
}

fn tampered() -> impl Strategy<Value = Tampered> {
    prop_oneof![
        Just(Tampered::SignatureStripped),
        Just(Tampered::SignatureEmptied),
        proptest::collection::vec(any::<u8>(), 1..32).prop_map(Tampered::OtherSecret),
        (0usize..64, 1u8..=255).prop_map(|(i, x)| Tampered::SignatureByteChanged(i, x)),
        (0usize..8, 1i64..1_000_000).prop_map(|(c, d)| Tampered::PayloadChanged(c, d)),
        (
            0..INJECTED.len(),
            proptest::collection::vec(any::<u8>(), 1..32)
        )
            .prop_map(|(i, k)| Tampered::HeaderInjected(i, k)),
        (0..TYPS.len()).prop_map(Tampered::TypChanged),
    ]
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn b64(v: &serde_json::Map<String, Value>) -> String {
    B64.encode(serde_json::to_vec(v).expect("json"))
}

/// The tampered JWT (without the prefix) and its shape.
fn tamper(jwt: &str, t: &Tampered) -> Option<(String, String)> {
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
        Tampered::HeaderInjected(i, key) => {
            let mut j = decoded;
            let name = INJECTED[*i];
            let value = match name {
                "jwk" => serde_json::json!({"kty": "oct", "k": B64.encode(key)}),
                "kid" => Value::from("../../../../dev/null"),
                _ => Value::from("https://attacker.invalid/keys.json"),
            };
            j.header.insert(name.into(), value);
            (
                j.sign("HS256", key).ok()?,
                format!(
                    "valid token's claims with a `{name}` header, signed with the attacker's key"
                ),
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

/// Sends with the token as a Bearer credential (or as given) and judges: accepted breaks it.
fn judge(ctx: &Ctx, request: Request, shape: String) -> Judged {
    super::judge_acceptance(ctx, request, shape, 2)
}

fn bearer(ctx: &Ctx, token: &str) -> Request {
    let a = &ctx.client.spec.auth.access_token;
    with_header(
        ctx.request("list_sandboxes", &[]),
        &a.header,
        format!("{} {token}", a.scheme),
    )
}

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let prefix = ctx.client.spec.auth.access_token.prefix.clone();
    let leeway = ctx.client.spec.auth.leeway.as_secs() as i64;
    let secret = ctx.var("jwt_secret").map(|s| s.as_bytes().to_vec());
    let tokens = ctx.login();
    for &clause in clauses {
        let seed = ctx.seed();
        let Some((access, refresh)) = tokens.clone() else {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no login credentials (email, password), or the login failed",
            ));
            continue;
        };
        let Some(jwt) = access.strip_prefix(prefix.as_str()).map(str::to_string) else {
            out.push(skipped(
                clause,
                Status::Inconclusive,
                "the issued access token lacks the prefix; AUTH-TOKEN-PREFIX decides that",
            ));
            continue;
        };
        let with_prefix = |j: &str| format!("{prefix}{j}");
        let needs_secret = matches!(clause, "AUTH-TOKEN-EXPIRED" | "AUTH-TOKEN-NOT-YET-VALID");
        if needs_secret && secret.is_none() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no JWT secret in the profile (jwt_secret)",
            ));
            continue;
        }
        let key = secret.clone().unwrap_or_default();
        let cases = ctx.cases;
        let mut h = match clause {
            "AUTH-TOKEN-ALG-NONE" => hunt(
                &ctx.client,
                clause,
                cases,
                seed,
                (0..NONE_VARIANTS.len(), any::<bool>()),
                |(v, keep)| {
                    let Ok(mut j) = Jwt::decode(&jwt) else {
                        return Judged::Held;
                    };
                    let alg = NONE_VARIANTS[*v];
                    j.header.insert("alg".into(), Value::from(alg));
                    let sig = if *keep {
                        j.signature.clone()
                    } else {
                        String::new()
                    };
                    let t = format!("{}.{}.{sig}", b64(&j.header), b64(&j.claims));
                    let what = if *keep {
                        "its original signature"
                    } else {
                        "an empty signature"
                    };
                    judge(
                        ctx,
                        bearer(ctx, &with_prefix(&t)),
                        format!("valid token re-encoded with alg {alg:?} and {what}"),
                    )
                },
            ),
            "AUTH-TOKEN-ALG-OTHER" => hunt(
                &ctx.client,
                clause,
                cases,
                seed,
                (
                    0..OTHER_ALGS.len(),
                    proptest::collection::vec(any::<u8>(), 32..64),
                ),
                |(a, junk)| {
                    let Ok(mut j) = Jwt::decode(&jwt) else {
                        return Judged::Held;
                    };
                    let alg = OTHER_ALGS[*a];
                    let (t, how) = if alg.starts_with("HS") {
                        let k = secret.clone().unwrap_or_else(|| junk.clone());
                        let how = if secret.is_some() {
                            "signed with the staging secret"
                        } else {
                            "signed with a random secret"
                        };
                        (j.sign(alg, &k).unwrap_or_default(), how)
                    } else {
                        j.header.insert("alg".into(), Value::from(alg));
                        (
                            format!("{}.{}.{}", b64(&j.header), b64(&j.claims), B64.encode(junk)),
                            "with a random signature",
                        )
                    };
                    judge(
                        ctx,
                        bearer(ctx, &with_prefix(&t)),
                        format!("valid token's claims under alg {alg} {how}"),
                    )
                },
            ),
            "AUTH-TOKEN-BAD-SIGNATURE" => {
                hunt(
                    &ctx.client,
                    clause,
                    cases,
                    seed,
                    tampered(),
                    |t| match tamper(&jwt, t) {
                        Some((tok, shape)) if tok != jwt => {
                            judge(ctx, bearer(ctx, &with_prefix(&tok)), shape)
                        }
                        _ => Judged::Held,
                    },
                )
            }
            "AUTH-TOKEN-PREFIX" => each(&ctx.client, clause, &[()], |_| {
                judge(
                    ctx,
                    bearer(ctx, &jwt),
                    "valid token without its prefix".to_string(),
                )
            }),
            "AUTH-TOKEN-STRICT-ENCODING" => {
                hunt(&ctx.client, clause, cases.min(24), seed, respelled(), |r| {
                    let (tok, shape) = respell(&jwt, r);
                    judge(ctx, bearer(ctx, &with_prefix(&tok)), shape)
                })
            }
            "AUTH-CREDENTIAL-PLACEMENT" => each(&ctx.client, clause, &[0usize, 1, 2, 3], |v| {
                let api = &ctx.client.spec.auth.api_key.header;
                let (r, shape) = match v {
                    0 => (
                        bearer(ctx, &format!("{prefix}{prefix}{jwt}")),
                        "valid token with its prefix doubled".into(),
                    ),
                    1 => (
                        with_header(ctx.request("list_sandboxes", &[]), api, jwt.clone()),
                        format!("the token's bare JWT in {api}"),
                    ),
                    2 => (
                        with_header(ctx.request("list_sandboxes", &[]), api, access.clone()),
                        format!("the valid token in {api}"),
                    ),
                    _ => (
                        bearer(ctx, &format!("{}{jwt}", prefix.to_ascii_uppercase())),
                        "valid token with its prefix in upper case".into(),
                    ),
                };
                judge(ctx, r, shape)
            }),
            "AUTH-TOKEN-EXPIRED" => hunt(
                &ctx.client,
                clause,
                cases.min(24),
                seed,
                30i64..30 * 86400,
                |d| {
                    let Ok(mut j) = Jwt::decode(&jwt) else {
                        return Judged::Held;
                    };
                    let exp = now() - leeway - d;
                    let life = j
                        .claim_i64("exp")
                        .zip(j.claim_i64("iat"))
                        .map(|(e, i)| e - i)
                        .unwrap_or(86400);
                    j.claims.insert("exp".into(), Value::from(exp));
                    j.claims.insert("iat".into(), Value::from(exp - life));
                    let t = j.sign("HS256", &key).unwrap_or_default();
                    judge(
                        ctx,
                        bearer(ctx, &with_prefix(&t)),
                        format!(
                            "a correctly signed token expired {d} s beyond the {leeway} s leeway"
                        ),
                    )
                },
            ),
            "AUTH-TOKEN-NOT-YET-VALID" => hunt(
                &ctx.client,
                clause,
                cases.min(24),
                seed,
                (any::<bool>(), 30i64..30 * 86400),
                |(nbf, d)| {
                    let Ok(mut j) = Jwt::decode(&jwt) else {
                        return Judged::Held;
                    };
                    let at = now() + leeway + d;
                    let claim = if *nbf { "nbf" } else { "iat" };
                    j.claims.insert(claim.into(), Value::from(at));
                    if !*nbf {
                        let life = j
                            .claim_i64("exp")
                            .zip(j.claim_i64("iat"))
                            .map(|(e, i)| e - i)
                            .unwrap_or(86400)
                            .max(1);
                        j.claims.insert("exp".into(), Value::from(at + life));
                    }
                    let t = j.sign("HS256", &key).unwrap_or_default();
                    judge(
                        ctx,
                        bearer(ctx, &with_prefix(&t)),
                        format!(
                            "a correctly signed token with `{claim}` {d} s beyond the {leeway} s leeway in the future"
                        ),
                    )
                },
            ),
            "AUTH-REFRESH-NOT-ACCESS" => hunt(
                &ctx.client,
                clause,
                cases.min(16),
                seed,
                0i64..3600,
                |shift| {
                    // The issued refresh token; with the secret, re-signed copies issued a little earlier.
                    let (tok, shape) = if *shift == 0 || secret.is_none() {
                        (
                            refresh.clone(),
                            "the issued refresh token as a Bearer access token".to_string(),
                        )
                    } else {
                        let Some(rj) = refresh.strip_prefix(prefix.as_str()) else {
                            return Judged::Held;
                        };
                        let Ok(mut j) = Jwt::decode(rj) else {
                            return Judged::Held;
                        };
                        j.shift(&["iat", "exp"], -shift);
                        (
                            with_prefix(&j.sign("HS256", &key).unwrap_or_default()),
                            format!(
                                "a correctly signed refresh token issued {shift} s earlier, as a Bearer access token"
                            ),
                        )
                    };
                    judge(ctx, bearer(ctx, &tok), shape)
                },
            ),
            "AUTH-ACCESS-NOT-REFRESH" => hunt(
                &ctx.client,
                clause,
                cases.min(8),
                seed,
                0i64..3600,
                |shift| {
                    let (tok, shape) = if *shift == 0 || secret.is_none() {
                        (
                            access.clone(),
                            "the issued access token at the refresh endpoint".to_string(),
                        )
                    } else {
                        let Ok(mut j) = Jwt::decode(&jwt) else {
                            return Judged::Held;
                        };
                        j.shift(&["iat", "exp"], -shift);
                        (
                            with_prefix(&j.sign("HS256", &key).unwrap_or_default()),
                            format!(
                                "a correctly signed access token issued {shift} s earlier, at the refresh endpoint"
                            ),
                        )
                    };
                    judge(
                        ctx,
                        ctx.request_with("refresh", &[("refresh_token", &tok)]),
                        shape,
                    )
                },
            ),
            _ => continue,
        };
        h.about = format!("{clause} attacks on an issued token");
        out.push(h);
    }
    out
}
