//! Rate limits judged from outside, without knowing the algorithm.
//!
//! What a client can conclude (the readings of the RL-* clauses in specs/lelantos.yaml):
//! - Draining a budget until the first refusal needs no knowledge of earlier use, and tells the
//!   refusal's status, Retry-After and body.
//! - An identity that sent nothing in a category for `fresh_after_windows` windows is fresh under
//!   fixed windows, sliding windows, token buckets and GCRA alike. So is an API key created a
//!   moment ago, where limits are per key: the bursts use one (no wait), and a created key's
//!   burst that falls short (a team's keys may share a budget) is judged again on the
//!   scenario's own identity after it has been idle, as without key management.
//! - From fresh, a burst is admitted at least `limit` times (less only if someone else used the
//!   key: the profile's `shared_use`) and at most `limit` plus what could have refilled while it
//!   ran (`limit x elapsed / window`, rounded down). A fixed window may roll over mid-burst and
//!   admit more, so an over-admission is re-tested once from fresh (another created key, or after
//!   another wait): a faulty limiter
//!   over-admits twice, a fixed window straddles twice only with negligible probability.
//! - With one category exhausted, a request in another is admitted (categories are independent),
//!   and another identity is admitted (limits are per identity).
//! - A request sent Retry-After seconds after a refusal is admitted.
//!
//! Bursts are sent concurrently (a few requests in flight) so they take little time and the
//! refill allowance stays below one request: an off-by-one limiter is then visible.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::scope::Scope;
use super::steps;
use crate::error::Error;
use crate::probe::{Outcome, Request};
use crate::profile::Role;
use crate::rate::Decision;
use crate::scenario::{As, AsRole, CategoryProbe, RateLimitScenario, RequestSpec};
use crate::spec::{Algorithm, Category};
use crate::verdict::{Evidence, Status};
use crate::verdict::{Timeline, TimelineEvent, TimelineWait};

/// Requests in flight during a burst.
const BURST_CONCURRENCY: usize = 16;

struct Lane {
    probe: CategoryProbe,
    category: Category,
    /// The scenario's own identity.
    role: AsRole,
    /// The request the lane sends now: with a created key's credential, or the scenario's own.
    request: Request,
    /// The request with the scenario's own identity.
    own: Request,
    /// Who sends `request`, for the findings ("a created key", or the scenario's role).
    who: String,
    timeline: Timeline,
    /// Requests admitted in this category since it was last fresh.
    used_since_fresh: u32,
    /// When the first request since fresh was sent (ms since run start).
    fresh_from_ms: Option<f64>,
    last_request: Option<Instant>,
    /// The refusal that ended the last burst, if any.
    last_refusal: Option<(Outcome, Instant)>,
    /// The category's other routes the bursts rotate over (one budget for all of them).
    surface: super::surface::Surface,
}

pub async fn run(s: &RateLimitScenario, scope: &mut Scope<'_>) -> Result<Vec<Timeline>, Error> {
    let clauses: Vec<String> = s
        .categories
        .iter()
        .map(|c| c.clause.clone())
        .chain(
            [
                &s.independence_clause,
                &s.per_identity_clause,
                &s.status_clause,
                &s.retry_clause,
            ]
            .into_iter()
            .flatten()
            .cloned(),
        )
        .collect();
    let before = scope.findings.snapshot().len();
    steps::run(&s.setup, scope).await?;
    let setup_failed = scope.findings.snapshot()[before..]
        .iter()
        .any(|f| f.status != Status::Pass);
    if setup_failed {
        for c in &clauses {
            scope.finding(
                c,
                Status::Inconclusive,
                "the rate-limit set-up did not complete (see its steps)",
            );
        }
        return Ok(Vec::new());
    }
    // The other credential types' limits, first: a window of bursts and waits follows.
    steps::run(&s.other_credentials, scope).await?;

    let mut lanes = Vec::new();
    for cp in &s.categories {
        let Some(category) = scope.target.spec.category(&cp.category).copied() else {
            continue;
        };
        let spec = RequestSpec {
            endpoint: Some(cp.endpoint.clone()),
            method: None,
            path: None,
            params: cp.params.clone(),
            as_: Some(As::Role(s.as_)),
            headers: BTreeMap::new(),
            body: None,
            raw_body: None,
        };
        let request = match scope.build(&spec) {
            Ok(r) => r,
            Err(e) => {
                let (status, why) = scope.missing_reason(&e);
                scope.finding(&cp.clause, status, why);
                continue;
            }
        };
        lanes.push(Lane {
            timeline: Timeline {
                scenario: scope.scenario.to_string(),
                category: cp.category.clone(),
                clause: Some(cp.clause.clone()),
                limit: category.limit,
                window_ms: category.window.as_millis() as u64,
                events: Vec::new(),
                waits: Vec::new(),
            },
            probe: cp.clone(),
            category,
            role: s.as_,
            own: request.clone(),
            request,
            who: s.as_.to_string(),
            used_since_fresh: 0,
            fresh_from_ms: None,
            last_request: None,
            last_refusal: None,
            surface: super::surface::Surface::default(),
        });
    }
    // Every route of a category is judged against its limit: the bursts rotate over them.
    for lane in &mut lanes {
        let p = lane.probe.clone();
        lane.surface =
            super::surface::discover(&p.category, &p.endpoint, s.as_, &p.params, scope).await?;
    }

    // The identities. The refill check (`super::refill`) paces a created key through a window
    // after that key's own refusal, and the bursts go to another created key. Where limits are
    // per key, both are fresh at once: nothing waits for freshness, and the one long wait left
    // (a fixed window's Retry-After, up to a window) runs beside the refill check's window. A
    // limiter per team or per client address shows as the pacing key refused right after the
    // bursts' key exhausted a category (`shares_budget`): the refill check then runs after the
    // rest instead of beside it. A created key's burst that fell short is judged again on the
    // scenario's own identity the old way (drained, idle until fresh, burst), after the refill
    // check.
    let created = create_key(s, scope).await?;
    let fresh = create_key(s, scope).await?;
    // The bypass battery's keys, one per category, made now: at the end the own identity's
    // general budget (which key creation spends) may be exhausted where budgets are shared.
    let mut battery_keys = Vec::new();
    if s.bypass_clause.is_some() {
        for _ in &lanes {
            let plain = create_key(s, scope).await?;
            let client_errors = create_key(s, scope).await?;
            battery_keys.push((plain, client_errors));
        }
    }
    let pacers: Vec<Paced> = match &created {
        Some((key, _)) => lanes.iter().map(|l| paced(l, scope, key)).collect(),
        None => Vec::new(),
    };
    let mut revoke: Vec<String> = [&created, &fresh]
        .into_iter()
        .flatten()
        .filter_map(|(_, id)| id.clone())
        .collect();
    let fresh_key = fresh.as_ref().map(|(k, _)| k.as_str());
    let pacer_key = created.as_ref().map(|(k, _)| k.as_str());
    let (results, shared, on_fresh) =
        first_round(s, &mut lanes, fresh_key, pacer_key, scope).await?;
    // The created key was not let in everywhere: the old procedure ran on the own identity.
    let fresh_key = fresh_key.filter(|_| on_fresh);
    let sibling = scope.sibling();
    let pacing = futures::future::join_all(
        pacers
            .iter()
            .map(|p| super::refill::pace(p, &sibling, "a created key")),
    );
    let settling = settle(
        s,
        &mut lanes,
        results,
        fresh_key,
        shared,
        &mut revoke,
        scope,
    );
    let (paced_early, deferred) = if shared {
        // One budget for both keys: the refill check's traffic would spend what Retry-After
        // promised, so it runs after.
        let deferred = settling.await;
        let paced = match deferred {
            Ok(_) => pacing.await,
            Err(_) => Vec::new(),
        };
        (paced, deferred)
    } else {
        futures::future::join(pacing, settling).await
    };
    let deferred = deferred?;
    let mut paced_timelines = Vec::new();
    for (p, judged) in pacers.iter().zip(paced_early) {
        record_paced(p, judged?, scope, &mut paced_timelines);
    }
    // The created keys are done with: revoked before the own key's re-judgement spends its
    // general budget (revoking goes through it).
    for id in &revoke {
        revoke_key(s, scope, id).await?;
    }
    again_as_own(s, &mut lanes, deferred, scope).await?;

    // Without a created key, the refill check paces this identity now (one more window).
    if created.is_none() {
        let own: Vec<Paced> = lanes
            .iter()
            .map(|l| Paced {
                clause: l.probe.clause.clone(),
                category: l.probe.category.clone(),
                limits: l.category,
                request: l.own.clone(),
            })
            .collect();
        let judged = futures::future::join_all(
            own.iter()
                .map(|p| super::refill::pace(p, scope, s.as_.name())),
        )
        .await;
        for (p, j) in own.iter().zip(judged) {
            record_paced(p, j?, scope, &mut paced_timelines);
        }
    }
    if let Some(clause) = &s.bypass_clause {
        bypass_battery(s, clause, &lanes, battery_keys, scope).await?;
    }
    let mut timelines: Vec<Timeline> = lanes.into_iter().map(|l| l.timeline).collect();
    timelines.append(&mut paced_timelines);
    Ok(timelines)
}

