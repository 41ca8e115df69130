//! Access tokens: a catalogue of JWT attacks, each a generated family made from a token the
//! target issued: `alg` none in its case variants (and named twice), other algorithms, stripped,
//! emptied or foreign signatures, the empty key, `kid` lookups signed with the key they yield,
//! an embedded `jwk`, payloads changed without re-signing, `typ` changes, the prefix missing;
//! key URLs (`jku`, `x5u`) pointing at the harness's fetch listener; malformed tokens that must
//! not crash the server. With the staging secret (`jwt_secret`), correctly signed tokens that are
//! expired beyond the leeway (in every numeric form), lack a usable exp, are not yet valid, carry
//! time claims of the wrong JSON type, repeat a member, or name an unknown critical extension;
//! and refresh tokens presented as access tokens and the reverse. Offline, the issued token is
//! tried against guessable secrets (`secrets.rs`).
//!
//! Every must-level signature case is a forgery: a signature whose decoded bytes differ from the
//! valid one's, or a changed header or payload. Other spellings of the same bytes (a character
//! outside base64url or `=` inserted, extra segments) forge nothing: a lenient base64url decoder
//! (Python's discards what is not in its alphabet) reads the genuine signature, so they are the
//! `should` clause AUTH-TOKEN-STRICT-ENCODING. Likewise the token in a place the documentation
//! does not put it (X-API-Key, the query string, the prefix doubled or upper-cased) is
//! AUTH-CREDENTIAL-PLACEMENT.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proptest::prelude::*;
use serde_json::Value;

use super::forge::{self, NONE_VARIANTS, OTHER_ALGS, b64};
use super::{Ctx, Failure, Hunt, Judged, each, hunt, skipped, with_header};
use crate::check::jwt::Jwt;
use crate::probe::Request;
use crate::verdict::Status;

const NEEDS_SECRET: &[&str] = &[
    "AUTH-TOKEN-EXPIRED",
    "AUTH-TOKEN-NOT-YET-VALID",
    "AUTH-TOKEN-SESSION-TTL",
    "AUTH-TOKEN-CLAIM-TYPES",
    "AUTH-TOKEN-DUPLICATE-KEYS",
    "AUTH-TOKEN-CRIT",
];

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

/// A past exp in one of its numeric forms (AUTH-TOKEN-EXPIRED).
#[derive(Debug, Clone)]
enum PastExp {
    Integer,
    Float,
    Zero,
    Negative,
    NumericString,
}

