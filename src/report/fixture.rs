//! A realistic run report for the renderers' tests: one clause in every status, a failing `must`
//! clause with two exchanges, a failing `should` clause, scenarios, and a rate-limit timeline with
//! a drain, a burst, a probe, a retry and two waits.

use crate::gate::FailOn;
use crate::spec::Level;
use crate::verdict::{ClauseVerdict, Evidence, Exchange, RunVerdict, Status, summarize};

use super::{RunReport, TargetInfo, Tool};
use crate::verdict::{ScenarioResult, Timeline, TimelineEvent, TimelineWait};

fn clause(
    id: &str,
    area: &str,
    level: Level,
    status: Status,
    title: &str,
    reason: &str,
) -> ClauseVerdict {
    ClauseVerdict {
        id: id.into(),
        level,
        area: area.into(),
        status,
        title: title.into(),
        reason: reason.into(),
        scenarios: Vec::new(),
        evidence: Vec::new(),
    }
}

fn exchange(at_ms: f64, status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
    Exchange {
        method: "GET".into(),
        url: "http://127.0.0.1:43111/v1/sandboxes".into(),
        request_headers: vec![("x-api-key".into(), "lel_…a1b2".into())],
        request_body: None,
        status: Some(status),
        response_headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        response_body: Some(body.into()),
        error: None,
        at_ms,
        elapsed_ms: 2.4,
        curl: Some(
            "curl -sS -i -H 'X-API-Key: '\"$LELANTOS_API_KEY\" 'http://127.0.0.1:43111/v1/sandboxes'"
                .into(),
        ),
    }
}

