//! The `timing` scenario kind: runs the timing test (`crate::timing`) against the scenario's
//! admin endpoint and turns its result into a finding for the scenario's clause.

use std::collections::BTreeMap;
use std::time::Instant;

use super::scope::Scope;
use crate::error::Error;
use crate::probe::Timer;
use crate::profile::Role;
use crate::scenario::{RequestSpec, TimingScenario};
use crate::timing::sample::{self, Endpoint};
use crate::timing::verdict::{self, Context};
use crate::timing::{Settings, TimingResult};
use crate::verdict::{Evidence, Status};

/// The scenario's settings over the defaults.
pub fn settings(t: &TimingScenario) -> Settings {
    let d = Settings::default();
    Settings {
        samples: t.samples.unwrap_or(d.samples),
        budget: t.budget.unwrap_or(d.budget),
        warmup: t.warmup.unwrap_or(d.warmup),
        max_detectable: t.max_detectable.unwrap_or(d.max_detectable),
        ..d
    }
}

/// Runs the test; `None` when it could not start (the finding then says why).
pub async fn run(
    t: &TimingScenario,
    scope: &mut Scope<'_>,
    seed: u64,
    tick: &(dyn Fn(u64) + Sync),
) -> Result<Option<TimingResult>, Error> {
    let Some(token) = scope
        .target
        .credential(Role::AdminToken)
        .map(str::to_string)
    else {
        scope.finding(
            &t.clause,
            Status::Skipped,
            Role::AdminToken.missing().to_string(),
        );
        return Ok(None);
    };
    let request = scope.build(&RequestSpec {
        endpoint: Some(t.endpoint.clone()),
        method: None,
        path: None,
        params: BTreeMap::new(),
        as_: None,
        headers: BTreeMap::new(),
        body: None,
        raw_body: None,
    });
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            let (status, why) = scope.missing_reason(&e);
            scope.finding(&t.clause, status, why);
            return Ok(None);
        }
    };
    scope.health.check()?;
    let spec = &scope.target.spec;
    let endpoint = Endpoint {
        method: request.method.clone(),
        path: request.path.clone(),
        header: &spec.auth.admin_token.header,
        token: &token,
        denial_statuses: &spec.auth.denial_statuses,
        over_limit_status: spec.rate_limits.over_limit.status,
        retry_after_header: &spec.rate_limits.over_limit.retry_after_header,
    };
    let settings = settings(t);
    let timer = Timer::new(&scope.target.base_url, scope.probe.transport())?;
    let started = Instant::now();
    let samples = sample::run(
        &timer,
        &endpoint,
        &settings,
        &mut scope.rng,
        tick,
        &verdict::leak_seen,
    )
    .await?;
    scope.requests += samples.count() + samples.warmup + samples.throttled;
    for (from, to) in &samples.waits {
        scope
            .health
            .log_wait(scope.scenario, "Retry-After", *from, *to);
    }
    let result = verdict::judge(
        &samples,
        &Context {
            scenario: scope.scenario,
            seed,
            settings: &settings,
            duration_ms: started.elapsed().as_millis() as u64,
        },
    );
    let mut result = result;
    if let (Status::Inconclusive, Some(wait)) = (result.status, samples.throttle_wait) {
        let general = scope.target.spec.category("general");
        result
            .reason
            .push_str(&throttle_hint(&samples, settings.warmup, wait, general));
    }
    scope.finding_with(
        &t.clause,
        result.status,
        result.reason.clone(),
        Evidence {
            script: None,
            note: evidence_note(&result),
            exchanges: Vec::new(),
        },
    );
    Ok(Some(result))
}

/// Why a throttle leaves the screen short, and the budget that would do: every timed request is
/// a failed admin attempt, which the target throttles per client (inside `run`, after what the
/// run's other admin checks spent). The budget assumes the throttle the contract's readings
/// expect (the general limit per window, AUTH-ADMIN-THROTTLED) and a first window already
/// spent: one window more than the judgement's samples need.
fn throttle_hint(
    samples: &sample::Samples,
    warmup: u64,
    wait: std::time::Duration,
    general: Option<&crate::spec::Category>,
) -> String {
    let got = samples.count() + samples.warmup;
    let need = (verdict::MIN_PER_CLASS * 6) as u64 + warmup;
    if got >= need {
        return String::new();
    }
    let budget = general
        .filter(|g| g.limit > 0)
        .map(|g| {
            let windows = need.div_ceil(u64::from(g.limit)) + 1;
            format!(
                ": with failed attempts throttled at the general limit ({} per {}), a budget of about {}",
                g.limit,
                humantime::format_duration(g.window),
                humantime::format_duration(g.window * windows as u32)
            )
        })
        .unwrap_or_default();
    format!(
        "; failed admin attempts are throttled: {got} got through before it asked for {} s, and a judgement needs at least {need} (20 a class in each of two batches, and the warm-up){budget} (`budget:` in the timing scenario, or `lelantos-conform timing --budget`, which runs alone)",
        wait.as_secs()
    )
}

/// The figures behind the verdict in one line: per-class counts and low percentiles.
fn evidence_note(r: &TimingResult) -> String {
    let classes: Vec<String> = r
        .classes
        .iter()
        .map(|c| {
            let p = |q: f64| {
                c.percentiles
                    .iter()
                    .find(|[p, _]| (*p - q).abs() < 1e-9)
                    .map(|[_, v]| verdict::ns(*v))
                    .unwrap_or_else(|| "-".into())
            };
            format!(
                "{}: n={} p10={} median={}",
                c.class.name(),
                c.samples,
                p(0.10),
                p(0.50)
            )
        })
        .collect();
    format!(
        "timing: {} samples ({} warm-up, {} throttled), {}",
        r.samples,
        r.warmup,
        r.throttled,
        classes.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_throttled_screen_says_what_budget_would_do() {
        let mut s = sample::Samples::default();
        s.times[0][0] = vec![1.0; 31];
        s.warmup = 10;
        let general = crate::spec::Category {
            limit: 100,
            window: Duration::from_secs(60),
        };
        let hint = throttle_hint(&s, 10, Duration::from_secs(60), Some(&general));
        assert!(
            hint.contains("41 got through before it asked for 60 s"),
            "{hint}"
        );
        assert!(hint.contains("at least 130"), "{hint}");
        // 130 needs two windows of 100, and the first is taken as spent.
        assert!(hint.contains("a budget of about 3m"), "{hint}");
        // Enough samples: no hint.
        s.times[0][0] = vec![1.0; 200];
        assert_eq!(
            throttle_hint(&s, 10, Duration::from_secs(1), Some(&general)),
            ""
        );
    }
}
