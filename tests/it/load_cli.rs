//! `load` against the embedded reference server: the rl-race fault is caught as over-admission,
//! rl-no-retry-after is caught under load, and the faultless server passes under every limiter.
//! Swarms are short (about a second each) so the suite stays cheap on a shared machine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::binary::{BIN, Output, wait};

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
    let out = wait(child, Duration::from_secs(90));
    // `--quiet`: nothing of goose's on stdout ("N users launched.").
    assert!(
        !out.stdout.contains("launched"),
        "goose printed under --quiet: {}",
        out.stdout
    );
    out
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
    out.assert_code(1, "");
    assert_eq!(clause(dir.path(), "RL-GENERAL-LIMIT"), "fail");
    let report = load_json(dir.path());
    let over: u64 = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["over_admitted"].as_u64().unwrap())
        .sum();
    assert!(over > 0, "{report}");
    for f in ["report.html", "junit.xml", "compliance.md"] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    // goose's own page loaded its charts from a CDN (blank offline): not written; report.html
    // holds the swarm and fetches nothing.
    assert!(!dir.path().join("goose-report.html").exists());
    // One page, written once with the load section inside its main part.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for external in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(external), "report.html fetches {external}");
    }
    assert_eq!(html.matches("<section id=\"load\">").count(), 1);
    assert!(html.find("<section id=\"load\">") < html.find("</main>"));
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
    out.assert_code(1, "");
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
    let limit = regex::Regex::new(r#"class="limit" data-limit="([0-9.]+)""#).unwrap();
    let peak = regex::Regex::new(r#"data-peak="([0-9.]+)""#).unwrap();
    for limiter in ["fixed", "sliding", "bucket", "gcra"] {
        let dir = tempfile::tempdir().unwrap();
        let out = load(
            dir.path(),
            "scenarios/load-burst.yaml",
            &["--limiter", limiter, "--users", "10", "--duration", "1s"],
        );
        out.assert_code(0, &format!("{limiter}: "));
        assert_eq!(clause(dir.path(), "RL-GENERAL-LIMIT"), "pass", "{limiter}");
        let report = load_json(dir.path());
        let refusals = report["checks"]["refusals"].as_u64().unwrap();
        assert!(refusals > 0, "{limiter}: the swarm never reached the limit");
        // The swarm's figures lead stdout and compliance.md, and are in compliance.json.
        let requests = report["requests"].as_u64().unwrap();
        let summary = format!("load: {requests} requests in ");
        assert!(out.stdout.contains(&summary), "{limiter}: {}", out.stdout);
        for needle in [
            "p50 ",
            "p95 ",
            "p99 ",
            "answered 429",
            "general: ",
            " allowed over the swarm",
        ] {
            assert!(
                out.stdout.contains(needle),
                "{limiter}: {needle}\n{}",
                out.stdout
            );
        }
        let md = std::fs::read_to_string(dir.path().join("compliance.md")).unwrap();
        assert!(md.contains(&format!("- {summary}")), "{md}");
        assert!(md.contains("no seed"), "{md}");
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("compliance.json")).unwrap(),
        )
        .unwrap();
        let load = &json["load"];
        assert_eq!(load["requests"].as_u64(), Some(requests), "{load}");
        let share = load["share_429"].as_f64().unwrap();
        assert!(share > 0.0 && share < 1.0, "{load}");
        let general = load["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["category"] == "general")
            .expect("the general category");
        assert!(
            general["admitted"].as_u64() <= general["allowed"].as_u64(),
            "{limiter}: a pass admitted more than allowed: {general}"
        );
        // No chart of a pass shows a value over its line.
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        for chart in html.split("<svg class=\"chart\"").skip(1) {
            let chart = chart.split("</svg>").next().unwrap();
            if let Some(l) = limit.captures(chart) {
                let line: f64 = l[1].parse().unwrap();
                for p in peak.captures_iter(chart) {
                    let v: f64 = p[1].parse().unwrap();
                    assert!(
                        v <= line,
                        "{limiter}: a chart of a pass shows {v} over its line {line}"
                    );
                }
            }
        }
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
        out.assert_code(0, &format!("{scenario}: "));
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
    out.assert_code(1, "");
    assert_eq!(clause(dir.path(), "AUTH-REFRESH-SINGLE-USE"), "fail");
}

/// Three segments as separate processes against one reference server, sharing its one key (the
/// case only a merged judgement can account): the merge equals the parts exactly.
#[test]
fn segments_merge_exactly() {
    use lelantos_conform::load::histogram::deserialize;
    use lelantos_conform::load::report::LoadReport;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds.json");
    let mut serve = Command::new(BIN)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--window",
            "2s",
            "--credentials-out",
        ])
        .arg(&creds)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    {
        use std::io::BufRead as _;
        let mut out = std::io::BufReader::new(serve.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
    }
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let profile = dir.path().join("profile.yaml");
    std::fs::write(
        &profile,
        format!(
            "base_url: {url}\ncredentials:\n  api_key: {{file: {}, pointer: /api_key}}\nrate_limits:\n  window: 2s\n",
            creds.display()
        ),
    )
    .unwrap();
    let start_at =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(3))
            .to_string();
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new(BIN)
                .args(["load", "--quiet", "--profile"])
                .arg(&profile)
                .arg("--scenario")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load-burst.yaml"))
                .args(["--users", "8", "--duration", "1s", "--segment"])
                .arg(format!("{i}/3"))
                .args(["--start-at", &start_at, "--report-dir"])
                .arg(dir.path().join(format!("part{i}")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = wait(c, Duration::from_secs(90));
        assert_eq!(out.code, Some(0), "segment: {}\n{}", out.stderr, out.stdout);
    }
    // Started together: no part late, and the merge flags nothing.
    for i in 0..3 {
        let part: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("part{i}/load.json"))).unwrap(),
        )
        .unwrap();
        let skew = part["start_skew_ms"].as_f64().expect("start_skew_ms");
        assert!(
            (0.0..1000.0).contains(&skew),
            "part {i} started {skew} ms late"
        );
    }
    let merged = dir.path().join("merged");
    let out = wait(
        Command::new(BIN)
            .args(["report", "merge"])
            .args((0..3).map(|i| dir.path().join(format!("part{i}"))))
            .arg("--report-dir")
            .arg(&merged)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(out.code, Some(0), "merge: {}\n{}", out.stderr, out.stdout);
    let read = |d: &Path| -> LoadReport {
        serde_json::from_str(&std::fs::read_to_string(d.join("load.json")).unwrap()).unwrap()
    };
    let parts: Vec<LoadReport> = (0..3)
        .map(|i| read(&dir.path().join(format!("part{i}"))))
        .collect();
    let m = read(&merged);
    assert_eq!(parts.iter().map(|p| p.users).collect::<Vec<_>>(), [3, 3, 2]);
    assert_eq!(m.users, 8);
    assert_eq!(m.requests, parts.iter().map(|p| p.requests).sum::<u64>());
    assert_eq!(
        m.checks.refusals,
        parts.iter().map(|p| p.checks.refusals).sum::<u64>()
    );
    for (code, n) in &m.statuses {
        let sum: u64 = parts
            .iter()
            .map(|p| p.statuses.get(code).copied().unwrap_or(0))
            .sum();
        assert_eq!(*n, sum, "status {code}");
    }
    // Histograms: the merged one is the parts' added, bucket for bucket.
    let mut sum = deserialize(&parts[0].overall_histogram).unwrap();
    for p in &parts[1..] {
        sum.add(deserialize(&p.overall_histogram).unwrap()).unwrap();
    }
    assert!(sum == deserialize(&m.overall_histogram).unwrap());
    // Accounting: one shared identity; the merged accounting holds every part's admissions.
    let admitted = |r: &LoadReport| r.accounts.iter().map(|a| a.admitted).sum::<u64>();
    assert_eq!(admitted(&m), parts.iter().map(admitted).sum::<u64>());
    assert_eq!(m.accounts.len(), 1);
    assert_eq!(m.accounts[0].over_admitted, 0, "{:?}", m.accounts[0].worst);
    let by_window: Vec<u64> = m.accounts[0].per_window.clone();
    assert_eq!(by_window.iter().sum::<u64>(), admitted(&m));
}

