//! A load scenario as the swarm runs it: built once from the file's words (`LoadScenario`, kept
//! as written because `load.json` stores it so `report merge` can plan the same swarm again), with
//! every word resolved. Identities and `on_429` are enums, durations are `Duration`, the plan is
//! goose's steps, thresholds are parsed. Nothing after this parses a string of the scenario or
//! falls back to a default for a value the file got wrong: a mistake is a `Problem` here, which
//! validation reports at its position before the first request.

use std::time::Duration;

use super::model::{LoadScenario, plan_length, plan_peak};
use super::threshold::Threshold;

/// Whose API keys the users send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identities {
    /// One key for every user.
    Shared,
    /// A key each.
    PerUser,
    /// `n` keys; user `i` sends key `i mod n`.
    Pool(usize),
}

impl Identities {
    pub fn name(self) -> &'static str {
        match self {
            Identities::Shared => "shared",
            Identities::PerUser => "per_user",
            Identities::Pool(_) => "pool",
        }
    }

    /// Keys drawn from the pool for `users` users (`shared` uses the profile's own key).
    pub fn keys_needed(self, users: usize) -> usize {
        match self {
            Identities::Shared => 0,
            Identities::PerUser => users,
            Identities::Pool(n) => n,
        }
    }
}

/// What a user does on a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On429 {
    /// Sleep Retry-After, then retry once and expect admission.
    Honour,
    /// Go on sending.
    Hammer,
}

impl On429 {
    pub fn name(self) -> &'static str {
        match self {
            On429::Honour => "honour",
            On429::Hammer => "hammer",
        }
    }
}

/// A user's pause between tasks, drawn between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub min: Duration,
    pub max: Duration,
}

/// A load scenario, resolved.
#[derive(Debug, Clone)]
pub struct Swarm {
    /// Concurrent users (a plan's peak, with a plan).
    pub users: usize,
    /// Users started per second; `None`: all at once (never with a plan).
    pub hatch_rate: Option<f64>,
    /// How long the swarm runs (a plan's total length, with a plan).
    pub duration: Duration,
    /// Goose's test-plan steps `(users, whole seconds)`.
    pub plan: Option<Vec<(usize, u64)>>,
    pub wait: Option<Pause>,
    /// Open-loop pacing (`arrival_rate`), when given.
    pub arrival: Option<Arrival>,
    pub identities: Identities,
    pub on_429: On429,
    pub thresholds: Vec<Threshold>,
    /// The scenario as written: its tasks and the clauses each judgement decides, and what
    /// `load.json` keeps (with `users` and `duration` as run).
    pub written: LoadScenario,
}

/// `arrival_rate`: requests per second, per identity or for the whole swarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub per_second: f64,
    pub per_identity: bool,
}

impl Arrival {
    /// `150/min per identity`, `300/min`, `2.5/s in total`, `9000/h per identity`.
    pub fn parse(text: &str) -> Result<Arrival, String> {
        let bad = || {
            format!(
                "arrival_rate `{text}`: write a rate and its scope, e.g. `150/min per identity` or `300/min` (in total); units s, min, h"
            )
        };
        let t = text.trim();
        let (rate, scope) = match t.split_once(char::is_whitespace) {
            Some((r, rest)) => (r, rest.trim()),
            None => (t, ""),
        };
        let per_identity = match scope {
            "per identity" => true,
            "" | "in total" | "total" => false,
            _ => return Err(bad()),
        };
        let (n, unit) = rate.split_once('/').ok_or_else(bad)?;
        let n: f64 = n.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        let per_second = n / seconds;
        if !(n.is_finite() && (1e-4..=1e6).contains(&per_second)) {
            return Err(format!(
                "arrival_rate `{text}`: from 1 request in about 3 hours to 1,000,000 a second"
            ));
        }
        Ok(Arrival {
            per_second,
            per_identity,
        })
    }
}

/// A mistake in a load scenario: the field's path under `load` (`wait.min`, `thresholds[1]`),
/// whether it is the key that is wrong (a field that should not be there) or its value, and what
/// is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: String,
    pub on_key: bool,
    pub message: String,
}

