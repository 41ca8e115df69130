//! The property scenarios alone (`--scenarios scenarios/properties.yaml`) against embedded
//! reference servers: every fault in their areas is caught by a property with a shrunk
//! counterexample, the faultless server passes under every limiter, and the same seed gives the
//! same report apart from times.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lelantos_conform::reference::{Fault, LimiterKind};
use lelantos_conform::report::RunOutcome;
use lelantos_conform::run::{RunArgs, run};
use lelantos_conform::verdict::{RunVerdict, Status};
use tokio::sync::Semaphore;

/// The faults in the properties' areas, each with the clause that must fail.
const CAUGHT: &[(Fault, &str)] = &[
    (Fault::ApikeyPrefixOnly, "AUTH-KEY-UNKNOWN"),
    (Fault::ApikeyRevokedAccepted, "AUTH-KEY-REVOKED"),
    (Fault::JwtAlgNone, "AUTH-TOKEN-ALG-NONE"),
    (Fault::JwtNoSignatureCheck, "AUTH-TOKEN-BAD-SIGNATURE"),
    (Fault::JwtIgnoresExp, "AUTH-TOKEN-EXPIRED"),
    (Fault::JwtRefreshAsAccess, "AUTH-REFRESH-NOT-ACCESS"),
    (Fault::JwtAccessAsRefresh, "AUTH-ACCESS-NOT-REFRESH"),
    (Fault::RefreshReusable, "AUTH-REFRESH-SINGLE-USE"),
    (Fault::RefreshRace, "AUTH-REFRESH-RACE"),
    (Fault::AdminAcceptsApikey, "AUTH-ADMIN-REFUSES-APIKEY"),
    (Fault::AdminAcceptsBearer, "AUTH-ADMIN-REFUSES-BEARER"),
    (Fault::AdminPrefixMatch, "AUTH-ADMIN-EXACT"),
    (Fault::RlOffByOne, "RL-GENERAL-LIMIT"),
    // A racy limiter over-admits in whichever category the concurrent mix hits first.
    (Fault::RlRace, "RL-*-LIMIT"),
    (Fault::RlCreationUnlimited, "RL-CREATION-LIMIT"),
    (Fault::RlFileOpsAsGeneral, "RL-FILES-LIMIT"),
    // Judged by the run-wide observers on the 429s the rate-limit mixes provoke.
    (Fault::RlNoRetryAfter, "RL-429-RETRY-AFTER"),
    (Fault::RlRetryAfterMs, "RL-429-RETRY-AFTER"),
    (Fault::RlBodyNotJson, "RL-429-BODY"),
];

/// A run's arguments, and the folder its reports go to (removed when dropped).
fn args(faults: Vec<Fault>, limiter: LimiterKind, seed: u64) -> (RunArgs, tempfile::TempDir) {
    let dir = crate::support::temp_dir();
    (
        RunArgs {
            scenarios: vec![PathBuf::from("scenarios/properties.yaml")],
            report_dir: Some(dir.path().to_path_buf()),
            format: Some("json".into()),
            seed: Some(seed),
            quiet: true,
            limiter: Some(limiter),
            faults,
            ..RunArgs::default()
        },
        dir,
    )
}

