//! Checks: running scenarios against a target and turning what they observe into findings.

pub mod bypass;
pub mod callback;
pub mod expect;
pub mod jwt;
pub mod property;
pub mod rate_limit;
pub mod refill;
pub mod scope;
pub mod steps;
pub mod surface;
pub mod template;
pub mod timing;
