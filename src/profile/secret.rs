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
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(n) => write!(f, "environment variable {n}"),
            SecretSource::File(p) => write!(f, "file {}", p.display()),
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
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    if found.is_some() {
                        return Err(de::Error::custom("give exactly one of env or file"));
                    }
                    found = Some(match key.as_str() {
                        "env" => SecretSource::Env(value),
                        "file" => SecretSource::File(PathBuf::from(value)),
                        other => return Err(de::Error::unknown_field(other, &["env", "file"])),
                    });
                }
                found.ok_or_else(|| de::Error::custom("give env: NAME or file: PATH"))
            }
        }
        d.deserialize_any(V)
    }
}

impl SecretSource {
    /// The value, or why there is none. A missing environment variable is not an error (the
    /// credential is optional); an unreadable file is, since the user named it.
    pub fn resolve(&self, relative_to: Option<&std::path::Path>) -> Result<Option<String>, String> {
        match self {
            SecretSource::Env(name) => Ok(std::env::var(name).ok().filter(|v| !v.is_empty())),
            SecretSource::File(path) => {
                let path = match relative_to {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.clone(),
                };
                std::fs::read_to_string(&path)
                    .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        }
    }
}
