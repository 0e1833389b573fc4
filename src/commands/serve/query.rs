//! What a scrape may ask: `/probe?env=…&service=…&host=…&debug=true`, and its deadline.
//!
//! Only words that select from the data file are accepted, and every one is checked against
//! it before anything is probed: an unknown parameter (`target`, `module`, `address`, `port`)
//! or a name, environment or service the data file does not hold is a 400 with one line.
//! This is what keeps the exporter from being a relay: nothing in a request is ever an
//! address or a port to connect to.

use std::time::Duration;

use hyper::HeaderMap;

use crate::catalog::Catalog;
use crate::commands::CommandError;
use crate::commands::pipeline::{PlannedRun, Scope};

/// Most parameters in one query.
pub const MAX_PARAMETERS: usize = 256;
/// The header Prometheus sends with its scrape timeout.
pub const TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";
/// Longest echo of a client's value in an error line.
const MAX_ECHO: usize = 120;
/// Longest error line.
const MAX_LINE: usize = 2048;

/// A valid scrape: its plan, and whether the debug view is wanted.
#[derive(Debug)]
pub struct ScrapeRequest {
    /// What to probe, already planned against the data file.
    pub planned: PlannedRun,
    /// The selection as asked (for the log).
    pub scope: Scope,
    /// `debug=true`.
    pub debug: bool,
}

impl ScrapeRequest {
    /// Parses and checks `query` against `catalog`; the error is one line for a 400.
    pub fn parse(query: &str, catalog: &Catalog) -> Result<ScrapeRequest, String> {
        let mut scope = Scope::default();
        let mut debug = false;
        for (key, value) in parameters(query)? {
            if value.is_empty() && matches!(key.as_str(), "env" | "service" | "host") {
                return Err(format!("{key}= is empty"));
            }
            match key.as_str() {
                "env" => scope.environments.push(value),
                "service" => scope.services.push(value),
                "host" => scope.hosts.push(value),
                "debug" => {
                    debug = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" | "" => false,
                        _ => return Err(format!("debug={}: true or false", echo(&value))),
                    }
                }
                "target" | "module" => {
                    return Err(format!(
                        "{key}= is not taken: this exporter probes only the names of its data file; select them with env=, service= and host="
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown parameter {}: /probe takes env, service, host (each repeatable) and debug",
                        echo(other)
                    ));
                }
            }
        }
        let planned = PlannedRun::new(catalog, &scope).map_err(|err| one_line(&err))?;
        Ok(ScrapeRequest {
            planned,
            scope,
            debug,
        })
    }
}

/// The run's deadline: the scrape timeout Prometheus announces minus `offset` (half the
/// timeout if the offset would leave less than that), at most `cap`; `cap` when the request
/// names no timeout. Then `reserve` is kept back for cut-short steps to be recorded and the
/// answer written (see [`deadline_reserve`]).
pub fn deadline(headers: &HeaderMap, offset: Duration, cap: Duration) -> Result<Duration, String> {
    let Some(value) = headers.get(TIMEOUT_HEADER) else {
        return Ok(cap.saturating_sub(deadline_reserve(cap)));
    };
    let seconds = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| format!("{TIMEOUT_HEADER}: not a positive number of seconds"))?;
    let timeout = Duration::from_secs_f64(seconds.min(cap.as_secs_f64().max(1.0) * 2.0));
    let after_offset = match timeout.checked_sub(offset) {
        Some(left) if left >= timeout / 2 => left,
        _ => timeout / 2,
    };
    let budget = after_offset.min(cap);
    Ok(budget.saturating_sub(deadline_reserve(budget)))
}

/// Kept back from a scrape's budget: the probe engine takes up to a quarter of its deadline
/// (at most 0.5 s) after it to record what was cut short, so a run given `budget − reserve`
/// ends within `budget`.
pub fn deadline_reserve(budget: Duration) -> Duration {
    crate::probe::engine::DEADLINE_GRACE.min(budget / 5)
}

/// The parameters of a query string, percent-decoded.
fn parameters(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMETERS {
            return Err(format!("more than {MAX_PARAMETERS} parameters"));
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode(key)?, decode(value)?));
    }
    Ok(out)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the result
/// must be UTF-8.
fn decode(text: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [input.next(), input.next()];
                let value = match hex {
                    [Some(high), Some(low)] => {
                        hex_value(high).zip(hex_value(low)).map(|(h, l)| h * 16 + l)
                    }
                    _ => None,
                };
                bytes.push(value.ok_or_else(|| "a malformed %-escape in the query".to_owned())?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).map_err(|_| "the query is not UTF-8".to_owned())
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A client's value, made safe and short for an error line.
fn echo(value: &str) -> String {
    let clean = crate::term::sanitize(value);
    let mut short: String = clean.chars().take(MAX_ECHO).collect();
    if short.len() < clean.len() {
        short.push('…');
    }
    format!("\"{short}\"")
}

/// A command's error as one bounded line, in a scrape's words.
fn one_line(err: &CommandError) -> String {
    let text = crate::term::sanitize(&err.to_string()).replace(['\n', '\r'], "; ");
    let text = text
        .replacen("--env ", "env=", 1)
        .replacen("--service ", "service=", 1)
        .replacen("--host ", "host=", 1);
    let mut line: String = text.chars().take(MAX_LINE).collect();
    if line.len() < text.len() {
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(value) = value {
            map.insert(TIMEOUT_HEADER, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_deadline_follows_the_scrape_timeout_minus_the_offset_and_a_reserve() {
        let offset = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        let ms = |h: Option<&str>| deadline(&headers(h), offset, cap).unwrap().as_millis();
        // 10 s − 0.5 s offset = 9.5 s, less a 0.5 s reserve.
        assert_eq!(ms(Some("10")), 9000);
        // 2 s − 0.5 s = 1.5 s, less a fifth.
        assert_eq!(ms(Some("2")), 1200);
        // An offset larger than half the timeout: half the timeout.
        assert_eq!(ms(Some("0.8")), 320);
        // Capped by --deadline.
        assert_eq!(
            deadline(&headers(Some("120")), offset, Duration::from_secs(5))
                .unwrap()
                .as_millis(),
            4500
        );
        // No header: the cap.
        assert_eq!(ms(None), 59_500);
        for bad in ["", "ten", "-1", "0", "NaN", "inf"] {
            assert!(deadline(&headers(Some(bad)), offset, cap).is_err(), "{bad}");
        }
    }

    #[test]
    fn queries_decode_and_unknown_parameters_are_refused() {
        assert_eq!(
            parameters("env=prod&host=a.example.no&x=%41+b&&debug").unwrap(),
            vec![
                ("env".to_owned(), "prod".to_owned()),
                ("host".to_owned(), "a.example.no".to_owned()),
                ("x".to_owned(), "A b".to_owned()),
                ("debug".to_owned(), String::new()),
            ]
        );
        assert!(parameters("env=%G1").is_err());
        assert!(parameters("env=%C3").is_err());
        let many = vec!["env=prod"; MAX_PARAMETERS + 1].join("&");
        assert!(parameters(&many).unwrap_err().contains("more than"));
        let long = "x".repeat(5000);
        let echoed = echo(&long);
        assert!(echoed.chars().count() < MAX_ECHO + 4, "{echoed}");
        assert_eq!(echo("a\u{1b}[31m"), "\"a\\u{001b}[31m\"");
    }
}
