//! Data flows one way (files → plan → execute → judge → render): no two top-level modules of
//! `src/` depend on each other, directly or through others, and neither do two modules of one
//! folder. This reads the sources the way `cargo tree` reads manifests: every `crate::`,
//! `super::` and `self::` path outside test code (use-trees and expressions) is resolved to the
//! module it names, and is an edge between the two siblings under the deepest folder the file
//! and that module share; each folder's graph must have no cycle. The edges it found are printed
//! (`cargo test --test it layering -- --nocapture`).

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

/// Code without test modules (from `#[cfg(test)]` on) and without comment lines.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
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

/// The module path of a file (`src/load/pacing.rs` → `[load, pacing]`, `src/load/mod.rs` →
/// `[load]`, `src/lib.rs` → `[]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_string())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap_or(&last);
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The paths a use-tree or expression path starting at `text` names, each as its segments
/// (`a::{b, c::d}` → `[a, b]`, `[a, c, d]`).
fn use_tree(text: &str) -> Vec<Vec<String>> {
    fn tree(text: &str, pos: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let bytes = text.as_bytes();
        let mut path = prefix.to_vec();
        loop {
            if bytes.get(*pos) == Some(&b'{') {
                *pos += 1;
                loop {
                    while bytes
                        .get(*pos)
                        .is_some_and(|b| b.is_ascii_whitespace() || *b == b',')
                    {
                        *pos += 1;
                    }
                    match bytes.get(*pos) {
                        None => return,
                        Some(b'}') => {
                            *pos += 1;
                            return;
                        }
                        _ => tree(text, pos, &path, out),
                    }
                }
            }
            let start = *pos;
            while bytes
                .get(*pos)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            {
                *pos += 1;
            }
            if *pos == start {
                break;
            }
            path.push(text[start..*pos].to_string());
            if text[*pos..].starts_with("::") {
                *pos += 2;
            } else {
                break;
            }
        }
        // Past an alias or anything else a group may hold, to the next `,` or `}`.
        while bytes
            .get(*pos)
            .is_some_and(|b| !matches!(b, b',' | b'}' | b';' | b'\n'))
        {
            *pos += 1;
        }
        out.push(path);
    }
    let mut out = Vec::new();
    tree(text, &mut 0, &[], &mut out);
    out
}

/// Every absolute module path the code of the file at module path `at` names through `crate::`,
/// `super::` or `self::`.
fn references(code: &str, at: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("::") {
        // The first segment of a path: `crate`, `super` or `self`, not preceded by `::` or an
        // identifier character.
        let head_start = code[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |j| j + 1);
        let head = &code[head_start..i];
        if !matches!(head, "crate" | "super" | "self")
            || code[..head_start].ends_with("::")
            || (head_start > 0 && bytes[head_start - 1] == b'$')
        {
            continue;
        }
        let mut base: Vec<String> = match head {
            "crate" => Vec::new(),
            "self" => at.to_vec(),
            _ => at[..at.len().saturating_sub(1)].to_vec(),
        };
        let mut rest = &code[i + 2..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        for path in use_tree(rest) {
            let mut full = base.clone();
            full.extend(path);
            out.push(full);
        }
    }
    out
}

/// The dependency graphs between sibling modules, one per folder (`""` for `src/` itself):
/// a file under sibling `a` that names a path under sibling `b` is an edge `a -> b`. A folder's
/// face (`mod.rs`) is not a sibling: it declares its children and may name them.
fn graphs(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let paths: Vec<Vec<String>> = files.iter().map(|f| module_path(src, f)).collect();
    // Every module, so only names of modules (not items) make edges.
    let modules: BTreeSet<Vec<String>> = paths
        .iter()
        .flat_map(|p| (1..=p.len()).map(|n| p[..n].to_vec()))
        .collect();
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for m in &modules {
        let (name, folder) = m.split_last().unwrap();
        graphs
            .entry(folder.join("/"))
            .or_default()
            .entry(name.clone())
            .or_default();
    }
    for (file, at) in files.iter().zip(&paths) {
        // Compiled only for tests: not part of the data flow.
        if file.ends_with("report/fixture.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for target in references(&code(&text), at) {
            let common = at.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common >= at.len() || common >= target.len() {
                continue; // a module naming itself, a child or its own folder's face
            }
            if !modules.contains(&target[..=common]) {
                continue; // an item of the common folder's face, not a sibling module
            }
            let folder = at[..common].join("/");
            graphs
                .get_mut(&folder)
                .unwrap()
                .get_mut(&at[common])
                .unwrap()
                .insert(target[common].clone());
        }
    }
    graphs
}

#[test]
fn no_two_modules_of_one_folder_depend_on_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graphs = graphs(&src);
    let mut problems = Vec::new();
    // `src/` itself is the test above.
    for (folder, graph) in graphs.iter().filter(|(f, _)| !f.is_empty()) {
        let shown = folder;
        for (from, to) in graph.iter().filter(|(_, to)| !to.is_empty()) {
            println!(
                "{shown}: {from} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        for cycle in cycles(graph) {
            problems.push(format!("{shown}: {}", cycle.join(" <-> ")));
        }
    }
    assert!(problems.is_empty(), "modules in a cycle: {problems:?}");
    // The walk sees every folder, and an edge where there is one.
    for folder in ["", "load", "report", "reference", "check/property"] {
        assert!(graphs.contains_key(folder), "no graph for src/{folder}");
    }
    assert!(
        graphs[""]["load"].contains("report"),
        "the walk missed load -> report"
    );
    // The cycle check sees one inside a folder.
    let mut bent = graphs["report"].clone();
    bent.get_mut("escape").unwrap().insert("html".into());
    assert!(!cycles(&bent).is_empty(), "the cycle check sees nothing");
}

#[test]
fn the_path_reader_reads_use_trees_and_relative_paths() {
    let at = ["load".to_string(), "pacing".to_string()];
    let code = "use super::{report::serialize, judge};\nlet x = crate::report::{html::esc as e, chart};\nself::inner::f(); super::super::spec::Spec;";
    let got = references(code, &at);
    let want: Vec<Vec<&str>> = vec![
        vec!["load", "report", "serialize"],
        vec!["load", "judge"],
        vec!["report", "html", "esc"],
        vec!["report", "chart"],
        vec!["load", "pacing", "inner", "f"],
        vec!["spec", "Spec"],
    ];
    assert_eq!(got, want);
    // In a folder's face, `super` is the folder's parent.
    let face = references("use super::spec;", &["load".to_string()]);
    assert_eq!(face, vec![vec!["spec".to_string()]]);
}

#[test]
fn no_two_top_level_modules_depend_on_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graphs(&src).remove("").unwrap();
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
