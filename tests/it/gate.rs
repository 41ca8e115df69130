//! A gate never passes by not looking: credentials the profile declares but the harness cannot
//! read, or a `--target` with no credential at all, are exit 2 before any request; an undecided
//! `must` clause is never a bare PASS; `--fail-on` chooses what fails the gate and every report
//! records it.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{BIN, Output, Watched, conform, wait};

/// Every LELANTOS_* variable a `--target` run reads.
const VARS: &[&str] = &[
    "LELANTOS_API_KEY",
    "LELANTOS_API_KEY_OTHER_TEAM",
    "LELANTOS_API_KEY_REVOKED",
    "LELANTOS_EMAIL",
    "LELANTOS_PASSWORD",
    "LELANTOS_ADMIN_TOKEN",
    "LELANTOS_JWT_SECRET",
    "LELANTOS_OTHER_TEAM_SANDBOX",
];

/// Runs the binary with none of the LELANTOS_* variables set, plus `env`.
fn conform_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    wait(
        cmd.spawn().expect("the binary starts"),
        Duration::from_secs(120),
    )
}

fn json(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("compliance.json")).expect("compliance.json");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn a_target_without_any_credential_is_a_usage_error_before_any_request() {
    let watched = Watched::new();
    let out = conform_env(&["run", "--target", &watched.url, "--quiet"], &[]);
    out.assert_code(2, "");
    assert!(
        out.stderr
            .contains("no credential is set, so there is nothing to check"),
        "{}",
        out.stderr
    );
    for v in VARS {
        assert!(out.stderr.contains(v), "{v} not listed: {}", out.stderr);
    }
    assert_eq!(watched.connections(), 0, "a request was sent");
}

#[test]
fn declared_credentials_that_cannot_be_read_are_profile_errors_naming_the_source() {
    let watched = Watched::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("creds.json"),
        r#"{"api_key": "lel_thisisasecretvaluenottoprint", "email": ""}"#,
    )
    .unwrap();
    let profile = dir.path().join("p.yaml");
    std::fs::write(
        &profile,
        format!(
            "base_url: {}\ncredentials:\n  api_key: {{file: creds.json, pointer: /api_key}}\n  admin_token: {{env: LC_GATE_TEST_UNSET}}\n  jwt_secret: {{env: LC_GATE_TEST_EMPTY}}\n  email: {{file: creds.json, pointer: /email}}\n  password: {{file: creds.json, pointer: /password}}\n  other_team_sandbox: {{file: missing.txt}}\n",
            watched.url
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = conform_env(
        &[
            "run",
            "--profile",
            profile.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[("LC_GATE_TEST_EMPTY", "")],
    );
    out.assert_code(2, "");
    for needle in [
        "p.yaml:4:3: credential `admin_token`: environment variable LC_GATE_TEST_UNSET is not set",
        "p.yaml:5:3: credential `jwt_secret`: environment variable LC_GATE_TEST_EMPTY is empty",
        "credential `email`: /email in file",
        "credential `password`: /password is absent from",
        "credential `other_team_sandbox`: cannot read",
    ] {
        assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("thisisasecretvalue"), "{}", out.stderr);
    assert_eq!(watched.connections(), 0, "a request was sent");
    assert!(
        !reports.exists(),
        "a report was written for a profile error"
    );
}

#[test]
fn fail_on_decides_what_fails_the_gate_and_every_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A lenient base64url decoder: only the should clause AUTH-TOKEN-STRICT-ENCODING fails.
    let run = |name: &str, fail_on: Option<&str>| {
        let d = dir.path().join(name);
        let mut args = vec![
            "run",
            "--fault",
            "token-lenient-base64",
            "--only",
            "AUTH-TOKEN-*",
            "--seed",
            "5",
            "--quiet",
            "--report-dir",
            d.to_str().unwrap(),
        ];
        if let Some(f) = fail_on {
            args.extend(["--fail-on", f]);
        }
        let out = conform_env(&args, &[]);
        (out, json(&d), d)
    };
    let (out, report, _) = run("default", None);
    out.assert_code(0, "a should failure does not fail the default gate\n");
    let strict = report["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "AUTH-TOKEN-STRICT-ENCODING")
        .unwrap();
    assert_eq!(strict["status"], "fail");
    // The must-level signature family sends forgeries only: a lenient decoder passes it.
    let bad_sig = report["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "AUTH-TOKEN-BAD-SIGNATURE")
        .unwrap();
    assert_eq!(bad_sig["status"], "pass", "{bad_sig}");
    assert_eq!(report["gate"]["fail_on"], serde_json::json!(["must"]));
    assert_eq!(report["gate"]["failed_by"], serde_json::json!([]));

    for policy in ["should", "must,AUTH-TOKEN-STRICT-*"] {
        let (out, report, d) = run(&policy.replace([',', '*'], "_"), Some(policy));
        out.assert_code(1, &format!("--fail-on {policy}\n"));
        assert_eq!(report["verdict"], "fail");
        assert_eq!(
            report["gate"]["failed_by"],
            serde_json::json!(["AUTH-TOKEN-STRICT-ENCODING"])
        );
        assert!(
            out.stdout.contains("failed by: AUTH-TOKEN-STRICT-ENCODING"),
            "{}",
            out.stdout
        );
        let md = std::fs::read_to_string(d.join("compliance.md")).unwrap();
        assert!(md.contains("failed by: AUTH-TOKEN-STRICT-ENCODING"), "{md}");
        let junit = std::fs::read_to_string(d.join("junit.xml")).unwrap();
        assert!(junit.contains("name=\"fail_on\" value=\"must,"), "{junit}");
    }
}

#[test]
fn an_unknown_fail_on_word_is_a_usage_error() {
    let watched = Watched::new();
    let out = conform_env(
        &[
            "run",
            "--target",
            &watched.url,
            "--fail-on",
            "must,inconclusiv",
        ],
        &[("LELANTOS_API_KEY", "lel_x")],
    );
    out.assert_code(2, "");
    assert!(
        out.stderr.contains("did you mean `inconclusive`"),
        "{}",
        out.stderr
    );
    assert_eq!(watched.connections(), 0);
    let out = conform(&["report", "merge", "/nonexistent", "--fail-on", "RL-NOPE-*"]);
    out.assert_code(2, "");
    assert!(out.stderr.contains("RL-NOPE-*"), "{}", out.stderr);
}

#[test]
fn an_undecided_must_clause_is_never_a_bare_pass() {
    let dir = tempfile::tempdir().unwrap();
    // A sampling budget no measurement fits in: the timing clause (must) stays undecided.
    let d = dir.path().join("t");
    let args = [
        "timing",
        "--samples",
        "200",
        "--budget",
        "1ms",
        "--quiet",
        "--report-dir",
        d.to_str().unwrap(),
    ];
    let out = conform_env(&args, &[]);
    out.assert_code(0, "");
    assert!(
        out.stdout
            .contains("1 must clause undecided: AUTH-ADMIN-CONSTANT-TIME"),
        "{}",
        out.stdout
    );
    let report = json(&d);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(
        report["gate"]["must_undecided"],
        serde_json::json!(["AUTH-ADMIN-CONSTANT-TIME"])
    );
    let mut strict = args.to_vec();
    let d2 = dir.path().join("t2");
    strict[7] = d2.to_str().unwrap();
    strict.extend(["--fail-on", "inconclusive"]);
    let out = conform_env(&strict, &[]);
    out.assert_code(1, "--fail-on inconclusive\n");
    assert_eq!(
        json(&d2)["gate"]["failed_by"],
        serde_json::json!(["AUTH-ADMIN-CONSTANT-TIME"])
    );
}
