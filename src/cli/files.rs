//! `validate` and `list`: files read and shown, no request sent.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::{list, plural, scenario, spec, validate};

/// `validate`.
#[derive(Args)]
pub struct ValidateCmd {
    /// Files to check; without any, the built-in spec and scenarios.
    files: Vec<PathBuf>,
    /// The spec scenario files and profiles are checked against.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
}

impl ValidateCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let spec = spec::load_spec(self.spec.as_deref())?;
        if self.files.is_empty() {
            let scenarios = scenario::builtin(&spec)?;
            println!(
                "ok: spec ({}), {}",
                plural::count(spec.clauses.len() as u64, "clause"),
                plural::count(scenarios.len() as u64, "built-in scenario")
            );
            return Ok(0);
        }
        let mut errors = Vec::new();
        for path in &self.files {
            match validate::file(path, &spec) {
                Ok(checked) => println!("ok: {} ({})", path.display(), checked.describe()),
                Err(Error::Files(mut e)) => errors.append(&mut e),
                Err(other) => return Err(other),
            }
        }
        if errors.is_empty() {
            Ok(0)
        } else {
            Err(Error::Files(errors))
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    Clauses,
    Scenarios,
    Faults,
}

/// `list`.
#[derive(Args)]
pub struct ListCmd {
    #[arg(value_enum, default_value = "clauses")]
    what: ListWhat,
    /// The spec to list (default: the built-in specs/lelantos.yaml).
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Scenario files or directories (default: the built-in scenarios).
    #[arg(long, value_name = "PATH")]
    scenarios: Vec<PathBuf>,
}

impl ListCmd {
    pub fn exec(self) -> Result<u8, Error> {
        let spec = spec::load_spec(self.spec.as_deref())?;
        match self.what {
            ListWhat::Clauses => println!("{}", list::clauses(&spec)),
            ListWhat::Scenarios => {
                let loaded = crate::run::load_scenarios(&self.scenarios, &spec)?;
                println!("{}", list::scenarios(&loaded))
            }
            ListWhat::Faults => println!("{}", list::faults()),
        }
        Ok(0)
    }
}
