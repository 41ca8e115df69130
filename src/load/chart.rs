//! The load section of `report.html`: three inline SVG line charts drawn by hand (like
//! `report::chart`): requests per second by status class, latency percentiles per second, and
//! admitted requests per window for each identity against the category's limit line.

use std::fmt::Write as _;

use super::report::LoadReport;
use crate::report::chart::{ADMITTED, OTHER, REFUSED, TRANSPORT};
use crate::report::escape::esc;

const W: f64 = 1100.0;
const H: f64 = 260.0;
const L: f64 = 70.0;
const R: f64 = 150.0;
const T: f64 = 30.0;
const B: f64 = 40.0;

pub struct Series {
    pub name: String,
    pub colour: String,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [&str; 8] = [
    "#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#cf222e", "#57606a", "#0550ae",
];

/// A line chart; `limit` draws a dashed horizontal line with its label.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    limit: Option<(f64, String)>,
) -> String {
    let xmax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(limit.as_ref().map(|l| l.0 * 1.1))
        .fold(1.0f64, f64::max)
        * 1.05;
    let px = |x: f64| L + (W - L - R) * x / xmax;
    let py = |y: f64| T + (H - T - B) * (1.0 - y / ymax);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"11\"><title>{t}</title>",
        t = esc(title)
    );
    let _ = write!(
        out,
        "<text x=\"{L}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = py(v);
        let _ = write!(
            out,
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 6.0,
            y + 4.0,
            short(v)
        );
    }
    // Whole ticks: the x values are whole seconds or windows.
    let step = (xmax / 5.0).ceil().max(1.0);
    let ticks = (xmax / step).floor() as u32;
    for i in 0..=ticks {
        let v = step * f64::from(i);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(v),
            H - B + 16.0,
            short(v)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">{}</text>",
        (L + W - R) / 2.0,
        H - 6.0,
        esc(x_label),
        (T + H - B) / 2.0,
        (T + H - B) / 2.0,
        esc(y_label)
    );
    if let Some((v, label)) = &limit {
        let y = py(*v);
        let _ = write!(
            out,
            "<line class=\"limit\" data-limit=\"{v}\" x1=\"{L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{OTHER}\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" fill=\"{OTHER}\">{}</text>",
            W - R,
            W - R + 6.0,
            y + 4.0,
            esc(label)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let peak = s.points.iter().map(|p| p.1).fold(0.0, f64::max);
        let _ = write!(
            out,
            "<polyline data-peak=\"{peak}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\" points=\"{}\"/><rect x=\"{}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>",
            pts.join(" "),
            W - R + 6.0,
            T + 20.0 + 16.0 * i as f64,
            W - R + 20.0,
            T + 29.0 + 16.0 * i as f64,
            esc(&s.name),
            c = s.colour
        );
    }
    out.push_str("</svg>\n");
    out
}

fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The load section: a summary table and the three charts.
pub fn section(r: &LoadReport) -> String {
    let mut out = String::from("<section id=\"load\">\n<h2>Load</h2>\n");
    let _ = writeln!(
        out,
        "<p>{} users, identities {}, on 429: {}. {} requests in {:.1} s ({:.0}/s), {} transport errors. Load model: {}.</p><p>Latency: {}.</p>",
        r.users,
        esc(&r.identities),
        esc(&r.on_429),
        r.requests,
        r.duration_ms as f64 / 1000.0,
        r.requests_per_second,
        r.transport_errors,
        esc(&r.load_model),
        esc(&r.latency_method)
    );
    out.push_str("<table><tr><th>endpoint</th><th>category</th><th>status</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>p99 ms (CO-corrected)</th></tr>\n");
    for row in &r.latency {
        let p = &row.raw;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            esc(&row.endpoint),
            esc(&row.category),
            esc(&row.status),
            p.count,
            p.p50_ms,
            p.p90_ms,
            p.p99_ms,
            p.p99_9_ms,
            p.max_ms,
            row.corrected.p99_ms
        );
    }
    out.push_str("</table>\n");
    let colours = [ADMITTED, REFUSED, OTHER, TRANSPORT];
    let names = ["2xx", "429", "other", "transport error"];
    let rps: Vec<Series> = (0..4)
        .filter(|c| r.seconds.iter().any(|s| s.by_class[*c] > 0))
        .map(|c| Series {
            name: names[c].into(),
            colour: colours[c].into(),
            points: r
                .seconds
                .iter()
                .map(|s| (s.second as f64, s.by_class[c] as f64))
                .collect(),
        })
        .collect();
    out.push_str(&line_chart(
        "Requests per second by status",
        "second of the swarm",
        "requests/s",
        &rps,
        None,
    ));
    let pct = |name: &str, colour: &str, f: fn(&super::report::SecondRow) -> f64| Series {
        name: name.into(),
        colour: colour.into(),
        points: r.seconds.iter().map(|s| (s.second as f64, f(s))).collect(),
    };
    out.push_str(&line_chart(
        "Latency percentiles per second (raw service time)",
        "second of the swarm",
        "ms",
        &[
            pct("p50", PALETTE[0], |s| s.p50_ms),
            pct("p99", PALETTE[1], |s| s.p99_ms),
            pct("max", PALETTE[2], |s| s.max_ms),
        ],
        None,
    ));
    let mut categories: Vec<&str> = r.accounts.iter().map(|a| a.category.as_str()).collect();
    categories.sort();
    categories.dedup();
    for cat in categories {
        let mut accounts: Vec<_> = r.accounts.iter().filter(|a| a.category == cat).collect();
        accounts.sort_by_key(|a| std::cmp::Reverse((a.over_admitted, a.admitted)));
        let Some(first) = accounts.first() else {
            continue;
        };
        let series: Vec<Series> = accounts
            .iter()
            .take(PALETTE.len())
            .enumerate()
            .map(|(i, a)| Series {
                name: format!("identity-{}", a.identity),
                colour: PALETTE[i].into(),
                points: a
                    .per_window
                    .iter()
                    .enumerate()
                    .map(|(k, n)| (k as f64, *n as f64))
                    .collect(),
            })
            .collect();
        let shown = if accounts.len() > PALETTE.len() {
            format!(
                " ({} of {} identities, worst first)",
                PALETTE.len(),
                accounts.len()
            )
        } else {
            String::new()
        };
        // The line is what the judgement allows in a window-long slice under every reading
        // (a fixed window may roll over inside the slice: twice the limit), so the chart shows
        // a breach exactly where the verdict does.
        let window = std::time::Duration::from_millis(first.window_ms);
        let bound = super::judge::allowed(
            first.limit,
            window,
            window.as_nanos().saturating_sub(1) as u64,
        );
        out.push_str(&line_chart(
            &format!(
                "Admitted {cat} requests per {} window{shown}",
                humantime::format_duration(window)
            ),
            "window of the swarm",
            "admitted",
            &series,
            Some((
                bound as f64,
                format!("allowed {bound} (limit {})", first.limit),
            )),
        ));
    }
    out.push_str("</section>\n");
    out
}