fn failing(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .report
        .clauses
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| format!("{}: {}", c.id, c.reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_in_their_areas_is_caught_by_a_property() {
    let permits = Arc::new(Semaphore::new(2));
    let mut tasks = Vec::new();
    for &(fault, clause) in CAUGHT {
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let _p = permits.acquire().await.unwrap();
            let (mut a, _dir) = args(vec![fault], LimiterKind::Fixed, 7);
            if clause.starts_with("RL-") && clause.ends_with("-LIMIT") {
                // A mix is judged against what could have refilled while it ran (a token
                // bucket's reading): at the embedded 2 s window a general token refills every
                // 20 ms, so on a loaded machine a mix outlasts it and a limiter one over passes.
                // At 60 s windows (as deployed) one refills every 600 ms; the mixes create fresh
                // identities, so the longer window costs no waiting.
                a.window = Some(Duration::from_secs(60));
                a.only = Some("RL-*".into());
            }
            let outcome = tokio::time::timeout(Duration::from_secs(60), run(a))
                .await
                .unwrap_or_else(|_| panic!("{fault}: the run did not finish in time"))
                .unwrap_or_else(|e| panic!("{fault}: the run errored: {e}"));
            (fault, clause, outcome)
        }));
    }
    let mut problems = Vec::new();
    for t in tasks {
        let (fault, clause, outcome) = t.await.unwrap();
        let failing = failing(&outcome);
        // The clause named here, or another the fault breaks (an off-by-one limiter may show in
        // the smallest category first).
        let pattern = wildmatch::WildMatch::new(&format!("{clause}:*"));
        let hit = failing.iter().find(|f| {
            pattern.matches(f)
                || fault
                    .breaks()
                    .iter()
                    .any(|b| f.starts_with(&format!("{b}:")))
        });
        match hit {
            None => {
                let judged: Vec<String> = outcome
                    .report
                    .clauses
                    .iter()
                    .filter(|c| wildmatch::WildMatch::new(clause).matches(&c.id))
                    .map(|c| format!("{} {:?}: {}", c.id, c.status, c.reason))
                    .collect();
                problems.push(format!(
                    "{fault}: {clause} did not fail; judged {judged:#?}; failing: {failing:#?}"
                ))
            }
            Some(reason) if clause.starts_with("AUTH") => {
                // A property's failure shows the shrunk counterexample and the seed.
                if !reason.contains("counterexample") || !reason.contains("--seed 7") {
                    problems.push(format!("{fault}: no counterexample in `{reason}`"));
                }
            }
            Some(_) => {}
        }
        if outcome.report.verdict != RunVerdict::Fail {
            problems.push(format!("{fault}: verdict {:?}", outcome.report.verdict));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faultless_server_passes_every_property_under_every_limiter() {
    let limiters = [
        LimiterKind::Fixed,
        LimiterKind::Sliding,
        LimiterKind::Bucket,
        LimiterKind::Gcra,
    ];
    let pattern = regex::Regex::new(r"(\d+) of the (\d+) API keys it created revoked").unwrap();
    for limiter in limiters {
        let (a, _dir) = args(Vec::new(), limiter, 11);
        let outcome = run(a).await.unwrap();
        let bad: Vec<String> = outcome
            .report
            .clauses
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Inconclusive))
            .map(|c| format!("{}: {}", c.id, c.reason))
            .collect();
        assert!(bad.is_empty(), "{limiter:?}: {bad:#?}");
        assert_eq!(outcome.report.verdict, RunVerdict::Pass, "{limiter:?}");
        // The rate-limit property creates keys to start fresh; it revokes every one afterwards.
        for id in ["RL-GENERAL-LIMIT", "RL-CREATION-LIMIT", "RL-FILES-LIMIT"] {
            let reason = &outcome
                .report
                .clauses
                .iter()
                .find(|c| c.id == id)
                .unwrap()
                .reason;
            let c = pattern
                .captures(reason)
                .unwrap_or_else(|| panic!("{limiter:?} {id}: no revocation count in `{reason}`"));
            assert!(&c[2] != "0" && c[1] == c[2], "{limiter:?} {id}: {}", &c[0]);
        }
    }
}

