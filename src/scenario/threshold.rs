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

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P90,
    P99,
    P999,
    Max,
    Mean,
    Errors,
    FiveXx,
    Requests,
    OverAdmitted,
    Violations,
    Rps,
}

impl Metric {
    const ALL: [Metric; 12] = [
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Mean,
        Metric::Errors,
        Metric::FiveXx,
        Metric::Requests,
        Metric::OverAdmitted,
        Metric::Violations,
        Metric::Rps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::Errors => "errors",
            Metric::FiveXx => "5xx",
            Metric::Requests => "requests",
            Metric::OverAdmitted => "over_admitted",
            Metric::Violations => "violations",
            Metric::Rps => "rps",
        }
    }

    fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A latency in milliseconds (a unit may follow its value), not a count.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::P50 | Metric::P90 | Metric::P99 | Metric::P999 | Metric::Max | Metric::Mean
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
    pub text: String,
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [metric, op, value] = parts.as_slice() else {
            return Err(format!(
                "threshold `{text}`: write METRIC OP VALUE, e.g. `p99 < 50ms`"
            ));
        };
        let Some(metric) = Metric::from_name(metric) else {
            return Err(format!(
                "threshold `{text}`: unknown metric `{metric}`{}",
                crate::error::did_you_mean(metric, Metric::ALL.iter().map(|m| m.name()))
            ));
        };
        let op = match *op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            other => return Err(format!("threshold `{text}`: unknown operator `{other}`")),
        };
        let latency = metric.is_latency();
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
                "threshold `{text}`: `{}` is a count, not a duration",
                metric.name()
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("threshold `{text}`: `{value}` is not a number"))?;
        Ok(Threshold {
            metric,
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
