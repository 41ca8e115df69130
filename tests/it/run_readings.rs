//! The rate-limit readings hold against a correct server whatever the key's history: a key half
//! used before the run, a run right after another run, and a key another client uses a little
//! during the run (declared with `shared_use`). Each under every limiter, through a profile whose
//! credentials come from files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::profiles::profile;
use crate::support::temp_dir;
use lelantos_conform::reference::{self, Credentials, LimiterKind, ServeOptions};
use lelantos_conform::run::{RunArgs, run};
use lelantos_conform::spec::Spec;
use lelantos_conform::verdict::{RunVerdict, Status};

const WINDOW: Duration = Duration::from_secs(2);

async fn check(profile: &Path, what: &str) {
    let reports = temp_dir();
    let out = run(RunArgs {
        profile: Some(profile.to_path_buf()),
        report_dir: Some(reports.path().to_path_buf()),
        format: Some("json".into()),
        seed: Some(3),
        quiet: true,
        ..RunArgs::default()
    })
    .await
    .unwrap();
    let bad: Vec<String> = out
        .report
        .clauses
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Inconclusive))
        // The timing screen may honestly be inconclusive on a loaded machine (too few samples
        // or too much noise for its 5-second budget); it must never fail here.
        .filter(|c| !(c.id == "AUTH-ADMIN-CONSTANT-TIME" && c.status == Status::Inconclusive))
        .map(|c| format!("{}: {}", c.id, c.reason))
        .collect();
    assert_eq!(out.report.verdict, RunVerdict::Pass, "{what}: {bad:#?}");
    assert!(bad.is_empty(), "{what}: {bad:#?}");
}

/// Uses the key a little in every category, as an application would.
async fn use_key(client: &reqwest::Client, creds: &Credentials, general: usize, creations: usize) {
    for _ in 0..general {
        let _ = client
            .get(format!("{}/sandboxes", creds.base_url))
            .header("X-API-Key", &creds.api_key)
            .send()
            .await;
    }
    for _ in 0..creations {
        let _ = client
            .post(format!("{}/sandboxes", creds.base_url))
            .header("X-API-Key", &creds.api_key)
            .header("content-type", "application/json")
            .body(r#"{"name":"app"}"#)
            .send()
            .await;
    }
}

async fn half_used_then_again(limiter: LimiterKind) {
    let spec = Arc::new(Spec::builtin());
    let server = reference::start(
        spec,
        ServeOptions {
            addr: ([127, 0, 0, 1], 0).into(),
            window: Some(WINDOW),
            limiter,
            ..ServeOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = temp_dir();
    let profile = profile(dir.path(), &server.credentials, WINDOW.as_secs(), "");
    let client = reqwest::Client::new();
    use_key(&client, &server.credentials, 50, 5).await;
    check(
        &profile,
        &format!("{limiter:?}, key half used before the run"),
    )
    .await;
    check(&profile, &format!("{limiter:?}, a run right after another")).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_used_key_and_back_to_back_runs_pass_under_every_limiter() {
    futures::future::join_all(
        [
            LimiterKind::Fixed,
            LimiterKind::Sliding,
            LimiterKind::Bucket,
            LimiterKind::Gcra,
        ]
        .map(half_used_then_again),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_shared_with_a_light_user_passes_when_declared() {
    let spec = Arc::new(Spec::builtin());
    let server = reference::start(
        spec,
        ServeOptions {
            addr: ([127, 0, 0, 1], 0).into(),
            window: Some(WINDOW),
            ..ServeOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = temp_dir();
    // About three requests a window from the other client; declare a little more.
    let profile = profile(
        dir.path(),
        &server.credentials,
        WINDOW.as_secs(),
        "  shared_use: 5\n",
    );
    let creds = server.credentials.clone();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let background = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if *stopped.borrow() {
                break;
            }
            use_key(&client, &creds, 1, 0).await;
            let _ = tokio::time::timeout(Duration::from_millis(700), stopped.changed()).await;
        }
    });
    check(&profile, "a key another client uses a little").await;
    let _ = stop.send(true);
    background.await.unwrap();
    server.shutdown().await;
}
