//! No report, log line or terminal output ever holds a secret: a full run against a server whose
//! faults put credentials into responses (and accept forged tokens), through the binary, then
//! every report file and both output streams are searched for every secret.

mod harness;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lelantos_conform::reference::{self, Fault, ServeOptions};
use lelantos_conform::report::find_secrets;
use lelantos_conform::spec::Spec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_report_or_output() {
    let faults = vec![
        Fault::EchoCredential,
        Fault::KeyListFull,
        Fault::JwtNoSignatureCheck,
        Fault::UnauthAllowed,
    ];
    let opts = ServeOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        window: Some(Duration::from_secs(1)),
        faults,
        ..ServeOptions::default()
    };
    let server = reference::start(Arc::new(Spec::builtin()), opts)
        .await
        .unwrap();
    let dir = harness::tempdir("secrets");
    let profile = harness::profile(&dir, &server.credentials, 1, "");
    let reports = dir.join("reports");
    let out = tokio::task::spawn_blocking({
        let (profile, reports) = (profile.clone(), reports.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_lelantos-conform"))
                .args(["run", "--quiet", "--profile"])
                .arg(&profile)
                .arg("--report-dir")
                .arg(&reports)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "the faults must fail the run");

    let secrets: Vec<String> = harness::secrets(&server.credentials)
        .into_iter()
        .filter(|(role, _)| !matches!(*role, "email" | "other_team_sandbox"))
        .map(|(_, v)| v)
        .collect();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let found = find_secrets(&reports, &refs);
    assert!(found.is_empty(), "secrets in reports: {found:?}");
    for f in [
        "compliance.json",
        "junit.xml",
        "compliance.md",
        "report.html",
    ] {
        assert!(reports.join(f).exists(), "{f} missing");
    }

    // Tokens the target issued during the run are secrets too: no full token anywhere.
    let token = regex::Regex::new(r"sk_lel_[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}").unwrap();
    let key = regex::Regex::new(r"lel_[A-Za-z0-9]{12,}").unwrap();
    let mut texts = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    for entry in std::fs::read_dir(&reports).unwrap() {
        let p = entry.unwrap().path();
        texts.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for (name, text) in &texts {
        for s in &refs {
            assert!(!text.contains(s), "{name} holds a secret");
        }
        assert!(
            !token.is_match(text),
            "{name} holds a full token: {:?}",
            token.find(text).map(|m| &m.as_str()[..12])
        );
        assert!(!key.is_match(text), "{name} holds a full key");
    }
    server.shutdown().await;
}
