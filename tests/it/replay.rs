//! Every exchange that decided a failing clause carries a `curl` line that replays it: run against
//! a faulty reference server (its own process, so it outlives the run), then each replay line of
//! the failing clauses is run by `bash` with the credentials' variables set, and gets the status
//! the harness saw. The lines hold the variables, never the values.
#![cfg(unix)]

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{BIN, Server, wait};

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

/// An embedded run's report says how to get its server back: `serve --seed` with the run's
/// seed, windows, limiter and faults gives the same credentials, and its `--env-out` file sets
/// the variables. The over-admission's script, run against that server, reproduces the
/// failure: more requests admitted than the script says may be. (The server comes back with
/// 60 s windows instead of the run's 2 s, so the hundreds of curl processes the script starts
/// see no refill, and a conforming server would admit exactly the limit: the count tells the
/// fault from a slow machine.)
#[test]
fn an_embedded_runs_burst_reproduces_against_the_server_its_report_names() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let child = Command::new(BIN)
        .args([
            "run",
            "--quiet",
            "--only",
            "RL-CREATION-LIMIT",
            "--fault",
            "rl-off-by-one",
        ])
        .args(["--seed", "41", "--report-dir"])
        .arg(&reports)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child, Duration::from_secs(120));
    out.assert_code(1, "rl-off-by-one fails the run: ");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("compliance.json")).unwrap())
            .unwrap();
    let again = json["target"]["serve_again"]
        .as_str()
        .expect("serve_again")
        .to_string();
    assert!(
        again.starts_with("lelantos-conform serve --addr 127.0.0.1:")
            && again.contains("--seed 41")
            && again.contains("--fault rl-off-by-one")
            && again.contains("--window 2s"),
        "{again}"
    );
    let clause = json["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "RL-CREATION-LIMIT")
        .unwrap();
    assert_eq!(clause["status"], "fail", "{clause}");
    let script = clause["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["script"].as_str())
        .unwrap_or_else(|| panic!("no script in {clause}"));
    let allowed: u64 = script
        .split("at most ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the script says how many may be admitted");
    let md = std::fs::read_to_string(reports.join("compliance.md")).unwrap();
    assert!(md.contains(&again) && md.contains("Reproduce:"), "{md}");
    // The server back, as the report says; then the script as written.
    let whole = format!(
        "set -m\n{}\nfor i in $(seq 100); do [ -s lelantos.env ] && break; sleep 0.1; done\n{script}\nkill %1\n",
        again
            .replace("lelantos-conform", BIN)
            .replace("--window 2s", "--window 60s")
            .replace(
                " & sleep 1; . ./lelantos.env",
                " &\nsleep 0.5; . ./lelantos.env"
            )
    );
    let run = Command::new("bash")
        .arg("-c")
        .arg(&whole)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(run, Duration::from_secs(60));
    let admitted: u64 = out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let n: u64 = w.next()?.parse().ok()?;
            w.next().filter(|s| s.starts_with('2')).map(|_| n)
        })
        .sum();
    assert!(
        admitted > allowed,
        "the script admitted {admitted}, at most {allowed} allowed: not reproduced\n{whole}\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
