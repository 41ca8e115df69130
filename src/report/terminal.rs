//! The table printed after every run: the clauses grouped by area (id, level, status, title,
//! reason), then one summary line. Colour is optional and follows the NO_COLOR and CLICOLOR
//! conventions (`color_enabled`).

use std::ffi::OsString;

use tabled::builder::Builder;
use tabled::settings::object::{Columns, Rows};
use tabled::settings::style::HorizontalLine;
use tabled::settings::themes::Theme;
use tabled::settings::{Modify, Span, Style, Width};

use crate::verdict::{RunVerdict, Status};

use super::{RunReport, text};

/// Column widths the title and reason wrap at: the table stays about 130 columns wide.
const TITLE_WIDTH: usize = 28;
const REASON_WIDTH: usize = 40;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(text: &str, style: &str, color: bool) -> String {
    if color {
        format!("{style}{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn status_style(status: Status) -> &'static str {
    match status {
        Status::Pass => GREEN,
        Status::Fail => RED,
        Status::Skipped | Status::NotTestable => DIM,
        Status::Inconclusive => YELLOW,
    }
}

/// Text from the report may hold control characters (a reason quoting a response): they would
/// drive the terminal, so they are shown as U+FFFD.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

pub fn render(report: &RunReport, color: bool) -> String {
    let mut builder = Builder::default();
    builder.push_record(["clause", "level", "status", "title", "reason"]);
    // Rows that hold an area's name, spanning the whole table.
    let mut area_rows = Vec::new();
    for (area, clauses) in text::groups(report) {
        area_rows.push(builder.count_records());
        builder.push_record([
            paint(&clean(&area), BOLD, color),
            "".into(),
            "".into(),
            "".into(),
            "".into(),
        ]);
        for c in clauses {
            builder.push_record([
                clean(&c.id),
                c.level.as_str().to_string(),
                paint(c.status.as_str(), status_style(c.status), color),
                clean(&c.title),
                clean(&c.reason),
            ]);
        }
    }
    let mut table = builder.build();
    // Lines around every area row, so each area reads as a block under its name.
    let mut theme = Theme::from_style(Style::sharp());
    for &row in &area_rows {
        theme.insert_horizontal_line(row, HorizontalLine::full('─', '┴', '├', '┤'));
        theme.insert_horizontal_line(row + 1, HorizontalLine::full('─', '┬', '├', '┤'));
    }
    table
        .with(theme)
        .with(Modify::new(Columns::one(3)).with(Width::wrap(TITLE_WIDTH).keep_words(true)))
        .with(Modify::new(Columns::one(4)).with(Width::wrap(REASON_WIDTH).keep_words(true)));
    for row in area_rows {
        table.modify((row, 0), Span::column(5));
    }
    if color {
        table.modify(Rows::first(), tabled::settings::Color::BOLD);
    }

    let verdict = match report.verdict {
        RunVerdict::Pass => paint("PASS", GREEN, color),
        RunVerdict::Fail => paint("FAIL", RED, color),
        RunVerdict::Error => paint("ERROR", RED, color),
    };
    let mut out = if report.clauses.is_empty() {
        String::new()
    } else {
        format!("{table}\n")
    };
    out.push_str(&format!(
        "verdict: {verdict}  {}  ({})\n",
        text::counts(report),
        text::duration(report.duration_ms)
    ));
    for note in text::gate_notes(report) {
        out.push_str(&format!("  {}\n", clean(&note)));
    }
    if let Some(error) = &report.error {
        out.push_str(&format!("error: {}\n", clean(error)));
    }
    out
}

/// Whether to colour output: never when `NO_COLOR` is set to anything non-empty
/// (https://no-color.org); always when `CLICOLOR_FORCE` is set and not `0`; otherwise on a
/// terminal, unless `CLICOLOR=0` or `TERM=dumb`.
pub fn color_enabled(is_terminal: bool) -> bool {
    color_enabled_with(is_terminal, |name| std::env::var_os(name))
}

fn color_enabled_with(is_terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if set("CLICOLOR").is_some_and(|v| v == "0") || set("TERM").is_some_and(|v| v == "dumb") {
        return false;
    }
    is_terminal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn assert_aligned(table: &str) {
        let lines: Vec<&str> = table
            .lines()
            .filter(|l| !l.starts_with("verdict:") && !l.starts_with("  "))
            .collect();
        let width = lines[0].chars().count();
        for line in &lines {
            assert_eq!(strip_ansi(line).chars().count(), width, "{line:?}\n{table}");
        }
        assert!(width <= 140, "{width}");
    }

    #[test]
    fn plain_table_grouped_by_area_then_the_summary() {
        let out = render(&fixture::report(), false);
        assert!(!out.contains('\x1b'), "{out}");
        assert_aligned(&out);
        for needle in [
            "│ clause",
            "│ api-key ",
            "│ failing must clauses (1) ",
            "│ should-level warnings (1) ",
            "│ AUTH-KEY-HEADER ",
            "│ not_testable │",
            "│ inconclusive │",
        ] {
            assert!(out.contains(needle), "{needle}\n{out}");
        }
        // Failing must clauses first, then should-level warnings, then areas in the spec's
        // order, each before its clauses.
        let at = |s: &str| out.find(s).unwrap();
        assert!(
            at("│ failing must clauses") < at("RL-429-RETRY-AFTER")
                && at("RL-429-RETRY-AFTER") < at("│ should-level warnings")
                && at("│ should-level warnings") < at("│ api-key ")
                && at("│ api-key ") < at("AUTH-KEY-HEADER")
                && at("AUTH-KEY-HASHED") < at("│ admin-token ")
        );
        let g = fixture::report().gate;
        let skipped = g
            .skipped_note()
            .map(|n| format!("  {n}\n"))
            .unwrap_or_default();
        assert!(out.ends_with(&format!(
            "verdict: FAIL  1 must fail, 1 should warn, 1 pass, 1 skipped, 1 not testable, 1 inconclusive  (5.2 s)\n  1 must clause undecided: {}\n{skipped}  failed by: {}\n",
            g.must_undecided.join(", "),
            g.failed_by.join(", ")
        )), "{out}");
    }

    #[test]
    fn a_pass_with_an_undecided_must_clause_is_never_a_bare_pass() {
        let mut r = fixture::report();
        for c in r.clauses.iter_mut().filter(|c| c.status == Status::Fail) {
            c.status = Status::Pass;
        }
        let (verdict, gate) = crate::gate::FailOn::default().verdict(&r.clauses, false);
        (r.verdict, r.gate) = (verdict, gate);
        let out = render(&r, false);
        assert!(out.contains("verdict: PASS "), "{out}");
        assert!(out.contains("1 must clause undecided: "), "{out}");
        let md = crate::report::markdown::render(&r);
        assert!(md.contains("1 must clause undecided: "), "{md}");
        let html = crate::report::html::render(&r);
        assert!(html.contains("1 must clause undecided: "), "{html}");
        let junit = crate::report::junit::render(&r);
        assert!(junit.contains("name=\"must_undecided\""), "{junit}");
        let json: serde_json::Value =
            serde_json::from_str(&crate::report::json::render(&r)).unwrap();
        assert_eq!(json["gate"]["must_undecided"].as_array().unwrap().len(), 1);
        assert_eq!(json["verdict"], "pass");
    }

    #[test]
    fn coloured_statuses_keep_the_table_aligned() {
        let out = render(&fixture::report(), true);
        assert!(out.contains("\x1b[32mpass\x1b[0m"));
        assert!(out.contains("\x1b[31mfail\x1b[0m"));
        assert!(out.contains("\x1b[2mskipped\x1b[0m"));
        assert!(out.contains("\x1b[2mnot_testable\x1b[0m"));
        assert!(out.contains("\x1b[33minconclusive\x1b[0m"));
        assert!(out.contains("verdict: \x1b[31mFAIL\x1b[0m  1 must fail, 1 should warn, 1 pass"));
        assert_aligned(&out);
    }

    #[test]
    fn long_reasons_wrap_and_controls_are_neutralised() {
        let mut r = fixture::hostile();
        r.clauses[0].reason = "word ".repeat(40);
        let out = render(&r, false);
        assert!(!out.contains('\x1b') && !out.contains('\0'));
        assert!(out.contains("\u{FFFD}[31mred"));
        assert_aligned(&out);
        let out = render(&fixture::errored(), false);
        assert!(out.contains("verdict: ERROR"));
        assert!(out.ends_with("error: target unreachable: connection refused <127.0.0.1:43111>\n"));
    }

    #[test]
    fn colour_follows_no_color_and_clicolor_force() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert!(color_enabled_with(true, env(&[])));
        assert!(!color_enabled_with(false, env(&[])));
        assert!(!color_enabled_with(true, env(&[("NO_COLOR", "1")])));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(color_enabled_with(true, env(&[("NO_COLOR", "")])));
        assert!(!color_enabled_with(
            true,
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])
        ));
        assert!(color_enabled_with(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!color_enabled_with(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(!color_enabled_with(true, env(&[("CLICOLOR", "0")])));
        assert!(!color_enabled_with(true, env(&[("TERM", "dumb")])));
        assert!(color_enabled_with(
            true,
            env(&[("TERM", "dumb"), ("CLICOLOR_FORCE", "1")])
        ));
    }
}
