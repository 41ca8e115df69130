//! Scenarios: loading and validating `scenarios/*.yaml` before any request is sent. Every error
//! names the file, line and column: unknown fields, clause ids, roles, endpoints, filters.

mod model;
pub mod property;
pub mod swarm;
pub mod template;
pub mod threshold;

pub use model::*;
pub use swarm::{Arrival, Identities, On429, Pause, Swarm};

use std::path::{Path, PathBuf};

use crate::error::{Error, FileError, did_you_mean};
use crate::spec::Spec;
use crate::yaml::Source;

/// The scenarios shipped with the tool, used when `--scenarios` is not given: every file of
/// `scenarios/`, listed by `build.rs`.
pub const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));

pub fn builtin(spec: &Spec) -> Result<Vec<Loaded>, Error> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in BUILTIN {
        match load_source(&Source::inline(name, text), spec) {
            Ok(mut s) => out.append(&mut s),
            Err(Error::Files(mut e)) => errors.append(&mut e),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Files(errors))
    }
}

/// The prefix that names a built-in scenario file whatever the folder holds: `builtin:load-burst`.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// The built-in scenario file `name` names: its file name with or without `.yaml`, or as
/// `scenarios/…`, optionally after `builtin:` (`load-burst`, `builtin:api-keys.yaml`).
pub fn builtin_named(name: &str) -> Option<(&'static str, &'static str)> {
    let bare = name.strip_prefix(BUILTIN_PREFIX).unwrap_or(name);
    let bare = bare.strip_prefix("scenarios/").unwrap_or(bare);
    let bare = bare.strip_suffix(".yaml").unwrap_or(bare);
    BUILTIN
        .iter()
        .copied()
        .find(|(path, _)| short_name(path) == bare)
}

/// `scenarios/load-burst.yaml` -> `load-burst`.
pub fn short_name(builtin_path: &str) -> &str {
    let n = builtin_path
        .strip_prefix("scenarios/")
        .unwrap_or(builtin_path);
    n.strip_suffix(".yaml").unwrap_or(n)
}

/// Loads scenario files; a directory stands for its `*.yaml` / `*.yml` files, in name order. A
/// path that does not exist but names a built-in file (`load-burst`, `builtin:load-burst`) is
/// that file, from the binary: built-in scenarios work from any folder and after an install.
pub fn load_paths(paths: &[PathBuf], spec: &Spec) -> Result<Vec<Loaded>, Error> {
    let mut sources = Vec::new();
    for p in paths {
        let text = p.to_string_lossy();
        let explicit = text.starts_with(BUILTIN_PREFIX);
        if explicit || !p.exists() {
            if let Some((name, body)) = builtin_named(&text) {
                sources.push(Ok(Source::inline(name, body)));
                continue;
            }
            if explicit || p.extension().is_none() {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| short_name(n)).collect();
                let bare = text.strip_prefix(BUILTIN_PREFIX).unwrap_or(&text);
                return Err(Error::Usage(format!(
                    "{text}: no such file, and no built-in scenario of that name{}; built in: {}",
                    did_you_mean(bare, names.iter().copied()),
                    names.join(", ")
                )));
            }
        }
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::Usage(format!("{}: cannot read directory: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "{}: no *.yaml scenario files",
                    p.display()
                )));
            }
            sources.extend(found.iter().map(|f| Source::read(f)));
        } else {
            sources.push(Source::read(p));
        }
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for src in sources {
        match src.and_then(|src| load_source(&src, spec)) {
            Ok(mut s) => out.append(&mut s),
            Err(Error::Files(mut e)) => errors.append(&mut e),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Files(errors))
    }
}

