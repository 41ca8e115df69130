//! What a run prints on stdout: the verdict line first, then the clauses that need a reader
//! (failing must clauses, should warnings, undecided clauses), each as a one-line headline
//! with at most two lines of detail; passing clauses are counted by area. `--verbose` adds the
//! table of every clause, fitted to the width. Every line fits the width (the terminal's, or
//! 100 columns when stdout is not one). Colour is optional and follows the NO_COLOR and
//! CLICOLOR conventions (`color_enabled`).

use std::ffi::OsString;

use tabled::builder::Builder;
use tabled::settings::object::{Columns, Rows};
use tabled::settings::style::HorizontalLine;
use tabled::settings::themes::Theme;
use tabled::settings::{Modify, Span, Style, Width};

use crate::spec::Level;
use crate::verdict::{ClauseVerdict, RunVerdict, Status};

use super::{RunReport, text};

/// The width when stdout is not a terminal.
pub const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, lines are still cut to fit; the layout does not get narrower.
const MIN_WIDTH: usize = 40;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// How to print: colour, the width every line fits, and whether to list every clause.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub color: bool,
    pub width: usize,
    pub verbose: bool,
}

impl Options {
    /// Plain text at the default width, headlines only.
    pub fn plain() -> Self {
        Options {
            color: false,
            width: DEFAULT_WIDTH,
            verbose: false,
        }
    }
}

/// The width of stdout when it is a terminal, else [`DEFAULT_WIDTH`].
pub fn width(is_terminal: bool) -> usize {
    if !is_terminal {
        return DEFAULT_WIDTH;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0))
}

/// `text` wrapped to stderr's width (a terminal's, else [`DEFAULT_WIDTH`]), continued lines
/// indented: for what a run says on stderr before its verdict.
pub fn for_stderr(text: &str) -> String {
    use std::io::IsTerminal;
    let width = if std::io::stderr().is_terminal() {
        terminal_size::terminal_size_of(std::io::stderr())
            .map_or(DEFAULT_WIDTH, |(w, _)| usize::from(w.0))
    } else {
        DEFAULT_WIDTH
    };
    textwrap::fill(
        text,
        textwrap::Options::new(width.max(MIN_WIDTH)).subsequent_indent("  "),
    )
}

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

/// `text` wrapped at `width`, at most `lines` lines; a cut is marked with `…`.
fn wrap_lines(text: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = textwrap::wrap(text, width.max(10))
        .into_iter()
        .map(|l| l.into_owned())
        .collect();
    if out.len() > lines {
        out.truncate(lines);
        if let Some(last) = out.last_mut() {
            let keep: String = last.chars().take(width.saturating_sub(2)).collect();
            *last = format!("{} …", keep.trim_end());
        }
    }
    out
}

/// One clause as a reader meets it: `  RL-GENERAL-LIMIT  headline`, wrapped under itself,
/// then at most two dim lines of detail.
fn clause_lines(c: &ClauseVerdict, o: &Options, out: &mut Vec<String>) {
    let reason = clean(&c.reason);
    let (head, rest) = text::headline(&reason);
    let lead = format!("  {}  ", clean(&c.id));
    let indent = "      ";
    let first_width = o.width.saturating_sub(lead.chars().count());
    let mut head_lines = wrap_lines(head, first_width.max(20), 2).into_iter();
    let first = head_lines.next().unwrap_or_default();
    out.push(format!(
        "{}{first}",
        paint(&lead, status_style(c.status), o.color)
    ));
    for l in head_lines {
        out.push(format!("{indent}{l}"));
    }
    if !rest.is_empty() {
        for l in wrap_lines(rest, o.width.saturating_sub(indent.len()), 2) {
            out.push(paint(&format!("{indent}{l}"), DIM, o.color));
        }
    }
}

