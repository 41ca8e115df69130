//! `validate [FILE]...`: checks files without sending a request. The kind of a file is told by its
//! top-level fields: a spec has `clauses` and `endpoints`.

use std::path::Path;

use crate::error::{Error, FileError};
use crate::spec::Spec;
use crate::yaml::Source;

/// What a file was found to be, for the report line `validate` prints.
pub enum Checked {
    Spec { clauses: usize },
}

pub fn file(path: &Path) -> Result<Checked, Error> {
    let source = Source::read(path)?;
    let top: serde_yaml_ng::Value = source.parse()?;
    let has = |k: &str| top.get(k).is_some();
    if has("clauses") && has("endpoints") {
        let spec = Spec::from_source(&source)?;
        return Ok(Checked::Spec {
            clauses: spec.clauses.len(),
        });
    }
    Err(FileError::new(
        path,
        1,
        1,
        "not a spec file (a spec has `clauses` and `endpoints`)",
    )
    .into())
}
