//! Bad input through the binary, golden-style: each broken file is checked by `validate FILE` and
//! by the `run` option that takes it, and both must exit 2 with `FILE:LINE:COLUMN: message` at the
//! exact position, a did-you-mean where a near name exists, and no request sent (every run points
//! at a loopback listener that must see no connection). Then the command-line mistakes.

use std::path::Path;

use crate::support::binary::{Output, Watched, conform};

/// Which `run` option takes the file.
#[derive(Clone, Copy)]
enum Kind {
    Scenarios,
    Profile,
    Spec,
}

struct Case {
    name: &'static str,
    kind: Kind,
    text: String,
    line: usize,
    column: usize,
    /// The message right after `FILE:LINE:COLUMN: `.
    message: &'static str,
    /// How the message ends (the did-you-mean), if it must.
    ends: Option<&'static str>,
}

/// A step that is valid, for the cases that break one thing in it.
fn scenario(step_request: &str, extra: &str) -> String {
    format!(
        "scenarios:\n  - name: x\n    clauses: [AUTH-NO-CREDENTIALS]\n    steps:\n      - name: s\n        clause: AUTH-NO-CREDENTIALS\n        request: {step_request}\n{extra}"
    )
}

/// A valid load scenario with `extra` lines (6-space indent, under `load:`) after line 9.
fn load(extra: &str) -> String {
    format!(
        "scenarios:\n  - name: l\n    clauses: [LOAD-NO-5XX]\n    requires: [api_key]\n    load:\n      users: 2\n      duration: 1s\n      identities: shared\n      tasks: [{{endpoint: list_sandboxes, weight: 1}}]\n{extra}      no_5xx_clause: LOAD-NO-5XX\n"
    )
}

