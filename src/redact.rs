//! The one redactor: every credential is replaced by a fingerprint before any output sees it.
//!
//! A fingerprint keeps a credential's public prefix (`lel_`, `sk_lel_`) and its last four
//! characters: `lel_…a1b2`. That is enough to tell keys apart in a report and never enough to use.

use std::sync::Arc;

/// A fingerprint of a secret: known prefix, an ellipsis, the last four characters.
pub fn fingerprint(secret: &str, prefixes: &[&str]) -> String {
    let prefix = prefixes
        .iter()
        .copied()
        .filter(|p| secret.starts_with(p))
        .max_by_key(|p| p.len())
        .unwrap_or("");
    let rest = &secret[prefix.len()..];
    let tail: String = {
        let chars: Vec<char> = rest.chars().collect();
        // Short secrets show less of their tail, so a fingerprint never reveals most of a secret.
        let keep = if chars.len() >= 16 {
            4
        } else {
            chars.len() / 4
        };
        chars[chars.len() - keep..].iter().collect()
    };
    format!("{prefix}…{tail}")
}

/// Replaces every known secret in text with its fingerprint, and every value shaped like a
/// credential (a known prefix followed by key or token characters, or a bare JWT) too: a forged
/// token that a faulty target accepts, or echoes back, is a working credential for that target.
/// Cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    inner: Arc<Vec<(String, String)>>,
    /// The secrets as given (each `inner` pair may be one of their escaped forms).
    originals: Arc<Vec<String>>,
    shaped: Option<Arc<(regex::Regex, Vec<String>)>>,
    /// Every `WINDOW`-character stretch of every secret, lower-cased: text that holds one holds
    /// a near-copy of a secret (an altered, truncated or case-flipped copy the harness sent and
    /// a target quoted back), which is a fingerprint, never text.
    windows: Arc<std::collections::HashSet<[u8; WINDOW]>>,
}

/// How many characters of a secret make a near-copy of it.
pub const WINDOW: usize = 12;

/// Characters of keys and tokens: a near-copy is redacted over its whole run of them.
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)
}

/// The lower-cased `WINDOW`-byte stretches of `secret`'s ASCII runs.
fn windows_of(secret: &str) -> impl Iterator<Item = [u8; WINDOW]> + '_ {
    secret
        .as_bytes()
        .windows(WINDOW)
        .filter(|w| w.iter().all(u8::is_ascii))
        .map(|w| {
            let mut out = [0u8; WINDOW];
            for (o, b) in out.iter_mut().zip(w) {
                *o = b.to_ascii_lowercase();
            }
            out
        })
}

