//! The rate-limit timeline of one burst as an inline SVG chart, drawn by hand (no plotting crate,
//! no external resource): one mark per request in its phase's row, coloured by outcome; a shaded
//! band per wait with its reason; and below, the requests admitted since the last wait as a step
//! line against the category's limit.
//!
//! Why "since the last wait": the harness waits where the target's window is expected to refill
//! (a fresh-state wait, a Retry-After), so each burst between waits should climb to the limit and
//! stop there. Times are milliseconds since the timeline's first request.

use std::fmt::Write as _;

use super::escape::esc;
use crate::verdict::{Timeline, TimelineEvent};

/// The phases in the order of their rows; any other phase gets a row after them.
const PHASES: [&str; 4] = ["drain", "burst", PROBE, "retry"];
/// Probes go to another identity or category, so they do not count against this limit.
const PROBE: &str = "probe";

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 34.0;
const ROW: f64 = 24.0;
const GAP: f64 = 22.0;
const PANEL: f64 = 150.0;

pub const ADMITTED: &str = "#2da44e";
pub const REFUSED: &str = "#e8590c";
pub const OTHER: &str = "#cf222e";
pub const TRANSPORT: &str = "#8c959f";

/// The colour of a request's mark: 2xx, 429, any other status, or no response.
pub fn outcome_colour(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => ADMITTED,
        Some(429) => REFUSED,
        Some(_) => OTHER,
        None => TRANSPORT,
    }
}

/// A tick step of 1, 2, 2.5 or 5 times a power of ten giving about `ticks` intervals.
fn nice_step(range: f64, ticks: f64) -> f64 {
    nice(range, ticks, &[1.0, 2.0, 2.5, 5.0, 10.0])
}

/// A whole tick step (1, 2 or 5 times a power of ten) for counts.
fn count_step(range: f64, ticks: f64) -> f64 {
    nice(range, ticks, &[1.0, 2.0, 5.0, 10.0]).max(1.0)
}

fn nice(range: f64, ticks: f64, multipliers: &[f64]) -> f64 {
    let raw = (range / ticks).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = multipliers
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    step.max(f64::MIN_POSITIVE)
}

fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A stretch of the x axis: relative milliseconds `d0..d1` drawn over pixels `p0..p1`.
struct Piece {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
    /// A wait drawn narrower than its duration.
    shortened: bool,
}

/// The x axis. Linear, unless a wait would take more than `WAIT_MAX` pixels: waits are long
/// (a window, a Retry-After) and bursts short, so a linear axis would crush every burst into a
/// line. Such waits are then drawn `WAIT_MAX` wide, marked as broken, and the requests between
/// them get the rest of the width in proportion to their durations.
struct Scale {
    pieces: Vec<Piece>,
}

const WAIT_MAX: f64 = 120.0;

