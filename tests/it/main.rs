//! The integration tests, one binary: each module is one area, run against the reference server,
//! a faulty variant of it, or a third-party component on an ephemeral loopback port. `support`
//! holds what they share.
//!
//! Under nextest (`.ci/run`), the tests that measure time (`timing`, `load_pacing`) run after the
//! others, alone: see `.config/nextest.toml`.

mod support;

mod cli_errors;
mod cli_run;
mod cli_shell;
mod deployment;
mod docs;
mod gate;
mod gateway_nginx;
mod hostile_target;
mod layering;
mod load_cli;
mod load_pacing;
mod peer_express;
mod peer_flask;
mod reference_binary;
mod reference_endpoints;
mod reference_faults;
mod reference_rate_limits;
mod replay;
mod report_browser;
mod report_fixtures;
mod run_faults;
mod run_properties;
mod run_readings;
mod run_secrets;
mod schema;
mod timing;
