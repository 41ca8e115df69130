//! A second implementation of the contract nobody here wrote: Node.js, express 5,
//! express-rate-limit and jsonwebtoken (`tests/peers/express_impl`), installed by `.ci/run` with
//! `npm ci` from its committed lockfile and run with Node's default settings: its 16 KiB header
//! limit answers the harness's oversize credentials with 431 and a reset, which must be judged as
//! the answer it is, not as an outage. The conforming configuration passes `run` back to back;
//! each one-line misconfiguration the libraries make easy is caught by the clause it breaks.
//! Missing `node` or `node_modules` is a failure, not a skip.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{BIN, Output, Server, wait};

const WINDOW_SECS: u32 = 2;

fn app() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/express_impl");
    assert!(
        dir.join("node_modules/express").exists(),
        "the express peer is not installed (run .ci/run, or: npm ci --prefix tests/peers/express_impl)"
    );
    dir.join("app.js")
}

struct Peer {
    server: Server,
    dir: tempfile::TempDir,
}

impl Peer {
    fn start_with(faults: &[&str], env: &[(&str, &str)], args: &[&str]) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.json");
        let mut cmd = Command::new("node");
        cmd.envs(env.iter().copied());
        cmd.arg(app())
            .args(["--window", &WINDOW_SECS.to_string()])
            .arg("--credentials-out")
            .arg(&creds)
            .args(args);
        for f in faults {
            cmd.args(["--fault", f]);
        }
        let server = Server::start(cmd, Duration::from_secs(30));
        let profile = crate::support::profiles::profile_for(&server.url, WINDOW_SECS);
        std::fs::write(dir.path().join("profile.yaml"), profile).unwrap();
        Peer { server, dir }
    }

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
            "the express peer died during the run: {}",
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

fn clauses(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["clauses"].as_array().unwrap()
}

