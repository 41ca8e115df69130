//! An implementation of the contract that no one here wrote the way our reference server is
//! written: Python, Flask, PyJWT and Flask-Limiter (`tests/peers/flask_impl`), in a virtualenv
//! that `.ci/run` creates (`target/peer-venv`; `LELANTOS_PEER_PYTHON` names another interpreter).
//! Its conforming configuration passes `run` under every strategy Flask-Limiter offers, back to
//! back and two at once; each of its typical misconfigurations is caught by the clause it breaks.
//! A missing virtualenv is a failure, not a skip.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{BIN, Output, Server, wait};

const WINDOW_SECS: u32 = 2;

fn python() -> PathBuf {
    let p = std::env::var_os("LELANTOS_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peer-venv/bin/python")
        });
    assert!(
        p.exists(),
        "no Python for the Flask peer at {} (run .ci/run, or: python3 -m venv target/peer-venv && target/peer-venv/bin/pip install -r tests/peers/flask_impl/requirements.txt)",
        p.display()
    );
    p
}

struct Peer {
    server: Server,
    dir: tempfile::TempDir,
}

impl Peer {
    fn start(strategy: &str, faults: &[&str]) -> Peer {
        Peer::start_with(strategy, faults, &[])
    }

    fn start_with(strategy: &str, faults: &[&str], extra: &[&str]) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.json");
        let mut cmd = Command::new(python());
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/flask_impl/app.py"))
            .args(["--window", &WINDOW_SECS.to_string(), "--strategy", strategy])
            .arg("--credentials-out")
            .arg(&creds);
        for f in faults {
            cmd.args(["--fault", f]);
        }
        cmd.args(extra);
        let server = Server::start(cmd, Duration::from_secs(30));
        let profile = crate::support::profiles::profile_for(&server.url, WINDOW_SECS);
        std::fs::write(dir.path().join("profile.yaml"), profile).unwrap();
        Peer { server, dir }
    }

    /// `run --profile` against it: the output and the report.
    fn run(&mut self, name: &str) -> (Output, serde_json::Value) {
        let reports = self.dir.path().join(name);
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--quiet", "--format", "json", "--profile"])
            .arg(self.dir.path().join("profile.yaml"))
            .arg("--report-dir")
            .arg(&reports)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = wait(cmd.spawn().unwrap(), Duration::from_secs(240));
        assert!(
            self.server.alive(),
            "the Flask peer died during the run: {}",
            self.server.stderr()
        );
        let text = std::fs::read_to_string(reports.join("compliance.json")).unwrap_or_else(|e| {
            panic!(
                "{name}: no compliance.json ({e}); exit {:?}\n{}",
                out.code, out.stderr
            )
        });
        (out, serde_json::from_str(&text).unwrap())
    }
}

fn failing(report: &serde_json::Value, level: &str) -> Vec<String> {
    report["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail" && c["level"] == level)
        .map(|c| format!("{}: {}", c["id"].as_str().unwrap(), c["reason"]))
        .collect()
}

fn assert_passes(name: &str, out: &Output, report: &serde_json::Value) {
    let must = failing(report, "must");
    assert!(must.is_empty(), "{name}: must clauses failed: {must:#?}");
    out.assert_code(0, &format!("{name}\n"));
    assert_eq!(report["verdict"], "pass", "{name}");
}

/// Every strategy of Flask-Limiter's `limits`: fixed windows, the moving window (an exact log)
/// and the sliding-window counter (a weighted approximation, fresh only after two windows).
const STRATEGIES: &[&str] = &["fixed-window", "moving-window", "sliding-window-counter"];

#[test]
fn the_conforming_peer_passes_under_every_strategy() {
    for strategy in STRATEGIES {
        let mut peer = Peer::start(strategy, &[]);
        let (out, report) = peer.run(strategy);
        assert_passes(strategy, &out, &report);
    }
}

