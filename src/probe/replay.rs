//! A `curl` command line that replays one exchange. Each secret of the target is written as the
//! shell expression that holds it (`"$LELANTOS_API_KEY"`, `"$(cat 'key.txt')"`), never its value;
//! a value the harness forged (a token signed with a made-up key, `alg: none`, a random key) is
//! written in full, because it is no secret of the target. A value derived from a secret that no
//! variable holds (an issued token, an altered copy of a key, a token re-signed with the
//! deployment's HS256 secret) is shown as its fingerprint, and the line says it cannot be
//! replayed as it stands.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Request;
use crate::redact::Redactor;

/// What a replay line needs to know of the run besides the request.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Secret values and the shell expressions that yield them, longest first.
    names: Vec<(String, String)>,
    jwt_secret: Option<String>,
    /// Headers the profile adds to every request: name and value as a shell word.
    extra: Vec<(String, Vec<Part>)>,
    /// curl's own options for the run's TLS and proxy (`--cacert 'ca.pem'`, `-x '…'`).
    options: Vec<String>,
    /// Header names (lower case) that carry credentials.
    credential_headers: Vec<String>,
    /// The credentials' public prefixes (`lel_`, `sk_lel_`): no secret in themselves.
    prefixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    /// A shell expression, written inside double quotes.
    Expr(String),
}

impl Replay {
    pub fn new(
        names: impl IntoIterator<Item = (String, String)>,
        jwt_secret: Option<String>,
        credential_headers: Vec<String>,
    ) -> Self {
        let mut names: Vec<(String, String)> =
            names.into_iter().filter(|(v, _)| !v.is_empty()).collect();
        names.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        Self {
            names,
            jwt_secret,
            credential_headers,
            ..Self::default()
        }
    }

    /// A header every request carries (a profile's `headers:`); `expr` when its value is secret.
    pub fn with_header(mut self, name: &str, value: &str, expr: Option<&str>) -> Self {
        let word = match expr {
            Some(e) => vec![Part::Expr(e.to_string())],
            None => vec![Part::Literal(value.to_string())],
        };
        self.extra.push((name.to_string(), word));
        self
    }

    /// The credentials' public prefixes, which a value may hold without holding a secret.
    pub fn with_prefixes(mut self, prefixes: &[&str]) -> Self {
        self.prefixes = prefixes.iter().map(|p| p.to_string()).collect();
        self
    }

    /// A curl option of the run (written as given: the caller quotes).
    pub fn with_option(mut self, option: String) -> Self {
        self.options.push(option);
        self
    }

