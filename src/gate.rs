//! The gate: which clause verdicts fail a run (`--fail-on`, `fail_on:` in a profile), in the manner
//! of ZAP's rules file (the team decides what gates) and k6's thresholds (checks record, the gate
//! decides the exit code).
//!
//! A policy is a list of words: levels and clause-id globs choose *which* clauses gate, statuses
//! choose *what* about them gates.
//! - `must` (always in force, the default): a failing `must` clause fails the run.
//! - `should`: failing `should` clauses fail it too.
//! - a glob such as `'RL-*'` or `AUTH-TOKEN-NOT-YET-VALID`: the matching clauses gate whatever
//!   their level.
//! - `inconclusive`, `skipped`: a gating clause that is undecided, or was skipped (a credential
//!   or capability missing), fails the run as a failing one does. `not_testable` clauses never
//!   gate: nothing outside a server can decide them.
//!
//! Whatever the policy, a `must` clause left undecided is never hidden: the report lists it, and
//! the verdict line says how many there are, so a green gate that looked at nothing is visible.

use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use crate::error::Error;
use crate::spec::{Level, Spec};
use crate::verdict::{ClauseVerdict, RunVerdict, Status};

/// A parsed `--fail-on` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOn {
    words: Vec<String>,
    should: bool,
    inconclusive: bool,
    skipped: bool,
    globs: Vec<String>,
}

impl Default for FailOn {
    fn default() -> Self {
        Self {
            words: vec!["must".into()],
            should: false,
            inconclusive: false,
            skipped: false,
            globs: Vec::new(),
        }
    }
}

const WORDS: [&str; 4] = ["must", "should", "inconclusive", "skipped"];

impl FailOn {
    /// Parses `must,should,inconclusive,skipped,GLOB...` (comma-separated). A word that is neither
    /// a known one nor a glob matching some clause of `spec` is an error, so a typo cannot
    /// silently gate nothing.
    pub fn parse<S: AsRef<str>>(items: &[S], spec: &Spec) -> Result<FailOn, String> {
        let mut out = FailOn {
            words: Vec::new(),
            ..FailOn::default()
        };
        for raw in items {
            for word in raw.as_ref().split(',').map(str::trim) {
                if word.is_empty() {
                    continue;
                }
                match word {
                    "must" => {}
                    "should" => out.should = true,
                    "inconclusive" => out.inconclusive = true,
                    "skipped" => out.skipped = true,
                    glob => {
                        let m = WildMatch::new(glob);
                        if !spec.clauses.iter().any(|c| m.matches(&c.id)) {
                            return Err(format!(
                                "`{glob}` is neither {} nor a glob matching a clause id{}",
                                WORDS.join(", "),
                                crate::error::did_you_mean(
                                    glob,
                                    WORDS
                                        .iter()
                                        .copied()
                                        .chain(spec.clauses.iter().map(|c| c.id.as_str()))
                                )
                            ));
                        }
                        out.globs.push(glob.to_string());
                    }
                }
                if !out.words.iter().any(|w| w == word) {
                    out.words.push(word.to_string());
                }
            }
        }
        if !out.words.iter().any(|w| w == "must") {
            out.words.insert(0, "must".into());
        }
        Ok(out)
    }

    /// `parse` for the command line and profiles: the error is a usage error naming the option.
    pub fn from_option<S: AsRef<str>>(
        option: &str,
        items: &[S],
        spec: &Spec,
    ) -> Result<FailOn, Error> {
        FailOn::parse(items, spec).map_err(|why| Error::Usage(format!("{option}: {why}")))
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether this clause's verdict fails the run under the policy.
    pub fn fails(&self, c: &ClauseVerdict) -> bool {
        let chosen = c.level == Level::Must
            || (self.should && c.level == Level::Should)
            || self.globs.iter().any(|g| WildMatch::new(g).matches(&c.id));
        chosen
            && match c.status {
                Status::Fail => true,
                Status::Inconclusive => self.inconclusive,
                Status::Skipped => self.skipped,
                Status::Pass | Status::NotTestable => false,
            }
    }

    /// Judges the clause verdicts: what failed the gate and which `must` clauses are undecided.
    pub fn judge(&self, clauses: &[ClauseVerdict]) -> Gate {
        Gate {
            fail_on: self.words.clone(),
            failed_by: clauses
                .iter()
                .filter(|c| self.fails(c))
                .map(|c| c.id.clone())
                .collect(),
            must_undecided: clauses
                .iter()
                .filter(|c| c.level == Level::Must && c.status == Status::Inconclusive)
                .map(|c| c.id.clone())
                .collect(),
            must_skipped: clauses
                .iter()
                .filter(|c| c.level == Level::Must && c.status == Status::Skipped)
                .map(|c| c.id.clone())
                .collect(),
        }
    }
}

impl FailOn {
    /// The run's verdict under this policy: `error` when the run could not complete, `fail`
    /// when a clause the policy names failed the gate, `pass` otherwise; with the gate's decision.
    pub fn verdict(&self, clauses: &[ClauseVerdict], error: bool) -> (RunVerdict, Gate) {
        let gate = self.judge(clauses);
        let verdict = if error {
            RunVerdict::Error
        } else if !gate.failed_by.is_empty() {
            RunVerdict::Fail
        } else {
            RunVerdict::Pass
        };
        (verdict, gate)
    }
}

/// `--fail-on LIST`, checked against the spec's clause ids before anything runs.
pub fn fail_on_option(list: Option<&str>, spec: &Spec) -> Result<Option<FailOn>, Error> {
    list.map(|l| FailOn::from_option("--fail-on", &[l], spec))
        .transpose()
}

/// The gate's decision, recorded in every report (`compliance.json`: `gate`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Gate {
    /// The policy in force, e.g. `["must", "inconclusive"]`.
    pub fail_on: Vec<String>,
    /// The clauses that failed the gate (empty: the gate passed, unless the run errored).
    pub failed_by: Vec<String>,
    /// `must` clauses the run could not decide (status `inconclusive`), gating or not.
    pub must_undecided: Vec<String>,
    /// `must` clauses skipped (a credential or capability missing), gating or not.
    #[serde(default)]
    pub must_skipped: Vec<String>,
}

