//! Which target a command checks, resolved once for `run`, `timing` and `load`: the embedded
//! reference server (started here, on loopback), a profile, or a bare URL with credentials from
//! the environment. Embedded-only options given with a real target are a usage error, found
//! before anything starts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::probe::Transport;
use crate::probe::replay::{Replay, quoted};
use crate::probe::transport::TlsFlags;
use crate::profile::{Role, Target};
use crate::reference::{self, Fault, LimiterKind, RunningServer, ServeOptions};
use crate::report::{TargetInfo, TlsInfo};
use crate::spec::Spec;

/// The window of the embedded reference server: short, so a newcomer's run takes seconds.
pub const EMBEDDED_WINDOW: Duration = Duration::from_secs(2);

/// The embedded server's window for the `timing` command. The reference server throttles failed
/// admin attempts per client address with the general limit (100 per window), and every timing
/// request is a failed attempt: with 1 ms windows the throttle admits 100 000 a second, more than
/// one sequential connection can send, so it never interrupts the measurement. (The throttle is
/// `run`'s business, AUTH-ADMIN-THROTTLED; against a real target the timing test paces by
/// Retry-After instead, and needs a budget to match.)
pub const TIMING_EMBEDDED_WINDOW: Duration = Duration::from_millis(1);

/// A file of API keys for load pools against a real target (one a line, or `serve`'s
/// credentials JSON with `extra_api_keys`).
pub const POOL_ENV: &str = "LELANTOS_API_KEY_POOL";

/// The embedded server's settings (`--limiter`, `--window`, `--fault`, `--leak-ns`).
#[derive(Debug, Clone, Default)]
pub struct EmbeddedOptions {
    pub limiter: Option<LimiterKind>,
    pub window: Option<Duration>,
    pub faults: Vec<Fault>,
    pub leak_ns: Option<u64>,
    /// The run's seed: the embedded server's credentials come from it, so `serve --seed`
    /// gives the same server back.
    pub seed: Option<u64>,
}

impl EmbeddedOptions {
    fn given(&self) -> bool {
        self.limiter.is_some()
            || self.window.is_some()
            || !self.faults.is_empty()
            || self.leak_ns.is_some()
    }
}

/// What a command needs of an embedded server: its default window and extra identities.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub default_window: Duration,
    pub identities: usize,
}

/// A resolved target: the deployment, the embedded server when one was started (the caller
/// shuts it down), and the pool of extra API keys.
pub struct Resolved {
    pub target: Target,
    pub server: Option<RunningServer>,
    pub pool: Vec<String>,
    /// For the embedded server: the `serve` command that starts the same server again.
    pub serve_again: Option<String>,
}

/// Resolves `--target URL`, `--profile FILE` or neither (the embedded server).
pub async fn resolve(
    spec: &Spec,
    url: Option<&str>,
    profile: Option<&Path>,
    embedded: &EmbeddedOptions,
    needs: Needs,
    tls: &TlsFlags,
) -> Result<Resolved, Error> {
    let mut resolved = resolve_target(spec, url, profile, embedded, needs).await?;
    if let Err(e) = resolved.target.connection.tls.apply(tls) {
        if let Some(s) = resolved.server.take() {
            s.shutdown().await;
        }
        return Err(e);
    }
    Ok(resolved)
}

/// What the report says of the target: where, and how it was reached.
pub fn info(target: &Target, transport: &crate::probe::Transport) -> TargetInfo {
    let tls = &target.connection.tls;
    let given = tls.insecure || !tls.ca_files.is_empty() || tls.client.is_some();
    TargetInfo {
        base_url: target.base_url.clone(),
        embedded: target.embedded,
        profile: target.profile.as_ref().map(|p| p.display().to_string()),
        tls: given.then(|| TlsInfo {
            ca: tls
                .ca_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            client_cert: tls
                .client
                .as_ref()
                .map(|c| c.cert_file.display().to_string()),
            insecure: tls.insecure,
        }),
        proxy: transport.through(),
        headers: target
            .connection
            .headers
            .iter()
            .map(|h| h.name.clone())
            .collect(),
        serve_again: None,
    }
}

/// The limits and windows a run judges against and where they come from, said before the
/// first request: `general 100 per 1m, sandbox_creation 10 per 1m, ... (from the spec: ...)`.
pub fn limits_line(target: &Target) -> String {
    let limits: Vec<String> = target
        .spec
        .rate_limits
        .categories
        .iter()
        .map(|(name, c)| {
            format!(
                "{name} {}/{}",
                c.limit,
                humantime::format_duration(c.window)
            )
        })
        .collect();
    format!(
        "rate limits judged: {} (windows from {})",
        limits.join(", "),
        target.windows_from
    )
}

/// What every report and the terminal must warn of.
pub fn warnings(target: &Target) -> Vec<String> {
    let mut out = Vec::new();
    if target.connection.tls.insecure {
        out.push(format!(
            "--insecure: the certificate of {} was not verified; anyone on the path could have answered",
            target.base_url
        ));
    }
    out
}

