//! Rate limits: generated request mixes across categories and identities never get more than a
//! category's limit admitted for one identity from a fresh state (plus what could have refilled
//! while the mix ran: the RL-* burst reading, algorithm-independent).
//!
//! Freshness without waiting: every case creates its own identities (new API keys, through the
//! configured key), so no case inherits another's budget and the property costs no windows. The
//! mix interleaves the category under test with a little traffic in the others, for one or two
//! identities, sent a few requests at a time (concurrently: a racy limiter shows). The 429s it
//! provokes are judged by the run-wide observers (RL-429-RETRY-AFTER, RL-429-BODY) like every
//! other 429 of the run. The keys a hunt created are revoked when it ends (through the configured
//! key, paced), so a run against a real deployment does not leave them behind; the finding says
//! how many were and were not.

use std::collections::BTreeMap;
use std::sync::Mutex;

use proptest::prelude::*;
use rand::seq::SliceRandom;

use super::{Ctx, Hunt, Judged, hunt, skipped, with_header};
use crate::probe::{Outcome, Request};
use crate::scenario::CategoryProbe;
use crate::verdict::Status;

#[derive(Debug, Clone)]
pub struct Mix {
    /// Requests beyond the limit in the category under test, per identity.
    pub over: Vec<u32>,
    /// Requests in each other category, per identity (noise).
    pub noise: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The interleaving.
    pub order: u64,
}

/// `over` is a tenth to a quarter of the limit (at least 1 to 4): enough that a limiter off by a
/// few shows above what could refill while a slow mix ran, few enough to stay cheap.
fn mix(limit: u32) -> impl Strategy<Value = Mix> {
    (
        proptest::collection::vec((limit / 10).max(1)..=(limit / 4).max(4), 1..=2),
        0u32..=4,
        4usize..=16,
        // The interleaving does not shrink: no order is simpler than another.
        any::<u64>().no_shrink(),
    )
        .prop_map(|(over, noise, concurrency, order)| Mix {
            over,
            noise,
            concurrency,
            order,
        })
}

pub(super) fn is_refusal(ctx: &Ctx, o: &Outcome) -> bool {
    crate::rate::decision(&ctx.client.spec, o.status()) == crate::rate::Decision::Refused
}

/// A fresh identity: a new API key created through the configured one, with a sandbox for the
/// endpoints that need one. Returns the key, the parameters its requests take, and when the
/// sandbox's creation was sent (the identity's first charge: refill counts from there); the
/// key's id (for revoking it) goes to `created`.
pub(super) fn fresh_identity(
    ctx: &Ctx,
    needs_sandbox: bool,
    created: &Mutex<Vec<String>>,
) -> Option<(String, BTreeMap<String, String>, Option<f64>)> {
    let h = &ctx.client.spec.auth.api_key.header;
    let creator = ctx.var("api_key")?;
    let o = ctx.client.send_paced(
        with_header(ctx.request("create_api_key", &[]), h, creator),
        3,
    )?;
    let body = o.response()?.json()?;
    let pointer = ctx
        .client
        .spec
        .endpoint("create_api_key")?
        .returns
        .get("key")?
        .clone();
    let key = body.pointer(&pointer)?.as_str()?.to_string();
    ctx.client.learn(&[&key]);
    let id = ctx
        .client
        .spec
        .endpoint("create_api_key")?
        .returns
        .get("id")
        .and_then(|p| body.pointer(p))
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    if let Some(id) = id {
        created.lock().expect("lock").push(id);
    }
    let mut params = BTreeMap::new();
    params.insert("path".to_string(), "property.txt".to_string());
    let mut charged = None;
    if needs_sandbox {
        let o = ctx.client.send_paced(
            with_header(ctx.request("create_sandbox", &[]), h, key.clone()),
            3,
        )?;
        let body = o.response()?.json()?;
        let pointer = ctx
            .client
            .spec
            .endpoint("create_sandbox")?
            .returns
            .get("id")?
            .clone();
        let id = match body.pointer(&pointer)? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        params.insert("id".to_string(), id);
        charged = Some(o.at_ms);
        // The file the downloads read: a download of a missing file is a client error, which
        // is RL-NO-BYPASS's to judge, not the limit's.
        if ctx.client.spec.endpoint("upload_file").is_some() {
            let p: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut up = with_header(ctx.request("upload_file", &p), h, key.clone());
            up.body = Some("property".into());
            ctx.client.send_paced(up, 3)?;
        }
    }
    Some((key, params, charged))
}