    /// The command line for `request` sent to `base_url`.
    pub fn curl(&self, base_url: &str, request: &Request, redactor: &Redactor) -> String {
        let mut hidden = Vec::new();
        // `-g`: brackets and braces in a URL are no globs.
        let mut args: Vec<String> = vec!["curl".into(), "-sS".into(), "-i".into(), "-g".into()];
        args.extend(self.options.iter().cloned());
        if request.method == reqwest::Method::HEAD {
            // `-X HEAD` would wait for a body that never comes.
            args.push("-I".into());
        } else if request.method != reqwest::Method::GET || request.body.is_some() {
            // A body alone would make curl send a POST.
            args.push("-X".into());
            args.push(render(&[Part::Literal(request.method.to_string())]));
        }
        for (name, word) in &self.extra {
            if request
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
            {
                continue; // the request's own field wins, as it did on the wire
            }
            let mut parts = vec![Part::Literal(format!("{name}: "))];
            parts.extend(word.iter().cloned());
            args.push("-H".into());
            args.push(render(&parts));
        }
        for (name, value) in &request.headers {
            let mut parts = if value.is_empty() {
                // `-H 'Name:'` would remove the field; `Name;` sends it empty.
                vec![Part::Literal(format!("{name};"))]
            } else {
                vec![Part::Literal(format!("{name}: "))]
            };
            let credential = self.credential_headers.contains(&name.to_ascii_lowercase());
            parts.extend(self.word(value, credential, redactor, name, &mut hidden));
            args.push("-H".into());
            args.push(render(&parts));
        }
        if let Some(body) = &request.body {
            if !request
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                // curl would add a form Content-Type the request never had.
                args.push("-H".into());
                args.push("'Content-Type:'".into());
            }
            args.push("--data-raw".into());
            args.push(render(&self.word(
                body,
                false,
                redactor,
                "the body",
                &mut hidden,
            )));
        }
        let url = format!("{base_url}{}", request.path);
        args.push(render(&self.word(
            &url,
            false,
            redactor,
            "the URL",
            &mut hidden,
        )));
        let mut line = args.join(" ");
        if !hidden.is_empty() {
            hidden.dedup();
            line.push_str(&format!(
                "  # not replayable as it stands: {} holds a value derived from a secret, shown as its fingerprint",
                hidden.join(", ")
            ));
        }
        line
    }

    /// `text` as shell parts: known secrets as their expressions, the rest literal; a value
    /// derived from a secret that no variable holds becomes its fingerprint (named in `hidden`).
    fn word(
        &self,
        text: &str,
        credential: bool,
        redactor: &Redactor,
        what: &str,
        hidden: &mut Vec<String>,
    ) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next = self
                .names
                .iter()
                .filter_map(|(v, e)| rest.find(v.as_str()).map(|at| (at, v, e)))
                .min_by_key(|(at, v, _)| (*at, std::cmp::Reverse(v.len())));
            match next {
                Some((at, v, e)) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_string()));
                    }
                    parts.push(Part::Expr(e.clone()));
                    rest = &rest[at + v.len()..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_string()));
                    rest = "";
                }
            }
        }
        for p in &mut parts {
            if let Part::Literal(lit) = p {
                let clean = redactor.redact_known(lit);
                let derived = self.signed_with_secret(lit)
                    || (credential && self.piece_of_a_secret(lit, redactor));
                if clean != *lit || derived {
                    *lit = if derived {
                        self.fingerprint(lit)
                    } else {
                        clean
                    };
                    hidden.push(what.to_string());
                }
            }
        }
        parts
    }

    /// The fingerprint of a derived value in the form every report writes (`lel_…a1b2`,
    /// `Bearer sk_lel_…a1b2`): its scheme and public prefix kept, then the last characters.
    fn fingerprint(&self, value: &str) -> String {
        let prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        match value.split_once(' ') {
            Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphabetic()) => {
                format!("{scheme} {}", crate::redact::fingerprint(rest, &prefixes))
            }
            _ => crate::redact::fingerprint(value, &prefixes),
        }
    }

    /// Whether a credential field's `value` (after its scheme and public prefix) is a piece of a
    /// known secret in any case: a truncated admin token or key shorter than the redactor's
    /// near-copy window is still a piece of it.
    fn piece_of_a_secret(&self, value: &str, redactor: &Redactor) -> bool {
        let value = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphabetic()) => rest,
            _ => value,
        };
        let core = self
            .prefixes
            .iter()
            .filter(|p| value.starts_with(p.as_str()))
            .max_by_key(|p| p.len())
            .map_or(value, |p| &value[p.len()..])
            .to_ascii_lowercase();
        !core.is_empty()
            && redactor
                .secrets()
                .any(|s| s.to_ascii_lowercase().contains(&core))
    }

    /// Whether `value` holds a JWT whose HMAC signature (HS256, HS384 or HS512) verifies with
    /// the deployment's secret, anywhere in it (a header, a refresh body, a query): a working
    /// credential the harness made, which is not written in full.
    fn signed_with_secret(&self, value: &str) -> bool {
        let Some(secret) = &self.jwt_secret else {
            return false;
        };
        value
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .filter(|w| w.matches('.').count() == 2)
            .filter_map(|w| w.find("eyJ").map(|at| &w[at..]))
            .any(|w| {
                let Some((signing, sig)) = w.rsplit_once('.') else {
                    return false;
                };
                use base64::Engine as _;
                let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(sig.trim_end_matches('='))
                else {
                    return false;
                };
                fn verifies<M: Mac + hmac::digest::KeyInit>(
                    key: &[u8],
                    msg: &[u8],
                    sig: &[u8],
                ) -> bool {
                    <M as Mac>::new_from_slice(key).is_ok_and(|mut m| {
                        m.update(msg);
                        m.verify_slice(sig).is_ok()
                    })
                }
                let (k, m) = (secret.as_bytes(), signing.as_bytes());
                verifies::<Hmac<Sha256>>(k, m, &sig)
                    || verifies::<Hmac<sha2::Sha384>>(k, m, &sig)
                    || verifies::<Hmac<sha2::Sha512>>(k, m, &sig)
            })
    }
}

