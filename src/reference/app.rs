//! The server's shared state and the guard every endpoint passes: authenticate the request as
//! the endpoint's spec entry allows, then charge the identity's budget in the endpoint's category.
//! Everything the contract fixes (header names, prefixes, categories, limits) is read from the
//! spec once, here, at start.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use super::ServeOptions;
use super::directory::Directory;
use super::fault::{Fault, Faults};
use super::jwt::{Jwt, Sessions};
use super::limiter::{Identity, Limiter, Outcome, Policy};
use super::respond::{CategoryInfo, OverLimit, REALM};
use crate::error::Error;
use crate::spec::{AuthMethod, Spec};

/// The credential kinds an endpoint takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accepts {
    pub none: bool,
    pub api_key: bool,
    pub access_token: bool,
    pub admin_token: bool,
}

impl Accepts {
    fn from_spec(methods: &[AuthMethod]) -> Self {
        let mut a = Accepts::default();
        for m in methods {
            match m {
                AuthMethod::None => a.none = true,
                AuthMethod::ApiKey => a.api_key = true,
                AuthMethod::AccessToken => a.access_token = true,
                AuthMethod::AdminToken => a.admin_token = true,
            }
        }
        a
    }

    /// A team endpoint: one that team credentials reach (the admin token reaches it too: its
    /// scope is all resources).
    pub fn team(self) -> bool {
        self.api_key || self.access_token
    }
}

/// One endpoint as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The endpoint's place in the spec's list (a budget per route under `rl-per-route`).
    pub index: usize,
    /// The limiter category the endpoint's requests are charged to.
    pub category: usize,
    /// False under `rl-creation-unlimited` for sandbox creation.
    pub limited: bool,
    pub accepts: Accepts,
}

/// Every endpoint the server serves, by its spec name.
pub struct Routes {
    pub login: Route,
    pub refresh: Route,
    pub list_sandboxes: Route,
    pub create_sandbox: Route,
    pub get_sandbox: Route,
    pub upload_file: Route,
    pub download_file: Route,
    pub admin_users: Route,
    pub admin_nodes: Route,
    pub create_api_key: Route,
    pub list_api_keys: Route,
    pub revoke_api_key: Route,
}

/// Header names and prefixes from `spec.auth`, parsed once.
pub struct AuthNames {
    pub api_key: HeaderName,
    pub key_prefix: String,
    pub authorization: HeaderName,
    pub scheme: String,
    pub admin: HeaderName,
    /// Challenges for WWW-Authenticate.
    pub challenge_key: HeaderValue,
    pub challenge_bearer: HeaderValue,
    pub challenge_bearer_invalid: HeaderValue,
    pub challenge_team: HeaderValue,
    pub challenge_admin: HeaderValue,
}

impl AuthNames {
    fn from_spec(spec: &Spec) -> Result<Self, Error> {
        let header = |h: &str, what: &str| {
            HeaderName::try_from(h).map_err(|_| {
                Error::Usage(format!(
                    "spec: auth.{what}.header `{h}` is not a header name"
                ))
            })
        };
        let a = &spec.auth;
        let key_challenge = format!("ApiKey realm=\"{REALM}\", header=\"{}\"", a.api_key.header);
        let bearer = format!("{} realm=\"{REALM}\"", a.access_token.scheme);
        let value = |s: String| {
            HeaderValue::try_from(s)
                .map_err(|_| Error::Usage("spec: auth names make an invalid challenge".into()))
        };
        Ok(AuthNames {
            api_key: header(&a.api_key.header, "api_key")?,
            key_prefix: a.api_key.prefix.clone(),
            authorization: header(&a.access_token.header, "access_token")?,
            scheme: a.access_token.scheme.clone(),
            admin: header(&a.admin_token.header, "admin_token")?,
            challenge_key: value(key_challenge.clone())?,
            challenge_bearer: value(bearer.clone())?,
            challenge_bearer_invalid: value(format!("{bearer}, error=\"invalid_token\""))?,
            challenge_team: value(format!("{bearer}, {key_challenge}"))?,
            challenge_admin: value(format!(
                "AdminToken realm=\"{REALM}\", header=\"{}\"",
                a.admin_token.header
            ))?,
        })
    }
}

pub struct App {
    pub spec: Arc<Spec>,
    pub faults: Faults,
    pub leak_ns: u64,
    pub dir: Directory,
    pub jwt: Jwt,
    pub sessions: Sessions,
    pub limiter: Limiter,
    pub categories: Vec<CategoryInfo>,
    pub over_limit: OverLimit,
    pub names: AuthNames,
    pub routes: Routes,
}

