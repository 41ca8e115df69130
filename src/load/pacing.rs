//! Open-loop pacing (`arrival_rate`), in the manner of k6's constant-arrival-rate executor: each
//! user owns a fixed schedule of send times and waits for its next slot instead of sending when
//! its last answer came, so a slow target still receives the planned rate and a rate-limit test
//! measures the limiter, not the latency.
//!
//! The slots are spread so that each identity (or the whole swarm, for a total rate) receives
//! evenly spaced requests: user `g` of an identity's `k` users sends every `k / rate`, offset by
//! its rank among them. A slot the user reaches more than one interval late is dropped (k6's
//! `dropped_iterations`): the swarm could not keep up. The lag between each slot and its actual
//! send is recorded; the accounting then judges what was sent, never the schedule.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::scenario::{Arrival, Identities};

/// Each local user's schedule and the swarm's pacing counts.
pub struct Pacing {
    pub arrival: Arrival,
    /// `(interval, phase)` of each local user (by goose's user index).
    slots: Vec<(Duration, Duration)>,
    start: std::sync::OnceLock<Instant>,
    stats: Mutex<Stats>,
}

struct Stats {
    scheduled: u64,
    dropped: u64,
    /// Microseconds from a slot to its send.
    lag: Histogram<u64>,
}

/// What `load.json` says of the pacing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PacingReport {
    /// As written (`150/min per identity`).
    pub arrival_rate: String,
    /// Slots the schedule held while the swarm ran.
    pub scheduled: u64,
    /// Requests sent on a slot.
    pub sent: u64,
    /// Slots reached more than one interval late, not sent.
    pub dropped: u64,
    /// From slot to send, in milliseconds.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// The lag histogram (microseconds, HDR, base64), so merged segments add exactly.
    pub lag_histogram: String,
}

impl Pacing {
    /// The schedule of the local users `offset..offset + local` of a swarm of `total` users with
    /// `keys` identities.
    pub fn new(
        arrival: Arrival,
        identities: Identities,
        keys: usize,
        total: usize,
        offset: usize,
        local: usize,
    ) -> Self {
        let rate = arrival.per_second;
        let slots = (offset..offset + local)
            .map(|g| {
                // (users sharing the rate, this user's rank among them)
                let (k, rank) = match (arrival.per_identity, identities) {
                    (false, _) | (true, Identities::Shared) => (total, g),
                    (true, _) => {
                        let keys = keys.max(1);
                        let id = g % keys;
                        let k = (total - id).div_ceil(keys);
                        (k, g / keys)
                    }
                };
                let interval = Duration::from_secs_f64(k.max(1) as f64 / rate);
                let phase = Duration::from_secs_f64(rank as f64 / rate);
                (interval, phase)
            })
            .collect();
        Self {
            arrival,
            slots,
            start: std::sync::OnceLock::new(),
            stats: Mutex::new(Stats {
                scheduled: 0,
                dropped: 0,
                lag: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds"),
            }),
        }
    }

    /// Anchors every schedule (once, just before the swarm starts).
    pub fn anchor(&self, at: Instant) {
        let _ = self.start.set(at);
    }

    /// Waits for user `user`'s slot `next` (its next unsent one); returns the slot to ask for
    /// next time. Slots more than one interval past are dropped and counted.
    pub async fn wait_for_slot(&self, user: usize, next: u64) -> u64 {
        let Some(&(interval, phase)) = self.slots.get(user) else {
            return next;
        };
        let start = *self.start.get_or_init(Instant::now);
        let due_of = |k: u64| start + phase + interval.mul_f64(k as f64);
        let now = Instant::now();
        let mut k = next;
        let mut dropped = 0;
        if next == 0 && now > due_of(0) + interval {
            // A user hatched after the anchor (a `hatch_rate` spreads them) starts at its
            // current slot: the slots before it existed were never its to send.
            k = ((now - due_of(0)).as_secs_f64() / interval.as_secs_f64()).floor() as u64;
        } else if now > due_of(k) + interval {
            let behind = (now - due_of(k)).as_secs_f64() / interval.as_secs_f64();
            dropped = behind.floor() as u64;
            k += dropped;
        }
        let due = due_of(k);
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        }
        let lag = Instant::now().saturating_duration_since(due);
        let mut s = self.stats.lock().expect("pacing lock");
        s.scheduled += dropped + 1;
        s.dropped += dropped;
        let _ = s.lag.record((lag.as_micros() as u64).max(1));
        k + 1
    }

    pub fn report(&self, written: &str) -> PacingReport {
        let s = self.stats.lock().expect("pacing lock");
        PacingReport::of(written, s.scheduled, s.dropped, &s.lag)
    }
}