pub fn run_with(ctx: &Ctx, clauses: &[&'static str], probes: &[CategoryProbe]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let header = ctx.client.spec.auth.api_key.header.clone();
    for &clause in clauses {
        let seed = ctx.seed();
        let Some(under_test) = probes.iter().find(|p| p.clause == clause) else {
            out.push(skipped(
                clause,
                Status::Inconclusive,
                "the property scenario names no category for this clause",
            ));
            continue;
        };
        if ctx.var("api_key").is_none() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no API key in the profile (api_key)",
            ));
            continue;
        }
        let spec = ctx.client.spec.clone();
        let Some(cat) = spec
            .rate_limits
            .categories
            .get(&under_test.category)
            .cloned()
        else {
            continue;
        };
        let needs_sandbox = probes.iter().any(|p| {
            spec.endpoint(&p.endpoint)
                .is_some_and(|e| e.path.contains("{id}"))
        });
        let cases = ctx.cases.min(8);
        let created = Mutex::new(Vec::new());
        let once = |m: &Mix| {
            // Identities, each fresh; what set-up already used in each category counts.
            let mut ids = Vec::new();
            for _ in &m.over {
                let Some(id) = fresh_identity(ctx, needs_sandbox, &created) else {
                    return Judged::Unjudged;
                };
                ids.push(id);
            }
            let mut used: BTreeMap<(usize, String), u32> = BTreeMap::new();
            if needs_sandbox {
                for i in 0..ids.len() {
                    for name in ["create_sandbox", "upload_file"] {
                        if let Some(e) = spec.endpoint(name) {
                            *used.entry((i, e.category.clone())).or_default() += 1;
                        }
                    }
                }
            }
            // The sequence: (identity, probe index).
            let mut seq: Vec<(usize, usize)> = Vec::new();
            for (i, over) in m.over.iter().enumerate() {
                for (pi, p) in probes.iter().enumerate() {
                    let n = if p.clause == clause {
                        cat.limit + over
                    } else {
                        m.noise
                    };
                    seq.extend(std::iter::repeat_n((i, pi), n as usize));
                }
            }
            seq.shuffle(&mut crate::seed::from_u64(m.order));
            let requests: Vec<Request> = seq
                .iter()
                .map(|(i, pi)| {
                    let (key, params, _) = &ids[*i];
                    let p: Vec<(&str, &str)> = params
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    with_header(ctx.request(&probes[*pi].endpoint, &p), &header, key.clone())
                })
                .collect();
            let mut outcomes = Vec::with_capacity(requests.len());
            for chunk in requests.chunks(m.concurrency.max(1)) {
                let Some(mut o) = ctx.client.send_all(chunk.to_vec()) else {
                    return Judged::Unjudged;
                };
                outcomes.append(&mut o);
            }
            // Judge each identity's lane in the category under test.
            for i in 0..ids.len() {
                let lane: Vec<&Outcome> = seq
                    .iter()
                    .zip(&outcomes)
                    .filter(|((id, pi), _)| *id == i && probes[*pi].category == under_test.category)
                    .map(|(_, o)| o)
                    .collect();
                // A 5xx or no answer is no decision of the limiter: not an admission.
                let admitted: Vec<&&Outcome> = lane
                    .iter()
                    .filter(|o| {
                        crate::rate::decision(&spec, o.status()) == crate::rate::Decision::Admitted
                    })
                    .collect();
                let before = used
                    .get(&(i, under_test.category.clone()))
                    .copied()
                    .unwrap_or(0);
                let total = before + admitted.len() as u32;
                // From the identity's first charge in this category: the sandbox its set-up
                // created counts, and so does what refilled since.
                let from = lane.first().map(|o| o.at_ms).unwrap_or(0.0);
                let from = match ids[i].2 {
                    Some(at) if before > 0 => from.min(at),
                    _ => from,
                };
                let to = admitted.iter().map(|o| o.done_ms()).fold(from, f64::max);
                let bound = crate::rate::from_fresh(
                    spec.rate_limits.algorithm,
                    cat.limit,
                    cat.window,
                    std::time::Duration::from_secs_f64((to - from).max(0.0) / 1000.0),
                );
                if u64::from(total) > bound.max {
                    let ex = admitted
                        .iter()
                        .rev()
                        .take(1)
                        .map(|o| (**o).clone())
                        .chain(
                            lane.iter()
                                .find(|o| is_refusal(ctx, o))
                                .map(|o| (*o).clone()),
                        )
                        .collect();
                    return Judged::Broke(
                        format!(
                            "identity {} of {}: {total} of {} requests in {} admitted from fresh over {:.0} ms ({} allow at most {}); mix: {} at a time, {} requests in each other category",
                            i + 1,
                            ids.len(),
                            lane.len() as u32 + before,
                            under_test.category,
                            to - from,
                            bound.readings,
                            bound.max,
                            m.concurrency,
                            m.noise
                        ),
                        ex,
                    );
                }
            }
            Judged::Held
        };
        // An over-admission is re-run at once on fresh identities before proptest sees it: a
        // fixed window rolling over mid-mix admits more once, a broken limiter does so again.
        let mut h = hunt(
            &ctx.client,
            clause,
            cases,
            seed,
            mix(cat.limit),
            |m| match once(m) {
                Judged::Broke(..) => once(m),
                other => other,
            },
        );
        h.about = format!(
            "mixes of {} (limit {} + {}..{}) for 1-2 fresh identities with 0-4 requests in each other category, 4-16 at a time",
            under_test.category,
            cat.limit,
            (cat.limit / 10).max(1),
            (cat.limit / 4).max(4)
        );
        let created = created.into_inner().expect("lock");
        if !created.is_empty() {
            let revoked = revoke(ctx, &created);
            h.about.push_str(&format!(
                "; {revoked} of the {} API keys it created revoked afterwards",
                created.len()
            ));
        }
        out.push(h);
    }
    out
}

/// Revokes the keys a hunt created, through the configured key (paced on 429s; best effort: a
/// key the target would not revoke, or the request budget running out, leaves it). Returns how
/// many were revoked.
pub(super) fn revoke(ctx: &Ctx, ids: &[String]) -> usize {
    let (Some(creator), Some(_)) = (
        ctx.var("api_key"),
        ctx.client.spec.endpoint("revoke_api_key"),
    ) else {
        return 0;
    };
    let h = &ctx.client.spec.auth.api_key.header;
    ids.iter()
        .filter(|id| {
            let request = ctx.request("revoke_api_key", &[("id", id.as_str())]);
            ctx.client
                .send_paced(with_header(request, h, creator), 3)
                .and_then(|o| o.status())
                .is_some_and(|s| (200..300).contains(&s))
        })
        .count()
}
