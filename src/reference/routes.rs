//! The router, built from the spec's endpoints (their paths and methods), and the handlers.
//!
//! Every handler authenticates and charges the request first (`App::guard`), then reads and
//! checks its input: a request without valid credentials learns nothing about its input, and the
//! server buffers no body for it. Nothing here unwraps request data.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::app::{App, Principal};
use super::directory::{Sandbox, StoreError};
use super::fault::Fault;
use super::jwt::{ACCESS, REFRESH, Rotation, random_hex};
use super::keys::{format_id, parse_id};
use super::limiter::Identity;
use super::respond::{self, Denial, MAX_BODY};
use crate::error::Error;

type AppState = State<Arc<App>>;
type Peer = ConnectInfo<SocketAddr>;

/// Names and paths of sandboxes and files: bounded so that no client can grow memory freely.
const MAX_NAME: usize = 128;
const MAX_FILE_PATH: usize = 1024;

/// Builds the router: one route per distinct spec path (the `?query` part stripped), with each
/// endpoint's handler on its spec method.
pub fn router(app: Arc<App>) -> Result<Router, Error> {
    let spec = app.spec.clone();
    let mut paths: BTreeMap<String, MethodRouter<Arc<App>>> = BTreeMap::new();
    for (name, ep) in &spec.endpoints {
        let path = ep.path.split('?').next().unwrap_or(&ep.path).to_string();
        let method = Method::from_bytes(ep.method.to_ascii_uppercase().as_bytes())
            .ok()
            .and_then(|m| MethodFilter::try_from(m).ok())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "spec: endpoint `{name}`: unknown method `{}`",
                    ep.method
                ))
            })?;
        let current = paths.remove(&path).unwrap_or_default();
        let next = match name.as_str() {
            "login" => current.on(method, login),
            "refresh" => current.on(method, refresh),
            "list_sandboxes" => current.on(method, list_sandboxes),
            "create_sandbox" => current.on(method, create_sandbox),
            "get_sandbox" => current.on(method, get_sandbox),
            "upload_file" => current.on(method, upload_file),
            "download_file" => current.on(method, download_file),
            "admin_users" => current.on(method, admin_users),
            "admin_nodes" => current.on(method, admin_nodes),
            "create_api_key" => current.on(method, create_api_key),
            "list_api_keys" => current.on(method, list_api_keys),
            "revoke_api_key" => current.on(method, revoke_api_key),
            // An endpoint this server does not implement is not served (404).
            _ => current,
        };
        paths.insert(path, next);
    }
    // axum panics on route conflicts (only a hand-edited spec can cause one): report it instead.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut router = Router::new();
        for (path, methods) in paths {
            router = router.route(&path, methods);
        }
        router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(app)
    }));
    built.map_err(|_| Error::Usage("spec: the endpoints' paths and methods conflict".into()))
}

async fn not_found() -> Response {
    respond::error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    respond::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// Authenticates and charges, or returns the refusal.
macro_rules! guard {
    ($app:expr, $route:ident, $req:expr, $peer:expr) => {
        match $app
            .guard(&$app.routes.$route, $req.headers(), $req.uri(), $peer.ip())
            .await
        {
            Ok(g) => g,
            Err(refusal) => return refusal,
        }
    };
}

macro_rules! try_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

/// The body, at most `MAX_BODY` bytes (else 413).
async fn read_body(req: Request) -> Result<Bytes, Response> {
    let too_large = || {
        respond::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body larger than {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| too_large())
}

/// Parses a JSON body. The message never quotes the body (it may hold a password).
fn parse<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_data() {
            format!("request body must be a JSON object with {expected}")
        } else {
            "request body is not valid JSON".to_string()
        };
        respond::error(StatusCode::BAD_REQUEST, &what)
    })
}

fn check_name(name: Option<String>, default: &str) -> Result<String, Response> {
    match name {
        None => Ok(default.to_string()),
        Some(n) if !n.is_empty() && n.len() <= MAX_NAME => Ok(n),
        Some(_) => Err(respond::error(
            StatusCode::BAD_REQUEST,
            &format!("name must be 1 to {MAX_NAME} bytes"),
        )),
    }
}

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, Response> {
    p.map(|Path(id)| id)
        .map_err(|_| respond::error(StatusCode::BAD_REQUEST, "invalid path parameter"))
}

