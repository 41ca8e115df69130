//! `report.html`: the run as one self-contained page (no external stylesheet, script, font or
//! image, so it can be archived as a CI artifact and opened offline). A header with the target
//! and verdict, the counts, the clauses grouped by area with the evidence of each folded under
//! it, the scenarios, and a hand-drawn SVG chart per rate-limit timeline (`chart`).
//!
//! Every piece of text from the report goes through `esc`.

use std::fmt::Write as _;

use crate::verdict::{ClauseVerdict, RunVerdict, Status};

use super::escape::esc;
use super::{RunReport, chart, text};

/// Each body in the evidence is capped at this many bytes.
const BODY_CAP: usize = 16 * 1024;

const STYLE: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--skip:#6e7781;--inc:#9a6700;--err:#8250df;--bg:#f6f8fa;--line:#d0d7de;--fg:#1f2328;--muted:#59636e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
header{padding:20px 32px 16px;background:var(--bg);border-bottom:1px solid var(--line)}
header h1{margin:0 0 10px;font-size:22px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
main{padding:8px 32px 48px;max-width:1320px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:20px 0 6px}
.verdict{padding:3px 12px;border-radius:6px;color:#fff;font-size:16px;letter-spacing:.04em}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}.verdict.error{background:var(--err)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
.error-box{margin:16px 0 0;padding:10px 14px;border:1px solid var(--err);border-left-width:4px;border-radius:6px;background:#fbefff}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0 4px}
.card{border:1px solid var(--line);border-top-width:4px;border-radius:8px;padding:8px 16px;min-width:120px;background:#fff}
.card b{display:block;font-size:26px;line-height:1.2}.card span{color:var(--muted)}
.card.pass{border-top-color:var(--pass)}.card.fail{border-top-color:var(--fail)}.card.warn{border-top-color:var(--inc)}.card.skipped,.card.not_testable{border-top-color:var(--skip)}.card.inconclusive{border-top-color:var(--inc)}
.filters{margin:8px 0 4px;color:var(--muted)}.filters label{margin-right:14px;white-space:nowrap;cursor:pointer}
table{border-collapse:collapse;width:100%}
table.clauses{table-layout:fixed}
tr.area th{background:#fff;font-size:15px;padding:18px 8px 6px;border-bottom:2px solid var(--line)}
td{overflow-wrap:anywhere}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
th{background:var(--bg);font-weight:600;font-size:13px}
td.id,td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fff8f8}
tr.evidence td{padding:0 8px 10px 8px}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.skipped,.badge.not_testable{background:var(--skip)}.badge.inconclusive{background:var(--inc)}
.level{font-size:12px;color:var(--muted)}.level.must{color:var(--fg);font-weight:600}
details summary{cursor:pointer;color:#0969da}
details .note{margin:6px 0 4px}
pre{margin:6px 0;padding:8px 10px;background:var(--bg);border:1px solid var(--line);border-radius:6px;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.replay{position:relative}.replay pre.curl{margin-top:2px}
button.copy{font:12px system-ui,sans-serif;padding:1px 10px;border:1px solid var(--line);border-radius:6px;background:#fff;cursor:pointer}
figure{margin:8px 0 24px;padding:12px;border:1px solid var(--line);border-radius:8px}
figure.breach{border:2px solid var(--fail)}
.broke{margin:6px 0;padding:4px 8px;border-left:4px solid var(--fail);background:#fff8f8}.broke b{color:var(--fail)}
a.timeline-link{font-size:12px;white-space:nowrap;margin-left:6px}
figcaption{font-weight:600;margin-bottom:4px}
svg.timeline{display:block;font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg .breach{fill:#cf222e;fill-opacity:.14;stroke:#cf222e;stroke-opacity:.6}
svg .breach-label{fill:#cf222e;font-size:11px;font-weight:600}
svg .wait{fill:#8c959f;fill-opacity:.16;stroke:#8c959f;stroke-opacity:.5;stroke-dasharray:3 3}
svg .wait-label{fill:var(--muted);font-size:11px}
svg .row{stroke:#eaeef2}svg .grid{stroke:#eaeef2}svg .tick,svg .axis-line{stroke:#8c959f}
svg .axis{fill:var(--muted)}svg .legend{fill:var(--fg)}
svg .limit{stroke:var(--fail);stroke-width:1.5;stroke-dasharray:6 4}svg .limit-label{fill:var(--fail);font-weight:600}
svg .admitted{fill:none;stroke:#0969da;stroke-width:2}
svg .break{stroke:#59636e;stroke-width:1.5;fill:none}
svg circle{fill-opacity:.85}
svg.cdf,svg.chart{max-width:100%;height:auto}
@media (max-width:760px){
header{padding:14px 14px 12px}main{padding:8px 14px 40px}
.cards{gap:8px}.card{min-width:0;flex:1 1 28%;padding:6px 10px}.card b{font-size:22px}
table.clauses,table.clauses tbody,table.clauses tr,table.clauses td,table.clauses th{display:block;width:100%}
table.clauses colgroup,table.clauses thead{display:none}
table.clauses tr[data-status]:not(.evidence){display:grid;grid-template-columns:max-content max-content 1fr;gap:2px 10px;align-items:baseline;padding:8px 6px 4px;border-top:1px solid var(--line)}
table.clauses tr[data-status] td{border:0;padding:0;background:none}
table.clauses tr[data-status]:not(.evidence) td:nth-child(4),table.clauses tr[data-status]:not(.evidence) td:nth-child(5){grid-column:1/-1}
table.clauses tr[data-status]:not(.evidence) td:nth-child(4){font-weight:600}
table.clauses tr.evidence td:first-child{display:none}
table.clauses tr.evidence td{padding:0 6px 8px}
table.scenarios,table.timing{display:block;overflow-x:auto}
}
"#;

/// Hides the clause rows whose status is unticked; the page works without it.
const SCRIPT: &str = r#"
document.querySelectorAll('.filters input').forEach(function(box){
  box.addEventListener('change',function(){
    document.querySelectorAll('tr[data-status="'+box.value+'"]').forEach(function(row){
      row.hidden=!box.checked;
    });
  });
});
document.querySelectorAll('button.copy').forEach(function(b){
  b.addEventListener('click',function(){
    var text=b.parentNode.querySelector('pre').textContent;
    var done=function(){b.textContent='copied';setTimeout(function(){b.textContent='copy'},1500);};
    if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done);}
    else{var t=document.createElement('textarea');t.value=text;document.body.appendChild(t);t.select();
      try{document.execCommand('copy');done();}catch(e){}document.body.removeChild(t);}
  });
});
"#;

pub fn render(report: &RunReport) -> String {
    render_with(report, &[])
}

/// The page with more sections at the end of its main part (a load swarm's charts), rendered
/// by their command from its own data and already escaped.
pub fn render_with(report: &RunReport, sections: &[String]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let verdict = match report.verdict {
        RunVerdict::Pass => "pass",
        RunVerdict::Fail => "fail",
        RunVerdict::Error => "error",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Lelantos conformance: {} ({})</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        verdict.to_uppercase(),
        esc(&report.target.base_url),
    );
    header(&mut out, report, verdict);
    out.push_str("<main>\n");
    clauses(&mut out, report);
    scenarios(&mut out, report);
    timelines(&mut out, report);
    timing(&mut out, report);
    for s in sections {
        out.push_str(s);
    }
    out.push_str("</main>\n");
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &RunReport, verdict: &str) {
    let _ = write!(
        out,
        "<header>\n<h1>Lelantos conformance <span class=\"verdict {verdict}\">{}</span></h1>\n<dl class=\"meta\">",
        verdict.to_uppercase()
    );
    let mut row = |name: &str, value: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(value));
    };
    let target = if report.target.embedded {
        format!("{} (embedded reference server)", report.target.base_url)
    } else {
        report.target.base_url.clone()
    };
    row("target", &target);
    if let Some(profile) = &report.target.profile {
        row("profile", profile);
    }
    if let Some(tls) = &report.target.tls {
        row("tls", &text::tls(tls));
    }
    if let Some(proxy) = &report.target.proxy {
        row("proxy", proxy);
    }
    if !report.target.headers.is_empty() {
        row("added headers", &report.target.headers.join(", "));
    }
    if let Some(again) = &report.target.serve_again {
        row("serve it again", again);
    }
    match &report.load {
        // A swarm generates no values: it has no seed to give.
        Some(_) => row("seed", "none (a swarm generates no values)"),
        None => row("seed", &report.seed.to_string()),
    }
    row("started at", &report.started_at);
    row("duration", &text::duration(report.duration_ms));
    row(
        "tool",
        &format!("{} {}", report.tool.name, report.tool.version),
    );
    out.push_str("</dl>\n");
    for note in text::gate_notes(report) {
        let _ = writeln!(out, "<div class=\"error-box\">{}</div>", esc(&note));
    }
    if let Some(error) = &report.error {
        let _ = writeln!(
            out,
            "<div class=\"error-box\"><b>The run could not complete:</b> {}</div>",
            esc(error)
        );
    }
    let s = &report.summary;
    let must = text::failing(report, crate::spec::Level::Must).len();
    out.push_str("<div class=\"cards\">");
    for (class, n, label) in [
        ("fail", must, "must fail"),
        ("warn", s.fail - must.min(s.fail), "should warn"),
        ("pass", s.pass, "pass"),
        ("skipped", s.skipped, "skipped"),
        ("not_testable", s.not_testable, "not testable"),
        ("inconclusive", s.inconclusive, "inconclusive"),
    ] {
        let _ = write!(
            out,
            "<div class=\"card {class}\"><b>{n}</b><span>{label}</span></div>"
        );
    }
    out.push_str("</div>\n</header>\n");
}

fn clauses(out: &mut String, report: &RunReport) {
    let _ = write!(
        out,
        "<h2>Clauses ({})</h2>\n<div class=\"filters\">show: ",
        report.clauses.len()
    );
    for status in [
        Status::Fail,
        Status::Pass,
        Status::Inconclusive,
        Status::Skipped,
        Status::NotTestable,
    ] {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" value=\"{0}\" checked> {0}</label>",
            status.as_str()
        );
    }
    out.push_str("</div>\n");
    out.push_str("<table class=\"clauses\">\n<colgroup><col style=\"width:16em\"><col style=\"width:5em\"><col style=\"width:8em\"><col style=\"width:34%\"><col></colgroup>\n<thead><tr><th>clause</th><th>level</th><th>status</th><th>title</th><th>reason</th></tr></thead>\n");
    for (area, clauses) in text::groups(report) {
        let failing = clauses.iter().filter(|c| c.status == Status::Fail).count();
        // A triage group's name holds its count already ("failing must clauses (2)").
        let counts = if area.ends_with(')') {
            String::new()
        } else {
            format!(
                " <span class=\"muted\">{} {}{}</span>",
                clauses.len(),
                if clauses.len() == 1 {
                    "clause"
                } else {
                    "clauses"
                },
                if failing > 0 {
                    format!(", {failing} failing")
                } else {
                    String::new()
                },
            )
        };
        let _ = writeln!(
            out,
            "<tbody>\n<tr class=\"area\"><th colspan=\"5\">{}{counts}</th></tr>",
            esc(&area),
        );
        for c in clauses {
            clause_rows(out, c, &report.timelines);
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n");
}

/// A clause's row (its reason's headline, and links to the timelines of its bursts), then its
/// evidence folded: the whole reason once, each evidence note that says more, the exchanges, the
/// one that broke a failing clause marked.
fn clause_rows(out: &mut String, c: &ClauseVerdict, timelines: &[crate::verdict::Timeline]) {
    let status = c.status.as_str();
    let links: Vec<String> = timelines
        .iter()
        .enumerate()
        .filter(|(_, t)| t.clause.as_deref() == Some(c.id.as_str()))
        .map(|(i, t)| {
            format!(
                "<a class=\"timeline-link\" href=\"#timeline-{i}\">timeline: {}</a>",
                esc(&t.category)
            )
        })
        .collect();
    let (head, _) = text::headline(&c.reason);
    let _ = writeln!(
        out,
        "<tr class=\"{status}\" data-status=\"{status}\" id=\"clause-{0}\"><td class=\"id\">{0}</td><td><span class=\"level {1}\">{1}</span></td><td><span class=\"badge {status}\">{2}</span></td><td>{3}</td><td>{4}{5}</td></tr>",
        esc(&c.id),
        c.level.as_str(),
        status.replace('_', " "),
        esc(&c.title),
        esc(head),
        if links.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"links\">{}</span>", links.join(" "))
        },
    );
    if c.evidence.is_empty() && c.scenarios.is_empty() {
        return;
    }
    let exchanges: usize = c.evidence.iter().map(|e| e.exchanges.len()).sum();
    let _ = write!(
        out,
        "<tr class=\"evidence\" data-status=\"{status}\"><td></td><td colspan=\"4\"><details><summary>{}</summary>",
        match (c.status == Status::Fail, exchanges) {
            (true, 0) => "why it failed".to_string(),
            (true, 1) => "why it failed: 1 exchange".to_string(),
            (true, n) => format!("why it failed: {n} exchanges"),
            (false, 0) => "evidence".to_string(),
            (false, 1) => "evidence: 1 exchange".to_string(),
            (false, n) => format!("evidence: {n} exchanges"),
        },
    );
    if !c.scenarios.is_empty() {
        let _ = write!(
            out,
            "<div class=\"note muted\">scenarios: {}</div>",
            esc(&c.scenarios.join(", "))
        );
    }
    let _ = write!(
        out,
        "<div class=\"note\"><b>reason:</b> {}</div>",
        esc(&c.reason)
    );
    let mut marked = false;
    for e in &c.evidence {
        // A note the reason already says is not said again.
        if !e.note.is_empty() && !c.reason.contains(e.note.as_str()) {
            let _ = write!(out, "<div class=\"note\">{}</div>", esc(&e.note));
        }
        if let Some(script) = &e.script {
            let _ = write!(
                out,
                "<div class=\"replay\"><span class=\"muted\">reproduce:</span> <button type=\"button\" class=\"copy\">copy</button><pre class=\"curl\">{}</pre></div>",
                esc(script)
            );
        }
        for ex in &e.exchanges {
            // The first exchange of a failure's evidence is the one that broke the clause.
            if c.status == Status::Fail && !marked {
                marked = true;
                let _ = write!(
                    out,
                    "<div class=\"broke\"><b>the exchange that broke the clause</b><pre>{}</pre></div>",
                    esc(&text::exchange(ex, BODY_CAP))
                );
            } else {
                let _ = write!(out, "<pre>{}</pre>", esc(&text::exchange(ex, BODY_CAP)));
            }
            if let Some(curl) = &ex.curl {
                let _ = write!(
                    out,
                    "<div class=\"replay\"><span class=\"muted\">replay:</span> <button type=\"button\" class=\"copy\">copy</button><pre class=\"curl\">{}</pre></div>",
                    esc(curl)
                );
            }
        }
    }
    out.push_str("</details></td></tr>\n");
}

fn scenarios(out: &mut String, report: &RunReport) {
    if report.scenarios.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h2>Scenarios ({})</h2>\n<table class=\"scenarios\">\n<thead><tr><th>scenario</th><th>kind</th><th>clauses</th><th>requests</th><th>duration</th><th>note</th></tr></thead>\n<tbody>\n",
        report.scenarios.len()
    );
    for s in &report.scenarios {
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.name),
            esc(&s.kind),
            esc(&s.clauses.join(", ")),
            s.requests,
            text::duration(s.duration_ms),
            esc(s.note.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn timelines(out: &mut String, report: &RunReport) {
    if report.timelines.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2>Rate-limit timelines ({})</h2>",
        report.timelines.len()
    );
    for (i, t) in report.timelines.iter().enumerate() {
        // The burst of a failing clause: its figure says so and its chart marks where the
        // admissions went over the limit.
        let breach = t.clause.as_deref().is_some_and(|id| {
            report
                .clauses
                .iter()
                .any(|c| c.id == id && c.status == Status::Fail)
        });
        let admitted = t
            .events
            .iter()
            .filter(|e| matches!(e.status, Some(200..=299)))
            .count();
        let clause = t
            .clause
            .as_deref()
            .map(|id| {
                format!(
                    " <a href=\"#clause-{0}\">{0}</a>{1}",
                    esc(id),
                    if breach { " (failed)" } else { "" }
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<figure id=\"timeline-{i}\"{}><figcaption>{}{clause} <span class=\"muted\">category {}: limit {} per {}; {} requests, {} admitted</span></figcaption>\n{}\n</figure>",
            if breach { " class=\"breach\"" } else { "" },
            esc(&t.scenario),
            esc(&t.category),
            t.limit,
            text::duration(t.window_ms),
            t.events.len(),
            admitted,
            chart::timeline(t, breach),
        );
    }
}

/// The timing tests: verdict, statistics per class, the t tests, the CDF plot.
fn timing(out: &mut String, report: &RunReport) {
    for r in &report.timing {
        let _ = writeln!(
            out,
            "<h2>Timing: {}</h2>\n<p><span class=\"status {}\">{}</span> {}</p>",
            esc(&r.scenario),
            r.status.as_str(),
            r.status.as_str(),
            esc(&r.reason)
        );
        let detectable = r
            .detectable_ns
            .map(crate::timing::verdict::ns)
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} samples of {} wanted ({} warm-up and {} throttled discarded) in {}; seed {}; threshold |t| &gt; {} in both batches; smallest detectable leak {}{}</p>",
            r.samples,
            r.samples_wanted,
            r.warmup,
            r.throttled,
            text::duration(r.duration_ms),
            r.seed,
            r.threshold,
            esc(&detectable),
            r.stopped
                .as_deref()
                .map(|s| format!("; stopped: {}", esc(s)))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "<figure>{}</figure>", super::cdf::cdf(r));
        out.push_str("<table class=\"timing\"><thead><tr><th>class</th><th>n</th><th>mean</th>");
        let ps: Vec<f64> = r
            .classes
            .first()
            .map(|c| c.percentiles.iter().map(|[p, _]| *p).collect())
            .unwrap_or_default();
        for p in &ps {
            let _ = write!(out, "<th>p{}</th>", p * 100.0);
        }
        out.push_str("</tr></thead><tbody>\n");
        for c in &r.classes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{:.1} µs</td>",
                c.class.name(),
                c.samples,
                c.mean_ns / 1000.0
            );
            for [_, v] in &c.percentiles {
                let _ = write!(out, "<td>{:.1} µs</td>", v / 1000.0);
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        out.push_str("<details><summary>Welch's t per batch, pair and crop</summary><table class=\"timing\"><thead><tr><th>batch</th><th>slower?</th><th>than</th><th>crop</th><th>n</th><th>difference</th><th>t</th><th>df</th></tr></thead><tbody>\n");
        for t in &r.tests {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{:.0} ns</td><td>{:.2}</td><td>{:.0}</td></tr>",
                t.batch,
                t.a.name(),
                t.b.name(),
                if t.crop >= 1.0 {
                    "raw".to_string()
                } else {
                    format!("p{:.0}", t.crop * 100.0)
                },
                t.n_a,
                t.n_b,
                t.diff_ns,
                t.t,
                t.df
            );
        }
        out.push_str("</tbody></table></details>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn self_contained_with_one_chart_per_timeline() {
        let mut report = fixture::report();
        let mut second = report.timelines[0].clone();
        second.category = "sandbox_creation".into();
        report.timelines.push(second);
        let page = render(&report);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        let lower = page.to_lowercase();
        assert!(!lower.contains("<script src"));
        assert!(!lower.contains("<link"));
        assert!(!lower.contains("<img"));
        assert!(!lower.contains("@import") && !lower.contains("url("));
        // The only addresses are the ones the report itself holds.
        let without_target = lower.replace("http://127.0.0.1:43111", "");
        assert!(!without_target.contains("http://"), "an external address");
        assert!(!without_target.contains("https://"), "an external address");
        assert_eq!(page.matches("<svg").count(), 2);
        assert_eq!(page.matches("</svg>").count(), 2);
        // Header, counts, grouped clauses, evidence, scenarios.
        assert!(page.contains("<span class=\"verdict fail\">FAIL</span>"));
        assert!(page.contains("<dd>1234</dd>") && page.contains("<dd>2026-01-01T00:00:00Z</dd>"));
        // The cards split must failures from should-level warnings; failures come first.
        assert!(page.contains("<b>1</b><span>must fail</span>"));
        assert!(page.contains("<b>1</b><span>should warn</span>"));
        let at = |s: &str| page.find(s).unwrap();
        assert!(at("failing must clauses (1)") < at("should-level warnings (1)"));
        assert!(at("should-level warnings (1)") < at(">api-key "));
        // The failing exchanges carry their replay line, with a copy button.
        assert!(page.contains(
            "<button type=\"button\" class=\"copy\">copy</button><pre class=\"curl\">curl -sS -i"
        ));
        for area in ["api-key", "admin-token"] {
            assert!(
                page.contains(&format!("<tr class=\"area\"><th colspan=\"5\">{area} ")),
                "{area}"
            );
        }
        for group in ["failing must clauses (1)", "should-level warnings (1)"] {
            assert!(
                page.contains(&format!(
                    "<tr class=\"area\"><th colspan=\"5\">{group}</th>"
                )),
                "{group}"
            );
        }
        assert!(page.contains("why it failed: 2 exchanges"));
        assert!(page.contains("HTTP 429 Too Many Requests"));
        assert!(page.contains("{&quot;error&quot;:&quot;rate limit exceeded&quot;}"));
        assert!(page.contains("<td class=\"mono\">timing.yaml#admin-compare</td>"));
        // Tags balance where it matters.
        for tag in ["table", "tbody", "details", "tr", "figure"] {
            assert_eq!(
                page.matches(&format!("<{tag}")).count(),
                page.matches(&format!("</{tag}>")).count(),
                "{tag}"
            );
        }
    }

    #[test]
    fn report_text_is_escaped() {
        let mut report = fixture::hostile();
        report.target.base_url = "http://x\"><script>alert(1)</script>".into();
        report.timelines[0].waits[0].reason = "<img src=x onerror=alert(2)>".into();
        let page = render(&report);
        assert_eq!(
            page.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert!(!page.contains("<img"));
        assert!(
            page.contains(
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"
            )
        );
        assert!(!page.contains('\u{1b}') && !page.contains('\u{0}'));
    }

    #[test]
    fn an_errored_run_shows_its_error() {
        let page = render(&fixture::errored());
        assert!(page.contains("<span class=\"verdict error\">ERROR</span>"));
        assert!(page.contains("connection refused &lt;127.0.0.1:43111&gt;"));
    }
}
