//! k6-style thresholds of a load scenario: `METRIC OP VALUE`, e.g. `p99 < 50ms`, `errors == 0`.
//!
//! Metrics: latency percentiles `p50`, `p90`, `p99`, `p99.9`, `max`, `mean` (milliseconds, of
//! every request, service time as measured by the closed-loop client; a unit `us`, `ms` or `s`
//! may follow the value), and counts `errors` (transport errors), `5xx`, `requests`,
//! `over_admitted`, `violations` (invalid 429s plus refused retries), and `rps`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: String,
    pub op: Op,
    pub value: f64,
    pub text: String,
}

const METRICS: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "mean",
    "errors",
    "5xx",
    "requests",
    "over_admitted",
    "violations",
    "rps",
];

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [metric, op, value] = parts.as_slice() else {
            return Err(format!(
                "threshold `{text}`: write METRIC OP VALUE, e.g. `p99 < 50ms`"
            ));
        };
        if !METRICS.contains(metric) {
            return Err(format!(
                "threshold `{text}`: unknown metric `{metric}`{}",
                crate::error::did_you_mean(metric, METRICS.iter().copied())
            ));
        }
        let op = match *op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            other => return Err(format!("threshold `{text}`: unknown operator `{other}`")),
        };
        let latency = metric.starts_with('p') || matches!(*metric, "max" | "mean");
        let (number, scale, unit) = if let Some(n) = value.strip_suffix("us") {
            (n, 0.001, true)
        } else if let Some(n) = value.strip_suffix("ms") {
            (n, 1.0, true)
        } else if let Some(n) = value.strip_suffix('s') {
            (n, 1000.0, true)
        } else {
            (*value, 1.0, false)
        };
        if unit && !latency {
            return Err(format!(
                "threshold `{text}`: `{metric}` is a count, not a duration"
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("threshold `{text}`: `{value}` is not a number"))?;
        Ok(Threshold {
            metric: metric.to_string(),
            op,
            value: value * scale,
            text: text.to_string(),
        })
    }

    pub fn holds(&self, observed: f64) -> bool {
        match self.op {
            Op::Lt => observed < self.value,
            Op::Le => observed <= self.value,
            Op::Gt => observed > self.value,
            Op::Ge => observed >= self.value,
            Op::Eq => observed == self.value,
            Op::Ne => observed != self.value,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_latency_and_counts() {
        let t = Threshold::parse("p99 < 50ms").unwrap();
        assert_eq!((t.op, t.value), (Op::Lt, 50.0));
        assert!(t.holds(49.9) && !t.holds(50.0));
        assert_eq!(Threshold::parse("p99.9 <= 1s").unwrap().value, 1000.0);
        assert_eq!(Threshold::parse("errors == 0").unwrap().op, Op::Eq);
        assert!(Threshold::parse("errors == 0ms").is_err());
        assert!(
            Threshold::parse("p98 < 1ms")
                .unwrap_err()
                .contains("unknown metric")
        );
        assert!(Threshold::parse("p99<1ms").is_err());
    }
}
