//! Verdicts under load, from the client's timestamps only.
//!
//! **Admission accounting** (per identity and category). The server decided each request at some
//! instant between the client sending it and receiving its answer. Take admitted requests `i..=j`
//! in order of sending: all of them were decided inside `[sent_i, max answered]`, a span `L` the
//! client measured. The spec's reading (specs/lelantos.yaml, RL-*-LIMIT) admits, from any state,
//! at most `limit + floor(limit x L / window)` under a token bucket, GCRA or sliding log, and under
//! fixed windows (which "may roll over") `limit` in each window the span touches:
//! `ceil(L/window) + 1` windows for `L > 0`, one for `L = 0`. The bound is the larger of the two, i.e. exactly one
//! window edge of tolerance and nothing more. Every such run `i..=j` with more admitted requests
//! than the bound is over-admission; the report gives the worst (largest excess) with its span.
//! Runs are scanned up to `3 x limit + 1` requests from each start (past that, a span under two
//! windows would already be over), and the whole swarm is checked as one span too.
//!
//! **Refusals**: every 429 has a Retry-After that is a whole number of seconds in
//! `1..=ceil(window)` and the documented body with the same number (every one checked, counted).
//! A retry sent after waiting Retry-After must be admitted unless another request of the same
//! identity and category could have been admitted in between (a shared key's other users may
//! take the budget the Retry-After promised); with a key per user this is strict.
//!
//! **Independence**: a 429 in a category is explained by that category only if at least
//! `limit - 1` requests of the identity there were admitted in the window before it (counted
//! generously: every admission answered after `sent - window`). Fixed windows, sliding logs, token
//! buckets and GCRA all refuse only then; a refusal without that is a budget spent elsewhere.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::record::Observed;
use crate::scenario::threshold::Metric;
use crate::scenario::{On429, Swarm};
use crate::spec::Category;
use crate::verdict::{Evidence, Finding, Status};

/// One identity's accounting in one category.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub identity: u32,
    pub category: String,
    pub limit: u32,
    pub window_ms: u64,
    pub admitted: u64,
    /// The largest excess over the bound found, with its span (0: within the reading).
    pub over_admitted: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<Worst>,
    /// Admitted requests per window-long slice of the swarm (from its start), for the chart.
    pub per_window: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Worst {
    pub from_ms: f64,
    pub to_ms: f64,
    pub admitted: u64,
    pub allowed: u64,
}

/// What the spec's reading allows to be admitted within a span of `span_ns` (every reading:
/// `crate::rate::any_state`).
pub fn allowed(limit: u32, window: Duration, span_ns: u64) -> u64 {
    crate::rate::any_state_max(limit, window, Duration::from_nanos(span_ns))
}

/// Over-admission of one identity in one category; `admitted` sorted by sending time.
///
/// The result is that of considering every run `i..=j` of up to `3 x limit + 1` requests in order
/// (the worst is the first largest excess), in linear time: for `limit >= 1` a run's bound takes
/// only three values below `3 x limit + 1` (`limit` for a span of 0, `2 x limit` up to one
/// window, `3 x limit` up to two, at least `4 x limit` past that), so from each start only the
/// longest run within each of those spans can be the worst, and the span only grows with `j`:
/// three pointers that never move back find them. The unit test checks it against the plain scan.
pub fn account(admitted: &[(u64, u64)], limit: u32, window: Duration) -> (u64, Option<Worst>) {
    let mut best: (u64, Option<Worst>) = (0, None);
    let consider = |best: &mut (u64, Option<Worst>), i: usize, j: usize, end: u64| {
        let span = end.saturating_sub(admitted[i].0);
        let n = (j - i + 1) as u64;
        let bound = allowed(limit, window, span);
        if n > bound && n - bound > best.0 {
            *best = (
                n - bound,
                Some(Worst {
                    from_ms: admitted[i].0 as f64 / 1e6,
                    to_ms: end as f64 / 1e6,
                    admitted: n,
                    allowed: bound,
                }),
            );
        }
    };
    let len = admitted.len();
    if limit == 0 {
        // Runs of one request: each is over.
        for (i, a) in admitted.iter().enumerate() {
            consider(&mut best, i, i, a.1);
        }
    } else {
        let l = limit as usize;
        let w = window.as_nanos().min(u128::from(u64::MAX)) as u64;
        // Per span limit (0, one window, two): the first index at or after `i` answered past
        // `sent_i + limit`; it only moves forward as `i` (and so `sent_i`) grows.
        let mut past = [0usize; 3];
        for i in 0..len {
            let sent = admitted[i].0;
            let last = (i + 3 * l).min(len - 1);
            let mut region_start = i;
            for (r, k) in past.iter_mut().enumerate() {
                let limit_at = sent.saturating_add(w.saturating_mul(r as u64));
                *k = (*k).max(i);
                while *k < len && admitted[*k].1 <= limit_at {
                    *k += 1;
                }
                // The longest run from `i` within this span, if it adds requests.
                let Some(j) = k.checked_sub(1).map(|j| j.min(last)) else {
                    continue;
                };
                if j < region_start {
                    continue;
                }
                region_start = j + 1;
                let n = j - i + 1;
                // Its bound is `(r + 1) x limit`; only a run that could beat the worst so far
                // is measured exactly (its end scanned, its bound computed).
                if n as u64 > (r as u64 + 1) * u64::from(limit) + best.0 {
                    let end = admitted[i..=j].iter().map(|a| a.1).max().unwrap_or(0);
                    consider(&mut best, i, j, end);
                }
            }
        }
    }
    if let Some(last) = len.checked_sub(1) {
        let end = admitted.iter().map(|a| a.1).max().unwrap_or(0);
        consider(&mut best, 0, last, end);
    }
    best
}