/// compliance.json without what depends on the clock.
fn timeless(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("compliance.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in [
                    "started_at",
                    "duration_ms",
                    "at_ms",
                    "elapsed_ms",
                    "base_url",
                    "url",
                    "timelines",
                    "started_ms",
                    "waits",
                ] {
                    m.remove(k);
                }
                // Responses carry the server's dates and its own random ids.
                m.remove("response_headers");
                m.remove("response_body");
                // A replay line holds the target's URL, and the serve command its address,
                // whose port is the run's own.
                let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
                for k in ["curl", "serve_again"] {
                    if let Some(serde_json::Value::String(text)) = m.get_mut(k) {
                        *text = port.replace_all(text, "BASE").into_owned();
                    }
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    // Scenarios finish in any order.
    if let Some(s) = v.get_mut("scenarios").and_then(|s| s.as_array_mut()) {
        s.sort_by_key(|x| x["name"].as_str().unwrap_or("").to_string());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_report() {
    // A faulty server, so the report holds shrunk counterexamples too.
    let faults = vec![Fault::AdminPrefixMatch, Fault::JwtAlgNone];
    // The authentication properties: the rate-limit mixes re-run a case when a fixed window
    // rolls over mid-mix, which depends on the clock, not on the seed.
    let (mut a1, d1) = args(faults.clone(), LimiterKind::Fixed, 99);
    let (mut a2, d2) = args(faults, LimiterKind::Fixed, 99);
    a1.only = Some("AUTH-*".into());
    a2.only = Some("AUTH-*".into());
    // The authentication properties run side by side and share the main key's general budget:
    // under 2 s windows, whether one of them meets a 429 (and is paced, one request more)
    // depends on where the window edges fall, not on the seed. 1 ms windows never refuse.
    a1.window = Some(std::time::Duration::from_millis(1));
    a2.window = Some(std::time::Duration::from_millis(1));
    run(a1).await.unwrap();
    run(a2).await.unwrap();
    let (r1, r2) = (timeless(d1.path()), timeless(d2.path()));
    // Not equal by being empty: both hold the faults' shrunk counterexamples.
    let text = serde_json::to_string(&r1).unwrap();
    assert!(
        text.matches("counterexample").count() >= 2,
        "no counterexample to compare: {text}"
    );
    assert_eq!(
        serde_json::to_string_pretty(&r1).unwrap(),
        serde_json::to_string_pretty(&r2).unwrap()
    );
}

/// Known-good controls: a target that refuses every token (the valid one too) refuses every
/// forgery for no reason of theirs. The forged-token clauses are then inconclusive, never pass,
/// although the step scenarios saw their forgeries refused: the hunt's refused controls outweigh
/// those passes, and the reason says how many controls were sent and how they were answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_refusing_every_token_leaves_the_forgery_clauses_inconclusive() {
    let (mut a, _dir) = args(vec![Fault::BearerRefused], LimiterKind::Fixed, 7);
    a.scenarios = Vec::new();
    let forgeries = [
        "AUTH-TOKEN-ALG-NONE",
        "AUTH-TOKEN-BAD-SIGNATURE",
        "AUTH-TOKEN-EXPIRED",
    ];
    a.only = Some(format!("AUTH-TOKEN-BEARER,{}", forgeries.join(",")));
    let outcome = tokio::time::timeout(Duration::from_secs(90), run(a))
        .await
        .expect("the run finishes")
        .expect("the run completes");
    let clause = |id: &str| {
        outcome
            .report
            .clauses
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id} in the report"))
    };
    assert_eq!(clause("AUTH-TOKEN-BEARER").status, Status::Fail);
    for id in forgeries {
        let c = clause(id);
        assert_eq!(c.status, Status::Inconclusive, "{id}: {}", c.reason);
        assert!(
            c.reason
                .contains("control request(s) with the valid credential refused (401"),
            "{id}: {}",
            c.reason
        );
        assert!(
            c.scenarios.iter().any(|s| s.contains("access-tokens.yaml")),
            "{id}: steps ran too"
        );
    }
}

/// Logins and refreshes are charged to the client address's general budget. The refresh
/// scenario (nearly all logins and refreshes) and the access tokens' login and their at most 8
/// refreshes at the refresh endpoint, together, stay under one window's 100 whatever the seed:
/// the refresh scenario never waits a window for the address (at 60 s windows that wait doubled
/// a whole run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_budget_outlasts_the_refresh_properties_at_every_seed() {
    let limit = u64::from(
        lelantos_conform::spec::Spec::builtin()
            .rate_limits
            .categories["general"]
            .limit,
    );
    // forged-access-tokens: one login, and AUTH-ACCESS-NOT-REFRESH's cases at the refresh
    // endpoint (8 at most).
    let beside = 1 + 8;
    let mut problems = Vec::new();
    for seed in 1..=8 {
        let (mut a, _dir) = args(Vec::new(), LimiterKind::Sliding, seed);
        a.only = Some("AUTH-REFRESH-*".into());
        let outcome = tokio::time::timeout(Duration::from_secs(60), run(a))
            .await
            .expect("the run finishes")
            .expect("the run completes");
        let refresh = outcome
            .report
            .scenarios
            .iter()
            .find(|s| s.name.ends_with("#refresh-single-use"))
            .expect("the refresh scenario ran");
        let spent = refresh.requests + beside;
        if spent >= limit * 9 / 10 || !refresh.waits.is_empty() {
            problems.push(format!(
                "seed {seed}: {} requests and {beside} beside, waited {:?}",
                refresh.requests, refresh.waits
            ));
        }
        assert_eq!(outcome.report.verdict, RunVerdict::Pass, "seed {seed}");
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
