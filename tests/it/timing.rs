//! The timing test against the embedded reference server: the `admin-timing-leak` fault at
//! 1 µs per matching byte fails at the default budget; the faultless server never fails; the
//! reports carry the statistics and the CDF plot. The tests take turns: two timing tests at once
//! on a shared machine would each be the other's noise.

use lelantos_conform::reference::Fault;
use lelantos_conform::run::{RunArgs, TimingArgs, run};
use lelantos_conform::verdict::{RunVerdict, Status};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_of_one_microsecond_per_byte_fails_at_the_default_budget() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = crate::support::temp_dir();
    let outcome = run(RunArgs {
        report_dir: Some(dir.path().to_path_buf()),
        seed: Some(5),
        quiet: true,
        faults: vec![Fault::AdminTimingLeak],
        leak_ns: Some(1000),
        timing: Some(TimingArgs::default()),
        ..RunArgs::default()
    })
    .await
    .unwrap();
    let t = &outcome.report.timing[0];
    assert_eq!(t.status, Status::Fail, "{}", t.reason);
    assert_eq!(outcome.report.verdict, RunVerdict::Fail);
    assert_eq!(outcome.exit_code(), 1);
    // Only the timing clause is judged.
    assert_eq!(outcome.report.clauses.len(), 1);
    assert_eq!(outcome.report.clauses[0].id, "AUTH-ADMIN-CONSTANT-TIME");
    assert!(t.reason.contains("Welch's t"), "{}", t.reason);
    let json = std::fs::read_to_string(dir.path().join("compliance.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["timing"][0]["status"], "fail");
    assert!(v["timing"][0]["tests"].as_array().unwrap().len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_faultless_server_does_not_fail_and_says_what_it_could_see() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = crate::support::temp_dir();
    let outcome = run(RunArgs {
        report_dir: Some(dir.path().to_path_buf()),
        seed: Some(6),
        quiet: true,
        timing: Some(TimingArgs {
            samples: Some(3000),
            ..TimingArgs::default()
        }),
        ..RunArgs::default()
    })
    .await
    .unwrap();
    let t = &outcome.report.timing[0];
    assert_ne!(t.status, Status::Fail, "{}", t.reason);
    assert_ne!(outcome.exit_code(), 1);
    assert_eq!(t.samples, 3000);
    assert_eq!(t.throttled, 0, "the 1 ms windows keep the throttle away");
    // Never a bare "constant-time": the bound and the sample count are in the reason.
    assert!(t.detectable_ns.is_some());
    assert!(t.reason.contains("3000 samples"), "{}", t.reason);
    for c in &t.classes {
        assert_eq!(c.samples, 1000);
        assert_eq!(c.cdf_ns.len(), 200);
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<svg class=\"cdf\""));
    assert!(html.contains("Timing: admin-timing.yaml#admin-constant-time"));
}
