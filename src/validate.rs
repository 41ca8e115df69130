//! `validate [FILE]...`: checks files without sending a request. The kind of a file is told by its
//! top-level fields: a spec has `clauses` and `endpoints`, a scenario file `scenarios`, a profile
//! `base_url`.

use crate::plural::count;
use std::path::Path;

use crate::error::{Error, FileError};
use crate::profile::Target;
use crate::spec::Spec;
use crate::yaml::Source;

/// What a file was found to be, for the line `validate` prints.
pub enum Checked {
    Spec { clauses: usize },
    Scenarios { count: usize },
    Profile { credentials: usize },
}

impl Checked {
    pub fn describe(&self) -> String {
        match self {
            Checked::Spec { clauses } => format!("spec, {}", count(*clauses as u64, "clause")),
            Checked::Scenarios { count: n } => count(*n as u64, "scenario"),
            Checked::Profile { credentials } => {
                format!(
                    "profile, {}",
                    count(*credentials as u64, "credential source")
                )
            }
        }
    }
}

/// Checks one file against `spec` (scenarios name its clauses; profiles override it).
pub fn file(path: &Path, spec: &Spec) -> Result<Checked, Error> {
    let source = Source::read(path)?;
    // What may be a profile is shown without its values until it is known not to be one (an
    // inline secret must not be echoed under a syntax error).
    let source = if source.text.lines().any(|l| l.starts_with("base_url")) {
        source.hiding_values()
    } else {
        source
    };
    let top: serde_yaml_ng::Value = source.parse()?;
    let has = |k: &str| top.get(k).is_some();
    if has("clauses") && has("endpoints") {
        let spec = Spec::from_source(&source)?;
        return Ok(Checked::Spec {
            clauses: spec.clauses.len(),
        });
    }
    if has("scenarios") {
        let loaded = crate::scenario::load_source(&source, spec)?;
        return Ok(Checked::Scenarios {
            count: loaded.len(),
        });
    }
    if has("base_url") {
        let declared = Target::check_source(&source, spec.clone())?;
        return Ok(Checked::Profile {
            credentials: declared,
        });
    }
    Err(FileError::new(
        path,
        1,
        1,
        "not a spec (clauses, endpoints), scenario file (scenarios) or profile (base_url)",
    )
    .into())
}