impl Scale {
    fn new(lo: f64, hi: f64, waits: &[(f64, f64)], p0: f64, p1: f64) -> Self {
        let width = p1 - p0;
        let linear_w = |d: f64| d / (hi - lo) * width;
        let mut merged: Vec<(f64, f64)> = waits
            .iter()
            .map(|&(a, b)| (a.max(lo), b.min(hi)))
            .filter(|(a, b)| b > a)
            .collect();
        merged.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut spans: Vec<(f64, f64)> = Vec::new();
        for (a, b) in merged {
            match spans.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => spans.push((a, b)),
            }
        }
        if spans.iter().all(|(a, b)| linear_w(b - a) <= WAIT_MAX) {
            let step = nice_step(hi - lo, 10.0);
            let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
            return Self {
                pieces: vec![Piece {
                    d0: lo,
                    d1: hi,
                    p0,
                    p1,
                    shortened: false,
                }],
            };
        }
        // Alternate active stretches and waits, with a little room at both ends.
        let mut bounds: Vec<(f64, f64, bool)> = Vec::new();
        let mut at = lo;
        for &(a, b) in &spans {
            bounds.push((at, a, false));
            bounds.push((a, b, true));
            at = b;
        }
        bounds.push((at, hi, false));
        let active: f64 = bounds.iter().filter(|b| !b.2).map(|b| b.1 - b.0).sum();
        let pad = (active * 0.03).max(1.0);
        bounds.first_mut().expect("one stretch at least").0 -= pad;
        bounds.last_mut().expect("one stretch at least").1 += pad;
        let active = active + 2.0 * pad;
        let waits_w: f64 = bounds
            .iter()
            .filter(|b| b.2)
            .map(|b| linear_w(b.1 - b.0).min(WAIT_MAX))
            .sum();
        let actives = bounds.iter().filter(|b| !b.2).count() as f64;
        let mut pieces = Vec::new();
        let mut px = p0;
        for (d0, d1, wait) in bounds {
            let w = if wait {
                linear_w(d1 - d0).min(WAIT_MAX)
            } else if active > 0.0 {
                (d1 - d0) / active * (width - waits_w)
            } else {
                (width - waits_w) / actives
            };
            pieces.push(Piece {
                d0,
                d1,
                p0: px,
                p1: px + w,
                shortened: wait && w < linear_w(d1 - d0),
            });
            px += w;
        }
        Self { pieces }
    }

    fn lo(&self) -> f64 {
        self.pieces[0].d0
    }

    fn hi(&self) -> f64 {
        self.pieces[self.pieces.len() - 1].d1
    }

    fn x(&self, rel: f64) -> f64 {
        let piece = self
            .pieces
            .iter()
            .find(|p| rel <= p.d1)
            .unwrap_or(&self.pieces[self.pieces.len() - 1]);
        if piece.d1 > piece.d0 {
            piece.p0 + (rel - piece.d0) / (piece.d1 - piece.d0) * (piece.p1 - piece.p0)
        } else {
            piece.p0
        }
    }

    /// Ticks as (relative ms, pixel): round values within each stretch, plus where a shortened
    /// wait starts and ends; none closer than 40 pixels to another.
    fn ticks(&self) -> Vec<(f64, f64)> {
        let mut candidates: Vec<f64> = Vec::new();
        for p in self.pieces.iter().filter(|p| p.shortened) {
            candidates.extend([p.d0, p.d1]);
        }
        for p in self.pieces.iter().filter(|p| !p.shortened) {
            let w = p.p1 - p.p0;
            if w < 20.0 || p.d1 <= p.d0 {
                continue;
            }
            let step = nice_step(p.d1 - p.d0, (w / 90.0).max(1.0));
            let mut v = (p.d0 / step).ceil() * step;
            while v <= p.d1 + step * 1e-6 {
                candidates.push(v);
                v += step;
            }
        }
        let mut ticks: Vec<(f64, f64)> = Vec::new();
        for v in candidates {
            let px = self.x(v);
            if ticks.iter().all(|&(_, other)| (other - px).abs() >= 40.0) {
                ticks.push((v, px));
            }
        }
        ticks.sort_by(|a, b| a.1.total_cmp(&b.1));
        ticks
    }
}

