//! `compliance.md`: the run as a pull-request comment. A headline with the verdict and counts,
//! the failing `must` clauses, then the failing `should` clauses, the passes counted, the
//! undecided clauses with their reasons, and the failures' evidence (with a `curl` line that
//! replays each exchange) folded in `<details>`.
//!
//! Everything from the report is escaped for GitHub-flavoured Markdown (tables, inline HTML,
//! emphasis), and the whole comment stays under GitHub's 65,536-character limit: evidence is
//! capped per block and left out past a budget, with a pointer to the full reports.

use std::fmt::Write as _;

use crate::spec::Level;
use crate::verdict::{ClauseVerdict, RunVerdict, Status};

use super::{RunReport, text};

/// Each evidence block is capped at this many bytes.
const EVIDENCE_CAP: usize = 4 * 1024;
/// Evidence stops being added once the comment reaches this size (GitHub's limit is 65,536).
const COMMENT_BUDGET: usize = 56 * 1024;

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let (icon, word) = match report.verdict {
        RunVerdict::Pass => ("✅", "PASS"),
        RunVerdict::Fail => ("❌", "FAIL"),
        RunVerdict::Error => ("⚠️", "ERROR"),
    };
    let _ = writeln!(out, "## {icon} Lelantos conformance: {word}\n");
    let _ = writeln!(
        out,
        "**{}:** {} · target {}{} · {} · {} · {} {}\n",
        crate::plural::count(report.clauses.len() as u64, "clause"),
        text::counts(report),
        inline(&report.target.base_url),
        if report.target.embedded {
            " (embedded reference server)"
        } else {
            ""
        },
        // A swarm generates no values: it has no seed to give.
        match report.load {
            Some(_) => "no seed (a swarm generates no values)".to_string(),
            None => format!("seed {}", report.seed),
        },
        text::duration(report.duration_ms),
        inline(&report.tool.name),
        inline(&report.tool.version),
    );
    if let Some(again) = &report.target.serve_again {
        let _ = writeln!(
            out,
            "The same embedded server again (its seed, windows and faults; then the replay lines below run as written):\n\n{}",
            fenced(again, "sh")
        );
    }
    if let Some(load) = &report.load {
        for l in text::load_lines(load) {
            let _ = writeln!(out, "- {}", inline(&l));
        }
        out.push('\n');
    }
    let mut how = Vec::new();
    if let Some(tls) = &report.target.tls {
        how.push(format!("TLS: {}", text::tls(tls)));
    }
    if let Some(proxy) = &report.target.proxy {
        how.push(format!("through proxy {proxy}"));
    }
    if !report.target.headers.is_empty() {
        how.push(format!(
            "added headers: {}",
            report.target.headers.join(", ")
        ));
    }
    if !how.is_empty() {
        let _ = writeln!(out, "{}\n", inline(&how.join(" · ")));
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "> **The run could not complete:** {}\n", inline(error));
    }
    for note in text::gate_notes(report) {
        let _ = writeln!(out, "> **{}**\n", inline(&note));
    }

    let failing = |level: Level| text::failing(report, level);
    for (level, what) in [(Level::Must, "fail the run"), (Level::Should, "advisory")] {
        let clauses = failing(level);
        if clauses.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "### Failing `{}` clauses ({}, {what})\n",
            level.as_str(),
            clauses.len()
        );
        // The reason's headline here; the whole reason once, in its evidence below.
        out.push_str("| Clause | Area | Title | Reason |\n|---|---|---|---|\n");
        for c in clauses {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&c.id),
                cell(&c.area),
                cell(&c.title),
                cell(text::headline(&c.reason).0)
            );
        }
        out.push('\n');
    }
    if report.summary.fail == 0 {
        out.push_str("No clause failed.\n\n");
    }

    // What ran and passed is counted; what could not be decided is listed with its reason (a
    // gate must never pass by not looking); failures are above, in full.
    let undecided: Vec<&ClauseVerdict> = report
        .clauses
        .iter()
        .filter(|c| !matches!(c.status, Status::Pass | Status::Fail))
        .collect();
    let _ = writeln!(
        out,
        "{} of {} {}.\n",
        report.summary.pass,
        crate::plural::count(report.clauses.len() as u64, "clause"),
        if report.summary.pass == 1 {
            "passes"
        } else {
            "pass"
        }
    );
    if !undecided.is_empty() {
        let _ = writeln!(
            out,
            "<details>\n<summary>{} not decided (skipped, not testable, inconclusive)</summary>\n",
            crate::plural::count(undecided.len() as u64, "clause")
        );
        out.push_str("| Clause | Level | Status | Reason |\n|---|---|---|---|\n");
        for c in undecided {
            let _ = writeln!(
                out,
                "| {} | {} | {} {} | {} |",
                cell(&c.id),
                c.level.as_str(),
                status_icon(c.status),
                c.status.as_str(),
                cell(&c.reason)
            );
        }
        out.push_str("\n</details>\n");
    }

    // Evidence of failures, `must` first, while the comment has room.
    let mut failures = failing(Level::Must);
    failures.extend(failing(Level::Should));
    let mut left_out = 0;
    for c in failures.iter().filter(|c| !c.evidence.is_empty()) {
        let section = evidence(c);
        if out.len() + section.len() > COMMENT_BUDGET {
            left_out += 1;
            continue;
        }
        out.push('\n');
        out.push_str(&section);
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n_Evidence of {left_out} more failing clause(s) is left out of this comment for length; see `compliance.json` or `report.html`._"
        );
    }
    out
}

