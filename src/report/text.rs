//! Plain-text pieces every renderer shares: clauses grouped by area, exchanges written out as
//! HTTP messages, byte caps and durations. Renderers escape this text for their own format.

use crate::spec::Level;
use crate::verdict::{ClauseVerdict, Exchange, Status};

use super::RunReport;

/// The clauses grouped by area, areas in the order they first appear (the spec's order).
pub fn areas(report: &RunReport) -> Vec<(&str, Vec<&ClauseVerdict>)> {
    let mut groups: Vec<(&str, Vec<&ClauseVerdict>)> = Vec::new();
    for clause in &report.clauses {
        match groups.iter_mut().find(|(area, _)| *area == clause.area) {
            Some((_, list)) => list.push(clause),
            None => groups.push((clause.area.as_str(), vec![clause])),
        }
    }
    groups
}

/// A reason split into its headline and the rest: the headline ends where the derivation
/// begins (the first parenthesis or semicolon after a few words), so "101 admitted where at
/// most 100 are allowed in 14 ms" stands alone and "(every reading: ...)" is detail.
pub fn headline(reason: &str) -> (&str, &str) {
    const AT_LEAST: usize = 24;
    let cut = reason
        .char_indices()
        .filter(|(i, c)| *i >= AT_LEAST && matches!(c, '(' | ';'))
        .map(|(i, _)| i)
        .next();
    match cut {
        Some(i) => (
            reason[..i].trim_end(),
            reason[i..].trim_start_matches(';').trim(),
        ),
        None => (reason, ""),
    }
}

/// A load swarm's figures as lines: the totals, then each category's admissions against what
/// the contract allows its identities over the swarm.
pub fn load_lines(l: &super::LoadSummary) -> Vec<String> {
    let ms = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0} ms")
        } else {
            format!("{v:.1} ms")
        }
    };
    let mut out = vec![format!(
        "load: {} requests in {} ({:.0}/s); latency p50 {}, p95 {}, p99 {}; {} errors (no answer or 5xx); {:.1}% answered 429",
        l.requests,
        duration(l.duration_ms),
        l.requests_per_second,
        ms(l.p50_ms),
        ms(l.p95_ms),
        ms(l.p99_ms),
        l.errors,
        l.share_429 * 100.0
    )];
    for c in &l.categories {
        out.push(format!(
            "{}: {} admitted to {} {}, at most {} allowed over the swarm (every reading)",
            c.category,
            c.admitted,
            c.identities,
            if c.identities == 1 {
                "identity"
            } else {
                "identities"
            },
            c.allowed
        ));
    }
    out
}

/// At most `cap` bytes of `text` (cut at a character boundary), with a note of what was left out.
pub fn cap(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
}

