//! The rate-limit bypass battery (RL-NO-BYPASS): with a budget exhausted, what else a request
//! varies must not buy a fresh one. Limits are per identity; a limiter keyed on a forwarding
//! header the client writes, on the exact spelling of the path, or that charges only successes,
//! lets one identity past its limit. For each category, on a key created for it:
//!
//! - **Plain requests first.** The created key is exhausted with the unvaried request; if more
//!   were admitted than any reading allows, the limit itself does not hold (RL-*-LIMIT's) and
//!   client errors decide nothing.
//! - **Client errors count.** On a second created key, the category's client-error request (an unknown id, a malformed
//!   body) is first sent with a wrong key: a denial shows the server authenticates before it
//!   looks at the id or body, so the request is an authenticated one and must be charged (a
//!   server that rejects it before authenticating decides nothing). Then twice the limit plus a
//!   fifth is sent at once with the created key: more answered without a refusal than any
//!   reading allows in that span from any state (`rate::any_state`, straddle-proof) fails.
//! - **Variations.** The budget is exhausted (plain requests until the first refusal), then
//!   [`ROUNDS`] rounds each send every variation at once and, after their answers, the unvaried
//!   request. A variation is a bypass when it is admitted in every round while the unvaried
//!   request after it is refused in every round: a token that refilled goes to whichever
//!   request comes first, and a window that rolled over admits the unvaried request too, so
//!   only a budget of its own admits one variation round after round. A variation answered 404
//!   or 405 is routed elsewhere and decides nothing; the finding says so.

use std::time::Duration;

use super::scope::Scope;
use crate::error::Error;
use crate::probe::{Outcome, Request};
use crate::rate::Decision;
use crate::spec::Category;
use crate::verdict::{Evidence, Status};

/// Rounds of variations after the budget is exhausted.
const ROUNDS: usize = 3;
/// A documentation address: never a real client.
const FORGED_ADDRESS: &str = "203.0.113.7";

/// One category's battery input: its unvaried request (with the created key), its client-error
/// request (with the created key), and its limits.
pub struct Battery<'a> {
    pub clause: &'a str,
    pub category: &'a str,
    pub limits: Category,
    pub request: Request,
    /// The client-error request, with a second created key (fresh where keys have budgets of
    /// their own; spent by the first key's burst where they share one, which only weakens it).
    pub client_error: Option<Request>,
    /// The client-error request with a wrong key.
    pub client_error_unkeyed: Option<Request>,
    /// A POST endpoint's `returns` pointers at the request's path: a 2xx carrying them was
    /// served by that endpoint (a method override ignored), not by the unvaried one.
    pub created_pointers: Vec<String>,
    /// The unvaried endpoint's own `returns` pointers: a method-overridden request was served
    /// by it only if its answer carries them.
    pub own_pointers: Vec<String>,
}

/// A variation of the unvaried request: what it changes, and the request.
struct Variation {
    name: String,
    request: Request,
}

fn with_header(r: &Request, name: &str, value: &str) -> Request {
    let mut r = r.clone();
    r.headers.push((name.to_string(), value.to_string()));
    r
}

fn with_path(r: &Request, path: String) -> Request {
    let mut r = r.clone();
    r.path = path;
    r
}

/// The path and the query (with its `?`) of a request.
fn split(path: &str) -> (&str, &str) {
    match path.find('?') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    }
}

