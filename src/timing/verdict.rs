//! The judgement: `fail` only when both batches show |t| > 10 with the same sign on the same
//! test; `pass` only when the run could have seen a leak of at most `max_detectable`;
//! `inconclusive` otherwise, saying why.
//!
//! Calibration: the smallest detectable leak is found by injection. A constant delay `d` is
//! added to the measured times of one class (the last-byte class, which an early-exit comparison
//! makes slower) and the same decision rule is applied; a bisection finds the smallest `d` it
//! flags in both batches. This honours the cropping exactly, which a formula from the standard
//! errors would not (a shifted class loses more values to a crop than the other).

use super::sample::Samples;
use super::stats::{self, LADDER, REPORTED};
use super::{Class, ClassSummary, Settings, T_THRESHOLD, TTest, TimingResult};
use crate::verdict::Status;

/// Fewer samples per class and batch than this: no judgement.
pub const MIN_PER_CLASS: usize = 20;

/// The pairs compared: (slower if leaking, faster).
const PAIRS: [(Class, Class); 3] = [
    (Class::LastByte, Class::FirstByte),
    (Class::LastByte, Class::Random),
    (Class::Random, Class::FirstByte),
];

pub struct Context<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    pub settings: &'a Settings,
    pub duration_ms: u64,
}

pub fn judge(samples: &Samples, cx: &Context<'_>) -> TimingResult {
    let tests = all_tests(samples);
    let n = samples.count();
    let enough = samples
        .times
        .iter()
        .flatten()
        .all(|v| v.len() >= MIN_PER_CLASS);
    let detectable = enough.then(|| calibrate(samples)).flatten();
    let max_detectable_ns = cx.settings.max_detectable.as_nanos() as f64;
    let stopped = samples
        .stopped
        .as_deref()
        .map(|s| format!(" (sampling stopped early: {s})"))
        .unwrap_or_default();
    let (status, reason) = if samples.accepted.is_some() {
        (
            Status::Inconclusive,
            format!("no timing judgement{stopped}"),
        )
    } else if let Some(leak) = leak(&tests) {
        (Status::Fail, leak)
    } else if let Some(t) = tests.iter().find(|t| t.t.abs() > T_THRESHOLD) {
        // One batch shows a difference the other does not confirm: no leak is proven, and no
        // absence either.
        (
            Status::Inconclusive,
            format!(
                "batch {} shows Welch's t {:.1} (threshold ±{T_THRESHOLD}) that the other batch does not confirm at {n} samples: give more samples or a longer budget{stopped}",
                t.batch, t.t
            ),
        )
    } else if !enough {
        (
            Status::Inconclusive,
            format!(
                "too few samples to judge: {n} in all, fewer than {MIN_PER_CLASS} for some class in a batch{stopped}"
            ),
        )
    } else {
        match detectable {
            Some(d) if d <= max_detectable_ns => (
                Status::Pass,
                format!(
                    "no evidence of a leak of {} or more at {n} samples (max |t| {:.1} < {T_THRESHOLD} on Welch's t, raw and cropped, in two batches){stopped}",
                    ns(d),
                    max_abs_t(&tests)
                ),
            ),
            Some(d) => (
                Status::Inconclusive,
                format!(
                    "too noisy for the budget: at {n} samples the smallest leak this run could see is {}, above the {} asked for; give more samples or a longer budget{stopped}",
                    ns(d),
                    ns(max_detectable_ns)
                ),
            ),
            None => (
                Status::Inconclusive,
                format!(
                    "too noisy: no delay up to a second would have been detected at {n} samples{stopped}"
                ),
            ),
        }
    };
    TimingResult {
        scenario: cx.scenario.to_string(),
        status,
        reason,
        seed: cx.seed,
        samples: n,
        samples_wanted: cx.settings.samples,
        warmup: samples.warmup,
        throttled: samples.throttled,
        duration_ms: cx.duration_ms,
        threshold: T_THRESHOLD,
        detectable_ns: detectable,
        max_detectable_ns: Some(max_detectable_ns),
        stopped: samples.stopped.clone(),
        classes: summaries(samples),
        tests,
    }
}

/// Fewer samples per class and batch than this: no early stop.
const MIN_PER_CLASS_EARLY: usize = 100;

/// Whether the samples so far already show a leak in both batches (sampling may stop).
pub fn leak_seen(samples: &Samples) -> bool {
    samples
        .times
        .iter()
        .flatten()
        .all(|v| v.len() >= MIN_PER_CLASS_EARLY)
        && leak(&all_tests(samples)).is_some()
}