/// A category's two battery keys (plain requests and variations; client errors), each with its
/// id when the target gave one.
type BatteryKeys = (
    Option<(String, Option<String>)>,
    Option<(String, Option<String>)>,
);

/// The bypass battery (`super::bypass`) in each category, on a key created for it and revoked
/// after.
async fn bypass_battery(
    s: &RateLimitScenario,
    clause: &str,
    lanes: &[Lane],
    keys: Vec<BatteryKeys>,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    let spec = scope.target.spec.clone();
    for (lane, (key, second)) in lanes.iter().zip(keys) {
        let cat = &lane.probe.category;
        let Some(((key, id), (second, second_id))) = key.zip(second) else {
            scope.finding(
                clause,
                Status::Skipped,
                format!(
                    "{cat}: the battery needs a key created for it (key management: create_api_key and revoke_api_key, as an API key)"
                ),
            );
            continue;
        };
        let client_error = match &lane.probe.client_error {
            Some(ce) => {
                let mut ce = ce.clone();
                ce.as_ = Some(As::Role(s.as_));
                match scope.build(&ce) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        let (_, why) = scope.missing_reason(&e);
                        scope.finding(clause, Status::Skipped, format!("{cat}: {why}"));
                        None
                    }
                }
            }
            None => None,
        };
        let wrong = {
            let mut w: Vec<char> = second.chars().collect();
            if let Some(c) = w.last_mut() {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
            w.into_iter().collect::<String>()
        };
        let own_path = spec
            .endpoint(&lane.probe.endpoint)
            .map(|e| e.path.clone())
            .unwrap_or_default();
        let created_pointers = spec
            .endpoints
            .values()
            .filter(|e| e.method.eq_ignore_ascii_case("POST") && e.path == own_path)
            .flat_map(|e| e.returns.values().cloned())
            .collect();
        let battery = super::bypass::Battery {
            clause,
            category: cat,
            limits: lane.category,
            request: with_key(&lane.own, scope, &key),
            client_error_unkeyed: client_error.as_ref().map(|r| with_key(r, scope, &wrong)),
            client_error: client_error.as_ref().map(|r| with_key(r, scope, &second)),
            created_pointers,
            own_pointers: spec
                .endpoint(&lane.probe.endpoint)
                .map(|e| e.returns.values().cloned().collect())
                .unwrap_or_default(),
        };
        let ran = super::bypass::run(&battery, scope).await;
        for id in [id, second_id].into_iter().flatten() {
            revoke_key(s, scope, &id).await?;
        }
        ran?;
    }
    Ok(())
}

use super::refill::Paced;

/// The scenario's request with `key` in place of its API key.
fn with_key(request: &Request, scope: &Scope, key: &str) -> Request {
    let header = &scope.target.spec.auth.api_key.header;
    let mut request = request.clone();
    for (name, value) in request.headers.iter_mut() {
        if name.eq_ignore_ascii_case(header) {
            *value = key.to_string();
        }
    }
    request
}

/// The lane's request with the pacing key in place of the scenario's credential.
fn paced(lane: &Lane, scope: &Scope, key: &str) -> Paced {
    Paced {
        clause: lane.probe.clause.clone(),
        category: lane.probe.category.clone(),
        limits: lane.category,
        request: with_key(&lane.own, scope, key),
    }
}

/// The first round, before the refill check starts: a burst from fresh in each category (on
/// the created key `fresh` at once, or without one on the scenario's identity once drained
/// and idle until fresh), independence, and per identity. Returns the bursts' results; whether
/// the pacing key `pacer` shares a budget with the bursts' key (refused in a category the bursts
/// had just exhausted: a limiter per team or per client address; or not shown otherwise), in
/// which case the refill check must not run beside the rest; and whether the bursts ran on the
/// created key (not when the target refused it somewhere: `admitted_everywhere`).
async fn first_round(
    s: &RateLimitScenario,
    lanes: &mut [Lane],
    fresh: Option<&str>,
    pacer: Option<&str>,
    scope: &mut Scope<'_>,
) -> Result<(Vec<Option<BurstResult>>, bool, bool), Error> {
    let fresh = match fresh {
        Some(key) => admitted_everywhere(lanes, key, &s.as_.to_string(), scope)
            .await?
            .then_some(key),
        None => None,
    };
    match fresh {
        Some(_) => {}
        None => {
            // 1. Drain every budget (whatever earlier use left) until its first refusal, 2. wait
            //    until every lane is fresh.
            let mut all: Vec<&mut Lane> = lanes.iter_mut().collect();
            drain_lanes(s, &mut all, scope).await?;
            wait_fresh(lanes, scope).await?;
        }
    }
    // 3. Burst each category, probing the others between.
    let mut results: Vec<Option<BurstResult>> = Vec::new();
    let mut shared = fresh.is_none();
    let mut probed = false;
    for i in 0..lanes.len() {
        let others: Vec<(usize, u32)> = lanes
            .iter()
            .enumerate()
            .filter(|(j, l)| *j != i && l.used_since_fresh > 0)
            .map(|(j, l)| (j, l.used_since_fresh))
            .collect();
        let mut r = burst(&mut lanes[i], scope).await?;
        r.others_before = others.iter().map(|(_, n)| n).sum();
        r.others = others;
        let exhausted = r.refused;
        if exhausted {
            judge_refusal_status(s, &lanes[i], r.first_refusal.as_ref(), scope);
            // Only a burst within bounds shows a budget that was fresh: one that fell short may
            // have met a shared budget's older use (a sliding log's entries could expire
            // during the probe), and one that went over is tried again anyway.
            if let (Some(key), false, Some(refusal), None) =
                (pacer, shared, r.first_refusal.clone(), &r.verdict)
            {
                shared = shares_budget(&mut lanes[i], key, &refusal, scope).await?;
                probed = true;
            }
            independence_probes(s, lanes, i, scope).await?;
        }
        results.push(Some(r));
    }
    // 4. Another identity is admitted while this one is exhausted: right after the last burst,
    //    before any window can roll over.
    if let Some(clause) = &s.per_identity_clause {
        per_identity(s, lanes, clause, scope).await?;
    }
    // Nothing probed (no burst within bounds was refused): the keys are taken to share a budget.
    Ok((results, shared || !probed, fresh.is_some()))
}

