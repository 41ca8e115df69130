//! The admin token: near-misses of the real token (prefixes of every length, one byte changed at
//! every position, extensions, case changes) are refused on every admin endpoint, and so are API
//! keys and access tokens.
//!
//! The target may throttle failed admin attempts per client (the reference server does: the
//! general limit per window, then 429 with Retry-After). A 429 is never an acceptance, but it is
//! no judgement either: a near-miss answered 429 was not examined, and a property that let 429s
//! pass would pass a prefix-matching server that throttles. So a 429 is waited out (Retry-After,
//! bounded by the longest window plus a second) and the same request sent again, up to three
//! times; a case throttled throughout is counted as not judged, never as held.

use proptest::prelude::*;

use super::{Ctx, Hunt, Judged, hunt, skipped, with_header};
use crate::probe::Request;
use crate::verdict::Status;

/// Admin endpoints: those whose only credential is the admin token.
fn endpoints(ctx: &Ctx) -> Vec<String> {
    ctx.client
        .spec
        .endpoints
        .iter()
        .filter(|(_, e)| {
            e.auth.len() == 1
                && e.auth[0] == crate::spec::AuthMethod::AdminToken
                && !e.path.contains('{')
        })
        .map(|(n, _)| n.clone())
        .collect()
}

#[derive(Debug, Clone)]
pub enum NearMiss {
    Prefix(usize),
    ByteChanged(usize, u8),
    Extended(String),
    CaseFlipped(usize),
}

fn near_miss() -> impl Strategy<Value = NearMiss> {
    prop_oneof![
        (0usize..512).prop_map(NearMiss::Prefix),
        (0usize..512, 0x21u8..0x7f).prop_map(|(i, b)| NearMiss::ByteChanged(i, b)),
        "[!-~]{1,8}".prop_map(NearMiss::Extended),
        (0usize..512).prop_map(NearMiss::CaseFlipped),
    ]
}

fn apply(token: &str, m: &NearMiss) -> Option<(String, String)> {
    let b = token.as_bytes();
    let n = b.len();
    Some(match m {
        NearMiss::Prefix(k) => {
            let k = k % n;
            (
                token[..k].to_string(),
                format!("the first {k} of the admin token's {n} bytes"),
            )
        }
        NearMiss::ByteChanged(i, x) => {
            let i = i % n;
            let mut v = b.to_vec();
            let to = if v[i] == *x {
                if *x == b'~' { b'!' } else { x + 1 }
            } else {
                *x
            };
            let from = v[i];
            v[i] = to;
            (
                String::from_utf8(v).ok()?,
                format!(
                    "the admin token with byte {i} changed {:?}→{:?}",
                    from as char, to as char
                ),
            )
        }
        NearMiss::Extended(s) => (
            format!("{token}{s}"),
            format!("the admin token extended by {} bytes", s.len()),
        ),
        NearMiss::CaseFlipped(i) => {
            let letters: Vec<usize> = (0..n).filter(|j| b[*j].is_ascii_alphabetic()).collect();
            let j = *letters.get(i % letters.len().max(1))?;
            let mut v = b.to_vec();
            let from = v[j];
            let to = if from.is_ascii_uppercase() {
                from.to_ascii_lowercase()
            } else {
                from.to_ascii_uppercase()
            };
            v[j] = to;
            (
                String::from_utf8(v).ok()?,
                format!(
                    "the admin token with byte {j} changed case {:?}→{:?}",
                    from as char, to as char
                ),
            )
        }
    })
}

fn judge(ctx: &Ctx, request: Request, shape: String) -> Judged {
    super::judge_acceptance(ctx, request, shape, 3)
}

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let eps = endpoints(ctx);
    let admin_header = ctx.client.spec.auth.admin_token.header.clone();
    let key_header = ctx.client.spec.auth.api_key.header.clone();
    let a = ctx.client.spec.auth.access_token.clone();
    let tokens = if clauses.contains(&"AUTH-ADMIN-REFUSES-BEARER") {
        ctx.login()
    } else {
        None
    };
    if let (Some(token), Some(first)) = (ctx.var("admin_token"), eps.first()) {
        ctx.client.set_control(Some(with_header(
            ctx.request(first, &[]),
            &admin_header,
            token.to_string(),
        )));
    }
    for &clause in clauses {
        let seed = ctx.seed();
        if eps.is_empty() {
            out.push(skipped(
                clause,
                Status::Inconclusive,
                "the spec names no admin endpoint",
            ));
            continue;
        }
        let ep = |i: usize| ctx.request(&eps[i % eps.len()], &[]);
        let mut h = match clause {
            "AUTH-ADMIN-EXACT" => {
                let Some(token) = ctx
                    .var("admin_token")
                    .map(str::to_string)
                    .filter(|t| !t.is_empty())
                else {
                    out.push(skipped(
                        clause,
                        Status::Skipped,
                        "no admin token in the profile (admin_token)",
                    ));
                    continue;
                };
                hunt(
                    &ctx.client,
                    clause,
                    ctx.cases,
                    seed,
                    (near_miss(), 0..eps.len()),
                    |(m, e)| match apply(&token, m) {
                        Some((v, shape)) if v != token && v.trim() != token => judge(
                            ctx,
                            with_header(ep(*e), &admin_header, v),
                            format!("{shape} on {}", eps[*e]),
                        ),
                        _ => Judged::Held,
                    },
                )
            }
            "AUTH-ADMIN-REFUSES-APIKEY" => {
                let Some(key) = ctx.var("api_key").map(str::to_string) else {
                    out.push(skipped(
                        clause,
                        Status::Skipped,
                        "no API key in the profile (api_key)",
                    ));
                    continue;
                };
                hunt(
                    &ctx.client,
                    clause,
                    ctx.cases.min(8),
                    seed,
                    (any::<bool>(), 0..eps.len()),
                    |(in_admin, e)| {
                        let (h, where_) = if *in_admin {
                            (&admin_header, "in the admin header")
                        } else {
                            (&key_header, "in its own header")
                        };
                        judge(
                            ctx,
                            with_header(ep(*e), h, key.clone()),
                            format!("a valid API key {where_} on {}", eps[*e]),
                        )
                    },
                )
            }
            "AUTH-ADMIN-REFUSES-BEARER" => {
                let Some((access, _)) = tokens.clone() else {
                    out.push(skipped(
                        clause,
                        Status::Skipped,
                        "no login credentials (email, password), or the login failed",
                    ));
                    continue;
                };
                hunt(
                    &ctx.client,
                    clause,
                    ctx.cases.min(8),
                    seed,
                    (any::<bool>(), 0..eps.len()),
                    |(in_admin, e)| {
                        let r = if *in_admin {
                            with_header(ep(*e), &admin_header, access.clone())
                        } else {
                            with_header(ep(*e), &a.header, format!("{} {access}", a.scheme))
                        };
                        let where_ = if *in_admin {
                            "in the admin header"
                        } else {
                            "as a Bearer token"
                        };
                        judge(
                            ctx,
                            r,
                            format!("a valid access token {where_} on {}", eps[*e]),
                        )
                    },
                )
            }
            _ => continue,
        };
        h.about = format!("{clause} on {}", eps.join(", "));
        out.push(h);
    }
    out
}
