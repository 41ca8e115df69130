//! Step scenarios: requests with expectations, run in order. A step with a `clause` decides it:
//! every response it gets must meet its expectations. A failed set-up step (no clause) makes the
//! rest of the scenario inconclusive rather than failed: the harness could not get to the check.

use std::collections::BTreeMap;
use std::time::Duration;

use super::expect::{admits, check, describe_set, status_matches};
use super::jwt::Jwt;
use super::scope::Scope;
use super::template::TemplateError;
use crate::error::Error;
use crate::probe::Outcome;
use crate::profile::Role;
use crate::scenario::{Assertion, Lifetime, Repeat, Step, WaitFor};
use crate::verdict::{Evidence, Status};

/// How many times a request that met the over-limit status is sent again (after Retry-After)
/// when the step did not expect it: other scenarios share the identity's budgets.
const RATE_LIMIT_RETRIES: u32 = 3;

/// Why the remaining steps of a scenario cannot run.
enum Halt {
    Skip(String),
    Inconclusive(String),
}

pub async fn run(steps: &[Step], scope: &mut Scope<'_>) -> Result<(), Error> {
    let mut halted: Option<Halt> = None;
    for step in steps {
        if let Some(h) = &halted {
            if let Some(c) = &step.clause {
                match h {
                    Halt::Skip(why) => scope.finding(c, Status::Skipped, why.clone()),
                    Halt::Inconclusive(why) => scope.finding(c, Status::Inconclusive, why.clone()),
                }
            }
            continue;
        }
        if let Some(role) = step
            .requires
            .iter()
            .copied()
            .find(|r| scope.target.credential(*r).is_none())
        {
            if let Some(c) = &step.clause {
                scope.finding(
                    c,
                    Status::Skipped,
                    format!("{}: step `{}` not run", role.missing(), step.name),
                );
            }
            continue;
        }
        halted = run_step(step, scope).await?;
    }
    Ok(())
}

