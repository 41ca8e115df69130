//! `list clauses | scenarios | faults`: tables for people.

use tabled::settings::{Modify, Style, Width, object::Columns};
use tabled::{Table, Tabled};

use crate::spec::Spec;

#[derive(Tabled)]
struct ClauseRow<'a> {
    id: &'a str,
    level: &'a str,
    area: &'a str,
    title: &'a str,
    checked: String,
}

/// The spec's clauses as a table: id, level, area, title and how it is checked.
pub fn clauses(spec: &Spec) -> String {
    let rows = spec.clauses.iter().map(|c| ClauseRow {
        id: &c.id,
        level: c.level.as_str(),
        area: &c.area,
        title: &c.title,
        checked: match &c.not_testable {
            Some(_) => "not testable from outside".into(),
            None => "observed".into(),
        },
    });
    let mut table = Table::new(rows);
    table
        .with(Style::sharp())
        .with(Modify::new(Columns::one(3)).with(Width::wrap(60).keep_words(true)));
    table.to_string()
}

#[derive(Tabled)]
struct FaultRow {
    fault: &'static str,
    breaks: String,
    behaviour: &'static str,
}

/// The reference server's faults, each with the clauses it breaks.
pub fn faults() -> String {
    let rows = crate::reference::Fault::ALL.iter().map(|f| FaultRow {
        fault: f.name(),
        breaks: f.breaks().join(", "),
        behaviour: f.description(),
    });
    let mut table = Table::new(rows);
    table
        .with(Style::sharp())
        .with(Modify::new(Columns::one(2)).with(Width::wrap(70).keep_words(true)));
    table.to_string()
}

#[derive(Tabled)]
struct ScenarioRow {
    scenario: String,
    kind: &'static str,
    clauses: String,
}

/// The scenarios with their kind and the clauses each covers.
pub fn scenarios(loaded: &[crate::scenario::Loaded]) -> String {
    let rows = loaded.iter().map(|l| ScenarioRow {
        scenario: l.id.clone(),
        kind: l.scenario.kind_name(),
        clauses: l.scenario.clauses.join(", "),
    });
    let mut table = Table::new(rows);
    table
        .with(Style::sharp())
        .with(Modify::new(Columns::one(2)).with(Width::wrap(70).keep_words(true)));
    format!(
        "{table}\nThe built-in files are in the binary and work from any folder by name: \
         `run --scenarios builtin:api-keys`, `load --scenario load-burst` (a path to a file of \
         your own works too)."
    )
}