/// A session token without a usable lifetime (AUTH-TOKEN-SESSION-TTL).
const NO_LIFETIME: &[(&str, Option<&str>)] = &[
    ("without exp", None),
    ("with exp null", Some("null")),
    ("with exp the string \"tomorrow\"", Some(r#""tomorrow""#)),
    ("with exp an empty string", Some(r#""""#)),
];

/// A time claim of the wrong JSON type (AUTH-TOKEN-CLAIM-TYPES).
#[derive(Debug, Clone, Copy)]
enum OddType {
    NumericString,
    True,
    Array,
    Object,
    Overflow,
}

const TIME_CLAIMS: &[&str] = &["exp", "nbf", "iat"];

/// Long credential sizes, each just under a common header limit so that it reaches the
/// application behind that stack, and one beyond them all but Go's: a stack's own refusal (431,
/// 400, 413, 494, any 4xx, or a reset after it) is an answer too.
const LONG_HEADERS: &[(usize, &str)] = &[
    (7 * 1024, "under nginx's 8 KiB line and Apache's 8190 bytes"),
    (15 * 1024, "under Node's 16 KiB of headers"),
    (64 * 1024, "beyond every common limit but Go's 1 MiB"),
];

/// A token that must not crash the server (AUTH-MALFORMED-NO-5XX).
#[derive(Debug, Clone)]
enum Malformed {
    Dots(usize),
    /// Every size of [`LONG_HEADERS`], as an API key (true) or a bearer token.
    LongHeader(bool),
    NotBase64(usize),
    NotObject(usize, usize),
    OddClaim(usize, OddType),
}

fn odd_type() -> impl Strategy<Value = OddType> {
    prop_oneof![
        Just(OddType::NumericString),
        Just(OddType::True),
        Just(OddType::Array),
        Just(OddType::Object),
        Just(OddType::Overflow),
    ]
}

fn malformed() -> impl Strategy<Value = Malformed> {
    prop_oneof![
        (3usize..400).prop_map(Malformed::Dots),
        any::<bool>().prop_map(Malformed::LongHeader),
        (0usize..3).prop_map(Malformed::NotBase64),
        (0usize..2, 0usize..4).prop_map(|(s, k)| Malformed::NotObject(s, k)),
        (0..TIME_CLAIMS.len(), odd_type()).prop_map(|(c, t)| Malformed::OddClaim(c, t)),
    ]
}

pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The claims' lifetime (exp - iat), 24 h when the token does not say.
fn lifetime(j: &Jwt) -> i64 {
    j.claim_secs("exp")
        .zip(j.claim_secs("iat"))
        .map(|(e, i)| e - i)
        .unwrap_or(86400)
        .max(1)
}

/// A value of the wrong JSON type for `claim` that is otherwise a valid time: exp an hour
/// ahead, nbf and iat a minute ago (or far out of range for the overflow case).
fn odd_value(claim: &str, t: OddType) -> (Value, String) {
    let good = if claim == "exp" {
        now() + 3600
    } else {
        now() - 60
    };
    match t {
        OddType::NumericString => (Value::from(good.to_string()), "a numeric string".into()),
        OddType::True => (Value::from(true), "true".into()),
        OddType::Array => (Value::from(vec![good]), "an array".into()),
        OddType::Object => (serde_json::json!({"t": good}), "an object".into()),
        OddType::Overflow => {
            let v = if claim == "exp" { 1e20 } else { -1e20 };
            (Value::from(v), format!("{v:e} (beyond 64 bits)"))
        }
    }
}

/// The claims of `jwt` with `claim` replaced by the raw JSON `raw` (None: removed), signed.
fn with_raw_claim(jwt: &Jwt, claim: &str, raw: Option<&str>, key: &[u8]) -> String {
    let mut claims = jwt.claims.clone();
    claims.remove(claim);
    let mut payload = serde_json::to_string(&claims).expect("json");
    if let Some(raw) = raw {
        let member = format!("{}:{raw}", Value::from(claim));
        payload = match payload.as_str() {
            "{}" => format!("{{{member}}}"),
            _ => format!("{{{member},{}", &payload[1..]),
        };
    }
    let mut header = jwt.header.clone();
    header.insert("alg".into(), Value::from("HS256"));
    forge::sign_texts(
        &serde_json::to_string(&header).expect("json"),
        &payload,
        key,
    )
}

/// Sends with the token as a Bearer credential (or as given) and judges: accepted breaks it.
fn judge(ctx: &Ctx, request: Request, shape: String) -> Judged {
    super::judge_acceptance(ctx, request, shape, 2)
}

/// Sends and judges the server's health only: a 5xx breaks it, any other answer holds.
fn judge_no_5xx(ctx: &Ctx, request: Request, shape: String) -> Judged {
    let Some(o) = ctx.client.send_paced(request, 2) else {
        return Judged::Unjudged;
    };
    match o.status() {
        Some(s) if s >= 500 => Judged::Broke(format!("{shape} got {s}"), vec![o]),
        Some(s) if s == ctx.client.spec.rate_limits.over_limit.status => Judged::Unjudged,
        Some(_) => Judged::Held,
        // No answer at all: an oversize probe the stack dropped at the transport, or a request
        // the run's health accounting judges; either way nothing was seen to judge.
        None => Judged::Unjudged,
    }
}

fn bearer(ctx: &Ctx, token: &str) -> Request {
    let a = &ctx.client.spec.auth.access_token;
    with_header(
        ctx.request("list_sandboxes", &[]),
        &a.header,
        format!("{} {token}", a.scheme),
    )
}

/// What every check of the family starts from: the issued tokens, decoded, and the staging
/// secret (empty without one: the checks that need it are skipped before).
struct Issued<'a> {
    ctx: &'a Ctx,
    clause: &'static str,
    seed: [u8; 32],
    cases: u32,
    access: String,
    refresh: String,
    jwt: String,
    decoded: Jwt,
    prefix: String,
    secret: Option<Vec<u8>>,
    key: Vec<u8>,
    leeway: i64,
}

impl Issued<'_> {
    fn with_prefix(&self, j: &str) -> String {
        format!("{}{j}", self.prefix)
    }
}

/// A check: the hunt (or the cases) of one clause.
type Check = fn(&Issued<'_>) -> Hunt;

/// Every clause the family decides, with its check: the one table (a test proves it is the
/// family's list in `scenario::property`).
const CHECKS: &[(&str, Check)] = &[
    ("AUTH-TOKEN-ALG-NONE", token_alg_none),
    ("AUTH-TOKEN-ALG-OTHER", token_alg_other),
    ("AUTH-TOKEN-BAD-SIGNATURE", token_bad_signature),
    ("AUTH-TOKEN-PREFIX", token_prefix),
    ("AUTH-TOKEN-STRICT-ENCODING", token_strict_encoding),
    ("AUTH-CREDENTIAL-PLACEMENT", credential_placement),
    ("AUTH-TOKEN-EXPIRED", token_expired),
    ("AUTH-TOKEN-SESSION-TTL", token_session_ttl),
    ("AUTH-TOKEN-NOT-YET-VALID", token_not_yet_valid),
    ("AUTH-TOKEN-CLAIM-TYPES", token_claim_types),
    ("AUTH-TOKEN-DUPLICATE-KEYS", token_duplicate_keys),
    ("AUTH-TOKEN-CRIT", token_crit),
    ("AUTH-TOKEN-SECRET-STRENGTH", token_secret_strength),
    ("AUTH-TOKEN-NO-KEY-FETCH", token_no_key_fetch),
    ("AUTH-MALFORMED-NO-5XX", malformed_no_5xx),
    ("AUTH-REFRESH-NOT-ACCESS", refresh_not_access),
    ("AUTH-ACCESS-NOT-REFRESH", access_not_refresh),
];

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let prefix = ctx.client.spec.auth.access_token.prefix.clone();
    let leeway = ctx.client.spec.auth.leeway.as_secs() as i64;
    let secret = ctx.var("jwt_secret").map(|s| s.as_bytes().to_vec());
    let tokens = ctx.login();
    if let Some((access, _)) = &tokens {
        ctx.client.set_control(Some(bearer(ctx, access)));
    }
    for &clause in clauses {
        let Some(check) = CHECKS.iter().find(|(id, _)| *id == clause).map(|(_, c)| *c) else {
            // Never so: the table is the family's list (a test below).
            out.push(skipped(
                clause,
                Status::Inconclusive,
                "no check of the access-token family decides this clause",
            ));
            continue;
        };
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
        let Ok(decoded) = Jwt::decode(&jwt) else {
            out.push(skipped(
                clause,
                Status::Inconclusive,
                "the issued access token is not a JWT; AUTH-TOKEN-HS256 decides that",
            ));
            continue;
        };
        if NEEDS_SECRET.contains(&clause) && secret.is_none() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no JWT secret in the profile (jwt_secret)",
            ));
            continue;
        }
        let issued = Issued {
            ctx,
            clause,
            seed,
            cases: ctx.cases,
            access,
            refresh,
            jwt,
            decoded,
            prefix: prefix.clone(),
            key: secret.clone().unwrap_or_default(),
            secret: secret.clone(),
            leeway,
        };
        let mut h = check(&issued);
        if h.about.is_empty() {
            h.about = format!("{clause} attacks on an issued token");
        }
        out.push(h);
    }
    out
}

