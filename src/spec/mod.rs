//! The contract as data: the model of `specs/lelantos.yaml`, its loading and its validation.
//!
//! Code reads header names, prefixes, limits and windows from here; nothing else in the tool
//! hard-codes them, so a changed contract is a changed file.

mod model;
mod validate;

pub use model::*;

use std::path::Path;

use crate::error::Error;
use crate::yaml::Source;

/// The spec shipped with the tool, used when `--spec` is not given.
pub const DEFAULT_SPEC: &str = include_str!("../../specs/lelantos.yaml");
pub const DEFAULT_SPEC_NAME: &str = "specs/lelantos.yaml";

/// Loads the spec: the file given, or the built-in one.
pub fn load_spec(path: Option<&Path>) -> Result<Spec, Error> {
    match path {
        Some(p) => Spec::load(p),
        None => Ok(Spec::builtin()),
    }
}

impl Spec {
    /// Loads and validates a spec file; every problem found is reported, each with its position.
    pub fn load(path: &Path) -> Result<Spec, Error> {
        Self::from_source(&Source::read(path)?)
    }

    pub fn from_source(source: &Source) -> Result<Spec, Error> {
        let spec: Spec = source.parse()?;
        let errors = validate::validate(&spec, source);
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(Error::Files(errors))
        }
    }

    /// The built-in spec. It is part of the binary and covered by tests, so it always loads.
    pub fn builtin() -> Spec {
        Self::from_source(&Source::inline(DEFAULT_SPEC_NAME, DEFAULT_SPEC))
            .expect("the built-in spec is valid (tested)")
    }

    pub fn clause(&self, id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.id == id)
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.rate_limits.categories.get(name)
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_spec_loads() {
        let spec = Spec::builtin();
        assert_eq!(spec.auth.api_key.prefix, "lel_");
        assert_eq!(spec.category("general").unwrap().limit, 100);
        assert!(spec.clauses.len() >= 40);
        assert!(spec.clause("RL-429-RETRY-AFTER").is_some());
    }

    #[test]
    fn unknown_field_is_an_error_with_position() {
        let text = DEFAULT_SPEC.replacen("    level: must\n", "    levle: must\n", 1);
        let err = Spec::from_source(&Source::inline("s.yaml", &text)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("s.yaml:"), "{msg}");
        assert!(msg.contains("unknown field `levle`"), "{msg}");
    }

    #[test]
    fn semantic_errors_point_into_the_file() {
        let text =
            DEFAULT_SPEC.replacen("category: sandbox_creation", "category: sandbox_creaton", 1);
        let err = Spec::from_source(&Source::inline("s.yaml", &text)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown category `sandbox_creaton`"), "{msg}");
        assert!(msg.contains("did you mean `sandbox_creation`"), "{msg}");
        let line = text
            .lines()
            .position(|l| l.contains("sandbox_creaton"))
            .unwrap()
            + 1;
        assert!(msg.starts_with(&format!("s.yaml:{line}:")), "{msg}");
    }

    #[test]
    fn duplicate_clause_ids_are_errors() {
        let text = DEFAULT_SPEC.replacen("id: AUTH-KEY-PREFIX", "id: AUTH-KEY-HEADER", 1);
        let msg = Spec::from_source(&Source::inline("s.yaml", &text))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("duplicate clause id `AUTH-KEY-HEADER`"),
            "{msg}"
        );
    }
}
