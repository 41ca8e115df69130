//! Loading the tool's YAML files (specs, profiles, scenarios) with positions.
//!
//! Syntax and shape errors (unknown fields, wrong types) come from serde with their line and
//! column. Checks that need more than one field (an unknown clause id, an unknown category) run
//! after deserializing; `locate` finds the offending value's position in the source text so those
//! errors point into the file too.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, FileError};

/// A loaded file: its path and text, kept to place later errors.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: std::path::PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("{}: cannot read: {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
        })
    }

    pub fn inline(name: &str, text: &str) -> Self {
        Self {
            path: name.into(),
            text: text.to_string(),
        }
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, FileError> {
        serde_yaml_ng::from_str(&self.text).map_err(|e| self.serde_error(&e))
    }

    fn serde_error(&self, e: &serde_yaml_ng::Error) -> FileError {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // serde_yaml_ng says " at line L column C" after the problem; the position is already in
        // front. A syntax error may go on with its context (", while parsing a flow sequence at
        // line 3 column 14": where the unclosed bracket is), which is kept.
        let mut message =
            e.to_string()
                .replacen(&format!(" at line {line} column {column}"), "", 1);
        message.push_str(&suggestion(&message));
        FileError::new(&self.path, line, column, message)
    }

    /// An error at the first place `needle` stands as a value (after a `key:` or a `- `), else at
    /// its first occurrence, else at the top of the file.
    pub fn error_at(&self, key: &str, needle: &str, message: impl Into<String>) -> FileError {
        let (line, column) = self.locate(key, needle);
        FileError::new(&self.path, line, column, message)
    }

    /// The position of the first mapping key `name:` (the name itself, not its value).
    pub fn key_error(&self, name: &str, message: impl Into<String>) -> FileError {
        let (line, column) = self
            .text
            .lines()
            .enumerate()
            .find_map(|(i, line)| {
                let trimmed = line.trim_start().trim_start_matches("- ");
                let col = line.len() - trimmed.len();
                let bare = trimmed.trim_start_matches(['"', '\'']);
                (bare.starts_with(name)
                    && bare[name.len()..]
                        .trim_start_matches(['"', '\''])
                        .starts_with(':'))
                .then_some((i + 1, col + 1))
            })
            .unwrap_or((1, 1));
        FileError::new(&self.path, line, column, message)
    }

    pub fn locate(&self, key: &str, needle: &str) -> (usize, usize) {
        self.locate_nth(key, needle, 0)
    }

    /// `error_at` for the `nth` (0-based) keyed occurrence of `needle`: a value that stands
    /// several times (a duplicate name) is reported where it repeats, not where it first stands.
    pub fn error_at_nth(
        &self,
        key: &str,
        needle: &str,
        nth: usize,
        message: impl Into<String>,
    ) -> FileError {
        let (line, column) = self.locate_nth(key, needle, nth);
        FileError::new(&self.path, line, column, message)
    }

    fn locate_nth(&self, key: &str, needle: &str, nth: usize) -> (usize, usize) {
        let mut fallback = None;
        let mut seen = 0;
        for (i, line) in self.text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let code = line.split(" #").next().unwrap_or(line);
            let Some(col) = find_token(code, needle) else {
                continue;
            };
            let before = code[..col].trim_end_matches(['"', '\'']).trim_end();
            let keyed = !key.is_empty() && before.ends_with(&format!("{key}:"));
            if keyed
                || before.ends_with("- ")
                || before.ends_with('-')
                || before.ends_with('[')
                || before.ends_with(',')
            {
                if seen == nth {
                    return (i + 1, col + 1);
                }
                seen += 1;
                continue;
            }
            if fallback.is_none() {
                fallback = Some((i + 1, col + 1));
            }
        }
        fallback.unwrap_or((1, 1))
    }
}

/// " (did you mean `x`?)" for serde's "unknown field `y`, expected one of `x`, ..." and
/// "unknown variant" messages, from the names the message lists.
fn suggestion(message: &str) -> String {
    let Some(rest) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.split_once(p).map(|(_, r)| r))
    else {
        return String::new();
    };
    let Some((name, listed)) = rest.split_once('`') else {
        return String::new();
    };
    let known: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
    crate::error::did_you_mean(name, known)
}

/// Byte offset of `needle` in `line` where it is not part of a longer word.
fn find_token(line: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut start = 0;
    while let Some(off) = line[start..].find(needle) {
        let at = start + off;
        let end = at + needle.len();
        let ok_before = line[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let ok_after = line[end..].chars().next().is_none_or(|c| !is_word(c));
        if ok_before && ok_after {
            return Some(at);
        }
        start = at + needle.len();
    }
    None
}

/// A duration written as humantime text ("60s", "2s", "24h", "30d", "500ms").
pub mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*v).to_string())
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text.trim()).map_err(|e| {
            format!("invalid duration `{text}` ({e}); write e.g. 60s, 500ms, 24h, 30d")
        })
    }

    pub mod option {
        use super::*;
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| parse(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
        pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefers_keyed_value() {
        let src = Source::inline(
            "x.yaml",
            "a: general\nclauses:\n  - id: RL-X\n    category: general\n",
        );
        assert_eq!(src.locate("category", "general"), (4, 15));
        assert_eq!(src.locate("id", "RL-X"), (3, 9));
        assert_eq!(src.locate("nope", "missing"), (1, 1));
    }

    #[test]
    fn serde_errors_carry_position() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let src = Source::inline("t.yaml", "a: 1\nb: 2\n");
        let e = src.parse::<T>().unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("unknown field `b`"), "{}", e.message);
        assert!(e.to_string().starts_with("t.yaml:2:1: "));
    }

    #[test]
    fn unknown_names_get_a_suggestion_and_syntax_errors_keep_their_context() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            expect: Option<u32>,
            name: Option<Vec<u32>>,
        }
        let e = Source::inline("t.yaml", "expct: 1\n")
            .parse::<T>()
            .unwrap_err();
        assert!(
            e.message.ends_with("(did you mean `expect`?)"),
            "{}",
            e.message
        );
        let e = Source::inline("t.yaml", "a:\n  b: [1, 2\n  c: []\n")
            .parse::<serde_yaml_ng::Value>()
            .unwrap_err();
        assert_eq!((e.line, e.column), (3, 4), "{}", e.message);
        assert!(
            e.message
                .contains("while parsing a flow sequence at line 2 column 6"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("at line 3"), "{}", e.message);
    }
}
