//! `load` against the embedded reference server: the rl-race fault is caught as over-admission,
//! rl-no-retry-after is caught under load, and the faultless server passes under every limiter.
//! Swarms are short (about a second each) so the suite stays cheap on a shared machine.

mod common_cli;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common_cli::{BIN, Output, wait};

fn load(dir: &Path, scenario: &str, extra: &[&str]) -> Output {
    let child = Command::new(BIN)
        .arg("load")
        .arg("--quiet")
        .arg("--scenario")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(scenario))
        .arg("--report-dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait(child, Duration::from_secs(90))
}

fn clause(dir: &Path, id: &str) -> String {
    let text = std::fs::read_to_string(dir.join("compliance.json")).expect("compliance.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["clauses"]
        .as_array()
        .expect("clauses")
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| "absent".into())
}

fn load_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("load.json")).expect("load.json"))
        .expect("json")
}

#[test]
fn rl_race_is_caught_as_over_admission() {
    let dir = tempfile::tempdir().unwrap();
    let out = load(
        dir.path(),
        "scenarios/load-burst.yaml",
        &["--fault", "rl-race", "--users", "20", "--duration", "1s"],
    );
    assert_eq!(
        out.code,
        Some(1),
        "stderr: {}\nstdout: {}",
        out.stderr,
        out.stdout
    );
    assert_eq!(clause(dir.path(), "RL-GENERAL-LIMIT"), "fail");
    let report = load_json(dir.path());
    let over: u64 = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["over_admitted"].as_u64().unwrap())
        .sum();
    assert!(over > 0, "{report}");
    for f in [
        "report.html",
        "junit.xml",
        "compliance.md",
        "goose-report.html",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
}

#[test]
fn rl_no_retry_after_is_caught_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let out = load(
        dir.path(),
        "scenarios/load-burst.yaml",
        &[
            "--fault",
            "rl-no-retry-after",
            "--users",
            "10",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(
        out.code,
        Some(1),
        "stderr: {}\nstdout: {}",
        out.stderr,
        out.stdout
    );
    assert_eq!(clause(dir.path(), "RL-429-RETRY-AFTER"), "fail");
    let report = load_json(dir.path());
    // Every 429 is checked, not a sample.
    assert_eq!(
        report["checks"]["retry_after_invalid"],
        report["checks"]["refusals"]
    );
    assert_eq!(report["statuses"]["429"], report["checks"]["refusals"]);
}

#[test]
fn faultless_server_passes_under_every_limiter() {
    for limiter in ["fixed", "sliding", "bucket", "gcra"] {
        let dir = tempfile::tempdir().unwrap();
        let out = load(
            dir.path(),
            "scenarios/load-burst.yaml",
            &["--limiter", limiter, "--users", "10", "--duration", "1s"],
        );
        assert_eq!(
            out.code,
            Some(0),
            "{limiter}: stderr: {}\nstdout: {}",
            out.stderr,
            out.stdout
        );
        assert_eq!(clause(dir.path(), "RL-GENERAL-LIMIT"), "pass", "{limiter}");
        let report = load_json(dir.path());
        let refusals = report["checks"]["refusals"].as_u64().unwrap();
        assert!(refusals > 0, "{limiter}: the swarm never reached the limit");
    }
}

#[test]
fn faultless_mixed_categories_and_identities_pass() {
    for scenario in [
        "scenarios/load-mixed.yaml",
        "scenarios/load-identities.yaml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = load(dir.path(), scenario, &["--duration", "2s"]);
        assert_eq!(
            out.code,
            Some(0),
            "{scenario}: stderr: {}\nstdout: {}",
            out.stderr,
            out.stdout
        );
    }
}

#[test]
fn reusable_refresh_tokens_are_caught_under_the_storm() {
    let dir = tempfile::tempdir().unwrap();
    let out = load(
        dir.path(),
        "scenarios/load-refresh-storm.yaml",
        &[
            "--fault",
            "refresh-reusable",
            "--users",
            "10",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(
        out.code,
        Some(1),
        "stderr: {}\nstdout: {}",
        out.stderr,
        out.stdout
    );
    assert_eq!(clause(dir.path(), "AUTH-REFRESH-SINGLE-USE"), "fail");
}
