//! Data flows one way (files → plan → execute → judge → render): no two top-level modules of
//! `src/` depend on each other, directly or through others. This reads the sources the way
//! `cargo tree` reads manifests: every `crate::MODULE` path outside test code is an edge from the
//! file's own top-level module, and the graph must have no cycle. The edges it found are printed
//! (`cargo test --test layering -- --nocapture`), the evidence the issue asks for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/check/property/keys.rs` → `check`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Code without test modules (from `#[cfg(test)]` on) and without comment lines.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::NAME` in the code, and the names inside `use crate::{a, b::c}`.
fn referenced(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                if modules.contains(name) {
                    out.insert(name.to_string());
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&name) {
            out.insert(name);
        }
    }
    out
}

/// Modules that reach themselves through the graph (members of a cycle).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = graph[from].iter().map(String::as_str).collect();
        while let Some(m) = stack.pop() {
            if seen.insert(m.to_string()) {
                stack.extend(graph[m].iter().map(String::as_str));
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<String>> =
        graph.keys().map(|m| (m.as_str(), reach(m))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for m in graph.keys() {
        if !reaches[m.as_str()].contains(m) {
            continue;
        }
        let mut group: Vec<String> = graph
            .keys()
            .filter(|o| reaches[m.as_str()].contains(*o) && reaches[o.as_str()].contains(m))
            .cloned()
            .collect();
        group.sort();
        if !found.contains(&group) {
            found.push(group);
        }
    }
    found
}

#[test]
fn no_two_top_level_modules_depend_on_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        // Compiled only for tests: not part of the data flow.
        if file.ends_with("report/fixture.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for to in referenced(&code(&text), &modules) {
            if to != from {
                graph.get_mut(&from).unwrap().insert(to);
            }
        }
    }
    for (from, to) in &graph {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let found = cycles(&graph);
    assert!(found.is_empty(), "modules in a cycle: {found:?}");
    // The check itself finds a cycle when there is one.
    let mut bent = graph.clone();
    bent.get_mut("spec").unwrap().insert("report".into());
    assert!(!cycles(&bent).is_empty(), "the cycle check sees nothing");
}
