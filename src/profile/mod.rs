//! Targets: one deployment to check. A profile file describes it (base URL, where each credential
//! comes from, endpoint mappings, overrides for staging set-ups); `--target URL` builds one from the
//! environment; the embedded default builds one from the reference server's credentials. Whatever
//! the source, the result is a `Target` whose `spec` is the effective contract (overrides applied).

mod secret;

pub use secret::{LiteralOrSecret, SecretSource};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FileError, did_you_mean};
use crate::gate::FailOn;
use crate::probe::transport::{ClientIdentity, ExtraHeader, ProxySetting};
use crate::probe::{Connection, Timeouts};
use crate::redact::Redactor;
use crate::spec::{AuthMethod, Spec};
use crate::yaml::Source;

/// A credential the harness can be given. Each is optional; each unlocks clauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ApiKey,
    ApiKeyOtherTeam,
    ApiKeyRevoked,
    Email,
    Password,
    AdminToken,
    JwtSecret,
    OtherTeamSandbox,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::ApiKey,
        Role::ApiKeyOtherTeam,
        Role::ApiKeyRevoked,
        Role::Email,
        Role::Password,
        Role::AdminToken,
        Role::JwtSecret,
        Role::OtherTeamSandbox,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::ApiKey => "api_key",
            Role::ApiKeyOtherTeam => "api_key_other_team",
            Role::ApiKeyRevoked => "api_key_revoked",
            Role::Email => "email",
            Role::Password => "password",
            Role::AdminToken => "admin_token",
            Role::JwtSecret => "jwt_secret",
            Role::OtherTeamSandbox => "other_team_sandbox",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The environment variable `--target URL` reads it from (DESIGN.md).
    pub fn env_var(self) -> &'static str {
        match self {
            Role::ApiKey => "LELANTOS_API_KEY",
            Role::ApiKeyOtherTeam => "LELANTOS_API_KEY_OTHER_TEAM",
            Role::ApiKeyRevoked => "LELANTOS_API_KEY_REVOKED",
            Role::Email => "LELANTOS_EMAIL",
            Role::Password => "LELANTOS_PASSWORD",
            Role::AdminToken => "LELANTOS_ADMIN_TOKEN",
            Role::JwtSecret => "LELANTOS_JWT_SECRET",
            Role::OtherTeamSandbox => "LELANTOS_OTHER_TEAM_SANDBOX",
        }
    }

    /// How a skipped clause explains the missing credential.
    pub fn missing(self) -> &'static str {
        match self {
            Role::ApiKey => "no API key",
            Role::ApiKeyOtherTeam => "no second team's key",
            Role::ApiKeyRevoked => "no revoked key",
            Role::Email => "no login user (email)",
            Role::Password => "no login user (password)",
            Role::AdminToken => "no admin token",
            Role::JwtSecret => "no HS256 secret of the deployment",
            Role::OtherTeamSandbox => "no other team's sandbox id",
        }
    }

    /// Whether the value is secret (an id or an email address is not).
    pub fn is_secret(self) -> bool {
        !matches!(self, Role::Email | Role::OtherTeamSandbox)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    base_url: String,
    #[serde(default)]
    credentials: BTreeMap<Role, SecretSource>,
    #[serde(default)]
    denial_statuses: Option<Vec<u16>>,
    #[serde(default, with = "crate::yaml::duration::option")]
    leeway: Option<Duration>,
    #[serde(default)]
    rate_limits: Option<RateLimitOverrides>,
    #[serde(default)]
    endpoints: BTreeMap<String, EndpointOverride>,
    #[serde(default)]
    timeouts: Option<TimeoutOverrides>,
    /// What fails the gate (`--fail-on` replaces it): see `crate::gate`.
    #[serde(default)]
    fail_on: Option<Vec<String>>,
    /// The longest a run may take (`--max-duration` replaces it); default: five of the
    /// longest window plus a minute.
    #[serde(default, with = "crate::yaml::duration::option")]
    max_duration: Option<Duration>,
    /// Where a remote target can reach the harness (`http://host:port`): the listener that
    /// records server-side fetches (AUTH-TOKEN-NO-KEY-FETCH) listens on its port.
    #[serde(default)]
    callback_url: Option<String>,
    /// How the target's certificate is checked, and the client certificate.
    #[serde(default)]
    tls: Option<TlsFile>,
    /// A forward proxy for every request (`NO_PROXY` still applies); a URL with credentials
    /// comes from a secret source.
    #[serde(default)]
    proxy: Option<LiteralOrSecret>,
    /// Header fields added to every request (a gateway's tenant or token).
    #[serde(default)]
    headers: BTreeMap<String, LiteralOrSecret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    /// A PEM file of CA certificates added to the platform's roots (relative to the profile).
    #[serde(default)]
    ca: Option<PathBuf>,
    #[serde(default)]
    client_cert: Option<PathBuf>,
    /// The client certificate's key: a secret source, like a credential.
    #[serde(default)]
    client_key: Option<SecretSource>,
    #[serde(default)]
    insecure: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitOverrides {
    /// Replaces every category's window (a staging deployment with short windows).
    #[serde(default, with = "crate::yaml::duration::option")]
    window: Option<Duration>,
    #[serde(default)]
    categories: BTreeMap<String, CategoryOverride>,
    /// Requests per window that other clients may make with the same key during the run.
    #[serde(default)]
    shared_use: Option<u32>,
    /// How many windows an identity must be idle to be fresh (default: the spec's).
    #[serde(default)]
    fresh_after_windows: Option<u32>,
    /// The deployment's algorithm, when known: tighter bounds (default `any`: every reading).
    #[serde(default)]
    algorithm: Option<crate::spec::Algorithm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryOverride {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default, with = "crate::yaml::duration::option")]
    window: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointOverride {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    auth: Option<Vec<AuthMethod>>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    returns: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutOverrides {
    #[serde(default, with = "crate::yaml::duration::option")]
    connect: Option<Duration>,
    #[serde(default, with = "crate::yaml::duration::option")]
    request: Option<Duration>,
}

/// One deployment, resolved: what the engine checks.
#[derive(Debug, Clone)]
pub struct Target {
    pub base_url: String,
    pub embedded: bool,
    pub profile: Option<PathBuf>,
    /// The effective contract: the spec with the profile's overrides applied.
    pub spec: Arc<Spec>,
    pub credentials: BTreeMap<Role, String>,
    /// For each credential, a shell expression that yields it (`$LELANTOS_API_KEY`, `$(cat
    /// 'key.txt')`): what a replay line writes instead of the value.
    pub shell: BTreeMap<Role, String>,
    pub timeouts: Timeouts,
    pub shared_use: u32,
    /// The profile's `fail_on:` (default: `must`).
    pub fail_on: FailOn,
    /// The profile's `max_duration:`.
    pub max_duration: Option<Duration>,
    /// The profile's `callback_url:`.
    pub callback_url: Option<String>,
    /// TLS, proxy and extra headers (the profile's `tls:`, `proxy:`, `headers:`, and the
    /// command line's TLS options over them).
    pub connection: Connection,
    /// Where the rate-limit windows judged come from, and what would change them: said before
    /// the first request and beside a failing limit.
    pub windows_from: String,
}

impl Target {
    pub fn credential(&self, role: Role) -> Option<&str> {
        self.credentials.get(&role).map(String::as_str)
    }

    /// How long a run may take: `cli`, else the profile's, else five of the spec's longest
    /// window plus a minute.
    pub fn max_duration(&self, cli: Option<Duration>) -> Duration {
        cli.or(self.max_duration).unwrap_or_else(|| {
            let window = self
                .spec
                .rate_limits
                .categories
                .values()
                .map(|c| c.window)
                .max()
                .unwrap_or(Duration::from_secs(60));
            crate::stop::default_limit(window)
        })
    }

    /// The redactor for this target's credentials.
    pub fn redactor(&self) -> Redactor {
        let secrets = self
            .credentials
            .iter()
            .filter(|(r, _)| r.is_secret())
            .map(|(_, v)| v.clone())
            .chain(self.connection.secrets());
        Redactor::new(secrets, &self.secret_prefixes())
    }

    pub fn secret_prefixes(&self) -> Vec<&str> {
        vec![
            self.spec.auth.api_key.prefix.as_str(),
            self.spec.auth.access_token.prefix.as_str(),
        ]
    }

    /// `--target URL`: the spec's defaults and credentials from the environment.
    pub fn from_url(url: &str, spec: Spec) -> Result<Target, Error> {
        check_url(url).map_err(Error::Usage)?;
        let credentials: BTreeMap<Role, String> = Role::ALL
            .into_iter()
            .filter_map(|r| {
                std::env::var(r.env_var())
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| (r, v))
            })
            .collect();
        // No credential at all: every clause would be skipped and the run would pass having
        // checked nothing (a CI job whose secrets never reached it).
        if credentials.is_empty() {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.env_var()).collect();
            return Err(Error::Usage(format!(
                "--target {url}: no credential is set, so there is nothing to check; set at least one of {}",
                names.join(", ")
            )));
        }
        Ok(Target {
            base_url: url.trim_end_matches('/').to_string(),
            embedded: false,
            profile: None,
            spec: Arc::new(spec),
            shell: env_shell(),
            credentials,
            timeouts: Timeouts::default(),
            shared_use: 0,
            fail_on: FailOn::default(),
            max_duration: None,
            callback_url: None,
            connection: Connection::default(),
            windows_from:
                "the spec: --target sets no window; a profile's `rate_limits.window` does".into(),
        })
    }

    /// The embedded reference server: every credential is known.
    pub fn embedded(
        base_url: &str,
        credentials: impl IntoIterator<Item = (Role, String)>,
        spec: Spec,
    ) -> Target {
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            embedded: true,
            profile: None,
            spec: Arc::new(spec),
            credentials: credentials.into_iter().collect(),
            shell: env_shell(),
            timeouts: Timeouts::default(),
            shared_use: 0,
            fail_on: FailOn::default(),
            max_duration: None,
            callback_url: None,
            // The embedded server is on loopback: never through a proxy.
            connection: Connection {
                proxy: ProxySetting::Direct,
                ..Connection::default()
            },
            windows_from: "the embedded server's window".into(),
        }
    }

    /// Loads a profile file: every error names the file, line and column.
    pub fn load(path: &Path, spec: Spec) -> Result<Target, Error> {
        let source = Source::read(path)?;
        Self::from_source(&source, spec)
    }

    pub fn from_source(source: &Source, spec: Spec) -> Result<Target, Error> {
        Self::parse(source, spec, true)
    }

    /// Checks a profile without reading its secrets (for `validate`: a credentials file may not
    /// exist yet); `credentials` then holds nothing.
    pub fn check_source(source: &Source, spec: Spec) -> Result<usize, Error> {
        let source = &source.hiding_values();
        let declared = source.parse::<ProfileFile>()?.credentials.len();
        Self::parse(source, spec, false).map(|_| declared)
    }

    fn parse(source: &Source, mut spec: Spec, resolve: bool) -> Result<Target, Error> {
        let source = &source.hiding_values();
        let file: ProfileFile = source.parse()?;
        let mut errors: Vec<FileError> = Vec::new();
        if let Err(why) = check_url(&file.base_url) {
            errors.push(source.error_at("base_url", &file.base_url, why));
        }
        let dir = source.path.parent().map(Path::to_path_buf);
        let mut credentials = BTreeMap::new();
        let shell: BTreeMap<Role, String> = file
            .credentials
            .iter()
            .map(|(role, src)| (*role, src.shell(dir.as_deref())))
            .collect();
        for (role, src) in file.credentials.iter().filter(|_| resolve) {
            match src.resolve(dir.as_deref()) {
                Ok(v) => {
                    credentials.insert(*role, v);
                }
                Err(why) => errors.push(
                    source.key_error(role.name(), format!("credential `{}`: {why}", role.name())),
                ),
            }
        }
        if let Some(statuses) = file.denial_statuses {
            for s in &statuses {
                if !(400..500).contains(s) {
                    errors.push(source.error_at(
                        "denial_statuses",
                        &s.to_string(),
                        "denial statuses must be 4xx",
                    ));
                }
            }
            spec.auth.denial_statuses = statuses;
        }
        if let Some(leeway) = file.leeway {
            spec.auth.leeway = leeway;
        }
        let mut shared_use = 0;
        let name = source.path.display();
        let mut windows_from = format!(
            "the spec: {name} sets no `rate_limits.window` (add it where the target's windows are others)"
        );
        if let Some(rl) = file.rate_limits {
            if rl.window.is_some() {
                windows_from = format!("{name}: `rate_limits.window`");
            } else if rl.categories.values().any(|c| c.window.is_some()) {
                windows_from = format!("{name}: `rate_limits.categories`");
            }
            if let Some(w) = rl.window {
                if w.is_zero() {
                    errors.push(source.key_error("window", "rate_limits.window: 0 is no window (a reading needs a window longer than 0)"));
                }
                for c in spec.rate_limits.categories.values_mut() {
                    c.window = w;
                }
            }
            let known: Vec<String> = spec.rate_limits.categories.keys().cloned().collect();
            for (name, o) in rl.categories {
                let Some(c) = spec.rate_limits.categories.get_mut(&name) else {
                    errors.push(source.error_at(
                        "",
                        &name,
                        format!(
                            "unknown category `{name}`{}",
                            did_you_mean(&name, known.iter().map(String::as_str))
                        ),
                    ));
                    continue;
                };
                if let Some(l) = o.limit {
                    if l == 0 {
                        errors.push(source.error_at(
                            "limit",
                            "0",
                            format!("category `{name}`: a limit of 0 admits nothing: no reading of the contract can use it"),
                        ));
                    }
                    c.limit = l;
                }
                if let Some(w) = o.window {
                    if w.is_zero() {
                        errors.push(source.error_at(
                            "window",
                            "0s",
                            format!("category `{name}`: 0 is no window"),
                        ));
                    }
                    c.window = w;
                }
            }
            if let Some(f) = rl.fresh_after_windows {
                spec.rate_limits.fresh_after_windows = f;
            }
            if let Some(a) = rl.algorithm {
                spec.rate_limits.algorithm = a;
            }
            shared_use = rl.shared_use.unwrap_or(0);
        }
        let known_eps: Vec<String> = spec.endpoints.keys().cloned().collect();
        let known_cats: Vec<String> = spec.rate_limits.categories.keys().cloned().collect();
        for (name, o) in file.endpoints {
            let Some(ep) = spec.endpoints.get_mut(&name) else {
                errors.push(source.error_at(
                    "",
                    &name,
                    format!(
                        "unknown endpoint `{name}`{}",
                        did_you_mean(&name, known_eps.iter().map(String::as_str))
                    ),
                ));
                continue;
            };
            if let Some(m) = o.method {
                ep.method = m.to_ascii_uppercase();
            }
            if let Some(p) = o.path {
                if !p.starts_with('/') {
                    errors.push(source.error_at("path", &p, "an endpoint path must start with /"));
                }
                ep.path = p;
            }
            if let Some(c) = o.category {
                if !known_cats.contains(&c) {
                    errors.push(source.error_at(
                        "category",
                        &c,
                        format!(
                            "unknown category `{c}`{}",
                            did_you_mean(&c, known_cats.iter().map(String::as_str))
                        ),
                    ));
                }
                ep.category = c;
            }
            if let Some(a) = o.auth {
                ep.auth = a;
            }
            if let Some(b) = o.body {
                ep.body = Some(b);
            }
            if let Some(r) = o.returns {
                ep.returns.extend(r);
            }
        }
        let mut timeouts = Timeouts::default();
        if let Some(t) = file.timeouts {
            timeouts.connect = t.connect.unwrap_or(timeouts.connect);
            timeouts.request = t.request.unwrap_or(timeouts.request);
            for (name, given) in [("connect", t.connect), ("request", t.request)] {
                if given.is_some_and(|d| d.is_zero()) {
                    errors.push(source.key_error(
                        name,
                        format!("timeouts.{name}: 0 would time out every request"),
                    ));
                }
            }
        }
        let mut fail_on = FailOn::default();
        if let Some(words) = &file.fail_on {
            match FailOn::parse(words, &spec) {
                Ok(p) => fail_on = p,
                Err(why) => errors.push(source.key_error("fail_on", format!("fail_on: {why}"))),
            }
        }
        if file.max_duration.is_some_and(|d| d.is_zero()) {
            errors.push(source.key_error(
                "max_duration",
                "max_duration: 0 would stop every run before its first request",
            ));
        }
        if let Some(url) = &file.callback_url {
            let port = reqwest::Url::parse(url).ok().and_then(|u| u.port());
            match check_url(url) {
                Err(why) => errors.push(source.error_at("callback_url", url, why)),
                Ok(()) if port.is_none() => errors.push(source.error_at(
                    "callback_url",
                    url,
                    format!("callback_url `{url}` needs a port: the harness listens on it"),
                )),
                Ok(()) => {}
            }
        }
        let connection = connection(
            (file.tls.as_ref(), file.proxy.as_ref(), &file.headers),
            source,
            dir.as_deref(),
            &spec,
            resolve,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(Error::Files(errors));
        }
        Ok(Target {
            base_url: file.base_url.trim_end_matches('/').to_string(),
            embedded: false,
            profile: Some(source.path.clone()),
            spec: Arc::new(spec),
            credentials,
            shell,
            timeouts,
            shared_use,
            fail_on,
            max_duration: file.max_duration,
            callback_url: file
                .callback_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_string()),
            connection,
            windows_from,
        })
    }
}

