//! `run` through the binary when it cannot complete: an unreachable target (exit 3 at once, the
//! URL and the cause on stderr) and Ctrl-C mid-run (exit 3, a report with `verdict: error` and
//! the clauses judged so far).

use std::time::Duration;

use crate::support::binary::{closed_port, spawn, wait};

#[test]
fn an_unreachable_target_exits_3_naming_the_url_and_the_cause() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let out = crate::support::binary::conform_with_key(&[
        "run",
        "--target",
        &url,
        "--report-dir",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(5), "took {:?}", out.took);
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("connection refused"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[cfg(unix)]
#[test]
fn ctrl_c_mid_run_exits_3_with_a_report_of_what_was_judged() {
    interrupted_mid_run(libc::SIGINT, "Ctrl-C");
}

/// Kubernetes, `timeout` and CI cancellations send SIGTERM: the same as Ctrl-C.
#[cfg(unix)]
#[test]
fn sigterm_mid_run_exits_3_with_a_report_of_what_was_judged() {
    interrupted_mid_run(libc::SIGTERM, "SIGTERM");
}

#[cfg(unix)]
fn interrupted_mid_run(sig: libc::c_int, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    // A 3 s window: 1.5 s in, the embedded run is in its rate-limit stage (it needs ~7 s).
    let child = spawn(&[
        "run",
        "--window",
        "3s",
        "--quiet",
        "--report-dir",
        report.to_str().unwrap(),
    ]);
    let pid = child.id() as libc::pid_t;
    let signal = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: kill(2) on the child's pid; the child is not reaped before `wait` below.
        unsafe { libc::kill(pid, sig) }
    });
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(signal.join().unwrap(), 0, "{name} delivered");
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.took < Duration::from_secs(5),
        "took {:?} to stop",
        out.took
    );
    let text = std::fs::read_to_string(report.join("compliance.json")).expect("compliance.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("compliance.json parses");
    assert_eq!(doc["verdict"], "error", "{text}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("interrupted ({name})")),
        "{}",
        doc["error"]
    );
    // What never ran says why: not "not covered", but the interruption.
    let not_run = doc["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["reason"].as_str()
                == Some(&format!("not run: the run was interrupted ({name}) first"))
        })
        .count();
    assert!(not_run > 0, "no clause says it did not run: {text}");
    assert!(
        !text.contains("not covered by the scenarios of this run"),
        "a clause the run meant to decide reads as not covered: {text}"
    );
    let passed = doc["clauses"]
        .as_array()
        .expect("clauses")
        .iter()
        .filter(|c| c["status"] == "pass")
        .count();
    assert!(
        passed > 0,
        "no clause judged before the interruption: {text}"
    );
    // The rate-limit stage had not finished: some of its clauses are not judged.
    let unjudged_rl = doc["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with("RL-")))
        .any(|c| c["status"] != "pass");
    assert!(
        unjudged_rl,
        "every RL clause passed: not interrupted mid-run? {text}"
    );
}

/// Ctrl-C while the first request waits on a target that accepts and never answers (the
/// preflight would wait its whole 15 s timeout): still exit 3 and a report.
#[cfg(unix)]
#[test]
fn ctrl_c_while_waiting_on_a_silent_target_exits_3_with_a_report() {
    let silent = crate::support::binary::Watched::new();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let child = crate::support::binary::spawn_with_key(&[
        "run",
        "--target",
        &silent.url,
        "--quiet",
        "--report-dir",
        report.to_str().unwrap(),
    ]);
    let pid = child.id() as libc::pid_t;
    let signal = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: kill(2) on the child's pid; the child is not reaped before `wait` below.
        unsafe { libc::kill(pid, libc::SIGINT) }
    });
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(signal.join().unwrap(), 0, "SIGINT delivered");
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(5), "took {:?}", out.took);
    assert!(silent.connections() > 0, "the run never tried the target");
    let text = std::fs::read_to_string(report.join("compliance.json")).expect("compliance.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("compliance.json parses");
    assert_eq!(doc["verdict"], "error", "{text}");
}

