//! Refresh tokens are single-use: N refreshes of one token sent at once admit at most one (the
//! race), and a used token stays refused, however many times and after however many rotations it
//! is presented again. Each case starts from a fresh login, since replaying a used token may
//! (rightly) end its whole family.

use super::{Ctx, Hunt, Judged, accepted, hunt, skipped};
use crate::verdict::Status;

/// The new refresh token a successful refresh returned.
fn returned_refresh(ctx: &Ctx, o: &crate::probe::Outcome) -> Option<String> {
    let body = o.response()?.json()?;
    let e = ctx.client.spec.endpoint("refresh")?;
    let pointer = e.returns.get("refresh_token")?;
    let t = body.pointer(pointer)?.as_str()?.to_string();
    ctx.client.learn(&[&t]);
    Some(t)
}

fn over(ctx: &Ctx, o: &crate::probe::Outcome) -> bool {
    o.status() == Some(ctx.client.spec.rate_limits.over_limit.status)
}

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    for &clause in clauses {
        let seed = ctx.seed();
        if ctx.var("email").is_none() || ctx.var("password").is_none() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no login credentials (email, password)",
            ));
            continue;
        }
        let cases = ctx.cases.min(12);
        let mut h = match clause {
            "AUTH-REFRESH-RACE" => hunt(&ctx.client, clause, cases, seed, 2usize..=8, |n| {
                let Some((_, r)) = ctx.login() else {
                    return Judged::Unjudged;
                };
                let req = ctx.request_with("refresh", &[("refresh_token", &r)]);
                let Some(outcomes) = ctx.client.send_all(vec![req; *n]) else {
                    return Judged::Unjudged;
                };
                let won: Vec<_> = outcomes.iter().filter(|o| accepted(o)).cloned().collect();
                for o in &won {
                    let _ = returned_refresh(ctx, o);
                }
                if won.len() > 1 {
                    Judged::Broke(
                        format!(
                            "{} of {n} concurrent refreshes of one token succeeded",
                            won.len()
                        ),
                        won,
                    )
                } else if outcomes.iter().any(|o| over(ctx, o)) && won.is_empty() {
                    Judged::Unjudged
                } else {
                    Judged::Held
                }
            }),
            "AUTH-REFRESH-SINGLE-USE" => hunt(
                &ctx.client,
                clause,
                cases,
                seed,
                (0usize..3, 1usize..4),
                |(rotations, replays)| {
                    // Log in, refresh `rotations + 1` times in a row, then replay the first token.
                    let Some((_, first)) = ctx.login() else {
                        return Judged::Unjudged;
                    };
                    let mut current = first.clone();
                    let mut first_use = None;
                    for _ in 0..=*rotations {
                        let req = ctx.request_with("refresh", &[("refresh_token", &current)]);
                        let Some(o) = ctx.client.send_paced(req, 3) else {
                            return Judged::Unjudged;
                        };
                        if !accepted(&o) {
                            // The target refused a fresh token: AUTH-REFRESH-* steps judge that.
                            return Judged::Unjudged;
                        }
                        let Some(next) = returned_refresh(ctx, &o) else {
                            return Judged::Unjudged;
                        };
                        first_use.get_or_insert(o);
                        current = next;
                    }
                    for k in 1..=*replays {
                        let req = ctx.request_with("refresh", &[("refresh_token", &first)]);
                        let Some(o) = ctx.client.send_paced(req, 3) else {
                            return Judged::Unjudged;
                        };
                        if accepted(&o) {
                            let mut ex: Vec<_> = first_use.into_iter().collect();
                            ex.push(o);
                            return Judged::Broke(
                                format!(
                                    "a refresh token used once, then rotated {} time(s) more, was accepted again on replay {k}",
                                    rotations
                                ),
                                ex,
                            );
                        }
                    }
                    Judged::Held
                },
            ),
            _ => continue,
        };
        h.about = match clause {
            "AUTH-REFRESH-RACE" => "2 to 8 concurrent refreshes of a fresh token".into(),
            _ => "replays of a used token after 0 to 2 further rotations".into(),
        };
        out.push(h);
    }
    out
}