/// Points every lane at the created key `key` after one request of it in each category (its
/// first charge there, counted): true when every one was admitted. A key the target refuses or
/// will not let into a category (a new key not yet live, a narrower scope) is no fresh identity:
/// the lanes go back to the scenario's own, and the old procedure judges every clause.
async fn admitted_everywhere(
    lanes: &mut [Lane],
    key: &str,
    own: &str,
    scope: &mut Scope<'_>,
) -> Result<bool, Error> {
    let mut all = true;
    for lane in lanes.iter_mut() {
        lane.request = with_key(&lane.own, scope, key);
        lane.who = "a created key".into();
        let o = scope.send(lane.request.clone()).await?;
        push_event(&mut lane.timeline, &o, "probe", scope);
        if decision(scope, o.status()) == Decision::Admitted {
            lane.used_since_fresh += 1;
            lane.fresh_from_ms.get_or_insert(o.at_ms);
        } else {
            all = false;
            break;
        }
    }
    if !all {
        for lane in lanes.iter_mut() {
            lane.request = lane.own.clone();
            lane.who = own.to_string();
            lane.used_since_fresh = 0;
            lane.fresh_from_ms = None;
        }
    }
    Ok(all)
}

/// Right after the lane's burst exhausted it (its earliest refusal `refusal`): requests with
/// `key` in the lane's category until more were admitted than a shared budget could have
/// refilled since that refusal (a token bucket's or GCRA's one token plus its refill, the
/// fastest reading), then one more with the lane's own (bursting) key. The keys have budgets of
/// their own only if every `key` request was admitted and the bursting key is still refused: a
/// shared budget that refilled a token (or a window that reset) admits the bursting key again,
/// or refuses `key` first. Anything else proves nothing either way (taken as shared).
async fn shares_budget(
    lane: &mut Lane,
    key: &str,
    refusal: &Outcome,
    scope: &mut Scope<'_>,
) -> Result<bool, Error> {
    let probe = with_key(&lane.own, scope, key);
    let mut admitted = 0u64;
    loop {
        let o = scope.send(probe.clone()).await?;
        push_event(&mut lane.timeline, &o, "probe", scope);
        if decision(scope, o.status()) != Decision::Admitted {
            return Ok(true);
        }
        admitted += 1;
        let span = Duration::from_secs_f64((o.done_ms() - refusal.at_ms).max(0.0) / 1000.0);
        if outran_refill(admitted, span, &lane.category) {
            break;
        }
        if admitted >= u64::from(lane.category.limit) {
            return Ok(true);
        }
    }
    let again = scope.send(lane.request.clone()).await?;
    push_event(&mut lane.timeline, &again, "probe", scope);
    if decision(scope, again.status()) == Decision::Refused {
        lane.last_refusal = Some((again, Instant::now()));
        Ok(false)
    } else {
        if decision(scope, again.status()) == Decision::Admitted {
            lane.used_since_fresh += 1;
        }
        Ok(true)
    }
}

/// More admitted than one budget, exhausted `span` ago, could have admitted since under the
/// fastest refilling reading (a token bucket or GCRA: one token plus `limit x span / window`).
fn outran_refill(admitted: u64, span: Duration, c: &Category) -> bool {
    admitted > crate::rate::after_refusal(Algorithm::TokenBucket, c.limit, c.window, span).max
}

/// After the first round: a burst out of bounds tried once more from fresh, suspected
/// borrowing replayed, the bursts' findings, and Retry-After. Returns the created key's bursts
/// that fell short or went undecided (lane and result), which `again_as_own` judges on the
/// scenario's identity. Keys it creates go to `revoke`.
async fn settle(
    s: &RateLimitScenario,
    lanes: &mut [Lane],
    mut results: Vec<Option<BurstResult>>,
    fresh: Option<&str>,
    shared: bool,
    revoke: &mut Vec<String>,
    scope: &mut Scope<'_>,
) -> Result<Vec<(usize, BurstResult)>, Error> {
    // A burst out of bounds is tried once more from fresh before it counts. A created key's
    // burst that fell short, or went undecided, proves nothing of the limit (a team's keys may
    // share a budget): `again_as_own` takes it, after the refill check.
    let mut deferred = Vec::new();
    let mut retry: Vec<usize> = Vec::new();
    for (i, r) in results.iter_mut().enumerate() {
        match r {
            Some(b) if b.verdict.is_some() && fresh.is_some() && !b.over => {
                deferred.push((i, r.take().expect("some")));
            }
            Some(b) if b.verdict.is_some() => retry.push(i),
            _ => {}
        }
    }
    let mut suspected: Vec<(usize, BurstResult, BurstResult)> = Vec::new();
    if !retry.is_empty() {
        // Another created key is fresh at once, unless keys share a budget; else the lanes wait.
        let second = match fresh {
            Some(_) if !shared => create_key(s, scope).await?,
            _ => None,
        };
        if let Some((_, Some(id))) = &second {
            revoke.push(id.clone());
        }
        let mut again: Vec<&mut Lane> = lanes
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| retry.contains(i))
            .map(|(_, l)| l)
            .collect();
        match &second {
            Some((key, _)) => {
                for lane in again.iter_mut() {
                    lane.request = with_key(&lane.own, scope, key);
                    lane.used_since_fresh = 0;
                    lane.fresh_from_ms = None;
                }
            }
            None => {
                // Two idle windows at least: a sliding-window counter (the weighted
                // approximation of Flask-Limiter, Cloudflare and others) still counts the
                // previous window after one, so a burst one window after a drain may fall short
                // of the limit; after two it cannot.
                let windows = scope.target.spec.rate_limits.fresh_after_windows.max(2);
                wait_fresh_refs(&mut again, scope, windows).await?;
            }
        }
        // In reverse order: a category starved by the ones before it in the first round now
        // goes first, so its second burst shows its own limit (and `borrowed_budget` the cause).
        for lane in again.into_iter().rev() {
            let idx = results
                .iter()
                .position(|r| r.as_ref().is_some_and(|r| r.clause == lane.probe.clause))
                .unwrap_or(0);
            let second = burst(lane, scope).await?;
            let first = results[idx].take();
            if let Some(f) = &first
                && s.independence_clause.is_some()
                && borrowed_budget(f, &second, scope)
            {
                suspected.push((idx, f.clone(), second.clone()));
            }
            results[idx] = Some(combine(first, second));
        }
    }
    // A shortfall right after other categories' traffic is replayed before it counts: from a
    // state two windows idle, the same traffic in the other categories, then this burst.
    if let Some(clause) = &s.independence_clause {
        for (i, first, second) in suspected {
            confirm_borrowed(lanes, i, &first, &second, clause, scope).await?;
        }
    }
    for r in results.into_iter().flatten() {
        record_burst(r, scope);
    }

    // 5. Waiting Retry-After after a refusal admits a request, in every exhausted category.
    if let Some(clause) = &s.retry_clause {
        retry_after_admits(lanes, clause, scope).await?;
    }
    Ok(deferred)
}

