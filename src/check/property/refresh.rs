//! The refresh endpoint, attacked on its own. Refresh tokens are single-use: N refreshes of one
//! token sent at once admit at most one (the race), and a used token stays refused, however
//! many times, after however many rotations and in whatever spelling it is presented again. A
//! forged refresh token (every forgery of the access-token catalogue, made from a fresh, unused
//! refresh token) is refused; with the staging secret, so is an expired one and one whose type
//! claim is removed or changed. Each race and replay case starts from a fresh login, since
//! replaying a used token may (rightly) end its whole family; each forgery is made from a fresh,
//! unused refresh token, which a server that does not verify signatures would find current and
//! rotate. A refused forgery leaves the token
//! unused, so the forgery hunts share one login between up to four cases.

use proptest::prelude::*;
use serde_json::Value;

use super::forge;
use super::{Ctx, Hunt, Judged, accepted, hunt, skipped};
use crate::check::jwt::Jwt;
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

/// Uses of one fresh login's tokens by the forgery hunts before the next login.
const USES_PER_LOGIN: u32 = 4;

/// A fresh, unused session and refresh token pair for the forgery hunts. A refused forgery
/// leaves the refresh token unused, so one login serves [`USES_PER_LOGIN`] cases (logins are
/// what a real server makes slow, hashing the password); an accepted one used it up.
struct Fresh<'c> {
    ctx: &'c Ctx,
    pair: std::sync::Mutex<Option<(String, String, u32)>>,
}

impl<'c> Fresh<'c> {
    fn new(ctx: &'c Ctx) -> Self {
        Fresh {
            ctx,
            pair: std::sync::Mutex::new(None),
        }
    }

    fn take(&self) -> Option<(String, String)> {
        let mut p = self.pair.lock().expect("fresh lock");
        if let Some((a, r, n)) = p.as_mut()
            && *n < USES_PER_LOGIN
        {
            *n += 1;
            return Some((a.clone(), r.clone()));
        }
        let (a, r) = self.ctx.login()?;
        *p = Some((a.clone(), r.clone(), 1));
        Some((a, r))
    }

    /// After an accepted forgery: the server rotated the token, the next case logs in again.
    fn used_up(&self) {
        *self.pair.lock().expect("fresh lock") = None;
    }

    /// Judges one forged refresh token made from the fresh pair.
    fn judge(&self, token: &str, shape: String) -> Judged {
        let j = judge_refresh(self.ctx, token, shape);
        if matches!(j, Judged::Broke(..)) {
            self.used_up();
        }
        j
    }
}

/// Presents `token` at the refresh endpoint: accepted breaks the promise.
fn judge_refresh(ctx: &Ctx, token: &str, shape: String) -> Judged {
    let req = ctx.request_with("refresh", &[("refresh_token", token)]);
    let Some(o) = ctx.client.send_paced(req, 2) else {
        return Judged::Unjudged;
    };
    if accepted(&o) {
        let _ = returned_refresh(ctx, &o);
        Judged::Broke(
            format!("{shape} was accepted ({})", o.status().unwrap_or(0)),
            vec![o],
        )
    } else if over(ctx, &o) {
        Judged::Unjudged
    } else {
        Judged::Held
    }
}

/// How a refresh token's type claim is changed (AUTH-REFRESH-TYPE-CLAIM).
#[derive(Debug, Clone)]
enum TypeChange {
    Removed,
    SessionValue,
    Other(usize),
}

/// Values that name no refresh token. A server may compare case-insensitively or accept
/// `refresh_token` beside `refresh` (both name refresh): neither is among them.
const OTHER_TYPES: &[&str] = &["", "id", "access", "api_key"];