// ------------------------------------------------------------------------- login and refresh

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

impl App {
    /// The login and refresh answer: a new access token and the family's current refresh token.
    fn session(&self, user: u32, fam: String, jti: String) -> Response {
        let u = &self.dir.users[user as usize];
        let team = self.dir.team_id(u.team);
        let access = self.jwt.issue(&u.id, team, ACCESS, random_hex(16), None);
        let refresh = self.jwt.issue(&u.id, team, REFRESH, jti, Some(fam));
        respond::json(
            StatusCode::OK,
            &json!({
                "access_token": access,
                "refresh_token": refresh,
                "token_type": self.names.scheme,
                "expires_in": self.jwt.session_ttl.as_secs(),
            }),
        )
    }

    fn echo(&self, presented: &str) -> Option<String> {
        (self.faults.has(Fault::EchoCredential) || self.faults.has(Fault::EchoBareJwt))
            .then(|| presented.to_string())
    }

    fn token_denial(&self, message: &'static str, presented: &str) -> Response {
        Denial {
            status: StatusCode::UNAUTHORIZED,
            challenge: self.names.challenge_bearer_invalid.clone(),
            message,
            presented: self.echo(presented),
        }
        .into_response(self.faults)
    }
}

/// `POST /auth/login`: takes no credential; charged per client address.
async fn login(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let rate = try_or_return!(
        app.charge(&app.routes.login, Identity::client(peer.ip()))
            .await
    );
    let body = try_or_return!(read_body(req).await);
    let b: LoginBody = try_or_return!(parse(&body, "string fields email and password"));
    let r = match app.dir.login(&b.email, &b.password) {
        Some(user) => {
            let (fam, jti) = app.sessions.start(app.jwt.refresh_ttl);
            app.session(user, fam, jti)
        }
        None => Denial {
            status: StatusCode::UNAUTHORIZED,
            challenge: app.names.challenge_bearer.clone(),
            message: "invalid email or password",
            presented: app.echo(&b.password),
        }
        .into_response(app.faults),
    };
    app.finish(rate, r)
}

/// `POST /auth/refresh`: consumes a refresh token, answers a new pair (rotation).
async fn refresh(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let rate = try_or_return!(
        app.charge(&app.routes.refresh, Identity::client(peer.ip()))
            .await
    );
    let body = try_or_return!(read_body(req).await);
    let b: RefreshBody = try_or_return!(parse(&body, "a string field refresh_token"));
    let r = 'answer: {
        let claims = match app.jwt.verify(&b.refresh_token, REFRESH, app.faults) {
            Ok(c) => c,
            Err(refusal) => break 'answer app.token_denial(refusal.message(), &b.refresh_token),
        };
        let Some(user) = app.dir.user_by_id(&claims.sub) else {
            break 'answer app.token_denial("unknown user", &b.refresh_token);
        };
        if claims.typ == ACCESS && claims.fam.is_none() {
            // Only under `jwt-access-as-refresh`: the session token starts a new session.
            let (fam, jti) = app.sessions.start(app.jwt.refresh_ttl);
            break 'answer app.session(user, fam, jti);
        }
        let Some(fam) = claims.fam else {
            break 'answer app.token_denial("refresh token not valid", &b.refresh_token);
        };
        let ttl = app.jwt.refresh_ttl;
        let rotation = if app.faults.has(Fault::RefreshRace) {
            app.sessions.rotate_racy(&fam, &claims.jti, ttl).await
        } else if app.faults.has(Fault::RefreshReuseByText) {
            app.sessions.rotate_by_text(&fam, &b.refresh_token, ttl)
        } else {
            let reusable = app.faults.has(Fault::RefreshReusable);
            app.sessions.rotate(&fam, &claims.jti, ttl, reusable)
        };
        match rotation {
            Rotation::Rotated { jti } => app.session(user, fam, jti),
            Rotation::Unknown => app.token_denial("refresh token not valid", &b.refresh_token),
            Rotation::Reused => app.token_denial(
                "refresh token already used; the session is revoked",
                &b.refresh_token,
            ),
        }
    };
    app.finish(rate, r)
}

// ------------------------------------------------------------------------- sandboxes and files

#[derive(Deserialize, Default)]
struct SandboxBody {
    name: Option<String>,
}

