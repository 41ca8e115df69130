//! `serve`: the reference server until Ctrl-C, with the files a client needs beside it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::options::{duration, fault};
use super::runtime;
use crate::error::Error;
use crate::reference::{self, Fault, LimiterKind, ServeOptions};
use crate::spec::Spec;

/// `serve`.
#[derive(Args)]
pub struct ServeCmd {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Replace every rate-limit category's window (limits unchanged), e.g. 2s.
    #[arg(long, value_parser = duration)]
    window: Option<Duration>,
    /// Break one documented behaviour (repeatable); `list faults` shows them.
    #[arg(long = "fault", value_name = "NAME", value_parser = fault)]
    faults: Vec<Fault>,
    /// Write the generated credentials as JSON to this file (mode 0600).
    #[arg(long, value_name = "FILE")]
    credentials_out: Option<PathBuf>,
    /// Also write a target profile for this server (base URL, the credentials read from
    /// --credentials-out, the --window): `run --profile FILE` then judges its windows.
    #[arg(long, value_name = "FILE", requires = "credentials_out")]
    profile_out: Option<PathBuf>,
    /// Also write the credentials as shell `export` lines (mode 0600) under the variables
    /// replay lines read: `. ./FILE` makes a report's curl lines replay against this server.
    #[arg(long, value_name = "FILE")]
    env_out: Option<PathBuf>,
    /// Generate the credentials and fixtures from this seed: `serve --seed` with a run's
    /// seed gives that run's embedded server back (its report says the whole command).
    #[arg(long)]
    seed: Option<u64>,
    /// The rate-limiting algorithm.
    #[arg(long, value_enum, default_value = "fixed")]
    limiter: LimiterKind,
    /// Nanoseconds each matching byte costs under the admin-timing-leak fault.
    #[arg(long, default_value_t = 1000)]
    leak_ns: u64,
    /// Provision this many extra API keys (credentials file: extra_api_keys), for load tests.
    #[arg(long, default_value_t = 0)]
    identities: usize,
    /// The spec to serve (default: the built-in specs/lelantos.yaml).
    #[arg(long)]
    spec: Option<PathBuf>,
}

/// Where `serve` writes what it generated.
struct ServeFiles {
    credentials: Option<PathBuf>,
    profile: Option<PathBuf>,
    env: Option<PathBuf>,
}

impl ServeCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let spec = match &self.spec {
            Some(path) => Spec::load(path)?,
            None => Spec::builtin(),
        };
        if self.window.is_some_and(|w| w.is_zero()) {
            return Err(Error::Usage("--window must be longer than 0".into()));
        }
        let opts = ServeOptions {
            addr: self.addr,
            window: self.window,
            limiter: self.limiter,
            faults: self.faults,
            leak_ns: self.leak_ns,
            identities: self.identities,
            seed: self.seed,
        };
        reference::tune_allocator();
        let files = ServeFiles {
            credentials: self.credentials_out,
            profile: self.profile_out,
            env: self.env_out,
        };
        runtime()?.block_on(serve(Arc::new(spec), opts, files))
    }
}

/// Starts, writes the credentials (only to the 0600 file: never to the terminal), says where it
/// listens, runs until Ctrl-C or SIGTERM. With `--profile-out`, a profile for it beside them;
/// with `--env-out`, `export` lines.
async fn serve(spec: Arc<Spec>, opts: ServeOptions, files: ServeFiles) -> Result<u8, Error> {
    let window = opts.window;
    let mut server = reference::start(spec, opts).await?;
    if let Some(path) = &files.credentials {
        reference::write_credentials(path, &server.credentials)?;
        if let Some(profile) = &files.profile {
            reference::write_profile(profile, &server.credentials.base_url, path, window)?;
        }
    }
    if let Some(path) = &files.env {
        reference::write_env(path, &server.credentials)?;
    }
    // The extra keys are in the file; the server keeps only their digests.
    server.credentials.extra_api_keys = Vec::new();
    reference::release_free_memory();
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{}", server.addr);
    let _ = stdout.flush();
    let server = Arc::new(tokio::sync::Mutex::new(Some(server)));
    let report = {
        let server = server.clone();
        tokio::spawn(async move {
            // A line on stderr when the limiter's state count moves a lot (load tests watch it).
            let mut last = 0usize;
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let guard = server.lock().await;
                let Some(s) = guard.as_ref() else { return };
                let now = s.limiter_states();
                if now != last && now.max(last) >= 1000 {
                    eprintln!("limiter: {now} identity states");
                }
                last = now;
            }
        })
    };
    crate::stop::signal().await;
    report.abort();
    if let Some(s) = server.lock().await.take() {
        s.shutdown().await;
    }
    Ok(0)
}
