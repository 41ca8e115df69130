//! The rate-limit readings of the contract, as functions of the spec, shared by `run`'s steps and
//! bursts, the properties and `load`: what an answer decides (admitted, refused, denied, or no
//! decision at all), the judgement of an over-limit answer (status, `Retry-After`, body), and the
//! bounds on what any reading of "limit per window" may admit.
//!
//! One judgement, so `run`, the properties and `load` cannot disagree on the same answer: a 5xx
//! is no decision of the limiter (it is neither admitted nor refused), and a 429's `Retry-After`
//! is judged against its own category's window.

use std::time::{Duration, SystemTime};

use crate::spec::{Algorithm, Spec};

/// What an answer tells about the limiter's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Served (any status the limiter let through: 2xx, 3xx, 4xx other than a denial).
    Admitted,
    /// The over-limit status, or 503 (the common wrong answer for it: RL-429-STATUS judges the
    /// status, the limits count it as the refusal it is meant to be).
    Refused,
    /// A denial status: the credential, not the limiter, decided.
    Denied,
    /// No answer, or a 5xx other than 503: the limiter's decision is unknown.
    Undecided,
}

pub fn decision(spec: &Spec, status: Option<u16>) -> Decision {
    match status {
        None => Decision::Undecided,
        Some(s) if s == spec.rate_limits.over_limit.status || s == 503 => Decision::Refused,
        Some(s) if spec.auth.denial_statuses.contains(&s) => Decision::Denied,
        Some(s) if s >= 500 => Decision::Undecided,
        Some(_) => Decision::Admitted,
    }
}

/// A `Retry-After` value as RFC 9110 section 10.2.3 allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    Absent,
    /// delay-seconds: what the contract documents.
    Seconds(u64),
    /// An HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms recipients must
    /// accept), with the wait it means: from the response's `Date` when it has one, else from now.
    Date {
        text: String,
        wait: Duration,
    },
    /// Neither form.
    Invalid(String),
}

impl RetryAfter {
    pub fn parse(value: Option<&str>, date: Option<&str>, now: SystemTime) -> RetryAfter {
        let Some(raw) = value else {
            return RetryAfter::Absent;
        };
        let v = raw.trim();
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return match v.parse() {
                Ok(n) => RetryAfter::Seconds(n),
                // Too many digits for u64: still seconds, and far too many.
                Err(_) => RetryAfter::Seconds(u64::MAX),
            };
        }
        match httpdate::parse_http_date(v) {
            Ok(at) => {
                let from = date
                    .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
                    .unwrap_or(now);
                RetryAfter::Date {
                    text: v.to_string(),
                    wait: at.duration_since(from).unwrap_or(Duration::ZERO),
                }
            }
            Err(_) => RetryAfter::Invalid(v.to_string()),
        }
    }

    /// How long it says to wait, in either form.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            RetryAfter::Seconds(n) => Some(Duration::from_secs(*n)),
            RetryAfter::Date { wait, .. } => Some(*wait),
            RetryAfter::Absent | RetryAfter::Invalid(_) => None,
        }
    }

    /// The whole seconds, when given as delay-seconds (the contract's form).
    pub fn seconds(&self) -> Option<u64> {
        match self {
            RetryAfter::Seconds(n) => Some(*n),
            _ => None,
        }
    }
}

/// The longest `Retry-After` the contract allows in a category: its window, rounded up.
pub fn max_retry_after(window: Duration) -> u64 {
    (window.as_secs() + u64::from(window.subsec_nanos() > 0)).max(1)
}

/// One over-limit answer, judged (RL-429-RETRY-AFTER, RL-429-BODY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: RetryAfter,
    /// Why the `Retry-After` breaks the reading, if it does.
    pub header_violation: Option<String>,
    /// Why the body breaks the reading, if it does.
    pub body_violation: Option<String>,
}

impl Refusal {
    /// How long a client should wait before retrying: the parsed `Retry-After` (either form),
    /// else one second, never less than 100 ms, and never more than `cap` (a broken or hostile
    /// value must not stall the run).
    pub fn wait(&self, cap: Duration) -> Duration {
        // An HTTP-date has whole-second resolution: a server that truncates its instant may say
        // up to a second too little.
        let slack = match self.retry_after {
            RetryAfter::Date { .. } => Duration::from_secs(1),
            _ => Duration::ZERO,
        };
        self.retry_after
            .wait()
            .map(|w| w + slack)
            .unwrap_or(Duration::from_secs(1))
            .clamp(
                Duration::from_millis(100),
                cap.max(Duration::from_millis(100)),
            )
    }
}

