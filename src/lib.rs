//! lelantos-conform: a conformance harness and load tester for the Lelantos API's authentication
//! and rate-limit contract.
//!
//! Data flows one way: files are loaded and validated (`spec`, `profile`, `scenario`), a plan is
//! built, the engine observes the target (`probe`, `check`), verdicts are judged (`verdict`) and
//! reports render them (`report`). `reference` is the embedded reference server.

pub mod check;
pub mod cli;
pub mod engine;
pub mod error;
pub mod gate;
pub mod list;
pub mod load;
pub mod plural;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod rate;
pub mod redact;
pub mod reference;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod spec;
pub mod stop;
pub mod target;
pub mod timing;
pub mod validate;
pub mod verdict;
pub mod yaml;

pub use error::{Error, Result};