impl Gate {
    /// The verdict line's note on skipped `must` clauses: a gate that checked less than the
    /// contract says so, whatever the policy.
    pub fn skipped_note(&self) -> Option<String> {
        let n = self.must_skipped.len();
        (n > 0).then(|| {
            format!(
                "{n} must clause{} skipped (a credential or capability missing; see each reason): {}",
                if n == 1 { "" } else { "s" },
                self.must_skipped.join(", ")
            )
        })
    }

    /// The verdict line's note on undecided `must` clauses, e.g. `2 must clauses undecided:
    /// RL-GENERAL-LIMIT, AUTH-ADMIN-CONSTANT-TIME`; none when every `must` clause was decided.
    pub fn undecided_note(&self) -> Option<String> {
        let n = self.must_undecided.len();
        (n > 0).then(|| {
            format!(
                "{n} must clause{} undecided: {}",
                if n == 1 { "" } else { "s" },
                self.must_undecided.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(id: &str, level: Level, status: Status) -> ClauseVerdict {
        ClauseVerdict {
            id: id.into(),
            level,
            area: "x".into(),
            status,
            title: String::new(),
            reason: String::new(),
            scenarios: Vec::new(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn default_gates_only_failing_must_clauses() {
        let p = FailOn::default();
        assert!(p.fails(&verdict("A", Level::Must, Status::Fail)));
        assert!(!p.fails(&verdict("A", Level::Must, Status::Inconclusive)));
        assert!(!p.fails(&verdict("A", Level::Should, Status::Fail)));
        assert_eq!(p.words(), ["must"]);
    }

    #[test]
    fn words_and_globs_widen_the_gate() {
        let spec = Spec::builtin();
        let p = FailOn::parse(&["inconclusive,RL-*"], &spec).unwrap();
        assert_eq!(p.words(), ["must", "inconclusive", "RL-*"]);
        assert!(p.fails(&verdict("AUTH-X", Level::Must, Status::Inconclusive)));
        assert!(!p.fails(&verdict("AUTH-X", Level::Should, Status::Fail)));
        assert!(p.fails(&verdict(
            "RL-RATELIMIT-HEADERS",
            Level::Should,
            Status::Fail
        )));
        assert!(!p.fails(&verdict("AUTH-X", Level::Must, Status::Skipped)));
        assert!(!p.fails(&verdict(
            "AUTH-KEY-HASHED",
            Level::Must,
            Status::NotTestable
        )));
        let s = FailOn::parse(&["should", "skipped"], &spec).unwrap();
        assert!(s.fails(&verdict("W", Level::Should, Status::Fail)));
        assert!(s.fails(&verdict("W", Level::Must, Status::Skipped)));
    }

    #[test]
    fn a_word_that_gates_nothing_is_refused() {
        let spec = Spec::builtin();
        let e = FailOn::parse(&["must,inconclusiv"], &spec).unwrap_err();
        assert!(e.contains("did you mean `inconclusive`"), "{e}");
        assert!(FailOn::parse(&["NOPE-*"], &spec).is_err());
    }

    #[test]
    fn should_failures_fail_the_run_only_when_named() {
        let spec = Spec::builtin();
        let clauses = vec![verdict(
            "HTTP-WWW-AUTHENTICATE",
            Level::Should,
            Status::Fail,
        )];
        assert_eq!(
            FailOn::default().verdict(&clauses, false).0,
            RunVerdict::Pass
        );
        assert_eq!(
            FailOn::default().verdict(&clauses, true).0,
            RunVerdict::Error
        );
        let should = FailOn::parse(&["should"], &spec).unwrap();
        let (v, gate) = should.verdict(&clauses, false);
        assert_eq!(v, RunVerdict::Fail);
        assert_eq!(gate.failed_by, ["HTTP-WWW-AUTHENTICATE"]);
    }

    #[test]
    fn the_gate_names_its_deciders_and_the_undecided() {
        let clauses = vec![
            verdict("A", Level::Must, Status::Fail),
            verdict("B", Level::Must, Status::Inconclusive),
            verdict("C", Level::Should, Status::Fail),
        ];
        let g = FailOn::default().judge(&clauses);
        assert_eq!(g.failed_by, ["A"]);
        assert_eq!(g.must_undecided, ["B"]);
        assert!(g.skipped_note().is_none());
        let s = FailOn::default().judge(&[verdict("S", Level::Must, Status::Skipped)]);
        assert_eq!(s.must_skipped, ["S"]);
        assert!(
            s.skipped_note()
                .unwrap()
                .starts_with("1 must clause skipped")
        );
        assert_eq!(
            g.undecided_note().as_deref(),
            Some("1 must clause undecided: B")
        );
    }
}
