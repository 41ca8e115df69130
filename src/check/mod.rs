//! Checks: running scenarios against a target and turning what they observe into findings.

pub mod jwt;
pub mod template;
pub mod expect;
pub mod scope;
pub mod steps;
pub mod rate_limit;
