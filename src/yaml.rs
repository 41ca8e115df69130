//! Loading the tool's YAML files (specs, profiles, scenarios) with positions.
//!
//! Syntax and shape errors (unknown fields, wrong types) come from serde with their line and
//! column. Checks that need more than one field (an unknown clause id, an unknown category) run
//! after deserializing; `locate` finds the offending value's position in the source text so those
//! errors point into the file too.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, FileError};

/// A loaded file: its path and text, kept to place later errors, and the parser's positions of
/// its nodes.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: std::path::PathBuf,
    pub text: String,
    positions: Positions,
    /// Show source lines without their values (a profile: a refused inline secret must not be
    /// echoed under its own error).
    hide_values: bool,
}

/// Where each node of a YAML document stands, by its path (`scenarios[1].steps[0].repeat`, the
/// form serde's errors use): from the marks of a YAML parser's events, not from searching the
/// text.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    nodes: std::collections::HashMap<String, Node>,
    /// Keys given twice in one mapping, where they repeat (serde says which key, not where).
    duplicates: Vec<(usize, usize)>,
}

/// One node: its key's position (in a mapping), its value's, and the last line it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub key: Option<(usize, usize)>,
    pub value: (usize, usize),
    pub last_line: usize,
}

impl Positions {
    /// Every node of `text`; a text the parser refuses has none (serde reports its error).
    pub fn of(text: &str) -> Self {
        use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
        use yaml_rust2::scanner::Marker;

        enum Frame {
            Map {
                path: String,
                key: Option<(String, (usize, usize))>,
            },
            Seq {
                path: String,
                next: usize,
            },
        }
        #[derive(Default)]
        struct Recv {
            stack: Vec<Frame>,
            nodes: std::collections::HashMap<String, Node>,
            duplicates: Vec<(usize, usize)>,
            /// The line of the latest scalar or collection start: when a collection ends,
            /// its last descendant's (its end event stands where the next node begins).
            last_content: usize,
        }
        impl Recv {
            /// The path of the node starting now, and its key's position; `None` when the
            /// event is a mapping key.
            fn place(&mut self) -> Option<(String, Option<(usize, usize)>)> {
                match self.stack.last_mut() {
                    None => Some((String::new(), None)),
                    Some(Frame::Seq { path, next }) => {
                        let p = format!("{path}[{next}]");
                        *next += 1;
                        Some((p, None))
                    }
                    Some(Frame::Map { path, key }) => {
                        let (k, at) = key.take()?;
                        let p = if path.is_empty() {
                            k
                        } else {
                            format!("{path}.{k}")
                        };
                        Some((p, Some(at)))
                    }
                }
            }
        }
        impl MarkedEventReceiver for Recv {
            fn on_event(&mut self, ev: Event, mark: Marker) {
                let at = (mark.line(), mark.col() + 1);
                if matches!(
                    ev,
                    Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..)
                ) {
                    self.last_content = at.0;
                }
                match ev {
                    Event::Scalar(text, ..) => match self.place() {
                        Some((path, key)) => {
                            if let (Some(k), true) = (key, self.nodes.contains_key(&path)) {
                                self.duplicates.push(k);
                            }
                            self.nodes.insert(
                                path,
                                Node {
                                    key,
                                    value: at,
                                    last_line: at.0,
                                },
                            );
                        }
                        None => {
                            if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                                *key = Some((text, at));
                            }
                        }
                    },
                    Event::MappingStart(..) | Event::SequenceStart(..) | Event::Alias(_) => {
                        let Some((path, key)) = self.place() else {
                            // A complex key: not addressed by path.
                            return;
                        };
                        if let (Some(k), true) = (key, self.nodes.contains_key(&path)) {
                            self.duplicates.push(k);
                        }
                        self.nodes.insert(
                            path.clone(),
                            Node {
                                key,
                                value: at,
                                last_line: at.0,
                            },
                        );
                        match ev {
                            Event::MappingStart(..) => {
                                self.stack.push(Frame::Map { path, key: None })
                            }
                            Event::SequenceStart(..) => {
                                self.stack.push(Frame::Seq { path, next: 0 })
                            }
                            _ => {}
                        }
                    }
                    Event::MappingEnd | Event::SequenceEnd => {
                        if let Some(Frame::Map { path, .. } | Frame::Seq { path, .. }) =
                            self.stack.pop()
                            && let Some(n) = self.nodes.get_mut(&path)
                        {
                            n.last_line = self.last_content.max(n.value.0);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut recv = Recv::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut recv, false).is_err() {
            return Self::default();
        }
        Self {
            nodes: recv.nodes,
            duplicates: recv.duplicates,
        }
    }

    pub fn get(&self, path: &str) -> Option<Node> {
        self.nodes.get(path).copied()
    }
}

impl Source {
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("{}: cannot read: {e}", path.display())))?;
        Ok(Self {
            path: path.to_path_buf(),
            positions: Positions::of(&text),
            text,
            hide_values: false,
        })
    }

    pub fn inline(name: &str, text: &str) -> Self {
        Self {
            path: name.into(),
            text: text.to_string(),
            positions: Positions::of(text),
            hide_values: false,
        }
    }

    /// This source, showing its lines under errors with every value replaced by `…`.
    pub fn hiding_values(&self) -> Self {
        Self {
            hide_values: true,
            ..self.clone()
        }
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, FileError> {
        serde_yaml_ng::from_str(&self.text).map_err(|e| self.serde_error(&e))
    }

    /// `parse`, reporting every wrong word, not only the first: serde stops at the first
    /// error, so a wrong word (`word::parse`) is put right in a copy of the text with a
    /// placeholder of its type (padded to its length, so later positions stay) and the copy is
    /// read again. Returns the value read from the corrected copy with the words' errors (to
    /// report beside validation's; the value is never run when there are any), or the errors up
    /// to a mistake that is not a word (a shape error, which still stops reading).
    pub fn parse_all<T: DeserializeOwned>(&self) -> Result<(T, Vec<FileError>), Vec<FileError>> {
        let mut text = self.text.clone();
        let mut words = Vec::new();
        // Each pass corrects one word; a file has no more words than lines times a few.
        for _ in 0..=self.text.len() {
            let e = match serde_yaml_ng::from_str::<T>(&text) {
                Ok(v) => return Ok((v, words)),
                Err(e) => e,
            };
            let error = self.serde_error(&e);
            let corrected = word::Wrong::of(&e.to_string()).and_then(|w| {
                let loc = e.location()?;
                w.correct(&text, loc.index())
            });
            words.push(error);
            match corrected {
                Some(t) => text = t,
                None => break,
            }
        }
        Err(words)
    }

    fn serde_error(&self, e: &serde_yaml_ng::Error) -> FileError {
        if let Some(at) = self.tab_indentation(e) {
            return self.error(
                at,
                "a tab in the indentation: YAML indents with spaces only; replace the tab with spaces",
            );
        }
        // serde names a duplicate key but not where it stands; the parser knows.
        let text = e.to_string();
        let duplicate = (text.contains("duplicate entry") || text.contains("duplicate field"))
            .then(|| self.positions.duplicates.first().copied())
            .flatten();
        let (line, column) = duplicate
            .or_else(|| e.location().map(|l| (l.line(), l.column())))
            .unwrap_or((1, 1));
        // serde_yaml_ng says " at line L column C" after the problem; the position is already in
        // front. A syntax error may go on with its context (", while parsing a flow sequence at
        // line 3 column 14": where the unclosed bracket is), which is kept.
        let mut message =
            e.to_string()
                .replacen(&format!(" at line {line} column {column}"), "", 1);
        // A value this tool read into its own type (`word::parse`) stands at its own position,
        // which already says where it is: the field path in front of it is dropped.
        if let Some(w) = word::Wrong::of(&message) {
            message = w.message;
        }
        message.push_str(&suggestion(&message));
        self.error((line, column), message)
    }

    /// Where a tab indents a line, when the parser's error comes from it: the parser then
    /// speaks of a character that "cannot start any token" or of a tab, at that line or
    /// after it. The position is the tab's (1-based line and column).
    fn tab_indentation(&self, e: &serde_yaml_ng::Error) -> Option<(usize, usize)> {
        let text = e.to_string();
        if !(text.contains("tab") || text.contains("cannot start any token")) {
            return None;
        }
        let upto = e.location().map_or(usize::MAX, |l| l.line());
        self.text.lines().enumerate().take(upto).find_map(|(i, l)| {
            let indent = &l[..l.len() - l.trim_start().len()];
            indent.find('\t').map(|c| (i + 1, c + 1))
        })
    }

    /// An error at `(line, column)`, with that line of the source to show under it.
    pub fn error(&self, (line, column): (usize, usize), message: impl Into<String>) -> FileError {
        let mut e = FileError::new(&self.path, line, column, message);
        let index = line.wrapping_sub(1);
        let hide = self.hide_values && self.may_hold_a_secret(index);
        e.source_line = self
            .text
            .lines()
            .nth(index)
            .map(|l| match l.split_once(':') {
                Some((key, value)) if hide && !value.trim().is_empty() => {
                    format!("{key}: …")
                }
                None if hide && !l.trim().is_empty() => {
                    let indent = l.len() - l.trim_start().len();
                    format!("{}…", &l[..indent])
                }
                _ => l.to_string(),
            });
        e
    }

    /// Whether line `index` (0-based) of a file whose values are hidden may hold a secret, so
    /// its value is not shown under an error: a line under `credentials:`, `headers:`, `tls:` or
    /// `proxy:` (inline secrets, header values, a key's passphrase, a proxy's userinfo), a key
    /// whose name says secret, or a value that looks like a credential or carries userinfo.
    /// `window: 2s` is shown as written.
    fn may_hold_a_secret(&self, index: usize) -> bool {
        const SECRET_BLOCKS: &[&str] = &["credentials", "headers", "tls", "proxy"];
        const SECRET_WORDS: &[&str] = &[
            "key",
            "token",
            "secret",
            "password",
            "passphrase",
            "auth",
            "cookie",
            "credential",
        ];
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(l) = lines.get(index) else {
            return false;
        };
        // The top-level key the line stands under (itself, at no indentation).
        let top = lines[..=index]
            .iter()
            .rev()
            .find(|l| !l.is_empty() && !l.starts_with([' ', '\t', '#', '-']))
            .and_then(|l| l.split(':').next())
            .map(str::trim);
        if top.is_some_and(|t| SECRET_BLOCKS.contains(&t)) {
            return true;
        }
        let (key, value) = l.split_once(':').unwrap_or(("", l));
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        SECRET_WORDS.iter().any(|w| key.contains(w))
            || value.contains("lel_")
            || value.to_ascii_lowercase().contains("bearer")
            || value.contains("eyJ")
            || value.contains('@')
            || !l.contains(':') && !l.trim().is_empty()
    }

    /// The node at `path`, or its nearest ancestor that the file has (a field left out stands
    /// where its mapping does).
    fn node(&self, path: &str) -> Option<Node> {
        let mut p = path;
        loop {
            if let Some(n) = self.positions.get(p) {
                return Some(n);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Where the value at `path` stands, if the file has it.
    pub fn position(&self, path: &str) -> Option<(usize, usize)> {
        self.positions.get(path).map(|n| n.value)
    }

    /// An error at the value of `path` (`scenarios[1].steps[0].repeat`), from the parser's marks.
    pub fn at(&self, path: &str, message: impl Into<String>) -> FileError {
        self.error(self.node(path).map_or((1, 1), |n| n.value), message)
    }

    /// An error at the key of `path` (its value's position for a sequence item).
    pub fn key_at(&self, path: &str, message: impl Into<String>) -> FileError {
        self.error(
            self.node(path).map_or((1, 1), |n| n.key.unwrap_or(n.value)),
            message,
        )
    }

    /// `error_at`, searching only the lines of the node at `path` (a scenario of several in
    /// one file): a value that stands in two scenarios is found in the right one.
    pub fn error_in(
        &self,
        path: &str,
        key: &str,
        needle: &str,
        message: impl Into<String>,
    ) -> FileError {
        let Some(node) = self.node(path) else {
            return self.error_at(key, needle, message);
        };
        let (first, last) = (node.key.map_or(node.value.0, |k| k.0), node.last_line);
        let pos = self
            .locate_in(key, needle, first, last)
            .unwrap_or(node.key.unwrap_or(node.value));
        self.error(pos, message)
    }

    /// An error at the first place `needle` stands as a value (after a `key:` or a `- `), else at
    /// its first occurrence, else at the top of the file.
    pub fn error_at(&self, key: &str, needle: &str, message: impl Into<String>) -> FileError {
        let at = self.locate(key, needle);
        self.error(at, message)
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
        self.error((line, column), message)
    }

    pub fn locate(&self, key: &str, needle: &str) -> (usize, usize) {
        self.locate_in(key, needle, 1, usize::MAX).unwrap_or((1, 1))
    }

    /// The first keyed occurrence of `needle` on lines `first..=last`, else its first
    /// occurrence there.
    fn locate_in(
        &self,
        key: &str,
        needle: &str,
        first: usize,
        last: usize,
    ) -> Option<(usize, usize)> {
        let mut fallback = None;
        for (i, line) in self.text.lines().enumerate() {
            if i + 1 < first || i + 1 > last {
                continue;
            }
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
                return Some((i + 1, col + 1));
            }
            if fallback.is_none() {
                fallback = Some((i + 1, col + 1));
            }
        }
        fallback
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

/// Values read from a scalar into the tool's own types while deserializing (a status class, a
/// wait, a repeat target): a wrong one fails at its own line and column, with the type's message.
pub mod word {
    use serde::de::{self, Deserializer, Visitor};

    /// Marks a message as a word's own (see `Source::serde_error`) and separates what
    /// `Wrong` carries.
    const MARK: char = '\u{1f}';

    /// A wrong word, as its error carries it: what was written, a placeholder of the type
    /// (so the rest of the file can still be read), and the message.
    pub(super) struct Wrong {
        written: String,
        placeholder: &'static str,
        pub(super) message: String,
    }

    impl Wrong {
        pub(super) fn of(error: &str) -> Option<Wrong> {
            let (_, rest) = error.split_once(MARK)?;
            let mut parts = rest.splitn(3, MARK);
            let (written, placeholder, message) = (parts.next()?, parts.next()?, parts.next()?);
            let message = message
                .rsplit_once(" at line ")
                .map_or(message, |(m, _)| m)
                .to_string();
            let placeholder = PLACEHOLDERS.iter().find(|p| **p == placeholder)?;
            Some(Wrong {
                written: written.to_string(),
                placeholder,
                message,
            })
        }

        /// `text` with the word at byte `at` (where the parser marked it: a quote or its
        /// first character) replaced by the placeholder, padded with spaces to the word's
        /// length; `None` when the word is not found there.
        pub(super) fn correct(&self, text: &str, at: usize) -> Option<String> {
            let rest = text.get(at..)?;
            let start = match rest.chars().next()? {
                '"' | '\'' => at + 1,
                _ => at,
            };
            let end = start + self.written.len();
            if text.get(start..end)? != self.written || self.written.contains(['\n', '"', '\'']) {
                return None;
            }
            let width = self.written.chars().count();
            let fill = width.saturating_sub(self.placeholder.len());
            Some(format!(
                "{}{}{}{}",
                &text[..start],
                self.placeholder,
                " ".repeat(fill),
                &text[end..]
            ))
        }
    }

    /// Placeholders of the words' types (one that reads for each).
    const PLACEHOLDERS: &[&str] = &[
        "1",
        "200",
        "0s",
        "none",
        "array",
        "api_key",
        "session_ttl",
        "x",
        "refresh",
    ];

    /// A scalar as written: a non-negative integer or text.
    pub enum Scalar<'a> {
        Int(u64),
        Text(&'a str),
    }

    impl Scalar<'_> {
        /// The scalar's text, as the file has it.
        pub fn written(&self) -> String {
            match self {
                Scalar::Int(n) => n.to_string(),
                Scalar::Text(t) => t.to_string(),
            }
        }
    }

    /// Reads one scalar through `parse`; `placeholder` is a word `parse` accepts (one of
    /// `PLACEHOLDERS`), standing in for a wrong one while the rest of the file is read.
    pub fn parse<'de, D, T>(
        d: D,
        what: &'static str,
        placeholder: &'static str,
        parse: fn(Scalar) -> Result<T, String>,
    ) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
    {
        struct V<T> {
            what: &'static str,
            placeholder: &'static str,
            parse: fn(Scalar) -> Result<T, String>,
        }
        impl<T> V<T> {
            fn done<E: de::Error>(&self, s: Scalar) -> Result<T, E> {
                let written = s.written();
                (self.parse)(s).map_err(|m| {
                    E::custom(format!(
                        "{MARK}{written}{MARK}{}{MARK}{m}",
                        self.placeholder
                    ))
                })
            }
        }
        impl<'de, T> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(self.what)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
                self.done(Scalar::Int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
                match u64::try_from(v) {
                    Ok(v) => self.done(Scalar::Int(v)),
                    Err(_) => self.done(Scalar::Text(&v.to_string())),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
                self.done(Scalar::Text(v))
            }
        }
        debug_assert!(PLACEHOLDERS.contains(&placeholder));
        d.deserialize_any(V {
            what,
            placeholder,
            parse,
        })
    }
}

/// A duration written as humantime text ("60s", "2s", "24h", "30d", "500ms").
pub mod duration {
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::word::parse(d, "a duration", "0s", |s| parse(&s.written()))
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
            super::deserialize(d).map(Some)
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
    fn positions_come_from_the_parser_by_path() {
        let src = Source::inline(
            "x.yaml",
            "scenarios:\n  - name: a\n    steps: [{repeat: 3}]\n  - name: a\n    load:\n      users: 2\nscenarios: []\n",
        );
        let p = &src.positions;
        assert_eq!(p.get("scenarios[1].name").unwrap().value, (4, 11));
        assert_eq!(p.get("scenarios[1].name").unwrap().key, Some((4, 5)));
        assert_eq!(
            p.get("scenarios[0].steps[0].repeat").unwrap().value,
            (3, 22)
        );
        assert_eq!(p.get("scenarios[1].load.users").unwrap().value, (6, 14));
        assert_eq!(p.get("scenarios[0]").unwrap().last_line, 3);
        assert_eq!(p.duplicates, vec![(7, 1)]);
        // A field left out stands where its mapping does.
        assert_eq!(src.key_at("scenarios[1].load.duration", "m").line, 5);
        // A value searched within its own scenario, not the first that has it.
        assert_eq!(src.error_in("scenarios[1]", "name", "a", "m").line, 4);
        let e = src.at("scenarios[0].steps[0].repeat", "m").to_string();
        assert_eq!(
            e,
            "x.yaml:3:22: m\n   |\n 3 |     steps: [{repeat: 3}]\n   |                      ^"
        );
    }

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
