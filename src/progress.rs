//! Progress while a run works: a bar on a terminal (indicatif), plain lines otherwise, nothing
//! with `--quiet`. Always on stderr, so stdout stays the report.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::Progress;
use crate::verdict::ScenarioResult;

pub fn make(total: usize, quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(crate::engine::NoProgress)
    } else if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scenarios  {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Box::new(Bar {
            bar,
            running: Mutex::new(Vec::new()),
        })
    } else {
        Box::new(Lines {
            total,
            done: Mutex::new(0),
            said: Mutex::new(None),
        })
    }
}

struct Bar {
    bar: ProgressBar,
    running: Mutex<Vec<String>>,
}

impl Progress for Bar {
    fn started(&self, id: &str) {
        let mut r = self.running.lock().expect("lock");
        r.push(id.to_string());
        self.bar.set_message(r.join(", "));
    }
    fn waiting(&self, wait: Duration, left: Duration) {
        let r = self.running.lock().expect("lock");
        self.bar
            .set_message(format!("{}  {}", r.join(", "), waiting_text(wait, left)));
    }
    fn note(&self, line: &str) {
        self.bar.println(line);
    }
    fn finished(&self, result: &ScenarioResult) {
        let mut r = self.running.lock().expect("lock");
        r.retain(|x| x != &result.name);
        self.bar.set_message(r.join(", "));
        self.bar.inc(1);
        if self.bar.position() >= self.bar.length().unwrap_or(0) {
            self.bar.finish_and_clear();
        }
    }
}

struct Lines {
    total: usize,
    done: Mutex<usize>,
    /// When the last "waiting" line was printed (one every 10 s at most).
    said: Mutex<Option<std::time::Instant>>,
}

/// "waiting 57 s, 5m 3s left of the time limit".
fn waiting_text(wait: Duration, left: Duration) -> String {
    let secs =
        |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string();
    format!(
        "waiting {} (rate-limit budgets), {} left of the time limit",
        secs(wait + Duration::from_millis(999)),
        secs(left)
    )
}

impl Progress for Lines {
    fn note(&self, line: &str) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    fn waiting(&self, wait: Duration, left: Duration) {
        let mut said = self.said.lock().expect("lock");
        if said.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *said = Some(std::time::Instant::now());
        let _ = writeln!(std::io::stderr(), "{}", waiting_text(wait, left));
    }
    fn finished(&self, result: &ScenarioResult) {
        let mut d = self.done.lock().expect("lock");
        *d += 1;
        let note = result
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "[{}/{}] {} {} requests, {:.1} s{note}",
            *d,
            self.total,
            result.name,
            result.requests,
            result.duration_ms as f64 / 1000.0
        );
    }
}

/// Progress of a timing test: a bar of samples on a terminal, nothing otherwise (the result is
/// printed at the end anyway).
pub fn samples(total: u64, quiet: bool) -> Box<dyn Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        return Box::new(crate::engine::NoProgress);
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} samples  {per_sec}  {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Box::new(SampleBar(bar))
}

struct SampleBar(ProgressBar);

impl Progress for SampleBar {
    fn started(&self, id: &str) {
        self.0.set_message(id.to_string());
    }
    fn samples(&self, _id: &str, done: u64) {
        self.0.set_position(done);
    }
    fn finished(&self, _result: &ScenarioResult) {
        self.0.finish_and_clear();
    }
}