pub fn load_source(src: &Source, spec: &Spec) -> Result<Vec<Loaded>, Error> {
    let (file, mut errors) = src.parse_all::<ScenarioFile>().map_err(Error::Files)?;
    let wrong: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
    let mut names: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let file_name = src
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut swarms = Vec::new();
    for (i, s) in file.scenarios.iter().enumerate() {
        let here = Here {
            src,
            path: format!("scenarios[{i}]"),
            wrong: &wrong,
        };
        let seen = names.entry(s.name.as_str()).or_default();
        if *seen > 0 {
            // Where it repeats, not where it first stands.
            errors.push(here.at(".name", format!("duplicate scenario name `{}`", s.name)));
        }
        *seen += 1;
        swarms.push(validate(s, &here, spec, &mut errors));
    }
    if !errors.is_empty() {
        return Err(Error::Files(errors));
    }
    Ok(file
        .scenarios
        .into_iter()
        .zip(swarms)
        .map(|(scenario, swarm)| Loaded {
            id: format!("{file_name}#{}", scenario.name),
            swarm,
            scenario,
        })
        .collect())
}

/// Validates `s`; a load scenario comes back resolved.
fn validate(s: &Scenario, src: &Here, spec: &Spec, errors: &mut Vec<FileError>) -> Option<Swarm> {
    let clause_ids: Vec<&str> = spec.clauses.iter().map(|c| c.id.as_str()).collect();
    let check_clause = |id: &str, key: &str, errors: &mut Vec<FileError>| {
        if !clause_ids.contains(&id) {
            errors.push(src.error_at(
                key,
                id,
                format!(
                    "unknown clause id `{id}`{}",
                    did_you_mean(id, clause_ids.iter().copied())
                ),
            ));
        }
    };
    for c in &s.clauses {
        check_clause(c, "clauses", errors);
    }
    if s.clauses.is_empty() {
        errors.push(src.error_at(
            "name",
            &s.name,
            format!("scenario `{}` names no clause", s.name),
        ));
    }
    let covered = |id: &str, key: &str, errors: &mut Vec<FileError>| {
        check_clause(id, key, errors);
        if clause_ids.contains(&id) && !s.clauses.iter().any(|c| c == id) {
            errors.push(src.error_at(
                key,
                id,
                format!("clause `{id}` is decided here but not listed in the scenario's `clauses`"),
            ));
        }
    };
    match s.kind() {
        None => errors.push(src.error_at(
            "name",
            &s.name,
            format!(
                "scenario `{}`: give exactly one of `steps`, `rate_limit`, `property`, `timing` or `load`",
                s.name
            ),
        )),
        Some(Kind::Property(p)) => {
            // A family that was a wrong word (reported already) decides nothing to check.
            if !src.is_wrong(".property.check") {
                let decided = p.check.decides();
                for c in &s.clauses {
                    if clause_ids.contains(&c.as_str()) && !decided.contains(&c.as_str()) {
                        errors.push(src.error_at(
                            "clauses",
                            c,
                            format!(
                                "property `{}` cannot decide `{c}`; it decides {}",
                                p.check.name(),
                                decided.join(", ")
                            ),
                        ));
                    }
                }
            }
            for c in &p.categories {
                check_endpoint(&c.endpoint, src, spec, errors);
                check_category("category", &c.category, src, spec, errors);
                covered(&c.clause, "clause", errors);
            }
            if p.cases == Some(0) {
                errors.push(src.error_at("cases", "0", "cases must be at least 1"));
            }
        }
        Some(Kind::Steps(steps)) => {
            for (j, step) in steps.iter().enumerate() {
                validate_step(step, &src.below(&format!(".steps[{j}]")), spec, errors, &covered);
            }
        }
        Some(Kind::Timing(t)) => {
            covered(&t.clause, "clause", errors);
            match spec.endpoint(&t.endpoint) {
                None => errors.push(src.error_at(
                    "endpoint",
                    &t.endpoint,
                    format!(
                        "unknown endpoint `{}`{}",
                        t.endpoint,
                        did_you_mean(&t.endpoint, spec.endpoints.keys().map(String::as_str))
                    ),
                )),
                Some(e) if !e.auth.contains(&crate::spec::AuthMethod::AdminToken) => {
                    errors.push(src.error_at(
                        "endpoint",
                        &t.endpoint,
                        format!(
                            "endpoint `{}` does not take the admin token: the timing test times admin requests",
                            t.endpoint
                        ),
                    ))
                }
                Some(_) => {}
            }
            if t.samples.is_some_and(|n| n < 200) {
                errors.push(src.error_at(
                    "samples",
                    "",
                    "samples: at least 200 (two batches of three classes)".to_string(),
                ));
            }
            if t.budget.is_some_and(|b| b.is_zero()) {
                errors.push(src.error_at("budget", "", "budget: longer than 0".to_string()));
            }
        }
        Some(Kind::Load(load)) => return validate_load(load, src, spec, errors, &covered),
        Some(Kind::RateLimit(rl)) => {
            for (j, step) in rl.setup.iter().enumerate() {
                let at = src.below(&format!(".rate_limit.setup[{j}]"));
                validate_step(step, &at, spec, errors, &covered);
            }
            for (j, step) in rl.other_credentials.iter().enumerate() {
                let at = src.below(&format!(".rate_limit.other_credentials[{j}]"));
                validate_step(step, &at, spec, errors, &covered);
            }
            for c in &rl.categories {
                check_category("category", &c.category, src, spec, errors);
                check_endpoint(&c.endpoint, src, spec, errors);
                covered(&c.clause, "clause", errors);
                for v in c.params.values() {
                    check_template(v, src, errors);
                }
                if let Some(e) = c.client_error.as_ref().and_then(|r| r.endpoint.as_ref()) {
                    check_endpoint(e, src, spec, errors);
                }
            }
            for c in [
                &rl.independence_clause,
                &rl.per_identity_clause,
                &rl.status_clause,
                &rl.retry_clause,
                &rl.bypass_clause,
            ]
            .into_iter()
            .flatten()
            {
                covered(c, "", errors);
            }
        }
    }
    None
}