pub fn run(ctx: &Ctx, clauses: &[&'static str]) -> Vec<Hunt> {
    let mut out = Vec::new();
    let prefix = ctx.client.spec.auth.access_token.prefix.clone();
    let leeway = ctx.client.spec.auth.leeway.as_secs() as i64;
    let secret = ctx.var("jwt_secret").map(|s| s.as_bytes().to_vec());
    // The control: a login with the user's credentials, which no replay can have revoked.
    ctx.client.set_control(Some(ctx.request("login", &[])));
    // A shrinking step here is a login and a refresh or more: a target that accepts every
    // forgery would otherwise spend a hundred logins per clause on it.
    ctx.client.set_max_shrink(24);
    let bare = |t: &str| t.strip_prefix(prefix.as_str()).map(str::to_string);
    let with_prefix = |j: &str| format!("{prefix}{j}");
    let fresh = Fresh::new(ctx);
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
        let needs_secret = matches!(clause, "AUTH-REFRESH-EXPIRED" | "AUTH-REFRESH-TYPE-CLAIM");
        if needs_secret && secret.is_none() {
            out.push(skipped(
                clause,
                Status::Skipped,
                "no JWT secret in the profile (jwt_secret)",
            ));
            continue;
        }
        let key = secret.clone().unwrap_or_default();
        let cases = ctx.cases.min(12);
        let mut h = match clause {
            "AUTH-REFRESH-RACE" => hunt(&ctx.client, clause, cases.min(3), seed, 4usize..=8, |n| {
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
                (0usize..2, 1usize..3, any::<bool>()),
                |(rotations, replays, respelled)| {
                    // Log in, refresh `rotations + 1` times in a row, then replay the first token
                    // (or its non-canonical twin).
                    let Some((_, first)) = ctx.login() else {
                        return Judged::Unjudged;
                    };
                    let twin = bare(&first)
                        .and_then(|j| forge::twin(&j))
                        .map(|j| with_prefix(&j));
                    let (replayed, spelling) = match (respelled, twin) {
                        (true, Some(t)) => (t, " in another spelling (the same bytes)"),
                        _ => (first.clone(), ""),
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
                        let req = ctx.request_with("refresh", &[("refresh_token", &replayed)]);
                        let Some(o) = ctx.client.send_paced(req, 3) else {
                            return Judged::Unjudged;
                        };
                        if accepted(&o) {
                            let _ = returned_refresh(ctx, &o);
                            let mut ex: Vec<_> = first_use.into_iter().collect();
                            ex.push(o);
                            return Judged::Broke(
                                format!(
                                    "a refresh token used once, then rotated {rotations} time(s) more, was accepted again{spelling} on replay {k}"
                                ),
                                ex,
                            );
                        }
                    }
                    Judged::Held
                },
            ),
            "AUTH-REFRESH-FORGED" => hunt(
                &ctx.client,
                clause,
                (ctx.cases * 2).min(8),
                seed,
                forge::forgery(),
                |f| {
                    let Some(r) = fresh.take().and_then(|(_, r)| bare(&r)) else {
                        return Judged::Unjudged;
                    };
                    match forge::forge(&r, f, secret.as_deref()) {
                        Some((t, shape)) if t != r => fresh.judge(
                            &with_prefix(&t),
                            format!("a fresh refresh token forged: {shape}"),
                        ),
                        _ => Judged::Held,
                    }
                },
            ),
            "AUTH-REFRESH-EXPIRED" => hunt(
                &ctx.client,
                clause,
                ctx.cases.min(4),
                seed,
                30i64..60 * 86400,
                |d| {
                    let Some(mut j) = fresh
                        .take()
                        .and_then(|(_, r)| bare(&r))
                        .and_then(|r| Jwt::decode(&r).ok())
                    else {
                        return Judged::Unjudged;
                    };
                    let life = j
                        .claim_secs("exp")
                        .zip(j.claim_secs("iat"))
                        .map(|(e, i)| e - i)
                        .unwrap_or(30 * 86400);
                    let exp = super::tokens::now() - leeway - d;
                    j.claims.insert("exp".into(), Value::from(exp));
                    j.claims.insert("iat".into(), Value::from(exp - life));
                    let t = j.sign("HS256", &key).unwrap_or_default();
                    fresh.judge(
                        &with_prefix(&t),
                        format!(
                            "a fresh refresh token re-signed as expired {d} s beyond the {leeway} s leeway"
                        ),
                    )
                },
            ),
            "AUTH-REFRESH-TYPE-CLAIM" => hunt(
                &ctx.client,
                clause,
                ctx.cases.min(4),
                seed,
                prop_oneof![
                    Just(TypeChange::Removed),
                    Just(TypeChange::SessionValue),
                    (0..OTHER_TYPES.len()).prop_map(TypeChange::Other),
                ],
                |change| {
                    let Some((a, r)) = fresh.take() else {
                        return Judged::Unjudged;
                    };
                    let (Some(mut j), Some(session)) = (
                        bare(&r).and_then(|r| Jwt::decode(&r).ok()),
                        bare(&a).and_then(|a| Jwt::decode(&a).ok()),
                    ) else {
                        return Judged::Unjudged;
                    };
                    let Some(name) = forge::type_claim(&j) else {
                        return Judged::Unjudged;
                    };
                    let what = match change {
                        TypeChange::Removed => {
                            j.claims.remove(&name);
                            format!("its `{name}` claim removed")
                        }
                        TypeChange::SessionValue => {
                            let v = session
                                .claims
                                .get(&name)
                                .cloned()
                                .unwrap_or_else(|| Value::from("access"));
                            j.claims.insert(name.clone(), v.clone());
                            format!("its `{name}` set to the session token's {v}")
                        }
                        TypeChange::Other(i) => {
                            j.claims.insert(name.clone(), Value::from(OTHER_TYPES[*i]));
                            format!("its `{name}` set to {:?}", OTHER_TYPES[*i])
                        }
                    };
                    let t = j.sign("HS256", &key).unwrap_or_default();
                    fresh.judge(
                        &with_prefix(&t),
                        format!("a fresh refresh token with {what}, re-signed"),
                    )
                },
            ),
            _ => continue,
        };
        h.about = match clause {
            "AUTH-REFRESH-RACE" => "4 to 8 concurrent refreshes of a fresh token".into(),
            "AUTH-REFRESH-SINGLE-USE" => {
                "replays of a used token, as issued or in another spelling, after 0 to 2 further rotations"
                    .into()
            }
            "AUTH-REFRESH-FORGED" => "forgeries of a fresh refresh token at the refresh endpoint".into(),
            "AUTH-REFRESH-EXPIRED" => "fresh refresh tokens re-signed as expired".into(),
            _ => "fresh refresh tokens with their type claim removed or changed".into(),
        };
        out.push(h);
    }
    out
}