fn failing_must(report: &serde_json::Value) -> Vec<String> {
    clauses(report)
        .iter()
        .filter(|c| c["status"] == "fail" && c["level"] == "must")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_conforming_peer_with_node_defaults_passes_back_to_back() {
    // An admin token of digits only, as some operators generate: its `swapcase` near miss is
    // the token itself, which a conforming server accepts; the harness must not send it as one.
    let digits = "4815162342".repeat(4);
    let mut peer = Peer::start_with(&[], &[("LELANTOS_ADMIN_TOKEN", &digits)], &[]);
    for round in ["first", "second"] {
        let (out, report) = peer.run(round);
        let undecided: Vec<String> = clauses(&report)
            .iter()
            .filter(|c| {
                c["level"] == "must"
                    && !["pass", "not_testable"].contains(&c["status"].as_str().unwrap())
            })
            .map(|c| format!("{} {}: {}", c["id"], c["status"], c["reason"]))
            .collect();
        assert!(
            undecided.is_empty(),
            "{round}: must clauses not passed: {undecided:#?}"
        );
        out.assert_code(0, &format!("{round}\n"));
        assert_eq!(report["verdict"], "pass", "{round}");
        // Node's default header limit answered the oversize credentials (431): an answer, so
        // the should clause that sent them was judged, not the target taken for gone.
        let malformed = clauses(&report)
            .iter()
            .find(|c| c["id"] == "AUTH-MALFORMED-NO-5XX")
            .unwrap();
        assert_eq!(
            malformed["status"], "pass",
            "{round}: {}",
            malformed["reason"]
        );
        let exact = clauses(&report)
            .iter()
            .find(|c| c["id"] == "AUTH-ADMIN-EXACT")
            .unwrap();
        let reason = exact["reason"].as_str().unwrap();
        assert!(
            exact["status"] == "pass" && reason.contains("admin_token|swapcase"),
            "{round}: the letterless token's swapcase is named as not sent: {reason}"
        );
    }
}

/// Each fault with the must clause it breaks, and what else it may drag along.
const FAULTS: &[(&str, &[&str], &[&str])] = &[
    // `skipFailedRequests: true`
    ("skip-failed", &["RL-NO-BYPASS"], &[]),
    // `app.set('trust proxy', true)` with the limiter keyed by req.ip: keyed per address, so
    // the other team's key shares the budget too.
    ("trust-proxy", &["RL-NO-BYPASS"], &["RL-PER-IDENTITY"]),
    ("per-route", &["RL-GENERAL-LIMIT", "RL-FILES-LIMIT"], &[]),
    ("html-429", &["RL-429-BODY"], &[]),
    // Keyed on req.originalUrl: the general routes, of different paths, do not share either.
    ("path-key", &["RL-NO-BYPASS"], &["RL-GENERAL-LIMIT"]),
    (
        "scope-files",
        &["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        &[],
    ),
    (
        "scope-listing",
        &["AUTH-KEY-TEAM-SCOPE", "AUTH-TOKEN-USER-SCOPE"],
        &[],
    ),
];

/// express-rate-limit's `standardHeaders` forms.
const DRAFTS: [&str; 3] = ["draft-6", "draft-7", "draft-8"];

/// One fault of `FAULTS`: its peer (sending the library's IETF RateLimit fields in one of its
/// three drafts' forms, which RL-RATELIMIT-HEADERS reads all of) is run, and the run must fail
/// the clauses the fault breaks and no other but those it may drag along.
fn misconfiguration_is_caught(fault: &str) {
    let index = FAULTS
        .iter()
        .position(|(f, _, _)| *f == fault)
        .unwrap_or_else(|| panic!("{fault} is not in FAULTS"));
    let (fault, breaks, also) = FAULTS[index];
    let draft = DRAFTS[index % DRAFTS.len()];
    let mut peer = Peer::start_with(&[fault], &[], &["--standard-headers", draft]);
    let (out, report) = peer.run(fault);
    let mut problems = Vec::new();
    let headers = clauses(&report)
        .iter()
        .find(|c| c["id"] == "RL-RATELIMIT-HEADERS")
        .unwrap();
    if headers["status"] != "pass" {
        problems.push(format!(
            "{fault}: RL-RATELIMIT-HEADERS {} on express-rate-limit's {draft} fields: {}",
            headers["status"], headers["reason"]
        ));
    }
    let must = failing_must(&report);
    if out.code != Some(1) || !breaks.iter().all(|b| must.iter().any(|m| m == b)) {
        problems.push(format!(
            "{fault}: exit {:?}, failing must clauses {must:?}, wanted {breaks:?}",
            out.code
        ));
    }
    let stray: Vec<&String> = must
        .iter()
        .filter(|m| !breaks.contains(&m.as_str()) && !also.contains(&m.as_str()))
        .collect();
    if !stray.is_empty() {
        problems.push(format!("{fault}: also failed {stray:?}"));
    }
    if fault == "trust-proxy" || fault == "path-key" {
        let reason = clauses(&report)
            .iter()
            .find(|c| c["id"] == "RL-NO-BYPASS")
            .map(|c| c["reason"].as_str().unwrap().to_string())
            .unwrap_or_default();
        let named = if fault == "trust-proxy" {
            "bypass by X-Forwarded-For"
        } else {
            "bypass by an added query parameter"
        };
        if !reason.contains(named) {
            problems.push(format!("{fault}: the variation is not named: {reason}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A test per fault, so the runner runs them side by side; and a test that every fault of
/// `FAULTS` has one.
macro_rules! misconfigurations {
    ($($test:ident: $fault:literal,)*) => {
        $(
            #[test]
            fn $test() {
                misconfiguration_is_caught($fault);
            }
        )*

        #[test]
        fn every_one_line_misconfiguration_has_its_test() {
            let mut tested = vec![$($fault),*];
            let mut listed: Vec<&str> = FAULTS.iter().map(|(f, _, _)| *f).collect();
            tested.sort_unstable();
            listed.sort_unstable();
            assert_eq!(tested, listed);
        }
    };
}

misconfigurations! {
    skip_failed_is_caught: "skip-failed",
    trust_proxy_is_caught: "trust-proxy",
    per_route_is_caught: "per-route",
    html_429_is_caught: "html-429",
    path_key_is_caught: "path-key",
    scope_files_is_caught: "scope-files",
    scope_listing_is_caught: "scope-listing",
}