/// A duration in words: `850 ns`, `3.2 µs`, `1.50 ms`.
pub fn ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{:.2} ms", v / 1e6)
    }
}

fn max_abs_t(tests: &[TTest]) -> f64 {
    tests.iter().map(|t| t.t.abs()).fold(0.0, f64::max)
}

fn all_tests(samples: &Samples) -> Vec<TTest> {
    let mut out = Vec::new();
    for (b, batch) in samples.times.iter().enumerate() {
        for (a, c) in PAIRS {
            let (xa, xc) = (&batch[a.index()], &batch[c.index()]);
            for (rung, w) in LADDER.iter().zip(stats::ladder(xa, xc)) {
                let Some(w) = w else { continue };
                let thr = crop_counts(xa, xc, *rung);
                out.push(TTest {
                    batch: b as u8 + 1,
                    a,
                    b: c,
                    crop: *rung,
                    n_a: thr.0,
                    n_b: thr.1,
                    t: w.t,
                    df: w.df,
                    diff_ns: w.diff,
                });
            }
        }
    }
    out
}

fn crop_counts(a: &[f64], b: &[f64], p: f64) -> (u64, u64) {
    if p >= 1.0 {
        return (a.len() as u64, b.len() as u64);
    }
    let mut pooled = a.to_vec();
    pooled.extend_from_slice(b);
    let thr = stats::percentile(&stats::sorted(&pooled), p);
    (
        a.iter().filter(|&&x| x <= thr).count() as u64,
        b.iter().filter(|&&x| x <= thr).count() as u64,
    )
}

/// The decision rule: a test (pair and crop) with |t| > threshold in both batches, same sign.
fn leak(tests: &[TTest]) -> Option<String> {
    let mut best: Option<(&TTest, &TTest)> = None;
    for t1 in tests
        .iter()
        .filter(|t| t.batch == 1 && t.t.abs() > T_THRESHOLD)
    {
        let agree = tests.iter().find(|t2| {
            t2.batch == 2
                && t2.a == t1.a
                && t2.b == t1.b
                && t2.crop == t1.crop
                && t2.t.abs() > T_THRESHOLD
                && t2.t.signum() == t1.t.signum()
        });
        if let Some(t2) = agree {
            let score = t1.t.abs().min(t2.t.abs());
            if best.is_none_or(|(b1, b2)| score > b1.t.abs().min(b2.t.abs())) {
                best = Some((t1, t2));
            }
        }
    }
    let (t1, t2) = best?;
    let (slow, fast) = if t1.t > 0.0 {
        (t1.a, t1.b)
    } else {
        (t1.b, t1.a)
    };
    Some(format!(
        "timing leak: tokens wrong in the {} are answered slower than those wrong in the {} by about {} (Welch's t {:.1} and {:.1} in two independent batches, threshold ±{T_THRESHOLD}, {})",
        describe(slow),
        describe(fast),
        ns(((t1.diff_ns + t2.diff_ns) / 2.0).abs()),
        t1.t,
        t2.t,
        crop_words(t1.crop)
    ))
}

fn describe(c: Class) -> &'static str {
    match c {
        Class::FirstByte => "first byte",
        Class::LastByte => "last byte",
        Class::Random => "random token",
    }
}

fn crop_words(p: f64) -> String {
    if p >= 1.0 {
        "raw times".into()
    } else {
        format!("times cropped at the pooled {:.0}th percentile", p * 100.0)
    }
}

/// Whether the decision rule flags `last_byte` slower than `first_byte` once `d` ns are added
/// to every last-byte time, in both batches.
fn flags_with(samples: &Samples, d: f64) -> bool {
    let rung_flags = |batch: &[Vec<f64>; 3]| -> Vec<bool> {
        let slow: Vec<f64> = batch[Class::LastByte.index()]
            .iter()
            .map(|x| x + d)
            .collect();
        stats::ladder(&slow, &batch[Class::FirstByte.index()])
            .into_iter()
            .map(|w| w.is_some_and(|w| w.t > T_THRESHOLD))
            .collect()
    };
    let a = rung_flags(&samples.times[0]);
    let b = rung_flags(&samples.times[1]);
    a.iter().zip(&b).any(|(x, y)| *x && *y)
}

