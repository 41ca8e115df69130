//! The one error type of the tool and the one place that maps errors to exit codes (DESIGN.md):
//! 2 for usage, spec, profile or scenario errors; 3 when the target could not be reached or the
//! run could not complete.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem at a position in a user's file, printed as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line at `line`, shown under the message with a caret at the column.
    pub source_line: Option<String>,
}

impl FileError {
    pub fn new(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line: None,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        // As Hurl shows it: the line with its number in a gutter, a caret under the column.
        if let Some(text) = &self.source_line {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            // Tabs stay tabs so the caret lines up under them.
            let before = self.column.saturating_sub(1);
            let mut under: String = text
                .chars()
                .take(before)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            // Past the end of a line shown without its value: the caret still marks the column.
            under.extend(std::iter::repeat_n(' ', before - under.chars().count()));
            write!(f, "\n {pad} |\n {number} | {text}\n {pad} | {under}^")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more errors in a spec, profile or scenario file (exit 2).
    #[error("{}", join_lines(.0))]
    Files(Vec<FileError>),
    /// A command line or configuration mistake that has no file position (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The target could not be reached at all: the first request got no answer (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// The run could not complete: the target stopped answering, an interruption (exit 3).
    #[error("{0}")]
    Target(String),
    /// A local I/O failure, e.g. writing a report (exit 3).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn join_lines(errors: &[FileError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Files(_) | Error::Usage(_) => 2,
            Error::Unreachable(_) | Error::Target(_) | Error::Io { .. } => 3,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<FileError> for Error {
    fn from(e: FileError) -> Self {
        Error::Files(vec![e])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// "did you mean ..." for a name that is not one of `known`.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let best = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!(" (did you mean `{k}`?)"),
        None => String::new(),
    }
}