fn cases(target: &str) -> Vec<Case> {
    let spec =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/lelantos.yaml"))
            .expect("the built-in spec");
    // The spec with its first clause's `level` misspelt, and where that is.
    let (n, line) = spec
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("level: "))
        .expect("a clause level");
    let spec_line = n + 1;
    let spec_column = line.len() - line.trim_start().len() + 1;
    let bad_spec = spec.replacen(line, &line.replacen("level:", "levle:", 1), 1);
    vec![
        Case {
            name: "yaml-syntax",
            kind: Kind::Scenarios,
            text: "scenarios:\n  - name: x\n    clauses: [AUTH-NO-CREDENTIALS\n    steps: []\n"
                .into(),
            line: 4,
            column: 10,
            message: "did not find expected ',' or ']', while parsing a flow sequence at line 3 column 14",
            ends: None,
        },
        Case {
            name: "unknown-step-field",
            kind: Kind::Scenarios,
            text: scenario(
                "{endpoint: list_sandboxes, as: none}",
                "        expct: {status: denied}\n",
            ),
            line: 8,
            column: 9,
            message: "scenarios[0].steps[0]: unknown field `expct`, expected one of ",
            ends: Some("(did you mean `expect`?)"),
        },
        Case {
            name: "unknown-clause",
            kind: Kind::Scenarios,
            text: "scenarios:\n  - name: x\n    clauses: [AUTH-NO-CREDENTIALS, AUTH-KEY-HEADR]\n    steps:\n      - name: s\n        clause: AUTH-NO-CREDENTIALS\n        request: {endpoint: list_sandboxes, as: none}\n".into(),
            line: 3,
            column: 36,
            message: "unknown clause id `AUTH-KEY-HEADR` (did you mean `AUTH-KEY-HEADER`?)",
            ends: None,
        },
        Case {
            name: "unknown-endpoint",
            kind: Kind::Scenarios,
            text: scenario("{endpoint: list_sandboxs, as: none}", ""),
            line: 7,
            column: 29,
            message: "unknown endpoint `list_sandboxs` (did you mean `list_sandboxes`?)",
            ends: None,
        },
        Case {
            name: "unknown-role",
            kind: Kind::Scenarios,
            text: scenario("{endpoint: list_sandboxes, as: api_kee}", ""),
            line: 7,
            column: 49,
            message: "unknown role `api_kee` (did you mean `api_key`?)",
            ends: None,
        },
        Case {
            name: "unknown-filter",
            kind: Kind::Scenarios,
            // The position is the template's (inside the quotes).
            text: scenario(
                "{endpoint: list_sandboxes, as: {api_key: \"{{api_key|uper}}\"}}",
                "",
            ),
            line: 7,
            column: 60,
            message: "unknown filter `uper` (did you mean `upper`?)",
            ends: None,
        },
        Case {
            name: "repeat-category-typo",
            kind: Kind::Scenarios,
            // Once ran as limit 100 (`unwrap_or(100)`): now a validation error at the typo.
            text: scenario(
                "{endpoint: list_sandboxes, as: none}",
                "        repeat: over_limit:genral\n",
            ),
            line: 8,
            column: 28,
            message: "unknown category `genral` (did you mean `general`?)",
            ends: None,
        },
        Case {
            name: "status-class-7xx",
            kind: Kind::Scenarios,
            text: scenario(
                "{endpoint: list_sandboxes, as: none}",
                "        expect: {status: 7xx}\n",
            ),
            line: 8,
            column: 26,
            message: "unknown status `7xx`: write a code, a class like 2xx, or `denied`",
            ends: None,
        },
        Case {
            name: "duplicate-name-at-its-own-line",
            kind: Kind::Scenarios,
            text: {
                let one = scenario("{endpoint: list_sandboxes, as: none}", "");
                format!("{one}{}", one.trim_start_matches("scenarios:\n"))
            },
            line: 8,
            column: 11,
            message: "duplicate scenario name `x`",
            ends: None,
        },
        Case {
            name: "load-wait-min-above-max",
            kind: Kind::Scenarios,
            text: load("      wait: {min: 20ms, max: 10ms}\n"),
            line: 10,
            column: 19,
            message: "wait: min 20ms is above max 10ms",
            ends: None,
        },
        Case {
            name: "load-hatch-rate-zero",
            kind: Kind::Scenarios,
            text: load("      hatch_rate: 0\n"),
            line: 10,
            column: 7,
            message: "hatch_rate is users per second, above 0",
            ends: None,
        },
        Case {
            name: "load-duration-zero-at-its-value",
            kind: Kind::Scenarios,
            text: load("").replace("duration: 1s", "duration: 0s"),
            line: 7,
            column: 17,
            message: "a swarm of 0s sends nothing: give a duration above 0",
            ends: None,
        },
        Case {
            name: "profile-leeway-without-unit",
            kind: Kind::Profile,
            text: format!("base_url: {target}\nleeway: 30\n"),
            line: 2,
            column: 9,
            message: "invalid duration `30`",
            ends: None,
        },
        Case {
            name: "profile-duplicate-key-where-it-repeats",
            kind: Kind::Profile,
            text: format!("base_url: {target}\nleeway: 5s\nbase_url: {target}\n"),
            line: 3,
            column: 1,
            // serde says "duplicate entry with key" or "duplicate field", by what it reads into.
            message: "duplicate ",
            ends: None,
        },
        Case {
            name: "profile-window-zero",
            kind: Kind::Profile,
            text: format!("base_url: {target}\nrate_limits:\n  window: 0s\n"),
            line: 3,
            column: 3,
            message: "rate_limits.window: 0 is no window (a reading needs a window longer than 0)",
            ends: None,
        },
        Case {
            name: "profile-limit-zero",
            kind: Kind::Profile,
            text: format!(
                "base_url: {target}\nrate_limits:\n  categories:\n    general: {{limit: 0}}\n"
            ),
            line: 4,
            column: 22,
            message: "category `general`: a limit of 0 admits nothing: no reading of the contract can use it",
            ends: None,
        },
        Case {
            name: "profile-timeout-zero",
            kind: Kind::Profile,
            text: format!("base_url: {target}\ntimeouts:\n  connect: 0s\n"),
            line: 3,
            column: 3,
            message: "timeouts.connect: 0 would time out every request",
            ends: None,
        },
        Case {
            name: "inline-secret",
            kind: Kind::Profile,
            text: format!(
                "base_url: {target}\ncredentials:\n  api_key: lel_abcPlantedInlineSecret0042\n"
            ),
            line: 3,
            column: 12,
            message: "credentials.api_key: inline secrets are refused: write {env: NAME} or {file: PATH}, never the value itself",
            ends: None,
        },
        Case {
            name: "unknown-credential-role",
            kind: Kind::Profile,
            text: format!("base_url: {target}\ncredentials:\n  api_kee: {{env: LELANTOS_API_KEY}}\n"),
            line: 3,
            column: 3,
            message: "credentials: unknown variant `api_kee`, expected one of ",
            ends: Some("(did you mean `api_key`?)"),
        },
        Case {
            name: "unknown-spec-field",
            kind: Kind::Spec,
            text: bad_spec,
            line: spec_line,
            column: spec_column,
            message: "clauses[0]: unknown field `levle`, expected one of ",
            ends: Some("(did you mean `level`?)"),
        },
    ]
}