fn status_icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Skipped => "⏭️",
        Status::NotTestable => "➖",
        Status::Inconclusive => "❔",
    }
}

/// One failing clause's evidence, folded: each note, then each exchange in a fenced block.
fn evidence(c: &ClauseVerdict) -> String {
    let mut s = format!(
        "<details>\n<summary>Evidence: {} ({}): {}</summary>\n\n",
        html(&c.id),
        c.level.as_str(),
        html(&c.reason)
    );
    for e in &c.evidence {
        // A note the reason already says is not said again.
        if !e.note.is_empty() && !c.reason.contains(e.note.as_str()) {
            let _ = writeln!(s, "{}\n", inline(&e.note));
        }
        if let Some(script) = &e.script {
            s.push_str("Reproduce:\n\n");
            s.push_str(&fenced(script, "sh"));
        }
        for ex in &e.exchanges {
            s.push_str(&fenced(
                &text::cap(&text::exchange(ex, EVIDENCE_CAP), EVIDENCE_CAP),
                "http",
            ));
            if let Some(curl) = &ex.curl {
                s.push_str("Replay:\n\n");
                s.push_str(&fenced(curl, "sh"));
            }
        }
    }
    s.push_str("</details>\n");
    s
}

/// A fenced code block whose fence is longer than any run of backticks in the text.
fn fenced(text: &str, lang: &str) -> String {
    let text = controls(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "{fence}{lang}\n{}\n{fence}\n\n",
        text.trim_end_matches('\n')
    )
}

