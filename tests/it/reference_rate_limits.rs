//! Rate limits of the faultless reference server, under every algorithm it offers, with short
//! windows so the suite stays fast. Every request loop is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::server::*;
use lelantos_conform::reference::LimiterKind;
use serde_json::json;

fn limit_of(s: &Srv, category: &str) -> usize {
    s.spec.rate_limits.categories[category].limit as usize
}

/// Sequential creations until the first refusal, from a fresh state. A fixed window may start
/// mid-burst; then the burst is repeated once after another fresh wait (as the harness does).
async fn fresh_creation_burst(
    s: &Srv,
    cred: Cred<'_>,
    kind: LimiterKind,
    window: Duration,
) -> (usize, Reply) {
    let limit = limit_of(s, "sandbox_creation");
    for attempt in 0..2 {
        let start = Instant::now();
        let (n, refusal) = s.create_until_refused(cred, limit * 3).await;
        let refusal = refusal.expect("refused within three times the limit");
        let elapsed = start.elapsed();
        let refill = (limit as f64 * elapsed.as_secs_f64() / window.as_secs_f64()).floor() as usize;
        let over = match kind {
            LimiterKind::Fixed | LimiterKind::Sliding => n > limit,
            LimiterKind::Bucket | LimiterKind::Gcra => n > limit + refill,
        };
        if !over || attempt == 1 {
            return (n, refusal);
        }
        tokio::time::sleep(window + Duration::from_millis(50)).await;
    }
    unreachable!()
}

fn retry_after(r: &Reply) -> u64 {
    r.header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in whole seconds")
}

fn check_over_limit(s: &Srv, r: &Reply, category: &str, window: Duration) {
    let o = &s.spec.rate_limits.over_limit;
    assert_eq!(r.status, o.status);
    let ra = retry_after(r);
    assert!(ra >= 1 && ra <= window.as_secs_f64().ceil() as u64, "{ra}");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with(&o.content_type)
    );
    let body = r.json();
    assert_eq!(body["error"], o.body.error.as_str());
    assert_eq!(body[&o.body.retry_after_field], ra);
    let limit = limit_of(s, category);
    if window.subsec_nanos() == 0 {
        assert_eq!(
            r.header("ratelimit-policy").unwrap(),
            format!("\"{category}\";q={limit};w={}", window.as_secs())
        );
        assert!(r.header("ratelimit").unwrap().contains(";r=0;"));
    }
}

async fn burst_retry_after_and_freshness(kind: LimiterKind) {
    let window = Duration::from_secs(2);
    let s = with_window(kind, window, &[]).await;
    let key = s.key();
    let limit = limit_of(&s, "sandbox_creation");

    let (n, refusal) = fresh_creation_burst(&s, key, kind, window).await;
    assert!(n >= limit, "{kind:?}: only {n} admitted");
    assert!(n <= limit + 1, "{kind:?}: {n} admitted");
    check_over_limit(&s, &refusal, "sandbox_creation", window);

    // Categories and identities are independent.
    assert_eq!(s.get("/sandboxes", key).await.status, 200);
    let id = s.own_sandbox().await;
    let r = s
        .send(
            "PUT",
            &format!("/sandboxes/{id}/files?path=f"),
            key,
            Some(b"x".to_vec()),
        )
        .await;
    assert_eq!(r.status, 201);
    let other = Cred::Key(&s.c.api_key_other_team);
    assert_eq!(
        s.post_json("/sandboxes", other, json!({})).await.status,
        201
    );

    // Waiting Retry-After admits.
    let r = s.post_json("/sandboxes", key, json!({})).await;
    if r.status != 201 {
        let ra = retry_after(&r);
        tokio::time::sleep(Duration::from_secs(ra)).await;
        let r = s.post_json("/sandboxes", key, json!({})).await;
        assert_eq!(
            r.status, 201,
            "{kind:?}: refused after waiting Retry-After {ra}"
        );
    }

    // One idle window later the identity is fresh: exactly the limit again.
    tokio::time::sleep(window + Duration::from_millis(20)).await;
    let (n, _) = fresh_creation_burst(&s, key, kind, window).await;
    assert!(
        n == limit || (n == limit + 1 && kind != LimiterKind::Sliding),
        "{kind:?}: {n}"
    );
    s.server.shutdown().await;
}

