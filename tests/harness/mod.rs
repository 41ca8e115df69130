//! Helpers shared by the integration tests: temporary directories and profiles for a running
//! reference server whose credentials are read from files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lelantos_conform::reference::Credentials;

pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lc-{tag}-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every credential with its profile role name.
pub fn secrets(creds: &Credentials) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", creds.api_key.clone()),
        ("api_key_other_team", creds.api_key_other_team.clone()),
        ("api_key_revoked", creds.api_key_revoked.clone()),
        ("email", creds.email.clone()),
        ("password", creds.password.clone()),
        ("admin_token", creds.admin_token.clone()),
        ("jwt_secret", creds.jwt_secret.clone()),
        ("other_team_sandbox", creds.other_team_sandbox.clone()),
    ]
}

/// Writes a profile for `creds` into `dir`, each credential in a file of its own; `extra` is
/// appended under `rate_limits:` (after the window).
pub fn profile(dir: &Path, creds: &Credentials, window_secs: u64, extra: &str) -> PathBuf {
    let mut yaml = format!("base_url: {}\ncredentials:\n", creds.base_url);
    for (name, value) in secrets(creds) {
        std::fs::write(dir.join(name), value).unwrap();
        yaml.push_str(&format!("  {name}: {{file: {name}}}\n"));
    }
    yaml.push_str(&format!("rate_limits:\n  window: {window_secs}s\n{extra}"));
    let path = dir.join("profile.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}
