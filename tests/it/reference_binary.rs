//! `lelantos-conform serve` as a process: the listening line, the 0600 credentials file, no
//! secret on stdout or stderr, and usage errors.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lelantos_conform::reference::Credentials;

const BIN: &str = env!("CARGO_BIN_EXE_lelantos-conform");

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_announces_writes_private_credentials_and_prints_no_secret() {
    let temp = crate::support::temp_dir();
    let dir = temp.path();
    let creds = dir.join("creds.json");
    let mut child = Child(
        Command::new(BIN)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--window",
                "2s",
                "--identities",
                "5",
                "--credentials-out",
            ])
            .arg(&creds)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let c: Credentials = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(c.base_url, format!("http://{addr}"));
    assert_eq!(c.extra_api_keys.len(), 5);
    for v in [
        &c.api_key,
        &c.api_key_other_team,
        &c.api_key_revoked,
        &c.email,
        &c.password,
        &c.admin_token,
        &c.jwt_secret,
        &c.other_team_sandbox,
    ] {
        assert!(!v.is_empty());
    }

    // The server answers with those credentials.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/sandboxes", c.base_url))
            .header(
                lelantos_conform::spec::Spec::builtin()
                    .auth
                    .api_key
                    .header
                    .as_str(),
                &c.api_key,
            )
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);

    // Stop it (SIGTERM) and collect everything it printed.
    let pid = child.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = first;
    for l in lines {
        out.push_str(&l.unwrap());
    }
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let secrets = [
        &c.api_key,
        &c.api_key_other_team,
        &c.api_key_revoked,
        &c.password,
        &c.admin_token,
        &c.jwt_secret,
    ];
    for s in secrets.iter().copied().chain(c.extra_api_keys.iter()) {
        assert!(
            !out.contains(s.as_str()) && !err.contains(s.as_str()),
            "a secret was printed"
        );
    }
}

#[test]
fn unknown_fault_is_a_usage_error_listing_valid_faults() {
    let out = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--fault", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown fault `nope`"), "{err}");
    assert!(
        err.contains("rl-off-by-one") && err.contains("jwt-alg-none"),
        "{err}"
    );
}

#[test]
fn bad_window_and_limiter_are_usage_errors() {
    for args in [
        ["--window", "soon"],
        ["--limiter", "leaky"],
        ["--window", "0s"],
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn list_faults_names_every_fault() {
    let out = Command::new(BIN).args(["list", "faults"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for f in lelantos_conform::reference::Fault::ALL {
        assert!(text.contains(f.name()), "{f}");
    }
}