/// AUTH-TOKEN-SECRET-STRENGTH: offline, no request.
fn secret_strength(ctx: &Ctx, clause: &'static str, jwt: &str) -> Hunt {
    let roles = [
        ("admin token", "admin_token"),
        ("API key", "api_key"),
        ("other team's API key", "api_key_other_team"),
        ("password", "password"),
    ];
    let others: Vec<(&str, &str)> = roles
        .iter()
        .filter_map(|(what, var)| ctx.var(var).map(|v| (*what, v)))
        .collect();
    let mut h = super::blank(clause);
    h.cases = (super::secrets::COMMON.len() + others.len()) as u32;
    h.about = format!(
        "the issued token tried offline against {} common secrets and {} of the profile's other credentials{}",
        super::secrets::COMMON.len(),
        others.len(),
        if ctx.var("jwt_secret").is_some() {
            "; the staging secret's length checked"
        } else {
            ""
        }
    );
    if let Some(why) = super::secrets::weakness(jwt, &others, ctx.var("jwt_secret")) {
        h.failure = Some(Failure {
            shape: why,
            exchanges: Vec::new(),
            confirmed: true,
            shrink_note: "offline, no request".into(),
        });
    }
    h
}

/// The key-URL headers a fetch case puts in a token.
const FETCHING: &[&str] = &["jku", "x5u", "jwk.x5u", "jku+kid"];