/// Step 5: in every exhausted category, a request sent Retry-After after a fresh refusal is
/// admitted (`retry_after_wait`).
async fn retry_after_admits(
    lanes: &mut [Lane],
    clause: &str,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    let waits = futures::future::join_all(lanes.iter().map(|l| retry_after_wait(l, scope))).await;
    for (lane, waited) in lanes.iter_mut().zip(waits) {
        let (outcome, waited, drained) = waited?;
        for o in &drained {
            scope.requests += 1;
            push_event(&mut lane.timeline, o, "drain", scope);
        }
        if let Some(last) = drained.last().filter(|o| is_refusal_outcome(o, scope)) {
            lane.last_refusal = Some((last.clone(), Instant::now()));
        }
        if outcome.is_none()
            && let Some((refusal, _)) = &lane.last_refusal
        {
            // Refused, but with nothing to honour: undecided, never "not covered".
            scope.finding_with(
                clause,
                Status::Inconclusive,
                format!(
                    "{}: the refusal carried no Retry-After to wait (RL-429-RETRY-AFTER judges that)",
                    lane.probe.category
                ),
                Evidence {
        script: None,
                    note: String::new(),
                    exchanges: vec![scope.probe.exchange(refusal)],
                },
            );
        }
        if let Some(w) = waited {
            lane.timeline.waits.push(TimelineWait {
                from_ms: w.from_ms,
                to_ms: w.to_ms,
                reason: "Retry-After".into(),
            });
        }
        let Some(outcome) = outcome else { continue };
        scope.requests += 1;
        push_event(&mut lane.timeline, &outcome, "retry", scope);
        let ra = waited.map_or(0.0, |w| (w.to_ms - w.from_ms) / 1000.0);
        let ra = format!("{ra:.1}");
        let short_of = waited.and_then(|w| w.short_of);
        let ex = Evidence {
            script: None,
            note: format!("{}: waited Retry-After ({ra} s)", lane.probe.category),
            exchanges: vec![scope.probe.exchange(&outcome)],
        };
        match (decision(scope, outcome.status()), outcome.status()) {
            (Decision::Admitted, _) => scope.finding_with(
                clause,
                Status::Pass,
                format!(
                    "{}: admitted after waiting Retry-After ({ra} s)",
                    lane.probe.category
                ),
                ex,
            ),
            (Decision::Refused, Some(code)) if let Some(asked) = short_of => scope.finding_with(
                clause,
                Status::Inconclusive,
                format!(
                    "{}: refused with {code} after {ra} s, short of the {} s Retry-After asked \
                     (more than the window: RL-429-RETRY-AFTER judges that)",
                    lane.probe.category,
                    asked.as_secs()
                ),
                ex,
            ),
            (Decision::Refused, Some(code)) => scope.finding_with(
                clause,
                Status::Fail,
                format!(
                    "{}: refused with {code} after waiting Retry-After ({ra} s)",
                    lane.probe.category
                ),
                ex,
            ),
            (_, status) => scope.finding_with(
                clause,
                Status::Inconclusive,
                format!(
                    "{}: after waiting Retry-After, {}",
                    lane.probe.category,
                    no_decision(status)
                ),
                ex,
            ),
        }
    }
    Ok(())
}

fn record_burst(r: BurstResult, scope: &Scope) {
    match r.verdict {
        None => scope.finding_with(&r.clause, Status::Pass, r.summary, r.evidence),
        Some((status, why)) => scope.finding_with(&r.clause, status, why, r.evidence),
    }
}

/// Drains each lane to its first refusal, at once: its events, requests and refusal status
/// are recorded, and a drain that ends otherwise is the lane's finding.
async fn drain_lanes(
    s: &RateLimitScenario,
    lanes: &mut [&mut Lane],
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    let drained = futures::future::join_all(lanes.iter().map(|l| async {
        let r = drain(l, scope).await;
        (r, Instant::now())
    }))
    .await;
    for (lane, (result, drained_at)) in lanes.iter_mut().zip(drained) {
        let (outcomes, verdict) = result?;
        for o in &outcomes {
            push_event(&mut lane.timeline, o, "drain", scope);
        }
        scope.requests += outcomes.len() as u64;
        lane.last_request = Some(drained_at);
        if let Some(last) = outcomes.last().filter(|o| is_refusal_outcome(o, scope)) {
            lane.last_refusal = Some((last.clone(), drained_at));
        }
        judge_refusal_status(s, lane, outcomes.last(), scope);
        if let Some((status, why, evidence)) = verdict {
            scope.finding_with(&lane.probe.clause, status, why, evidence);
        }
    }
    Ok(())
}

/// A created key's burst that fell short or went undecided is no verdict: a team's keys may
/// share one budget, or the limiter may count per client address. Such a category is judged
/// again on the scenario's own identity, as without key management: drained to a refusal, idle
/// for two windows (long enough for every reading, a sliding-window counter's included, after
/// the created keys' traffic on a shared budget), then a burst from fresh. The two bursts
/// count as a burst and its repetition do (`combine`): a limit fails only if both miss it the
/// same way.
async fn again_as_own(
    s: &RateLimitScenario,
    lanes: &mut [Lane],
    deferred: Vec<(usize, BurstResult)>,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    if deferred.is_empty() {
        return Ok(());
    }
    // Every lane on the own identity: a suspected borrowing is replayed on it (`confirm_borrowed`
    // sends the other categories' traffic with each lane's request).
    for lane in lanes.iter_mut() {
        lane.request = lane.own.clone();
        lane.who = s.as_.to_string();
    }
    {
        let mut own: Vec<&mut Lane> = lanes
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| deferred.iter().any(|(d, _)| d == i))
            .map(|(_, l)| l)
            .collect();
        drain_lanes(s, &mut own, scope).await?;
        let windows = scope.target.spec.rate_limits.fresh_after_windows.max(2);
        wait_fresh_refs(&mut own, scope, windows).await?;
    }
    // In reverse order, as a second round does (a category starved by the ones before it goes
    // first); suspected borrowing is replayed once every burst is in.
    let mut suspected = Vec::new();
    for (i, mut first) in deferred.into_iter().rev() {
        first.summary = format!("a created key: {}", first.summary);
        let second = burst(&mut lanes[i], scope).await?;
        if s.independence_clause.is_some() && borrowed_budget(&first, &second, scope) {
            suspected.push((i, first.clone(), second.clone()));
        }
        record_burst(combine(Some(first), second), scope);
    }
    if let Some(clause) = &s.independence_clause {
        for (i, first, second) in suspected {
            confirm_borrowed(lanes, i, &first, &second, clause, scope).await?;
        }
    }
    Ok(())
}

fn record_paced(
    p: &Paced,
    j: super::refill::Judged,
    scope: &mut Scope,
    timelines: &mut Vec<Timeline>,
) {
    scope.requests += j.requests;
    scope.finding_with(&p.clause, j.status, j.reason, j.evidence);
    timelines.push(j.timeline);
}

