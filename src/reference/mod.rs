//! The embedded reference server: a faithful, fast implementation of the whole contract, with
//! faults that each break one behaviour.
//!
//! `start` binds (port 0 is fine), generates fresh credentials, spawns the server on the current
//! tokio runtime and returns once it accepts connections. The credentials are returned to the
//! caller (and written by `serve --credentials-out` to a 0600 file); the server itself keeps API
//! keys only as SHA-256 digests and never logs a secret.
//!
//! Choices the contract leaves open, as the harness meets them:
//! - Every 401 carries `WWW-Authenticate`; denials are JSON `{"error": ...}` and never quote the
//!   presented credential. Leading or trailing whitespace around a header value is not part of
//!   it (RFC 9110 5.5; hyper strips it), so a key "with surrounding whitespace" is the key.
//! - Rate limits are per (identity, category): an API key, a user (`sub`), the admin token. Login
//!   and refresh take no credential and are charged per client address (IPv6: per /64) in their
//!   spec category. Fixed windows are aligned to the server's start. `RateLimit-Policy` and
//!   `RateLimit` (IETF draft) are sent only when the window is a whole number of seconds.
//! - Failed admin-token attempts are counted per client address against the admin endpoints'
//!   category limit; past it, every admin-token request from that address (even with the right
//!   token) gets the over-limit response until the window frees it. A test that sends many wrong
//!   admin tokens (the timing test) therefore locks its address out of admin endpoints for the
//!   rest of that window.
//! - The admin token is accepted on team endpoints (its scope is all resources): its listings
//!   span teams; a sandbox it creates belongs to the first team; a key it creates needs `team`.
//! - `--identities` keys belong to their own load teams, so team A's and B's listings stay small;
//!   key listings show at most the newest 1,000 keys (`"truncated": true` beyond).
//! - Memory is bounded: idle limiter state is swept (one window after an identity's last
//!   request), sessions, created keys, sandboxes and files have caps (`directory`, `jwt`).

// A refusal is a finished `Response` handed straight back to axum; boxing it would only add an
// allocation to every refusal.
#![allow(clippy::result_large_err)]

mod app;
mod auth;
mod directory;
mod fault;
mod jwt;
mod keys;
mod limiter;
mod respond;
mod routes;

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::serve::ListenerExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use fault::Fault;
pub use limiter::{Identity, Limiter, Outcome, Policy};
pub use respond::MAX_BODY;

use crate::error::Error;
use crate::spec::Spec;
use app::App;
use directory::{Directory, ProvisionOptions};

/// The rate-limiting algorithm (`serve --limiter`). Every one of them keeps the freshness
/// property documented in [`limiter`](self::limiter): one idle window makes an identity fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimiterKind {
    /// Fixed windows aligned to the server's start.
    #[default]
    Fixed,
    /// An exact sliding log: at most `limit` in any interval of one window.
    Sliding,
    /// A token bucket of capacity `limit`, refilled at `limit` per window.
    Bucket,
    /// GCRA with burst `limit` and rate `limit` per window.
    Gcra,
}

impl LimiterKind {
    /// Every algorithm, in the order `serve --help` lists them.
    pub const ALL: [LimiterKind; 4] = [
        LimiterKind::Fixed,
        LimiterKind::Sliding,
        LimiterKind::Bucket,
        LimiterKind::Gcra,
    ];

    /// The name `--limiter` takes (and reports write).
    pub fn name(self) -> &'static str {
        match self {
            LimiterKind::Fixed => "fixed",
            LimiterKind::Sliding => "sliding",
            LimiterKind::Bucket => "bucket",
            LimiterKind::Gcra => "gcra",
        }
    }

    /// What the algorithm does, as `--help` says it.
    pub fn describe(self) -> &'static str {
        match self {
            LimiterKind::Fixed => "Fixed windows aligned to the server's start",
            LimiterKind::Sliding => {
                "An exact sliding log: at most `limit` in any interval of one window"
            }
            LimiterKind::Bucket => {
                "A token bucket of capacity `limit`, refilled at `limit` per window"
            }
            LimiterKind::Gcra => "GCRA with burst `limit` and rate `limit` per window",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Replaces every category's window (limits unchanged), e.g. 2 s for a fast test run.
    pub window: Option<Duration>,
    pub limiter: LimiterKind,
    pub faults: Vec<Fault>,
    /// The cost of one matching byte under `admin-timing-leak`.
    pub leak_ns: u64,
    /// Extra API keys to provision (for load tests), spread over a few load teams.
    pub identities: usize,
    /// Generate the credentials and fixtures from this seed (`serve --seed`): the same seed
    /// gives the same server back. None: fresh ones.
    pub seed: Option<u64>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            window: None,
            limiter: LimiterKind::Fixed,
            faults: Vec::new(),
            leak_ns: 1000,
            identities: 0,
            seed: None,
        }
    }
}

