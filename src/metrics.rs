//! Prometheus counters for `/metrics`: requests by route and status, request time by route,
//! and authentication failures by reason. Kept in-process and rendered as text.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, (f64, u64)>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn record_request(&self, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .entry((route.to_string(), status))
            .or_default() += 1;
        let mut d = self.durations.lock();
        let e = d.entry(route.to_string()).or_default();
        e.0 += seconds;
        e.1 += 1;
    }

    pub fn record_auth_failure(&self, reason: &'static str) {
        *self.auth_failures.lock().entry(reason).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP fulcrum_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE fulcrum_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().iter() {
            let _ = writeln!(
                out,
                "fulcrum_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP fulcrum_http_request_duration_seconds Time spent serving requests by route.\n",
        );
        out.push_str("# TYPE fulcrum_http_request_duration_seconds summary\n");
        for (route, (sum, count)) in self.durations.lock().iter() {
            let _ = writeln!(
                out,
                "fulcrum_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "fulcrum_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        out.push_str("# HELP fulcrum_auth_failures_total Refused credentials by reason.\n");
        out.push_str("# TYPE fulcrum_auth_failures_total counter\n");
        for (reason, n) in self.auth_failures.lock().iter() {
            let _ = writeln!(
                out,
                "fulcrum_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out
    }
}
