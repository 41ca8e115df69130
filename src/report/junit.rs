//! `junit.xml`: the verdicts in the JUnit XML dialect that CI importers share (GitHub Actions
//! reporters, GitLab, Jenkins). One `<testsuite>` per clause area, one `<testcase>` per clause.
//!
//! Mapping: `fail` is a `<failure>` (its `type` is the clause's level, so a `should` failure is
//! told apart from one that fails the run); `skipped`, `not_testable` and `inconclusive` are
//! `<skipped>` with the status named in the message; a run that could not complete adds a
//! `lelantos.run` suite holding one `<error>`.
//!
//! Times: a clause has no time of its own (a scenario checks several clauses, concurrently), so a
//! testcase's time is the total time of the distinct scenarios that judged it, a suite's the
//! total of the distinct scenarios behind its clauses, each capped at the run's duration; the
//! `<testsuites>` time is the run's duration.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::verdict::{ClauseVerdict, RunVerdict, Status};

use super::{RunReport, text};

/// Evidence bodies are capped so one huge response cannot bloat a CI artifact.
const BODY_CAP: usize = 8 * 1024;

pub fn render(report: &RunReport) -> String {
    let run_ms = report.duration_ms;
    let scenario_ms = |names: &mut dyn Iterator<Item = &String>| -> u64 {
        let distinct: BTreeSet<&String> = names.collect();
        let total: u64 = distinct
            .into_iter()
            .filter_map(|n| report.scenarios.iter().find(|s| &s.name == n))
            .map(|s| s.duration_ms)
            .sum();
        total.min(run_ms)
    };
    let errored = report.verdict == RunVerdict::Error;
    let s = &report.summary;
    let total = report.clauses.len() + usize::from(errored);
    let skipped = s.skipped + s.not_testable + s.inconclusive;

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{total}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\">",
        attr(&report.tool.name),
        s.fail,
        usize::from(errored),
        seconds(run_ms),
        attr(&report.started_at),
    );
    for (area, clauses) in text::areas(report) {
        let count = |st: Status| clauses.iter().filter(|c| c.status == st).count();
        let suite_ms = scenario_ms(&mut clauses.iter().flat_map(|c| c.scenarios.iter()));
        let _ = writeln!(
            out,
            "  <testsuite name=\"lelantos.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
            attr(area),
            clauses.len(),
            count(Status::Fail),
            count(Status::Skipped) + count(Status::NotTestable) + count(Status::Inconclusive),
            seconds(suite_ms),
            attr(&report.started_at),
        );
        properties(&mut out, report);
        for clause in clauses {
            let case_ms = scenario_ms(&mut clause.scenarios.iter());
            testcase(&mut out, clause, case_ms);
        }
        out.push_str("  </testsuite>\n");
    }
    if errored {
        let message = report
            .error
            .as_deref()
            .unwrap_or("the run could not complete");
        let _ = writeln!(
            out,
            "  <testsuite name=\"lelantos.run\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"{}\" timestamp=\"{}\">",
            seconds(run_ms),
            attr(&report.started_at),
        );
        let _ = writeln!(
            out,
            "    <testcase name=\"run completes\" classname=\"lelantos.run\" time=\"{}\">\n      <error message=\"{}\" type=\"run-error\">{}</error>\n    </testcase>",
            seconds(run_ms),
            attr(message),
            body(message),
        );
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The run's identity on every suite: importers show suite properties, not the root's.
fn properties(out: &mut String, report: &RunReport) {
    out.push_str("    <properties>\n");
    let mut prop = |name: &str, value: &str| {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    };
    prop("target", &report.target.base_url);
    prop("seed", &report.seed.to_string());
    prop(
        "tool",
        &format!("{} {}", report.tool.name, report.tool.version),
    );
    if let Some(profile) = &report.target.profile {
        prop("profile", profile);
    }
    if let Some(proxy) = &report.target.proxy {
        prop("proxy", proxy);
    }
    for w in &report.warnings {
        prop("warning", w);
    }
    prop("fail_on", &report.gate.fail_on.join(","));
    if !report.gate.must_undecided.is_empty() {
        prop("must_undecided", &report.gate.must_undecided.join(","));
    }
    out.push_str("    </properties>\n");
}

fn testcase(out: &mut String, clause: &ClauseVerdict, ms: u64) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"lelantos.{}\" time=\"{}\"",
        attr(&format!("{}: {}", clause.id, clause.title)),
        attr(&clause.area),
        seconds(ms),
    );
    match clause.status {
        Status::Pass => out.push_str("/>\n"),
        Status::Fail => {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                attr(&clause.reason),
                clause.level.as_str(),
                body(&failure_text(clause)),
            );
        }
        Status::Skipped | Status::NotTestable | Status::Inconclusive => {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(&format!("{}: {}", clause.status.as_str(), clause.reason)),
            );
        }
    }
}

