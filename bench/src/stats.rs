//! Latencies, throughput and the API ÷ direct ratio.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One side's measurement of one operation.
#[derive(Debug, Clone)]
pub struct Measure {
    pub operation: &'static str,
    /// Latency of each successful request, in milliseconds.
    pub latencies_ms: Vec<f64>,
    pub errors: usize,
    /// The first few error texts, to see what went wrong.
    pub error_samples: Vec<String>,
    pub elapsed: Duration,
}

impl Measure {
    pub fn new(operation: &'static str) -> Self {
        Self {
            operation,
            latencies_ms: Vec::new(),
            errors: 0,
            error_samples: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn merge(&mut self, other: Worker) {
        self.latencies_ms.extend(other.latencies_ms);
        self.errors += other.errors;
        for e in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(e);
            }
        }
    }

    pub fn throughput(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.latencies_ms.len() as f64 / s
        } else {
            0.0
        }
    }

    fn percentile(&self, p: f64) -> Option<f64> {
        let mut v = self.latencies_ms.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v.get(rank.clamp(1, v.len()) - 1).copied()
    }

    pub fn json(&self) -> Value {
        json!({
            "count": self.latencies_ms.len(),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "seconds": self.elapsed.as_secs_f64(),
            "throughput": self.throughput(),
            "p50_ms": self.percentile(50.0),
            "p99_ms": self.percentile(99.0),
            "max_ms": self.percentile(100.0),
        })
    }
}

/// Hands the workers of one load their request numbers: `count` of them,
/// or with no count as many as start before `seconds` have passed.
#[derive(Debug)]
pub struct Tickets {
    next: AtomicUsize,
    count: Option<usize>,
    deadline: Instant,
}

impl Tickets {
    pub fn new(count: Option<usize>, seconds: u64) -> Self {
        Self {
            next: AtomicUsize::new(0),
            count,
            deadline: Instant::now() + Duration::from_secs(seconds),
        }
    }

    /// The next request's number; `None` when the load is over.
    pub fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.count {
            Some(n) if i >= n => None,
            None if Instant::now() >= self.deadline => None,
            _ => Some(i),
        }
    }
}

/// What one worker saw.
#[derive(Debug, Default)]
pub struct Worker {
    pub latencies_ms: Vec<f64>,
    pub errors: usize,
    pub error_samples: Vec<String>,
}

impl Worker {
    pub fn ok(&mut self, took: Duration) {
        self.latencies_ms.push(took.as_secs_f64() * 1000.0);
    }

    pub fn fail(&mut self, why: String) {
        self.errors += 1;
        if self.error_samples.len() < 3 {
            self.error_samples.push(why);
        }
    }
}

/// The API beside the direct work: for loads the ratio of throughputs, for
/// single heavy requests direct time ÷ API time (p50).
pub fn compare(api: &Measure, direct: &Measure) -> Value {
    let ratio = if api.single() {
        match (api.percentile(50.0), direct.percentile(50.0)) {
            (Some(a), Some(d)) if a > 0.0 => Some(d / a),
            _ => None,
        }
    } else if direct.throughput() > 0.0 {
        Some(api.throughput() / direct.throughput())
    } else {
        None
    };
    json!({
        "operation": api.operation,
        "kind": if api.single() { "single" } else { "load" },
        "api": api.json(),
        "direct": direct.json(),
        "ratio": ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(op: &'static str, ms: impl IntoIterator<Item = f64>, seconds: u64) -> Measure {
        let mut m = Measure::new(op);
        m.latencies_ms = ms.into_iter().collect();
        m.elapsed = Duration::from_secs(seconds);
        m
    }

    #[test]
    fn tickets_run_out_at_the_count_or_the_deadline() {
        let counted = Tickets::new(Some(3), 0);
        let taken: Vec<_> = std::iter::from_fn(|| counted.take()).collect();
        assert_eq!(taken, vec![0, 1, 2]);
        assert_eq!(Tickets::new(None, 0).take(), None);
        let timed = Tickets::new(None, 60);
        assert_eq!((timed.take(), timed.take()), (Some(0), Some(1)));
    }

    #[test]
    fn percentiles_are_nearest_rank_over_successful_requests() {
        let m = measured("catalogue list", (1..=200).rev().map(f64::from), 4);
        assert_eq!(m.percentile(50.0), Some(100.0));
        assert_eq!(m.percentile(99.0), Some(198.0));
        assert_eq!(m.percentile(100.0), Some(200.0));
        assert!((m.throughput() - 50.0).abs() < 1e-9);
        assert_eq!(Measure::new("x").percentile(50.0), None);
    }

    #[test]
    fn loads_compare_throughput_and_single_requests_compare_time() {
        let api = measured(crate::OPERATIONS[0], vec![1.0; 300], 1);
        let direct = measured(crate::OPERATIONS[0], vec![1.0; 400], 1);
        assert_eq!(compare(&api, &direct)["ratio"].as_f64(), Some(0.75));
        let api = measured(crate::OPERATIONS[4], [500.0], 1);
        let direct = measured(crate::OPERATIONS[4], [400.0], 1);
        let c = compare(&api, &direct);
        assert_eq!(c["kind"], "single");
        assert_eq!(c["ratio"].as_f64(), Some(0.8));
    }

    #[test]
    fn failures_are_counted_and_a_few_kept() {
        let mut w = Worker::default();
        for i in 0..10 {
            w.fail(format!("409: {i}"));
        }
        w.ok(Duration::from_millis(3));
        let mut m = Measure::new("booking create");
        m.merge(w);
        assert_eq!(m.errors, 10);
        assert_eq!(m.error_samples.len(), 3);
        assert_eq!(m.latencies_ms, vec![3.0]);
    }
}