/// `breach`: the burst's clause failed; the span where its admissions went over the limit (from
/// the last reset to the admission past it) is marked.
pub fn timeline(t: &Timeline, breach: bool) -> String {
    let mut events: Vec<&TimelineEvent> = t.events.iter().collect();
    events.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let t0 = events.first().map(|e| e.at_ms).unwrap_or_else(|| {
        t.waits
            .iter()
            .map(|w| w.from_ms)
            .fold(f64::INFINITY, f64::min)
            .min(1e300)
    });
    let t0 = if t0.is_finite() { t0 } else { 0.0 };

    let mut phases: Vec<&str> = PHASES.to_vec();
    for e in &events {
        if !phases.contains(&e.phase.as_str()) {
            phases.push(&e.phase);
        }
    }

    // The x domain: from the first request (or an earlier wait) to the last thing that happened.
    let lo = t.waits.iter().map(|w| w.from_ms - t0).fold(0.0, f64::min);
    let hi = events
        .iter()
        .map(|e| e.at_ms - t0)
        .chain(t.waits.iter().map(|w| w.to_ms - t0))
        .fold(lo + 1.0, f64::max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let waits_rel: Vec<(f64, f64)> = t
        .waits
        .iter()
        .map(|w| (w.from_ms - t0, w.to_ms - t0))
        .collect();
    let scale = Scale::new(lo, hi, &waits_rel, LEFT, LEFT + plot_w);
    let x = |ms: f64| scale.x(ms - t0);
    let (lo, hi) = (scale.lo(), scale.hi());

    let rows_h = ROW * phases.len() as f64;
    let panel_top = TOP + rows_h + GAP;
    let panel_bottom = panel_top + PANEL;
    let height = panel_bottom + 74.0;

    // Admitted since the last wait, as steps: (time, count) after each change.
    let mut steps: Vec<(f64, u32)> = vec![(t0 + lo, 0)];
    let mut count = 0u32;
    let mut waits: Vec<_> = t.waits.iter().collect();
    waits.sort_by(|a, b| a.to_ms.total_cmp(&b.to_ms));
    let mut next_wait = 0;
    for e in &events {
        while next_wait < waits.len() && waits[next_wait].to_ms <= e.at_ms {
            if count != 0 {
                count = 0;
                steps.push((waits[next_wait].to_ms, 0));
            }
            next_wait += 1;
        }
        if matches!(e.status, Some(200..=299)) && e.phase != PROBE {
            count += 1;
            steps.push((e.at_ms, count));
        }
    }
    let peak = steps
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0)
        .max(t.limit)
        .max(1);
    let y_step = count_step(peak as f64 * 1.15, 4.0);
    let y_max = ((peak as f64 * 1.15) / y_step).ceil() * y_step;
    let y = |n: f64| panel_bottom - n / y_max * PANEL;

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        num(height),
        esc(&format!(
            "Rate-limit timeline of {} in category {}: {} requests",
            t.scenario,
            t.category,
            t.events.len()
        )),
    );
    let _ = write!(
        s,
        "<title>{}</title>",
        esc(&format!("{} ({})", t.scenario, t.category))
    );

    // Wait bands across both panels, labelled above.
    for w in &t.waits {
        let (x1, x2) = (x(w.from_ms), x(w.to_ms));
        let label = esc(&w.reason);
        let _ = write!(
            s,
            "<rect class=\"wait\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>wait {} to {} ms: {label}</title></rect>",
            num(x1),
            num(TOP - 6.0),
            num((x2 - x1).max(1.0)),
            num(panel_bottom - TOP + 6.0),
            num(w.from_ms - t0),
            num(w.to_ms - t0),
        );
        let _ = write!(
            s,
            "<text class=\"wait-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            num((x1 + x2) / 2.0),
            num(TOP - 12.0),
        );
    }

    // Phase rows, each with its label and its requests.
    for (i, phase) in phases.iter().enumerate() {
        let cy = TOP + ROW * i as f64 + ROW / 2.0;
        let _ = write!(
            s,
            "<line class=\"row\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            num(WIDTH - RIGHT),
            num(cy),
            num(cy),
            num(LEFT - 8.0),
            num(cy + 4.0),
            esc(phase),
        );
        for (n, e) in events.iter().filter(|e| e.phase == *phase).enumerate() {
            let outcome = match e.status {
                Some(code) => code.to_string(),
                None => "transport error".to_string(),
            };
            let retry = e
                .retry_after
                .map(|r| format!(", Retry-After {r}"))
                .unwrap_or_default();
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{}\"><title>{} #{} at {} ms: {}{} ({} ms)</title></circle>",
                num(x(e.at_ms)),
                num(cy),
                outcome_colour(e.status),
                esc(phase),
                n + 1,
                num(e.at_ms - t0),
                outcome,
                retry,
                num(e.elapsed_ms),
            );
        }
    }

    // The admitted panel: grid and y ticks, the limit, the step line.
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            num(WIDTH - RIGHT),
            num(y(v)),
            num(y(v)),
            num(LEFT - 8.0),
            num(y(v) + 4.0),
            num(v),
        );
        v += y_step;
    }
    let _ = write!(
        s,
        "<text class=\"axis\" transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">admitted</text>",
        num(panel_top + PANEL / 2.0),
    );
    let ly = y(t.limit as f64);
    let _ = write!(
        s,
        "<line class=\"limit\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"limit-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">limit {} per {} ms</text>",
        num(WIDTH - RIGHT),
        num(ly),
        num(ly),
        num(WIDTH - RIGHT - 4.0),
        num(ly - 6.0),
        t.limit,
        t.window_ms,
    );
    if breach {
        // From where the count last started from 0 to the first admission over the limit.
        let over = steps.iter().position(|&(_, n)| n > t.limit);
        if let Some(i) = over {
            let from = steps[..i]
                .iter()
                .rposition(|&(_, n)| n == 0)
                .map_or(steps[0].0, |k| steps[(k + 1).min(i)].0);
            let (x1, x2) = (x(from), x(steps[i].0));
            let _ = write!(
                s,
                "<rect class=\"breach\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>over the limit: admission {} of this span at {} ms</title></rect><text class=\"breach-label\" x=\"{}\" y=\"{}\">over the limit</text>",
                num(x1 - 3.0),
                num(panel_top),
                num((x2 - x1).max(1.0) + 6.0),
                num(PANEL),
                steps[i].1,
                num(steps[i].0 - t0),
                num(x1),
                num(panel_top - 4.0),
            );
        }
    }
    let mut path = format!("M{} {}", num(x(steps[0].0)), num(y(0.0)));
    for &(at, n) in &steps[1..] {
        let _ = write!(path, " H{} V{}", num(x(at)), num(y(n as f64)));
    }
    let _ = write!(path, " H{}", num(x(t0 + hi)));
    let _ = write!(s, "<path class=\"admitted\" d=\"{path}\"/>");

    // The x axis under the admitted panel.
    let _ = write!(
        s,
        "<line class=\"axis-line\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        num(WIDTH - RIGHT),
        num(panel_bottom),
        num(panel_bottom),
    );
    for (tick, tx) in scale.ticks() {
        let _ = write!(
            s,
            "<line class=\"tick\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            num(tx),
            num(tx),
            num(panel_bottom),
            num(panel_bottom + 5.0),
            num(tx),
            num(panel_bottom + 18.0),
            num(tick),
        );
    }
    // A break mark on the axis where a wait is drawn shorter than it lasted.
    for piece in scale.pieces.iter().filter(|p| p.shortened) {
        let cx = (piece.p0 + piece.p1) / 2.0;
        let _ = write!(
            s,
            "<path class=\"break\" d=\"M{} {} l6 -10 M{} {} l6 -10\"/>",
            num(cx - 6.0),
            num(panel_bottom + 5.0),
            num(cx),
            num(panel_bottom + 5.0),
        );
    }
    let _ = write!(
        s,
        "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">ms since the first request{}</text>",
        num(LEFT + plot_w / 2.0),
        num(panel_bottom + 36.0),
        if scale.pieces.iter().any(|p| p.shortened) {
            " (long waits drawn shortened, marked //)"
        } else {
            ""
        },
    );

    // The legend.
    let ly = panel_bottom + 60.0;
    let mut lx = LEFT;
    for (colour, label) in [
        (ADMITTED, "2xx"),
        (REFUSED, "429"),
        (OTHER, "other status"),
        (TRANSPORT, "transport error"),
    ] {
        let _ = write!(
            s,
            "<circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{colour}\"/><text class=\"legend\" x=\"{}\" y=\"{}\">{label}</text>",
            num(lx),
            num(ly - 4.0),
            num(lx + 9.0),
            num(ly),
        );
        lx += 30.0 + 7.0 * label.len() as f64;
    }
    let _ = write!(
        s,
        "<path class=\"admitted\" d=\"M{} {} h22\"/><text class=\"legend\" x=\"{}\" y=\"{}\">admitted since the last wait</text>",
        num(lx),
        num(ly - 4.0),
        num(lx + 28.0),
        num(ly),
    );
    lx += 230.0;
    let _ = write!(
        s,
        "<line class=\"limit\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"legend\" x=\"{}\" y=\"{}\">limit</text>",
        num(lx),
        num(lx + 22.0),
        num(ly - 4.0),
        num(ly - 4.0),
        num(lx + 28.0),
        num(ly),
    );
    lx += 80.0;
    let _ = write!(
        s,
        "<rect class=\"wait\" x=\"{}\" y=\"{}\" width=\"22\" height=\"12\"/><text class=\"legend\" x=\"{}\" y=\"{}\">wait</text>",
        num(lx),
        num(ly - 10.0),
        num(lx + 28.0),
        num(ly),
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(4125.0, 10.0), 500.0);
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(count_step(11.5, 4.0), 5.0);
        assert_eq!(count_step(2.0, 4.0), 1.0);
        assert_eq!(num(2.0), "2");
        assert_eq!(num(2.25), "2.3");
    }

    #[test]
    fn one_mark_per_request_and_a_band_per_wait() {
        let t = &fixture::report().timelines[0];
        let svg = timeline(t, true);
        // One circle per event, plus the four of the legend.
        assert_eq!(svg.matches("<circle").count(), t.events.len() + 4);
        assert_eq!(
            svg.matches(&format!("fill=\"{REFUSED}\"><title>")).count(),
            5
        );
        assert_eq!(
            svg.matches(&format!("fill=\"{TRANSPORT}\"><title>"))
                .count(),
            1
        );
        assert_eq!(
            svg.matches("<rect class=\"wait\" x=").count(),
            t.waits.len() + 1
        );
        assert!(svg.contains(">fresh state: one window</text>"));
        assert!(svg.contains(">limit 10 per 2000 ms</text>"));
        // The step line climbs to the limit (10 on a 0..15 axis) in the burst.
        let bottom = TOP + 4.0 * ROW + GAP + PANEL;
        assert!(svg.contains(&format!(" V{}", num(bottom - 10.0 / 15.0 * PANEL))));
        assert!(!svg.contains(&format!(" V{}", num(bottom - 11.0 / 15.0 * PANEL))));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_timeline_still_draws() {
        let mut t = fixture::report().timelines.remove(0);
        t.events.clear();
        t.waits.clear();
        let svg = timeline(&t, false);
        assert!(svg.contains("limit 10"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