/// What a client needs to exercise the server: every value is generated at start.
#[derive(Serialize, Deserialize, Clone)]
pub struct Credentials {
    pub base_url: String,
    pub api_key: String,
    pub api_key_other_team: String,
    pub api_key_revoked: String,
    pub email: String,
    pub password: String,
    pub admin_token: String,
    pub jwt_secret: String,
    pub other_team_sandbox: String,
    #[serde(default)]
    pub extra_api_keys: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    // Never print a secret, even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("base_url", &self.base_url)
            .field("other_team_sandbox", &self.other_team_sandbox)
            .field("extra_api_keys", &self.extra_api_keys.len())
            .finish_non_exhaustive()
    }
}

/// A running server. Dropping it stops the server too (without waiting).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub credentials: Credentials,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    app: Arc<App>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish (at most 5 s) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    pub fn base_url(&self) -> &str {
        &self.credentials.base_url
    }

    /// Rate-limit states held (identity × category); falls back as identities go idle.
    pub fn limiter_states(&self) -> usize {
        self.app.limiter.len()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the reference server for `spec` with `opts`; returns once it accepts connections.
pub async fn start(spec: Arc<Spec>, opts: ServeOptions) -> Result<RunningServer, Error> {
    let faults = fault::Faults::new(&opts.faults);
    let prefix = spec.auth.api_key.prefix.clone();
    let identities = opts.identities;
    let seed = opts.seed;
    let (dir, generated) = tokio::task::spawn_blocking(move || {
        Directory::provision(&ProvisionOptions {
            key_prefix: &prefix,
            seed,
            identities,
            keep_admin_plain: faults.has(Fault::AdminTimingLeak)
                || faults.has(Fault::AdminPrefixMatch),
            keep_plain_keys: faults.has(Fault::KeyListFull),
        })
    })
    .await
    .map_err(|e| Error::Target(format!("reference server: provisioning failed: {e}")))?;
    let jwt_secret = if faults.has(Fault::JwtWeakSecret) {
        "secret".to_string()
    } else {
        directory::random_alnum(&mut directory::fixture_rng(opts.seed, 1), 48)
    };
    let app = Arc::new(App::new(spec, &opts, dir, &jwt_secret)?);
    let router = routes::router(app.clone())?;

    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {}", opts.addr), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the listening address", e))?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (stop, stopped) = watch::channel(false);
    let mut on_stop = stopped.clone();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = on_stop.wait_for(|s| *s).await;
            })
            .await;
    });
    tokio::spawn(sweep(Arc::downgrade(&app), stopped, app.sweep_every()));

    // A server bound to every interface is reached on loopback.
    let mut reach = addr;
    if reach.ip().is_unspecified() {
        reach.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let credentials = Credentials {
        base_url: format!("http://{reach}"),
        api_key: generated.api_key,
        api_key_other_team: generated.api_key_other_team,
        api_key_revoked: generated.api_key_revoked,
        email: generated.email,
        password: generated.password,
        admin_token: generated.admin_token,
        jwt_secret,
        other_team_sandbox: generated.other_team_sandbox,
        extra_api_keys: generated.extra_api_keys,
    };
    Ok(RunningServer {
        addr,
        credentials,
        stop,
        task: Some(task),
        app,
    })
}

/// Evicts idle limiter state and expired sessions periodically, off the async workers.
async fn sweep(app: Weak<App>, mut stopped: watch::Receiver<bool>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let Some(app) = app.upgrade() else { return };
        let _ = tokio::task::spawn_blocking(move || {
            let before = app.limiter.len();
            let after = app.limiter.sweep();
            app.sessions.sweep();
            if before.saturating_sub(after) >= TRIM_AFTER_EVICTING {
                release_free_memory();
            }
        })
        .await;
    }
}

/// A sweep that evicts at least this many states hands freed memory back to the OS.
const TRIM_AFTER_EVICTING: usize = 10_000;

/// Returns memory the allocator holds but no longer uses to the OS, so RSS falls after a load
/// spike (glibc keeps freed heap pages otherwise). A no-op on other allocators.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Tunes the process's allocator for a long-running server (`serve` calls it; an embedding
/// process decides for itself): large blocks, such as the limiter's shard tables, are always
/// mapped on their own, so freeing them after a sweep returns them to the OS at once. (glibc
/// raises its mmap threshold as large blocks are freed, after which such tables come from the
/// heap and freed ones stay in RSS.)
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc tunable; called before the server starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// The roles a profile written by `serve --profile-out` reads from the credentials file, each
/// at the JSON pointer of the same name.
const PROFILE_ROLES: &[&str] = &[
    "api_key",
    "api_key_other_team",
    "api_key_revoked",
    "email",
    "password",
    "admin_token",
    "jwt_secret",
    "other_team_sandbox",
];

