//! The timing test's latency distributions as an inline SVG chart, drawn by hand: one empirical
//! CDF per class of wrong token. The x axis spans the 0th to the 95th pooled percentile (the tail
//! beyond is scheduler and network noise and would squash the part that matters); an early-exit
//! comparison shows as the last-byte curve shifted right of the others.

use std::fmt::Write as _;

use super::escape::esc;
use crate::timing::{Class, TimingResult};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub fn colour(c: Class) -> &'static str {
    match c {
        Class::FirstByte => "#0969da",
        Class::LastByte => "#cf222e",
        Class::Random => "#8250df",
    }
}

pub fn cdf(r: &TimingResult) -> String {
    let classes: Vec<_> = r.classes.iter().filter(|c| !c.cdf_ns.is_empty()).collect();
    if classes.is_empty() {
        return String::new();
    }
    // The x domain: the lowest 0th percentile to the highest 95th.
    let q95 = |v: &[f64]| v[(v.len() * 95 / 100).min(v.len() - 1)];
    let lo = classes
        .iter()
        .map(|c| c.cdf_ns[0])
        .fold(f64::INFINITY, f64::min);
    let mut hi = classes
        .iter()
        .map(|c| q95(&c.cdf_ns))
        .fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pw = WIDTH - LEFT - RIGHT;
    let ph = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + (v.clamp(lo, hi) - lo) / (hi - lo) * pw;
    let y = |p: f64| TOP + (1.0 - p) * ph;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"cdf\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"latency CDF per class of wrong admin token\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    // Axes and grid: quarters of probability, five time ticks.
    for i in 0..=4 {
        let p = f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#d0d7de\"/><text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{4:.2}</text>",
            LEFT + pw,
            y(p),
            LEFT - 6.0,
            y(p) + 4.0,
            p
        );
    }
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{TOP}\" y2=\"{1:.1}\" stroke=\"#eaeef2\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3}</text>",
            x(v),
            TOP + ph,
            TOP + ph + 14.0,
            esc(&micros(v))
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">request time (µs), up to the pooled 95th percentile</text>",
        LEFT + pw / 2.0,
        HEIGHT - 6.0
    );
    for (i, c) in classes.iter().enumerate() {
        let n = c.cdf_ns.len() as f64;
        let mut d = String::new();
        for (k, v) in c.cdf_ns.iter().enumerate() {
            let p = k as f64 / n;
            let cmd = if k == 0 { 'M' } else { 'L' };
            let _ = write!(d, "{cmd}{:.1},{:.1}", x(*v), y(p));
        }
        let colour = colour(c.class);
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"><title>{} (n = {})</title></path>",
            c.class.name(),
            c.samples
        );
        let ly = TOP + 14.0 + 18.0 * i as f64;
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{1:.1}\" y1=\"{2:.1}\" y2=\"{2:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/><text x=\"{3:.1}\" y=\"{4:.1}\">{5} (n = {6})</text>",
            LEFT + pw + 12.0,
            LEFT + pw + 30.0,
            ly,
            LEFT + pw + 36.0,
            ly + 4.0,
            c.class.name(),
            c.samples
        );
    }
    out.push_str("</svg>");
    out
}

fn micros(ns: f64) -> String {
    let us = ns / 1000.0;
    if us >= 100.0 {
        format!("{us:.0}")
    } else {
        format!("{us:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::ClassSummary;
    use crate::verdict::Status;

    #[test]
    fn draws_one_curve_per_class() {
        let class = |c, shift: f64| ClassSummary {
            class: c,
            samples: 200,
            mean_ns: 0.0,
            percentiles: Vec::new(),
            cdf_ns: (0..200)
                .map(|i| 50_000.0 + shift + f64::from(i) * 10.0)
                .collect(),
        };
        let r = TimingResult {
            scenario: "s".into(),
            status: Status::Pass,
            reason: String::new(),
            seed: 1,
            samples: 600,
            samples_wanted: 600,
            warmup: 0,
            throttled: 0,
            duration_ms: 1,
            threshold: 10.0,
            detectable_ns: Some(100.0),
            max_detectable_ns: None,
            stopped: None,
            classes: vec![
                class(Class::FirstByte, 0.0),
                class(Class::LastByte, 500.0),
                class(Class::Random, 0.0),
            ],
            tests: Vec::new(),
        };
        let svg = cdf(&r);
        assert_eq!(svg.matches("<path").count(), 3);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("NaN"));
    }
}