/// `4.2 s` from 4210 ms; `850 ms` below a second.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `429 Too Many Requests`: a status with its reason phrase, when it has one.
pub fn status_line(status: u16) -> String {
    match axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// An exchange as two HTTP messages: the request line, headers and body, then the response
/// status, headers and body (or the transport error). Each body is capped at `body_cap` bytes.
pub fn exchange(ex: &Exchange, body_cap: usize) -> String {
    let mut out = format!("{} {}\n", ex.method, ex.url);
    for (name, value) in &ex.request_headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(body) = ex.request_body.as_deref().filter(|b| !b.is_empty()) {
        out.push('\n');
        out.push_str(&cap(body, body_cap));
        out.push('\n');
    }
    out.push('\n');
    let timing = format!(
        "(sent at {:.1} ms, answered in {:.1} ms)",
        ex.at_ms, ex.elapsed_ms
    );
    match (ex.status, &ex.error) {
        (Some(status), _) => {
            out.push_str(&format!("HTTP {}  {timing}\n", status_line(status)));
            for (name, value) in &ex.response_headers {
                out.push_str(&format!("{name}: {value}\n"));
            }
            if let Some(body) = ex.response_body.as_deref().filter(|b| !b.is_empty()) {
                out.push('\n');
                out.push_str(&cap(body, body_cap));
                out.push('\n');
            }
        }
        (None, Some(error)) => out.push_str(&format!("transport error: {error}  {timing}\n")),
        (None, None) => out.push_str(&format!("no response  {timing}\n")),
    }
    out
}

/// How many of the report's clauses in each status, `must` failures apart from `should`-level
/// warnings: `1 must fail, 5 should warn, 40 pass, ...`.
pub fn counts(report: &RunReport) -> String {
    let s = &report.summary;
    // A report written before the split has only `fail`: its must/should split is recounted.
    let (must, should) = if s.fail_must + s.fail_should == s.fail {
        (s.fail_must, s.fail_should)
    } else {
        let failing = report.clauses.iter().filter(|c| c.status == Status::Fail);
        let must = failing.clone().filter(|c| c.level == Level::Must).count();
        (must, s.fail - must)
    };
    format!(
        "{must} must fail, {should} should warn, {} pass, {} skipped, {} not testable, {} inconclusive",
        s.pass, s.skipped, s.not_testable, s.inconclusive
    )
}

/// The failing clauses of one level, in the report's order.
pub fn failing(report: &RunReport, level: Level) -> Vec<&ClauseVerdict> {
    report
        .clauses
        .iter()
        .filter(|c| c.status == Status::Fail && c.level == level)
        .collect()
}

/// The clauses in triage order: the failing `must` clauses, then the `should`-level warnings,
/// then every other clause by area.
pub fn groups(report: &RunReport) -> Vec<(String, Vec<&ClauseVerdict>)> {
    let mut out = Vec::new();
    for (level, name) in [
        (Level::Must, "failing must clauses"),
        (Level::Should, "should-level warnings"),
    ] {
        let list = failing(report, level);
        if !list.is_empty() {
            out.push((format!("{name} ({})", list.len()), list));
        }
    }
    for clause in report.clauses.iter().filter(|c| c.status != Status::Fail) {
        match out.iter_mut().find(|(area, _)| *area == clause.area) {
            Some((_, list)) => list.push(clause),
            None => out.push((clause.area.clone(), vec![clause])),
        }
    }
    out
}

/// How the certificate was checked, in words.
pub fn tls(tls: &super::TlsInfo) -> String {
    let mut parts = Vec::new();
    if tls.insecure {
        parts.push("not verified (--insecure)".to_string());
    } else if tls.ca.is_empty() {
        parts.push("verified with the platform's roots".to_string());
    } else {
        parts.push(format!(
            "verified with the platform's roots and {}",
            tls.ca.join(", ")
        ));
    }
    if let Some(c) = &tls.client_cert {
        parts.push(format!("client certificate {c}"));
    }
    parts.join("; ")
}

/// What the gate says beside the verdict: warnings (`--insecure`), undecided `must` clauses (so
/// a pass that could not look is never a bare PASS), the policy when it is not the default, and
/// the clauses that failed the gate. Empty for a plain run whose every `must` clause was decided.
pub fn gate_notes(report: &RunReport) -> Vec<String> {
    let g = &report.gate;
    let mut notes: Vec<String> = report
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    notes.extend(g.undecided_note());
    notes.extend(g.skipped_note());
    if g.fail_on.len() > 1 {
        notes.push(format!("gate: --fail-on {}", g.fail_on.join(",")));
    }
    if !g.failed_by.is_empty() {
        notes.push(format!("failed by: {}", g.failed_by.join(", ")));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_cuts_at_a_char_boundary() {
        assert_eq!(cap("héllo", 10), "héllo");
        assert_eq!(cap("héllo", 2), "h\n… (5 more bytes not shown)");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(4210), "4.2 s");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(status_line(429), "429 Too Many Requests");
        assert_eq!(status_line(599), "599");
    }
}
