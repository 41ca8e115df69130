//! What the swarm observed, recorded as it happens: every request's client-side timestamps (sent
//! and answered, nanoseconds since the swarm's start), its status and what its 429 said.
//!
//! Memory stays flat in the number of requests except for what the accounting must keep exactly:
//! the (sent, answered) pair of every *admitted* request per identity and category (16 bytes
//! each; a limiter that holds admits at most `limit` per window, so this is bounded by the
//! limits, not by the load) and one record per refusal in a scenario that checks independence.
//! Latencies go to HDR histograms (per endpoint and status class, and one per second for
//! percentiles over time). Users are spread over shards so their locks rarely meet.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;

/// Status classes the histograms and the time series keep apart.
pub const CLASSES: [&str; 4] = ["2xx", "429", "other", "error"];

pub fn class_of(status: Option<u16>) -> usize {
    match status {
        Some(s) if (200..300).contains(&s) => 0,
        Some(429) => 1,
        Some(_) => 2,
        None => 3,
    }
}

/// Microseconds, 1 µs to 10 minutes, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// Per-second histograms need less precision (2 digits): they only draw the percentile chart.
fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid bounds")
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The identity (index into the run's keys), for requests that spend a per-identity budget.
    pub identity: Option<u32>,
    pub category: u16,
    pub endpoint: u16,
    pub sent_ns: u64,
    pub recv_ns: u64,
    pub status: Option<u16>,
}

/// A refusal (429) with when it was sent and answered.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub identity: u32,
    pub category: u16,
    pub sent_ns: u64,
    pub recv_ns: u64,
}

/// A retry sent after honouring a Retry-After.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Retry {
    pub identity: u32,
    pub category: u16,
    /// When the refusal it follows was sent.
    pub refused_sent_ns: u64,
    pub sent_ns: u64,
    pub recv_ns: u64,
    pub admitted: bool,
    pub status: Option<u16>,
}

/// Counters and examples of the checks made on each response.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Checks {
    pub refusals: u64,
    pub retry_after_invalid: u64,
    pub body_invalid: u64,
    pub refresh_rotations: u64,
    pub replays_admitted: u64,
    pub replays_refused: u64,
    /// Replays answered 429: the budget, not the token, decided; not counted either way.
    pub replays_throttled: u64,
    /// Up to a few examples per kind of violation, for the report's evidence.
    pub examples: Vec<String>,
}

pub const MAX_EXAMPLES: usize = 12;

#[derive(Debug, Default)]
pub struct Second {
    pub by_class: [u64; 4],
    pub latency: Option<Histogram<u64>>,
}

pub struct Recorder {
    pub start: Instant,
    /// The same instant on the wall clock (nanoseconds since the Unix epoch), for merging segments.
    pub epoch_unix_ns: u64,
    pub keep_refusals: bool,
    /// Each shard holds what its users observed, in the same form as the merged result.
    shards: Vec<Mutex<Observed>>,
}

const SHARDS: usize = 16;

impl Recorder {
    pub fn new(keep_refusals: bool) -> Self {
        Self {
            start: Instant::now(),
            epoch_unix_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            keep_refusals,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Observed::default()))
                .collect(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn shard(&self, user: usize) -> std::sync::MutexGuard<'_, Observed> {
        self.shards[user % SHARDS].lock().expect("lock")
    }

    pub fn record(&self, user: usize, s: Sample) {
        let class = class_of(s.status);
        let micros = ((s.recv_ns.saturating_sub(s.sent_ns)) / 1000).max(1);
        let mut shard = self.shard(user);
        let _ = shard
            .latency
            .entry((s.endpoint, class))
            .or_insert_with(latency_histogram)
            .record(micros);
        let second = (s.sent_ns / 1_000_000_000) as usize;
        if shard.seconds.len() <= second {
            shard.seconds.resize_with(second + 1, Second::default);
        }
        let sec = &mut shard.seconds[second];
        sec.by_class[class] += 1;
        let _ = sec
            .latency
            .get_or_insert_with(second_histogram)
            .record(micros);
        match s.status {
            Some(code) => *shard.statuses.entry(code).or_default() += 1,
            None => shard.errors += 1,
        }
        if let Some(identity) = s.identity {
            if class == 0 {
                shard
                    .admitted
                    .entry((identity, s.category))
                    .or_default()
                    .push((s.sent_ns, s.recv_ns));
            } else if class == 1 && self.keep_refusals {
                shard.refusals.push(Refusal {
                    identity,
                    category: s.category,
                    sent_ns: s.sent_ns,
                    recv_ns: s.recv_ns,
                });
            }
        }
    }

