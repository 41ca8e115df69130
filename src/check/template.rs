//! Templates in scenario values: `{{name}}` or `{{name|filter|filter:arg}}`.
//!
//! Names are credential roles (`api_key`, `admin_token`...), variables captured earlier in the
//! scenario, `prefix.api_key` / `prefix.access_token` (the spec's prefixes) and `random_key` (a
//! fresh value shaped like a key). Filters derive near-misses and forged tokens from real values;
//! `FILTERS` lists them, and loading a scenario rejects an unknown one.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::seed::SeededRng;
use rand::Rng;
use serde_json::Value;

use super::jwt::Jwt;
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq)]
pub enum TemplateError {
    /// A variable has no value (a credential not given, a capture that did not happen).
    Missing(String),
    /// A filter needs the deployment's HS256 secret.
    NeedsSecret,
    Invalid(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Missing(name) => write!(f, "no value for `{name}`"),
            TemplateError::NeedsSecret => f.write_str("needs the deployment's HS256 secret"),
            TemplateError::Invalid(why) => f.write_str(why),
        }
    }
}

/// What templates are expanded against.
pub struct Env<'a> {
    pub spec: &'a Spec,
    pub vars: &'a BTreeMap<String, String>,
    pub jwt_secret: Option<&'a str>,
    pub rng: &'a mut SeededRng,
}

pub fn expand(text: &str, env: &mut Env) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start + 2..].find("}}") else {
            return Err(TemplateError::Invalid(format!(
                "unclosed `{{{{` in `{text}`"
            )));
        };
        let expr = rest[start + 2..start + 2 + len].trim();
        out.push_str(&eval(expr, env)?);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands every string in a JSON value.
pub fn expand_json(value: &Value, env: &mut Env) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => Value::String(expand(s, env)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| expand_json(v, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = serde_json::Map::new();
            for (k, v) in o {
                m.insert(k.clone(), expand_json(v, env)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn eval(expr: &str, env: &mut Env) -> Result<String, TemplateError> {
    let mut parts = expr.split('|');
    let name = parts.next().unwrap_or("").trim();
    let mut value = lookup(name, env)?;
    for f in parts {
        let (fname, arg) = match f.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a)),
            None => (f.trim(), None),
        };
        value = apply(fname, arg, &value, env)?;
    }
    Ok(value)
}

fn lookup(name: &str, env: &mut Env) -> Result<String, TemplateError> {
    match name {
        "prefix.api_key" => return Ok(env.spec.auth.api_key.prefix.clone()),
        "prefix.access_token" => return Ok(env.spec.auth.access_token.prefix.clone()),
        "random_key" => {
            let prefix = env.spec.auth.api_key.prefix.clone();
            let shape = env
                .vars
                .get("api_key")
                .cloned()
                .unwrap_or_else(|| format!("{prefix}{}", "a".repeat(32)));
            return Ok(random_like(&shape, &prefix, env.rng));
        }
        _ => {}
    }
    env.vars
        .get(name)
        .cloned()
        .ok_or_else(|| TemplateError::Missing(name.to_string()))
}

fn prefixes(spec: &Spec) -> [&str; 2] {
    // Longest first: `sk_lel_` must win over a shorter prefix it may contain.
    let (a, b) = (
        spec.auth.access_token.prefix.as_str(),
        spec.auth.api_key.prefix.as_str(),
    );
    if a.len() >= b.len() { [a, b] } else { [b, a] }
}

fn split_prefix<'v>(value: &'v str, spec: &Spec) -> (&'v str, &'v str) {
    for p in prefixes(spec) {
        if !p.is_empty() && value.starts_with(p) {
            return value.split_at(p.len());
        }
    }
    ("", value)
}

fn other_char(c: char) -> char {
    match c {
        'a'..='y' | 'A'..='Y' | '0'..='8' => char::from_u32(c as u32 + 1).unwrap_or('x'),
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        _ => 'x',
    }
}