/// The profile's `tls:`, `proxy:` and `headers:`, read (files relative to the profile, secret
/// values from their sources); each problem is an error at its key.
type ConnectionFields<'a> = (
    Option<&'a TlsFile>,
    Option<&'a LiteralOrSecret>,
    &'a BTreeMap<String, LiteralOrSecret>,
);

fn connection(
    (tls, proxy, headers): ConnectionFields<'_>,
    source: &Source,
    dir: Option<&Path>,
    spec: &Spec,
    resolve: bool,
    errors: &mut Vec<FileError>,
) -> Connection {
    let mut c = Connection::default();
    let at = |p: &Path| match dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    };
    if let Some(tls) = tls {
        c.tls.insecure = tls.insecure;
        if let Some(ca) = &tls.ca {
            match crate::probe::transport::certificates(&at(ca)) {
                Ok(certs) => {
                    c.tls.roots = certs;
                    c.tls.ca_files = vec![at(ca)];
                }
                Err(why) => errors.push(source.key_error("ca", format!("tls.ca: {why}"))),
            }
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) if resolve => match key.resolve(dir) {
                Ok(pem) => match ClientIdentity::read(
                    &at(cert),
                    &pem,
                    &format!("{key}"),
                    match key {
                        SecretSource::File(p) => crate::probe::replay::quoted(&at(p)),
                        other => format!("<(printf '%s\\n' \"{}\")", other.shell(dir)),
                    },
                ) {
                    Ok(id) => c.tls.client = Some(id),
                    Err(why) => errors.push(source.key_error("client_cert", format!("tls: {why}"))),
                },
                Err(why) => {
                    errors.push(source.key_error("client_key", format!("tls.client_key: {why}")))
                }
            },
            (Some(_), Some(_)) => {}
            (Some(_), None) => errors.push(source.key_error(
                "client_cert",
                "tls.client_cert needs tls.client_key ({file: PATH} or {env: NAME})",
            )),
            (None, Some(_)) => errors
                .push(source.key_error("client_key", "tls.client_key goes with tls.client_cert")),
            (None, None) => {}
        }
    }
    if let Some(proxy) = proxy {
        let given = match proxy {
            LiteralOrSecret::Literal(url) if url.contains('@') => Err(
                "a URL with credentials comes from a secret source: proxy: {env: NAME} or {file: PATH}"
                    .to_string(),
            ),
            // A literal is checked by `validate` too; a secret source only when resolved.
            LiteralOrSecret::Literal(url) => Ok((url.clone(), None)),
            p if resolve => p.resolve(dir),
            _ => Ok((String::new(), None)),
        };
        match given {
            Ok((url, _)) if url.is_empty() => {}
            Ok((url, shell)) => match reqwest::Url::parse(&url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    c.proxy = ProxySetting::Url { url, shell }
                }
                _ => errors.push(
                    source.key_error("proxy", "proxy: not an http:// or https:// URL with a host"),
                ),
            },
            Err(why) => errors.push(source.key_error("proxy", format!("proxy: {why}"))),
        }
    }
    let credential_headers = spec.auth.credential_headers();
    for (name, value) in headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(source.key_error(name, format!("headers: `{name}` is no header name")));
            continue;
        }
        if let Some(h) = credential_headers
            .iter()
            .find(|h| h.eq_ignore_ascii_case(name))
        {
            errors.push(source.key_error(
                name,
                format!("headers: `{name}` carries the contract's credentials ({h}), which each check sets itself; give it under `credentials:`"),
            ));
            continue;
        }
        let resolved = match value {
            v if resolve => v.resolve(dir),
            LiteralOrSecret::Literal(v) => Ok((v.clone(), None)),
            LiteralOrSecret::Secret(s) => Ok((String::new(), Some(s.shell(dir)))),
        };
        match resolved {
            Ok((value, secret)) => {
                if reqwest::header::HeaderValue::from_str(&value).is_err() {
                    errors.push(source.key_error(
                        name,
                        format!("headers: `{name}`: the value is no header value (control characters or non-ASCII)"),
                    ));
                }
                c.headers.push(ExtraHeader {
                    name: name.clone(),
                    value,
                    secret,
                });
            }
            Err(why) => errors.push(source.key_error(name, format!("headers: `{name}`: {why}"))),
        }
    }
    c
}

