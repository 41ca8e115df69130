//! Sampling: the wrong tokens, the seeded interleaving of the classes, warm-up, the two batches,
//! and the admin endpoint's own throttle kept out of the measurement.
//!
//! Requests go in rounds of one per class, in a fresh random order each round. Rounds are
//! grouped in blocks that alternate between batch 1 and batch 2, so whenever sampling stops
//! both batches hold about as many samples, taken over the same stretch of time (slow drifts of
//! the machine hit both alike) but disjoint. An answer with the over-limit status is not a
//! sample: it is discarded and sampling waits out its `Retry-After` (at least a second), or
//! stops when the wait would pass the budget.

use std::time::{Duration, Instant};

use crate::seed::SeededRng;
use rand::Rng;
use rand::seq::SliceRandom;
use reqwest::Method;

use super::{Class, Settings};
use crate::error::Error;
use crate::probe::Timer;

/// After this many transport errors in a row the target is taken for gone.
const MAX_CONSECUTIVE_ERRORS: u32 = 8;

/// What the sampler needs to know about the target.
pub struct Endpoint<'a> {
    pub method: Method,
    pub path: String,
    pub header: &'a str,
    pub token: &'a str,
    pub denial_statuses: &'a [u16],
    pub over_limit_status: u16,
    pub retry_after_header: &'a str,
}

/// Measured times in nanoseconds: `[batch][class]`.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub times: [[Vec<f64>; 3]; 2],
    pub throttled: u64,
    /// The Retry-After waits sampling made (from, to).
    pub waits: Vec<(Instant, Instant)>,
    pub warmup: u64,
    /// Why sampling ended early, if it did.
    pub stopped: Option<String>,
    /// When a throttle ended it: the Retry-After that would have passed the budget.
    pub throttle_wait: Option<Duration>,
    /// Set when the target accepted a wrong token (no timing judgement then).
    pub accepted: Option<Class>,
    /// Set when sampling stopped because the samples so far decided.
    pub early: bool,
}

impl Samples {
    pub fn count(&self) -> u64 {
        self.times.iter().flatten().map(|v| v.len() as u64).sum()
    }
}

/// The three wrong tokens, each as long as the real one.
pub fn tokens(token: &str, rng: &mut SeededRng) -> [String; 3] {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let other = |c: u8, rng: &mut SeededRng| loop {
        let r = ALNUM[rng.random_range(0..ALNUM.len())];
        if r != c {
            return r;
        }
    };
    let bytes = token.as_bytes();
    let mut first = bytes.to_vec();
    let mut last = bytes.to_vec();
    if let (Some(f), Some(l)) = (first.first_mut(), last.last_mut()) {
        *f = other(*f, rng);
        *l = other(*l, rng);
    }
    let random: Vec<u8> = loop {
        let r: Vec<u8> = (0..bytes.len())
            .map(|_| ALNUM[rng.random_range(0..ALNUM.len())])
            .collect();
        if r != bytes {
            break r;
        }
    };
    // Only ASCII bytes were replaced, at whole-character positions when the token is ASCII; a
    // non-ASCII token (not a valid header value anyway) is handled lossily.
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    [text(first), text(last), text(random)]
}

/// How often (in samples) sampling asks whether it may stop early.
pub const CHECK_EVERY: u64 = 600;

/// Samples until `settings.samples` are measured, the budget is spent, or `done` says the
/// samples so far decide (asked every [`CHECK_EVERY`] samples: a leak seen in both batches
/// needs no more; as in dudect, the threshold of 10 is far enough out that looking repeatedly
/// costs little). `tick` is told the number of samples so far.
pub async fn run(
    timer: &Timer,
    endpoint: &Endpoint<'_>,
    settings: &Settings,
    rng: &mut SeededRng,
    tick: &(dyn Fn(u64) + Sync),
    done: &(dyn Fn(&Samples) -> bool + Sync),
) -> Result<Samples, Error> {
    let started = Instant::now();
    let deadline = started + settings.budget;
    let tokens = tokens(endpoint.token, rng);
    let mut out = Samples::default();
    let mut errors = 0u32;
    let mut order = Class::ALL;
    let mut round = 0u64;
    let mut sent = 0u64;
    while out.count() < settings.samples {
        order.shuffle(rng);
        for class in order {
            if Instant::now() >= deadline {
                out.stopped = Some(format!(
                    "the budget of {} ran out",
                    humantime::format_duration(settings.budget)
                ));
                return Ok(out);
            }
            let timed = timer
                .time(
                    &endpoint.method,
                    &endpoint.path,
                    endpoint.retry_after_header,
                    (endpoint.header, &tokens[class.index()]),
                )
                .await;
            let timed = match timed {
                Ok(t) => {
                    errors = 0;
                    t
                }
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_CONSECUTIVE_ERRORS {
                        return Err(Error::Target(format!(
                            "the target stopped answering during the timing test ({errors} failures in a row; last: {e})"
                        )));
                    }
                    continue;
                }
            };
            sent += 1;
            if timed.status == endpoint.over_limit_status {
                out.throttled += 1;
                let wait = Duration::from_secs(timed.retry_after.unwrap_or(1).max(1));
                if Instant::now() + wait >= deadline {
                    out.throttle_wait = Some(wait);
                    out.stopped = Some(format!(
                        "throttled ({} answers {}), and waiting out Retry-After ({} s) would pass the budget",
                        out.throttled,
                        endpoint.over_limit_status,
                        wait.as_secs()
                    ));
                    return Ok(out);
                }
                let from = Instant::now();
                tokio::time::sleep(wait).await;
                out.waits.push((from, Instant::now()));
                continue;
            }
            if (200..300).contains(&timed.status) {
                out.accepted = Some(class);
                out.stopped = Some(format!(
                    "the target accepted a wrong admin token ({}; see AUTH-ADMIN-EXACT)",
                    class.name()
                ));
                return Ok(out);
            }
            if !endpoint.denial_statuses.contains(&timed.status) {
                out.stopped = Some(format!(
                    "unexpected status {} to a wrong admin token (expected one of {:?})",
                    timed.status, endpoint.denial_statuses
                ));
                return Ok(out);
            }
            if sent <= settings.warmup {
                out.warmup += 1;
                continue;
            }
            let batch = ((round / settings.block.max(1)) % 2) as usize;
            out.times[batch][class.index()].push(timed.elapsed.as_nanos() as f64);
            let n = out.count();
            if n % 64 == 0 {
                tick(n);
            }
            if n % CHECK_EVERY == 0 && done(&out) {
                out.early = true;
                tick(n);
                return Ok(out);
            }
        }
        if sent > settings.warmup {
            round += 1;
        }
    }
    tick(out.count());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_tokens_have_the_length_and_differ_where_said() {
        let mut rng = crate::seed::from_u64(3);
        let token = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";
        for _ in 0..100 {
            let [first, last, random] = tokens(token, &mut rng);
            for t in [&first, &last, &random] {
                assert_eq!(t.len(), token.len());
                assert_ne!(t, token);
            }
            assert_eq!(first[1..], token[1..]);
            assert_eq!(last[..39], token[..39]);
        }
    }
}
