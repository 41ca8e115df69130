//! API keys: only the exact key is accepted. Near-misses of the valid key (truncated, extended,
//! one character changed, inserted or deleted, case changed, look-alike characters), malformed
//! values (empty, the prefix alone or altered, very long) and random keys of the right prefix and
//! shape must all be refused. The valid key in the wrong place (another header, the query
//! string) is a `should` clause of its own (AUTH-CREDENTIAL-PLACEMENT): the documentation says
//! where a key goes, not that it is refused elsewhere. The valid key sent twice is not checked at
//! all: taking the first of two fields (Go, hyper, Python) or joining them (Node) both conform;
//! two *different* credentials in one request are the `ambiguous` family's.
//!
//! Leading and trailing whitespace is never generated: HTTP strips it from header values, so a
//! server accepting ` key` is conforming. Non-ASCII look-alikes are sent as raw UTF-8 bytes.

use proptest::prelude::*;

use super::{Ctx, Hunt, Judged, each, hunt, skipped, with_header};
use crate::probe::Request;
use crate::verdict::Status;

/// Endpoints that take an API key and need no parameters.
const ENDPOINTS: &[&str] = &["list_sandboxes", "list_api_keys"];

/// Unicode look-alikes of ASCII characters (Cyrillic, Greek, fullwidth).
const LOOKALIKES: &[(char, char)] = &[
    ('a', 'а'),
    ('e', 'е'),
    ('o', 'о'),
    ('c', 'с'),
    ('p', 'р'),
    ('x', 'х'),
    ('l', 'ӏ'),
    ('_', '＿'),
    ('A', 'Α'),
    ('B', 'Β'),
    ('E', 'Ε'),
    ('0', 'О'),
    ('1', 'l'),
];

/// A near-miss of the valid key.
#[derive(Debug, Clone)]
pub enum Altered {
    Truncated(usize),
    Extended(String),
    Changed(usize, char),
    Inserted(usize, char),
    Deleted(usize),
    CaseFlipped(usize),
    AllUpper,
    AllLower,
    LookAlike(usize),
}

impl Altered {
    fn apply(&self, key: &str) -> Option<(String, String)> {
        let chars: Vec<char> = key.chars().collect();
        let n = chars.len();
        let shown = |c: char| format!("{c:?}");
        Some(match self {
            Altered::Truncated(k) => (
                chars[..*k % n].iter().collect(),
                format!(
                    "valid key truncated to its first {} of {n} characters",
                    k % n
                ),
            ),
            Altered::Extended(s) => (
                format!("{key}{s}"),
                format!(
                    "valid key extended by {} characters ({s:?})",
                    s.chars().count()
                ),
            ),
            Altered::Changed(i, c) => {
                let i = i % n;
                let mut v = chars.clone();
                let c = if v[i] == *c { next_printable(*c) } else { *c };
                let from = v[i];
                v[i] = c;
                (
                    v.into_iter().collect(),
                    format!(
                        "valid key with character {i} changed {}→{}",
                        shown(from),
                        shown(c)
                    ),
                )
            }
            Altered::Inserted(i, c) => {
                // Never at either end: that would only lengthen it (Extended) or prepend.
                let i = 1 + i % (n - 1);
                let mut v = chars.clone();
                v.insert(i, *c);
                (
                    v.into_iter().collect(),
                    format!("valid key with {} inserted at position {i}", shown(*c)),
                )
            }
            Altered::Deleted(i) => {
                let i = i % n;
                let mut v = chars.clone();
                let c = v.remove(i);
                (
                    v.into_iter().collect(),
                    format!("valid key with character {i} ({}) deleted", shown(c)),
                )
            }
            Altered::CaseFlipped(i) => {
                let letters: Vec<usize> =
                    (0..n).filter(|j| chars[*j].is_ascii_alphabetic()).collect();
                let j = *letters.get(i % letters.len().max(1))?;
                let mut v = chars.clone();
                let from = v[j];
                v[j] = flip(from);
                (
                    v.into_iter().collect(),
                    format!(
                        "valid key with character {j} changed {}→{}",
                        shown(from),
                        shown(flip(from))
                    ),
                )
            }
            Altered::AllUpper => {
                let up = key.to_ascii_uppercase();
                if up == key {
                    return None;
                }
                (up, "valid key in upper case".into())
            }
            Altered::AllLower => {
                let low = key.to_ascii_lowercase();
                if low == key {
                    return None;
                }
                (low, "valid key in lower case".into())
            }
            Altered::LookAlike(i) => {
                let spots: Vec<(usize, char)> = (0..n)
                    .filter_map(|j| {
                        LOOKALIKES
                            .iter()
                            .find(|(a, _)| *a == chars[j])
                            .map(|(_, b)| (j, *b))
                    })
                    .collect();
                let (j, b) = *spots.get(i % spots.len().max(1))?;
                let mut v = chars.clone();
                let from = v[j];
                v[j] = b;
                (
                    v.into_iter().collect(),
                    format!(
                        "valid key with character {j} {} replaced by the look-alike U+{:04X}",
                        shown(from),
                        b as u32
                    ),
                )
            }
        })
    }
}