/// Control characters (an ANSI escape in a body, a NUL) show as U+FFFD, except newlines and tabs.
fn controls(text: &str) -> String {
    text.chars()
        .filter(|&c| c != '\r')
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Text for HTML contexts (`<summary>`).
fn html(text: &str) -> String {
    controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', " ")
}

/// Inline Markdown text: markup and HTML are shown, not interpreted.
pub(crate) fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in controls(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table cell: inline text whose newlines become `<br>` (a raw newline would end the row).
fn cell(text: &str) -> String {
    let lines: Vec<String> = text.trim().lines().map(inline).collect();
    lines.join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn headline_failures_first_then_everything_folded() {
        let md = render(&fixture::report());
        assert!(md.starts_with("## ❌ Lelantos conformance: FAIL\n"), "{md}");
        assert!(md.contains(
            "1 must fail, 1 should warn, 1 pass, 1 skipped, 1 not testable, 1 inconclusive"
        ));
        let must = md.find("### Failing `must` clauses (1").unwrap();
        let should = md.find("### Failing `should` clauses (1").unwrap();
        // Passes are counted, not listed; what was not decided is listed with its reason.
        let all = md.find("1 of 6 clauses passes.").unwrap();
        assert!(md.contains(
            "<summary>3 clauses not decided (skipped, not testable, inconclusive)</summary>"
        ));
        assert!(
            !md.contains("| AUTH-KEY-HEADER |"),
            "a pass is listed: {md}"
        );
        // Each failing exchange has its replay line.
        assert!(md.contains("Replay:\n\n```sh\ncurl -sS -i -H 'X-API-Key: '\"$LELANTOS_API_KEY\""));
        let evidence = md
            .find("<summary>Evidence: RL-429-RETRY-AFTER (must)")
            .unwrap();
        assert!(must < should && should < all && all < evidence);
        // The `|` in the failing clause's title is escaped, so the row keeps its four cells.
        let row = md
            .lines()
            .find(|l| l.starts_with("| RL-429-RETRY-AFTER | rate-limit"))
            .unwrap();
        assert!(row.contains("Retry-After header \\| in seconds"), "{row}");
        assert_eq!(row.matches(" | ").count(), 3, "{row}");
        // Every clause that is not a pass is in a table.
        for c in fixture::report()
            .clauses
            .iter()
            .filter(|c| c.status != Status::Pass)
        {
            assert!(md.contains(&format!("| {} |", inline(&c.id))), "{}", c.id);
        }
        assert!(md.contains("```http\nGET http://127.0.0.1:43111/v1/sandboxes\n"));
        assert!(md.contains("HTTP 429 Too Many Requests"));
    }

    #[test]
    fn escapes_cells_and_caps_evidence() {
        let mut r = fixture::hostile();
        r.clauses[4].reason.push_str("\nsecond | line");
        let big = "x".repeat(20_000) + "```";
        r.clauses[4].evidence[0].exchanges[1].response_body = Some(big);
        let md = render(&r);
        assert!(!md.contains("<script>"));
        assert!(!md.contains('\u{1b}') && !md.contains('\u{0}'));
        let row = md
            .lines()
            .find(|l| l.starts_with("| RL-429-RETRY-AFTER | rate-limit"))
            .unwrap();
        assert!(
            row.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp;"),
            "{row}"
        );
        assert!(row.contains("<br>second \\| line"), "{row}");
        assert!(md.contains("more bytes not shown"));
        assert!(md.len() < 30_000);
        assert_eq!(fenced("a ``` b", "http"), "````http\na ``` b\n````\n\n");
    }

    #[test]
    fn a_passing_run_says_so_and_an_error_is_shown() {
        let mut r = fixture::report();
        r.clauses.retain(|c| c.status != Status::Fail);
        r.summary = crate::verdict::summarize(&r.clauses);
        r.verdict = RunVerdict::Pass;
        let md = render(&r);
        assert!(md.starts_with("## ✅ Lelantos conformance: PASS"));
        assert!(md.contains("No clause failed."));
        assert!(!md.contains("Evidence:"));
        let md = render(&fixture::errored());
        assert!(md.contains("**The run could not complete:** target unreachable: connection refused &lt;127.0.0.1:43111&gt;"));
    }

    #[test]
    fn the_comment_stays_under_the_limit() {
        let mut r = fixture::report();
        let template = r.clauses[4].clone();
        for i in 0..40 {
            let mut c = template.clone();
            c.id = format!("RL-{i}");
            c.evidence[0].exchanges[1].response_body = Some("y".repeat(10_000));
            r.clauses.push(c);
        }
        let md = render(&r);
        assert!(md.len() < 65_536, "{}", md.len());
        assert!(md.contains("more failing clause(s) is left out"));
    }
}