async fn run_step(step: &Step, scope: &mut Scope<'_>) -> Result<Option<Halt>, Error> {
    if let Some(w) = &step.wait {
        let d = match *w {
            WaitFor::Duration(d) => d,
            WaitFor::RetryAfter => Duration::from_secs(scope.last_retry_after.unwrap_or(1)),
        };
        scope.wait("a wait step", d).await?;
        return Ok(None);
    }
    if let Some(a) = &step.assert {
        assert_step(step, a, scope);
        return Ok(None);
    }
    let Some(request) = &step.request else {
        return Ok(None);
    };

    // The values to run the step with: one run, or one per `for_each` value.
    let runs: Vec<Option<(String, String)>> = match &step.for_each {
        Some(f) => f
            .values
            .iter()
            .map(|v| Some((f.var.clone(), v.clone())))
            .collect(),
        None => vec![None],
    };
    let denied = scope.target.spec.auth.denial_statuses.clone();
    let over = scope.target.spec.rate_limits.over_limit.status;
    let expects_over = step
        .expect
        .as_ref()
        .and_then(|e| e.status.as_ref())
        .is_some_and(|s| admits(s, over))
        || step
            .expect_count
            .as_ref()
            .is_some_and(|c| admits(&c.status, over));
    let parallel = step.parallel.unwrap_or(1).max(1);
    // `repeat` counts requests; sent `parallel` at a time, that is this many batches.
    let times = repeat_count(step, scope)?.div_ceil(parallel);

    let mut failures: Vec<(String, Outcome)> = Vec::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    // Variations that came out as the value they vary (`swapcase` of a token without letters).
    let mut unvaried: Vec<String> = Vec::new();
    for binding in &runs {
        let label = binding
            .as_ref()
            .map(|(_, t)| format!(" with `{t}`"))
            .unwrap_or_default();
        if let Some((var, template)) = binding {
            match scope.expand(template) {
                Ok(v) => {
                    if varies_nothing(template, &v, scope) {
                        unvaried.push(template.clone());
                        continue;
                    }
                    scope.vars.insert(var.clone(), v);
                }
                Err(e) => return Ok(template_problem(step, scope, &e)),
            }
        }
        let req = match scope.build(request) {
            Ok(r) => r,
            Err(e) => return Ok(template_problem(step, scope, &e)),
        };
        let mut batch = Vec::new();
        // A step that only asks for at least N answers of a kind is decided once it has them:
        // the rest of the repeat could not change it (a throttle met early costs no more).
        let enough = step
            .expect_count
            .as_ref()
            .filter(|c| step.expect.is_none() && c.at_most.is_none())
            .and_then(|c| c.at_least.map(|n| (c, n)));
        for _ in 0..times {
            if let Some((c, n)) = enough {
                let seen = batch
                    .iter()
                    .filter(|o: &&Outcome| {
                        o.status()
                            .is_some_and(|s| status_matches(&c.status, s, &denied))
                    })
                    .count() as u32;
                if seen >= n {
                    break;
                }
            }
            if parallel > 1 {
                let sends = (0..parallel).map(|_| scope.health.send(scope.probe, req.clone()));
                let results = futures::future::join_all(sends).await;
                for o in results {
                    scope.requests += 1;
                    batch.push(o?);
                }
            } else {
                let mut o = scope.send(req.clone()).await?;
                let mut tries = 0;
                while !expects_over && o.status() == Some(over) && tries < RATE_LIMIT_RETRIES {
                    scope.wait("Retry-After", scope.backoff(&o)).await?;
                    o = scope.send(req.clone()).await?;
                    tries += 1;
                }
                batch.push(o);
            }
        }
        for o in &batch {
            match &o.result {
                Err(e) => failures.push((format!("no answer{label}: {e}"), o.clone())),
                Ok(resp) => {
                    if let Some(expect) = &step.expect {
                        let problems = match check(expect, resp, &denied, &mut scope.env()) {
                            Ok(p) => p,
                            Err(e) => return Ok(template_problem(step, scope, &e)),
                        };
                        if let Some(first) = problems.into_iter().next() {
                            failures.push((format!("{first}{label}"), o.clone()));
                        }
                    }
                }
            }
        }
        outcomes.extend(batch);
    }

    if outcomes.is_empty() && !unvaried.is_empty() {
        let why = format!(
            "step `{}`: every variation equals the value it varies ({})",
            step.name,
            unvaried.join(", ")
        );
        if let Some(c) = &step.clause {
            scope.finding(c, Status::Skipped, why);
        }
        return Ok(None);
    }

    if let (Some(skip), Some(last)) = (&step.skip_on, outcomes.last())
        && last.status().is_some_and(|s| skip.status.contains(&s))
    {
        let why = format!(
            "{} (step `{}` got {})",
            skip.reason,
            step.name,
            last.status().unwrap_or(0)
        );
        if let Some(c) = &step.clause {
            scope.finding(c, Status::Skipped, why.clone());
        }
        return Ok(Some(Halt::Skip(why)));
    }

    // An over-limit burst that took so long that a conforming limiter could admit all of it.
    let mut slow: Option<String> = None;
    if let Some(count) = &step.expect_count {
        let matched = outcomes
            .iter()
            .filter(|o| {
                o.status()
                    .is_some_and(|s| status_matches(&count.status, s, &denied))
            })
            .count() as u32;
        let what = describe_set(&count.status, &denied);
        if let Some(max) = count.at_most
            && matched > max
        {
            failures.push((
                format!(
                    "{matched} of {} responses were {what}, at most {max} allowed",
                    outcomes.len()
                ),
                outcomes
                    .iter()
                    .find(|o| {
                        o.status()
                            .is_some_and(|s| status_matches(&count.status, s, &denied))
                    })
                    .cloned()
                    .unwrap_or_else(|| outcomes[0].clone()),
            ));
        }
        if let Some(min) = count.at_least
            && matched < min
        {
            if let Some(why) = undecided_answers(step, &outcomes, over, matched, min)
                .or_else(|| burst_too_slow(step, &outcomes, scope, over, &count.status))
            {
                slow = Some(format!(
                    "{}: {matched} of {} responses were {what}, {why}",
                    step.name,
                    outcomes.len()
                ));
            } else {
                failures.push((
                    format!(
                        "{matched} of {} responses were {what}, at least {min} expected",
                        outcomes.len()
                    ),
                    outcomes
                        .last()
                        .cloned()
                        .unwrap_or_else(|| outcomes[0].clone()),
                ));
            }
        }
    }

    // Captures come from the last answer.
    if let Some(last) = outcomes.iter().rev().find(|o| o.response().is_some()) {
        capture(step, last, scope);
    }

    let evidence = |items: &[(String, Outcome)], scope: &Scope| Evidence {
        script: None,
        note: items
            .iter()
            .map(|(w, _)| w.as_str())
            .take(3)
            .collect::<Vec<_>>()
            .join("; "),
        exchanges: items
            .iter()
            .take(3)
            .map(|(_, o)| scope.probe.exchange(o))
            .collect(),
    };
    let total = outcomes.len();
    if let Some(why) = slow.filter(|_| failures.is_empty()) {
        return Ok(match &step.clause {
            Some(c) => {
                scope.finding_with(c, Status::Inconclusive, why, evidence(&[], scope));
                None
            }
            None => Some(Halt::Inconclusive(format!("set-up step undecided: {why}"))),
        });
    }
    match (&step.clause, failures.is_empty()) {
        (Some(c), true) => {
            let first = outcomes
                .first()
                .map(|o| vec![scope.probe.exchange(o)])
                .unwrap_or_default();
            let mut reason = format!("{}: {total} response(s) as expected", step.name);
            if !unvaried.is_empty() {
                reason.push_str(&format!(
                    "; not sent, as they equal the value they vary: {}",
                    unvaried.join(", ")
                ));
            }
            scope.finding_with(
                c,
                Status::Pass,
                reason,
                Evidence {
                    script: None,
                    note: step.name.clone(),
                    exchanges: first,
                },
            );
            Ok(None)
        }
        (Some(c), false) => {
            // No answer, or a refusal by a rate limit the step did not ask about (still refused
            // after the retries): the clause's reading was never put to the test. The limit
            // is its own clauses' business.
            let throttled = |o: &Outcome| !expects_over && o.status() == Some(over);
            let undecided = failures
                .iter()
                .all(|(_, o)| o.response().is_none() || throttled(o));
            let status = if undecided {
                Status::Inconclusive
            } else {
                Status::Fail
            };
            let n = failures.len();
            let mut reason = format!("{}: {} ({n} of {total})", step.name, failures[0].0);
            if undecided && failures.iter().any(|(_, o)| throttled(o)) {
                reason.push_str(&format!(
                    "; refused with {over}, a rate limit (its own clauses judge it): nothing \
                     was decided"
                ));
            }
            scope.finding_with(c, status, reason, evidence(&failures, scope));
            Ok(None)
        }
        (None, true) => Ok(None),
        (None, false) => Ok(Some(Halt::Inconclusive(format!(
            "set-up step `{}` failed: {}",
            step.name, failures[0].0
        )))),
    }
}