/// AUTH-TOKEN-NO-KEY-FETCH: tokens whose key URLs point at the fetch listener; any fetch breaks
/// the clause, whether or not the token was accepted.
fn key_fetch(
    ctx: &Ctx,
    clause: &'static str,
    seed: [u8; 32],
    decoded: &Jwt,
    with_prefix: &dyn Fn(&str) -> String,
) -> Hunt {
    let Some(listener) = &ctx.callback else {
        return skipped(
            clause,
            Status::Inconclusive,
            "no fetch listener was started",
        );
    };
    // One attacker key per run, from the hunt's seed: the cases differ only in the header.
    let attacker: Vec<u8> = seed.iter().copied().take(24).collect();
    let mut h = each(&ctx.client, clause, FETCHING, |name| {
        let url = listener.url(&format!(
            "{}/{}",
            name.replace(['.', '+'], "-"),
            listener.hits().len()
        ));
        let mut j = decoded.clone();
        match *name {
            "jwk.x5u" => {
                j.header.insert(
                    "jwk".into(),
                    serde_json::json!({"kty": "oct", "k": B64.encode(&attacker), "x5u": url}),
                );
            }
            "jku+kid" => {
                j.header.insert("jku".into(), Value::from(url.clone()));
                j.header
                    .insert("kid".into(), Value::from("lelantos-conform"));
            }
            other => {
                j.header.insert(other.into(), Value::from(url.clone()));
            }
        }
        let t = j.sign("HS256", &attacker).unwrap_or_default();
        let before = listener.hits().len();
        let shape =
            format!("a token whose `{name}` points at the harness, signed with the attacker's key");
        let judged = judge(ctx, bearer(ctx, &with_prefix(&t)), shape.clone());
        // A fetch may follow the answer: give it a moment.
        ctx.client.sleep(Duration::from_millis(10));
        let hits = listener.hits();
        if hits.len() > before {
            let what = hits[before..].join("; ");
            return Judged::Broke(
                format!("{shape} made the server fetch: {what}"),
                match judged {
                    Judged::Broke(_, ex) => ex,
                    _ => Vec::new(),
                },
            );
        }
        judged
    });
    // A late fetch (after its case was judged) still counts.
    ctx.client.sleep(Duration::from_millis(150));
    let hits = listener.hits();
    if h.failure.is_none() && !hits.is_empty() {
        h.failure = Some(Failure {
            shape: format!(
                "the server fetched a key URL a token named, after its case was judged: {}",
                hits.join("; ")
            ),
            exchanges: Vec::new(),
            confirmed: true,
            shrink_note: "seen by the fetch listener".into(),
        });
    }
    // Not the listener's URL: its port differs from run to run, and the same seed must give
    // the same report.
    h.about = format!(
        "jku, x5u and jwk.x5u pointing at the harness's listener ({}; no fetch seen)",
        if !listener.base.starts_with("http://127.0.0.1:") {
            "the profile's callback_url"
        } else {
            "on loopback"
        }
    );
    if h.failure.is_none() && !listener.reachable {
        h.skipped = Some((
            Status::Inconclusive,
            format!(
                "no token was accepted, but a fetch could not have been seen: the target is not on this machine and the profile names no callback_url the target can reach the harness at ({})",
                h.controls.summary()
            ),
        ));
    }
    h
}

