//! Why a run stops before its end: a signal (Ctrl-C, or SIGTERM from Kubernetes, `timeout` or a
//! CI cancellation) or its time limit (`--max-duration`). `run`, `load` and `timing` end the same
//! way on each: every report written, verdict `error`, exit 3, and the reason in the report.

use std::time::Duration;

/// What stopped a run early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A signal: `SIGINT` (Ctrl-C) or `SIGTERM`.
    Signal(&'static str),
    /// The run's time limit.
    TimeLimit(Duration),
}

impl Stop {
    /// The run error's message: what stopped it, and that the report holds what was judged.
    pub fn message(&self) -> String {
        match self {
            Stop::Signal(name) => {
                format!("interrupted ({name}): the report holds what was judged so far")
            }
            Stop::TimeLimit(d) => format!(
                "time limit: the run reached --max-duration {} and was stopped; the report holds what was judged so far",
                humantime::format_duration(*d)
            ),
        }
    }

    /// Why a clause that never ran did not run.
    pub fn reason(&self) -> String {
        match self {
            Stop::Signal(name) => format!("not run: the run was interrupted ({name}) first"),
            Stop::TimeLimit(d) => format!(
                "not run: the run reached its time limit ({}) first",
                humantime::format_duration(*d)
            ),
        }
    }
}

/// The first signal to stop on: Ctrl-C or SIGTERM.
pub async fn signal() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => Stop::Signal("Ctrl-C"),
                _ = term.recv() => Stop::Signal("SIGTERM"),
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                Stop::Signal("Ctrl-C")
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Stop::Signal("Ctrl-C")
    }
}

/// A signal, or the time limit running out (never, without one).
pub async fn signal_or_limit(limit: Option<Duration>) -> Stop {
    match limit {
        Some(d) => tokio::select! {
            s = signal() => s,
            _ = tokio::time::sleep(d) => Stop::TimeLimit(d),
        },
        None => signal().await,
    }
}

/// The default time limit of a run whose longest rate-limit window is `window`: five windows plus
/// a minute (a run of the built-in scenarios takes about three windows; a target whose every
/// answer says to wait longer cannot hold it past this).
pub fn default_limit(window: Duration) -> Duration {
    window * 5 + Duration::from_secs(60)
}