pub fn render(report: &RunReport, o: &Options) -> String {
    let o = Options {
        width: o.width.max(MIN_WIDTH),
        ..*o
    };
    let mut lines = Vec::new();
    let verdict = match report.verdict {
        RunVerdict::Pass => paint("PASS", GREEN, o.color),
        RunVerdict::Fail => paint("FAIL", RED, o.color),
        RunVerdict::Error => paint("ERROR", RED, o.color),
    };
    // The counts that are not zero (must failures always): short enough for one line.
    let all = text::counts(report);
    let counts: Vec<&str> = all
        .split(", ")
        .enumerate()
        .filter(|(i, c)| *i == 0 || !c.starts_with("0 "))
        .map(|(_, c)| c)
        .collect();
    let line = format!(
        "verdict: {verdict}  {}  ({})",
        counts.join(", "),
        text::duration(report.duration_ms).replace(' ', "\u{a0}")
    );
    lines.extend(
        textwrap::wrap(
            &line,
            textwrap::Options::new(o.width).subsequent_indent("  "),
        )
        .into_iter()
        .map(|l| l.into_owned()),
    );
    for note in text::gate_notes(report) {
        lines.extend(
            wrap_lines(&clean(&note), o.width - 2, 3)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
    }
    if let Some(error) = &report.error {
        lines.extend(wrap_lines(&format!("error: {}", clean(error)), o.width, 4));
    }
    if let Some(load) = &report.load {
        for (i, l) in text::load_lines(load).iter().enumerate() {
            let indent = if i == 0 { "" } else { "  " };
            lines.extend(
                wrap_lines(&clean(l), o.width - indent.len(), 3)
                    .into_iter()
                    .map(|w| format!("{indent}{w}")),
            );
        }
    }
    let section = |title: String, list: Vec<&ClauseVerdict>, lines: &mut Vec<String>| {
        if list.is_empty() {
            return;
        }
        lines.push(paint(&title, BOLD, o.color));
        for c in list {
            clause_lines(c, &o, lines);
        }
    };
    let of = |pred: &dyn Fn(&ClauseVerdict) -> bool| -> Vec<&ClauseVerdict> {
        report.clauses.iter().filter(|c| pred(c)).collect()
    };
    let must = of(&|c| c.status == Status::Fail && c.level == Level::Must);
    section(
        format!("failing must clauses ({})", must.len()),
        must,
        &mut lines,
    );
    let should = of(&|c| c.status == Status::Fail && c.level == Level::Should);
    section(
        format!("should warnings ({})", should.len()),
        should,
        &mut lines,
    );
    let undecided = of(&|c| matches!(c.status, Status::Inconclusive | Status::Skipped));
    section(
        format!("undecided ({})", undecided.len()),
        undecided,
        &mut lines,
    );
    let untestable = of(&|c| c.status == Status::NotTestable);
    if !untestable.is_empty() {
        let ids: Vec<String> = untestable.iter().map(|c| clean(&c.id)).collect();
        let text = format!(
            "not testable over the API ({}): {}",
            untestable.len(),
            ids.join(", ")
        );
        lines.extend(wrap_lines(&text, o.width, 2));
    }
    let mut passing: Vec<(String, usize)> = Vec::new();
    for c in report.clauses.iter().filter(|c| c.status == Status::Pass) {
        match passing.iter_mut().find(|(a, _)| *a == c.area) {
            Some((_, n)) => *n += 1,
            None => passing.push((c.area.clone(), 1)),
        }
    }
    if !passing.is_empty() {
        let total: usize = passing.iter().map(|(_, n)| n).sum();
        let by_area: Vec<String> = passing
            .iter()
            .map(|(a, n)| format!("{}\u{a0}{n}", clean(a)))
            .collect();
        let text = format!("passing ({total}): {}", by_area.join(", "));
        lines.extend(wrap_lines(&text, o.width, 3));
    }
    if o.verbose {
        if !report.clauses.is_empty() {
            lines.push(String::new());
            lines.extend(table(report, &o).lines().map(str::to_string));
        }
    } else if !report.clauses.is_empty() {
        lines.push(paint(
            "(-v lists every clause; the reports hold each reason in full)",
            DIM,
            o.color,
        ));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Every clause as a table grouped by area (failing first), fitted to the width: narrower
/// than 110 columns, the level and title columns give way to the reason.
fn table(report: &RunReport, o: &Options) -> String {
    let wide = o.width >= 110;
    let mut builder = Builder::default();
    let header: Vec<&str> = if wide {
        vec!["clause", "level", "status", "title", "reason"]
    } else {
        vec!["clause", "status", "reason"]
    };
    builder.push_record(header.clone());
    let columns = header.len();
    // Rows that hold an area's name, spanning the whole table.
    let mut area_rows = Vec::new();
    for (area, clauses) in text::groups(report) {
        area_rows.push(builder.count_records());
        let mut row = vec![paint(&clean(&area), BOLD, o.color)];
        row.resize(columns, String::new());
        builder.push_record(row);
        for c in clauses {
            let status = paint(c.status.as_str(), status_style(c.status), o.color);
            let (head, _) = text::headline(&c.reason);
            let reason = clean(head);
            builder.push_record(if wide {
                vec![
                    clean(&c.id),
                    c.level.as_str().to_string(),
                    status,
                    clean(&c.title),
                    reason,
                ]
            } else {
                vec![clean(&c.id), status, reason]
            });
        }
    }
    let mut table = builder.build();
    // Lines around every area row, so each area reads as a block under its name.
    let mut theme = Theme::from_style(Style::sharp());
    for &row in &area_rows {
        theme.insert_horizontal_line(row, HorizontalLine::full('─', '┴', '├', '┤'));
        theme.insert_horizontal_line(row + 1, HorizontalLine::full('─', '┬', '├', '┤'));
    }
    // Borders and padding: three columns per cell boundary.
    let id_width = report
        .clauses
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let status_width = 12;
    let fixed = 1 + columns * 3 + id_width + status_width;
    table.with(theme);
    if wide {
        let free = o.width.saturating_sub(fixed + 6);
        let title = (free / 3).max(12);
        let reason = free.saturating_sub(title).max(16);
        table
            .with(Modify::new(Columns::one(3)).with(Width::wrap(title).keep_words(true)))
            .with(Modify::new(Columns::one(4)).with(Width::wrap(reason).keep_words(true)));
    } else {
        let reason = o.width.saturating_sub(fixed).max(16);
        table.with(Modify::new(Columns::one(2)).with(Width::wrap(reason).keep_words(true)));
    }
    for row in area_rows {
        table.modify((row, 0), Span::column(columns as isize));
    }
    if o.color {
        table.modify(Rows::first(), tabled::settings::Color::BOLD);
    }
    table.to_string()
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

    fn opts(width: usize, verbose: bool) -> Options {
        Options {
            color: false,
            width,
            verbose,
        }
    }

    fn assert_fits(out: &str, width: usize) {
        for line in out.lines() {
            let n = strip_ansi(line).chars().count();
            assert!(n <= width, "{n} > {width}: {line:?}\n{out}");
        }
    }

    #[test]
    fn the_verdict_comes_first_then_what_needs_a_reader() {
        let r = fixture::report();
        let out = render(&r, &opts(80, false));
        assert!(!out.contains('\x1b'), "{out}");
        assert_fits(&out, 80);
        assert!(
            out.starts_with("verdict: FAIL  1 must fail, 1 should warn, 1 pass"),
            "{out}"
        );
        let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s}\n{out}"));
        assert!(at("failing must clauses (1)") < at("  RL-429-RETRY-AFTER  "));
        assert!(at("  RL-429-RETRY-AFTER  ") < at("should warnings (1)"));
        assert!(at("should warnings (1)") < at("undecided (2)"));
        assert!(at("undecided (2)") < at("not testable over the API (1): AUTH-KEY-HASHED"));
        assert!(out.contains("passing (1): api-key\u{a0}1"), "{out}");
        // A passing clause is counted, not listed.
        assert!(!out.contains("AUTH-KEY-HEADER"), "{out}");
        assert!(out.contains("-v lists every clause"), "{out}");
        let g = r.gate;
        assert!(
            out.contains(&format!("failed by: {}", g.failed_by.join(", "))),
            "{out}"
        );
    }

    #[test]
    fn a_reason_is_a_headline_and_at_most_two_lines_of_detail() {
        let mut r = fixture::report();
        let i = r
            .clauses
            .iter()
            .position(|c| c.status == Status::Fail)
            .unwrap();
        r.clauses[i].reason = format!(
            "general: over-admission: 101 admitted where at most 100 are allowed in 14 ms from fresh, as a created key ({})",
            "every reading: token bucket or GCRA 100 + 0 refilled in 14 ms; ".repeat(6)
        );
        let out = render(&r, &opts(80, false));
        assert_fits(&out, 80);
        let lines: Vec<&str> = out.lines().collect();
        let k = lines
            .iter()
            .position(|l| l.starts_with(&format!("  {}  ", r.clauses[i].id)))
            .unwrap();
        assert!(
            lines[k].contains("general: over-admission: 101 admitted"),
            "{out}"
        );
        // Headline (wrapped at most once), then at most two lines of detail, cut with `…`.
        let detail: Vec<&&str> = lines[k + 1..]
            .iter()
            .take_while(|l| l.starts_with("      "))
            .collect();
        assert!(detail.len() <= 4, "{out}");
        assert!(detail.last().unwrap().ends_with('…'), "{out}");
        assert!(out.matches("every reading").count() <= 2, "{out}");
        assert_eq!(
            text::headline(
                "general: 101 admitted where at most 100 are allowed (every reading: x)"
            ),
            (
                "general: 101 admitted where at most 100 are allowed",
                "(every reading: x)"
            )
        );
        assert_eq!(text::headline("short (x)"), ("short (x)", ""));
    }

    #[test]
    fn verbose_adds_every_clause_in_a_table_that_fits() {
        for width in [80, 100, 140] {
            let out = render(&fixture::report(), &opts(width, true));
            assert_fits(&out, width);
            for needle in ["AUTH-KEY-HEADER", "AUTH-KEY-HASHED", "│ api-key"] {
                assert!(out.contains(needle), "{width}: {needle}\n{out}");
            }
            assert!(out.starts_with("verdict: FAIL"), "{out}");
            assert_eq!(out.contains("│ level"), width >= 110, "{out}");
        }
    }

    #[test]
    fn a_pass_with_an_undecided_must_clause_is_never_a_bare_pass() {
        let mut r = fixture::report();
        for c in r.clauses.iter_mut().filter(|c| c.status == Status::Fail) {
            c.status = Status::Pass;
        }
        let (verdict, gate) = crate::gate::FailOn::default().verdict(&r.clauses, false);
        (r.verdict, r.gate) = (verdict, gate);
        let out = render(&r, &opts(100, false));
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
    fn coloured_output_still_fits() {
        let o = Options {
            color: true,
            width: 80,
            verbose: true,
        };
        let out = render(&fixture::report(), &o);
        assert!(out.contains("\x1b[32mpass\x1b[0m"));
        assert!(out.contains("\x1b[31mfail\x1b[0m"));
        assert!(out.contains("\x1b[33minconclusive\x1b[0m"));
        assert!(out.contains("verdict: \x1b[31mFAIL\x1b[0m  1 must fail, 1 should warn, 1 pass"));
        assert_fits(&out, 80);
    }

    #[test]
    fn controls_are_neutralised() {
        let r = fixture::hostile();
        let out = render(&r, &opts(100, true));
        assert!(!out.contains('\x1b') && !out.contains('\0'));
        assert!(out.contains("\u{FFFD}[31mred"));
        let out = render(&fixture::errored(), &opts(100, false));
        assert!(out.contains("verdict: ERROR"));
        assert!(out.contains("error: target unreachable: connection refused <127.0.0.1:43111>\n"));
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
