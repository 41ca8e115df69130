//! The reports of an embedded `run`, a `load --scenario` and a `report merge`, compared with
//! fixtures committed before a restructuring, so a change of code that must not change what is
//! written is proven not to.
//!
//! `report merge` is deterministic given its parts (committed under `merge-parts/`): its files are
//! compared byte for byte. A run and a swarm depend on the clock (durations, counts, which racer
//! wins), so their files are compared by shape: every number is `#`, a fingerprint's last
//! characters are `FP`, an exchange's text, a chart's marks and a timing table's rows are left out, and a JSON array is
//! the set of its (shaped) members. Field names, clause ids, statuses, levels, titles, reasons'
//! words, sections and chart titles are all compared (report.html's lines as a set: scenarios
//! are listed in the order they finished).
//!
//! `LELANTOS_UPDATE_FIXTURES=1 cargo test --test it report_fixtures` rewrites the fixtures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::binary::{BIN, wait};

const FILES: [&str; 4] = [
    "compliance.json",
    "compliance.md",
    "junit.xml",
    "report.html",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports")
}

fn digits(text: &str) -> String {
    let fp = regex::Regex::new(r"(lel_|…)[A-Za-z0-9_-]{4}\b").unwrap();
    // The reference server's random resource ids.
    let id = regex::Regex::new(r"\b(sbx|key|team|usr|user)_[A-Za-z0-9]{10,}").unwrap();
    let num = regex::Regex::new(r"-?[0-9]+(\.[0-9]+)?").unwrap();
    // A duration is written in the unit that suits its size.
    let unit = regex::Regex::new(r"# (ns|µs|ms|s)\b").unwrap();
    let text = fp.replace_all(text, "${1}FP");
    let text = id.replace_all(&text, "${1}_ID").into_owned();
    let text = num.replace_all(&text, "#").into_owned();
    unit.replace_all(&text, "# t").into_owned()
}

fn shape_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(_) => Value::String("#".into()),
        // A serialized histogram.
        Value::String(s) if s.starts_with("HIST") => Value::String("…".into()),
        Value::String(s) => Value::String(digits(s)),
        Value::Array(a) => {
            let mut members: Vec<String> = a
                .iter()
                .map(|m| serde_json::to_string(&shape_json(m)).unwrap())
                .collect();
            members.sort();
            members.dedup();
            Value::Array(
                members
                    .iter()
                    .map(|m| serde_json::from_str(m).unwrap())
                    .collect(),
            )
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    // An exchange's headers and body are the server's (dates, random ids); the
                    // key names are kept.
                    let v = match k.as_str() {
                        // Which requests an exchange list holds depends on the clock (the
                        // racers' order, the windows' edges): their fields are compared.
                        "exchanges" => keys_of(v),
                        "histogram" | "overall_histogram" => Value::String("…".into()),
                        "response_headers" | "response_body" | "request_headers"
                        | "request_body" => Value::String("…".into()),
                        _ => shape_json(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The field names an array of objects' members have (but the optional `request_body`).
fn keys_of(v: &serde_json::Value) -> serde_json::Value {
    let mut keys: Vec<&String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_object())
        .flat_map(|m| m.keys())
        // Only a request with a body has one: which requests are shown depends on the clock.
        .filter(|k| *k != "request_body")
        .collect();
    keys.sort();
    keys.dedup();
    serde_json::json!(keys)
}

fn shape(name: &str, text: &str) -> String {
    if name.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        return serde_json::to_string_pretty(&shape_json(&v)).unwrap() + "\n";
    }
    let mut text = text.to_string();
    if name.ends_with(".html") {
        let pre = regex::Regex::new(r"(?s)(<pre[^>]*>).*?</pre>").unwrap();
        text = pre.replace_all(&text, "$1…</pre>").into_owned();
        let svg = regex::Regex::new(r#"(?s)<svg[^>]*aria-label="([^"]*)"[^>]*>.*?</svg>"#).unwrap();
        text = svg.replace_all(&text, "<svg \"$1\">…</svg>").into_owned();
        // The timing tables' rows are measurements (which class came out slower, which crops
        // had enough samples).
        let timing = regex::Regex::new(
            r#"(?s)(<table class="timing"><thead>.*?</thead>)<tbody>.*?</tbody>"#,
        )
        .unwrap();
        text = timing.replace_all(&text, "$1<tbody>…</tbody>").into_owned();
    }
    let mut lines: Vec<String> = digits(&text).lines().map(str::to_string).collect();
    if name.ends_with(".html") {
        // Scenarios are listed in the order they finished.
        lines.sort();
    }
    // A swarm's per-second rows and a run's repeated lines come in the clock's number.
    lines.dedup();
    lines.join("\n") + "\n"
}

/// Compares (or, when asked, rewrites) `dir`'s files with the fixture folder `name`.
fn compare(name: &str, dir: &Path, files: &[&str], shaped: bool) {
    let update = std::env::var_os("LELANTOS_UPDATE_FIXTURES").is_some();
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
        let (got, fixture) = if shaped {
            (
                shape(file, &text),
                fixtures().join(name).join(format!("{file}.shape")),
            )
        } else {
            (text, fixtures().join(name).join(file))
        };
        if update {
            std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
            std::fs::write(&fixture, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&fixture)
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        if got != want {
            let at = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            problems.push(format!(
                "{name}/{file} differs from {} at line {}:\n  got:  {}\n  want: {}",
                fixture.display(),
                at + 1,
                got.lines().nth(at).unwrap_or("<end>"),
                want.lines().nth(at).unwrap_or("<end>"),
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn conform(args: &[&str], report_dir: &Path) {
    let out = wait(
        std::process::Command::new(BIN)
            .args(args)
            .arg("--report-dir")
            .arg(report_dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.code,
        Some(0),
        "{args:?}: {}\n{}",
        out.stderr,
        out.stdout
    );
}

#[test]
fn the_embedded_runs_reports_keep_their_shape() {
    let dir = tempfile::tempdir().unwrap();
    conform(&["run", "--quiet", "--seed", "7"], dir.path());
    compare("run", dir.path(), &FILES, true);
}

#[test]
fn a_load_scenarios_reports_keep_their_shape() {
    let dir = tempfile::tempdir().unwrap();
    conform(&["load", "--quiet", "--scenario", "load-burst"], dir.path());
    let mut files = FILES.to_vec();
    files.push("load.json");
    compare("load", dir.path(), &files, true);
}

#[test]
fn a_merges_reports_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let parts = fixtures().join("merge-parts");
    let out = wait(
        std::process::Command::new(BIN)
            .args(["report", "merge"])
            .arg(parts.join("part0"))
            .arg(parts.join("part1"))
            .arg("--report-dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "merge: {}\n{}", out.stderr, out.stdout);
    let mut files = FILES.to_vec();
    files.push("load.json");
    compare("merge", dir.path(), &files, false);
}
