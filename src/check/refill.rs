//! The refill check: does a limiter refill faster than `limit` per window?
//!
//! A burst from fresh lasts a few milliseconds, so a limiter refilling at twice the rate shows up
//! there as less than one request (nginx `limit_req` with its rate doubled passed `run` so). What
//! decides it instead is a window of steady traffic after a refusal: once an identity has been
//! refused, its budget was spent at that instant, and from then on, over a span `L` shorter than a
//! window, every reading admits at most `limit` (a fixed window reaches one fresh window, a
//! sliding log frees at most what it held) or one token plus `limit x L / window` (a token bucket
//! or GCRA): [`crate::rate::after_refusal`]. An identity is drained to its first refusal, then
//! sent requests on a fixed schedule at three times the limit's rate for 0.95 of a window; a
//! token bucket, GCRA or sliding log refilling twice as fast admits about 1.9 x `limit`, far
//! past the bound. (A fixed window that resets every half window shows only when its second
//! reset falls inside the span: in about 90% of runs.)
//!
//! It runs beside the bursts and the Retry-After wait, on an identity of its own (an API key
//! created through the key-management endpoint, fresh at once and revoked afterwards), so it
//! costs no wall time of its own.
//! Without key management it paces the scenario's own identity once the rest is done (one more
//! window). It is open-loop: requests go out on the schedule whatever the answers take (up to 32
//! in flight), so a slow target cannot lower the rate it is tested at; a run that could not send
//! more requests than the bound is inconclusive (it could not have seen a faster refill).

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::scope::Scope;
use crate::error::Error;
use crate::probe::{Outcome, Request};
use crate::rate::{self, Decision};
use crate::spec::Category;
use crate::verdict::{Evidence, Status};
use crate::verdict::{Timeline, TimelineEvent};

/// Requests per window while pacing, as a multiple of the limit.
const RATE_FACTOR: u32 = 3;
/// The share of a window the pacing lasts after the refusal (under one window, so the bound
/// stays `limit`).
const SPAN_SHARE: f64 = 0.95;
const MAX_IN_FLIGHT: usize = 32;

/// One category paced on one identity.
pub struct Paced {
    pub clause: String,
    pub category: String,
    pub limits: Category,
    /// The request, with the pacing identity's credential.
    pub request: Request,
}

/// What the check found, and the requests it sent (for the timeline).
pub struct Judged {
    pub status: Status,
    pub reason: String,
    pub evidence: Evidence,
    pub timeline: Timeline,
    pub requests: u64,
}

fn event(o: &Outcome, phase: &str) -> TimelineEvent {
    TimelineEvent {
        at_ms: o.at_ms,
        elapsed_ms: o.elapsed.as_secs_f64() * 1000.0,
        status: o.status(),
        phase: phase.into(),
        retry_after: None,
    }
}

/// Drains the paced identity to its first refusal, paces it, judges what it admitted.
pub async fn pace(p: &Paced, scope: &Scope<'_>, identity: &str) -> Result<Judged, Error> {
    let from = Instant::now();
    let judged = pace_inner(p, scope, identity).await;
    // Its window is time the scenario spends on it, like a wait (the scenario's report says so).
    scope.health.log_wait(
        scope.scenario,
        "the refill check's window",
        from,
        Instant::now(),
    );
    judged
}