/// The failure's text: the clause, the reason, the scenarios, then each piece of evidence with
/// its exchanges written out as HTTP messages.
fn failure_text(clause: &ClauseVerdict) -> String {
    let mut t = format!(
        "{} ({}): {}\n{}\n",
        clause.id,
        clause.level.as_str(),
        clause.title,
        clause.reason
    );
    if !clause.scenarios.is_empty() {
        let _ = writeln!(t, "scenarios: {}", clause.scenarios.join(", "));
    }
    for (i, evidence) in clause.evidence.iter().enumerate() {
        let _ = writeln!(t, "\nevidence {}: {}", i + 1, evidence.note);
        for (j, ex) in evidence.exchanges.iter().enumerate() {
            let _ = writeln!(t, "--- exchange {} ---", j + 1);
            t.push_str(&text::exchange(ex, BODY_CAP));
        }
    }
    t
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD.
fn allowed(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Text content: markup characters escaped, forbidden characters replaced.
pub(crate) fn body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(allowed) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A lone CR would be normalised to LF by parsers; keep it as sent.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value (always written in double quotes): as `body`, plus quotes, and whitespace
/// as character references so parsers do not normalise newlines and tabs to spaces.
pub(crate) fn attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(allowed) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"))
    }

    fn num(node: roxmltree::Node, name: &str) -> usize {
        node.attribute(name).unwrap().parse().unwrap()
    }

    #[test]
    fn counts_and_structure_match_the_report() {
        let xml = render(&fixture::report());
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(num(root, "tests"), 6);
        assert_eq!(num(root, "failures"), 2);
        assert_eq!(num(root, "errors"), 0);
        assert_eq!(num(root, "skipped"), 3);
        assert_eq!(root.attribute("time"), Some("5.210"));

        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let names: Vec<_> = suites
            .iter()
            .map(|s| s.attribute("name").unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "lelantos.api-key",
                "lelantos.admin-token",
                "lelantos.rate-limit",
                "lelantos.general"
            ]
        );
        // Every suite's counts agree with its testcases.
        for suite in &suites {
            let cases: Vec<_> = suite
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .collect();
            let with = |tag: &str| {
                cases
                    .iter()
                    .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
                    .count()
            };
            assert_eq!(num(*suite, "tests"), cases.len());
            assert_eq!(num(*suite, "failures"), with("failure"));
            assert_eq!(num(*suite, "skipped"), with("skipped"));
            assert_eq!(num(*suite, "errors"), with("error"));
        }
        let api = suites[0];
        assert_eq!(num(api, "skipped"), 2);
        let case = api.children().find(|n| n.has_tag_name("testcase")).unwrap();
        assert_eq!(
            case.attribute("name"),
            Some("AUTH-KEY-HEADER: An API key is sent in the X-API-Key header")
        );
        assert_eq!(case.attribute("classname"), Some("lelantos.api-key"));
        assert_eq!(case.attribute("time"), Some("0.040"));

        let skipped: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("skipped"))
            .map(|n| n.attribute("message").unwrap())
            .collect();
        assert!(
            skipped
                .iter()
                .any(|m| m.starts_with("skipped: needs credential"))
        );
        assert!(skipped.iter().any(|m| m.starts_with("not_testable: ")));
        assert!(skipped.iter().any(|m| m.starts_with("inconclusive: ")));

        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("the 429 had no Retry-After header")
        );
        assert_eq!(failure.attribute("type"), Some("must"));
        let text = failure.text().unwrap();
        assert!(
            text.contains("GET http://127.0.0.1:43111/v1/sandboxes"),
            "{text}"
        );
        assert!(text.contains("x-api-key: lel_…a1b2"));
        assert!(text.contains("HTTP 429 Too Many Requests"));
        assert!(text.contains("{\"error\":\"rate limit exceeded\"}"));
        assert!(text.contains("--- exchange 2 ---"));
        let should = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .nth(1)
            .unwrap();
        assert_eq!(should.attribute("type"), Some("should"));
    }

    #[test]
    fn escapes_markup_and_strips_forbidden_controls() {
        let xml = render(&fixture::hostile());
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'));
        let doc = parse(&xml);
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        let expected = "<script>alert('x')</script> & \"quoted\" \u{FFFD}[31mred\u{FFFD} end";
        assert_eq!(failure.attribute("message"), Some(expected));
        assert!(failure.text().unwrap().contains(expected));
    }

    #[test]
    fn attributes_keep_newlines_and_tabs() {
        let xml = format!("<a v=\"{}\">{}</a>", attr("a\nb\tc\rd'"), body("x\r\ny"));
        let doc = parse(&xml);
        assert_eq!(doc.root_element().attribute("v"), Some("a\nb\tc\rd'"));
        assert_eq!(doc.root_element().text(), Some("x\r\ny"));
    }

    #[test]
    fn an_errored_run_adds_an_error_testcase() {
        let xml = render(&fixture::errored());
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(num(root, "tests"), 7);
        assert_eq!(num(root, "errors"), 1);
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(
            error.attribute("message"),
            Some("target unreachable: connection refused <127.0.0.1:43111>")
        );
        let suite = error.parent().unwrap().parent().unwrap();
        assert_eq!(suite.attribute("name"), Some("lelantos.run"));
        assert_eq!(num(suite, "errors"), 1);
    }
}
