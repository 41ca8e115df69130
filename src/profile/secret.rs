//! Where a credential comes from: `{env: NAME}` or `{file: PATH}`, never the value itself.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    JsonFile(PathBuf, String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(n) => write!(f, "environment variable {n}"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
            SecretSource::JsonFile(p, ptr) => write!(f, "{ptr} in file {}", p.display()),
        }
    }
}

const INLINE: &str =
    "inline secrets are refused: write {env: NAME} or {file: PATH}, never the value itself";

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{env: NAME} or {file: PATH}")
            }
            // Every scalar is refused without quoting it: the value may be a real secret.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom(INLINE))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Err(E::custom(INLINE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Err(E::custom(INLINE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Err(E::custom(INLINE))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Err(E::custom(INLINE))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut env, mut file, mut pointer) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    match key.as_str() {
                        "env" => env = Some(value),
                        "file" => file = Some(PathBuf::from(value)),
                        "pointer" => pointer = Some(value),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["env", "file", "pointer"],
                            ));
                        }
                    }
                }
                match (env, file, pointer) {
                    (Some(n), None, None) => Ok(SecretSource::Env(n)),
                    (None, Some(f), None) => Ok(SecretSource::File(f)),
                    (None, Some(f), Some(p)) if p.starts_with('/') => {
                        Ok(SecretSource::JsonFile(f, p))
                    }
                    (None, Some(_), Some(_)) => Err(de::Error::custom(
                        "pointer is a JSON pointer, e.g. /api_key",
                    )),
                    (Some(_), Some(_), _) => Err(de::Error::custom("give env or file, not both")),
                    (Some(_), None, Some(_)) => Err(de::Error::custom("pointer goes with file")),
                    (None, None, _) => Err(de::Error::custom("give env: NAME or file: PATH")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl SecretSource {
    /// A shell expression that yields the value, for a replay line that must not hold it.
    pub fn shell(&self, relative_to: Option<&std::path::Path>) -> String {
        let quote = |p: &PathBuf| {
            let p = match relative_to {
                Some(dir) if p.is_relative() => dir.join(p),
                _ => p.clone(),
            };
            format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
        };
        match self {
            SecretSource::Env(name) => format!("${name}"),
            SecretSource::File(p) => format!("$(cat {})", quote(p)),
            SecretSource::JsonFile(p, pointer) => {
                // jq's path for the pointer: array indices as numbers, keys as JSON strings;
                // the program single-quoted for the shell.
                let path: String = pointer
                    .split('/')
                    .skip(1)
                    .map(|k| k.replace("~1", "/").replace("~0", "~"))
                    .map(|k| match k.parse::<usize>() {
                        Ok(i) => format!("[{i}]"),
                        Err(_) => format!("[{}]", serde_json::to_string(&k).unwrap_or_default()),
                    })
                    .collect();
                format!("$(jq -r '.{}' {})", path.replace('\'', r"'\''"), quote(p))
            }
        }
    }

    /// The value, or why there is none. A credential the profile declares is one the user expects
    /// to be checked, so every way of not having it is an error naming the source (never a
    /// value): an unset or empty variable, a missing or empty file, an absent or empty pointer.
    /// Otherwise a CI job whose secrets never reached it (a fork's pull request) would skip every
    /// clause that needs them and stay green.
    pub fn resolve(&self, relative_to: Option<&std::path::Path>) -> Result<String, String> {
        let read = |path: &PathBuf| {
            let path = match relative_to {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.clone(),
            };
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let empty = || format!("{self} is empty");
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v),
                Ok(_) => Err(empty()),
                Err(std::env::VarError::NotPresent) => {
                    Err(format!("environment variable {name} is not set"))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(format!("environment variable {name} is not UTF-8"))
                }
            },
            SecretSource::File(path) => {
                let v = read(path)?.trim_end_matches(['\n', '\r']).to_string();
                if v.is_empty() { Err(empty()) } else { Ok(v) }
            }
            SecretSource::JsonFile(path, pointer) => {
                let text = read(path)?;
                // The error never quotes the file: it holds secrets.
                let doc: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not JSON (line {})", path.display(), e.line()))?;
                match doc.pointer(pointer) {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                    Some(serde_json::Value::String(_)) => Err(empty()),
                    None => Err(format!("{pointer} is absent from {}", path.display())),
                    Some(_) => Err(format!("{pointer} in {} is not a string", path.display())),
                }
            }
        }
    }
}

/// A value a profile may give as a literal or, when it is a secret, from a source: a header
/// value (`X-Tenant: staging`, `X-Gateway-Token: {env: GATEWAY_TOKEN}`) or the proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralOrSecret {
    Literal(String),
    Secret(SecretSource),
}

impl LiteralOrSecret {
    /// The value and, when it is secret, the shell expression that yields it.
    pub fn resolve(
        &self,
        relative_to: Option<&std::path::Path>,
    ) -> Result<(String, Option<String>), String> {
        match self {
            LiteralOrSecret::Literal(v) => Ok((v.clone(), None)),
            LiteralOrSecret::Secret(s) => Ok((s.resolve(relative_to)?, Some(s.shell(relative_to)))),
        }
    }
}

impl<'de> Deserialize<'de> for LiteralOrSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LiteralOrSecret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or {env: NAME} or {file: PATH} for a secret one")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LiteralOrSecret::Literal(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LiteralOrSecret::Literal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LiteralOrSecret::Literal(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LiteralOrSecret::Literal(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SecretSource::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(LiteralOrSecret::Secret)
            }
        }
        d.deserialize_any(V)
    }
}