fn flip(c: char) -> char {
    if c.is_ascii_uppercase() {
        c.to_ascii_lowercase()
    } else {
        c.to_ascii_uppercase()
    }
}

fn next_printable(c: char) -> char {
    if c >= '~' { '!' } else { (c as u8 + 1) as char }
}

/// Printable ASCII without the space: never whitespace (see the module note).
fn printable() -> impl Strategy<Value = char> {
    proptest::char::range('!', '~')
}

fn altered() -> impl Strategy<Value = Altered> {
    prop_oneof![
        (0usize..256).prop_map(Altered::Truncated),
        "[!-~]{1,16}".prop_map(Altered::Extended),
        (0usize..256, printable()).prop_map(|(i, c)| Altered::Changed(i, c)),
        (0usize..256, printable()).prop_map(|(i, c)| Altered::Inserted(i, c)),
        (0usize..256).prop_map(Altered::Deleted),
        (0usize..256).prop_map(Altered::CaseFlipped),
        Just(Altered::AllUpper),
        Just(Altered::AllLower),
        (0usize..256).prop_map(Altered::LookAlike),
    ]
}

/// A malformed value, or the key presented the wrong way.
#[derive(Debug, Clone)]
pub enum Malformed {
    Empty,
    PrefixAlone,
    PrefixAltered(usize),
    WithoutPrefix,
    VeryLong(usize),
}

const PREFIX_VARIANTS: &[&str] = &["UPPER", "-", "none", "double", "space"];
const WRONG_HEADERS: &[&str] = &["bearer", "authorization", "api-key", "x-api-token", "query"];

fn malformed() -> impl Strategy<Value = Malformed> {
    prop_oneof![
        Just(Malformed::Empty),
        Just(Malformed::PrefixAlone),
        (0..PREFIX_VARIANTS.len()).prop_map(Malformed::PrefixAltered),
        Just(Malformed::WithoutPrefix),
        (512usize..8192).prop_map(Malformed::VeryLong),
    ]
}

/// The request and the shape of the input, or `None` when the case does not apply to this key.
fn malformed_request(
    ctx: &Ctx,
    base: Request,
    key: &str,
    m: &Malformed,
) -> Option<(Request, String)> {
    let spec = &ctx.client.spec;
    let header = &spec.auth.api_key.header;
    let prefix = &spec.auth.api_key.prefix;
    let rest = key.strip_prefix(prefix.as_str())?;
    Some(match m {
        Malformed::Empty => (with_header(base, header, ""), "an empty key".into()),
        Malformed::PrefixAlone => (
            with_header(base, header, prefix.clone()),
            format!("the prefix {prefix:?} alone"),
        ),
        Malformed::PrefixAltered(v) => {
            let p = match PREFIX_VARIANTS[*v] {
                "UPPER" => prefix.to_ascii_uppercase(),
                "-" => prefix.replace('_', "-"),
                "none" => String::new(),
                "double" => format!("{prefix}{prefix}"),
                _ => format!("{} ", prefix.trim_end_matches('_')),
            };
            if p == *prefix {
                return None;
            }
            (
                with_header(base, header, format!("{p}{rest}")),
                format!("valid key with its prefix {prefix:?} replaced by {p:?}"),
            )
        }
        Malformed::WithoutPrefix => (
            with_header(base, header, rest.to_string()),
            "valid key without its prefix".into(),
        ),
        Malformed::VeryLong(len) => {
            let long: String = key.chars().cycle().take(*len).collect();
            (
                with_header(base, header, long),
                format!("valid key repeated to {len} characters"),
            )
        }
    })
}

/// The valid key where the documentation does not put it (AUTH-CREDENTIAL-PLACEMENT).
fn misplaced_request(ctx: &Ctx, base: Request, key: &str, i: usize) -> (Request, String) {
    let spec = &ctx.client.spec;
    match WRONG_HEADERS[i % WRONG_HEADERS.len()] {
        "bearer" => {
            let a = &spec.auth.access_token;
            (
                with_header(base, &a.header, format!("{} {key}", a.scheme)),
                format!("valid key as `{} {} <key>`", a.header, a.scheme),
            )
        }
        "authorization" => (
            with_header(base, &spec.auth.access_token.header, key.to_string()),
            format!("valid key as `{}: <key>`", spec.auth.access_token.header),
        ),
        "query" => {
            let mut r = base;
            let sep = if r.path.contains('?') { '&' } else { '?' };
            r.path = format!("{}{sep}api_key={key}", r.path);
            (r, "valid key as the query parameter api_key".into())
        }
        other => (
            with_header(base, other, key.to_string()),
            format!("valid key in the header {other}"),
        ),
    }
}