/// AUTH-TOKEN-ALG-NONE.
fn token_alg_none(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases,
        seed,
        (0..NONE_VARIANTS.len(), any::<bool>(), any::<bool>()),
        |(v, keep, twice)| {
            let mut j = decoded.clone();
            let alg = NONE_VARIANTS[*v];
            let sig = if *keep {
                j.signature.clone()
            } else {
                String::new()
            };
            let header = if *twice {
                // HS256 first, none last: unsigned under either reading.
                j.header.insert("alg".into(), Value::from(alg));
                B64.encode(forge::with_repeat(&j.header, "alg", &Value::from("HS256")))
            } else {
                j.header.insert("alg".into(), Value::from(alg));
                b64(&j.header)
            };
            let t = format!("{header}.{}.{sig}", b64(&j.claims));
            let what = if *keep {
                "its original signature"
            } else {
                "an empty signature"
            };
            let named = if *twice {
                format!("alg named twice (\"HS256\", then {alg:?})")
            } else {
                format!("alg {alg:?}")
            };
            judge(
                ctx,
                bearer(ctx, &with_prefix(&t)),
                format!("valid token re-encoded with {named} and {what}"),
            )
        },
    )
}

/// AUTH-TOKEN-ALG-OTHER.
fn token_alg_other(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let jwt = &t.jwt;
    let secret = &t.secret;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases,
        seed,
        (
            0..OTHER_ALGS.len(),
            proptest::collection::vec(any::<u8>(), 32..64),
        ),
        |(a, junk)| {
            let f = forge::Forgery::OtherAlg(*a, junk.clone());
            match forge::forge(jwt, &f, secret.as_deref()) {
                Some((t, shape)) => judge(ctx, bearer(ctx, &with_prefix(&t)), shape),
                None => Judged::Held,
            }
        },
    )
}

/// AUTH-TOKEN-BAD-SIGNATURE.
fn token_bad_signature(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let jwt = &t.jwt;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases,
        seed,
        forge::tampered(),
        |t| match forge::tamper(jwt, t) {
            Some((tok, shape)) if tok != *jwt => judge(ctx, bearer(ctx, &with_prefix(&tok)), shape),
            _ => Judged::Held,
        },
    )
}

/// AUTH-TOKEN-PREFIX.
fn token_prefix(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let jwt = &t.jwt;
    each(&ctx.client, clause, &[()], |_| {
        judge(
            ctx,
            bearer(ctx, jwt),
            "valid token without its prefix".to_string(),
        )
    })
}

/// AUTH-TOKEN-STRICT-ENCODING.
fn token_strict_encoding(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let jwt = &t.jwt;
    let with_prefix = |j: &str| t.with_prefix(j);
    {
        hunt(&ctx.client, clause, cases.min(24), seed, respelled(), |r| {
            let (tok, shape) = respell(jwt, r);
            judge(ctx, bearer(ctx, &with_prefix(&tok)), shape)
        })
    }
}

/// AUTH-CREDENTIAL-PLACEMENT.
fn credential_placement(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let jwt = &t.jwt;
    let access = &t.access;
    let prefix = &t.prefix;
    each(&ctx.client, clause, &[0usize, 1, 2, 3, 4], |v| {
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
            3 => (
                bearer(ctx, &format!("{}{jwt}", prefix.to_ascii_uppercase())),
                "valid token with its prefix in upper case".into(),
            ),
            _ => {
                let mut r = ctx.request("list_sandboxes", &[]);
                let sep = if r.path.contains('?') { '&' } else { '?' };
                let q: String = percent_encoding::utf8_percent_encode(
                    access,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .collect();
                r.path = format!("{}{sep}access_token={q}", r.path);
                (r, "valid token as the query parameter access_token".into())
            }
        };
        judge(ctx, r, shape)
    })
}