/// Where in the file a scenario (or a step of it) stands: errors are placed inside it.
struct Here<'a> {
    src: &'a Source,
    path: String,
    /// Where the file's wrong words stood (reported already; a placeholder reads there).
    wrong: &'a [(usize, usize)],
}

impl Here<'_> {
    fn below(&self, rel: &str) -> Here<'_> {
        Here {
            src: self.src,
            path: format!("{}{rel}", self.path),
            wrong: self.wrong,
        }
    }

    /// Whether the value at `rel` was a wrong word.
    fn is_wrong(&self, rel: &str) -> bool {
        self.src
            .position(&format!("{}{rel}", self.path))
            .is_some_and(|at| self.wrong.contains(&at))
    }

    /// `needle` under `key`, searched within this node's lines.
    fn error_at(&self, key: &str, needle: &str, message: impl Into<String>) -> FileError {
        self.src.error_in(&self.path, key, needle, message)
    }

    /// The key `name` of this node.
    fn key_error(&self, name: &str, message: impl Into<String>) -> FileError {
        self.src.key_at(&format!("{}.{name}", self.path), message)
    }

    /// The value at `rel` below this node (`.load.identities`).
    fn at(&self, rel: &str, message: impl Into<String>) -> FileError {
        self.src.at(&format!("{}{rel}", self.path), message)
    }
}

fn validate_load(
    load: &LoadScenario,
    src: &Here,
    spec: &Spec,
    errors: &mut Vec<FileError>,
    covered: &dyn Fn(&str, &str, &mut Vec<FileError>),
) -> Option<Swarm> {
    for c in load.decided() {
        covered(c, "", errors);
    }
    for cat in load.limit_clauses.keys() {
        check_category("limit_clauses", cat, src, spec, errors);
    }
    for t in &load.tasks {
        check_endpoint(&t.endpoint, src, spec, errors);
    }
    match Swarm::plan(load) {
        Ok(swarm) => Some(swarm),
        Err(problems) => {
            let load_at = src.below(".load");
            errors.extend(problems.into_iter().map(|p| {
                if p.on_key {
                    load_at.key_error(&p.path, p.message)
                } else {
                    load_at.at(&format!(".{}", p.path), p.message)
                }
            }));
            None
        }
    }
}