/// Judges an over-limit answer of a request in a category of this `window` (the longest window
/// when the category is not known).
pub fn judge_refusal(
    spec: &Spec,
    window: Duration,
    header: Option<&str>,
    date: Option<&str>,
    content_type: Option<&str>,
    body: Option<&str>,
    now: SystemTime,
) -> Refusal {
    let ol = &spec.rate_limits.over_limit;
    let name = &ol.retry_after_header;
    let max = max_retry_after(window);
    let retry_after = RetryAfter::parse(header, date, now);
    let header_violation = match &retry_after {
        RetryAfter::Absent => Some(format!("{} without {name}", ol.status)),
        RetryAfter::Seconds(n) if *n < 1 || *n > max => {
            Some(format!("{name}: {n} is outside [1, {max}] seconds"))
        }
        RetryAfter::Seconds(_) => None,
        RetryAfter::Date { text, wait } => Some(format!(
            "{name}: `{text}` is an HTTP-date (legal in HTTP, RFC 9110 section 10.2.3, and waited as {} s), not the whole number of seconds the documentation gives",
            wait.as_secs()
        )),
        RetryAfter::Invalid(v) => Some(format!(
            "{name}: `{v}` is neither a whole number of seconds nor an HTTP-date"
        )),
    };
    let seconds = retry_after.seconds();
    let json: Option<serde_json::Value> = body.and_then(|b| serde_json::from_str(b).ok());
    let body_violation = match json {
        None => Some("the body is not JSON".to_string()),
        Some(_) if body.is_some() && !json_media_type(content_type, &ol.content_type) => {
            Some(match content_type {
                Some(ct) => format!(
                    "the body is JSON but Content-Type is `{ct}`, not {}",
                    ol.content_type
                ),
                None => format!(
                    "the body is JSON but has no Content-Type ({})",
                    ol.content_type
                ),
            })
        }
        Some(v) => {
            let error = v.get("error").and_then(|e| e.as_str());
            let field = v.get(&ol.body.retry_after_field);
            // A whole number; `12.0` is the same JSON number to most readers.
            let n = field.and_then(|f| {
                f.as_u64().or_else(|| {
                    f.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 1e15)
                        .map(|x| x as u64)
                })
            });
            if error != Some(ol.body.error.as_str()) {
                Some(format!("`error` is {:?}, not {:?}", error, ol.body.error))
            } else if n.is_none() {
                Some(format!(
                    "`{}` is missing or not a whole number",
                    ol.body.retry_after_field
                ))
            } else if seconds.is_some() && n != seconds {
                Some(format!(
                    "`{}` is {} but {name} says {}",
                    ol.body.retry_after_field,
                    n.unwrap_or(0),
                    seconds.unwrap_or(0)
                ))
            } else {
                // Without delay-seconds in the header there is nothing to compare: the header's
                // own clause (RL-429-RETRY-AFTER) fails that, once.
                None
            }
        }
    };
    Refusal {
        retry_after,
        header_violation,
        body_violation,
    }
}

/// Whether a Content-Type names the documented media type: `application/json` with or without
/// parameters (`; charset=utf-8`), in any case, or a structured `+json` type of the same top
/// level (`application/problem+json`).
fn json_media_type(content_type: Option<&str>, documented: &str) -> bool {
    let Some(ct) = content_type else { return false };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let documented = documented.to_ascii_lowercase();
    media == documented
        || (documented == "application/json"
            && media.starts_with("application/")
            && media.ends_with("+json"))
}

/// The most a reading admits, with the readings it allows in words (for a finding's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub max: u64,
    pub readings: String,
}

fn refill(limit: u32, window: Duration, span: Duration) -> u64 {
    let w = window.as_nanos().max(1);
    (u128::from(limit) * span.as_nanos() / w) as u64
}

/// Windows of length `window` that a span of `span` can touch: one for an instant, else
/// `ceil(span / window) + 1` (a span shorter than a window may straddle one edge).
fn windows_touched(window: Duration, span: Duration) -> u64 {
    if span.is_zero() {
        return 1;
    }
    let w = window.as_nanos().max(1);
    span.as_nanos().div_ceil(w) as u64 + 1
}