fn random_like(shape: &str, prefix: &str, rng: &mut SeededRng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body_len = shape
        .strip_prefix(prefix)
        .unwrap_or(shape)
        .chars()
        .count()
        .max(8);
    let body: String = (0..body_len)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

fn signed_duration(arg: Option<&str>) -> Result<i64, TemplateError> {
    let text = arg
        .ok_or_else(|| TemplateError::Invalid("give a duration, e.g. -25h".into()))?
        .trim();
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.trim_start_matches('+')),
    };
    let d: Duration = crate::yaml::duration::parse(body).map_err(TemplateError::Invalid)?;
    let secs = d.as_secs() as i64;
    Ok(if neg { -secs } else { secs })
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn apply(
    name: &str,
    arg: Option<&str>,
    value: &str,
    env: &mut Env,
) -> Result<String, TemplateError> {
    let spec = env.spec;
    let (prefix, body) = split_prefix(value, spec);
    let jwt = |body: &str| {
        Jwt::decode(body).map_err(|e| TemplateError::Invalid(format!("`{name}`: not a JWT: {e}")))
    };
    let resign = |mut t: Jwt, env: &Env| -> Result<String, TemplateError> {
        let secret = env.jwt_secret.ok_or(TemplateError::NeedsSecret)?;
        t.sign("HS256", secret.as_bytes())
            .map(|s| format!("{prefix}{s}"))
            .map_err(TemplateError::Invalid)
    };
    Ok(match name {
        "drop_last" => {
            let mut s = value.to_string();
            s.pop();
            s
        }
        "take" => {
            let n: usize = arg
                .unwrap_or("1")
                .trim()
                .parse()
                .map_err(|_| TemplateError::Invalid("take takes a count".into()))?;
            value.chars().take(n).collect()
        }
        "append" => format!("{value}{}", arg.unwrap_or("x")),
        "prepend" => format!("{}{value}", arg.unwrap_or("x")),
        "change_last" => {
            let mut chars: Vec<char> = value.chars().collect();
            if let Some(c) = chars.last_mut() {
                *c = other_char(*c);
            }
            chars.into_iter().collect()
        }
        "change_first" => {
            let mut chars: Vec<char> = body.chars().collect();
            if let Some(c) = chars.first_mut() {
                *c = other_char(*c);
            }
            format!("{prefix}{}", chars.into_iter().collect::<String>())
        }
        "swapcase" => value
            .chars()
            .map(|c| {
                if c.is_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect(),
        "upper" => value.to_uppercase(),
        "strip_prefix" => body.to_string(),
        "surround" => {
            let a = arg.unwrap_or(" ");
            format!("{a}{value}{a}")
        }
        "repeat" => {
            let n: usize = arg
                .unwrap_or("2")
                .trim()
                .parse()
                .map_err(|_| TemplateError::Invalid("repeat takes a count".into()))?;
            value.repeat(n.min(10_000))
        }
        "random_like" => random_like(value, prefix, env.rng),
        "jwt_alg_none" => {
            let mut t = jwt(body)?;
            t.header.insert(
                "alg".into(),
                Value::String(arg.unwrap_or("none").to_string()),
            );
            t.signature.clear();
            format!("{prefix}{}", t.encode_unsigned())
        }
        "jwt_alg" => {
            let alg = arg.unwrap_or("HS512").trim();
            let mut t = jwt(body)?;
            match alg {
                "HS384" | "HS512" => {
                    // With the deployment's secret the forgery is as strong as it gets: a valid
                    // HMAC under the wrong algorithm. Without it, a random key.
                    let key: Vec<u8> = match env.jwt_secret {
                        Some(s) => s.as_bytes().to_vec(),
                        None => (0..32).map(|_| env.rng.random()).collect(),
                    };
                    format!(
                        "{prefix}{}",
                        t.sign(alg, &key).map_err(TemplateError::Invalid)?
                    )
                }
                _ => {
                    t.header
                        .insert("alg".into(), Value::String(alg.to_string()));
                    let garbage: Vec<u8> = (0..256).map(|_| env.rng.random()).collect();
                    use base64::Engine as _;
                    t.signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(garbage);
                    format!("{prefix}{}", t.encode_unsigned())
                }
            }
        }
        "jwt_sig_strip" => {
            let mut t = jwt(body)?;
            t.signature.clear();
            format!("{prefix}{}", t.encode_unsigned())
        }
        "jwt_sig_flip" => {
            let mut chars: Vec<char> = value.chars().collect();
            // The second-to-last character: the last may carry only padding bits in base64url.
            let i = chars.len().saturating_sub(2);
            if let Some(c) = chars.get_mut(i) {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
            chars.into_iter().collect()
        }
        "jwt_payload_tamper" => {
            let mut t = jwt(body)?;
            let exp = t.claim_secs("exp").unwrap_or(0);
            t.claims
                .insert("exp".into(), Value::from(exp + 86_400 * 365));
            t.claims.insert("tampered".into(), Value::from(true));
            format!("{prefix}{}", t.encode_unsigned())
        }
        "jwt_other_secret" => {
            let mut t = jwt(body)?;
            let key: Vec<u8> = (0..32).map(|_| env.rng.random()).collect();
            format!(
                "{prefix}{}",
                t.sign("HS256", &key).map_err(TemplateError::Invalid)?
            )
        }
        "jwt_header" => {
            let (k, v) = arg
                .and_then(|a| a.split_once('='))
                .ok_or_else(|| TemplateError::Invalid("jwt_header takes name=value".into()))?;
            let mut t = jwt(body)?;
            t.header
                .insert(k.trim().to_string(), Value::String(v.trim().to_string()));
            // Re-signed with the empty key: what a kid lookup of /dev/null, a blank or a missing
            // file yields, so a server that trusts the header would accept it.
            format!(
                "{prefix}{}",
                t.sign("HS256", b"").map_err(TemplateError::Invalid)?
            )
        }
        "jwt_shift" => {
            let by = signed_duration(arg)?;
            let mut t = jwt(body)?;
            t.shift(&["iat", "exp", "nbf"], by);
            resign(t, env)?
        }
        "jwt_exp_in" | "jwt_nbf_in" | "jwt_iat_in" => {
            let at = now_secs() + signed_duration(arg)?;
            let claim = &name[4..7];
            let mut t = jwt(body)?;
            t.claims.insert(claim.into(), Value::from(at));
            resign(t, env)?
        }
        "jwt_without" => {
            let claim = arg
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| TemplateError::Invalid("jwt_without takes a claim name".into()))?;
            let mut t = jwt(body)?;
            t.claims.remove(claim);
            resign(t, env)?
        }
        other => return Err(TemplateError::Invalid(format!("unknown filter `{other}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::check;

    fn with_env<T>(
        vars: &[(&str, &str)],
        secret: Option<&str>,
        f: impl FnOnce(&mut Env) -> T,
    ) -> T {
        let spec = Spec::builtin();
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut rng = crate::seed::from_u64(7);
        let mut env = Env {
            spec: &spec,
            vars: &vars,
            jwt_secret: secret,
            rng: &mut rng,
        };
        f(&mut env)
    }

    #[test]
    fn near_misses_of_a_key() {
        let key = "lel_abcdefghijklmnopqrstuvwxyz012345";
        with_env(&[("api_key", key)], None, |env| {
            assert_eq!(
                expand("{{api_key|drop_last}}", env).unwrap(),
                &key[..key.len() - 1]
            );
            assert_eq!(
                expand("{{api_key|change_last}}", env).unwrap(),
                "lel_abcdefghijklmnopqrstuvwxyz012346"
            );
            assert_eq!(
                expand("{{api_key|change_first}}", env).unwrap(),
                "lel_bbcdefghijklmnopqrstuvwxyz012345"
            );
            assert_eq!(expand("{{api_key|strip_prefix}}", env).unwrap(), &key[4..]);
            assert_eq!(expand("{{prefix.api_key}}", env).unwrap(), "lel_");
            assert_eq!(
                expand("x{{api_key|surround}}y", env).unwrap(),
                format!("x {key} y")
            );
            let r = expand("{{random_key}}", env).unwrap();
            assert!(r.starts_with("lel_") && r.len() == key.len() && r != key);
            assert_eq!(
                expand("{{nope}}", env),
                Err(TemplateError::Missing("nope".into()))
            );
        });
    }

    #[test]
    fn forged_tokens() {
        let mut base = Jwt::default();
        base.claims.insert("iat".into(), Value::from(1000));
        base.claims.insert("exp".into(), Value::from(1000 + 86400));
        let token = format!("sk_lel_{}", base.sign("HS256", b"s3cret").unwrap());
        with_env(&[("t", &token)], Some("s3cret"), |env| {
            let none = expand("{{t|jwt_alg_none}}", env).unwrap();
            assert!(none.starts_with("sk_lel_") && none.ends_with('.'));
            assert_eq!(
                Jwt::decode(none.strip_prefix("sk_lel_").unwrap())
                    .unwrap()
                    .alg(),
                Some("none")
            );
            let shifted = expand("{{t|jwt_shift:-1h}}", env).unwrap();
            let j = Jwt::decode(&shifted[7..]).unwrap();
            assert_eq!(j.claim_secs("exp"), Some(1000 + 86400 - 3600));
            assert!(Jwt::verifies(&shifted[7..], b"s3cret"));
            let flipped = expand("{{t|jwt_sig_flip}}", env).unwrap();
            assert!(!Jwt::verifies(&flipped[7..], b"s3cret"));
            let hs512 = expand("{{t|jwt_alg:HS512}}", env).unwrap();
            assert_eq!(Jwt::decode(&hs512[7..]).unwrap().alg(), Some("HS512"));
        });
        with_env(&[("t", &token)], None, |env| {
            assert_eq!(
                expand("{{t|jwt_exp_in:-2m}}", env),
                Err(TemplateError::NeedsSecret)
            );
        });
    }

    #[test]
    fn check_rejects_unknown_filters() {
        assert!(check("{{api_key|drop_last}}").is_ok());
        let e = check("{{api_key|drop_lst}}").unwrap_err();
        assert!(e.contains("did you mean `drop_last`"), "{e}");
    }
}