/// A target that answers every request 429 with `Retry-After: 3600`: the run ends at its time
/// limit with every report (once it ran for 45 minutes and more).
#[test]
fn a_target_that_always_says_wait_an_hour_ends_at_the_time_limit_with_a_report() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // Bounded: the test process ends; each connection is served until it closes.
        for conn in listener.incoming().take(10_000) {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                        return;
                    }
                    let json = r#"{"error": "rate limit exceeded", "retryAfter": 3600}"#;
                    let answer = format!(
                        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                        json.len()
                    );
                    if conn.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let out = crate::support::binary::conform_with_key(&[
        "run",
        "--target",
        &url,
        "--quiet",
        "--max-duration",
        "4s",
        "--report-dir",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(15), "took {:?}", out.took);
    let text = std::fs::read_to_string(report.join("compliance.json")).expect("compliance.json");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["verdict"], "error", "{text}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or("")
            .contains("--max-duration 4s"),
        "{}",
        doc["error"]
    );
    for file in ["junit.xml", "compliance.md", "report.html"] {
        assert!(report.join(file).exists(), "{file} missing");
    }
    // A wait longer than a window fails the clause; it was never waited in full.
    let ra = doc["clauses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "RL-429-RETRY-AFTER")
        .expect("RL-429-RETRY-AFTER");
    assert_eq!(ra["status"], "fail", "{ra}");
    assert!(ra["reason"].as_str().unwrap_or("").contains("3600"), "{ra}");
}

/// One run, one folder: a `--format json` run into a folder that held an earlier run's reports
/// leaves none of them beside its own, and releases the folder when it ends.
#[test]
fn a_run_into_an_old_folder_leaves_no_earlier_report_beside_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    std::fs::create_dir_all(&report).unwrap();
    for old in ["compliance.md", "junit.xml", "report.html", "load.json"] {
        std::fs::write(report.join(old), "✅ PASS (an earlier run)").unwrap();
    }
    let out = crate::support::binary::conform(&[
        "run",
        "--quiet",
        "--only",
        "AUTH-NO-CREDENTIALS",
        "--format",
        "json",
        "--report-dir",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut left: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["compliance.json"], "the folder mixes runs");
}

/// Progress says what the run waits for and what is left of its time limit.
#[test]
fn progress_shows_the_waits_and_the_time_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::binary::conform(&[
        "run",
        "--only",
        "RL-*",
        "--window",
        "3s",
        "--max-duration",
        "10m",
        "--report-dir",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("waiting "))
        .unwrap_or_else(|| panic!("no waiting line: {}", out.stderr));
    assert!(line.contains("left of the time limit"), "{line}");
    assert!(
        line.contains(" 9m "),
        "not the 10m limit's remainder: {line}"
    );
}

/// The walkthrough's trap: `serve --window 2s`, then `run --target` (which judges the spec's
/// 60 s windows). Before its first request the run says which windows it judges and where they
/// come from, and it warns that the target states others (its RateLimit-Policy), naming what
/// fixes it.
#[test]
fn a_run_says_its_windows_and_warns_when_the_target_states_others() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds.json");
    let mut cmd = std::process::Command::new(crate::support::binary::BIN);
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--window",
        "2s",
        "--credentials-out",
    ])
    .arg(&creds);
    let server = crate::support::binary::Server::start(cmd, Duration::from_secs(30));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds).unwrap()).unwrap();
    let report = dir.path().join("r");
    let child = std::process::Command::new(crate::support::binary::BIN)
        .args(["run", "--target", &server.url, "--only", "AUTH-KEY-HEADER"])
        .arg("--report-dir")
        .arg(&report)
        .env("LELANTOS_API_KEY", c["api_key"].as_str().unwrap())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child, Duration::from_secs(30));
    out.assert_code(0, "");
    // Lines wrap at 100 columns: read them as one text.
    let stderr = out.stderr.replace("\n  ", " ");
    let said = stderr
        .find("rate limits judged: file_operations 60/1m, general 100/1m, sandbox_creation 10/1m")
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        stderr[said..].contains("windows from the spec: --target sets no window"),
        "{}",
        out.stderr
    );
    let warned = stderr
        .find("warning: RateLimit-Policy")
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(said < warned, "{}", out.stderr);
    let warning = &stderr[warned..];
    assert!(
        warning.contains("states a 2 s window") && warning.contains("rate_limits.window"),
        "{}",
        out.stderr
    );
}