async fn concurrent_bursts_never_over_admit(kind: LimiterKind) {
    // Long windows: nothing refills during the test.
    let s = Arc::new(with_window(kind, Duration::from_secs(120), &[]).await);
    let limit = limit_of(&s, "sandbox_creation");
    let tasks: Vec<_> = (0..limit * 4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.post_json("/sandboxes", s.key(), json!({})).await.status })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 201 || status == 429, "{status}");
        admitted += usize::from(status == 201);
    }
    assert_eq!(admitted, limit, "{kind:?}");

    let general = limit_of(&s, "general");
    let tasks: Vec<_> = (0..general + 50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.get("/sandboxes", Cred::Key(&s.c.api_key_other_team))
                    .await
                    .status
            })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap() == 200);
    }
    assert_eq!(admitted, general, "{kind:?}");
}

macro_rules! per_algorithm {
    ($($name:ident => $kind:expr),+ $(,)?) => {
        mod sequential {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    burst_retry_after_and_freshness($kind).await;
                }
            )+
        }
        mod concurrent {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    concurrent_bursts_never_over_admit($kind).await;
                }
            )+
        }
    };
}

per_algorithm! {
    fixed => LimiterKind::Fixed,
    sliding => LimiterKind::Sliding,
    bucket => LimiterKind::Bucket,
    gcra => LimiterKind::Gcra,
}

#[tokio::test]
async fn ratelimit_headers_agree_with_the_limits() {
    let s = with_window(LimiterKind::Sliding, Duration::from_secs(30), &[]).await;
    let mut last = usize::MAX;
    for _ in 0..5 {
        let r = s.get("/sandboxes", s.key()).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("ratelimit-policy").unwrap(),
            "\"general\";q=100;w=30".replace("100", &limit_of(&s, "general").to_string())
        );
        let rl = r.header("ratelimit").unwrap().to_string();
        let remaining: usize = rl
            .split(";r=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            remaining < last && remaining < limit_of(&s, "general"),
            "{rl}"
        );
        last = remaining;
    }
    // Sub-second windows have no integer `w`: no RateLimit headers at all.
    let s = with_window(LimiterKind::Fixed, Duration::from_millis(1500), &[]).await;
    let r = s.get("/sandboxes", s.key()).await;
    assert!(r.header("ratelimit-policy").is_none() && r.header("ratelimit").is_none());
}

#[tokio::test]
async fn failed_admin_attempts_are_throttled_per_client() {
    let window = Duration::from_secs(2);
    let s = with_window(LimiterKind::Fixed, window, &[]).await;
    let limit = limit_of(&s, "general");
    let mut first_429 = None;
    for i in 0..limit * 2 {
        let r = s
            .get(
                "/admin/users",
                Cred::Admin("wrong-token-wrong-token-wrong-token"),
            )
            .await;
        if r.status == 429 {
            first_429 = Some((i, r));
            break;
        }
        assert_eq!(r.status, 401);
    }
    let (i, r) = first_429.expect("throttled");
    assert!(i >= limit && i <= 2 * limit, "{i}");
    check_over_limit(&s, &r, "general", window);
    // Locked out: even the right token waits.
    let r = s.get("/admin/users", s.admin()).await;
    assert_eq!(r.status, 429);
    tokio::time::sleep(Duration::from_secs(retry_after(&r))).await;
    assert_eq!(s.get("/admin/users", s.admin()).await.status, 200);
}

#[tokio::test]
async fn login_is_limited_per_client() {
    let s = with_window(LimiterKind::Gcra, Duration::from_secs(60), &[]).await;
    let limit = limit_of(&s, "general");
    let body = json!({"email": s.c.email, "password": "wrong"});
    let mut refused = None;
    let started = std::time::Instant::now();
    for i in 0..limit * 2 {
        let r = s.post_json("/auth/login", Cred::None, body.clone()).await;
        if r.status == 429 {
            refused = Some(i);
            break;
        }
        assert_eq!(r.status, 401);
    }
    // GCRA refills continuously: a slow (loaded) machine may earn a request or two back.
    let refill = (started.elapsed().as_secs_f64() * limit as f64 / 60.0).floor() as usize;
    let refused = refused.expect("the login budget ran out");
    assert!(
        refused >= limit && refused <= limit + refill,
        "refused at {refused}, limit {limit}, refill {refill}"
    );
    // Keys are not affected by the client's login budget.
    assert_eq!(s.get("/sandboxes", s.key()).await.status, 200);
}

#[tokio::test]
async fn idle_identities_are_evicted() {
    let s = start(lelantos_conform::reference::ServeOptions {
        window: Some(Duration::from_millis(300)),
        identities: 300,
        limiter: LimiterKind::Sliding,
        ..Default::default()
    })
    .await;
    for k in &s.c.extra_api_keys {
        assert_eq!(s.get("/sandboxes", Cred::Key(k)).await.status, 200);
    }
    assert!(
        s.server.limiter_states() >= 1,
        "states are kept while active"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.server.limiter_states() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} states left",
            s.server.limiter_states()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
