//! No report, log line or terminal output ever holds a secret: a full run against a server whose
//! faults put credentials into responses (and accept forged tokens), through the binary, then
//! every report file and both output streams are searched for every secret.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lelantos_conform::reference::{self, Fault, ServeOptions};
use lelantos_conform::report::find_secrets;
use lelantos_conform::spec::Spec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_report_or_output() {
    let faults = vec![
        Fault::EchoCredential,
        // Token denials quote the bare JWT in JSON escapes: the report shows it unescaped, so
        // the redactor sees it.
        Fault::EchoBareJwt,
        Fault::KeyListFull,
        Fault::JwtNoSignatureCheck,
        Fault::UnauthAllowed,
    ];
    let opts = ServeOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        window: Some(Duration::from_secs(1)),
        faults,
        ..ServeOptions::default()
    };
    let server = reference::start(Arc::new(Spec::builtin()), opts)
        .await
        .unwrap();
    let temp = crate::support::temp_dir();
    let dir = temp.path();
    let profile = crate::support::profiles::profile(dir, &server.credentials, 1, "");
    let reports = dir.join("reports");
    let out = tokio::task::spawn_blocking({
        let (profile, reports) = (profile.clone(), reports.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_lelantos-conform"))
                .args(["run", "--quiet", "--profile"])
                .arg(&profile)
                .arg("--report-dir")
                .arg(&reports)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "the faults must fail the run");

    let secrets: Vec<String> = crate::support::profiles::secrets(&server.credentials)
        .into_iter()
        .filter(|(role, _)| !matches!(*role, "email" | "other_team_sandbox"))
        .map(|(_, v)| v)
        .collect();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let found = find_secrets(&reports, &refs);
    assert!(found.is_empty(), "secrets in reports: {found:?}");
    for f in [
        "compliance.json",
        "junit.xml",
        "compliance.md",
        "report.html",
    ] {
        assert!(reports.join(f).exists(), "{f} missing");
    }

    // And `timing`, whose wrong admin tokens are near-copies of the real one.
    let timing_reports = dir.join("timing");
    let timing = tokio::task::spawn_blocking({
        let (profile, reports) = (profile.clone(), timing_reports.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_lelantos-conform"))
                .args([
                    "timing",
                    "--quiet",
                    "--samples",
                    "200",
                    "--budget",
                    "3s",
                    "--profile",
                ])
                .arg(&profile)
                .arg("--report-dir")
                .arg(&reports)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        timing_reports.join("compliance.json").exists(),
        "timing wrote no report: {}",
        String::from_utf8_lossy(&timing.stderr)
    );

    assert_clean(&[&out, &timing], &[&reports, &timing_reports], &refs);
    server.shutdown().await;
}

/// No secret, full issued token or full key in the outputs or any file of the folders.
fn assert_clean(outs: &[&std::process::Output], dirs: &[&std::path::Path], secrets: &[&str]) {
    // Tokens the target issued during the run are secrets too: no full token anywhere.
    let token = regex::Regex::new(r"sk_lel_[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}").unwrap();
    let key = regex::Regex::new(r"lel_[A-Za-z0-9]{12,}").unwrap();
    let mut texts = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        texts.push((
            format!("stdout {i}"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
        texts.push((
            format!("stderr {i}"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    for dir in dirs {
        let found = find_secrets(dir, secrets);
        assert!(found.is_empty(), "secrets in {}: {found:?}", dir.display());
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            texts.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    // And every text with its `\uXXXX` escapes decoded (once or twice escaped): a secret
    // spelled in escapes is still the secret.
    let escape = regex::Regex::new(r"\\+u([0-9a-fA-F]{4})").unwrap();
    let decoded: Vec<(String, String)> = texts
        .iter()
        .filter(|(_, t)| escape.is_match(t))
        .map(|(n, t)| {
            let d = escape.replace_all(t, |c: &regex::Captures| {
                u32::from_str_radix(&c[1], 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
                    .unwrap_or_default()
            });
            (format!("{n} (escapes decoded)"), d.into_owned())
        })
        .collect();
    texts.extend(decoded);
    // A whole JWT without its prefix is a token too.
    let bare = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
        .unwrap();
    // A replay line writes the values the harness forged in full (a random key, a token signed
    // with a made-up key: no secret of the target), so the shape checks look past replay lines;
    // the secrets and every 12-character stretch of them are looked for everywhere.
    let replay = regex::Regex::new(
        r#"(?s)"curl":\s*"(?:[^"\\]|\\.)*"|<pre class="curl">.*?</pre>|```sh\n.*?```"#,
    )
    .unwrap();
    for (name, text) in &texts {
        let shapes = replay.replace_all(text, "");
        let shapes = shapes.as_ref();
        assert!(
            !bare.is_match(shapes),
            "{name} holds a whole JWT: {:?}",
            bare.find(shapes).map(|m| &m.as_str()[..12])
        );
        let lower = text.to_ascii_lowercase();
        for s in secrets {
            assert!(!text.contains(s), "{name} holds a secret");
            // Nor a near-copy: any 12 characters of it, in any case.
            for w in s.as_bytes().windows(lelantos_conform::redact::WINDOW) {
                let w = String::from_utf8_lossy(w).to_ascii_lowercase();
                assert!(
                    !lower.contains(&w),
                    "{name} holds 12 characters of a secret ({})",
                    lelantos_conform::redact::fingerprint(s, &[])
                );
            }
        }
        assert!(
            !token.is_match(shapes),
            "{name} holds a full token: {:?}",
            token.find(shapes).map(|m| &m.as_str()[..12])
        );
        assert!(!key.is_match(shapes), "{name} holds a full key");
    }
}

/// The same for `load` (two segments, a pool of keys, refresh tokens rotated under the storm)
/// and for `report merge` of the segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_load_or_merge_artefact() {
    let opts = ServeOptions {
        addr: ([127, 0, 0, 1], 0).into(),
        window: Some(Duration::from_secs(1)),
        faults: vec![Fault::EchoCredential, Fault::KeyListFull],
        identities: 24,
        ..ServeOptions::default()
    };
    let server = reference::start(Arc::new(Spec::builtin()), opts)
        .await
        .unwrap();
    let temp = crate::support::temp_dir();
    let dir = temp.path();
    let profile = crate::support::profiles::profile(dir, &server.credentials, 1, "");
    let pool = dir.join("pool.txt");
    std::fs::write(&pool, server.credentials.extra_api_keys.join("\n")).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |args: Vec<String>| {
        let (profile, pool) = (profile.clone(), pool.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_lelantos-conform"))
                .args(&args)
                .arg("--profile")
                .arg(&profile)
                .env("LELANTOS_API_KEY_POOL", &pool)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        })
    };
    let mut outs = Vec::new();
    let mut dirs = Vec::new();
    for (scenario, parts) in [("load-identities", 2), ("load-refresh-storm", 1)] {
        for i in 0..parts {
            let d = dir.join(format!("{scenario}-{i}"));
            let mut args: Vec<String> = ["load", "--quiet", "--duration", "2s", "--scenario"]
                .map(String::from)
                .to_vec();
            args.push(format!("{root}/scenarios/{scenario}.yaml"));
            args.extend(["--report-dir".into(), d.display().to_string()]);
            if parts > 1 {
                args.extend(["--segment".into(), format!("{i}/{parts}")]);
            }
            outs.push(run(args).await.unwrap());
            dirs.push(d);
        }
    }
    let merged = dir.join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_lelantos-conform"))
        .args(["report", "merge"])
        .arg(&dirs[0])
        .arg(&dirs[1])
        .arg("--report-dir")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        merged.join("load.json").exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outs.push(out);
    dirs.push(merged);
    for d in &dirs {
        assert!(
            d.join("compliance.json").exists(),
            "{} has no report",
            d.display()
        );
    }
    let mut secrets: Vec<String> = crate::support::profiles::secrets(&server.credentials)
        .into_iter()
        .filter(|(role, _)| !matches!(*role, "email" | "other_team_sandbox"))
        .map(|(_, v)| v)
        .collect();
    secrets.extend(server.credentials.extra_api_keys.iter().cloned());
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let outs: Vec<&std::process::Output> = outs.iter().collect();
    let dirs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
    assert_clean(&outs, &dirs, &refs);
    server.shutdown().await;
}