/// What `rate-limits.yaml#budgets` waited for, by reason (ms).
fn budget_waits(report: &serde_json::Value) -> Vec<(String, u64)> {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "rate-limits.yaml#budgets")
        .expect("the budgets scenario ran")["waits"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| {
                    (
                        w["reason"].as_str().unwrap().to_string(),
                        w["ms"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Limits per key: the bursts go to a key created a moment ago, fresh at once, so the scenario
/// never waits for freshness. Limits per team (the documentation allows it: every key of a team
/// shares one budget): the created key's bursts fall short, and the limits are judged on the
/// profile's own key after it has been idle, so a conforming per-team limiter passes too.
#[test]
fn the_conforming_peer_passes_with_limits_per_key_or_per_team() {
    let runs: Vec<_> = ["key", "team"]
        .into_iter()
        .map(|by| {
            std::thread::spawn(move || {
                let mut peer = Peer::start_with("sliding-window-counter", &[], &["--limit-by", by]);
                if by == "team" {
                    // Without the user's and the admin's credentials, no other credential's
                    // burst runs (and waits) before the keys' bursts: the created key meets the
                    // team budget that the set-up and the key creations just spent, so it falls
                    // short and the own key is judged again, the path under test.
                    let path = peer.dir.path().join("profile.yaml");
                    let profile = std::fs::read_to_string(&path).unwrap();
                    let kept: Vec<&str> = profile
                        .lines()
                        .filter(|l| {
                            !["  email:", "  password:", "  admin_token:"]
                                .iter()
                                .any(|r| l.starts_with(r))
                        })
                        .collect();
                    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
                }
                let (out, report) = peer.run(by);
                (by, out, report)
            })
        })
        .collect();
    for r in runs {
        let (by, out, report) = r.join().unwrap();
        assert_passes(&format!("limits per {by}"), &out, &report);
        let waits = budget_waits(&report);
        let fresh = waits.iter().any(|(reason, _)| reason == "until fresh");
        let reasons: Vec<String> = report["clauses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"]
                    .contains(&c["id"].as_str().unwrap())
            })
            // The reason names the first few findings; the bursts' own are in the evidence.
            .flat_map(|c| {
                let notes = c["evidence"].as_array().into_iter().flatten();
                std::iter::once(c["reason"].as_str().unwrap().to_string())
                    .chain(notes.filter_map(|e| e["note"].as_str().map(str::to_string)))
            })
            .collect();
        match by {
            "key" => assert!(
                !fresh,
                "per key, the bursts waited for freshness: {waits:?}"
            ),
            _ => {
                assert!(
                    fresh,
                    "per team, no idle wait before the own key's bursts: {waits:?}"
                );
                assert!(
                    reasons.iter().any(|r| r.contains("a created key: ")),
                    "per team, no limit was judged again on the profile's key: {reasons:#?}"
                );
            }
        }
    }
}

#[test]
fn the_conforming_peer_passes_back_to_back_and_two_at_once() {
    // Back to back against one server: the second run starts on what the first left.
    let mut peer = Peer::start("moving-window", &[]);
    for round in ["first", "second"] {
        let (out, report) = peer.run(round);
        assert_passes(round, &out, &report);
    }
    // Two runs at once, each against its own server (one server's budgets are one deployment's:
    // two gates sharing them would be the profile's `shared_use`).
    let runs: Vec<_> = ["fixed-window", "sliding-window-counter"]
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                let mut peer = Peer::start(s, &[]);
                let (out, report) = peer.run(s);
                (s, out, report)
            })
        })
        .collect();
    for r in runs {
        let (s, out, report) = r.join().unwrap();
        assert_passes(&format!("{s} (two at once)"), &out, &report);
    }
}

/// A misconfiguration, and the clauses of which at least one must fail (and only `must` clauses
/// among those named may fail: a fault is reported as itself).
const FAULTS: &[(&str, &[&str])] = &[
    ("verify-off", &["AUTH-TOKEN-BAD-SIGNATURE"]),
    (
        "algs-unpinned",
        &["AUTH-TOKEN-ALG-NONE", "AUTH-TOKEN-ALG-OTHER"],
    ),
    ("exp-not-required", &["AUTH-TOKEN-SESSION-TTL"]),
    (
        "kid-file",
        &["AUTH-TOKEN-BAD-SIGNATURE", "AUTH-REFRESH-FORGED"],
    ),
    ("jku-fetch", &["AUTH-TOKEN-NO-KEY-FETCH"]),
    ("refresh-verify-off", &["AUTH-REFRESH-FORGED"]),
    ("refresh-exp-ignored", &["AUTH-REFRESH-EXPIRED"]),
    ("limit-by-address", &["RL-PER-IDENTITY"]),
    ("default-429-body", &["RL-429-BODY"]),
    (
        "one-limiter",
        &[
            "RL-CATEGORY-INDEPENDENT",
            "RL-CREATION-LIMIT",
            "RL-FILES-LIMIT",
        ],
    ),
];

