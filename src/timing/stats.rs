//! The statistics of the timing test: Welch's t, percentiles, cropping (after dudect: Reparaz,
//! Balasch, Verbauwhede 2017), all on plain `f64` nanoseconds.

/// Mean and unbiased variance (Welford's algorithm: stable for large, close values).
pub fn mean_var(xs: &[f64]) -> (f64, f64) {
    let mut mean = 0.0;
    let mut m2 = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        let d = x - mean;
        mean += d / (i + 1) as f64;
        m2 += d * (x - mean);
    }
    let var = if xs.len() > 1 {
        m2 / (xs.len() - 1) as f64
    } else {
        0.0
    };
    (mean, var)
}

/// Welch's unequal-variance t test of two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// `(mean(a) - mean(b)) / se`: positive when `a` is slower.
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// The standard error of the difference of the means.
    pub se: f64,
    pub diff: f64,
}

/// `None` when either side has fewer than two values or both have no spread.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (qa, qb) = (va / a.len() as f64, vb / b.len() as f64);
    let se2 = qa + qb;
    if se2 <= 0.0 {
        return None;
    }
    let df = se2 * se2 / (qa * qa / (a.len() - 1) as f64 + qb * qb / (b.len() - 1) as f64);
    Some(Welch {
        t: (ma - mb) / se2.sqrt(),
        df,
        se: se2.sqrt(),
        diff: ma - mb,
    })
}

/// The `p`-th quantile (0..=1) of sorted values, linear between ranks (numpy's default, type 7).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

pub fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// The values at or below `threshold` (dudect's cropping: large values are mostly noise
/// added on the way, by the network or the scheduler).
pub fn crop(xs: &[f64], threshold: f64) -> Vec<f64> {
    xs.iter().copied().filter(|&x| x <= threshold).collect()
}

/// The cropping ladder: the pooled percentiles each test crops at, from the cleanest low part
/// of the distributions (Crosby, Wallach, Riedi 2009: noise only adds delay) up to all values.
/// `1.0` is the raw, uncropped test.
pub const LADDER: &[f64] = &[0.10, 0.20, 0.30, 0.50, 0.70, 0.90, 0.99, 1.0];

/// The percentiles reported per class.
pub const REPORTED: &[f64] = &[0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.99];

/// Welch's t of `a` against `b` on the raw values and cropped at each step of [`LADDER`], the
/// thresholds taken from the pooled values (so both classes are cropped at the same time).
pub fn ladder(a: &[f64], b: &[f64]) -> Vec<Option<Welch>> {
    let mut pooled = a.to_vec();
    pooled.extend_from_slice(b);
    let pooled = sorted(&pooled);
    LADDER
        .iter()
        .map(|&p| {
            if p >= 1.0 {
                welch(a, b)
            } else {
                let thr = percentile(&pooled, p);
                welch(&crop(a, thr), &crop(b, thr))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn mean_and_variance() {
        let (m, v) = mean_var(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        close(m, 5.0, 1e-12);
        close(v, 32.0 / 7.0, 1e-12);
        // Large, close values (nanoseconds since boot) keep their precision.
        let (m, v) = mean_var(&[1e12 + 1.0, 1e12 + 2.0, 1e12 + 3.0]);
        close(m, 1e12 + 2.0, 1e-3);
        close(v, 1.0, 1e-6);
    }

    /// Reference values computed independently in Python 3 with the `statistics` module and the
    /// textbook formulas (scipy was not installed): for a = [1..10], b = [2, 4, ..., 20],
    /// t = -2.569046516, df = 13.23529412.
    #[test]
    fn welch_against_known_values() {
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let b: Vec<f64> = (1..=10).map(|i| 2.0 * f64::from(i)).collect();
        let w = welch(&a, &b).unwrap();
        close(w.t, -2.569046516, 1e-8);
        close(w.df, 13.23529412, 1e-7);
        close(w.diff, -5.5, 1e-12);
        // A hand-computed case: a = [1, 2, 3], b = [4, 5, 6, 7, 8]: means 2 and 6, variances 1
        // and 2.5, se² = 1/3 + 1/2 = 5/6, t = -4 / sqrt(5/6), df = (5/6)² / ((1/3)²/2 + (1/2)²/4).
        let w = welch(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        close(w.t, -4.0 / (5.0f64 / 6.0).sqrt(), 1e-12);
        close(
            w.df,
            (25.0 / 36.0) / ((1.0 / 9.0) / 2.0 + (1.0 / 4.0) / 4.0),
            1e-12,
        );
    }

    #[test]
    fn welch_refuses_degenerate_samples() {
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        assert!(welch(&[3.0, 3.0], &[3.0, 3.0]).is_none());
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let s = sorted(&[15.0, 20.0, 35.0, 40.0, 50.0]);
        // numpy.percentile([15, 20, 35, 40, 50], [0, 25, 40, 50, 100]) = 15, 20, 29, 35, 50
        close(percentile(&s, 0.0), 15.0, 1e-12);
        close(percentile(&s, 0.25), 20.0, 1e-12);
        close(percentile(&s, 0.40), 29.0, 1e-12);
        close(percentile(&s, 0.5), 35.0, 1e-12);
        close(percentile(&s, 1.0), 50.0, 1e-12);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn cropping_keeps_values_at_or_below() {
        assert_eq!(crop(&[5.0, 1.0, 9.0, 3.0], 3.0), vec![1.0, 3.0]);
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = (0..100).map(|i| f64::from(i) + 0.5).collect();
        let l = ladder(&a, &b);
        assert_eq!(l.len(), LADDER.len());
        // The last rung is the raw test.
        assert_eq!(l.last().unwrap().unwrap(), welch(&a, &b).unwrap());
    }

    #[test]
    fn cropping_finds_a_shift_the_raw_test_misses() {
        // Noise with a heavy tail (every 97th value 5000 late); b is a shifted by 10.
        let a: Vec<f64> = (0..2000)
            .map(|i| 100.0 + f64::from(i % 17) + if i % 97 == 0 { 5000.0 } else { 0.0 })
            .collect();
        let b: Vec<f64> = a.iter().map(|x| x + 10.0).collect();
        let l = ladder(&b, &a);
        let raw = l.last().unwrap().unwrap();
        assert!(raw.t.abs() < 2.0, "{raw:?}");
        for (p, w) in LADDER.iter().zip(&l) {
            if let Some(w) = w
                && *p <= 0.9
            {
                assert!(w.t > 10.0, "{p}: {w:?}");
            }
        }
    }
}