/// Ctrl-C stops the swarm through goose's killswitch; the report is still written (exit 3).
#[test]
fn ctrl_c_stops_the_swarm_and_writes_the_report() {
    signal_stops_the_swarm(libc::SIGINT, "Ctrl-C");
}

/// SIGTERM (Kubernetes, `timeout`, CI cancellation) does what Ctrl-C does; once it left only
/// goose-report.html and exit 143.
#[test]
fn sigterm_stops_the_swarm_and_writes_the_report() {
    signal_stops_the_swarm(libc::SIGTERM, "SIGTERM");
}

fn signal_stops_the_swarm(sig: libc::c_int, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["load", "--quiet", "--scenario"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load-burst.yaml"))
        .args(["--users", "5", "--duration", "60s", "--report-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, sig) };
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.code, Some(3), "stderr: {}", out.stderr);
    assert!(out.took < Duration::from_secs(30));
    let report = load_json(dir.path());
    assert_eq!(report["verdict"], "error");
    assert!(dir.path().join("report.html").exists());
    let compliance: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("compliance.json")).expect("compliance.json"),
    )
    .unwrap();
    assert!(
        compliance["error"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("interrupted ({name})")),
        "{}",
        compliance["error"]
    );
}

#[test]
fn a_bad_load_scenario_is_a_usage_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("load-bad.yaml");
    std::fs::write(
        &file,
        "scenarios:\n  - name: bad\n    clauses: [LOAD-NO-5XX]\n    load:\n      users: 3\n      duration: 1s\n      identities: per_usr\n      tasks: [{endpoint: list_sandboxes}]\n      thresholds: [\"p98 < 1ms\"]\n      no_5xx_clause: LOAD-NO-5XX\n",
    )
    .unwrap();
    let out = load(dir.path(), file.to_str().unwrap(), &[]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("per_usr") && out.stderr.contains("per_user"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("p98"), "{}", out.stderr);
    assert!(out.stderr.contains("load-bad.yaml:7:"), "{}", out.stderr);
}

