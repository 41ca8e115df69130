//! The published schemas (`specs/compliance.schema.json`, `specs/load.schema.json`) describe
//! what the tool really writes: reports of `run`, `timing`, `load` (two segments) and
//! `report merge` are validated against them, and a report broken in a fixed field is refused.

use std::path::Path;
use std::time::Duration;

use crate::support::binary::{spawn, wait};

/// A published schema, compiled (draft 2020-12, as its `$schema` says).
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn errors(&self, doc: &serde_json::Value) -> Option<String> {
        self.schemas
            .validate(doc, self.index)
            .err()
            .map(|e| format!("{e:#}"))
    }

    fn is_valid(&self, doc: &serde_json::Value) -> bool {
        self.errors(doc).is_none()
    }
}

fn schema(name: &str) -> Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(name);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let url = format!("file://{}", path.display());
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource(&url, value)
        .expect("the schema is added");
    let index = compiler
        .compile(&url, &mut schemas)
        .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e:#}"));
    Validator { schemas, index }
}

fn read(dir: &Path, file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

fn assert_valid(v: &Validator, doc: &serde_json::Value, what: &str) {
    if let Some(errors) = v.errors(doc) {
        panic!("{what}: {errors}");
    }
}

fn conform(args: &[&str]) {
    let out = wait(spawn(args), Duration::from_secs(120));
    assert!(
        matches!(out.code, Some(0) | Some(1)),
        "{args:?}: exit {:?}: {}",
        out.code,
        out.stderr
    );
}

#[test]
fn real_reports_match_the_published_schemas() {
    let compliance = schema("compliance.schema.json");
    let load = schema("load.schema.json");
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (run, timing, seg0, seg1, merged) = (d("run"), d("timing"), d("s0"), d("s1"), d("merged"));
    conform(&[
        "run",
        "--quiet",
        "--format",
        "json",
        "--report-dir",
        &s(&run),
    ]);
    conform(&[
        "timing",
        "--quiet",
        "--samples",
        "600",
        "--budget",
        "3s",
        "--format",
        "json",
        "--report-dir",
        &s(&timing),
    ]);
    // A failing run under --insecure: replay lines, warnings and the TLS record.
    let failing = d("failing");
    conform(&[
        "run",
        "--quiet",
        "--format",
        "json",
        "--only",
        "AUTH-KEY-REVOKED",
        "--fault",
        "apikey-revoked-accepted",
        "--insecure",
        "--report-dir",
        &s(&failing),
    ]);
    let scenario = format!("{}/scenarios/load-burst.yaml", env!("CARGO_MANIFEST_DIR"));
    for (i, out) in [(0, &seg0), (1, &seg1)] {
        conform(&[
            "load",
            "--quiet",
            "--scenario",
            &scenario,
            "--duration",
            "2s",
            "--segment",
            &format!("{i}/2"),
            "--report-dir",
            &s(out),
        ]);
    }
    conform(&[
        "report",
        "merge",
        &s(&seg0),
        &s(&seg1),
        "--report-dir",
        &s(&merged),
    ]);

    for (what, dir) in [
        ("run", &run),
        ("failing run", &failing),
        ("timing", &timing),
        ("segment 0", &seg0),
        ("merge", &merged),
    ] {
        assert_valid(&compliance, &read(dir, "compliance.json"), what);
    }
    assert!(read(&timing, "compliance.json")["timing"].is_array());
    let f = read(&failing, "compliance.json");
    assert!(
        f["clauses"][0]["evidence"][0]["exchanges"][0]["curl"].is_string(),
        "{f}"
    );
    assert_eq!(f["target"]["tls"]["insecure"], true);
    assert_eq!(f["summary"]["fail_must"], 1);
    for (what, dir) in [
        ("segment 0", &seg0),
        ("segment 1", &seg1),
        ("merge", &merged),
    ] {
        assert_valid(&load, &read(dir, "load.json"), what);
    }

    // Broken in a fixed field: refused.
    let mut bad = read(&run, "compliance.json");
    bad["verdict"] = "maybe".into();
    assert!(!compliance.is_valid(&bad));
    let mut bad = read(&run, "compliance.json");
    bad["clauses"][0]["status"] = "meh".into();
    assert!(!compliance.is_valid(&bad));
    let mut bad = read(&run, "compliance.json");
    bad["summary"]
        .as_object_mut()
        .unwrap()
        .remove("inconclusive");
    assert!(!compliance.is_valid(&bad));
    let mut bad = read(&seg0, "load.json");
    bad["requests"] = "many".into();
    assert!(!load.is_valid(&bad));
}