/// AUTH-TOKEN-EXPIRED.
fn token_expired(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let key = &t.key;
    let leeway = t.leeway;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases.min(24),
        seed,
        (
            prop_oneof![
                3 => Just(PastExp::Integer),
                1 => Just(PastExp::Float),
                1 => Just(PastExp::Zero),
                1 => Just(PastExp::Negative),
                1 => Just(PastExp::NumericString),
            ],
            30i64..30 * 86400,
        ),
        |(form, d)| {
            let j = decoded.clone();
            let exp = now() - leeway - d;
            let (raw, what) = match form {
                PastExp::Integer => (
                    exp.to_string(),
                    format!("expired {d} s beyond the {leeway} s leeway"),
                ),
                PastExp::Float => (
                    format!("{exp}.5"),
                    format!("with exp the float {exp}.5, {d} s beyond the leeway"),
                ),
                PastExp::Zero => ("0".into(), "with exp 0".into()),
                PastExp::Negative => (format!("-{d}"), format!("with exp -{d}")),
                PastExp::NumericString => (
                    format!("\"{exp}\""),
                    format!("with exp the string \"{exp}\", {d} s beyond the leeway"),
                ),
            };
            let mut j = j;
            if matches!(form, PastExp::Integer) {
                let life = lifetime(&j);
                j.claims.insert("iat".into(), Value::from(exp - life));
            }
            let t = with_raw_claim(&j, "exp", Some(&raw), key);
            judge(
                ctx,
                bearer(ctx, &with_prefix(&t)),
                format!("a correctly signed token {what}"),
            )
        },
    )
}

/// AUTH-TOKEN-SESSION-TTL.
fn token_session_ttl(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let decoded = &t.decoded;
    let key = &t.key;
    let with_prefix = |j: &str| t.with_prefix(j);
    each(&ctx.client, clause, NO_LIFETIME, |(what, raw)| {
        let t = with_raw_claim(decoded, "exp", *raw, key);
        judge(
            ctx,
            bearer(ctx, &with_prefix(&t)),
            format!("a correctly signed session token {what}"),
        )
    })
}

/// AUTH-TOKEN-NOT-YET-VALID.
fn token_not_yet_valid(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let key = &t.key;
    let leeway = t.leeway;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases.min(24),
        seed,
        (any::<bool>(), 0u8..4, 30i64..30 * 86400),
        |(nbf, form, d)| {
            let mut j = decoded.clone();
            let at = now() + leeway + d;
            let claim = if *nbf { "nbf" } else { "iat" };
            if !*nbf {
                let life = lifetime(&j);
                j.claims.insert("exp".into(), Value::from(at + life));
            }
            let (raw, what) = match form {
                0 => (
                    format!("{at}.5"),
                    format!("the float {at}.5, {d} s beyond the {leeway} s leeway in the future"),
                ),
                1 => (
                    "1000000000000000".to_string(),
                    "10^15 (the year 31 690 000)".to_string(),
                ),
                _ => (
                    at.to_string(),
                    format!("{d} s beyond the {leeway} s leeway in the future"),
                ),
            };
            if *form == 1 && !*nbf {
                j.claims
                    .insert("exp".into(), Value::from(1_000_000_000_086_400i64));
            }
            let t = with_raw_claim(&j, claim, Some(&raw), key);
            judge(
                ctx,
                bearer(ctx, &with_prefix(&t)),
                format!("a correctly signed token with `{claim}` {what}"),
            )
        },
    )
}

/// AUTH-TOKEN-CLAIM-TYPES.
fn token_claim_types(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let key = &t.key;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
        &ctx.client,
        clause,
        cases.min(24),
        seed,
        (0..TIME_CLAIMS.len(), odd_type()),
        |(c, t)| {
            let claim = TIME_CLAIMS[*c];
            let (v, what) = odd_value(claim, *t);
            let t = with_raw_claim(decoded, claim, Some(&v.to_string()), key);
            judge(
                ctx,
                bearer(ctx, &with_prefix(&t)),
                format!("a correctly signed token with `{claim}` {what}"),
            )
        },
    )
}