#[test]
fn an_unreachable_target_is_exit_3_before_any_swarm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args(["load", "--quiet", "--target"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--scenario")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load-burst.yaml"))
        .arg("--report-dir")
        .arg(dir.path())
        .env("LELANTOS_API_KEY", "lel_unreachable")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("cannot reach"), "{}", out.stderr);
}

#[test]
fn a_plan_ramps_users_up_holds_and_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = load(dir.path(), "scenarios/load-ramp.yaml", &[]);
    out.assert_code(0, "");
    assert_eq!(clause(dir.path(), "RL-GENERAL-LIMIT"), "pass");
    let report = load_json(dir.path());
    // The plan's peak is the swarm's users; its total length the planned duration.
    assert_eq!(report["users"], 6, "{report}");
    assert_eq!(report["planned_duration_ms"], 5000, "{report}");
    let per_second: Vec<u64> = report["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["by_class"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
                .sum()
        })
        .collect();
    // 0 to 2 users over the first second, 6 held over the third and fourth.
    let first = per_second[0];
    let peak = per_second[2..4].iter().copied().max().unwrap();
    assert!(first > 0 && 2 * first < peak, "{per_second:?}");
}

#[test]
fn a_plan_refuses_users_and_duration_on_the_command_line() {
    for extra in [["--users", "3"], ["--duration", "1s"]] {
        let dir = tempfile::tempdir().unwrap();
        let out = load(dir.path(), "scenarios/load-ramp.yaml", &extra);
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains("has a `plan`"), "{}", out.stderr);
    }
}

#[test]
fn a_plan_with_hatch_rate_or_duration_is_a_usage_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("load-plan-bad.yaml");
    std::fs::write(
        &file,
        "scenarios:\n  - name: bad\n    clauses: [LOAD-NO-5XX]\n    load:\n      plan: \"2,1s;0,1s\"\n      hatch_rate: 2\n      duration: 1s\n      identities: shared\n      tasks: [{endpoint: list_sandboxes}]\n      no_5xx_clause: LOAD-NO-5XX\n",
    )
    .unwrap();
    let out = load(dir.path(), file.to_str().unwrap(), &[]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("load-plan-bad.yaml:6:")
            && out.stderr.contains("`hatch_rate` and `plan`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("load-plan-bad.yaml:7:")
            && out.stderr.contains("`duration` and `plan`"),
        "{}",
        out.stderr
    );
}

/// `load --spec` judges (and the embedded server enforces) the contract given, not the built-in
/// one: with a general limit of 7, the accounting's limit is 7 and the swarm is held to it.
#[test]
fn load_honours_another_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/lelantos.yaml"))
            .unwrap()
            .replacen(
                "general: {limit: 100, window: 60s}",
                "general: {limit: 7, window: 60s}",
                1,
            );
    let spec_path = dir.path().join("spec.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let out = load(
        dir.path(),
        "scenarios/load-burst.yaml",
        &["--duration", "2s", "--spec", spec_path.to_str().unwrap()],
    );
    out.assert_code(0, "");
    let j = load_json(dir.path());
    let general: Vec<&serde_json::Value> = j["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["category"] == "general")
        .collect();
    assert!(!general.is_empty(), "{j}");
    for a in general {
        assert_eq!(a["limit"], 7, "{a}");
        // 2 s of 2-second windows: at most the limit in each window touched.
        assert!(a["admitted"].as_u64().unwrap() <= 7 * 3, "{a}");
    }
}