/// A target profile for a running `serve`: its base URL, every credential read from the
/// credentials file (by a path relative to the profile where both share a folder, else
/// absolute), and its window where `--window` replaced the spec's. It holds no secret.
pub fn profile_text(
    base_url: &str,
    credentials: &Path,
    profile: &Path,
    window: Option<Duration>,
) -> String {
    let folder = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let file = match credentials.file_name() {
        Some(name) if folder(credentials) == folder(profile) => std::path::PathBuf::from(name),
        _ => std::path::absolute(credentials).unwrap_or_else(|_| credentials.to_path_buf()),
    };
    let file = serde_json::to_string(&file.to_string_lossy()).expect("a string");
    let mut text = format!(
        "# The reference server `lelantos-conform serve` started, as a target profile:\n\
         #   lelantos-conform run --profile <this file>\n\
         # The credentials stay in {file}; this file holds none.\n\
         base_url: {base_url}\ncredentials:\n"
    );
    for role in PROFILE_ROLES {
        text.push_str(&format!("  {role}: {{file: {file}, pointer: /{role}}}\n"));
    }
    match window {
        Some(w) => text.push_str(&format!(
            "# The server's windows (serve --window): the run judges against these, not the\n\
             # contract's.\nrate_limits:\n  window: {}\n",
            humantime::format_duration(w)
        )),
        None => text.push_str("# No --window: the spec's own windows are judged.\n"),
    }
    text
}

/// The credentials as shell `export` lines, under the variables `--target` and replay lines
/// read (`LELANTOS_API_KEY`, ...): `. ./lelantos.env` makes a report's curl lines replay.
pub fn env_text(c: &Credentials) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    [
        ("LELANTOS_API_KEY", &c.api_key),
        ("LELANTOS_API_KEY_OTHER_TEAM", &c.api_key_other_team),
        ("LELANTOS_API_KEY_REVOKED", &c.api_key_revoked),
        ("LELANTOS_EMAIL", &c.email),
        ("LELANTOS_PASSWORD", &c.password),
        ("LELANTOS_ADMIN_TOKEN", &c.admin_token),
        ("LELANTOS_JWT_SECRET", &c.jwt_secret),
        ("LELANTOS_OTHER_TEAM_SANDBOX", &c.other_team_sandbox),
    ]
    .iter()
    .map(|(k, v)| format!("export {k}={}\n", quote(v)))
    .collect()
}

/// Writes [`profile_text`] to `profile` (a usage error, exit 2, when it cannot be written).
pub fn write_profile(
    profile: &Path,
    base_url: &str,
    credentials: &Path,
    window: Option<Duration>,
) -> Result<(), Error> {
    // Written beside and renamed over, so a reader waiting for the file never sees half of it.
    let text = profile_text(base_url, credentials, profile, window);
    let mut tmp = profile.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", jwt::random_hex(6)));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, profile))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Usage(format!(
                "--profile-out {}: cannot write the profile: {e}",
                profile.display()
            ))
        })
}

/// Writes the credentials as JSON to `path`, readable by the owner only (0600), atomically: a
/// temporary file in the same directory is written, synced and renamed over `path`.
pub fn write_credentials(path: &Path, credentials: &Credentials) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(credentials)
        .map_err(|e| Error::Target(format!("cannot serialize the credentials: {e}")))?;
    json.push(b'\n');
    write_private(path, "--credentials-out", "the credentials file", &json)
}

/// Writes [`env_text`] to `path`, readable by the owner only (`serve --env-out`).
pub fn write_env(path: &Path, credentials: &Credentials) -> Result<(), Error> {
    write_private(
        path,
        "--env-out",
        "the environment file",
        env_text(credentials).as_bytes(),
    )
}

/// Writes `contents` to `path` for the owner only (0600), atomically: a temporary file in the
/// same directory is written, synced and renamed over `path`. `flag` and `what` name it in the
/// error.
fn write_private(path: &Path, flag: &str, what: &str, contents: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "credentials".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", jwt::random_hex(6)));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        // A path the user gave that cannot take the file: a usage error (exit 2), raised before
        // the server serves anything.
        Error::Usage(format!(
            "{flag} {}: cannot write {what}: {e}",
            path.display()
        ))
    })
}