async fn resolve_target(
    spec: &Spec,
    url: Option<&str>,
    profile: Option<&Path>,
    embedded: &EmbeddedOptions,
    needs: Needs,
) -> Result<Resolved, Error> {
    if url.is_some() || profile.is_some() {
        if embedded.given() {
            return Err(Error::Usage("--limiter, --window, --fault and --leak-ns apply to the embedded server only (no --target or --profile)".into()));
        }
        let target = match (url, profile) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage("give --target or --profile, not both".into()));
            }
            (Some(u), None) => Target::from_url(u, spec.clone())?,
            (None, Some(p)) => Target::load(p, spec.clone())?,
            (None, None) => unreachable!("one of them is given"),
        };
        return Ok(Resolved {
            target,
            server: None,
            pool: pool_from_env()?,
            serve_again: None,
        });
    }
    if embedded.window.is_some_and(|w| w.is_zero()) {
        return Err(Error::Usage("--window must be longer than 0".into()));
    }
    let window = embedded.window.unwrap_or(needs.default_window);
    let opts = ServeOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        window: Some(window),
        limiter: embedded.limiter.unwrap_or_default(),
        faults: embedded.faults.clone(),
        leak_ns: embedded.leak_ns.unwrap_or(ServeOptions::default().leak_ns),
        identities: needs.identities,
        seed: embedded.seed,
    };
    let again = serve_command(&opts);
    let server = reference::start(Arc::new(spec.clone()), opts).await?;
    let mut effective = spec.clone();
    for c in effective.rate_limits.categories.values_mut() {
        c.window = window;
    }
    let mut target = Target::embedded(
        &server.credentials.base_url,
        embedded_credentials(&server.credentials),
        effective,
    );
    target.windows_from = match embedded.window {
        Some(_) => "the embedded server's --window".into(),
        None => format!(
            "the embedded server's default window ({}; --window changes it)",
            humantime::format_duration(window)
        ),
    };
    Ok(Resolved {
        target,
        pool: server.credentials.extra_api_keys.clone(),
        serve_again: again.map(|c| c.replace("127.0.0.1:0", &server.addr.to_string())),
        server: Some(server),
    })
}

/// The `serve` command that starts a server like `opts` describes (seeded: the same
/// credentials), on the port to be filled in, with its credentials as `export` lines beside:
/// `... --env-out lelantos.env & . ./lelantos.env`. None without a seed.
fn serve_command(opts: &ServeOptions) -> Option<String> {
    let seed = opts.seed?;
    let mut cmd = format!("lelantos-conform serve --addr {} --seed {seed}", opts.addr);
    if let Some(w) = opts.window {
        cmd.push_str(&format!(" --window {}", humantime::format_duration(w)));
    }
    cmd.push_str(&format!(" --limiter {}", opts.limiter.name()));
    for f in &opts.faults {
        cmd.push_str(&format!(" --fault {f}"));
    }
    if opts.leak_ns != ServeOptions::default().leak_ns {
        cmd.push_str(&format!(" --leak-ns {}", opts.leak_ns));
    }
    if opts.identities > 0 {
        cmd.push_str(&format!(" --identities {}", opts.identities));
    }
    cmd.push_str(" --env-out lelantos.env & sleep 1; . ./lelantos.env");
    Some(cmd)
}

pub fn embedded_credentials(c: &reference::Credentials) -> Vec<(Role, String)> {
    vec![
        (Role::ApiKey, c.api_key.clone()),
        (Role::ApiKeyOtherTeam, c.api_key_other_team.clone()),
        (Role::ApiKeyRevoked, c.api_key_revoked.clone()),
        (Role::Email, c.email.clone()),
        (Role::Password, c.password.clone()),
        (Role::AdminToken, c.admin_token.clone()),
        (Role::JwtSecret, c.jwt_secret.clone()),
        (Role::OtherTeamSandbox, c.other_team_sandbox.clone()),
    ]
}

/// Reads the pool file `LELANTOS_API_KEY_POOL` names (none: an empty pool).
fn pool_from_env() -> Result<Vec<String>, Error> {
    let Ok(path) = std::env::var(POOL_ENV) else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Usage(format!("{POOL_ENV}={path}: cannot read: {e}")))?;
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(keys) = j.get("extra_api_keys").and_then(|v| v.as_array())
    {
        return Ok(keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect());
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// What the replay lines of a run write for its secrets, TLS and proxy.
pub fn replay(target: &Target, transport: &Transport) -> Replay {
    let spec = &target.spec;
    let names = target
        .credentials
        .iter()
        .filter(|(role, _)| role.is_secret())
        .filter_map(|(role, value)| {
            target
                .shell
                .get(role)
                .map(|expr| (value.clone(), expr.clone()))
        });
    let mut r = Replay::new(
        names,
        target.credential(Role::JwtSecret).map(str::to_string),
        spec.auth
            .credential_headers()
            .into_iter()
            .map(str::to_ascii_lowercase)
            .collect(),
    );
    r = r.with_prefixes(&target.secret_prefixes());
    let tls = &target.connection.tls;
    for ca in &tls.ca_files {
        r = r.with_option(format!("--cacert {}", quoted(ca)));
    }
    if let Some(c) = &tls.client {
        r = r.with_option(format!(
            "--cert {} --key {}",
            quoted(&c.cert_file),
            c.key_arg
        ));
    }
    if tls.insecure {
        r = r.with_option("-k".into());
    }
    if let Some(expr) = transport.proxy_shell() {
        // The variable or secret source itself: it may carry the proxy's credentials.
        r = r.with_option(format!("-x \"{expr}\""));
    } else if let Some(p) = transport.proxy_url() {
        r = r.with_option(format!("-x {}", quoted(std::path::Path::new(p))));
    } else if target.embedded {
        r = r.with_option("--noproxy '*'".into());
    }
    for h in &target.connection.headers {
        r = r.with_header(&h.name, &h.value, h.secret.as_deref());
    }
    r
}

/// The probe of a resolved target, its replay lines knowing the target's credentials.
pub fn probe(target: &Target, transport: &Transport) -> Result<crate::probe::Probe, Error> {
    crate::probe::Probe::new(
        &target.spec,
        &target.base_url,
        transport,
        target.redactor(),
        replay(target, transport),
    )
}