/// Stderr must be one error: `error: FILE:LINE:COLUMN: message...`, then the source line under
/// a gutter with a caret at the column (a profile's line without its value).
fn check_stderr(case: &Case, file: &str, command: &str, out: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let what = format!("{} via `{command}`", case.name);
    if out.code != Some(2) {
        problems.push(format!(
            "{what}: exit {:?}, not 2: {}",
            out.code, out.stderr
        ));
    }
    let lines: Vec<&str> = out.stderr.lines().collect();
    let want = format!(
        "error: {file}:{}:{}: {}",
        case.line, case.column, case.message
    );
    match lines.as_slice() {
        [one, gutter, shown, caret] => {
            let number = case.line.to_string();
            let pad = " ".repeat(number.len());
            let source = case.text.lines().nth(case.line - 1).unwrap_or_default();
            // A profile's line is shown without its value where it may hold a secret (here:
            // under `credentials:`); `window: 0s` is shown as written.
            let above: Vec<&str> = case.text.lines().take(case.line).collect();
            let under_credentials = above
                .iter()
                .rev()
                .find(|l| !l.starts_with(' '))
                .is_some_and(|l| l.starts_with("credentials:"));
            let want_shown = match case.kind {
                Kind::Profile if under_credentials => match source.split_once(':') {
                    Some((key, _)) => format!(" {number} | {key}: …"),
                    None => format!(" {number} | …"),
                },
                _ => format!(" {number} | {source}"),
            };
            let want_caret = format!(" {pad} | {}^", " ".repeat(case.column - 1));
            if *gutter != format!(" {pad} |") || *shown != want_shown || *caret != want_caret {
                problems.push(format!(
                    "{what}: the source line and caret:\n{gutter}\n{shown}\n{caret}\nwant\n{want_shown}\n{want_caret}"
                ));
            }
            if !one.starts_with(&want) {
                problems.push(format!("{what}:\n  got  {one}\n  want {want}"));
            }
            if let Some(end) = case.ends
                && !one.ends_with(end)
            {
                problems.push(format!("{what}: does not end with {end}: {one}"));
            }
        }
        _ => problems.push(format!(
            "{what}: not one error with its source line: {:?}",
            out.stderr
        )),
    }
    if out.stdout.contains("PlantedInlineSecret") || out.stderr.contains("PlantedInlineSecret") {
        problems.push(format!("{what}: the inline secret was echoed"));
    }
    problems
}

