//! Target profiles for a running reference server whose credentials are read from files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lelantos_conform::reference::Credentials;

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

/// A profile for a target whose credentials are in `creds.json` beside it (the format `serve
/// --credentials-out` writes), with every category's window set to `window_secs`.
pub fn profile_for(base_url: &str, window_secs: u32) -> String {
    // The profile `serve --profile-out` writes, for a server whose credentials are in creds.json
    // beside it.
    let mut profile = lelantos_conform::reference::profile_text(
        base_url,
        std::path::Path::new("creds.json"),
        std::path::Path::new("profile.yaml"),
        Some(Duration::from_secs(window_secs.into())),
    );
    // The default time limit is five windows and a minute (70 s at 2 s windows): a debug build
    // against a Python server, four runs at once on two cores, takes longer than that.
    profile.push_str("max_duration: 5m\n");
    profile
}