/// Who a request was authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Key {
        id: u32,
        team: u32,
    },
    User {
        id: u32,
        team: u32,
    },
    Admin,
    /// Served without credentials, as the first team (`unauth-allowed` only).
    Anonymous,
}

impl Principal {
    pub fn identity(self) -> Identity {
        match self {
            Principal::Key { id, .. } => Identity::api_key(id),
            Principal::User { id, .. } => Identity::user(id),
            Principal::Admin => Identity::ADMIN,
            Principal::Anonymous => Identity::ANONYMOUS,
        }
    }

    /// The team whose resources the principal reaches; `None`: every team (the admin token).
    pub fn team(self) -> Option<u32> {
        match self {
            Principal::Key { team, .. } | Principal::User { team, .. } => Some(team),
            Principal::Admin => None,
            Principal::Anonymous => Some(0),
        }
    }
}

/// A request that passed the guard, with the rate-limit decision to report on the response.
pub struct Admitted {
    pub principal: Principal,
    pub rate: Option<(usize, Outcome)>,
    /// Under `rl-uncounted-failures`: the charge left for `finish`, made only for an answer
    /// below 400.
    pub deferred: Option<(usize, Identity)>,
}

impl App {
    pub fn new(
        spec: Arc<Spec>,
        opts: &ServeOptions,
        dir: Directory,
        jwt_secret: &str,
    ) -> Result<Self, Error> {
        let faults = Faults::new(&opts.faults);
        let names: Vec<&String> = spec.rate_limits.categories.keys().collect();
        let index = |name: &str| names.iter().position(|n| *n == name);
        let mut policies = Vec::new();
        let mut categories = Vec::new();
        for (name, c) in &spec.rate_limits.categories {
            let window = opts.window.unwrap_or(c.window);
            if window.is_zero() {
                return Err(Error::Usage("--window must be longer than 0".into()));
            }
            let enforced = if faults.has(Fault::RlOffByOne) {
                c.limit + 1
            } else {
                c.limit
            };
            policies.push(Policy {
                limit: enforced,
                window: if faults.has(Fault::RlRefillDouble) {
                    window / 2
                } else {
                    window
                },
            });
            categories.push(CategoryInfo::new(name, c.limit, window));
        }
        let endpoint = |name: &str| {
            let ep = spec.endpoint(name).ok_or_else(|| {
                Error::Usage(format!(
                    "spec: the reference server needs endpoint `{name}`"
                ))
            })?;
            let category = index(&ep.category).ok_or_else(|| {
                Error::Usage(format!("spec: endpoint `{name}`: unknown category"))
            })?;
            Ok::<Route, Error>(Route {
                index: spec.endpoints.keys().position(|k| k == name).unwrap_or(0),
                category,
                limited: true,
                accepts: Accepts::from_spec(&ep.auth),
            })
        };
        let mut routes = Routes {
            login: endpoint("login")?,
            refresh: endpoint("refresh")?,
            list_sandboxes: endpoint("list_sandboxes")?,
            create_sandbox: endpoint("create_sandbox")?,
            get_sandbox: endpoint("get_sandbox")?,
            upload_file: endpoint("upload_file")?,
            download_file: endpoint("download_file")?,
            admin_users: endpoint("admin_users")?,
            admin_nodes: endpoint("admin_nodes")?,
            create_api_key: endpoint("create_api_key")?,
            list_api_keys: endpoint("list_api_keys")?,
            revoke_api_key: endpoint("revoke_api_key")?,
        };
        if faults.has(Fault::RlCreationUnlimited) {
            routes.create_sandbox.limited = false;
        }
        if faults.has(Fault::RlFileOpsAsGeneral) {
            routes.upload_file.category = routes.list_sandboxes.category;
            routes.download_file.category = routes.list_sandboxes.category;
        }
        let a = &spec.auth.access_token;
        let jwt = Jwt::new(jwt_secret, &a.prefix, a.session_ttl, a.refresh_ttl, faults);
        let limiter = Limiter::new(opts.limiter, &policies);
        Ok(App {
            over_limit: OverLimit::from_spec(&spec)?,
            names: AuthNames::from_spec(&spec)?,
            faults,
            leak_ns: opts.leak_ns,
            dir,
            jwt,
            sessions: Sessions::default(),
            limiter,
            categories,
            routes,
            spec,
        })
    }

    /// How often idle limiter state and expired sessions are swept: the shortest window, within
    /// [50 ms, 30 s].
    pub fn sweep_every(&self) -> Duration {
        (0..self.categories.len())
            .map(|i| self.limiter.policy(i).window)
            .min()
            .unwrap_or(Duration::from_secs(30))
            .clamp(Duration::from_millis(50), Duration::from_secs(30))
    }

