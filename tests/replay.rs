//! Every exchange that decided a failing clause carries a `curl` line that replays it: run against
//! a faulty reference server (its own process, so it outlives the run), then each replay line of
//! the failing clauses is run by `bash` with the credentials' variables set, and gets the status
//! the harness saw. The lines hold the variables, never the values.
#![cfg(unix)]

mod common_cli;

use std::process::{Command, Stdio};
use std::time::Duration;

use common_cli::{BIN, Server, wait};

#[test]
fn a_failing_clauses_curl_line_replays_with_the_variables_set() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds.json");
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--window", "1ms"])
        .args([
            "--fault",
            "apikey-revoked-accepted",
            "--fault",
            "apikey-prefix-only",
        ])
        .args(["--fault", "jwt-alg-none"])
        .arg("--credentials-out")
        .arg(&creds);
    let server = Server::start(cmd, Duration::from_secs(60));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let env: Vec<(String, String)> = [
        ("LELANTOS_API_KEY", "api_key"),
        ("LELANTOS_API_KEY_REVOKED", "api_key_revoked"),
        ("LELANTOS_EMAIL", "email"),
        ("LELANTOS_PASSWORD", "password"),
    ]
    .iter()
    .map(|(var, role)| (var.to_string(), c[role].as_str().unwrap().to_string()))
    .collect();
    let reports = dir.path().join("reports");
    let child = Command::new(BIN)
        .args([
            "run",
            "--quiet",
            "--only",
            "AUTH-KEY-REVOKED,AUTH-KEY-UNKNOWN,AUTH-TOKEN-ALG-NONE",
        ])
        .args(["--target", &server.url, "--report-dir"])
        .arg(&reports)
        .envs(env.iter().cloned())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child, Duration::from_secs(120));
    out.assert_code(1, "the faults fail the run: ");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("compliance.json")).unwrap())
            .unwrap();

    let mut replayed = Vec::new();
    let mut marked = Vec::new();
    for clause in json["clauses"].as_array().unwrap() {
        let failing = clause["status"] == "fail";
        for ex in clause["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["exchanges"].as_array().cloned().unwrap_or_default())
        {
            let curl = ex["curl"].as_str();
            if !failing {
                assert!(
                    curl.is_none(),
                    "a passing clause's exchange has a replay line"
                );
                continue;
            }
            let curl = curl.unwrap_or_else(|| panic!("no replay line in {ex}"));
            for (_, value) in &env {
                assert!(!curl.contains(value.as_str()), "a credential in {curl}");
            }
            if curl.contains("# not replayable") {
                marked.push(clause["id"].as_str().unwrap().to_string());
                continue;
            }
            let run = Command::new("bash")
                .arg("-c")
                .arg(curl)
                .envs(env.iter().cloned())
                .output()
                .expect("bash and curl are installed");
            let head = String::from_utf8_lossy(&run.stdout);
            let status: u16 = head
                .lines()
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{curl}: no HTTP answer: {head}"));
            assert_eq!(
                Some(status as u64),
                ex["status"].as_u64(),
                "{} replayed {curl}",
                clause["id"]
            );
            replayed.push((clause["id"].as_str().unwrap().to_string(), curl.to_string()));
        }
    }
    for id in ["AUTH-KEY-REVOKED", "AUTH-KEY-UNKNOWN"] {
        assert!(
            replayed.iter().any(|(c, _)| c == id),
            "no replayed line for {id}: {replayed:?}\n{:?}",
            json["clauses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!("{} {} {}", c["id"], c["status"], c["reason"]))
                .collect::<Vec<_>>()
        );
    }
    // The revoked key is written as its variable; the forged token in full.
    let (_, revoked) = replayed
        .iter()
        .find(|(c, _)| c == "AUTH-KEY-REVOKED")
        .unwrap();
    assert!(
        revoked.contains("\"$LELANTOS_API_KEY_REVOKED\""),
        "{revoked}"
    );
    let (_, unknown) = replayed
        .iter()
        .find(|(c, _)| c == "AUTH-KEY-UNKNOWN")
        .unwrap();
    assert!(unknown.contains("-H 'X-API-Key: lel_"), "{unknown}");
    // An issued token re-encoded with alg none holds the token's claims: a near-copy of a
    // secret, shown as a fingerprint, and the line says it cannot be replayed as it stands.
    assert!(
        marked.iter().any(|c| c == "AUTH-TOKEN-ALG-NONE"),
        "{marked:?}"
    );
    // compliance.md carries them too.
    let md = std::fs::read_to_string(reports.join("compliance.md")).unwrap();
    assert!(md.contains("```sh\ncurl -sS -i"), "{md}");
    drop(server);
}