/// AUTH-TOKEN-DUPLICATE-KEYS.
fn token_duplicate_keys(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let decoded = &t.decoded;
    let key = &t.key;
    let with_prefix = |j: &str| t.with_prefix(j);
    each(&ctx.client, clause, &[0usize, 1, 2, 3], |v| {
        let mut header = decoded.header.clone();
        header.insert("alg".into(), Value::from("HS256"));
        let claims = decoded.claims.clone();
        let (h, p, shape) = match v {
            0 => (
                forge::with_repeat(&header, "alg", &Value::from("none")),
                serde_json::to_string(&claims).expect("json"),
                "a header naming alg twice (\"none\", then \"HS256\")",
            ),
            1 => (
                forge::with_repeat(&header, "typ", &Value::from("refresh")),
                serde_json::to_string(&claims).expect("json"),
                "a header naming typ twice",
            ),
            2 => (
                serde_json::to_string(&header).expect("json"),
                forge::with_repeat(&claims, "exp", &Value::from(now() - 86400)),
                "a payload with exp twice (a day ago, then the issued one)",
            ),
            _ => (
                serde_json::to_string(&header).expect("json"),
                forge::with_repeat(&claims, "sub", &Value::from("usr_someone_else")),
                "a payload with sub twice (another user's, then the issued one)",
            ),
        };
        let t = forge::sign_texts(&h, &p, key);
        judge(
            ctx,
            bearer(ctx, &with_prefix(&t)),
            format!("a correctly signed token with {shape}"),
        )
    })
}

/// AUTH-TOKEN-CRIT.
fn token_crit(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let decoded = &t.decoded;
    let key = &t.key;
    let with_prefix = |j: &str| t.with_prefix(j);
    each(&ctx.client, clause, &[0usize, 1], |v| {
        // An unknown extension, present; then one the header does not even carry.
        let mut j = decoded.clone();
        let name = if *v == 0 {
            "x-lelantos-unknown"
        } else {
            "x-lelantos-absent"
        };
        j.header.insert("crit".into(), Value::from(vec![name]));
        if *v == 0 {
            j.header.insert(name.into(), Value::from(true));
        }
        let t = j.sign("HS256", key).unwrap_or_default();
        judge(
            ctx,
            bearer(ctx, &with_prefix(&t)),
            format!("a correctly signed token whose header says crit [{name:?}]"),
        )
    })
}

/// AUTH-TOKEN-SECRET-STRENGTH.
fn token_secret_strength(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let jwt = &t.jwt;
    secret_strength(ctx, clause, jwt)
}

/// AUTH-TOKEN-NO-KEY-FETCH.
fn token_no_key_fetch(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let seed = t.seed;
    let decoded = &t.decoded;
    let with_prefix = |j: &str| t.with_prefix(j);
    key_fetch(ctx, clause, seed, decoded, &with_prefix)
}