fn validate_step(
    step: &Step,
    src: &Here,
    spec: &Spec,
    errors: &mut Vec<FileError>,
    covered: &dyn Fn(&str, &str, &mut Vec<FileError>),
) {
    if let Some(c) = &step.clause {
        covered(c, "clause", errors);
    }
    let actions = [
        step.request.is_some(),
        step.wait.is_some(),
        step.assert.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if actions != 1 {
        errors.push(src.error_at(
            "name",
            &step.name,
            format!(
                "step `{}`: give exactly one of `request`, `wait` or `assert`",
                step.name
            ),
        ));
    }
    if let Some(Repeat::OverLimit(cat)) = &step.repeat {
        check_category("repeat", cat, src, spec, errors);
    }
    if let Some(r) = &step.request {
        match (&r.endpoint, &r.method, &r.path) {
            (Some(e), None, None) => check_endpoint(e, src, spec, errors),
            (None, Some(_), Some(p)) => check_template(p, src, errors),
            _ => errors.push(src.error_at(
                "name",
                &step.name,
                format!(
                    "step `{}`: a request gives `endpoint`, or `method` and `path`",
                    step.name
                ),
            )),
        }
        if let Some(a) = &r.as_ {
            match a {
                As::Role(_) => {}
                As::Value(v) => {
                    let given = [&v.api_key, &v.bearer, &v.admin_token]
                        .iter()
                        .filter(|x| x.is_some())
                        .count();
                    if given != 1 {
                        errors.push(src.error_at(
                            "name",
                            &step.name,
                            format!(
                                "step `{}`: `as` gives exactly one of api_key, bearer, admin_token",
                                step.name
                            ),
                        ));
                    }
                    for t in [&v.api_key, &v.bearer, &v.admin_token]
                        .into_iter()
                        .flatten()
                    {
                        check_template(t, src, errors);
                    }
                }
            }
        }
        for v in r
            .params
            .values()
            .chain(r.headers.values())
            .chain(r.raw_body.iter())
        {
            check_template(v, src, errors);
        }
    }
    if let Some(f) = &step.for_each {
        for v in &f.values {
            check_template(v, src, errors);
        }
    }
    if let Some(e) = &step.expect {
        for t in e.body_excludes.iter().chain(e.body_includes.iter()) {
            check_template(t, src, errors);
        }
        for pointer in e.json.keys() {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                errors.push(src.error_at(
                    "",
                    pointer,
                    format!("`{pointer}` is not a JSON pointer (they start with /)"),
                ));
            }
        }
    }
    if let Some(a) = &step.assert {
        check_template(&a.value, src, errors);
    }
    for (name, cap) in &step.capture {
        let given = [
            cap.json.is_some(),
            cap.header.is_some(),
            cap.returns.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            errors.push(src.error_at(
                "",
                name,
                format!("capture `{name}`: give exactly one of json, header, returns"),
            ));
        }
    }
}

fn check_endpoint(name: &str, src: &Here, spec: &Spec, errors: &mut Vec<FileError>) {
    if spec.endpoint(name).is_none() {
        errors.push(src.error_at(
            "endpoint",
            name,
            format!(
                "unknown endpoint `{name}`{}",
                did_you_mean(name, spec.endpoints.keys().map(String::as_str))
            ),
        ));
    }
}

/// `name`, given under `key`, must be one of the spec's rate-limit categories.
fn check_category(key: &str, name: &str, src: &Here, spec: &Spec, errors: &mut Vec<FileError>) {
    if spec.category(name).is_none() {
        errors.push(src.error_at(
            key,
            name,
            format!(
                "unknown category `{name}`{}",
                did_you_mean(name, spec.rate_limits.categories.keys().map(String::as_str))
            ),
        ));
    }
}

