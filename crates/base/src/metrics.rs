//! A tiny writer of the Prometheus text exposition format (version 0.0.4), so every node can
//! serve `/metrics` without a metrics framework: callers snapshot their counters and write
//! them here on each scrape.

use std::fmt::Write;

/// Builds one exposition document.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
    declared: Vec<String>,
}

/// Metric kinds used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes one sample; the `# HELP`/`# TYPE` header is written before the first sample of a
    /// name. Label values are escaped; names must be valid metric names (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub fn sample(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        if !self.declared.iter().any(|d| d == name) {
            let kind = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(self.text, "# HELP {name} {help}");
            let _ = writeln!(self.text, "# TYPE {name} {kind}");
            self.declared.push(name.to_owned());
        }
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        if value.is_finite() {
            let _ = writeln!(self.text, " {value}");
        } else {
            let _ = writeln!(self.text, " NaN");
        }
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_headers_once_and_escapes_labels() {
        let mut e = Exposition::new();
        e.sample("x_total", Kind::Counter, "Things.", &[("cam", "a\"b")], 3.0);
        e.sample("x_total", Kind::Counter, "Things.", &[("cam", "c")], 4.5);
        e.sample("up", Kind::Gauge, "Up.", &[], f64::NAN);
        let t = e.finish();
        assert_eq!(
            t,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{cam=\"a\\\"b\"} 3\n\
             x_total{cam=\"c\"} 4.5\n# HELP up Up.\n# TYPE up gauge\nup NaN\n"
        );
    }
}
