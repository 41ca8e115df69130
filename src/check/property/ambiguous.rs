//! Ambiguous credentials (AUTH-AMBIGUOUS-CREDENTIALS, `should`): a request carrying two
//! different credentials must act as one identity, or be refused. Which one wins is the server's
//! choice (the first field, the last, a joined `a, b` that matches nothing, a preference for one
//! kind); what is checked is only what a client can see go wrong:
//! - **Limited as the other one.** An unknown key beside a fresh valid key, in either order,
//!   with a new unknown key on every request: a server that authenticates with the valid key but
//!   charges the unknown one admits without limit. No refusal in three limits' worth, with more
//!   admissions than one identity's general limit allows (the RL-* burst bound,
//!   `crate::rate::from_fresh`), fails the clause; a limiter that merely over-admits still
//!   refuses, and is the RL-*-LIMIT clauses' finding.
//! - **Scoped by the other one.** Two teams' keys (either order), or a key beside another team's
//!   access token: one request shape that reads a sandbox of each team saw both teams' data.
//!
//! The same key sent twice is not ambiguous and is not sent. The cases are fixed, not generated:
//! each is one of the few shapes above, and a failure is re-run once on a fresh key (a fixed
//! window may roll over mid-burst) before it counts.

use std::sync::Mutex;

use rand::Rng;
use rand::SeedableRng;

use super::limits::{fresh_identity, revoke};
use super::{Ctx, Hunt, Judged, accepted, each, skipped, with_header};
use crate::probe::{Outcome, Request};
use crate::rate::{self, Decision};
use crate::verdict::Status;

/// Requests in flight during a burst: fast, so the refill allowance stays small.
const CONCURRENCY: usize = 16;

/// One fixed case: it draws its unknown keys from the hunt's random source.
type Case<'a> = Box<dyn Fn(&mut crate::seed::SeededRng) -> Judged + 'a>;