pub struct Judged {
    pub findings: Vec<Finding>,
    pub accounts: Vec<Account>,
    pub unexplained_refusals: u64,
    pub retries: u64,
    pub retries_refused: u64,
    pub thresholds: Vec<ThresholdResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdResult {
    pub threshold: String,
    pub observed: f64,
    pub holds: bool,
}

pub fn judge(
    load: &Swarm,
    scenario: &str,
    categories: &[(String, Category)],
    obs: &Observed,
    elapsed: Duration,
    interrupted: bool,
) -> Judged {
    let mut findings = Vec::new();
    let mut find = |clause: &Option<String>, status: Status, why: String, ev: Vec<String>| {
        if let Some(c) = clause {
            let mut f = Finding::new(c, status, scenario, why);
            if !ev.is_empty() {
                f = f.with_evidence(Evidence {
                    script: None,
                    note: ev.join("\n"),
                    exchanges: Vec::new(),
                });
            }
            findings.push(f);
        }
    };
    let examples = |prefix: &str| -> Vec<String> {
        obs.checks
            .examples
            .iter()
            .filter(|e| e.starts_with(prefix))
            .take(5)
            .cloned()
            .collect()
    };

    // Admission accounting.
    let mut accounts = Vec::new();
    for ((identity, cat), admitted) in &obs.admitted {
        let Some((name, c)) = categories.get(*cat as usize) else {
            continue;
        };
        let (over, worst) = account(admitted, c.limit, c.window);
        let w = c.window.as_nanos().max(1) as u64;
        let mut per_window = vec![0u64; (elapsed.as_nanos() as u64 / w + 1) as usize];
        for (sent, _) in admitted {
            let k = (sent / w) as usize;
            if k >= per_window.len() {
                per_window.resize(k + 1, 0);
            }
            per_window[k] += 1;
        }
        accounts.push(Account {
            identity: *identity,
            category: name.clone(),
            limit: c.limit,
            window_ms: c.window.as_millis() as u64,
            admitted: admitted.len() as u64,
            over_admitted: over,
            worst,
            per_window,
        });
    }
    for (cat, clause) in &load.written.limit_clauses {
        let mine: Vec<&Account> = accounts.iter().filter(|a| &a.category == cat).collect();
        let clause = Some(clause.clone());
        let over: Vec<&&Account> = mine.iter().filter(|a| a.over_admitted > 0).collect();
        let admitted: u64 = mine.iter().map(|a| a.admitted).sum();
        if mine.is_empty() {
            find(
                &clause,
                Status::Inconclusive,
                format!("no request of category {cat} was admitted during the swarm"),
                vec![],
            );
        } else if over.is_empty() {
            find(
                &clause,
                Status::Pass,
                format!(
                    "{admitted} admitted {cat} requests over {}, never more than the reading allows in any span (limit x windows touched, refill allowance)",
                    crate::plural::count(mine.len() as u64, "identity")
                ),
                vec![],
            );
        } else {
            let ev = over
                .iter()
                .take(5)
                .filter_map(|a| {
                    a.worst.as_ref().map(|w| {
                        let span = Duration::from_secs_f64((w.to_ms - w.from_ms).max(0.0) / 1000.0);
                        let bound = crate::rate::any_state(
                            crate::spec::Algorithm::Any,
                            a.limit,
                            Duration::from_millis(a.window_ms),
                            span,
                        );
                        format!(
                            "identity-{}: {} admitted between {:.1} ms and {:.1} ms, at most {} allowed ({})",
                            a.identity, w.admitted, w.from_ms, w.to_ms, w.allowed, bound.readings
                        )
                    })
                })
                .collect();
            let worst = over.iter().map(|a| a.over_admitted).max().unwrap_or(0);
            find(
                &clause,
                Status::Fail,
                format!(
                    "over-admission under load: {} of {} admitted more {cat} requests than the limit allows (worst excess {worst})",
                    over.len(),
                    crate::plural::count(mine.len() as u64, "identity")
                ),
                ev,
            );
        }
    }

    // Every 429 checked.
    let ch = &obs.checks;
    let none_seen = || "no 429 during the swarm: nothing to check".to_string();
    for (clause, bad, what, prefix) in [
        (
            &load.written.retry_after_clause,
            ch.retry_after_invalid,
            "without a valid Retry-After",
            "retry-after:",
        ),
        (
            &load.written.body_clause,
            ch.body_invalid,
            "without the documented body",
            "body:",
        ),
    ] {
        if ch.refusals == 0 {
            find(clause, Status::Inconclusive, none_seen(), vec![]);
        } else if bad == 0 {
            find(
                clause,
                Status::Pass,
                format!("all {} 429s checked", ch.refusals),
                vec![],
            );
        } else {
            find(
                clause,
                Status::Fail,
                format!("{bad} of {} 429s {what}", ch.refusals),
                examples(prefix),
            );
        }
    }

    // Retries after Retry-After.
    let mut retries_refused = 0u64;
    let mut retry_ev = Vec::new();
    for r in obs.retries.iter().filter(|r| !r.admitted) {
        // Another admission of the same identity and category after the refusal and before the
        // retry's answer may have taken the budget the Retry-After promised.
        let taken = obs
            .admitted
            .get(&(r.identity, r.category))
            .is_some_and(|v| {
                v.iter()
                    .any(|(s, a)| *a > r.refused_sent_ns && *s < r.recv_ns && *s != r.sent_ns)
            });
        if !taken {
            retries_refused += 1;
            if retry_ev.len() < 5 {
                retry_ev.push(format!(
                    "identity-{}: retry at {:.1} ms after honouring Retry-After answered {}",
                    r.identity,
                    r.sent_ns as f64 / 1e6,
                    r.status
                        .map_or("a transport error".into(), |s| s.to_string())
                ));
            }
        }
    }
    let retries = obs.retries.len() as u64;
    if load.on_429 == On429::Honour {
        if retries == 0 {
            find(
                &load.written.retry_admits_clause,
                Status::Inconclusive,
                "no retry after Retry-After during the swarm".into(),
                vec![],
            );
        } else if retries_refused == 0 {
            find(
                &load.written.retry_admits_clause,
                Status::Pass,
                format!(
                    "{retries} retries after honouring Retry-After: each admitted, or its budget taken by another admitted request"
                ),
                vec![],
            );
        } else {
            find(
                &load.written.retry_admits_clause,
                Status::Fail,
                format!(
                    "{retries_refused} of {retries} retries after honouring Retry-After were refused with nothing else admitted meanwhile"
                ),
                retry_ev,
            );
        }
    }

    // Independence: refusals unexplained by their own category's admissions.
    let mut unexplained = 0u64;
    let mut ind_ev = Vec::new();
    if load.written.independence_clause.is_some() {
        for r in &obs.refusals {
            let Some((name, c)) = categories.get(r.category as usize) else {
                continue;
            };
            let w = c.window.as_nanos() as u64;
            let from = r.sent_ns.saturating_sub(w);
            let n = obs.admitted.get(&(r.identity, r.category)).map_or(0, |v| {
                v.iter()
                    .filter(|(s, a)| *a >= from && *s <= r.recv_ns)
                    .count()
            });
            if (n as u64) + 1 < u64::from(c.limit) {
                unexplained += 1;
                if ind_ev.len() < 5 {
                    ind_ev.push(format!(
                        "identity-{}: 429 in {name} at {:.1} ms with only {n} admitted there in the window before",
                        r.identity,
                        r.sent_ns as f64 / 1e6
                    ));
                }
            }
        }
        if obs.refusals.is_empty() {
            find(
                &load.written.independence_clause,
                Status::Inconclusive,
                "no 429 during the swarm: independence not exercised".into(),
                vec![],
            );
        } else if unexplained == 0 {
            find(
                &load.written.independence_clause,
                Status::Pass,
                format!(
                    "every one of {} 429s is explained by its own category's admissions",
                    obs.refusals.len()
                ),
                vec![],
            );
        } else {
            find(
                &load.written.independence_clause,
                Status::Fail,
                format!(
                    "{unexplained} of {} 429s came with fewer than limit - 1 admissions in their own category in the window before",
                    obs.refusals.len()
                ),
                ind_ev,
            );
        }
    }

    // Refresh tokens under the storm.
    if ch.refresh_rotations == 0 {
        find(
            &load.written.refresh_clause,
            Status::Inconclusive,
            "no refresh succeeded during the storm".into(),
            vec![],
        );
    } else if ch.replays_admitted == 0 {
        find(
            &load.written.refresh_clause,
            Status::Pass,
            format!(
                "{} rotations; every replay of a used token refused ({} refused, {} throttled)",
                ch.refresh_rotations, ch.replays_refused, ch.replays_throttled
            ),
            vec![],
        );
    } else {
        find(
            &load.written.refresh_clause,
            Status::Fail,
            format!(
                "{} used refresh tokens were accepted again under the storm ({} rotations)",
                ch.replays_admitted, ch.refresh_rotations
            ),
            examples("refresh:"),
        );
    }

    // 5xx and connections.
    let requests = obs.requests();
    let five = obs.five_xx();
    if five == 0 {
        find(
            &load.written.no_5xx_clause,
            Status::Pass,
            format!("no 5xx in {requests} requests"),
            vec![],
        );
    } else {
        find(
            &load.written.no_5xx_clause,
            Status::Fail,
            format!("{five} of {requests} requests answered 5xx"),
            vec![],
        );
    }
    if obs.errors == 0 {
        find(
            &load.written.connections_clause,
            Status::Pass,
            format!("no transport error in {requests} requests"),
            vec![],
        );
    } else {
        find(
            &load.written.connections_clause,
            Status::Fail,
            format!(
                "{} of {requests} requests ended in a transport error",
                obs.errors
            ),
            obs.error_examples.clone(),
        );
    }

    // Thresholds.
    let overall = obs.overall();
    let ms = |q: f64| overall.value_at_quantile(q) as f64 / 1000.0;
    let over_admitted: u64 = accounts.iter().map(|a| a.over_admitted).sum();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut results = Vec::new();
    for t in &load.thresholds {
        let observed = match t.metric {
            Metric::P50 => ms(0.5),
            Metric::P90 => ms(0.9),
            Metric::P99 => ms(0.99),
            Metric::P999 => ms(0.999),
            Metric::Max => overall.max() as f64 / 1000.0,
            Metric::Mean => overall.mean() / 1000.0,
            Metric::Errors => obs.errors as f64,
            Metric::FiveXx => five as f64,
            Metric::Requests => requests as f64,
            Metric::OverAdmitted => over_admitted as f64,
            Metric::Violations => {
                (ch.retry_after_invalid + ch.body_invalid + retries_refused + ch.replays_admitted)
                    as f64
            }
            Metric::Rps => requests as f64 / secs,
        };
        results.push(ThresholdResult {
            threshold: t.text.clone(),
            observed,
            holds: t.holds(observed),
        });
    }
    if !results.is_empty() {
        let failed: Vec<String> = results
            .iter()
            .filter(|r| !r.holds)
            .map(|r| format!("{} (observed {:.3})", r.threshold, r.observed))
            .collect();
        if failed.is_empty() {
            find(
                &load.written.thresholds_clause,
                Status::Pass,
                format!("{} thresholds hold", results.len()),
                vec![],
            );
        } else {
            find(
                &load.written.thresholds_clause,
                Status::Fail,
                format!("thresholds failed: {}", failed.join("; ")),
                vec![],
            );
        }
    }
    if interrupted {
        for f in &mut findings {
            f.reason = format!("{} (swarm interrupted)", f.reason);
        }
    }
    Judged {
        findings,
        accounts,
        unexplained_refusals: unexplained,
        retries,
        retries_refused,
        thresholds: results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(2);
    const MS: u64 = 1_000_000;

    #[test]
    fn bound_is_one_window_edge_of_tolerance() {
        assert_eq!(allowed(10, W, 0), 10);
        assert_eq!(allowed(10, W, MS), 20);
        assert_eq!(allowed(10, W, 2000 * MS), 20);
        assert_eq!(allowed(10, W, 2001 * MS), 30);
    }

    #[test]
    fn a_fixed_window_straddle_is_within_and_a_third_burst_is_not() {
        // 10 just before an edge, 10 just after: the reading allows it.
        let mut a: Vec<(u64, u64)> = (0..20).map(|i| (i * MS, i * MS + MS / 2)).collect();
        assert_eq!(account(&a, 10, W).0, 0);
        // 5 more within the same 20 ms: over by 5.
        a.extend((20..25).map(|i| (i * MS, i * MS + MS / 2)));
        let (over, worst) = account(&a, 10, W);
        assert_eq!(over, 5);
        assert_eq!(worst.unwrap().allowed, 20);
    }

    /// Every run up to `3 x limit + 1` in order, the first largest excess kept: what `account`
    /// must agree with, worst run included.
    fn account_plainly(
        admitted: &[(u64, u64)],
        limit: u32,
        window: Duration,
    ) -> (u64, Option<Worst>) {
        let cap = 3 * limit as usize + 1;
        let mut best: (u64, Option<Worst>) = (0, None);
        let mut consider = |i: usize, j: usize, end: u64| {
            let n = (j - i + 1) as u64;
            let bound = allowed(limit, window, end.saturating_sub(admitted[i].0));
            if n > bound && n - bound > best.0 {
                best = (
                    n - bound,
                    Some(Worst {
                        from_ms: admitted[i].0 as f64 / 1e6,
                        to_ms: end as f64 / 1e6,
                        admitted: n,
                        allowed: bound,
                    }),
                );
            }
        };
        for i in 0..admitted.len() {
            let mut end = 0;
            for (j, a) in admitted.iter().enumerate().skip(i).take(cap) {
                end = end.max(a.1);
                consider(i, j, end);
            }
        }
        if let Some(last) = admitted.len().checked_sub(1) {
            let end = admitted.iter().map(|a| a.1).max().unwrap_or(0);
            consider(0, last, end);
        }
        best
    }

    proptest::proptest! {
        #[test]
        fn linear_accounting_agrees_with_the_plain_scan(
            limit in 0u32..6,
            gaps in proptest::collection::vec((0usize..5, 0usize..3), 0..60),
        ) {
            // Sent times ascending (often equal), each answered 0, 5 or 200 ms later: spans of 0,
            // under a window and over several windows all occur.
            const GAP_MS: [u64; 5] = [0, 0, 10, 100, 600];
            const SERVICE_MS: [u64; 3] = [0, 5, 200];
            let mut sent = 0;
            let admitted: Vec<(u64, u64)> = gaps
                .iter()
                .map(|&(gap, service)| {
                    sent += GAP_MS[gap] * MS;
                    (sent, sent + SERVICE_MS[service] * MS)
                })
                .collect();
            let window = Duration::from_millis(500);
            proptest::prop_assert_eq!(
                account(&admitted, limit, window),
                account_plainly(&admitted, limit, window)
            );
        }
    }

    #[test]
    fn allowed_agrees_in_u64_and_u128() {
        let huge = u64::MAX / 3;
        let w = Duration::from_secs(60);
        let exact = |limit: u64, span: u64| {
            let extra = (u128::from(limit) * u128::from(span) / w.as_nanos()) as u64;
            (limit + extra).max(limit * (span.div_ceil(w.as_nanos() as u64) + 1))
        };
        for (limit, span) in [(100, huge), (100, 59 * 1_000_000_000), (7, u64::MAX / 8)] {
            assert_eq!(allowed(limit as u32, w, span), exact(limit, span));
        }
    }

    #[test]
    fn steady_limit_per_window_is_within() {
        // Exactly `limit` per window for ten windows, spread evenly.
        let a: Vec<(u64, u64)> = (0..100)
            .map(|i| (i * 200 * MS, i * 200 * MS + MS))
            .collect();
        assert_eq!(account(&a, 10, W).0, 0);
    }
}