#[derive(Deserialize)]
struct FileQuery {
    path: String,
}

impl App {
    /// The sandbox `id` if the principal reaches it (a sandbox of another team is "not found").
    fn reachable(
        &self,
        principal: Principal,
        id: &str,
        read: bool,
        files: bool,
    ) -> Result<Arc<Sandbox>, Response> {
        let not_found = || respond::error(StatusCode::NOT_FOUND, "sandbox not found");
        let sandbox = self.dir.sandbox(id).ok_or_else(not_found)?;
        let own = principal.team().is_none_or(|t| t == sandbox.team);
        if own
            || (read && self.faults.has(Fault::ScopeCrossTeam))
            || (files && self.faults.has(Fault::ScopeFiles))
        {
            Ok(sandbox)
        } else {
            Err(not_found())
        }
    }
}

fn file_path(uri: &axum::http::Uri) -> Result<String, Response> {
    match Query::<FileQuery>::try_from_uri(uri) {
        Ok(Query(q)) if !q.path.is_empty() && q.path.len() <= MAX_FILE_PATH => Ok(q.path),
        _ => Err(respond::error(
            StatusCode::BAD_REQUEST,
            &format!("query parameter `path` is required (1 to {MAX_FILE_PATH} bytes)"),
        )),
    }
}

async fn list_sandboxes(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, list_sandboxes, req, peer);
    let team = g
        .principal
        .team()
        .filter(|_| !app.faults.has(Fault::ScopeListing));
    let body = app.dir.list_sandboxes_json(team);
    app.finish_guarded(g, respond::json_bytes(StatusCode::OK, body))
}

async fn create_sandbox(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, create_sandbox, req, peer);
    let body = try_or_return!(read_body(req).await);
    let b: SandboxBody = if body.iter().all(u8::is_ascii_whitespace) {
        SandboxBody::default()
    } else {
        try_or_return!(parse(&body, "an optional string field name"))
    };
    let name = try_or_return!(check_name(b.name, "sandbox"));
    // The admin token has no team of its own: its sandboxes go to the first team.
    let team = g.principal.team().unwrap_or(0);
    let sandbox = app.dir.create_sandbox(team, &name);
    let r = respond::json(StatusCode::CREATED, &sandbox.view(&app.dir.teams));
    app.finish_guarded(g, r)
}

async fn get_sandbox(
    State(app): AppState,
    ConnectInfo(peer): Peer,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let g = guard!(app, get_sandbox, req, peer);
    let id = try_or_return!(path_id(id));
    let sandbox = try_or_return!(app.reachable(g.principal, &id, true, false));
    let r = respond::json(StatusCode::OK, &sandbox.view(&app.dir.teams));
    app.finish_guarded(g, r)
}

async fn upload_file(
    State(app): AppState,
    ConnectInfo(peer): Peer,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let g = guard!(app, upload_file, req, peer);
    let id = try_or_return!(path_id(id));
    let path = try_or_return!(file_path(req.uri()));
    let sandbox = try_or_return!(app.reachable(g.principal, &id, false, true));
    let body = try_or_return!(read_body(req).await);
    let r = match sandbox.put_file(&path, body.to_vec()) {
        Ok(size) => respond::json(StatusCode::CREATED, &json!({ "path": path, "size": size })),
        Err(StoreError::TooManyFiles) => respond::error(
            StatusCode::INSUFFICIENT_STORAGE,
            "too many files in this sandbox",
        ),
        Err(StoreError::SandboxFull) => {
            respond::error(StatusCode::INSUFFICIENT_STORAGE, "sandbox storage is full")
        }
    };
    app.finish_guarded(g, r)
}

async fn download_file(
    State(app): AppState,
    ConnectInfo(peer): Peer,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let g = guard!(app, download_file, req, peer);
    let id = try_or_return!(path_id(id));
    let path = try_or_return!(file_path(req.uri()));
    let sandbox = try_or_return!(app.reachable(g.principal, &id, true, true));
    let r = match sandbox.get_file(&path) {
        Some(data) => respond::bytes(
            StatusCode::OK,
            HeaderValue::from_static("application/octet-stream"),
            data,
        ),
        None => respond::error(StatusCode::NOT_FOUND, "file not found"),
    };
    app.finish_guarded(g, r)
}

