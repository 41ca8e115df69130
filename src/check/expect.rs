//! Expectations on one response: status sets, headers, JSON pointers, excluded and included text.
//! Each failed expectation is a sentence for the report.

use serde_json::Value;

use super::template::{Env, TemplateError, expand};
use crate::probe::Response;
use crate::scenario::{Expect, JsonType, StatusItem, StatusSet, ValueCheck};

/// Whether `code` is in the set; `denied` means the effective denial statuses.
pub fn status_matches(set: &StatusSet, code: u16, denied: &[u16]) -> bool {
    set.0.iter().any(|item| match *item {
        StatusItem::Code(c) => c == code,
        StatusItem::Denied => denied.contains(&code),
        StatusItem::Class(d) => u16::from(d) == code / 100,
    })
}

pub fn describe_set(set: &StatusSet, denied: &[u16]) -> String {
    let one = |item: &StatusItem| match *item {
        StatusItem::Code(c) => c.to_string(),
        StatusItem::Denied => format!(
            "a denial ({})",
            denied
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ),
        StatusItem::Class(d) => format!("{d}xx"),
    };
    set.0.iter().map(one).collect::<Vec<_>>().join(" or ")
}

/// Whether the set admits the over-limit status (then a 429 is an answer, not something to wait out).
pub fn admits(set: &StatusSet, code: u16) -> bool {
    status_matches(set, code, &[])
}

/// The failures of `expect` on `resp`; empty when it holds.
pub fn check(
    expect: &Expect,
    resp: &Response,
    denied: &[u16],
    env: &mut Env,
) -> Result<Vec<String>, TemplateError> {
    let mut failures = Vec::new();
    if let Some(set) = &expect.status
        && !status_matches(set, resp.status, denied)
    {
        failures.push(format!(
            "expected status {}, got {}",
            describe_set(set, denied),
            resp.status
        ));
    }
    for (name, check) in &expect.headers {
        let value = resp.header(name).map(|v| Value::String(v.to_string()));
        if let Some(f) = check_value(&format!("header {name}"), value.as_ref(), check, env)? {
            failures.push(f);
        }
    }
    if !expect.json.is_empty() {
        match resp.json() {
            None => failures.push("the body is not JSON".to_string()),
            Some(doc) => {
                for (pointer, check) in &expect.json {
                    if let Some(f) =
                        check_value(&format!("JSON {pointer}"), doc.pointer(pointer), check, env)?
                    {
                        failures.push(f);
                    }
                }
            }
        }
    }
    for t in &expect.body_excludes {
        let needle = expand(t, env)?;
        if needle.len() >= 4
            && (contains_whole(&resp.body, &needle)
                || resp.headers.iter().any(|(_, v)| contains_whole(v, &needle)))
        {
            failures.push(format!("the response contains `{t}`"));
        }
    }
    for t in &expect.body_includes {
        let needle = expand(t, env)?;
        if !resp.body.contains(&needle) {
            failures.push(format!("the body does not contain `{t}`"));
        }
    }
    Ok(failures)
}

/// Whether `needle` occurs in `hay` as a whole value: not continued by a character an id or a
/// key could go on with (`sandbox_1` is not in `sandbox_10`, a key is in `"key":"lel_…"`).
fn contains_whole(hay: &str, needle: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn yaml_to_text(v: &serde_yaml_ng::Value, env: &mut Env) -> Result<String, TemplateError> {
    Ok(match v {
        serde_yaml_ng::Value::String(s) => expand(s, env)?,
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    })
}

fn check_value(
    what: &str,
    value: Option<&Value>,
    check: &ValueCheck,
    env: &mut Env,
) -> Result<Option<String>, TemplateError> {
    let present = value.is_some();
    if let Some(want) = check.present {
        if want != present {
            return Ok(Some(format!(
                "{what} is {}",
                if present { "present" } else { "missing" }
            )));
        }
        if !present {
            return Ok(None);
        }
    }
    let Some(value) = value else {
        return Ok(Some(format!("{what} is missing")));
    };
    if let Some(t) = check.type_ {
        let actual = JsonType::of(value);
        // An integer is a number too.
        if actual != t && !(t == JsonType::Number && actual == JsonType::Integer) {
            return Ok(Some(format!(
                "{what} is {}, not {}",
                actual.name(),
                t.name()
            )));
        }
    }
    if let Some(eq) = &check.equals {
        let want = yaml_to_text(eq, env)?;
        if as_text(value) != want {
            return Ok(Some(format!("{what} is {value}, not {want:?}")));
        }
    }
    if let Some(re) = &check.matches {
        let re = &re.0;
        if !re.is_match(&as_text(value)) {
            return Ok(Some(format!(
                "{what} `{}` does not match /{re}/",
                as_text(value)
            )));
        }
    }
    if let Some(p) = &check.starts_with {
        let p = expand(p, env)?;
        if !as_text(value).starts_with(&p) {
            return Ok(Some(format!("{what} does not start with `{p}`")));
        }
    }
    if let Some((lo, hi)) = &check.range {
        let n = as_text(value).trim().parse::<f64>().ok();
        let lo: f64 = yaml_to_text(lo, env)?
            .parse()
            .map_err(|_| TemplateError::Invalid("range bounds are numbers".into()))?;
        let hi: f64 = yaml_to_text(hi, env)?
            .parse()
            .map_err(|_| TemplateError::Invalid("range bounds are numbers".into()))?;
        match n {
            Some(n) if n >= lo && n <= hi => {}
            _ => return Ok(Some(format!("{what} is {value}, outside [{lo}, {hi}]"))),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excluded_value_is_matched_whole() {
        assert!(contains_whole(r#"[{"id":"sandbox_1"}]"#, "sandbox_1"));
        assert!(!contains_whole(r#"[{"id":"sandbox_10"}]"#, "sandbox_1"));
        assert!(!contains_whole(r#"[{"id":"xsandbox_1"}]"#, "sandbox_1"));
        assert!(contains_whole("invalid key lel_abcd.", "lel_abcd"));
        assert!(contains_whole("sandbox_1", "sandbox_1"));
    }

    #[test]
    fn status_sets() {
        let denied = [401, 403];
        let set: StatusSet = serde_yaml_ng::from_str("[denied, 404]").unwrap();
        assert!(status_matches(&set, 401, &denied) && status_matches(&set, 404, &denied));
        assert!(!status_matches(&set, 200, &denied));
        let set: StatusSet = serde_yaml_ng::from_str("2xx").unwrap();
        assert!(status_matches(&set, 204, &denied) && !status_matches(&set, 301, &denied));
        assert!(admits(&serde_yaml_ng::from_str("429").unwrap(), 429));
        assert!(!admits(&serde_yaml_ng::from_str("denied").unwrap(), 429));
    }
}