/// A fresh API key for the refill check, created through the scenario's identity when it is an
/// API key and the target offers key management: the key and its id (to revoke it). `None`
/// when it cannot be had; the check then paces the scenario's identity at the end.
async fn create_key(
    s: &RateLimitScenario,
    scope: &mut Scope<'_>,
) -> Result<Option<(String, Option<String>)>, Error> {
    let spec = scope.target.spec.clone();
    let Some(endpoint) = spec.endpoint("create_api_key") else {
        return Ok(None);
    };
    let key_role = matches!(
        s.as_,
        AsRole::Credential(Role::ApiKey | Role::ApiKeyOtherTeam | Role::ApiKeyRevoked)
    );
    if !key_role || spec.endpoint("revoke_api_key").is_none() {
        return Ok(None);
    }
    let request = RequestSpec {
        endpoint: Some("create_api_key".into()),
        method: None,
        path: None,
        params: BTreeMap::new(),
        as_: Some(As::Role(s.as_)),
        headers: BTreeMap::new(),
        body: None,
        raw_body: None,
    };
    let Ok(req) = scope.build(&request) else {
        return Ok(None);
    };
    // A budget shared with what ran before (per team or per client address: the access
    // token's burst) may refuse the creation: waited out, twice at most (a window each).
    let mut o = scope.send(req.clone()).await?;
    let over = spec.rate_limits.over_limit.status;
    for _ in 0..2 {
        if o.status() != Some(over) {
            break;
        }
        scope.wait("Retry-After", scope.backoff(&o)).await?;
        o = scope.send(req.clone()).await?;
    }
    let Some(body) = o
        .response()
        .filter(|r| (200..300).contains(&r.status))
        .and_then(|r| r.json())
    else {
        return Ok(None);
    };
    let text = |name: &str| {
        endpoint
            .returns
            .get(name)
            .and_then(|p| body.pointer(p))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let Some(key) = text("key").filter(|k| k.starts_with(&spec.auth.api_key.prefix)) else {
        return Ok(None);
    };
    let prefixes = scope.target.secret_prefixes();
    scope.probe.learn_secrets([key.as_str()], &prefixes);
    Ok(Some((key, text("id"))))
}

/// Revokes the refill check's key (best effort: a key the target will not revoke stays).
async fn revoke_key(s: &RateLimitScenario, scope: &mut Scope<'_>, id: &str) -> Result<(), Error> {
    let request = RequestSpec {
        endpoint: Some("revoke_api_key".into()),
        method: None,
        path: None,
        params: [("id".to_string(), id.to_string())].into(),
        as_: Some(As::Role(s.as_)),
        headers: BTreeMap::new(),
        body: None,
        raw_body: None,
    };
    if let Ok(req) = scope.build(&request) {
        let o = scope.send(req).await?;
        if o.status() == Some(scope.target.spec.rate_limits.over_limit.status) {
            scope.wait("Retry-After", scope.backoff(&o)).await?;
            if let Ok(req) = scope.build(&request) {
                scope.send(req).await?;
            }
        }
    }
    Ok(())
}

fn is_refusal(code: u16, scope: &Scope) -> bool {
    decision(scope, Some(code)) == Decision::Refused
}

fn is_refusal_outcome(o: &Outcome, scope: &Scope) -> bool {
    decision(scope, o.status()) == Decision::Refused
}

fn decision(scope: &Scope, status: Option<u16>) -> Decision {
    crate::rate::decision(&scope.target.spec, status)
}

fn push_event(t: &mut Timeline, o: &Outcome, phase: &str, scope: &Scope) {
    t.events.push(TimelineEvent {
        at_ms: o.at_ms,
        elapsed_ms: o.elapsed.as_secs_f64() * 1000.0,
        status: o.status(),
        phase: phase.into(),
        retry_after: scope.retry_after(o),
    });
}

type Verdict = Option<(Status, String, Evidence)>;

/// Sends requests one at a time until the first refusal; bounded in count and time. `Err` when
/// the target is taken for gone.
async fn drain(lane: &Lane, scope: &Scope<'_>) -> Result<(Vec<Outcome>, Verdict), Error> {
    let limit = lane.category.limit;
    let window = lane.category.window;
    // Even a fixed window rolling over mid-drain admits at most twice the limit.
    let bound = 2 * limit + 5;
    let started = Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for _ in 0..bound {
        let o = scope.health.send(scope.probe, lane.request.clone()).await?;
        let code = o.status();
        outcomes.push(o);
        match code {
            None => {
                return Ok((
                    outcomes,
                    Some((
                        Status::Inconclusive,
                        format!(
                            "{}: the target stopped answering while draining",
                            lane.probe.category
                        ),
                        Evidence::default(),
                    )),
                ));
            }
            Some(c) if is_refusal(c, scope) => return Ok((outcomes, None)),
            Some(c)
                if matches!(
                    decision(scope, Some(c)),
                    Decision::Undecided | Decision::Denied
                ) =>
            {
                let why = if decision(scope, Some(c)) == Decision::Denied {
                    format!("the identity was refused ({c}) while draining")
                } else {
                    format!(
                        "the target answered {c} while draining, which is no decision of the limiter"
                    )
                };
                let last = outcomes
                    .last()
                    .map(|o| scope.probe.exchange(o))
                    .into_iter()
                    .collect();
                return Ok((
                    outcomes,
                    Some((
                        Status::Inconclusive,
                        format!("{}: {why}", lane.probe.category),
                        Evidence {
                            script: None,
                            note: String::new(),
                            exchanges: last,
                        },
                    )),
                ));
            }
            Some(_) => {}
        }
        if started.elapsed() > window * 3 {
            break;
        }
    }
    let elapsed = started.elapsed();
    let refill = (limit as f64 * elapsed.as_secs_f64() / window.as_secs_f64()).floor() as u32;
    let n = outcomes.len() as u32;
    let verdict = if n > 2 * limit + refill {
        let ex: Vec<_> = outcomes
            .iter()
            .rev()
            .take(2)
            .map(|o| scope.probe.exchange(o))
            .collect();
        Some((
            Status::Fail,
            format!(
                "{}: {n} requests in {} ms were all admitted; no reading of a limit of {limit} per {} admits that many",
                lane.probe.category,
                elapsed.as_millis(),
                humantime::format_duration(window)
            ),
            Evidence {
                script: None,
                note: "no refusal while draining".into(),
                exchanges: ex,
            },
        ))
    } else {
        Some((
            Status::Inconclusive,
            format!(
                "{}: no refusal within {n} requests over {} ms",
                lane.probe.category,
                elapsed.as_millis()
            ),
            Evidence::default(),
        ))
    };
    Ok((outcomes, verdict))
}

fn judge_refusal_status(s: &RateLimitScenario, lane: &Lane, last: Option<&Outcome>, scope: &Scope) {
    let Some(clause) = &s.status_clause else {
        return;
    };
    let Some(o) = last else { return };
    let over = scope.target.spec.rate_limits.over_limit.status;
    match o.status() {
        Some(c) if c == over => scope.finding(
            clause,
            Status::Pass,
            format!("{}: over the limit the answer is {c}", lane.probe.category),
        ),
        Some(c) if is_refusal(c, scope) => scope.finding_with(
            clause,
            Status::Fail,
            format!(
                "{}: over the limit the answer is {c}, not {over}",
                lane.probe.category
            ),
            Evidence {
                script: None,
                note: String::new(),
                exchanges: vec![scope.probe.exchange(o)],
            },
        ),
        _ => {}
    }
}

async fn wait_fresh(lanes: &mut [Lane], scope: &Scope<'_>) -> Result<(), Error> {
    let mut refs: Vec<&mut Lane> = lanes.iter_mut().collect();
    let windows = scope.target.spec.rate_limits.fresh_after_windows.max(1);
    wait_fresh_refs(&mut refs, scope, windows).await
}

/// Waits until every lane has been idle for `windows` of its windows.
async fn wait_fresh_refs(
    lanes: &mut [&mut Lane],
    scope: &Scope<'_>,
    windows: u32,
) -> Result<(), Error> {
    let deadline = lanes
        .iter()
        .map(|l| l.last_request.unwrap_or_else(Instant::now) + l.category.window * windows)
        .max()
        .unwrap_or_else(Instant::now);
    let from = scope.probe.elapsed_ms();
    scope.wait_until("until fresh", deadline).await?;
    let to = scope.probe.elapsed_ms();
    for l in lanes.iter_mut() {
        l.used_since_fresh = 0;
        l.fresh_from_ms = None;
        l.timeline.waits.push(TimelineWait {
            from_ms: from,
            to_ms: to,
            reason: "until fresh".into(),
        });
    }
    Ok(())
}

#[derive(Clone)]
struct BurstResult {
    clause: String,
    refused: bool,
    /// None when within bounds; else the status and why.
    verdict: Option<(Status, String)>,
    /// More admitted than any reading allows (every answer a decision of the limiter).
    over: bool,
    /// The earliest-sent refusal of the burst (what RL-429-STATUS judges).
    first_refusal: Option<Outcome>,
    summary: String,
    evidence: Evidence,
    /// How many fewer than the lower bound were admitted.
    deficit: Option<u32>,
    /// Requests admitted in the other categories since fresh, before this burst.
    others_before: u32,
    /// The same, per other lane: (lane index, admitted).
    others: Vec<(usize, u32)>,
}

/// A first burst that fell far short right after traffic in other categories, while a second
/// burst alone from fresh was within bounds, suggests the other categories consumed this one's
/// budget (`confirm_borrowed` replays it before it counts). A shortfall smaller than half of
/// that traffic is left to `combine` (it may be another client sharing the key), and one larger
/// than the traffic cannot be explained by it.
fn borrowed_budget(first: &BurstResult, second: &BurstResult, scope: &Scope) -> bool {
    let (Some(deficit), None) = (first.deficit, &second.verdict) else {
        return false;
    };
    first.others_before > 0
        && deficit > scope.target.shared_use
        && 2 * deficit >= first.others_before
        && deficit <= first.others_before
}

/// Replays a suspected borrowing: every lane idle for two windows (fresh under every reading,
/// a sliding-window counter's previous window included), then the first round's traffic in the
/// other categories, then a burst of lane `i`. The shortfall again fails independence; none
/// means the first one was this category's own state, and independence holds.
async fn confirm_borrowed(
    lanes: &mut [Lane],
    i: usize,
    first: &BurstResult,
    second: &BurstResult,
    clause: &str,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    {
        let mut all: Vec<&mut Lane> = lanes.iter_mut().collect();
        let windows = scope.target.spec.rate_limits.fresh_after_windows.max(2);
        wait_fresh_refs(&mut all, scope, windows).await?;
    }
    let mut replayed = 0u32;
    let mut undecided = 0u32;
    for &(j, n) in &first.others {
        let lane = &mut lanes[j];
        let (probe, health) = (scope.probe, scope.health);
        let req = lane.request.clone();
        let outcomes: Vec<Result<Outcome, Error>> = futures::stream::iter(0..n)
            .map(|_| health.send(probe, req.clone()))
            .buffer_unordered(BURST_CONCURRENCY)
            .collect()
            .await;
        for o in outcomes {
            let o = o?;
            scope.requests += 1;
            push_event(&mut lane.timeline, &o, "replay", scope);
            match decision(scope, o.status()) {
                Decision::Admitted => {
                    replayed += 1;
                    lane.used_since_fresh += 1;
                }
                Decision::Denied | Decision::Undecided => undecided += 1,
                Decision::Refused => {}
            }
        }
        // Drained to a refusal again, so the Retry-After step (which waits each lane's latest
        // refusal and expects nothing admitted since) stays meaningful.
        let (outcomes, _) = drain(lane, scope).await?;
        for o in &outcomes {
            scope.requests += 1;
            push_event(&mut lane.timeline, o, "replay", scope);
        }
        if let Some(last) = outcomes.last().filter(|o| is_refusal_outcome(o, scope)) {
            lane.last_refusal = Some((last.clone(), Instant::now()));
        }
        lane.last_request = Some(Instant::now());
    }
    let third = burst(&mut lanes[i], scope).await?;
    let unjudged = matches!(&third.verdict, Some((Status::Inconclusive, _)));
    if unjudged || replayed == 0 || undecided > 0 {
        scope.finding(
            clause,
            Status::Inconclusive,
            format!(
                "a shortfall right after other categories' traffic ({}) could not be replayed cleanly ({replayed} replayed requests admitted, {undecided} undecided; then: {})",
                first.summary, third.summary
            ),
        );
        return Ok(());
    }
    match third.deficit {
        Some(d) if 2 * d >= replayed && replayed > 0 => scope.finding_with(
            clause,
            Status::Fail,
            format!(
                "right after {} requests in other categories: {}; alone from fresh: {}; replayed from two idle windows, after {replayed} requests in the other categories: {}. The other categories used this one's budget",
                first.others_before, first.summary, second.summary, third.summary
            ),
            third.evidence,
        ),
        _ => scope.finding(
            clause,
            Status::Pass,
            format!(
                "a shortfall right after other categories' traffic ({}) was not reproduced from two idle windows after the same traffic ({}): the category's own state, not borrowed budget",
                first.summary, third.summary
            ),
        ),
    }
    Ok(())
}

/// Two bursts of one category from fresh: a limit fails only if both are out of bounds the same
/// way. Under-admission fails only when both bursts fall short by the same count: a shortfall
/// that varies is what another client sharing the key looks like, and is inconclusive.
fn combine(first: Option<BurstResult>, second: BurstResult) -> BurstResult {
    let Some(first) = first else { return second };
    let both = format!("{}; again from fresh: {}", first.summary, second.summary);
    match (&second.verdict, first.deficit, second.deficit) {
        (None, _, _) => BurstResult {
            summary: format!(
                "{} (a first burst was out of bounds: {})",
                second.summary, first.summary
            ),
            ..second
        },
        // Over the bound once and short of it the other time: neither reading is confirmed.
        (Some(_), _, _) if first.over != second.over && (first.over || second.over) => {
            BurstResult {
                verdict: Some((
                    Status::Inconclusive,
                    format!(
                        "{both}: out of bounds in opposite directions, so neither is confirmed"
                    ),
                )),
                summary: both,
                ..second
            }
        }
        (Some(_), Some(a), Some(b)) if a != b => BurstResult {
            verdict: Some((
                Status::Inconclusive,
                format!(
                    "{both}: the shortfall varies, as when other clients use the same key (set rate_limits.shared_use in the profile)"
                ),
            )),
            summary: both,
            ..second
        },
        (Some((status, why)), _, _) => {
            let verdict = Some((*status, format!("{why} (twice; first: {})", first.summary)));
            BurstResult {
                verdict,
                summary: both,
                ..second
            }
        }
    }
}

/// A shell script that sends the over-admitted burst again: `sent` requests at once as the
/// scenario's own identity, or as a key it creates first when the burst went to a created key,
/// then the answers counted (`120 200`, `20 429`: more than `allowed` 200s is the failure).
/// None where a line could not be replayed as it stands (a value derived from a secret).
fn burst_script(lane: &Lane, scope: &mut Scope, sent: usize, allowed: u32) -> Option<String> {
    let mut lines = vec![format!(
        "# {}: {sent} requests at once; at most {allowed} may be admitted (2xx).",
        lane.probe.category
    )];
    let mut burst = scope.probe.curl(&lane.own).replacen(
        "curl -sS -i ",
        "curl -sS -o /dev/null -w '%{http_code}\\n' ",
        1,
    );
    if lane.who == "a created key" {
        let create = scope
            .build(&RequestSpec {
                endpoint: Some("create_api_key".into()),
                method: None,
                path: None,
                params: BTreeMap::new(),
                as_: Some(As::Role(lane.role)),
                headers: BTreeMap::new(),
                body: None,
                raw_body: None,
            })
            .ok()?;
        let create = scope.probe.curl(&create);
        let field = scope
            .target
            .spec
            .endpoint("create_api_key")?
            .returns
            .get("key")?
            .rsplit('/')
            .next()?
            .to_string();
        let AsRole::Credential(role) = lane.role else {
            return None;
        };
        let own = scope.target.shell.get(&role)?;
        lines.push("# A fresh key first (limits may count per key), as the run did.".into());
        lines.push(format!(
            "key=$({} | sed -n 's/.*\"{field}\" *: *\"\\([^\"]*\\)\".*/\\1/p')",
            create.replacen("curl -sS -i ", "curl -sS ", 1)
        ));
        burst = burst.replace(&format!("\"{own}\""), "\"$key\"");
    }
    if lines
        .iter()
        .chain([&burst])
        .any(|l| l.contains("# not replayable"))
    {
        return None;
    }
    lines.push(format!(
        "for i in $(seq {sent}); do {burst} & done | sort | uniq -c"
    ));
    Some(lines.join("\n"))
}

/// A concurrent burst from fresh, judged against the reading.
async fn burst(lane: &mut Lane, scope: &mut Scope<'_>) -> Result<BurstResult, Error> {
    let limit = lane.category.limit;
    let window = lane.category.window;
    let extra = (limit / 5).max(5);
    let size = (limit.saturating_sub(lane.used_since_fresh) + extra) as usize;
    let first_send = scope.probe.elapsed_ms();
    let req = lane.request.clone();
    let (probe, health) = (scope.probe, scope.health);
    let spec = scope.target.spec.clone();
    let credential_headers = spec.auth.credential_headers();
    let surface = &lane.surface;
    let mut sends = futures::stream::iter(0..size)
        .map(|i| {
            let (route, r) = surface.pick(i, &req, &credential_headers);
            async move { health.send(probe, r).await.map(|o| (route, o)) }
        })
        .buffer_unordered(BURST_CONCURRENCY);
    // Health is recorded as answers come, so a target gone mid-burst ends it at once (the
    // requests in flight and not yet sent are dropped with the stream).
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(size);
    let mut per_route = vec![0u32; surface.routes.len() + 1];
    while let Some(o) = sends.next().await {
        let (route, o) = o?;
        if decision(scope, o.status()) == Decision::Admitted {
            per_route[route] += 1;
        }
        outcomes.push(o);
    }
    drop(sends);
    let routes_note = if surface.routes.is_empty() {
        String::new()
    } else {
        let names = surface.names(&lane.probe.endpoint);
        format!(
            "; rotated over {} routes sharing one budget (admitted: {})",
            names.len(),
            names
                .iter()
                .zip(&per_route)
                .map(|(n, c)| format!("{n} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let left_out_note = if lane.surface.left_out.is_empty() {
        String::new()
    } else {
        format!("; not covered: {}", lane.surface.left_out.join(", "))
    };
    lane.last_request = Some(Instant::now());
    let mut admitted = 0u32;
    let mut last_admitted_ms = first_send;
    let mut refusal: Option<&Outcome> = None;
    let mut transport = 0;
    let mut denied = 0;
    for o in &outcomes {
        scope.requests += 1;
        push_event(&mut lane.timeline, o, "burst", scope);
        match decision(scope, o.status()) {
            // No answer or a 5xx: the limiter's decision is unknown.
            Decision::Undecided => transport += 1,
            Decision::Refused => {
                if refusal.is_none_or(|r| r.done_ms() < o.done_ms()) {
                    refusal = Some(o);
                }
            }
            Decision::Denied => denied += 1,
            Decision::Admitted => {
                admitted += 1;
                last_admitted_ms = last_admitted_ms.max(o.done_ms());
            }
        }
    }
    if let Some(r) = refusal {
        lane.last_refusal = Some((r.clone(), Instant::now()));
    }
    let from = *lane.fresh_from_ms.get_or_insert(first_send);
    let total = lane.used_since_fresh + admitted;
    let span_ms = (last_admitted_ms - from).max(0.0);
    let bound = crate::rate::from_fresh(
        scope.target.spec.rate_limits.algorithm,
        limit,
        window,
        Duration::from_secs_f64(span_ms / 1000.0),
    );
    let upper = bound.max.min(u64::from(u32::MAX)) as u32;
    let sent_total = lane.used_since_fresh as usize + size;
    let lower = (limit.min(sent_total as u32)).saturating_sub(scope.target.shared_use);
    lane.used_since_fresh = total;
    let cat = &lane.probe.category;
    let summary = format!(
        "{cat}: from fresh, {total} admitted of {sent_total} (limit {limit}; at most {upper} over {span_ms:.0} ms under {}){routes_note}{left_out_note}",
        bound.readings
    );
    let evidence_of = |pred: &dyn Fn(&Outcome) -> bool| Evidence {
        script: None,
        note: summary.clone(),
        exchanges: outcomes
            .iter()
            .filter(|o| pred(o))
            .take(2)
            .map(|o| scope.probe.exchange(o))
            .collect(),
    };
    let verdict = if transport > 0 {
        Some((
            Status::Inconclusive,
            format!(
                "{cat}: {transport} requests of the burst got no answer or a 5xx (no decision of the limiter)"
            ),
        ))
    } else if denied > 0 {
        Some((
            Status::Inconclusive,
            format!("{cat}: the identity was refused {denied} times during the burst"),
        ))
    } else if total > upper {
        Some((
            Status::Fail,
            format!(
                "{cat}: over-admission: {total} admitted where at most {upper} are allowed in {span_ms:.0} ms from fresh, as {} ({} allow at most {upper}{routes_note})",
                lane.who, bound.readings
            ),
        ))
    } else if total < lower {
        Some((
            Status::Fail,
            format!(
                "{cat}: under-admission: from fresh, only {total} of {sent_total} admitted before refusals, limit {limit} (if other clients share this key, set rate_limits.shared_use in the profile)"
            ),
        ))
    } else {
        None
    };
    let evidence = match &verdict {
        // The admissions past the bound, first the one that broke it.
        Some((Status::Fail, _)) if total > upper => {
            let mut past: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| decision(scope, o.status()) == Decision::Admitted)
                .collect();
            past.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
            let within = upper.saturating_sub(total - admitted) as usize;
            Evidence {
                script: burst_script(lane, scope, sent_total, upper),
                note: summary.clone(),
                exchanges: past
                    .into_iter()
                    .skip(within)
                    .take(2)
                    .map(|o| scope.probe.exchange(o))
                    .collect(),
            }
        }
        _ => evidence_of(&|o: &Outcome| o.status().is_some_and(|c| is_refusal(c, scope))),
    };
    let deficit = (transport == 0 && denied == 0 && total < lower).then(|| lower - total);
    Ok(BurstResult {
        clause: lane.probe.clause.clone(),
        refused: refusal.is_some(),
        over: transport == 0 && denied == 0 && total > upper,
        first_refusal: outcomes
            .iter()
            .filter(|o| decision(scope, o.status()) == Decision::Refused)
            .min_by(|a, b| a.at_ms.total_cmp(&b.at_ms))
            .cloned(),
        verdict,
        summary,
        evidence,
        deficit,
        others_before: 0,
        others: Vec::new(),
    })
}

/// With lane `i` exhausted, one request in every category not yet burst must be admitted.
async fn independence_probes(
    s: &RateLimitScenario,
    lanes: &mut [Lane],
    i: usize,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    let Some(clause) = &s.independence_clause else {
        return Ok(());
    };
    let exhausted = lanes[i].probe.category.clone();
    for lane in lanes.iter_mut().skip(i + 1) {
        let o = scope.send(lane.request.clone()).await?;
        lane.fresh_from_ms.get_or_insert(o.at_ms);
        push_event(&mut lane.timeline, &o, "probe", scope);
        let cat = &lane.probe.category;
        let ex = Evidence {
            script: None,
            note: format!("{exhausted} exhausted, one {cat} request"),
            exchanges: vec![scope.probe.exchange(&o)],
        };
        match (decision(scope, o.status()), o.status()) {
            (Decision::Refused, Some(c)) => scope.finding_with(
                clause,
                Status::Fail,
                format!("with {exhausted} exhausted, a fresh {cat} request was refused ({c})"),
                ex,
            ),
            (Decision::Admitted, _) => {
                lane.used_since_fresh += 1;
                scope.finding_with(
                    clause,
                    Status::Pass,
                    format!("with {exhausted} exhausted, {cat} still admits"),
                    ex,
                )
            }
            (_, status) => scope.finding_with(
                clause,
                Status::Inconclusive,
                format!("{cat}: {}", no_decision(status)),
                ex,
            ),
        }
    }
    Ok(())
}

async fn per_identity(
    s: &RateLimitScenario,
    lanes: &mut [Lane],
    clause: &str,
    scope: &mut Scope<'_>,
) -> Result<(), Error> {
    let Some(other) = &s.other_identity else {
        return Ok(());
    };
    if let AsRole::Credential(role) = *other
        && scope.target.credential(role).is_none()
    {
        scope.finding(clause, Status::Skipped, role.missing());
        return Ok(());
    }
    let Some(lane) = lanes.iter_mut().rev().find(|l| l.last_refusal.is_some()) else {
        scope.finding(
            clause,
            Status::Inconclusive,
            "no category was exhausted, so per-identity limits could not be observed",
        );
        return Ok(());
    };
    // Exhausted afresh, right before: a refusal from earlier in the run may lie a window back,
    // and a budget shared by every identity (one per client address) would then admit the other
    // identity from its refill, passing a limiter that has no per-identity budget at all. A
    // drain that ends without a refusal (a 5xx, a denial) leaves the earlier refusal to go by,
    // as before.
    let (drained, _) = drain(lane, scope).await?;
    for o in &drained {
        push_event(&mut lane.timeline, o, "drain", scope);
    }
    let spec = RequestSpec {
        endpoint: Some(lane.probe.endpoint.clone()),
        method: None,
        path: None,
        params: lane.probe.params.clone(),
        as_: Some(As::Role(*other)),
        headers: BTreeMap::new(),
        body: None,
        raw_body: None,
    };
    let req = match scope.build(&spec) {
        Ok(r) => r,
        Err(e) => {
            let (status, why) = scope.missing_reason(&e);
            scope.finding(clause, status, why);
            return Ok(());
        }
    };
    let o = scope.send(req).await?;
    push_event(&mut lane.timeline, &o, "probe", scope);
    let cat = &lane.probe.category;
    let ex = Evidence {
        script: None,
        note: format!("{cat} exhausted for {}, one request as {other}", lane.who),
        exchanges: vec![scope.probe.exchange(&o)],
    };
    match (decision(scope, o.status()), o.status()) {
        (Decision::Refused, Some(c)) => scope.finding_with(
            clause,
            Status::Fail,
            format!(
                "with {}'s {cat} budget exhausted, {other} was refused too ({c})",
                lane.who
            ),
            ex,
        ),
        // A 404 for another team's view of a resource is still an admission by the limiter.
        (Decision::Admitted, _) => scope.finding_with(
            clause,
            Status::Pass,
            format!(
                "with {}'s {cat} budget exhausted, {other} is still admitted",
                lane.who
            ),
            ex,
        ),
        (_, status) => scope.finding_with(
            clause,
            Status::Inconclusive,
            format!("{other}: {}", no_decision(status)),
            ex,
        ),
    }
    Ok(())
}

/// Why an answer is no decision of the limiter.
fn no_decision(status: Option<u16>) -> String {
    match status {
        Some(c) => format!("answered {c}, which is no decision of the limiter"),
        None => "no answer".into(),
    }
}

/// Waits the last refusal's Retry-After, in either form (never longer than the window plus a
/// second), and sends.
///
/// The refusal is fresh: the lane is drained again right before (one request, usually, as the
/// bursts left it exhausted), so nothing the run did in between (replays, other categories on a
/// shared budget) can take what the Retry-After promised. Returns the retry, the wait, and the
/// drain's requests.
async fn retry_after_wait(
    lane: &Lane,
    scope: &Scope<'_>,
) -> Result<(Option<Outcome>, Option<Waited>, Vec<Outcome>), Error> {
    if lane.last_refusal.is_none() {
        // Never exhausted: nothing to retry.
        return Ok((None, None, Vec::new()));
    }
    let (drained, _) = drain(lane, scope).await?;
    let received = Instant::now();
    let Some(refusal) = drained.last().filter(|o| is_refusal_outcome(o, scope)) else {
        return Ok((None, None, drained));
    };
    let Some(r) = super::scope::refusal(&scope.target.spec, refusal) else {
        return Ok((None, None, drained));
    };
    if r.retry_after.wait().is_none() {
        // No Retry-After to honour: RL-429-RETRY-AFTER fails it; this clause has nothing to test.
        return Ok((None, None, drained));
    }
    let cap = lane.category.window + Duration::from_secs(1);
    let wait = r.wait(cap);
    let from = scope.probe.elapsed_ms();
    scope.wait_until("Retry-After", received + wait).await?;
    let to = scope.probe.elapsed_ms();
    let outcome = scope.health.send(scope.probe, lane.request.clone()).await?;
    let waited = Waited {
        from_ms: from,
        to_ms: to,
        short_of: r.retry_after.wait().filter(|w| *w > cap),
    };
    Ok((Some(outcome), Some(waited), drained))
}

/// A Retry-After wait as it was kept.
#[derive(Clone, Copy)]
struct Waited {
    from_ms: f64,
    to_ms: f64,
    /// What the refusal asked for, when that was more than the window and a second, which is
    /// all the harness waits (RL-429-RETRY-AFTER fails such a value; a refusal after the
    /// shorter wait says nothing about honouring it).
    short_of: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sharing probe's stopping rule: a shared budget that refilled a token right after the
    /// bursting key's refusal admits the pacing key once, so one admission shows nothing; nor
    /// does any number a token bucket could have refilled meanwhile.
    #[test]
    fn a_refilled_token_never_passes_for_a_budget_of_its_own() {
        let general = Category {
            limit: 100,
            window: Duration::from_secs(60),
        };
        let ms = Duration::from_millis;
        assert!(!outran_refill(1, ms(0), &general));
        assert!(!outran_refill(1, ms(3), &general));
        assert!(outran_refill(2, ms(3), &general));
        // A token every 600 ms: 1.2 s may have refilled two, on top of the one a refusal leaves.
        assert!(!outran_refill(3, ms(1_200), &general));
        assert!(outran_refill(4, ms(1_200), &general));
        // At a 2 s window a token comes every 20 ms.
        let embedded = Category {
            limit: 100,
            window: Duration::from_secs(2),
        };
        assert!(!outran_refill(2, ms(25), &embedded));
        assert!(outran_refill(3, ms(25), &embedded));
    }
}