async fn pace_inner(p: &Paced, scope: &Scope<'_>, identity: &str) -> Result<Judged, Error> {
    let spec = &scope.target.spec;
    let (limit, window) = (p.limits.limit, p.limits.window);
    let mut timeline = Timeline {
        scenario: scope.scenario.to_string(),
        category: format!("{} ({identity}, paced)", p.category),
        clause: Some(p.clause.clone()),
        limit,
        window_ms: window.as_millis() as u64,
        events: Vec::new(),
        waits: Vec::new(),
    };
    let mut requests = 0u64;
    let done = |status, reason: String, evidence, timeline, requests| {
        Ok(Judged {
            status,
            reason,
            evidence,
            timeline,
            requests,
        })
    };
    let cat = &p.category;

    // 1. Drain to the first refusal (bounded: even a fixed window rolling over admits 2 x limit).
    let started = Instant::now();
    let mut refusal = None;
    for _ in 0..2 * limit + 5 {
        let o = scope.health.send(scope.probe, p.request.clone()).await?;
        requests += 1;
        timeline.events.push(event(&o, "drain"));
        // Only the over-limit status says the budget is spent; a 503 may be a passing fault of
        // the deployment, and pacing from it would hold a budget not yet spent to the bound.
        let over = o.status() == Some(spec.rate_limits.over_limit.status);
        match rate::decision(spec, o.status()) {
            Decision::Refused if over => {
                refusal = Some(o);
                break;
            }
            Decision::Admitted => {}
            Decision::Refused | Decision::Denied | Decision::Undecided => {
                let why = format!(
                    "{cat}: the paced identity's drain got {}, so the refill could not be watched",
                    o.status()
                        .map_or("no answer".to_string(), |s| format!("status {s}"))
                );
                let ex = Evidence {
                    script: None,
                    note: why.clone(),
                    exchanges: vec![scope.probe.exchange(&o)],
                };
                return done(Status::Inconclusive, why, ex, timeline, requests);
            }
        }
        if started.elapsed() > window * 3 {
            break;
        }
    }
    let Some(refusal) = refusal else {
        // The drain's own over-admission is `rate_limit`'s drain verdict; here nothing was seen.
        let why = format!(
            "{cat}: the paced identity met no refusal within {requests} requests, so the refill could not be watched"
        );
        return done(
            Status::Inconclusive,
            why,
            Evidence::default(),
            timeline,
            requests,
        );
    };

    // 2. Pace, open-loop, from the refusal's answer until SPAN_SHARE of a window after its sending.
    let window_ms = window.as_secs_f64() * 1000.0;
    let deadline_ms = refusal.at_ms + SPAN_SHARE * window_ms;
    let period = (window / (RATE_FACTOR * limit.max(1))).max(Duration::from_micros(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = FuturesUnordered::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    loop {
        let open = scope.probe.elapsed_ms() < deadline_ms;
        tokio::select! {
            _ = tick.tick(), if open && in_flight.len() < MAX_IN_FLIGHT => {
                if scope.probe.elapsed_ms() < deadline_ms {
                    in_flight.push(scope.health.send(scope.probe, p.request.clone()));
                }
            }
            Some(o) = in_flight.next() => outcomes.push(o?),
            else => break,
        }
    }
    drop(in_flight);
    requests += outcomes.len() as u64;
    outcomes.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let mut admitted: Vec<&Outcome> = Vec::new();
    let mut undecided = 0u32;
    let mut denied = 0u32;
    for o in &outcomes {
        timeline.events.push(event(o, "pace"));
        match rate::decision(spec, o.status()) {
            // Sent after the refusal was answered, so decided after it.
            Decision::Admitted if o.at_ms >= refusal.done_ms() => admitted.push(o),
            Decision::Admitted | Decision::Refused => {}
            Decision::Denied => denied += 1,
            Decision::Undecided => undecided += 1,
        }
    }
    if undecided + denied > 0 {
        let why = format!(
            "{cat}: while pacing, {undecided} requests got no answer or a 5xx and {denied} a denial, so the refill could not be judged"
        );
        return done(
            Status::Inconclusive,
            why,
            Evidence::default(),
            timeline,
            requests,
        );
    }
    let span_ms = admitted
        .iter()
        .map(|o| o.done_ms())
        .fold(refusal.done_ms(), f64::max)
        - refusal.at_ms;
    let span = Duration::from_secs_f64(span_ms.max(0.0) / 1000.0);
    let bound = rate::after_refusal(spec.rate_limits.algorithm, limit, window, span);
    let sent = outcomes.len() as u64;
    let n = admitted.len() as u64;
    let paced_ms = outcomes.last().map_or(0.0, |o| o.at_ms) - refusal.at_ms;
    let paced = format!(
        "{cat}: after a refusal, {sent} requests paced at {}x the limit's rate for {paced_ms:.0} ms: {n} admitted within {span_ms:.0} ms",
        RATE_FACTOR
    );
    if n > bound.max {
        let ex = Evidence {
            script: None,
            note: paced.clone(),
            exchanges: std::iter::once(&refusal)
                .chain(admitted.iter().rev().take(2).copied())
                .map(|o| scope.probe.exchange(o))
                .collect(),
        };
        // The headline first (a reader sees it alone), the derivation in parentheses.
        let why = format!(
            "{cat}: the limiter refills faster than {limit} per {}: {n} admitted within {span_ms:.0} ms after a refusal, where at most {} are allowed ({sent} requests paced at {}x the limit's rate for {paced_ms:.0} ms; {} allow at most {})",
            humantime::format_duration(window),
            bound.max,
            RATE_FACTOR,
            bound.readings,
            bound.max,
        );
        return done(Status::Fail, why, ex, timeline, requests);
    }
    if sent <= bound.max {
        let why = format!(
            "{paced}; only {sent} could be sent, not more than the {} allowed, so a faster refill could not have shown",
            bound.max
        );
        return done(
            Status::Inconclusive,
            why,
            Evidence::default(),
            timeline,
            requests,
        );
    }
    let why = format!("{paced}, within {} ({})", bound.max, bound.readings);
    done(Status::Pass, why, Evidence::default(), timeline, requests)
}