impl Redactor {
    /// `secrets` are the raw values; `prefixes` the public prefixes a fingerprint may keep.
    pub fn new<I, S>(secrets: I, prefixes: &[&str]) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut originals: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_string())
            // Very short values (an empty password, "a") would redact ordinary text; a secret that
            // short is no secret, and the profile loader warns about it.
            .filter(|s| s.chars().count() >= 4)
            .collect();
        originals.sort();
        originals.dedup();
        let mut pairs: Vec<(String, String)> = originals
            .iter()
            .cloned()
            .flat_map(|s| {
                let f = fingerprint(&s, prefixes);
                // The forms a secret takes in a request or an answer: as is, escaped in a JSON
                // string (a password with `"` or `\` in a login body), percent-encoded (a query,
                // a form).
                let json = serde_json::to_string(&s)
                    .ok()
                    .and_then(|j| j.get(1..j.len().saturating_sub(1)).map(str::to_string))
                    .unwrap_or_default();
                let pct =
                    percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                let mut forms = vec![(s.clone(), f.clone())];
                for form in [json, pct] {
                    if form != s && !form.is_empty() {
                        forms.push((form, f.clone()));
                    }
                }
                forms
            })
            .collect();
        // Longest first, so a token that contains a key is replaced whole.
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        pairs.dedup_by(|a, b| a.0 == b.0);
        let windows = pairs.iter().flat_map(|(s, _)| windows_of(s)).collect();
        Self {
            inner: Arc::new(pairs),
            originals: Arc::new(originals),
            shaped: shaped(prefixes),
            windows: Arc::new(windows),
        }
    }

    /// Adds secrets learned during a run (a token issued by login, a key created by the run).
    pub fn with<S: AsRef<str>>(
        &self,
        more: impl IntoIterator<Item = S>,
        prefixes: &[&str],
    ) -> Self {
        // From the secrets as given: their escaped forms are derived again, never compounded.
        let all = self
            .originals
            .iter()
            .cloned()
            .chain(more.into_iter().map(|s| s.as_ref().to_string()));
        Self::new(all, prefixes)
    }

    pub fn redact(&self, text: &str) -> String {
        self.redact_shaped(self.redact_known(text))
    }

    /// `redact` without the credential-shape rule: every known secret and every near-copy of
    /// one, but not a credential-shaped value the harness forged (a replay line writes those in
    /// full: they are no secret of the target).
    pub fn redact_known(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (secret, fp) in self.inner.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), fp);
            }
        }
        if !self.windows.is_empty() {
            out = self.redact_windows(&out);
        }
        out
    }

    fn redact_shaped(&self, mut out: String) -> String {
        if let Some(shaped) = &self.shaped {
            let (re, prefixes) = &**shaped;
            if re.is_match(&out) {
                let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
                out = re
                    .replace_all(&out, |c: &regex::Captures| fingerprint(&c[0], &prefixes))
                    .into_owned();
            }
        }
        out
    }

    /// Replaces every run of key or token characters that holds a `WINDOW`-character stretch of
    /// a secret (in any case) by its fingerprint.
    fn redact_windows(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        if bytes.len() < WINDOW {
            return text.to_string();
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i + WINDOW <= bytes.len() {
            let w = &bytes[i..i + WINDOW];
            let mut key = [0u8; WINDOW];
            let mut ascii = true;
            for (k, b) in key.iter_mut().zip(w) {
                ascii &= b.is_ascii();
                *k = b.to_ascii_lowercase();
            }
            if ascii && self.windows.contains(&key) {
                let mut start = i;
                while start > 0 && token_char(bytes[start - 1]) {
                    start -= 1;
                }
                let mut end = i + WINDOW;
                while end < bytes.len() && token_char(bytes[end]) {
                    end += 1;
                }
                match ranges.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => ranges.push((start, end)),
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        if ranges.is_empty() {
            return text.to_string();
        }
        let prefixes: Vec<&str> = self
            .shaped
            .as_ref()
            .map(|s| s.1.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            out.push_str(&text[at..start]);
            out.push_str(&fingerprint(&text[start..end], &prefixes));
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// The secrets as given (not their escaped forms).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.originals.iter().map(String::as_str)
    }
}

/// Credential-shaped text: a prefix and at least 8 key or token characters, or a bare JWT.
fn shaped(prefixes: &[&str]) -> Option<Arc<(regex::Regex, Vec<String>)>> {
    let mut alternatives: Vec<String> = prefixes
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| format!("{}[A-Za-z0-9._~+/=-]{{8,}}", regex::escape(p)))
        .collect();
    alternatives.push(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*".to_string());
    let re = regex::Regex::new(&alternatives.join("|")).ok()?;
    Some(Arc::new((
        re,
        prefixes.iter().map(|p| p.to_string()).collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_escaped_in_json_or_percent_encoded_is_a_fingerprint_too() {
        let pw = r#"pa"ss\wd9"#;
        let r = Redactor::new([pw], &[]);
        let body = serde_json::json!({"email": "a@b", "password": pw}).to_string();
        assert!(
            !r.redact_known(&body).contains("pa\\\"ss"),
            "{}",
            r.redact_known(&body)
        );
        let query = format!(
            "?password={}",
            percent_encoding::utf8_percent_encode(pw, percent_encoding::NON_ALPHANUMERIC)
        );
        assert!(
            !r.redact_known(&query).contains("wd9"),
            "{}",
            r.redact_known(&query)
        );
    }

    #[test]
    fn learning_secrets_never_compounds_their_escaped_forms() {
        // Each secret keeps at most three forms (as is, JSON-escaped, percent-encoded), however
        // often the run learns more: forms of forms would grow without bound.
        let mut r = Redactor::new([r#"pa"ss%wd-1"#], &[]);
        for i in 0..30 {
            r = r.with([format!("learned-token-{i}")], &[]);
        }
        assert_eq!(r.secrets().count(), 31);
        assert!(r.inner.len() <= 3 * 31, "{}", r.inner.len());
    }

    #[test]
    fn near_copies_of_a_secret_are_fingerprints_too() {
        let admin = "6nKmQ2xv9LwPzR4tYb8cHfJ3sDgE7aUqFbnT";
        let r = Redactor::new([admin], &["lel_", "sk_lel_"]);
        let altered = format!("{}U", &admin[..admin.len() - 1]);
        let truncated = &admin[..20];
        let flipped: String = admin
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        let middle = &admin[10..23];
        for copy in [altered.as_str(), truncated, flipped.as_str(), middle] {
            let text = format!("{{\"error\":\"invalid admin token: {copy}\"}} and more");
            let out = r.redact(&text);
            assert!(!out.contains(copy), "{out}");
            assert!(
                out.starts_with("{\"error\":\"invalid admin token: …"),
                "{out}"
            );
            assert!(out.ends_with("\"} and more"), "{out}");
            for w in admin.as_bytes().windows(WINDOW) {
                let w = std::str::from_utf8(w).unwrap().to_ascii_lowercase();
                assert!(!out.to_ascii_lowercase().contains(&w), "{out}");
            }
        }
        // Eleven characters are not a secret's: ordinary text stays.
        let eleven = &admin[..11];
        assert_eq!(r.redact(&format!("x {eleven} y")), format!("x {eleven} y"));
    }

    #[test]
    fn fingerprint_keeps_prefix_and_tail() {
        assert_eq!(
            fingerprint("lel_0123456789abcdefa1b2", &["lel_", "sk_lel_"]),
            "lel_…a1b2"
        );
        assert_eq!(
            fingerprint(
                "sk_lel_eyJhbGciOiJIUzI1NiJ9.e30.sigXYZ9",
                &["lel_", "sk_lel_"]
            ),
            "sk_lel_…XYZ9"
        );
        assert_eq!(fingerprint("adminsecretadminsecret", &[]), "…cret");
        assert_eq!(fingerprint("short", &[]), "…t");
    }

    #[test]
    fn redacts_every_occurrence_longest_first() {
        let r = Redactor::new(
            [
                "lel_aaaaaaaaaaaaaaaaaaaa1234",
                "lel_aaaaaaaaaaaaaaaaaaaa1234XYZW",
            ],
            &["lel_"],
        );
        let out = r.redact("k=lel_aaaaaaaaaaaaaaaaaaaa1234XYZW and lel_aaaaaaaaaaaaaaaaaaaa1234");
        assert_eq!(out, "k=lel_…XYZW and lel_…1234");
        assert!(!out.contains("aaaaaaaaaaaaaaa"));
    }

    #[test]
    fn redacts_credential_shaped_values_it_was_not_told_about() {
        let r = Redactor::new(Vec::<String>::new(), &["lel_", "sk_lel_"]);
        let forged = "sk_lel_eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.";
        let out = r.redact(&format!(
            "{{\"error\":\"bad token: Bearer {forged}\", \"key\": \"lel_0123456789abcdefWXYZ\"}}"
        ));
        assert!(!out.contains("eyJzdWIi"), "{out}");
        assert!(out.contains("lel_…WXYZ"), "{out}");
        assert_eq!(
            r.redact("lel_ and sk_lel_ are prefixes"),
            "lel_ and sk_lel_ are prefixes"
        );
        assert!(
            !r.redact("raw eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
                .contains("eyJzdWIiOiIxIn0")
        );
    }
}