/// Parts joined into one shell word: literals single-quoted, expressions double-quoted.
fn render(parts: &[Part]) -> String {
    let mut merged: Vec<Part> = Vec::new();
    for p in parts {
        match (merged.last_mut(), p) {
            (Some(Part::Literal(a)), Part::Literal(b)) => a.push_str(b),
            _ => merged.push(p.clone()),
        }
    }
    let mut out = String::new();
    for p in &merged {
        match p {
            Part::Literal(s) if s.is_empty() => {}
            Part::Literal(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', r"'\''"));
                out.push('\'');
            }
            Part::Expr(e) => {
                out.push('"');
                out.push_str(e);
                out.push('"');
            }
        }
    }
    if out.is_empty() { "''".into() } else { out }
}

/// A path as one single-quoted shell word.
pub fn quoted(path: &std::path::Path) -> String {
    render(&[Part::Literal(path.display().to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: Option<&str>) -> Request {
        Request {
            method: reqwest::Method::POST,
            path: "/auth/login?x=1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.map(str::to_string),
            category: None,
        }
    }

    #[test]
    fn secrets_are_variables_forged_values_are_written_in_full() {
        let key = "lel_realkey0123456789abcdef";
        let r = Replay::new(
            [
                (key.to_string(), "$LELANTOS_API_KEY".to_string()),
                ("pa'ss word".to_string(), "$LELANTOS_PASSWORD".to_string()),
            ],
            Some("jwt-secret-value".into()),
            vec!["x-api-key".into(), "authorization".into()],
        )
        .with_header("X-Tenant", "staging", None)
        .with_header("X-Gateway-Token", "gwsecret", Some("$GW_TOKEN"));
        let redactor = Redactor::new([key, "pa'ss word", "gwsecret"], &["lel_"]);
        let forged = "Bearer sk_lel_eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
        let line = r.curl(
            "http://127.0.0.1:1",
            &request(
                &[
                    ("X-API-Key", key),
                    ("Authorization", forged),
                    ("X-Empty", ""),
                ],
                Some(r#"{"email":"a@b","password":"pa'ss word"}"#),
            ),
            &redactor,
        );
        assert_eq!(
            line,
            "curl -sS -i -g -X 'POST' -H 'X-Tenant: staging' -H 'X-Gateway-Token: '\"$GW_TOKEN\" \
             -H 'X-API-Key: '\"$LELANTOS_API_KEY\" \
             -H 'Authorization: Bearer sk_lel_eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' -H 'X-Empty;' \
             -H 'Content-Type:' --data-raw '{\"email\":\"a@b\",\"password\":\"'\"$LELANTOS_PASSWORD\"'\"}' \
             'http://127.0.0.1:1/auth/login?x=1'"
        );
        assert!(!line.contains("realkey") && !line.contains("gwsecret"));
    }

    #[test]
    fn values_derived_from_secrets_are_fingerprints_and_say_so() {
        let key = "lel_realkey0123456789abcdef";
        let r = Replay::new(
            [(key.to_string(), "$LELANTOS_API_KEY".to_string())],
            Some("s3cret".into()),
            vec!["x-api-key".into(), "authorization".into()],
        );
        let redactor = Redactor::new([key], &["lel_"]);
        // An altered copy of the key (last character changed) holds most of it.
        let altered = "lel_realkey0123456789abcdeX";
        // A token signed with the deployment's secret is a working credential.
        let signing = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0";
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(signing.as_bytes());
        use base64::Engine as _;
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let signed = format!("Bearer sk_lel_{signing}.{sig}");
        let line = r.curl(
            "http://h",
            &request(&[("X-API-Key", altered), ("Authorization", &signed)], None),
            &redactor,
        );
        assert!(!line.contains("realkey0123"), "{line}");
        // A truncation shorter than the near-copy window is a piece of the secret too; the
        // public prefix alone is not.
        let r = r.with_prefixes(&["lel_"]);
        let short = r.curl(
            "http://h",
            &request(&[("X-API-Key", "lel_realk")], None),
            &redactor,
        );
        assert!(
            !short.contains("realk") && short.contains("# not replayable"),
            "{short}"
        );
        let prefix = r.curl(
            "http://h",
            &request(&[("X-API-Key", "lel_")], None),
            &redactor,
        );
        assert!(
            prefix.contains("-H 'X-API-Key: lel_'") && !prefix.contains('#'),
            "{prefix}"
        );
        assert!(!line.contains(&sig), "{line}");
        assert!(
            line.ends_with("# not replayable as it stands: X-API-Key, Authorization holds a value derived from a secret, shown as its fingerprint"),
            "{line}"
        );
    }
}
