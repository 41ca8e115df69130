//! The timing test of `AUTH-ADMIN-CONSTANT-TIME`: is the admin token compared in constant time?
//!
//! Admin requests with three wrong tokens of the token's length (wrong in the first byte, wrong
//! in the last byte, random) are timed over one keep-alive connection, the classes interleaved
//! in a seeded random order ([`sample`]); Welch's t on raw and cropped times decides, in two
//! independent batches ([`stats`], [`verdict`]). A pass always says how small a leak the run
//! could have seen; a noisy target gets `inconclusive`, never a bare "constant-time".

pub mod sample;
pub mod stats;
pub mod verdict;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::verdict::Status;

/// The clause the timing test decides.
pub const CLAUSE: &str = "AUTH-ADMIN-CONSTANT-TIME";

/// The |t| both batches must exceed (dudect's threshold for "definitely not constant time").
pub const T_THRESHOLD: f64 = 10.0;

/// How much to measure and what counts as conclusive.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Measured requests, both batches together, warm-up not counted.
    pub samples: u64,
    /// Wall-clock limit for sampling (throttling waits included).
    pub budget: Duration,
    /// Requests sent first and discarded (connection set-up, caches, frequency scaling).
    pub warmup: u64,
    /// A pass needs the run to have been able to see a leak this small; else `inconclusive`.
    pub max_detectable: Duration,
    /// Rounds (one request per class) per block; blocks alternate between the two batches.
    pub block: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            samples: 30_000,
            budget: Duration::from_secs(60),
            warmup: 300,
            max_detectable: Duration::from_micros(10),
            // Small blocks: `run`'s screen gets only a few hundred samples, and each batch needs
            // enough of every class even when sampling stops early.
            block: 10,
        }
    }
}

/// The wrong tokens, all of the admin token's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The real token with its first byte changed: an early-exit comparison stops at once.
    FirstByte,
    /// The real token with its last byte changed: an early-exit comparison reads it all.
    LastByte,
    /// A random token.
    Random,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::FirstByte, Class::LastByte, Class::Random];

    pub fn name(self) -> &'static str {
        match self {
            Class::FirstByte => "first_byte",
            Class::LastByte => "last_byte",
            Class::Random => "random",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The outcome of a timing test, as it appears in `compliance.json` and the reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimingResult {
    pub scenario: String,
    pub status: Status,
    pub reason: String,
    pub seed: u64,
    /// Samples used (both batches), warm-up and throttled requests not counted.
    pub samples: u64,
    pub samples_wanted: u64,
    pub warmup: u64,
    /// Answers with the over-limit status, discarded (each followed by a wait).
    pub throttled: u64,
    pub duration_ms: u64,
    pub threshold: f64,
    /// The smallest constant delay of one class the test would have flagged in both batches
    /// (calibrated by injecting it into the measured times); none when too few samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_detectable_ns: Option<f64>,
    /// Why sampling stopped before `samples_wanted`, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub classes: Vec<ClassSummary>,
    pub tests: Vec<TTest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassSummary {
    pub class: Class,
    pub samples: u64,
    pub mean_ns: f64,
    /// `[p, ns]` for the percentiles of [`stats::REPORTED`].
    pub percentiles: Vec<[f64; 2]>,
    /// Quantiles at 0, 0.5 %, 1 %... 99.5 % (for the CDF plot), nanoseconds.
    pub cdf_ns: Vec<f64>,
}

/// One Welch t test: class `a` against class `b` in one batch, cropped at pooled percentile
/// `crop` (1.0: raw).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TTest {
    pub batch: u8,
    pub a: Class,
    pub b: Class,
    pub crop: f64,
    pub n_a: u64,
    pub n_b: u64,
    pub t: f64,
    pub df: f64,
    pub diff_ns: f64,
}