/// What else a fault may drag along (a forged token accepted also passes the alg checks).
fn also_allowed(fault: &str) -> &'static [&'static str] {
    match fault {
        // Verification off everywhere: the refresh endpoint takes forgeries too.
        "verify-off" => &[
            "AUTH-TOKEN-ALG-NONE",
            "AUTH-TOKEN-ALG-OTHER",
            "AUTH-REFRESH-FORGED",
            // A token with a jku, signed with the attacker's key, accepted.
            "AUTH-TOKEN-NO-KEY-FETCH",
        ],
        "algs-unpinned" => &["AUTH-REFRESH-FORGED"],
        // One budget per client address: the run's other identities (the refill check's key,
        // the second team's key) spend this one's, and the harness says so where it sees it.
        "limit-by-address" => &["RL-CATEGORY-INDEPENDENT", "RL-GENERAL-LIMIT"],
        _ => &[],
    }
}

/// One misconfiguration of `FAULTS`: the peer's run must fail one of the clauses it breaks and
/// no other but those it may drag along.
fn misconfiguration_is_caught(fault: &str) {
    let (fault, breaks) = *FAULTS
        .iter()
        .find(|(f, _)| *f == fault)
        .unwrap_or_else(|| panic!("{fault} is not in FAULTS"));
    let mut peer = Peer::start("fixed-window", &[fault]);
    let (out, report) = peer.run(fault);
    let mut problems = Vec::new();
    let must: Vec<String> = failing(&report, "must")
        .into_iter()
        .map(|f| f.split(':').next().unwrap().to_string())
        .collect();
    if out.code != Some(1) || !breaks.iter().any(|b| must.iter().any(|m| m == b)) {
        let wanted: Vec<String> = report["clauses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| breaks.contains(&c["id"].as_str().unwrap()))
            .map(|c| format!("{} {}: {}", c["id"], c["status"], c["reason"]))
            .collect();
        problems.push(format!(
            "{fault}: exit {:?}, failing must clauses {must:?}, wanted one of {breaks:?}: {wanted:#?}",
            out.code
        ));
    }
    let stray: Vec<&String> = must
        .iter()
        .filter(|m| !breaks.contains(&m.as_str()) && !also_allowed(fault).contains(&m.as_str()))
        .collect();
    if !stray.is_empty() {
        problems.push(format!(
            "{fault}: also failed {stray:?}: {:#?}",
            failing(&report, "must")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A test per misconfiguration, so the runner runs them side by side; and a test that every one
/// of `FAULTS` has one.
macro_rules! misconfigurations {
    ($($test:ident: $fault:literal,)*) => {
        $(
            #[test]
            fn $test() {
                misconfiguration_is_caught($fault);
            }
        )*

        #[test]
        fn every_typical_misconfiguration_has_its_test() {
            let mut tested = vec![$($fault),*];
            let mut listed: Vec<&str> = FAULTS.iter().map(|(f, _)| *f).collect();
            tested.sort_unstable();
            listed.sort_unstable();
            assert_eq!(tested, listed);
        }
    };
}

misconfigurations! {
    verify_off_is_caught: "verify-off",
    algs_unpinned_is_caught: "algs-unpinned",
    exp_not_required_is_caught: "exp-not-required",
    kid_file_is_caught: "kid-file",
    jku_fetch_is_caught: "jku-fetch",
    refresh_verify_off_is_caught: "refresh-verify-off",
    refresh_exp_ignored_is_caught: "refresh-exp-ignored",
    limit_by_address_is_caught: "limit-by-address",
    default_429_body_is_caught: "default-429-body",
    one_limiter_is_caught: "one-limiter",
}