/// Whether a `for_each` value such as `{{admin_token|swapcase}}` expanded to the variable it
/// varies (a token without letters has no case to swap): sent, it would be the credential
/// itself, and a refusal expected of it would fail a conforming server.
fn varies_nothing(template: &str, value: &str, scope: &mut Scope) -> bool {
    let Some(inner) = template
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
    else {
        return false;
    };
    let Some((base, _filters)) = inner.split_once('|') else {
        return false;
    };
    if base.contains("{{") || base.contains("}}") {
        return false;
    }
    scope
        .expand(&format!("{{{{{}}}}}", base.trim()))
        .is_ok_and(|b| b == value)
}

/// Why a `repeat: over_limit:CAT` burst that met too few over-limit answers decides nothing
/// because of what else it was answered: a 5xx or no answer is no decision of the limiter, and
/// with a credential the run holds (`as: ROLE`), neither is any answer but a success (a denial,
/// a 404: the request was not admitted, so it shows no limit missing). Only admissions beyond
/// what the expectation leaves room for fail it. `None` when they do, or for no over-limit burst.
fn undecided_answers(
    step: &Step,
    outcomes: &[Outcome],
    over: u16,
    matched: u32,
    min: u32,
) -> Option<String> {
    let Some(Repeat::OverLimit(_)) = &step.repeat else {
        return None;
    };
    let valid = matches!(
        step.request.as_ref().and_then(|r| r.as_.as_ref()),
        Some(crate::scenario::As::Role(role)) if *role != crate::scenario::AsRole::None
    );
    let mut others: BTreeMap<String, u32> = BTreeMap::new();
    for o in outcomes {
        let undecided = match o.status() {
            None => Some("no answer".to_string()),
            Some(s) if s == over => None,
            Some(s) if s >= 500 => Some(s.to_string()),
            Some(s) if valid && !(200..300).contains(&s) => Some(s.to_string()),
            Some(_) => None,
        };
        if let Some(k) = undecided {
            *others.entry(k).or_default() += 1;
        }
    }
    let undecided: u32 = others.values().sum();
    (undecided > 0 && matched + undecided >= min).then(|| {
        let parts: Vec<String> = others.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "but {} of the answers were no decision of the limiter ({}): nothing decided",
            undecided,
            parts.join(", ")
        )
    })
}