fn check_template(text: &str, src: &Here, errors: &mut Vec<FileError>) {
    if let Err(why) = template::check(text) {
        errors.push(src.error_at("", text, why));
    }
}

pub fn id_of(path: &Path, name: &str) -> String {
    format!(
        "{}#{name}",
        path.file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_scenarios_folder_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .map(|n| format!("scenarios/{n}"))
            .collect();
        files.sort();
        let built: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(built, files);
        assert!(built.iter().any(|n| n.ends_with("load-ramp.yaml")));
    }

    /// The scope clauses' members come from the spec: every route of an endpoint a key or a
    /// token may call that names a resource (a `{param}` in its path) is tried on another team's
    /// resource and must be refused, and every listing (a GET without one) must leave another
    /// team's resources out, with each of the two credentials. An endpoint added to the spec
    /// fails this until a scope step covers it. Creations (POST without a resource) make a
    /// resource of the caller's own, and so are no member.
    #[test]
    fn scope_covers_every_resource_route_and_listing_of_the_spec_with_each_credential() {
        let spec = Spec::builtin();
        let loaded = builtin(&spec).unwrap();
        let steps: Vec<&Step> = loaded
            .iter()
            .filter_map(|l| l.scenario.steps.as_ref())
            .flatten()
            .collect();
        let credentials = [
            (
                crate::spec::AuthMethod::ApiKey,
                AsRole::Credential(crate::profile::Role::ApiKey),
                "AUTH-KEY-TEAM-SCOPE",
            ),
            (
                crate::spec::AuthMethod::AccessToken,
                AsRole::AccessToken,
                "AUTH-TOKEN-USER-SCOPE",
            ),
        ];
        let mut members = 0;
        let mut missing = Vec::new();
        for (name, e) in &spec.endpoints {
            let resource = e.path.contains('{');
            let listing = !resource && e.method.eq_ignore_ascii_case("GET");
            if !resource && !listing {
                continue;
            }
            for (method, role, clause) in &credentials {
                if !e.auth.contains(method) {
                    continue;
                }
                members += 1;
                let covered = steps.iter().any(|st| {
                    let (Some(r), Some(x)) = (&st.request, &st.expect) else {
                        return false;
                    };
                    let refused = x
                        .status
                        .as_ref()
                        .is_some_and(|s| !s.0.is_empty() && !s.0.contains(&StatusItem::Class(2)));
                    st.clause.as_deref() == Some(*clause)
                        && r.endpoint.as_deref() == Some(name.as_str())
                        && matches!(r.as_, Some(As::Role(a)) if a == *role)
                        && if resource {
                            refused && r.params.values().any(|v| v.contains("other_team"))
                        } else {
                            x.body_excludes
                                .iter()
                                .any(|v| v.contains("other-team") || v.contains("other_team"))
                        }
                });
                if !covered {
                    missing.push(format!("{name} with {}", role.name()));
                }
            }
        }
        assert!(members >= 10, "only {members} members derived");
        assert!(missing.is_empty(), "scope not checked on: {missing:?}");
    }

    fn load(text: &str) -> Result<Vec<Loaded>, Error> {
        load_source(&Source::inline("t.yaml", text), &Spec::builtin())
    }

    #[test]
    fn timing_scenarios_are_validated() {
        let ok = "scenarios:\n  - name: t\n    clauses: [AUTH-ADMIN-CONSTANT-TIME]\n    timing:\n      clause: AUTH-ADMIN-CONSTANT-TIME\n      endpoint: admin_users\n      budget: 5s\n";
        let loaded = load(ok).unwrap();
        assert_eq!(loaded[0].stage(), 4);
        assert_eq!(loaded[0].scenario.kind_name(), "timing");
        let not_admin = ok.replace("admin_users", "list_api_keys");
        let Err(Error::Files(e)) = load(&not_admin) else {
            panic!("accepted a non-admin endpoint")
        };
        assert!(
            e[0].to_string().contains("does not take the admin token"),
            "{}",
            e[0]
        );
        let few = format!("{ok}      samples: 10\n");
        assert!(load(&few).is_err());
        let both = format!("{ok}    steps: []\n");
        assert!(load(&both).is_err());
    }

    #[test]
    fn property_scenarios_are_validated_with_positions() {
        let spec = Spec::builtin();
        let text = "scenarios:\n  - name: x\n    clauses: [AUTH-KEY-ALTERED, RL-GENERAL-LIMIT]\n    property: {check: api_kyes, cases: 0}\n";
        let err = load_source(&Source::inline("bad.yaml", text), &spec)
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("bad.yaml:4:"), "{err}");
        assert!(err.contains("did you mean `api_keys`"), "{err}");
        assert!(err.contains("cases must be at least 1"), "{err}");
        let text = "scenarios:\n  - name: y\n    clauses: [RL-GENERAL-LIMIT]\n    property: {check: api_keys}\n";
        let err = load_source(&Source::inline("bad.yaml", text), &spec)
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("cannot decide `RL-GENERAL-LIMIT`"), "{err}");
        let ok = load_source(
            &Source::inline("ok.yaml", include_str!("../../scenarios/properties.yaml")),
            &spec,
        )
        .expect("the shipped property scenarios are valid");
        assert!(
            ok.iter()
                .all(|l| l.scenario.kind_name() == "property" && l.stage() == 3)
        );
    }

    #[test]
    fn load_plans_parse_to_goose_steps() {
        let text = LoadPlan::Text("10,5s; 50,10 ;50,1m;0,5s".into());
        let steps = text.steps().unwrap();
        assert_eq!(steps, vec![(10, 5), (50, 10), (50, 60), (0, 5)]);
        assert_eq!(plan_peak(&steps), 50);
        assert_eq!(plan_length(&steps), std::time::Duration::from_secs(80));
        assert_eq!(goose_plan(&steps), "10,5;50,10;50,60;0,5");
        // A plan that ends with users stops when it ends.
        assert_eq!(goose_plan(&[(3, 2)]), "3,2;0,0");
        let list = LoadPlan::Steps(vec![PlanStep {
            users: 4,
            over: "2s".into(),
        }]);
        assert_eq!(list.steps().unwrap(), vec![(4, 2)]);
        for bad in ["10", "x,5s", "10,500ms", "10,5 parsecs", "0,5s;0,1s"] {
            assert!(LoadPlan::Text(bad.into()).steps().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_load_plan_excludes_hatch_rate_and_duration_with_positions() {
        let head = "scenarios:\n  - name: p\n    clauses: [LOAD-NO-5XX]\n    load:\n";
        let tail = "      identities: shared\n      tasks: [{endpoint: list_sandboxes}]\n      no_5xx_clause: LOAD-NO-5XX\n";
        let ok = format!("{head}      plan: \"2,1s;0,1s\"\n{tail}");
        load(&ok).expect("a plan alone is valid");
        let both = format!(
            "{head}      plan: \"2,1s;0,1s\"\n      hatch_rate: 5\n      duration: 2s\n{tail}"
        );
        let err = load(&both)
            .expect_err("plan with hatch_rate and duration")
            .to_string();
        assert!(
            err.contains("t.yaml:6:") && err.contains("`hatch_rate` and `plan`"),
            "{err}"
        );
        assert!(
            err.contains("t.yaml:7:") && err.contains("`duration` and `plan`"),
            "{err}"
        );
        let bad = format!("{head}      plan: [{{users: 2, over: 500ms}}]\n{tail}");
        let err = load(&bad).expect_err("a sub-second step").to_string();
        assert!(
            err.contains("t.yaml:5:") && err.contains("whole seconds"),
            "{err}"
        );
        let neither = format!("{head}{tail}");
        let err = load(&neither).expect_err("no users, no plan").to_string();
        assert!(err.contains("`users`, or a `plan`"), "{err}");
    }
}