    /// Requests per status class so far, over all shards (for the progress line: a lock per
    /// shard once a second instead of a counter every request shares across threads).
    pub fn live_counts(&self) -> [u64; 4] {
        let mut out = [0; 4];
        for shard in &self.shards {
            let shard = shard.lock().expect("lock");
            for (&code, n) in &shard.statuses {
                out[class_of(Some(code))] += n;
            }
            out[class_of(None)] += shard.errors;
        }
        out
    }

    pub fn error_example(&self, user: usize, text: String) {
        let mut shard = self.shard(user);
        if shard.error_examples.len() < 3 {
            shard.error_examples.push(text);
        }
    }

    pub fn with_checks(&self, user: usize, f: impl FnOnce(&mut Checks)) {
        f(&mut self.shard(user).checks)
    }

    pub fn retry(&self, user: usize, r: Retry) {
        self.shard(user).retries.push(r);
    }

    /// Everything the shards hold, merged (the swarm has ended).
    pub fn finish(&self) -> Observed {
        let mut out = Observed::default();
        for shard in &self.shards {
            let shard = std::mem::take(&mut *shard.lock().expect("lock"));
            out.absorb(shard)
                .expect("shards' histograms share their bounds");
        }
        out.sort();
        out
    }
}

/// The merged observations: what judging and the reports read. Also what `report merge` adds up
/// across segments (see `load::report`).
#[derive(Default)]
pub struct Observed {
    pub latency: BTreeMap<(u16, usize), Histogram<u64>>,
    pub seconds: Vec<Second>,
    pub admitted: BTreeMap<(u32, u16), Vec<(u64, u64)>>,
    pub refusals: Vec<Refusal>,
    pub retries: Vec<Retry>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: u64,
    pub error_examples: Vec<String>,
    pub checks: Checks,
}

impl Observed {
    /// Adds another part's observations (a shard's, or a segment's in `report merge`). Fails only
    /// when histograms to add have different bounds (a load.json not written by this tool).
    pub fn absorb(&mut self, s: Observed) -> Result<(), String> {
        for (k, h) in s.latency {
            match self.latency.get_mut(&k) {
                Some(mine) => mine.add(&h).map_err(|e| e.to_string())?,
                None => {
                    self.latency.insert(k, h);
                }
            }
        }
        add_seconds(&mut self.seconds, s.seconds)?;
        for (k, mut v) in s.admitted {
            self.admitted.entry(k).or_default().append(&mut v);
        }
        self.refusals.extend(s.refusals);
        self.retries.extend(s.retries);
        for (k, n) in s.statuses {
            *self.statuses.entry(k).or_default() += n;
        }
        self.errors += s.errors;
        self.error_examples.extend(s.error_examples);
        add_checks(&mut self.checks, s.checks);
        Ok(())
    }

    pub fn sort(&mut self) {
        for v in self.admitted.values_mut() {
            v.sort_unstable();
        }
        self.refusals
            .sort_by_key(|r| (r.identity, r.category, r.sent_ns));
        self.retries
            .sort_by_key(|r| (r.identity, r.category, r.sent_ns));
        self.error_examples.truncate(3);
    }

    pub fn requests(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors
    }

    pub fn five_xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (500..600).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// Every request's latency in one histogram.
    pub fn overall(&self) -> Histogram<u64> {
        let mut all = latency_histogram();
        for h in self.latency.values() {
            all.add(h).expect("same bounds");
        }
        all
    }
}

fn add_seconds(mine: &mut Vec<Second>, theirs: Vec<Second>) -> Result<(), String> {
    if mine.len() < theirs.len() {
        mine.resize_with(theirs.len(), Second::default);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        for c in 0..4 {
            m.by_class[c] += t.by_class[c];
        }
        match (&mut m.latency, t.latency) {
            (Some(a), Some(b)) => a.add(&b).map_err(|e| e.to_string())?,
            (slot @ None, Some(b)) => *slot = Some(b),
            _ => {}
        }
    }
    Ok(())
}

fn add_checks(mine: &mut Checks, theirs: Checks) {
    mine.refusals += theirs.refusals;
    mine.retry_after_invalid += theirs.retry_after_invalid;
    mine.body_invalid += theirs.body_invalid;
    mine.refresh_rotations += theirs.refresh_rotations;
    mine.replays_admitted += theirs.replays_admitted;
    mine.replays_refused += theirs.replays_refused;
    mine.replays_throttled += theirs.replays_throttled;
    for e in theirs.examples {
        if mine.examples.len() < MAX_EXAMPLES {
            mine.examples.push(e);
        }
    }
}