/// Why a `repeat: over_limit:CAT` burst that met too few over-limit answers decides nothing:
/// it took so long that every request could have been admitted by some reading of the
/// category's limit from any state (`rate::any_state_max`: a bucket's refill, a window rolling
/// over). `None` when the burst was quick enough to judge, or is no over-limit burst.
fn burst_too_slow(
    step: &Step,
    outcomes: &[Outcome],
    scope: &Scope,
    over: u16,
    wanted: &crate::scenario::StatusSet,
) -> Option<String> {
    let Some(Repeat::OverLimit(cat)) = &step.repeat else {
        return None;
    };
    if !admits(wanted, over) {
        return None;
    }
    let c = scope.target.spec.category(cat)?;
    let start = outcomes
        .iter()
        .map(|o| o.at_ms)
        .fold(f64::INFINITY, f64::min);
    let end = outcomes
        .iter()
        .map(|o| o.at_ms + o.elapsed.as_secs_f64() * 1000.0)
        .fold(0.0, f64::max);
    let span = Duration::from_secs_f64(((end - start) / 1000.0).max(0.0));
    let most = crate::rate::any_state_max(c.limit, c.window, span);
    (outcomes.len() as u64 <= most).then(|| {
        format!(
            "but the {} requests took {} ms, in which a conforming {cat} limit ({} per {}) may \
             admit {most}: nothing decided",
            outcomes.len(),
            span.as_millis(),
            c.limit,
            humantime::format_duration(c.window)
        )
    })
}

/// A category's name was checked against the spec when the scenario was validated; the target's
/// spec is that spec (a profile changes limits, never names), so a missing one is an error, never
/// a default limit.
fn repeat_count(step: &Step, scope: &Scope) -> Result<u32, Error> {
    Ok(match &step.repeat {
        None => 1,
        Some(Repeat::Times(n)) => (*n).clamp(1, 10_000),
        Some(Repeat::OverLimit(cat)) => {
            let limit = scope
                .target
                .spec
                .category(cat)
                .map(|c| c.limit)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "step `{}`: repeat over_limit:{cat}: the target's spec has no category `{cat}`",
                        step.name
                    ))
                })?;
            // More than any reading admits within a fraction of a window, even a fixed window
            // rolling over mid-burst (twice the limit).
            2 * limit + 10
        }
    })
}

fn template_problem(step: &Step, scope: &Scope, e: &TemplateError) -> Option<Halt> {
    let (status, why) = scope.missing_reason(e);
    let why = format!("{why} (step `{}`)", step.name);
    if let Some(c) = &step.clause {
        scope.finding(c, status, why.clone());
    }
    // A missing value stops only this step; the next may not need it.
    None
}