    /// Authenticates a request to `route` and charges its identity's budget.
    pub async fn guard(
        &self,
        route: &Route,
        headers: &HeaderMap,
        uri: &axum::http::Uri,
        ip: IpAddr,
    ) -> Result<Admitted, Response> {
        let query = uri.query();
        let principal = match self.authenticate(route, headers, query, ip) {
            Ok(p) => p,
            Err(denied) => {
                // An unknown key is charged too (AUTH-FAILURES-THROTTLED): over its budget the
                // answer is the over-limit response instead of the denial.
                if let Some(id) = self.unknown_key_identity(route, headers)
                    && denied.status() == axum::http::StatusCode::UNAUTHORIZED
                {
                    self.charge(route, id).await?;
                }
                return Err(denied);
            }
        };
        let unlimited = match principal {
            Principal::User { .. } => self.faults.has(Fault::RlTokenUnlimited),
            Principal::Admin => self.faults.has(Fault::RlAdminUnlimited),
            _ => false,
        };
        if unlimited {
            return Ok(Admitted {
                principal,
                rate: None,
                deferred: None,
            });
        }
        let identity = self.keyed(route, principal.identity(), headers, uri);
        if self.faults.has(Fault::RlUncountedFailures) && route.limited {
            // Looked at, not charged: `finish` charges it if the answer is a success.
            let outcome = self.limiter.peek(route.category, identity);
            if !outcome.admitted {
                return Err(self.over_limit_response(route.category, &outcome));
            }
            return Ok(Admitted {
                principal,
                rate: None,
                deferred: Some((route.category, identity)),
            });
        }
        let rate = self.charge(route, identity).await?;
        Ok(Admitted {
            principal,
            rate,
            deferred: None,
        })
    }

    /// The budget a request is charged to: its identity, or under the keying faults the
    /// identity and what the limiter wrongly keys on besides.
    fn keyed(
        &self,
        route: &Route,
        identity: Identity,
        headers: &HeaderMap,
        uri: &axum::http::Uri,
    ) -> Identity {
        let hash = |bytes: &[u8]| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        };
        let mut id = identity;
        if self.faults.has(Fault::RlPerRoute) {
            id = id.salted(route.index as u64 + 1);
        }
        if self.faults.has(Fault::RlKeyPath) {
            let path = uri.path_and_query().map_or("", |p| p.as_str());
            id = id.salted(hash(path.as_bytes()));
        }
        if self.faults.has(Fault::RlKeyForwardedFor)
            && let Some(xff) = headers.get("x-forwarded-for")
        {
            // The left-most address, as a proxy-trusting stack reads it.
            let first = xff.as_bytes().split(|b| *b == b',').next().unwrap_or(&[]);
            id = Identity::SHARED.salted(hash(first.trim_ascii()));
        }
        id
    }

    /// A guarded handler's answer: the deferred charge made (a success only), RateLimit headers
    /// added.
    pub fn finish_guarded(&self, g: Admitted, r: Response) -> Response {
        match g.deferred {
            Some((category, identity)) if r.status().as_u16() < 400 => {
                let outcome = self.limiter.check(category, identity);
                self.finish(Some((category, outcome)), r)
            }
            _ => self.finish(g.rate, r),
        }
    }

    /// Charges one request of `identity` to the route's category; the over-limit response when
    /// the budget is spent.
    pub async fn charge(
        &self,
        route: &Route,
        identity: Identity,
    ) -> Result<Option<(usize, Outcome)>, Response> {
        if !route.limited {
            return Ok(None);
        }
        let id = if self.faults.has(Fault::RlSharedIdentity) {
            Identity::SHARED
        } else {
            identity
        };
        let outcome = if self.faults.has(Fault::RlRace) {
            self.limiter.check_racy(route.category, id).await
        } else {
            self.limiter.check(route.category, id)
        };
        if outcome.admitted {
            Ok(Some((route.category, outcome)))
        } else {
            Err(self.over_limit_response(route.category, &outcome))
        }
    }

    pub fn over_limit_response(&self, category: usize, outcome: &Outcome) -> Response {
        let mut r = self.over_limit.response(outcome.wait, self.faults);
        self.categories[category].decorate(&mut r, outcome);
        r
    }

    /// Adds the RateLimit headers of the request's decision to its response.
    pub fn finish(&self, rate: Option<(usize, Outcome)>, mut r: Response) -> Response {
        if let Some((category, outcome)) = rate {
            self.categories[category].decorate(&mut r, &outcome);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_set() {
        let f = Faults::new(&[Fault::RlRace, Fault::JwtAlgNone]);
        assert!(f.has(Fault::RlRace) && f.has(Fault::JwtAlgNone));
        assert!(!f.has(Fault::RlOffByOne));
        assert!(Fault::ALL.len() < 64);
    }
}