/// A key of the valid key's length and prefix that no one was issued.
fn unknown_key(rng: &mut impl Rng, prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let body: String = (0..len.saturating_sub(prefix.len()).max(16))
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

/// `3 x limit` requests to the general endpoint, each with an unknown key (a new one each
/// time) beside a fresh valid key, `unknown_first` deciding the order of the two fields.
fn limited_as_the_other(
    ctx: &Ctx,
    unknown_first: bool,
    created: &Mutex<Vec<String>>,
    rng: &mut impl Rng,
) -> Judged {
    let spec = ctx.client.spec.clone();
    let header = spec.auth.api_key.header.clone();
    let Some(endpoint) = spec.endpoint("list_sandboxes") else {
        return Judged::Unjudged;
    };
    let Some(cat) = spec.category(&endpoint.category).copied() else {
        return Judged::Unjudged;
    };
    let Some((key, _, _)) = fresh_identity(ctx, false, created) else {
        return Judged::Unjudged;
    };
    // Three times the limit: a server that charges the unknown key admits them all, far past
    // the bound even when a loaded machine stretches the burst and its refill allowance.
    let n = 3 * cat.limit.max(1);
    let requests: Vec<Request> = (0..n)
        .map(|_| {
            let other = unknown_key(rng, &spec.auth.api_key.prefix, key.len());
            let (a, b) = if unknown_first {
                (other, key.clone())
            } else {
                (key.clone(), other)
            };
            with_header(
                with_header(ctx.request("list_sandboxes", &[]), &header, a),
                &header,
                b,
            )
        })
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(CONCURRENCY) {
        let Some(mut o) = ctx.client.send_all(chunk.to_vec()) else {
            return Judged::Unjudged;
        };
        outcomes.append(&mut o);
    }
    // Served (2xx): a server may answer ambiguous credentials 400 before its limiter runs.
    let admitted: Vec<&Outcome> = outcomes.iter().filter(|o| accepted(o)).collect();
    let from = outcomes
        .iter()
        .map(|o| o.at_ms)
        .fold(f64::INFINITY, f64::min);
    let from = if from.is_finite() { from } else { 0.0 };
    let to = admitted.iter().map(|o| o.done_ms()).fold(from, f64::max);
    let span = std::time::Duration::from_secs_f64((to - from).max(0.0) / 1000.0);
    let bound = rate::from_fresh(spec.rate_limits.algorithm, cat.limit, cat.window, span);
    // Charged as the unknown key (a new one each time), nothing is ever refused; a limiter that
    // only over-admits for the valid key still refuses within three limits' worth, and that is
    // the RL-*-LIMIT clauses' finding, not this one's.
    let refused = outcomes
        .iter()
        .any(|o| rate::decision(&spec, o.status()) == Decision::Refused);
    if !refused && admitted.len() as u64 > bound.max {
        let order = if unknown_first {
            "an unknown key, then a fresh valid key"
        } else {
            "a fresh valid key, then an unknown key"
        };
        return Judged::Broke(
            format!(
                "{} of {n} requests with two {header} fields ({order}; a new unknown key each time) were admitted over {:.0} ms and none refused; one identity's {} allow at most {}: the request was authenticated by one key and rate-limited by the other",
                admitted.len(),
                to - from,
                bound.readings,
                bound.max
            ),
            admitted
                .iter()
                .rev()
                .take(2)
                .map(|o| (*o).clone())
                .collect(),
        );
    }
    Judged::Held
}

/// Reads a sandbox of each team with the same pair of credentials: both read means the request
/// was scoped by both.
fn scoped_by_both(
    ctx: &Ctx,
    pair: &[(String, String)],
    shape: &str,
    own: &str,
    other: &str,
) -> Judged {
    let get = |id: &str| {
        let mut r = ctx.request("get_sandbox", &[("id", id)]);
        for (name, value) in pair {
            r = with_header(r, name, value.clone());
        }
        ctx.client.send_paced(r, 2)
    };
    let (Some(a), Some(b)) = (get(own), get(other)) else {
        return Judged::Unjudged;
    };
    let over = ctx.client.spec.rate_limits.over_limit.status;
    if a.status() == Some(over) || b.status() == Some(over) {
        return Judged::Unjudged;
    }
    if accepted(&a) && accepted(&b) {
        return Judged::Broke(
            format!("{shape}: one request shape read a sandbox of each team"),
            vec![a, b],
        );
    }
    Judged::Held
}

/// The first team's sandbox: created through its key (paced), its id from the spec's pointer.
fn own_sandbox(ctx: &Ctx, key: &str) -> Option<String> {
    let spec = &ctx.client.spec;
    let o = ctx.client.send_paced(
        with_header(
            ctx.request("create_sandbox", &[]),
            &spec.auth.api_key.header,
            key,
        ),
        3,
    )?;
    let body = o.response()?.json()?;
    let pointer = spec.endpoint("create_sandbox")?.returns.get("id")?;
    Some(match body.pointer(pointer)? {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    for &clause in clauses {
        let Some(key) = ctx.var("api_key").map(str::to_string) else {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no API key in the profile (api_key)",
            ));
            continue;
        };
        let rng = crate::seed::SeededRng::from_seed(ctx.seed());
        let spec = ctx.client.spec.clone();
        let h = spec.auth.api_key.header.clone();
        let created = Mutex::new(Vec::new());
        let mut cases: Vec<(String, Case<'_>)> = Vec::new();
        if spec.endpoint("create_api_key").is_some() {
            for unknown_first in [true, false] {
                let created = &created;
                cases.push((
                    "limited as the other key".into(),
                    Box::new(move |rng| limited_as_the_other(ctx, unknown_first, created, rng)),
                ));
            }
        }
        let other_key = ctx.var("api_key_other_team").map(str::to_string);
        let other_sandbox = ctx.var("other_team_sandbox").map(str::to_string);
        let mut scope_note = None;
        match (&other_key, &other_sandbox, own_sandbox(ctx, &key)) {
            (Some(b), Some(other), Some(own)) => {
                let mut pairs = vec![
                    (
                        vec![(h.clone(), key.clone()), (h.clone(), b.clone())],
                        format!("two {h} fields, the first team's key then the second's"),
                    ),
                    (
                        vec![(h.clone(), b.clone()), (h.clone(), key.clone())],
                        format!("two {h} fields, the second team's key then the first's"),
                    ),
                ];
                if let Some((access, _)) = ctx.login() {
                    let a = &spec.auth.access_token;
                    pairs.push((
                        vec![
                            (h.clone(), b.clone()),
                            (a.header.clone(), format!("{} {access}", a.scheme)),
                        ],
                        format!("the second team's key in {h} beside the user's access token"),
                    ));
                }
                for (pair, shape) in pairs {
                    let (own, other) = (own.clone(), other.clone());
                    cases.push((
                        shape.clone(),
                        Box::new(move |_| scoped_by_both(ctx, &pair, &shape, &own, &other)),
                    ));
                }
            }
            _ => {
                scope_note = Some(
                    "scope cases not sent (they need api_key_other_team, other_team_sandbox and a sandbox of the first team)",
                );
            }
        }
        if cases.is_empty() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "neither key management (for a fresh key) nor a second team's key and sandbox: nothing to send",
            ));
            continue;
        }
        let names: Vec<String> = cases.iter().map(|(n, _)| n.clone()).collect();
        // Each case once; a failure once more before it counts (a fixed window rolling over
        // mid-burst).
        let rng = Mutex::new(rng);
        let mut hunt = each(&ctx.client, clause, &cases, |(_, case)| {
            case(&mut rng.lock().expect("lock"))
        });
        hunt.about = format!(
            "two different credentials in one request: {}{}",
            names.join("; "),
            scope_note.map(|n| format!("; {n}")).unwrap_or_default()
        );
        drop(cases);
        let created = created.into_inner().expect("lock");
        if !created.is_empty() {
            let revoked = revoke(ctx, &created);
            hunt.about.push_str(&format!(
                "; {revoked} of the {} API keys it created revoked afterwards",
                created.len()
            ));
        }
        out.push(hunt);
    }
    out
}
