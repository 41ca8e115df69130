//! The routes a category's burst covers: every endpoint of the spec in that category that the
//! scenario's identity may call and that a burst can repeat without harm (GET, HEAD, PUT), not
//! only the one the scenario names. A burst rotates over them, so a limit counted per route
//! (each route its own budget) over-admits, and every route of the category is judged against
//! its limit. Each alternate is tried once before the bursts: a route the target does not offer
//! (or answers with anything but a success) is left out and said so, because a request that the
//! limiter may or may not count would make the burst's count meaningless.

use std::collections::BTreeMap;

use super::scope::Scope;
use crate::error::Error;
use crate::probe::Request;
use crate::profile::Role;
use crate::scenario::{As, AsRole, RequestSpec};
use crate::spec::AuthMethod;

/// A route of the category besides the scenario's own, as the scenario's identity sends it.
#[derive(Debug, Clone)]
pub struct Route {
    pub endpoint: String,
    pub request: Request,
}

/// What the burst rotates over, and what was left out with why.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    pub routes: Vec<Route>,
    pub left_out: Vec<String>,
}

impl Surface {
    /// The endpoints covered, the scenario's own first.
    pub fn names(&self, own: &str) -> Vec<String> {
        std::iter::once(own.to_string())
            .chain(self.routes.iter().map(|r| r.endpoint.clone()))
            .collect()
    }

    /// The `i`th request of a burst sent as `sender` is: the scenario's route, then each
    /// alternate in turn, with the sender's credential.
    pub fn pick(
        &self,
        i: usize,
        sender: &Request,
        credential_headers: &[&str],
    ) -> (usize, Request) {
        let n = self.routes.len() + 1;
        match i % n {
            0 => (0, sender.clone()),
            j => (
                j,
                as_sender(&self.routes[j - 1].request, sender, credential_headers),
            ),
        }
    }
}

/// `request` with the credential headers of `sender` (a created key in place of the own one).
pub fn as_sender(request: &Request, sender: &Request, credential_headers: &[&str]) -> Request {
    let mut out = request.clone();
    for (name, value) in out.headers.iter_mut() {
        if credential_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
            && let Some((_, v)) = sender
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            value.clone_from(v);
        }
    }
    out
}

/// The auth method an identity uses.
fn method_of(role: AsRole) -> Option<AuthMethod> {
    match role {
        AsRole::AccessToken => Some(AuthMethod::AccessToken),
        AsRole::Credential(Role::ApiKey | Role::ApiKeyOtherTeam | Role::ApiKeyRevoked) => {
            Some(AuthMethod::ApiKey)
        }
        AsRole::Credential(Role::AdminToken) => Some(AuthMethod::AdminToken),
        _ => None,
    }
}

/// Finds and tries the alternates of `own` (the scenario's endpoint) in `category`, as `role`,
/// with `params` for their path parameters. Sends one request per alternate.
pub async fn discover(
    category: &str,
    own: &str,
    role: AsRole,
    params: &BTreeMap<String, String>,
    scope: &mut Scope<'_>,
) -> Result<Surface, Error> {
    let Some(method) = method_of(role) else {
        return Ok(Surface::default());
    };
    let spec = scope.target.spec.clone();
    let mut surface = Surface::default();
    for (name, ep) in &spec.endpoints {
        if name == own || ep.category != category || !ep.auth.contains(&method) {
            continue;
        }
        if !matches!(
            ep.method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD" | "PUT"
        ) {
            surface
                .left_out
                .push(format!("{name} ({} is not repeated in a burst)", ep.method));
            continue;
        }
        let put = ep.method.eq_ignore_ascii_case("PUT");
        let request = scope.build(&RequestSpec {
            endpoint: Some(name.clone()),
            method: None,
            path: None,
            params: params.clone(),
            as_: Some(As::Role(role)),
            headers: BTreeMap::new(),
            body: None,
            raw_body: (put && ep.body.is_none()).then(|| "conformance".to_string()),
        });
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                surface.left_out.push(format!("{name} ({e})"));
                continue;
            }
        };
        let o = scope.send(request.clone()).await?;
        match o.status() {
            Some(s) if (200..300).contains(&s) => surface.routes.push(Route {
                endpoint: name.clone(),
                request,
            }),
            Some(s) => surface
                .left_out
                .push(format!("{name} (answered {s} when tried)")),
            None => surface
                .left_out
                .push(format!("{name} (no answer when tried)")),
        }
    }
    Ok(surface)
}