/// One request with the credential; a case that the target throttled throughout is unjudged.
fn judge(ctx: &Ctx, request: Request, shape: String) -> Judged {
    super::judge_acceptance(ctx, request, shape, 2)
}

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let header = ctx.client.spec.auth.api_key.header.clone();
    let prefix = ctx.client.spec.auth.api_key.prefix.clone();
    let key = ctx.var("api_key").map(str::to_string);
    if let Some(k) = &key {
        ctx.client.set_control(Some(with_header(
            ctx.request("list_sandboxes", &[]),
            &header,
            k.clone(),
        )));
    }
    for &clause in clauses {
        let seed = ctx.seed();
        let Some(key) = key.clone().filter(|k| k.chars().count() > 2) else {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no API key in the profile (api_key)",
            ));
            continue;
        };
        let h = match clause {
            "AUTH-KEY-ALTERED" => {
                let mut h = hunt(
                    &ctx.client,
                    clause,
                    ctx.cases,
                    seed,
                    (altered(), 0..ENDPOINTS.len()),
                    |(a, e)| match a.apply(&key) {
                        Some((value, shape)) if value != key => judge(
                            ctx,
                            with_header(ctx.request(ENDPOINTS[*e], &[]), &header, value),
                            shape,
                        ),
                        _ => Judged::Held,
                    },
                );
                h.about = "truncations, extensions, changed/inserted/deleted characters, case changes, look-alikes".into();
                h
            }
            "AUTH-KEY-MALFORMED" => {
                let mut h = hunt(
                    &ctx.client,
                    clause,
                    ctx.cases,
                    seed,
                    (malformed(), 0..ENDPOINTS.len()),
                    |(m, e)| match malformed_request(ctx, ctx.request(ENDPOINTS[*e], &[]), &key, m)
                    {
                        Some((r, shape)) => judge(ctx, r, shape),
                        None => Judged::Held,
                    },
                );
                h.about = "empty, prefix alone or altered, no prefix, very long".into();
                h
            }
            "AUTH-CREDENTIAL-PLACEMENT" => {
                let places: Vec<usize> = (0..WRONG_HEADERS.len()).collect();
                let mut h = each(&ctx.client, clause, &places, |i| {
                    let endpoint = ENDPOINTS[i % ENDPOINTS.len()];
                    let (r, shape) = misplaced_request(ctx, ctx.request(endpoint, &[]), &key, *i);
                    judge(ctx, r, shape)
                });
                h.about = format!("the valid key in {}", WRONG_HEADERS.join(", "));
                h
            }
            "AUTH-KEY-UNKNOWN" => {
                let body: Vec<char> = key.chars().skip(prefix.chars().count()).collect();
                let mut alphabet: Vec<char> = body.clone();
                alphabet.sort();
                alphabet.dedup();
                // The valid key's alphabet, widened to its character classes.
                let mut wide: Vec<char> = Vec::new();
                if alphabet.iter().any(char::is_ascii_lowercase) {
                    wide.extend('a'..='z');
                }
                if alphabet.iter().any(char::is_ascii_uppercase) {
                    wide.extend('A'..='Z');
                }
                if alphabet.iter().any(char::is_ascii_digit) {
                    wide.extend('0'..='9');
                }
                wide.extend(alphabet.iter().filter(|c| !c.is_ascii_alphanumeric()));
                wide.sort();
                wide.dedup();
                let len = body.len();
                let strategy = proptest::collection::vec(0..wide.len(), len);
                let mut h = hunt(&ctx.client, clause, ctx.cases, seed, strategy, |idx| {
                    let value: String =
                        prefix.chars().chain(idx.iter().map(|i| wide[*i])).collect();
                    if value == key {
                        return Judged::Held;
                    }
                    judge(
                        ctx,
                        with_header(ctx.request(ENDPOINTS[0], &[]), &header, value),
                        format!(
                            "a random key with the prefix {prefix:?} and the valid key's length ({}) and alphabet",
                            len + prefix.len()
                        ),
                    )
                });
                h.about = format!(
                    "random keys with the prefix and {len} characters of the key's alphabet"
                );
                h
            }
            "AUTH-KEY-REVOKED" => {
                let Some(revoked) = ctx.var("api_key_revoked").map(str::to_string) else {
                    out.push(skipped(
                        clause,
                        Status::Skipped,
                        "no revoked API key in the profile (api_key_revoked)",
                    ));
                    continue;
                };
                let cases = ctx.cases.min(8);
                let mut h = hunt(&ctx.client, clause, cases, seed, 0..ENDPOINTS.len(), |e| {
                    judge(
                        ctx,
                        with_header(ctx.request(ENDPOINTS[*e], &[]), &header, revoked.clone()),
                        "the revoked key".into(),
                    )
                });
                h.about = "the revoked key on each key endpoint".into();
                h
            }
            _ => continue,
        };
        out.push(h);
    }
    out
}