fn variations(r: &Request) -> Vec<Variation> {
    let mut out = Vec::new();
    let mut v = |name: &str, request: Request| {
        out.push(Variation {
            name: name.to_string(),
            request,
        })
    };
    for (header, value) in [
        ("X-Forwarded-For", FORGED_ADDRESS.to_string()),
        ("X-Forwarded-For", format!("{FORGED_ADDRESS}, 127.0.0.1")),
        ("X-Real-IP", FORGED_ADDRESS.to_string()),
        ("X-Client-IP", FORGED_ADDRESS.to_string()),
        ("X-Originating-IP", FORGED_ADDRESS.to_string()),
        ("True-Client-IP", FORGED_ADDRESS.to_string()),
        ("Forwarded", format!("for={FORGED_ADDRESS}")),
    ] {
        v(
            &format!("{header}: {value}"),
            with_header(r, header, &value),
        );
    }
    let (path, query) = split(&r.path);
    let first = path.trim_start_matches('/');
    if let Some(c) = first.chars().next().filter(char::is_ascii_alphabetic) {
        let rest = &first[1..];
        v(
            "the path's first letter in upper case",
            with_path(r, format!("/{}{rest}{query}", c.to_ascii_uppercase())),
        );
        v(
            "the path's first letter percent-encoded",
            with_path(r, format!("/%{:02X}{rest}{query}", c as u32)),
        );
    }
    if !path.ends_with('/') {
        v("a trailing slash", with_path(r, format!("{path}/{query}")));
    }
    v("a doubled slash", with_path(r, format!("/{path}{query}")));
    let sep = if query.is_empty() { '?' } else { '&' };
    v(
        "an added query parameter",
        with_path(r, format!("{}{sep}lelantos-conform-variation=1", r.path)),
    );
    let (method, overridden) = if r.method == reqwest::Method::GET {
        (reqwest::Method::POST, "GET")
    } else {
        (reqwest::Method::GET, r.method.as_str())
    };
    let mut o = with_header(r, "X-HTTP-Method-Override", overridden);
    o.method = method.clone();
    v(
        &format!("{method} with X-HTTP-Method-Override: {overridden}"),
        o,
    );
    out
}

/// How one variation's answer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Admitted,
    Refused,
    /// 404 or 405: another handler, or none.
    Elsewhere,
    /// Anything else (a denial, a 5xx, no answer, a success of another endpoint).
    Other,
}

fn read(b: &Battery, scope: &Scope, o: &Outcome, unvaried_method: bool) -> Read {
    match o.status() {
        Some(404 | 405) => Read::Elsewhere,
        status => match crate::rate::decision(&scope.target.spec, status) {
            Decision::Refused => Read::Refused,
            Decision::Admitted if status.is_some_and(|s| (200..300).contains(&s)) => {
                if unvaried_method {
                    return Read::Admitted;
                }
                // A method override: which handler answered? An ignored override reaches the
                // endpoint of the method sent, which counts against its own category.
                let json = o.response().and_then(|r| r.json());
                let has = |ps: &[String]| {
                    json.as_ref()
                        .is_some_and(|j| ps.iter().any(|p| j.pointer(p).is_some()))
                };
                let served_by_own = if b.request.method == reqwest::Method::GET {
                    !has(&b.created_pointers)
                } else {
                    !b.own_pointers.is_empty() && has(&b.own_pointers)
                };
                if served_by_own {
                    Read::Admitted
                } else {
                    Read::Other
                }
            }
            _ => Read::Other,
        },
    }
}

/// Runs the battery for one category and records its finding.
pub async fn run(b: &Battery<'_>, scope: &mut Scope<'_>) -> Result<(), Error> {
    let mut notes = Vec::new();
    let mut evidence = Vec::new();
    let mut failures = Vec::new();
    let first = std::time::Instant::now();
    let (exhausted, admitted) = exhaust(b, scope).await?;
    let spec = scope.target.spec.clone();
    let plain_bound = crate::rate::any_state(
        spec.rate_limits.algorithm,
        b.limits.limit,
        b.limits.window,
        first.elapsed().max(Duration::from_millis(1)),
    );
    if admitted as u64 > plain_bound.max {
        // The limit does not hold for plain requests either: RL-*-LIMIT's to judge; whether
        // client errors are counted cannot be told apart from it.
        notes.push(format!(
            "{}: {admitted} plain requests admitted before the first refusal (more than the {} any reading allows), so whether client errors are counted decides nothing",
            b.category, plain_bound.max
        ));
    } else {
        client_errors(b, scope, &mut notes, &mut failures, &mut evidence).await?;
    }
    if !exhausted {
        notes.push(format!(
            "{}: the budget could not be exhausted (no refusal in {} requests), so no variation was judged",
            b.category,
            exhaust_cap(b)
        ));
    } else {
        variation_rounds(b, scope, &mut notes, &mut failures, &mut evidence).await?;
    }
    let status = if !failures.is_empty() {
        Status::Fail
    } else if exhausted {
        Status::Pass
    } else {
        Status::Inconclusive
    };
    let reason = if failures.is_empty() {
        notes.join("; ")
    } else {
        format!("{}; {}", failures.join("; "), notes.join("; "))
    };
    scope.finding_with(
        b.clause,
        status,
        reason.clone(),
        Evidence {
            script: None,
            note: reason,
            exchanges: evidence,
        },
    );
    Ok(())
}