fn pick(algorithm: Algorithm, choices: &[(Algorithm, u64, String)]) -> Bound {
    let chosen: Vec<&(Algorithm, u64, String)> = choices
        .iter()
        .filter(|(a, _, _)| algorithm == Algorithm::Any || *a == algorithm)
        .collect();
    let max = chosen.iter().map(|c| c.1).max().unwrap_or(0);
    let readings = chosen
        .iter()
        .map(|c| c.2.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let scope = match algorithm {
        Algorithm::Any => "every reading",
        a => a.as_str(),
    };
    Bound {
        max,
        readings: format!("{scope}: {readings}"),
    }
}

/// What a burst that starts from a fresh state may have admitted once its admissions spanned
/// `span` (from its first request sent to its last admission answered). A fixed window may be
/// crossed mid-burst: `run` re-runs a burst over the non-straddling bound before it fails.
pub fn from_fresh(algorithm: Algorithm, limit: u32, window: Duration, span: Duration) -> Bound {
    let r = refill(limit, window, span);
    let l = u64::from(limit);
    let ms = span.as_millis();
    // A burst longer than a window reaches that many windows (a slow machine, a slow target).
    let windows = (span.as_nanos().div_ceil(window.as_nanos().max(1)) as u64).max(1);
    pick(
        algorithm,
        &[
            (
                Algorithm::TokenBucket,
                l + r,
                format!("token bucket or GCRA {l} + {r} refilled in {ms} ms"),
            ),
            (
                Algorithm::SlidingWindow,
                l * windows,
                format!("sliding window {l} in any window"),
            ),
            (
                Algorithm::FixedWindow,
                l * windows,
                format!("fixed window {l} before a window edge"),
            ),
        ],
    )
}

/// What may be admitted in a span of `span` that starts at an over-limit refusal (from the
/// refused request's sending to the last admission's answer): the budget was spent then, so a
/// fixed window or sliding log admits at most `limit` per window the span reaches into
/// (`ceil(span / window)`), a token bucket or GCRA less than one token plus its refill.
pub fn after_refusal(algorithm: Algorithm, limit: u32, window: Duration, span: Duration) -> Bound {
    let r = refill(limit, window, span);
    let l = u64::from(limit);
    let w = window.as_nanos().max(1);
    let windows = (span.as_nanos().div_ceil(w) as u64).max(1);
    let ms = span.as_millis();
    pick(
        algorithm,
        &[
            (
                Algorithm::TokenBucket,
                r + 1,
                format!("token bucket or GCRA 1 + {r} refilled in {ms} ms"),
            ),
            (
                Algorithm::SlidingWindow,
                l * windows,
                format!("sliding window {l} per window reached ({windows})"),
            ),
            (
                Algorithm::FixedWindow,
                l * windows,
                format!("fixed window {l} per fresh window reached ({windows})"),
            ),
        ],
    )
}

/// `any_state(Algorithm::Any, ..).max` without the words: the load accounting's hot path.
pub fn any_state_max(limit: u32, window: Duration, span: Duration) -> u64 {
    let l = u64::from(limit);
    (l + refill(limit, window, span)).max(l * windows_touched(window, span))
}

/// What may be admitted within any span of `span`, whatever came before (the load accounting):
/// a token bucket's capacity plus its refill, a sliding log's or fixed window's `limit` per
/// window the span touches.
pub fn any_state(algorithm: Algorithm, limit: u32, window: Duration, span: Duration) -> Bound {
    let r = refill(limit, window, span);
    let l = u64::from(limit);
    let touched = windows_touched(window, span);
    let ms = span.as_millis();
    pick(
        algorithm,
        &[
            (
                Algorithm::TokenBucket,
                l + r,
                format!("token bucket or GCRA {l} + {r} refilled in {ms} ms"),
            ),
            (
                Algorithm::SlidingWindow,
                l * touched,
                format!("sliding window {l} per window touched ({touched})"),
            ),
            (
                Algorithm::FixedWindow,
                l * touched,
                format!("fixed window {l} per window touched ({touched})"),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(2);

    #[test]
    fn five_hundreds_are_no_decision() {
        let spec = Spec::builtin();
        assert_eq!(decision(&spec, Some(500)), Decision::Undecided);
        assert_eq!(decision(&spec, Some(502)), Decision::Undecided);
        assert_eq!(decision(&spec, None), Decision::Undecided);
        assert_eq!(decision(&spec, Some(503)), Decision::Refused);
        assert_eq!(decision(&spec, Some(429)), Decision::Refused);
        assert_eq!(decision(&spec, Some(401)), Decision::Denied);
        assert_eq!(decision(&spec, Some(404)), Decision::Admitted);
        assert_eq!(decision(&spec, Some(200)), Decision::Admitted);
    }

    #[test]
    fn retry_after_in_both_forms_and_the_obsolete_ones() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").unwrap();
        assert_eq!(
            RetryAfter::parse(Some(" 12 "), None, now),
            RetryAfter::Seconds(12)
        );
        assert_eq!(RetryAfter::parse(None, None, now), RetryAfter::Absent);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            let ra = RetryAfter::parse(Some(form), None, now);
            assert_eq!(ra.wait(), Some(Duration::from_secs(7)), "{form}");
            assert_eq!(ra.seconds(), None);
        }
        // The wait counts from the response's Date, not from the client's clock.
        let ra = RetryAfter::parse(
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some("Sun, 06 Nov 1994 08:49:35 GMT"),
            now,
        );
        assert_eq!(ra.wait(), Some(Duration::from_secs(2)));
        assert!(matches!(
            RetryAfter::parse(Some("soon"), None, now),
            RetryAfter::Invalid(_)
        ));
        assert!(matches!(
            RetryAfter::parse(Some("-1"), None, now),
            RetryAfter::Invalid(_)
        ));
    }

    #[test]
    fn an_http_date_fails_the_seconds_reading_but_is_waited() {
        let spec = Spec::builtin();
        let now = SystemTime::now();
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        let r = judge_refusal(
            &spec,
            W,
            Some(&date),
            None,
            Some("application/json"),
            Some(r#"{"error": "rate limit exceeded", "retryAfter": 3}"#),
            now,
        );
        let why = r.header_violation.clone().unwrap();
        assert!(why.contains("is an HTTP-date"), "{why}");
        let wait = r.wait(Duration::from_secs(10));
        // The date's wait plus a second of slack for its whole-second resolution.
        assert!(
            wait >= Duration::from_secs(3) && wait <= Duration::from_secs(4),
            "{wait:?}"
        );
        let ok = judge_refusal(
            &spec,
            W,
            Some("2"),
            None,
            Some("application/json; charset=utf-8"),
            Some(r#"{"error": "rate limit exceeded", "retryAfter": 2}"#),
            now,
        );
        assert_eq!((ok.header_violation, ok.body_violation), (None, None));
        let html = judge_refusal(
            &spec,
            W,
            Some("2"),
            None,
            Some("text/html; charset=utf-8"),
            Some(r#"{"error": "rate limit exceeded", "retryAfter": 2}"#),
            now,
        );
        let why = html.body_violation.unwrap();
        assert!(why.contains("Content-Type is `text/html"), "{why}");
        let problem = judge_refusal(
            &spec,
            W,
            Some("2"),
            None,
            Some("Application/Problem+JSON"),
            Some(r#"{"error": "rate limit exceeded", "retryAfter": 2.0}"#),
            now,
        );
        assert_eq!(problem.body_violation, None);
        let long = judge_refusal(&spec, W, Some("3600"), None, None, None, now);
        assert!(
            long.header_violation
                .as_deref()
                .unwrap()
                .contains("outside [1, 2]")
        );
        assert_eq!(long.wait(W), W);
    }

    #[test]
    fn bounds_per_reading() {
        let half = Duration::from_secs(1);
        assert_eq!(from_fresh(Algorithm::Any, 100, W, half).max, 150);
        assert_eq!(from_fresh(Algorithm::SlidingWindow, 100, W, half).max, 100);
        assert_eq!(from_fresh(Algorithm::FixedWindow, 100, W, half).max, 100);
        let b = after_refusal(Algorithm::Any, 100, W, Duration::from_millis(1800));
        assert_eq!(b.max, 100);
        assert!(
            b.readings.starts_with("every reading: token bucket"),
            "{}",
            b.readings
        );
        assert_eq!(
            after_refusal(Algorithm::TokenBucket, 100, W, Duration::from_millis(1800)).max,
            91
        );
        assert_eq!(after_refusal(Algorithm::Any, 100, W, W).max, 101);
        assert_eq!(any_state(Algorithm::Any, 100, W, Duration::ZERO).max, 100);
        assert_eq!(any_state(Algorithm::Any, 100, W, half).max, 200);
        assert_eq!(any_state(Algorithm::TokenBucket, 100, W, half).max, 150);
        for ms in [0, 1, 999, 2000, 2001, 4100, 60_000] {
            let span = Duration::from_millis(ms);
            assert_eq!(
                any_state_max(100, W, span),
                any_state(Algorithm::Any, 100, W, span).max
            );
        }
    }
}