impl Problem {
    fn at_key(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            on_key: true,
            message: message.into(),
        }
    }

    fn at_value(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            on_key: false,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Swarm {
    /// Resolves `written`; every problem, not only the first.
    pub fn plan(written: &LoadScenario) -> Result<Swarm, Vec<Problem>> {
        let mut problems = Vec::new();
        let duration_of = |path: &str, text: &str, problems: &mut Vec<Problem>| {
            crate::yaml::duration::parse(text)
                .map_err(|why| problems.push(Problem::at_value(path, why)))
                .ok()
        };
        let (users, hatch_rate, duration, plan) = match &written.plan {
            Some(plan) => {
                // A plan gives the users and the time: anything else giving them is a
                // contradiction.
                for (field, given) in [
                    ("users", written.users != 0),
                    ("hatch_rate", written.hatch_rate.is_some()),
                    ("duration", !written.duration.is_empty()),
                ] {
                    if given {
                        problems.push(Problem::at_key(
                            field,
                            format!("`{field}` and `plan` exclude each other: the plan gives the users and the time"),
                        ));
                    }
                }
                match plan.steps() {
                    Ok(steps) => (
                        plan_peak(&steps),
                        None,
                        Some(plan_length(&steps)),
                        Some(steps),
                    ),
                    Err(why) => {
                        problems.push(Problem::at_key("plan", why));
                        (0, None, None, None)
                    }
                }
            }
            None => {
                if written.users == 0 {
                    problems.push(Problem::at_key(
                        "users",
                        "a swarm needs at least one user (`users`, or a `plan`)",
                    ));
                }
                if written.hatch_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
                    problems.push(Problem::at_key(
                        "hatch_rate",
                        "hatch_rate is users per second, above 0",
                    ));
                }
                let duration = duration_of("duration", &written.duration, &mut problems);
                if duration.is_some_and(|d| d.is_zero()) {
                    problems.push(Problem::at_value(
                        "duration",
                        "a swarm of 0s sends nothing: give a duration above 0",
                    ));
                }
                (written.users, written.hatch_rate, duration, None)
            }
        };
        let wait = written.wait.as_ref().and_then(|w| {
            let min = duration_of("wait.min", &w.min, &mut problems);
            let max = duration_of("wait.max", &w.max, &mut problems);
            let (min, max) = (min?, max?);
            if min > max {
                problems.push(Problem::at_value(
                    "wait.min",
                    format!("wait: min {} is above max {}", w.min, w.max),
                ));
            }
            Some(Pause { min, max })
        });
        let arrival = written.arrival_rate.as_deref().and_then(|text| {
            for (field, given) in [("wait", written.wait.is_some()), ("plan", written.plan.is_some())] {
                if given {
                    problems.push(Problem::at_key(
                        "arrival_rate",
                        format!("`arrival_rate` and `{field}` exclude each other: the schedule decides when each user sends"),
                    ));
                }
            }
            Arrival::parse(text)
                .map_err(|why| problems.push(Problem::at_value("arrival_rate", why)))
                .ok()
        });
        let identities = match written.identities.as_str() {
            "shared" => Some(Identities::Shared),
            "per_user" => Some(Identities::PerUser),
            "pool" => match written.pool_size {
                Some(n) if n > 0 => Some(Identities::Pool(n)),
                _ => {
                    problems.push(Problem::at_value(
                        "identities",
                        "identities: pool needs pool_size (at least 1)",
                    ));
                    None
                }
            },
            other => {
                problems.push(Problem::at_value(
                    "identities",
                    format!(
                        "unknown identities `{other}`{}",
                        crate::error::did_you_mean(
                            other,
                            ["shared", "per_user", "pool"].into_iter()
                        )
                    ),
                ));
                None
            }
        };
        let on_429 = match written.on_429.as_str() {
            "honour" => Some(On429::Honour),
            "hammer" => Some(On429::Hammer),
            other => {
                problems.push(Problem::at_value(
                    "on_429",
                    format!(
                        "on_429 is `honour` or `hammer`{}",
                        crate::error::did_you_mean(other, ["honour", "hammer"].into_iter())
                    ),
                ));
                None
            }
        };
        if written.tasks.is_empty() {
            problems.push(Problem::at_key("tasks", "a swarm needs at least one task"));
        }
        for (i, t) in written.tasks.iter().enumerate() {
            if t.weight == 0 {
                problems.push(Problem::at_value(
                    format!("tasks[{i}].weight"),
                    "a task's weight is at least 1",
                ));
            }
        }
        let thresholds: Vec<Threshold> = written
            .thresholds
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                Threshold::parse(t)
                    .map_err(|why| {
                        problems.push(Problem::at_value(format!("thresholds[{i}]"), why))
                    })
                    .ok()
            })
            .collect();
        match (duration, identities, on_429) {
            (Some(duration), Some(identities), Some(on_429)) if problems.is_empty() => Ok(Swarm {
                users,
                hatch_rate,
                duration,
                plan,
                wait,
                arrival,
                identities,
                on_429,
                thresholds,
                written: written.clone(),
            }),
            _ => Err(problems),
        }
    }

    /// Runs `users` users instead (`--users`, or the segments together); `load.json` says so.
    /// A plan's users stay in its steps (a written plan excludes `users`).
    pub fn set_users(&mut self, users: usize) {
        self.users = users;
        if self.plan.is_none() {
            self.written.users = users;
        }
    }

    /// Runs for `duration` instead (`--duration`); `load.json` says so.
    pub fn set_duration(&mut self, duration: Duration) {
        self.duration = duration;
        self.written.duration = humantime::format_duration(duration).to_string();
    }

    /// Every clause this swarm decides.
    pub fn decided(&self) -> Vec<&str> {
        self.written.decided()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_rates_read_per_identity_or_in_total() {
        let a = Arrival::parse("150/min per identity").unwrap();
        assert_eq!((a.per_second, a.per_identity), (2.5, true));
        let a = Arrival::parse("10/s").unwrap();
        assert_eq!((a.per_second, a.per_identity), (10.0, false));
        assert_eq!(Arrival::parse("7200/h in total").unwrap().per_second, 2.0);
        for bad in [
            "150",
            "150/min per user",
            "0/s",
            "x/s",
            "5/day",
            "-1/s per identity",
        ] {
            assert!(Arrival::parse(bad).is_err(), "{bad}");
        }
        let mut w =
            written("users: 2\nduration: 2s\narrival_rate: 10/s\nwait: {min: 1ms, max: 2ms}\n");
        let problems = Swarm::plan(&w).unwrap_err();
        assert!(
            problems[0]
                .message
                .contains("`arrival_rate` and `wait` exclude each other"),
            "{problems:?}"
        );
        w.wait = None;
        assert_eq!(Swarm::plan(&w).unwrap().arrival.unwrap().per_second, 10.0);
    }

    fn written(extra: &str) -> LoadScenario {
        serde_yaml_ng::from_str(&format!(
            "identities: shared\ntasks: [{{endpoint: list_sandboxes}}]\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn words_become_values_once() {
        let s = Swarm::plan(&written(
            "users: 3\nduration: 2s\nwait: {min: 1ms, max: 5ms}\non_429: hammer\nthresholds: [\"p99 < 5ms\"]\n",
        ))
        .unwrap();
        assert_eq!(s.users, 3);
        assert_eq!(s.duration, Duration::from_secs(2));
        assert_eq!(
            s.wait,
            Some(Pause {
                min: Duration::from_millis(1),
                max: Duration::from_millis(5)
            })
        );
        assert_eq!(
            (s.identities, s.on_429),
            (Identities::Shared, On429::Hammer)
        );
        assert_eq!(s.thresholds[0].metric, super::super::threshold::Metric::P99);
        let p = Swarm::plan(&written("plan: \"2,1s;4,2s\"\n")).unwrap();
        assert_eq!((p.users, p.duration), (4, Duration::from_secs(3)));
        let pool = Swarm::plan(&written("users: 2\nduration: 1s\npool_size: 3\n").clone());
        assert!(pool.is_ok());
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let mut w = written("users: 0\nduration: 0s\non_429: honor\nthresholds: [\"p98 < 1ms\"]\n");
        w.identities = "per_usr".into();
        let problems = Swarm::plan(&w).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            keys,
            ["users", "duration", "identities", "on_429", "thresholds[0]"],
            "{problems:?}"
        );
        assert!(problems[3].message.ends_with("(did you mean `honour`?)"));
    }

    #[test]
    fn overrides_are_what_load_json_keeps() {
        let mut s = Swarm::plan(&written("users: 1\nduration: 1s\n")).unwrap();
        s.set_users(7);
        s.set_duration(Duration::from_secs(90));
        assert_eq!(
            (s.written.users, s.written.duration.as_str()),
            (7, "1m 30s")
        );
        assert_eq!(
            Swarm::plan(&s.written).unwrap().duration,
            Duration::from_secs(90)
        );
    }
}