/// Segments that cannot harm the target: a completed segment exits 0 whatever its partial
/// verdict (a job runner never re-sends it), `report merge` refuses an incomplete set, naming
/// the missing part, and flags a part that started late and parts that did not run together.
#[test]
fn merge_refuses_an_incomplete_set_and_flags_a_late_part() {
    let dir = tempfile::tempdir().unwrap();
    // Far enough ahead that segment 0 is still waiting for it on a loaded machine (this file's
    // tests run side by side).
    let start_at =
        humantime::format_rfc3339_millis(std::time::SystemTime::now() + Duration::from_secs(5))
            .to_string();
    let segment = |i: usize, extra: &[&str]| {
        let child = Command::new(BIN)
            .arg("load")
            .arg("--scenario")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load-burst.yaml"))
            .args(["--users", "40", "--duration", "1s", "--segment"])
            .arg(format!("{i}/2"))
            .args(["--start-at", &start_at, "--report-dir"])
            .arg(dir.path().join(format!("part{i}")))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        wait(child, Duration::from_secs(90))
    };
    // Segment 0 over-admits (rl-race): its partial verdict fails, yet it completed: exit 0.
    let out = segment(0, &["--fault", "rl-race"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stderr, out.stdout);
    assert!(
        out.stderr
            .contains(&format!("waiting until {start_at} (--start-at, in ")),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("verdict: FAIL"), "{}", out.stdout);
    assert!(
        out.stderr.contains("segment 0/2: its verdict is partial"),
        "{}",
        out.stderr
    );
    let part0: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("part0/load.json")).unwrap())
            .unwrap();
    let skew = part0["start_skew_ms"].as_f64().expect("start_skew_ms");
    assert!(
        (0.0..1000.0).contains(&skew),
        "segment 0 started {skew} ms late"
    );

    let merge = |parts: &[usize], to: &str| {
        let child = Command::new(BIN)
            .args(["report", "merge"])
            .args(parts.iter().map(|i| dir.path().join(format!("part{i}"))))
            .arg("--report-dir")
            .arg(dir.path().join(to))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait(child, Duration::from_secs(30))
    };
    // Segment 0 of 2 alone is half a swarm.
    let out = merge(&[0], "half");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("report merge: incomplete set: segment 1/2 missing (given: 0/2)"),
        "{}",
        out.stderr
    );

    // Segment 1 starts a second after segment 0 ended: late, and not alongside it.
    std::thread::sleep(Duration::from_secs(1));
    let out = segment(1, &["--quiet"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("warning: --start-at {start_at} was ")),
        "{}",
        out.stderr
    );
    let out = merge(&[0, 1], "merged");
    // The merge decides: segment 0's over-admission fails the swarm.
    assert_eq!(out.code, Some(1), "{}\n{}", out.stderr, out.stdout);
    let merged: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("merged/compliance.json")).unwrap(),
    )
    .unwrap();
    let warnings: Vec<&str> = merged["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("segment 1/2 started ") && w.contains("after its --start-at")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("the parts ran alongside each other for 0s of ")),
        "{warnings:?}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("this verdict is partial")),
        "{warnings:?}"
    );
    let md = std::fs::read_to_string(dir.path().join("merged/compliance.md")).unwrap();
    assert!(md.contains("segment 1/2 started"), "{md}");
}

/// The built-in scenarios are in the binary: a copy of it, run from an empty folder with no
/// checkout in sight, finds `load-burst` by name (and `run --scenarios builtin:…`), and names
/// the built-in ones when a name is wrong.
#[test]
fn built_in_scenarios_work_by_name_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("lelantos-conform");
    std::fs::copy(BIN, &bin).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = |args: &[&str]| {
        let child = Command::new(&bin)
            .args(args)
            .current_dir(&empty)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait(child, Duration::from_secs(90))
    };
    let out = run(&[
        "load",
        "--quiet",
        "--scenario",
        "load-burst",
        "--users",
        "10",
        "--duration",
        "1s",
        "--report-dir",
        "r",
    ]);
    out.assert_code(0, "load --scenario load-burst from an empty folder: ");
    assert!(empty.join("r/load.json").exists());
    let out = run(&[
        "run",
        "--quiet",
        "--scenarios",
        "builtin:api-keys",
        "--only",
        "AUTH-KEY-HEADER",
        "--report-dir",
        "r2",
    ]);
    out.assert_code(0, "run --scenarios builtin:api-keys: ");
    let out = run(&["load", "--scenario", "load-brust"]);
    out.assert_code(2, "a wrong name: ");
    assert!(
        out.stderr.contains("did you mean `load-burst`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("load-mixed"), "{}", out.stderr);
    let out = run(&["list", "scenarios"]);
    assert!(out.stdout.contains("builtin:api-keys"), "{}", out.stdout);
}