/// The smallest injected delay (ns, to 2 %) the test flags; `None` if not even a second is.
fn calibrate(samples: &Samples) -> Option<f64> {
    // With a leak already there, d = 0 is flagged; the answer is then 0 (it was seen).
    if flags_with(samples, 0.0) {
        return Some(0.0);
    }
    let mut hi = 10.0;
    while !flags_with(samples, hi) {
        hi *= 2.0;
        if hi > 1e9 {
            return None;
        }
    }
    let mut lo = hi / 2.0;
    while hi - lo > hi * 0.02 {
        let mid = (lo + hi) / 2.0;
        if flags_with(samples, mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

fn summaries(samples: &Samples) -> Vec<ClassSummary> {
    Class::ALL
        .iter()
        .map(|&c| {
            let mut all = samples.times[0][c.index()].clone();
            all.extend_from_slice(&samples.times[1][c.index()]);
            let sorted = stats::sorted(&all);
            let (mean, _) = stats::mean_var(&all);
            ClassSummary {
                class: c,
                samples: all.len() as u64,
                mean_ns: if all.is_empty() { 0.0 } else { mean },
                percentiles: REPORTED
                    .iter()
                    .map(|&p| [p, stats::percentile(&sorted, p)])
                    .filter(|[_, v]| v.is_finite())
                    .collect(),
                cdf_ns: if sorted.is_empty() {
                    Vec::new()
                } else {
                    (0..200)
                        .map(|i| stats::percentile(&sorted, f64::from(i) / 200.0))
                        .collect()
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::time::Duration;

    /// Synthetic times: a floor, exponential-ish noise, and `shift` ns on the last-byte class.
    fn synthetic(n: usize, shift: f64, seed: u64) -> Samples {
        let mut rng = crate::seed::from_u64(seed);
        let mut s = Samples::default();
        for batch in &mut s.times {
            for (ci, class) in batch.iter_mut().enumerate() {
                for _ in 0..n {
                    let u: f64 = rng.random_range(1e-9..1.0);
                    let noise = -u.ln() * 2000.0;
                    let extra = if ci == Class::LastByte.index() {
                        shift
                    } else {
                        0.0
                    };
                    class.push(50_000.0 + noise + extra);
                }
            }
        }
        s
    }

    fn cx(settings: &Settings) -> Context<'_> {
        Context {
            scenario: "t",
            seed: 1,
            settings,
            duration_ms: 0,
        }
    }

    #[test]
    fn a_large_shift_fails() {
        let settings = Settings::default();
        let r = judge(&synthetic(500, 5000.0, 1), &cx(&settings));
        assert_eq!(r.status, Status::Fail, "{}", r.reason);
        assert!(r.reason.contains("last byte"), "{}", r.reason);
    }

    #[test]
    fn no_shift_passes_with_a_calibrated_bound() {
        let settings = Settings {
            max_detectable: Duration::from_micros(5),
            ..Settings::default()
        };
        let r = judge(&synthetic(500, 0.0, 2), &cx(&settings));
        assert_eq!(r.status, Status::Pass, "{}", r.reason);
        let d = r.detectable_ns.unwrap();
        // se of the raw difference ~ 2000 * sqrt(2 / 500) ~ 126 ns; |t| = 10 needs ~ 1.3 µs,
        // cropping at low percentiles does better.
        assert!(d > 100.0 && d < 1500.0, "{d}");
        assert!(
            r.reason.contains("no evidence of a leak of"),
            "{}",
            r.reason
        );
        // And a shift a bit above the calibrated bound is indeed flagged.
        let r2 = judge(&synthetic(500, d * 1.5, 2), &cx(&settings));
        assert_eq!(r2.status, Status::Fail, "{}", r2.reason);
    }

    #[test]
    fn a_tight_bound_is_inconclusive_and_too_few_samples_too() {
        let settings = Settings {
            max_detectable: Duration::from_nanos(10),
            ..Settings::default()
        };
        let r = judge(&synthetic(500, 0.0, 3), &cx(&settings));
        assert_eq!(r.status, Status::Inconclusive, "{}", r.reason);
        let r = judge(&synthetic(5, 0.0, 3), &cx(&settings));
        assert_eq!(r.status, Status::Inconclusive, "{}", r.reason);
        assert!(r.reason.contains("too few"));
    }

    #[test]
    fn one_batch_alone_is_not_a_leak() {
        let settings = Settings::default();
        let mut s = synthetic(500, 0.0, 4);
        for x in &mut s.times[0][Class::LastByte.index()] {
            *x += 5000.0;
        }
        let r = judge(&s, &cx(&settings));
        assert_ne!(r.status, Status::Fail, "{}", r.reason);
    }
}