// ------------------------------------------------------------------------- admin

async fn admin_users(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, admin_users, req, peer);
    let users: Vec<_> = app
        .dir
        .users
        .iter()
        .map(|u| {
            let team = &app.dir.teams[u.team as usize];
            json!({ "id": u.id, "email": u.email, "team": team.id, "team_name": team.name })
        })
        .collect();
    app.finish_guarded(g, respond::json(StatusCode::OK, &json!({ "users": users })))
}

async fn admin_nodes(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, admin_nodes, req, peer);
    let nodes = json!({ "nodes": [
        { "id": "node-1", "region": "local", "status": "ready" },
        { "id": "node-2", "region": "local", "status": "ready" },
    ]});
    app.finish_guarded(g, respond::json(StatusCode::OK, &nodes))
}

// ------------------------------------------------------------------------- API keys

#[derive(Deserialize, Default)]
struct KeyBody {
    name: Option<String>,
    /// Only for the admin token, which has no team of its own: the team id to create the key in.
    team: Option<String>,
}

fn rfc3339(unix: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    humantime::format_rfc3339_seconds(t).to_string()
}

async fn create_api_key(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, create_api_key, req, peer);
    let body = try_or_return!(read_body(req).await);
    let b: KeyBody = if body.iter().all(u8::is_ascii_whitespace) {
        KeyBody::default()
    } else {
        try_or_return!(parse(&body, "an optional string field name"))
    };
    let name = try_or_return!(check_name(b.name, "api-key"));
    let team = match (g.principal.team(), b.team) {
        (Some(t), _) => t,
        (None, Some(id)) => match app.dir.teams.iter().position(|t| t.id == id) {
            Some(t) => t as u32,
            None => return respond::error(StatusCode::BAD_REQUEST, "unknown team"),
        },
        (None, None) => {
            return respond::error(
                StatusCode::BAD_REQUEST,
                "the admin token has no team: give the team id in field `team`",
            );
        }
    };
    let r = match app.dir.create_key(team, &name) {
        Some((id, key, created)) => respond::json(
            StatusCode::CREATED,
            &json!({ "id": format_id(id), "key": key, "name": name, "created_at": rfc3339(created) }),
        ),
        None => respond::error(StatusCode::CONFLICT, "API key quota of this server reached"),
    };
    app.finish_guarded(g, r)
}

async fn list_api_keys(State(app): AppState, ConnectInfo(peer): Peer, req: Request) -> Response {
    let g = guard!(app, list_api_keys, req, peer);
    let teams: Vec<u32> = match g.principal.team() {
        Some(t) => vec![t],
        None => (0..app.dir.teams.len() as u32).collect(),
    };
    let mut truncated = false;
    let mut keys = Vec::new();
    for team in teams {
        let (list, cut) = app.dir.team_keys(team);
        truncated |= cut;
        for (id, rec) in list {
            let mut entry = json!({
                "id": format_id(id),
                "name": rec.name.as_deref().map_or_else(|| format!("identity-{id}"), str::to_string),
                "prefix": app.names.key_prefix,
                "last4": rec.last4(),
                "created_at": rfc3339(rec.created_at),
                "revoked": rec.revoked,
            });
            if app.faults.has(Fault::KeyListFull)
                && let Some(full) = app.dir.plain_key(id)
            {
                entry["key"] = full.into();
            }
            keys.push(entry);
        }
    }
    let r = respond::json(
        StatusCode::OK,
        &json!({ "api_keys": keys, "truncated": truncated }),
    );
    app.finish_guarded(g, r)
}

async fn revoke_api_key(
    State(app): AppState,
    ConnectInfo(peer): Peer,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let g = guard!(app, revoke_api_key, req, peer);
    let id = try_or_return!(path_id(id));
    let revoked = parse_id(&id).is_some_and(|id| {
        let own = app.dir.keys.revoke(id, g.principal.team());
        if !own && app.faults.has(Fault::ScopeRevoke) {
            // Another team's key is revoked all the same; the answer says it was not found.
            app.dir.keys.revoke(id, None);
        }
        own
    });
    let r = if revoked {
        respond::no_content()
    } else {
        respond::error(StatusCode::NOT_FOUND, "API key not found")
    };
    app.finish_guarded(g, r)
}
