//! Structured logs of the exporter: one line per event, logfmt or JSON, on standard error.
//!
//! An exporter's logs are read by log pipelines (journald, Loki, Elasticsearch) more than by
//! people, so every line is key-value pairs with a level, a time and a message, as the Go
//! exporters' `--log.format logfmt|json` writes them. Values that came from a client (a
//! query, a peer address) are escaped by the format, never written raw: a client cannot
//! forge a line.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;

/// How lines are written (`--log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `time=… level=info msg="…" key=value`.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Severity of a line (`--log.level` sets the least one written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Per-scrape detail.
    Debug,
    /// Start, stop, reloads.
    Info,
    /// Something a client or the admin should look at.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A value of a log line.
#[derive(Debug, Clone)]
pub enum Value {
    /// Text, escaped by the format.
    Text(String),
    /// A number.
    Number(f64),
    /// A count.
    Count(u64),
    /// A flag.
    Flag(bool),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Number(value)
    }
}

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        Value::Count(value)
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Self {
        Value::Count(u64::try_from(value).unwrap_or(u64::MAX))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Flag(value)
    }
}

/// The exporter's logger: a level, a format and a sink, shared by every task.
pub struct Logger {
    level: Level,
    format: LogFormat,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// A logger writing lines of `level` and above to `sink`.
    pub fn new(level: Level, format: LogFormat, sink: Box<dyn Write + Send>) -> Logger {
        Logger {
            level,
            format,
            sink: Mutex::new(sink),
        }
    }

    /// True when lines of `level` are written (to skip building them otherwise).
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// Writes one line. A sink that fails is ignored: logging never stops the exporter.
    pub fn log(&self, level: Level, msg: &str, fields: &[(&str, Value)]) {
        if !self.enabled(level) {
            return;
        }
        let time = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let line = match self.format {
            LogFormat::Logfmt => logfmt_line(&time, level, msg, fields),
            LogFormat::Json => json_line(&time, level, msg, fields),
        };
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(line.as_bytes());
            let _ = sink.flush();
        }
    }
}

fn logfmt_line(time: &str, level: Level, msg: &str, fields: &[(&str, Value)]) -> String {
    let mut line = format!(
        "time={time} level={} msg={}",
        level.as_str(),
        logfmt_text(msg)
    );
    for (key, value) in fields {
        let _ = write!(line, " {key}=");
        match value {
            Value::Text(text) => line.push_str(&logfmt_text(text)),
            Value::Number(n) => {
                let _ = write!(line, "{n}");
            }
            Value::Count(n) => {
                let _ = write!(line, "{n}");
            }
            Value::Flag(b) => {
                let _ = write!(line, "{b}");
            }
        }
    }
    line.push('\n');
    line
}

/// A logfmt value: bare when it is safe, else quoted with `\"`, `\\` and control characters
/// escaped, so that a value never ends the line or starts another key.
fn logfmt_text(text: &str) -> String {
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if bare {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || crate::term::is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_line(time: &str, level: Level, msg: &str, fields: &[(&str, Value)]) -> String {
    let mut object = serde_json::Map::new();
    object.insert("time".to_owned(), time.into());
    object.insert("level".to_owned(), level.as_str().into());
    object.insert("msg".to_owned(), msg.into());
    for (key, value) in fields {
        let value = match value {
            Value::Text(text) => serde_json::Value::from(text.as_str()),
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Count(n) => serde_json::Value::from(*n),
            Value::Flag(b) => serde_json::Value::from(*b),
        };
        object.insert((*key).to_owned(), value);
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn written(format: LogFormat, level: Level) -> String {
        let sink = Sink::default();
        let logger = Logger::new(level, format, Box::new(sink.clone()));
        logger.log(Level::Debug, "scrape", &[("env", "prod".into())]);
        logger.log(
            Level::Info,
            "probe finished",
            &[
                ("query", "host=a\"b\nlevel=error msg=forged".into()),
                ("duration_seconds", 0.25.into()),
                ("targets", 3usize.into()),
                ("success", true.into()),
            ],
        );
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn logfmt_lines_escape_client_values_and_honour_the_level() {
        let text = written(LogFormat::Logfmt, Level::Info);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("level=info msg=\"probe finished\""), "{text}");
        assert!(
            text.contains(r#"query="host=a\"b\nlevel=error msg=forged""#),
            "{text}"
        );
        assert!(text.contains("duration_seconds=0.25 targets=3 success=true"));
        let text = written(LogFormat::Logfmt, Level::Debug);
        assert!(text.starts_with("time=") && text.contains("level=debug msg=scrape env=prod"));
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let text = written(LogFormat::Json, Level::Debug);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["level"], "debug");
        assert_eq!(lines[1]["query"], "host=a\"b\nlevel=error msg=forged");
        assert_eq!(lines[1]["targets"], 3);
    }
}