fn exhaust_cap(b: &Battery) -> usize {
    (b.limits.limit as usize) * 2 + 10
}

/// Plain requests, a few at a time, until the first refusal: whether one came, and how many
/// were admitted before.
async fn exhaust(b: &Battery<'_>, scope: &mut Scope<'_>) -> Result<(bool, usize), Error> {
    use futures::StreamExt;
    let cap = exhaust_cap(b);
    let mut sent = 0;
    let mut admitted = 0;
    while sent < cap {
        let n = 8.min(cap - sent);
        let (probe, health) = (scope.probe, scope.health);
        let outcomes: Vec<Result<Outcome, Error>> = futures::stream::iter(0..n)
            .map(|_| health.send(probe, b.request.clone()))
            .buffer_unordered(8)
            .collect()
            .await;
        sent += n;
        let mut refused = false;
        for o in outcomes {
            let o = o?;
            scope.requests += 1;
            match crate::rate::decision(&scope.target.spec, o.status()) {
                Decision::Refused => refused = true,
                Decision::Admitted => admitted += 1,
                _ => {}
            }
        }
        if refused {
            return Ok((true, admitted));
        }
    }
    Ok((false, admitted))
}

async fn client_errors(
    b: &Battery<'_>,
    scope: &mut Scope<'_>,
    notes: &mut Vec<String>,
    failures: &mut Vec<String>,
    evidence: &mut Vec<crate::verdict::Exchange>,
) -> Result<(), Error> {
    use futures::StreamExt;
    let (Some(req), Some(unkeyed)) = (&b.client_error, &b.client_error_unkeyed) else {
        return Ok(());
    };
    let cat = b.category;
    let probe_o = scope.send(unkeyed.clone()).await?;
    let spec = scope.target.spec.clone();
    match probe_o.status() {
        Some(s) if spec.auth.denial_statuses.contains(&s) => {}
        other => {
            notes.push(format!(
                "{cat}: the client-error request ({} {}) is answered {} without a valid key too: it is rejected before authentication, so it decides nothing about counting",
                req.method,
                split(&req.path).0,
                other.map_or("nothing".to_string(), |s| s.to_string())
            ));
            return Ok(());
        }
    }
    let limit = b.limits.limit as usize;
    let size = limit * 2 + (limit / 5).max(5);
    let first = std::time::Instant::now();
    let (probe, health) = (scope.probe, scope.health);
    let outcomes: Vec<Result<Outcome, Error>> = futures::stream::iter(0..size)
        .map(|_| health.send(probe, req.clone()))
        .buffer_unordered(16)
        .collect()
        .await;
    let span = first.elapsed();
    let mut passed = Vec::new();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for o in outcomes {
        let o = o?;
        scope.requests += 1;
        let label = o
            .status()
            .map_or("no answer".to_string(), |s| s.to_string());
        *statuses.entry(label).or_default() += 1;
        if matches!(crate::rate::decision(&spec, o.status()), Decision::Admitted) {
            passed.push(o);
        }
    }
    let bound = crate::rate::any_state(
        spec.rate_limits.algorithm,
        b.limits.limit,
        b.limits.window,
        span.max(Duration::from_millis(1)),
    );
    let answered = statuses
        .iter()
        .map(|(s, n)| format!("{n}x {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    let what = format!(
        "{} {} (an authenticated client error)",
        req.method,
        split(&req.path).0
    );
    if passed.is_empty() {
        notes.push(format!(
            "{cat}: all {size} requests of {what} were refused: the budget was already spent (the created keys share one), so whether client errors are counted is not decided"
        ));
    } else if passed.len() as u64 > bound.max {
        failures.push(format!(
            "{cat}: client errors are not counted: {} of {size} requests of {what} passed the limiter in {} ms; {} allow at most {}",
            passed.len(),
            span.as_millis(),
            bound.readings,
            bound.max
        ));
        evidence.extend(passed.iter().rev().take(2).map(|o| scope.probe.exchange(o)));
    } else {
        notes.push(format!(
            "{cat}: {what} counted: {} of {size} passed the limiter in {} ms (at most {}; answers {answered})",
            passed.len(),
            span.as_millis(),
            bound.max
        ));
    }
    Ok(())
}

async fn variation_rounds(
    b: &Battery<'_>,
    scope: &mut Scope<'_>,
    notes: &mut Vec<String>,
    failures: &mut Vec<String>,
    evidence: &mut Vec<crate::verdict::Exchange>,
) -> Result<(), Error> {
    let cat = b.category;
    let vs = variations(&b.request);
    let mut reads: Vec<Vec<Read>> = vec![Vec::new(); vs.len()];
    let mut last: Vec<Option<Outcome>> = vec![None; vs.len()];
    let mut control_refused = 0;
    for round in 0..ROUNDS {
        let (probe, health) = (scope.probe, scope.health);
        // Each round starts the list at another place: a token that refills while a round is
        // sent goes to the first requests, and no variation may be first in every round.
        let order: Vec<usize> = (0..vs.len())
            .map(|k| (k + round * vs.len() / ROUNDS) % vs.len())
            .collect();
        let sent = futures::future::join_all(
            order
                .iter()
                .map(|&i| health.send(probe, vs[i].request.clone())),
        )
        .await;
        for (&i, o) in order.iter().zip(sent) {
            let o = o?;
            scope.requests += 1;
            let same_method = vs[i].request.method == b.request.method;
            reads[i].push(read(b, scope, &o, same_method));
            last[i] = Some(o);
        }
        let control = scope.send(b.request.clone()).await?;
        if crate::rate::decision(&scope.target.spec, control.status()) == Decision::Refused {
            control_refused += 1;
        }
    }
    let mut held = Vec::new();
    let mut elsewhere = Vec::new();
    let mut other = Vec::new();
    for (i, v) in vs.iter().enumerate() {
        let r = &reads[i];
        if r.iter().all(|x| *x == Read::Admitted) && control_refused == ROUNDS {
            failures.push(format!(
                "{cat}: bypass by {}: admitted in all {ROUNDS} rounds while the unvaried request after it was refused",
                v.name
            ));
            if let Some(o) = &last[i] {
                evidence.push(scope.probe.exchange(o));
            }
        } else if r.contains(&Read::Elsewhere) {
            elsewhere.push(v.name.clone());
        } else if r.iter().all(|x| *x == Read::Refused) {
            held.push(v.name.clone());
        } else {
            other.push(v.name.clone());
        }
    }
    notes.push(format!(
        "{cat}: with the budget exhausted, {} of {} variations refused in every round{}{}",
        held.len(),
        vs.len(),
        if elsewhere.is_empty() {
            String::new()
        } else {
            format!(
                "; routed elsewhere (404/405, decides nothing about the limit): {}",
                elsewhere.join(", ")
            )
        },
        if other.is_empty() {
            String::new()
        } else {
            format!(
                "; not admitted every round, or answered otherwise (no bypass): {}",
                other.join(", ")
            )
        }
    ));
    if control_refused < ROUNDS {
        notes.push(format!(
            "{cat}: the unvaried request was admitted in {} of {ROUNDS} rounds (a refill or a new window), so no variation could be judged a bypass",
            ROUNDS - control_refused
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        Request {
            method: reqwest::Method::GET,
            path: path.into(),
            headers: vec![("X-API-Key".into(), "lel_x".into())],
            body: None,
            category: Some("general".into()),
        }
    }

    #[test]
    fn path_variations_keep_the_query_and_the_credential() {
        let vs = variations(&get("/sandboxes/abc/files?path=a.txt"));
        let paths: Vec<&str> = vs.iter().map(|v| v.request.path.as_str()).collect();
        for p in [
            "/Sandboxes/abc/files?path=a.txt",
            "/%73andboxes/abc/files?path=a.txt",
            "/sandboxes/abc/files/?path=a.txt",
            "//sandboxes/abc/files?path=a.txt",
            "/sandboxes/abc/files?path=a.txt&lelantos-conform-variation=1",
        ] {
            assert!(paths.contains(&p), "{p} not in {paths:?}");
        }
        assert!(vs.iter().all(|v| v.request.headers[0].1 == "lel_x"));
        let o = vs.iter().find(|v| v.name.contains("Override")).unwrap();
        assert_eq!(o.request.method, reqwest::Method::POST);
        assert_eq!(
            vs.iter()
                .filter(|v| v.name.starts_with("X-Forwarded-For"))
                .count(),
            2
        );
    }
}