impl PacingReport {
    pub fn of(written: &str, scheduled: u64, dropped: u64, lag: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        let empty = lag.is_empty();
        PacingReport {
            arrival_rate: written.to_string(),
            scheduled,
            sent: scheduled - dropped,
            dropped,
            lag_p50_ms: if empty {
                0.0
            } else {
                ms(lag.value_at_quantile(0.5))
            },
            lag_p99_ms: if empty {
                0.0
            } else {
                ms(lag.value_at_quantile(0.99))
            },
            lag_max_ms: if empty { 0.0 } else { ms(lag.max()) },
            lag_histogram: super::histogram::serialize(lag),
        }
    }

    /// Several segments' pacing as one.
    pub fn merged(parts: &[&PacingReport]) -> Option<PacingReport> {
        let first = parts.first()?;
        let mut lag = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for p in parts {
            if let Some(h) = super::histogram::deserialize(&p.lag_histogram) {
                let _ = lag.add(&h);
            }
        }
        Some(PacingReport::of(
            &first.arrival_rate,
            parts.iter().map(|p| p.scheduled).sum(),
            parts.iter().map(|p| p.dropped).sum(),
            &lag,
        ))
    }

    /// A warning when the swarm could not keep up with its schedule: slots dropped, or a p99
    /// lag over a tenth of a second.
    pub fn warning(&self) -> Option<String> {
        (self.dropped > 0 || self.lag_p99_ms > 100.0).then(|| {
            format!(
                "the swarm could not keep up with arrival_rate {}: {} of {} scheduled requests dropped, lag from slot to send p99 {:.1} ms, max {:.1} ms",
                self.arrival_rate, self.dropped, self.scheduled, self.lag_p99_ms, self.lag_max_ms
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(per_second: f64, per_identity: bool) -> Arrival {
        Arrival {
            per_second,
            per_identity,
        }
    }

    #[test]
    fn each_identity_receives_evenly_spaced_slots() {
        // 6 users over 3 keys at 10/s per identity: each key has 2 users, each sending every
        // 0.2 s, the second offset by 0.1 s: the key receives one request every 0.1 s.
        let p = Pacing::new(arrival(10.0, true), Identities::Pool(3), 3, 6, 0, 6);
        let ms = |d: Duration| d.as_millis();
        assert_eq!(
            p.slots.iter().map(|s| ms(s.0)).collect::<Vec<_>>(),
            [200; 6]
        );
        assert_eq!(
            p.slots.iter().map(|s| ms(s.1)).collect::<Vec<_>>(),
            [0, 0, 0, 100, 100, 100]
        );
        // A total rate spreads over every user.
        let p = Pacing::new(arrival(100.0, false), Identities::PerUser, 4, 4, 0, 4);
        assert_eq!(p.slots.iter().map(|s| ms(s.0)).collect::<Vec<_>>(), [40; 4]);
        assert_eq!(
            p.slots.iter().map(|s| ms(s.1)).collect::<Vec<_>>(),
            [0, 10, 20, 30]
        );
        // A segment schedules its own users with the whole swarm's spacing.
        let p = Pacing::new(arrival(100.0, false), Identities::PerUser, 4, 4, 2, 2);
        assert_eq!(
            p.slots.iter().map(|s| ms(s.1)).collect::<Vec<_>>(),
            [20, 30]
        );
    }

    #[tokio::test]
    async fn a_user_far_behind_drops_the_slots_it_missed() {
        let p = Pacing::new(arrival(100.0, false), Identities::Shared, 1, 1, 0, 1);
        p.anchor(Instant::now() - Duration::from_millis(55));
        // A user's first slot, 55 ms after the anchor: it starts at its current slot (5), and
        // the slots before it existed are not counted as dropped.
        let next = p.wait_for_slot(0, 0).await;
        assert_eq!(next, 6);
        let r = p.report("100/s");
        assert_eq!((r.scheduled, r.dropped, r.sent), (1, 0, 1));
        assert!(r.warning().is_none());
        // Then 30 ms without sending: slot 6 (due at 60 ms) is asked for at 85 ms or later, so
        // slots 6 and 7 are over an interval late and dropped.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let next = p.wait_for_slot(0, 6).await;
        assert!(next >= 9, "{next}");
        let r = p.report("100/s");
        assert!(r.dropped >= 2, "{r:?}");
        assert!(r.warning().unwrap().contains("scheduled requests dropped"));
    }
}