pub fn report() -> RunReport {
    let burst = "rate-limits.yaml#general-burst";
    let mut pass = clause(
        "AUTH-KEY-HEADER",
        "api-key",
        Level::Must,
        Status::Pass,
        "An API key is sent in the X-API-Key header",
        "a valid key in X-API-Key was admitted (200)",
    );
    pass.scenarios = vec!["auth.yaml#api-key".into()];
    pass.evidence = vec![Evidence {
        script: None,
        note: "GET /v1/sandboxes with the key answered 200".into(),
        exchanges: Vec::new(),
    }];
    let skipped = clause(
        "AUTH-KEY-REVOKED",
        "api-key",
        Level::Must,
        Status::Skipped,
        "A revoked key is refused",
        "needs credential api_key_revoked, not given in the profile",
    );
    let not_testable = clause(
        "AUTH-KEY-HASHED",
        "api-key",
        Level::Must,
        Status::NotTestable,
        "Keys are stored hashed",
        "storage is not observable from outside",
    );
    let mut inconclusive = clause(
        "AUTH-ADMIN-CONSTANT-TIME",
        "admin-token",
        Level::Must,
        Status::Inconclusive,
        "The admin token is compared in constant time",
        "40 samples per group, 200 needed for a decision",
    );
    inconclusive.scenarios = vec!["timing.yaml#admin-compare".into()];
    let mut fail = clause(
        "RL-429-RETRY-AFTER",
        "rate-limit",
        Level::Must,
        Status::Fail,
        "A 429 carries a Retry-After header | in seconds",
        "the 429 had no Retry-After header",
    );
    fail.scenarios = vec![burst.into()];
    fail.evidence = vec![Evidence {
        script: None,
        note: "the 11th request of the burst was refused without Retry-After".into(),
        exchanges: vec![
            exchange(
                2095.0,
                200,
                &[("content-type", "application/json")],
                "{\"sandboxes\":[]}",
            ),
            exchange(
                2100.0,
                429,
                &[("content-type", "application/json")],
                "{\"error\":\"rate limit exceeded\"}",
            ),
        ],
    }];
    let mut should_fail = clause(
        "HTTP-WWW-AUTHENTICATE",
        "general",
        Level::Should,
        Status::Fail,
        "A 401 carries WWW-Authenticate",
        "401 without WWW-Authenticate",
    );
    should_fail.scenarios = vec!["auth.yaml#no-credentials".into()];
    should_fail.evidence = vec![Evidence {
        script: None,
        note: "no credentials".into(),
        exchanges: vec![Exchange {
            request_headers: Vec::new(),
            ..exchange(12.0, 401, &[], "{\"error\":\"unauthorized\"}")
        }],
    }];
    let clauses = vec![pass, skipped, not_testable, inconclusive, fail, should_fail];

    let mut events = Vec::new();
    let mut event = |at_ms: f64, status: Option<u16>, phase: &str, retry_after: Option<u64>| {
        events.push(TimelineEvent {
            at_ms,
            elapsed_ms: 2.0,
            status,
            phase: phase.into(),
            retry_after,
        })
    };
    // The drain: what was left of the window, then the first 429.
    for i in 0..4 {
        event(1000.0 + 6.0 * i as f64, Some(200), "drain", None);
    }
    event(1024.0, Some(429), "drain", Some(2));
    // The burst from a fresh state: the limit (10) admitted, then 429s and one reset.
    for i in 0..14 {
        let status = if i < 10 { Some(200) } else { Some(429) };
        event(3040.0 + 5.0 * i as f64, status, "burst", None);
    }
    event(3115.0, None, "burst", None);
    event(3120.0, Some(200), "probe", None);
    event(5130.0, Some(200), "retry", None);
    let timeline = Timeline {
        scenario: burst.into(),
        category: "general".into(),
        clause: Some("RL-429-RETRY-AFTER".into()),
        limit: 10,
        window_ms: 2000,
        events,
        waits: vec![
            TimelineWait {
                from_ms: 1030.0,
                to_ms: 3030.0,
                reason: "fresh state: one window".into(),
            },
            TimelineWait {
                from_ms: 3125.0,
                to_ms: 5125.0,
                reason: "Retry-After: 2 s".into(),
            },
        ],
    };

    RunReport {
        load: None,
        tool: Tool::default(),
        target: TargetInfo {
            base_url: "http://127.0.0.1:43111".into(),
            embedded: true,
            ..TargetInfo::default()
        },
        seed: 1234,
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_ms: 5210,
        verdict: FailOn::default().verdict(&clauses, false).0,
        gate: FailOn::default().judge(&clauses),
        summary: summarize(&clauses),
        clauses,
        error: None,
        scenarios: vec![
            ScenarioResult {
                name: "auth.yaml#api-key".into(),
                kind: "steps".into(),
                clauses: vec!["AUTH-KEY-HEADER".into()],
                duration_ms: 40,
                requests: 3,
                note: None,
                ..Default::default()
            },
            ScenarioResult {
                name: burst.into(),
                kind: "steps".into(),
                clauses: vec!["RL-429-RETRY-AFTER".into(), "RL-GENERAL-LIMIT".into()],
                duration_ms: 4200,
                requests: 21,
                note: None,
                ..Default::default()
            },
            ScenarioResult {
                name: "timing.yaml#admin-compare".into(),
                kind: "timing".into(),
                clauses: vec!["AUTH-ADMIN-CONSTANT-TIME".into()],
                duration_ms: 900,
                requests: 80,
                note: Some("stopped early: sample budget".into()),
                ..Default::default()
            },
        ],
        timelines: vec![timeline],
        timing: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The same run, ended by an error.
pub fn errored() -> RunReport {
    let mut r = report();
    r.verdict = RunVerdict::Error;
    r.error = Some("target unreachable: connection refused <127.0.0.1:43111>".into());
    r
}

/// The fixture with hostile text planted in a reason: markup, quotes and control characters.
pub fn hostile() -> RunReport {
    let mut r = report();
    r.clauses[4].reason = "<script>alert('x')</script> & \"quoted\" \u{1b}[31mred\u{0} end".into();
    r
}
