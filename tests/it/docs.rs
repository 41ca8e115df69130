//! The documents are tested like code: README's quick starts run as written, and every command
//! and flag README and the book (docs/src) name exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lelantos-conform");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The fenced blocks that follow a `<!-- quickstart -->` line.
fn quick_starts(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "<!-- quickstart -->" {
            continue;
        }
        let Some(fence) = lines.next().filter(|f| f.starts_with("```")) else {
            panic!("`<!-- quickstart -->` is not followed by a fenced block");
        };
        let _ = fence;
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.push(body.join("\n"));
    }
    blocks
}

/// A quick start's commands as a script for this build: `cargo run --release --` and a bare
/// `lelantos-conform` are the binary under test (the commands are otherwise run as written).
fn script(block: &str) -> String {
    block
        .lines()
        .map(|l| {
            let l = l.replace("cargo run --release --", BIN);
            match l.strip_prefix("lelantos-conform") {
                Some(rest) => format!("{BIN}{rest}"),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

#[test]
fn readme_quick_starts_run_as_written() {
    let blocks = quick_starts(&readme());
    assert!(
        blocks.len() >= 2,
        "README marks {} quick starts to run",
        blocks.len()
    );
    assert!(
        blocks.iter().any(|b| b.contains("--profile-out")),
        "no quick start goes serve -> profile -> run"
    );
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quickstart.sh");
        // `set -m`: a job started with `&` is its own process group, which the end kills.
        let text = format!(
            "set -euo pipefail\nset -m\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}\n",
            script(&block)
        );
        std::fs::write(&path, text).unwrap();
        let mut child = Command::new("bash")
            .arg(&path)
            .current_dir(dir.path())
            .env_remove("LELANTOS_API_KEY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the quick start did not end in 180 s:\n{block}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let out = child.wait_with_output().unwrap();
        assert!(
            status.success(),
            "the quick start failed ({status}):\n{block}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("verdict: PASS"), "{block}\n{stdout}");
    }
}

/// Every Markdown file users read: README and the book's chapters.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut stack = vec![Path::new(ROOT).join("docs/src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// `(subcommand path, long flags)` for each invocation a line names: `lelantos-conform run
/// --profile p.yaml` or `cargo run --release -- report merge a b` (words after the binary up to
/// the first that is not a lower-case word are the subcommand path, at most two).
fn invocations(line: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for start in ["lelantos-conform ", "cargo run --release -- "] {
        let mut rest = line;
        while let Some(i) = rest.find(start) {
            let after = &rest[i + start.len()..];
            // An invocation ends at a shell separator or the end of inline code.
            let end = after.find(['`', '|', ';', ')']).unwrap_or(after.len());
            let words: Vec<&str> = after[..end].split_whitespace().collect();
            let sub: Vec<String> = words
                .iter()
                .take_while(|w| {
                    w.starts_with(|c: char| c.is_ascii_lowercase())
                        && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .take(2)
                .map(|w| w.to_string())
                .collect();
            let flags: Vec<String> = words
                .iter()
                .filter(|w| w.starts_with("--") && w.len() > 2)
                .map(|w| {
                    w.split(['=', ',', '.', ':', '\'', '"'])
                        .next()
                        .unwrap()
                        .to_string()
                })
                .collect();
            if !sub.is_empty() {
                out.push((sub, flags));
            }
            rest = &after[end..];
        }
    }
    out
}

fn help(path: &[String]) -> Option<String> {
    let out = Command::new(BIN).args(path).arg("--help").output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_command_and_flag_the_documents_name_exists() {
    let mut helps: BTreeMap<Vec<String>, Option<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(ROOT)
            .unwrap_or(&file)
            .display()
            .to_string();
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            // Code only: a fenced block's lines, else the line's inline code spans (prose may
            // say "lelantos-conform is ...").
            let code: Vec<&str> = if fenced {
                vec![line]
            } else {
                line.split('`').skip(1).step_by(2).collect()
            };
            for (mut sub, flags) in code.into_iter().flat_map(invocations) {
                // `report merge` is a command two words deep; `run scenarios` is not.
                let two = sub.len() == 2 && {
                    let h = helps.entry(sub.clone()).or_insert_with(|| help(&sub));
                    h.is_some() && sub[0] == "report"
                };
                if !two {
                    sub.truncate(1);
                }
                let h = helps.entry(sub.clone()).or_insert_with(|| help(&sub));
                let Some(h) = h else {
                    problems.push(format!("{name}:{}: no command `{}`", n + 1, sub.join(" ")));
                    continue;
                };
                checked += 1;
                for f in flags {
                    // Long flags as --help shows them: `--profile <FILE>`, `--quiet`, `-v, --verbose`.
                    let shown = h
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
                        .any(|w| w == f);
                    if !shown && f != "--help" && f != "--version" {
                        problems.push(format!(
                            "{name}:{}: `{}` has no flag {f}",
                            n + 1,
                            sub.join(" ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} invocations found in the documents"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn invocations_are_read_from_a_line() {
    let v = invocations("  lelantos-conform run --profile p.yaml --fail-on must,should | tee x");
    assert_eq!(
        v,
        vec![(
            vec!["run".to_string()],
            vec!["--profile".to_string(), "--fail-on".to_string()]
        )]
    );
    let v = invocations(
        "`cargo run --release -- report merge a/ b/` then `lelantos-conform list faults`",
    );
    assert_eq!(v[0].0, vec!["list".to_string(), "faults".to_string()]);
    assert_eq!(v[1].0, vec!["report".to_string(), "merge".to_string()]);
}

/// The book builds with mdBook (`.ci/run` installs it into the peers' virtualenv; another may
/// be named by `LELANTOS_MDBOOK`), and every chapter SUMMARY.md links to exists.
#[test]
fn the_book_builds() {
    let mdbook = std::env::var_os("LELANTOS_MDBOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("target/peer-venv/bin/mdbook"));
    assert!(
        mdbook.exists(),
        "{} is missing: run .ci/run (it installs mdBook), or set LELANTOS_MDBOOK",
        mdbook.display()
    );
    let summary = std::fs::read_to_string(Path::new(ROOT).join("docs/src/SUMMARY.md")).unwrap();
    let link = regex::Regex::new(r"\]\(([^)#]+\.md)\)").unwrap();
    let chapters: Vec<&str> = link
        .captures_iter(&summary)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(chapters.len() >= 5, "{summary}");
    for c in &chapters {
        assert!(
            Path::new(ROOT).join("docs/src").join(c).exists(),
            "SUMMARY.md links to {c}, which is missing"
        );
    }
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new(&mdbook)
        .arg("build")
        .arg(Path::new(ROOT).join("docs"))
        .arg("--dest-dir")
        .arg(dest.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mdbook build failed:\n{stderr}");
    assert!(
        !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "{stderr}"
    );
    assert!(dest.path().join("index.html").exists());
}