#[test]
fn broken_files_are_refused_at_their_position_before_any_request() {
    let watched = Watched::new();
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("report");
    let report_dir = report_dir.to_str().unwrap();
    let mut problems = Vec::new();
    for case in cases(&watched.url) {
        let path = dir.path().join(format!("{}.yaml", case.name));
        std::fs::write(&path, &case.text).unwrap();
        let file = path.to_str().unwrap();

        let out = conform(&["validate", file]);
        problems.extend(check_stderr(&case, file, "validate", &out));

        let run: Vec<&str> = match case.kind {
            Kind::Scenarios => vec!["--scenarios", file, "--target", &watched.url],
            Kind::Spec => vec!["--spec", file, "--target", &watched.url],
            Kind::Profile => vec!["--profile", file],
        };
        let mut args = vec!["run", "--report-dir", report_dir];
        args.extend(&run);
        let out = conform(&args);
        problems.extend(check_stderr(&case, file, &args[3..].join(" "), &out));
    }
    assert_eq!(watched.connections(), 0, "a broken file let a request out");
    assert!(
        !Path::new(report_dir).exists(),
        "a report was written for a broken file"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.yaml");
    std::fs::write(
        &path,
        scenario("{endpoint: list_sandboxs, as: api_kee}", ""),
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = conform(&["validate", file]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{file}:7:29: unknown endpoint `list_sandboxs`")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("{file}:7:48: unknown role `api_kee`")),
        "{}",
        out.stderr
    );
}

#[test]
fn every_wrong_word_of_a_file_is_reported_at_its_own_position() {
    // serde stops at the first error: the words (roles, repeat targets, statuses, types, waits)
    // are each reported anyway, with the validation errors after them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.yaml");
    std::fs::write(
        &path,
        "scenarios:\n  - name: x\n    clauses: [AUTH-NO-CREDENTIALS]\n    steps:\n      - name: s\n        clause: AUTH-NO-CREDENTIALS\n        request: {endpoint: list_sandboxs, as: nobody}\n        repeat: many\n        expect: {status: [200, 7xx], json: {/a: {type: strng}}}\n      - name: w\n        wait: 5\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = conform(&["validate", file]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    for want in [
        "7:48: unknown role `nobody`",
        "8:17: repeat `many`: write a count or over_limit:<category>",
        "9:32: unknown status `7xx`",
        "9:56: unknown type `strng`: one of string, integer, number, boolean, array, object, null (did you mean `string`?)",
        "11:15: wait 5: give a unit",
        "7:29: unknown endpoint `list_sandboxs`",
    ] {
        assert!(
            out.stderr.contains(&format!("error: {file}:{want}")),
            "{want}\n{}",
            out.stderr
        );
    }
}

#[test]
fn command_line_mistakes_exit_2_without_a_request() {
    let watched = Watched::new();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.yaml");
    std::fs::write(&profile, format!("base_url: {}\n", watched.url)).unwrap();
    let profile = profile.to_str().unwrap();
    let report = dir.path().join("report");
    let report = report.to_str().unwrap();
    let t = watched.url.as_str();
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "").unwrap();
    let a_file = a_file.to_str().unwrap();
    // A folder another live process (this test) holds.
    let locked = dir.path().join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(
        locked.join(".lelantos-conform.lock"),
        std::process::id().to_string(),
    )
    .unwrap();
    let locked = locked.to_str().unwrap();
    let with_password = format!("http://admin:S3cretPw@{}", t.trim_start_matches("http://"));
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "no format",
            vec!["run", "--target", t, "--format", ""],
            "--format: give at least one of",
        ),
        (
            "report folder is a file",
            vec!["run", "--target", t, "--report-dir", a_file],
            "exists and is not a directory",
        ),
        (
            "report folder cannot be created",
            vec!["run", "--target", t, "--report-dir", "/proc/x"],
            "--report-dir /proc/x: cannot create it",
        ),
        (
            "report folder in use",
            vec!["run", "--target", t, "--report-dir", locked],
            "in use by another run",
        ),
        (
            "load report folder is a file",
            vec![
                "load",
                "--target",
                t,
                "--scenario",
                "scenarios/load-burst.yaml",
                "--report-dir",
                a_file,
            ],
            "exists and is not a directory",
        ),
        (
            "zero time limit",
            vec!["run", "--target", t, "--max-duration", "0s"],
            "--max-duration must be longer than 0",
        ),
        (
            "password in the URL",
            vec!["run", "--target", &with_password],
            "carries credentials",
        ),
        (
            "credentials file cannot be written",
            vec![
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--credentials-out",
                "/proc/x/creds.json",
            ],
            "--credentials-out /proc/x/creds.json: cannot write",
        ),
        (
            "environment file cannot be written",
            vec![
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--env-out",
                "/proc/x/lelantos.env",
            ],
            "--env-out /proc/x/lelantos.env: cannot write",
        ),
        (
            "profile without the credentials file it reads",
            vec!["serve", "--addr", "127.0.0.1:0", "--profile-out", "p.yaml"],
            "--credentials-out",
        ),
        ("unknown flag", vec!["run", "--bogus"], "'--bogus'"),
        (
            "unknown fault",
            vec!["serve", "--addr", "127.0.0.1:0", "--fault", "nope"],
            "unknown fault `nope`",
        ),
        (
            "unknown format",
            vec!["run", "--target", t, "--format", "xml"],
            "unknown format `xml`",
        ),
        (
            "glob matching no clause",
            vec!["run", "--target", t, "--only", "NOPE-*"],
            "--only NOPE-*: matches no clause id",
        ),
        (
            "target and profile",
            vec!["run", "--target", t, "--profile", profile],
            "give --target or --profile, not both",
        ),
        (
            "embedded-only option with a target",
            vec!["run", "--target", t, "--window", "3s"],
            "apply to the embedded server only",
        ),
        (
            "not a URL",
            vec!["run", "--target", "127.0.0.1:1"],
            "is not a URL",
        ),
        (
            "missing scenario file",
            vec!["run", "--target", t, "--scenarios", "/nonexistent/s.yaml"],
            "/nonexistent/s.yaml: cannot read",
        ),
    ];
    let mut problems = Vec::new();
    for (name, mut args, needle) in cases {
        if args[0] == "run" && !args.contains(&"--report-dir") {
            args.extend(["--report-dir", report]);
        }
        // A credential, so each `--target` case reaches the mistake it is about (a target with
        // none at all is its own usage error: tests/it/gate.rs).
        let out = crate::support::binary::conform_with_key(&args);
        if out.code != Some(2) || !out.stderr.contains(needle) {
            problems.push(format!(
                "{name}: exit {:?} (want 2), stderr without `{needle}`: {}",
                out.code, out.stderr
            ));
        }
        if out.stderr.contains("panicked") {
            problems.push(format!("{name}: panicked: {}", out.stderr));
        }
        if out.stderr.contains("S3cretPw") || out.stdout.contains("S3cretPw") {
            problems.push(format!("{name}: the URL's password was echoed"));
        }
    }
    assert_eq!(watched.connections(), 0, "a usage error let a request out");
    assert!(
        std::fs::read_to_string(std::path::Path::new(locked).join(".lelantos-conform.lock"))
            .is_ok_and(|p| p == std::process::id().to_string()),
        "another run's lock was taken"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
