//! Reports: siblings that each render the same `RunReport`. Every file is written atomically
//! (a temporary file renamed into place), so a reader never sees half a report.

mod cdf;
pub mod chart;
pub mod escape;
#[cfg(test)]
mod fixture;
mod folder;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod model;
pub mod terminal;
mod text;

pub use folder::{LOCK, REPORT_FILES, ReportDir};
pub use model::*;

use std::path::{Path, PathBuf};

use std::time::SystemTime;

use crate::error::Error;
use crate::verdict::RunVerdict;

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
        if out.is_empty() {
            return Err(Error::Usage(
                "--format: give at least one of json, junit, md, html (a run that writes no report checks nothing anyone can see)".into(),
            ));
        }
        Ok(out)
    }
}

/// A finished command: the report and where its files went.
pub struct RunOutcome {
    pub report: RunReport,
    pub report_dir: PathBuf,
    pub written: Vec<PathBuf>,
    /// `load --segment I/N`: one part of a distributed swarm, whose verdict is partial.
    pub partial: Option<(usize, usize)>,
}

impl RunOutcome {
    /// 0, 1 or 3 by the verdict. A segment (`partial`) that completed exits 0 whatever its
    /// partial verdict: `report merge` of every part decides, and a job runner that retries a
    /// failed pod must not send a completed segment against the target again.
    pub fn exit_code(&self) -> u8 {
        match (self.report.verdict, self.partial) {
            (RunVerdict::Error, _) => 3,
            (_, Some(_)) => 0,
            (RunVerdict::Pass, None) => 0,
            (RunVerdict::Fail, None) => 1,
        }
    }
}

/// `reports/<UTC timestamp>/`, e.g. `reports/2026-11-26T232700Z`.
pub fn default_report_dir() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    PathBuf::from("reports").join(stamp)
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
    write_all_with(report, dir, formats, &[])
}

/// `write_all`, with more sections for `report.html` (a load swarm's charts): every file is
/// still written once, atomically.
pub fn write_all_with(
    report: &RunReport,
    dir: &Path,
    formats: &[Format],
    html_sections: &[String],
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
        let text = match format {
            Format::Html => html::render_with(report, html_sections),
            other => render(report, other),
        };
        write_atomic(&path, text.as_bytes())?;
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

/// Every (file, secret fingerprint) where a file under `dir` holds a raw secret: as written, or
/// as any report would escape it (HTML, XML, JSON, Markdown), since an escaped secret is still a
/// leak. For tests that plant secrets and grep every report for them; the output names a secret
/// only by its fingerprint (`crate::redact::fingerprint`), so a failing test does not leak it.
pub fn find_secrets(dir: &Path, secrets: &[&str]) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files.sort();
    let forms: Vec<(&str, Vec<String>)> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|&secret| {
            let json = serde_json::to_string(secret).expect("a string serializes");
            let mut forms = vec![
                secret.to_string(),
                escape::esc(secret),
                junit::attr(secret),
                junit::body(secret),
                json[1..json.len() - 1].to_string(),
                markdown::inline(secret),
            ];
            forms.sort();
            forms.dedup();
            (secret, forms)
        })
        .collect();
    let mut found = Vec::new();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let lower = bytes.to_ascii_lowercase();
        for (secret, variants) in &forms {
            if variants.iter().any(|v| contains(&bytes, v.as_bytes())) {
                found.push((path.clone(), crate::redact::fingerprint(secret, &[])));
                continue;
            }
            // A near-copy: any stretch of `WINDOW` characters of the secret, in any case (an
            // altered, truncated or case-flipped copy is a secret in all but name).
            let near = secret
                .as_bytes()
                .windows(crate::redact::WINDOW)
                .any(|w| contains(&lower, &w.to_ascii_lowercase()));
            if near {
                found.push((
                    path.clone(),
                    format!(
                        "{} ({} characters of it)",
                        crate::redact::fingerprint(secret, &[]),
                        crate::redact::WINDOW
                    ),
                ));
            }
        }
    }
    found
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lelantos-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn every_format_is_written_and_rendered_by_its_own_module() {
        let dir = scratch_dir("formats");
        let report = fixture::report();
        let written = write_all(&report, &dir, &Format::ALL).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "compliance.json",
                "junit.xml",
                "compliance.md",
                "report.html"
            ]
        );
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(read("junit.xml").starts_with("<?xml"));
        assert!(read("compliance.md").starts_with("## "));
        assert!(read("report.html").starts_with("<!DOCTYPE html>"));
        let json: serde_json::Value = serde_json::from_str(&read("compliance.json")).unwrap();
        assert_eq!(json["verdict"], "fail");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn find_secrets_sees_raw_and_escaped_secrets_and_never_prints_them() {
        let dir = scratch_dir("secrets");
        let secret = "lel_pl4nted<&'\"_secret_ABCD";
        let clean = "lel_never_written_anywhere_WXYZ";
        let mut report = fixture::report();
        write_all(&report, &dir.join("clean"), &Format::ALL).unwrap();
        report.clauses[4].evidence[0].exchanges[1].response_body = Some(format!("leak: {secret}"));
        write_all(&report, &dir.join("leaky"), &Format::ALL).unwrap();
        std::fs::write(dir.join("leaky").join("notes.txt"), secret).unwrap();

        let found = find_secrets(&dir, &[secret, clean, ""]);
        let files: Vec<_> = found
            .iter()
            .map(|(p, _)| p.strip_prefix(&dir).unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "leaky/compliance.json",
                "leaky/compliance.md",
                "leaky/junit.xml",
                "leaky/notes.txt",
                "leaky/report.html"
            ]
        );
        assert!(found.iter().all(|(_, f)| f == "…ABCD"));
        assert!(!format!("{found:?}").contains("pl4nted"));
        assert!(find_secrets(&dir.join("clean"), &[secret]).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
        eprintln!(
            "{}",
            terminal::render(
                &fixture::report(),
                &terminal::Options {
                    color: true,
                    ..terminal::Options::plain()
                }
            )
        );
    }
}