/// `--target` and the embedded server: each credential as its `LELANTOS_*` variable.
fn env_shell() -> BTreeMap<Role, String> {
    Role::ALL
        .into_iter()
        .map(|r| (r, format!("${}", r.env_var())))
        .collect()
}

fn check_url(url: &str) -> Result<(), String> {
    // Userinfo first, and never echoed: `user:password@` is a secret in the URL.
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "the URL carries credentials (`user:password@host`): refused like an inline secret, so it never reaches a report; give the API's credentials under `credentials:` from {env: NAME} or {file: PATH}"
                .into(),
        );
    }
    // `127.0.0.1:8080`, `localhost:8080`: a host without its scheme.
    if !url.contains("://") {
        return Err(format!(
            "`{url}` is not a URL: it has no scheme; write it as http://{url} (or https://{url})"
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}`: only http and https targets are supported"
        ));
    }
    if parsed.host_str().is_none() {
        return Err(format!("`{url}` has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_its_scheme_is_told_to_add_one() {
        for url in ["127.0.0.1:8080", "localhost:8080", "api.example.test"] {
            let why = check_url(url).unwrap_err();
            assert!(why.contains(&format!("http://{url}")), "{why}");
            assert!(!why.contains("relative URL"), "{why}");
        }
        assert!(check_url("http://127.0.0.1:8080").is_ok());
    }

    fn load(text: &str) -> Result<Target, Error> {
        Target::from_source(&Source::inline("p.yaml", text), Spec::builtin())
    }

    #[test]
    fn userinfo_in_the_url_is_refused_without_quoting_it() {
        for url in [
            "http://admin:S3cretPw@127.0.0.1:1",
            "http://S3cretPw@127.0.0.1:1/api",
            "https://u:S3cretPw@host",
        ] {
            let err = load(&format!("base_url: {url}\n")).unwrap_err().to_string();
            assert!(err.starts_with("p.yaml:1:"), "{err}");
            assert!(err.contains("carries credentials"), "{err}");
            assert!(!err.contains("S3cretPw"), "{err}");
        }
        // An `@` in the path or query is no userinfo.
        assert!(load("base_url: http://127.0.0.1:1/a@b\n").is_ok());
    }

    #[test]
    fn headers_proxy_and_tls_are_read_and_checked_at_their_keys() {
        // SAFETY: tests in this module use variable names nothing else reads.
        unsafe { std::env::set_var("LC_TEST_GW_TOKEN", "gw-token-from-env-0001") };
        unsafe { std::env::set_var("LC_TEST_PROXY_URL", "http://u:pr0xyPassw0rd@127.0.0.1:3128") };
        let t = load(
            "base_url: https://127.0.0.1:1\nheaders:\n  X-Tenant: staging\n  X-Gateway-Token: {env: LC_TEST_GW_TOKEN}\nproxy: {env: LC_TEST_PROXY_URL}\n",
        )
        .unwrap();
        let h = &t.connection.headers;
        assert_eq!(
            (h[0].name.as_str(), h[0].value.as_str()),
            ("X-Gateway-Token", "gw-token-from-env-0001")
        );
        assert!(h[0].secret.is_some() && h[1].secret.is_none());
        // Secret values are redacted, literal ones are not.
        let r = t.redactor();
        assert!(
            !r.redact("a gw-token-from-env-0001 b")
                .contains("gw-token-from-env")
        );
        assert!(!r.redact("pr0xyPassw0rd").contains("pr0xyPassw0rd"));
        assert_eq!(r.redact("staging"), "staging");
        // A credential header is the checks' own: refused, at its key.
        let err =
            load("base_url: http://127.0.0.1:1\nheaders:\n  x-api-key: {env: LC_TEST_GW_TOKEN}\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("p.yaml:3:3: headers: `x-api-key` carries the contract's credentials"),
            "{err}"
        );
        assert!(!err.contains("gw-token-from-env"), "{err}");
        // A literal proxy URL with a password is refused without quoting it.
        let err = load("base_url: http://127.0.0.1:1\nproxy: http://u:S3cretPx@127.0.0.1:3128\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("p.yaml:2:1: proxy: a URL with credentials comes from a secret source"),
            "{err}"
        );
        assert!(!err.contains("S3cretPx"), "{err}");
        // A CA file that is not there, and a client certificate without its key.
        let err = load(
            "base_url: https://127.0.0.1:1\ntls:\n  ca: missing-ca.pem\n  client_cert: c.pem\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p.yaml:3:3: tls.ca: missing-ca.pem: cannot read"),
            "{err}"
        );
        assert!(
            err.contains("p.yaml:4:3: tls.client_cert needs tls.client_key"),
            "{err}"
        );
    }

    #[test]
    fn inline_secret_is_refused_without_quoting_it() {
        let err = load(
            "base_url: http://127.0.0.1:1\ncredentials:\n  api_key: lel_supersecretvalue123\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("p.yaml:3:"), "{err}");
        assert!(err.contains("inline secrets are refused"), "{err}");
        assert!(!err.contains("supersecret"), "{err}");
    }

    #[test]
    fn unknown_role_and_field_have_positions() {
        let err = load("base_url: http://127.0.0.1:1\ncredentials:\n  api_kee: {env: X}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.yaml:3:"), "{err}");
        assert!(err.contains("api_kee"), "{err}");
        let err = load("base_url: http://127.0.0.1:1\nratelimits: {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.yaml:2:1:"), "{err}");
    }

    #[test]
    fn the_limiter_names_of_serve_are_algorithms_too() {
        use crate::spec::Algorithm;
        for (word, a) in [
            ("gcra", Algorithm::TokenBucket),
            ("bucket", Algorithm::TokenBucket),
            ("fixed", Algorithm::FixedWindow),
            ("sliding", Algorithm::SlidingWindow),
            ("token_bucket", Algorithm::TokenBucket),
        ] {
            let t = load(&format!(
                "base_url: http://127.0.0.1:9/\nrate_limits:\n  algorithm: {word}\n"
            ))
            .unwrap();
            assert_eq!(t.spec.rate_limits.algorithm, a, "{word}");
        }
    }

    #[test]
    fn a_tab_in_the_indentation_is_named_where_it_stands() {
        let err = load("base_url: http://127.0.0.1:9/\nrate_limits:\n\twindow: 2s\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:3:1:"), "{err}");
        assert!(err.contains("a tab in the indentation"), "{err}");
        assert!(err.contains("spaces"), "{err}");
    }

    #[test]
    fn overrides_apply_to_the_effective_spec() {
        // SAFETY: tests in this module use a variable name nothing else reads.
        unsafe { std::env::set_var("LC_TEST_PROFILE_KEY", "lel_fromenvironment0001") };
        let t = load(
            "base_url: http://127.0.0.1:9/\ncredentials:\n  api_key: {env: LC_TEST_PROFILE_KEY}\n\
             rate_limits:\n  window: 2s\n  algorithm: sliding_window\n  categories:\n    general: {limit: 50}\n\
             endpoints:\n  login: {path: /v1/auth/token, returns: {access_token: /token}}\ndenial_statuses: [401]\n",
        )
        .unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        assert_eq!(t.credential(Role::ApiKey), Some("lel_fromenvironment0001"));
        assert_eq!(t.credential(Role::AdminToken), None);
        let g = t.spec.category("general").unwrap();
        assert_eq!((g.limit, g.window), (50, Duration::from_secs(2)));
        assert_eq!(
            t.spec.rate_limits.algorithm,
            crate::spec::Algorithm::SlidingWindow
        );
        assert_eq!(
            t.spec.category("sandbox_creation").unwrap().window,
            Duration::from_secs(2)
        );
        let login = t.spec.endpoint("login").unwrap();
        assert_eq!(login.path, "/v1/auth/token");
        assert_eq!(login.returns["access_token"], "/token");
        assert_eq!(login.returns["refresh_token"], "/refresh_token");
        assert_eq!(t.spec.auth.denial_statuses, vec![401]);
    }

    #[test]
    fn unknown_endpoint_suggests_the_nearest() {
        let err = load("base_url: http://127.0.0.1:1\nendpoints:\n  logn: {path: /x}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("p.yaml:3:3: unknown endpoint `logn` (did you mean `login`?)"),
            "{err}"
        );
    }

    #[test]
    fn json_file_credentials_and_missing_files() {
        let dir = std::env::temp_dir().join(format!("lc-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("creds.json"),
            r#"{"api_key": "lel_fromjsonfile00000001", "email": ""}"#,
        )
        .unwrap();
        let text = "base_url: http://127.0.0.1:1\ncredentials:\n  # api_key: a comment\n  api_key: {file: creds.json, pointer: /api_key}\n  email: {file: creds.json, pointer: /email}\n  admin_token: {file: missing.txt}\n";
        let path = dir.join("p.yaml");
        let src = Source::inline(path.to_str().unwrap(), text);
        let err = Target::from_source(&src, Spec::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("p.yaml:6:3: credential `admin_token`: cannot read"),
            "{err}"
        );
        assert_eq!(Target::check_source(&src, Spec::builtin()).unwrap(), 3);
        // An empty pointer target is an error too, naming the pointer, never a value.
        assert!(err.contains("/email in file"), "{err}");
        assert!(err.contains("is empty"), "{err}");
        let ok = text
            .replace("  admin_token: {file: missing.txt}\n", "")
            .replace("  email: {file: creds.json, pointer: /email}\n", "");
        let t = Target::from_source(
            &Source::inline(path.to_str().unwrap(), &ok),
            Spec::builtin(),
        )
        .unwrap();
        assert_eq!(t.credential(Role::ApiKey), Some("lel_fromjsonfile00000001"));
        assert_eq!(t.credential(Role::Email), None);
        let absent = ok.replace("pointer: /api_key", "pointer: /api_kee");
        let err = Target::from_source(
            &Source::inline(path.to_str().unwrap(), &absent),
            Spec::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/api_kee is absent from"), "{err}");
        assert!(!err.contains("lel_fromjsonfile"), "{err}");
    }

    #[test]
    fn a_declared_credential_that_cannot_be_read_is_an_error() {
        // SAFETY: tests in this module use variable names nothing else reads.
        unsafe { std::env::set_var("LC_TEST_EMPTY_VAR", "") };
        let err = load(
            "base_url: http://127.0.0.1:1\ncredentials:\n  api_key: {env: LC_TEST_UNSET_VAR}\n  admin_token: {env: LC_TEST_EMPTY_VAR}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p.yaml:3:3: credential `api_key`: environment variable LC_TEST_UNSET_VAR is not set"),
            "{err}"
        );
        assert!(
            err.contains(
                "credential `admin_token`: environment variable LC_TEST_EMPTY_VAR is empty"
            ),
            "{err}"
        );
    }
}