fn capture(step: &Step, outcome: &Outcome, scope: &mut Scope) {
    let Some(resp) = outcome.response() else {
        return;
    };
    let doc = resp.json();
    let endpoint = step
        .request
        .as_ref()
        .and_then(|r| r.endpoint.as_deref())
        .and_then(|n| scope.target.spec.endpoint(n))
        .cloned();
    let mut learned = Vec::new();
    for (name, cap) in &step.capture {
        let value = if let Some(h) = &cap.header {
            resp.header(h).map(str::to_string)
        } else {
            let pointer = match (&cap.json, &cap.returns) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(r)) => endpoint.as_ref().and_then(|e| e.returns.get(r).cloned()),
                _ => None,
            };
            pointer.and_then(|p| {
                doc.as_ref()?.pointer(&p).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            })
        };
        if let Some(v) = value {
            if cap.secret {
                learned.push(v.clone());
            }
            scope.vars.insert(name.clone(), v);
        } else {
            scope.vars.remove(name);
        }
    }
    if !learned.is_empty() {
        let prefixes = scope.target.secret_prefixes();
        scope.probe.learn_secrets(learned, &prefixes);
    }
}

fn assert_step(step: &Step, a: &Assertion, scope: &mut Scope) {
    let Some(clause) = &step.clause else { return };
    let value = match scope.expand(&a.value) {
        Ok(v) => v,
        Err(e) => {
            template_problem(step, scope, &e);
            return;
        }
    };
    let shown = &a.value;
    let spec = scope.target.spec.clone();
    let mut problems = Vec::new();
    if let Some(p) = &a.starts_with {
        match scope.expand(p) {
            Ok(p) if !value.starts_with(&p) => {
                problems.push(format!("`{shown}` does not start with `{p}`"))
            }
            Ok(_) => {}
            Err(e) => {
                template_problem(step, scope, &e);
                return;
            }
        }
    }
    let needs_jwt = a.jwt_alg.is_some() || a.jwt_lifetime.is_some() || a.jwt_verifies.is_some();
    if needs_jwt {
        let body = value
            .strip_prefix(spec.auth.access_token.prefix.as_str())
            .unwrap_or(&value);
        match Jwt::decode(body) {
            Err(e) => problems.push(format!("`{shown}` is not a JWT: {e}")),
            Ok(jwt) => {
                if let Some(alg) = &a.jwt_alg
                    && jwt.alg() != Some(alg.as_str())
                {
                    problems.push(format!(
                        "`{shown}` has alg {:?}, not {alg}",
                        jwt.alg().unwrap_or("(none)")
                    ));
                }
                if let Some(l) = &a.jwt_lifetime {
                    let want = match l {
                        Lifetime::Session => spec.auth.access_token.session_ttl,
                        Lifetime::Refresh => spec.auth.access_token.refresh_ttl,
                    };
                    match (jwt.claim_secs("iat"), jwt.claim_secs("exp")) {
                        (Some(iat), Some(exp)) => {
                            let got = exp - iat;
                            let want_s = want.as_secs() as i64;
                            if (got - want_s).unsigned_abs() > spec.auth.leeway.as_secs() {
                                problems.push(format!(
                                    "`{shown}` lives {} (exp - iat), not {}",
                                    humantime::format_duration(Duration::from_secs(
                                        got.max(0) as u64
                                    )),
                                    humantime::format_duration(want)
                                ));
                            }
                        }
                        _ => problems.push(format!("`{shown}` lacks iat or exp")),
                    }
                }
                if a.jwt_verifies == Some(true) {
                    match scope.target.credential(Role::JwtSecret) {
                        None => {
                            scope.finding(
                                clause,
                                Status::Skipped,
                                format!("{} (step `{}`)", Role::JwtSecret.missing(), step.name),
                            );
                            return;
                        }
                        Some(secret) if !Jwt::verifies(body, secret.as_bytes()) => {
                            problems.push(format!(
                                "`{shown}` does not verify as HS256 under the deployment's secret"
                            ))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        scope.finding(clause, Status::Pass, format!("{}: holds", step.name));
    } else {
        scope.finding_with(
            clause,
            Status::Fail,
            format!("{}: {}", step.name, problems.join("; ")),
            Evidence {
                script: None,
                note: problems.join("; "),
                exchanges: Vec::new(),
            },
        );
    }
}