/// AUTH-MALFORMED-NO-5XX.
fn malformed_no_5xx(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let jwt = &t.jwt;
    let secret = &t.secret;
    let with_prefix = |j: &str| t.with_prefix(j);
    {
        hunt(&ctx.client, clause, cases.min(24), seed, malformed(), |m| {
            let a = &ctx.client.spec.auth;
            let (r, shape) = match m {
                Malformed::Dots(n) => (
                    bearer(ctx, &with_prefix(&".".repeat(*n))),
                    format!("a token of {n} dots"),
                ),
                Malformed::LongHeader(as_key) => {
                    // Every size of the ladder in one case: the stack's own limit
                    // answers the larger ones, the application the smaller.
                    let mut unjudged = 0;
                    for (bytes, under) in LONG_HEADERS {
                        let long = "A".repeat(*bytes);
                        let kib = bytes.div_ceil(1024);
                        let (r, shape) = if *as_key {
                            (
                                with_header(
                                    ctx.request("list_sandboxes", &[]),
                                    &a.api_key.header,
                                    format!("{}{long}", a.api_key.prefix),
                                ),
                                format!("a {kib} KiB {} ({under})", a.api_key.header),
                            )
                        } else {
                            (
                                bearer(ctx, &with_prefix(&long)),
                                format!("a {kib} KiB bearer token ({under})"),
                            )
                        };
                        match judge_no_5xx(ctx, r, shape) {
                            Judged::Held => {}
                            Judged::Unjudged => unjudged += 1,
                            broke => return broke,
                        }
                    }
                    return if unjudged == LONG_HEADERS.len() {
                        Judged::Unjudged
                    } else {
                        Judged::Held
                    };
                }
                Malformed::NotBase64(s) => {
                    let mut segs: Vec<String> = jwt.split('.').map(str::to_string).collect();
                    segs[*s] = "%%%~~~".into();
                    (
                        bearer(ctx, &with_prefix(&segs.join("."))),
                        format!("a token whose segment {s} is not base64url"),
                    )
                }
                Malformed::NotObject(s, k) => {
                    let json = ["[]", "1", "\"x\"", "{"][*k % 4];
                    let mut segs: Vec<String> = jwt.split('.').map(str::to_string).collect();
                    segs[*s] = B64.encode(json);
                    (
                        bearer(ctx, &with_prefix(&segs.join("."))),
                        format!("a token whose segment {s} is the JSON text {json}"),
                    )
                }
                Malformed::OddClaim(c, t) => {
                    let claim = TIME_CLAIMS[*c];
                    let (v, what) = odd_value(claim, *t);
                    let signed = secret.is_some();
                    let k = secret.clone().unwrap_or_else(|| b"not the secret".to_vec());
                    let tok = with_raw_claim(decoded, claim, Some(&v.to_string()), &k);
                    (
                        bearer(ctx, &with_prefix(&tok)),
                        format!(
                            "a token with `{claim}` {what}{}",
                            if signed {
                                ""
                            } else {
                                " (not correctly signed)"
                            }
                        ),
                    )
                }
            };
            judge_no_5xx(ctx, r, shape)
        })
    }
}

/// AUTH-REFRESH-NOT-ACCESS.
fn refresh_not_access(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let key = &t.key;
    let refresh = &t.refresh;
    let prefix = &t.prefix;
    let secret = &t.secret;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
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
                    with_prefix(&j.sign("HS256", key).unwrap_or_default()),
                    format!(
                        "a correctly signed refresh token issued {shift} s earlier, as a Bearer access token"
                    ),
                )
            };
            judge(ctx, bearer(ctx, &tok), shape)
        },
    )
}

/// AUTH-ACCESS-NOT-REFRESH.
fn access_not_refresh(t: &Issued<'_>) -> Hunt {
    let ctx = t.ctx;
    let clause = t.clause;
    let cases = t.cases;
    let seed = t.seed;
    let decoded = &t.decoded;
    let key = &t.key;
    let access = &t.access;
    let secret = &t.secret;
    let with_prefix = |j: &str| t.with_prefix(j);
    hunt(
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
                let mut j = decoded.clone();
                j.shift(&["iat", "exp"], -shift);
                (
                    with_prefix(&j.sign("HS256", key).unwrap_or_default()),
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
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn every_clause_of_the_family_has_exactly_one_check_and_every_check_a_clause() {
        let decides = crate::scenario::property::Family::AccessTokens.decides();
        let mut ids: Vec<&str> = CHECKS.iter().map(|(id, _)| *id).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "a clause with two checks");
        let mut want = decides.to_vec();
        want.sort();
        assert_eq!(ids, want);
        // And each is a clause of the spec.
        let spec = crate::spec::Spec::builtin();
        for id in ids {
            assert!(spec.clauses.iter().any(|c| c.id == id), "{id} is no clause");
        }
    }

    #[test]
    fn a_raw_claim_replaces_the_member_and_keeps_the_signature_valid() {
        let mut j = Jwt {
            header: Map::new(),
            claims: Map::new(),
            signature: String::new(),
        };
        j.claims.insert("sub".into(), Value::from("u"));
        j.claims.insert("exp".into(), Value::from(5));
        let t = with_raw_claim(&j, "exp", Some("null"), b"k");
        assert!(Jwt::verifies(&t, b"k"));
        let back = Jwt::decode(&t).unwrap();
        assert_eq!(back.claims["exp"], Value::Null);
        let gone = Jwt::decode(&with_raw_claim(&j, "exp", None, b"k")).unwrap();
        assert!(!gone.claims.contains_key("exp"));
    }
}
