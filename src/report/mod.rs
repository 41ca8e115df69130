//! Reports: siblings that each render the same `RunReport`. Every file is written atomically
//! (a temporary file renamed into place), so a reader never sees half a report.

mod chart;
#[cfg(test)]
mod fixture;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod model;
pub mod terminal;
mod text;

pub use model::*;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The report files a run can write; the terminal table is always printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "compliance.json",
            Format::Junit => "junit.xml",
            Format::Markdown => "compliance.md",
            Format::Html => "report.html",
        }
    }

    /// Parses `--format json,junit,md,html`.
    pub fn parse_list(text: &str) -> Result<Vec<Format>, Error> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let f = match name {
                "json" => Format::Json,
                "junit" => Format::Junit,
                "md" | "markdown" => Format::Markdown,
                "html" => Format::Html,
                other => {
                    return Err(Error::Usage(format!(
                        "--format: unknown format `{other}`{}; valid: json, junit, md, html",
                        crate::error::did_you_mean(other, ["json", "junit", "md", "html"])
                    )));
                }
            };
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    }
}

fn render(report: &RunReport, format: Format) -> String {
    match format {
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// Writes each format into `dir` (created if needed); returns the paths written.
pub fn write_all(
    report: &RunReport,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            format!("cannot create report directory {}", dir.display()),
            e,
        )
    })?;
    let mut written = Vec::new();
    for &format in formats {
        let path = dir.join(format.file_name());
        write_atomic(&path, render(report, format).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the fixture's reports and prints its terminal table, for a look: `cargo test dump_fixture -- --ignored`, into
    /// `$LELANTOS_DUMP_DIR` or the temporary directory.
    #[test]
    #[ignore]
    fn dump_fixture_reports() {
        let dir = std::env::var_os("LELANTOS_DUMP_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("lelantos-fixture-report"));
        let written = write_all(&fixture::report(), &dir, &Format::ALL).unwrap();
        for path in written {
            eprintln!("wrote {}", path.display());
        }
        eprintln!("{}", terminal::render(&fixture::report(), true));
    }
}
