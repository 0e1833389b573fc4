//! Parsers of the command line's durations and counts, one per kind of value.
//!
//! Every duration and every count is refused by one rule with one style of message: the
//! parser reads the text and checks the range with the same functions
//! [`ProbeOptions::validate`](crate::probe::options::ProbeOptions::validate) uses, so clap
//! reports `invalid value '0s' for '--timeout <DURATION>': must be between 10ms and 5m`
//! whether the value is malformed, zero, or merely too small.

use std::time::Duration;

use crate::probe::options::{count_in_range, duration_in_range};

/// A parser of durations between `min` and `max` (`5`, `5s`, `500ms`, `2m`).
pub fn duration_between(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value = parse_duration(text)?;
        duration_in_range(value, min, max)?;
        Ok(value)
    }
}

/// A parser of whole numbers between `min` and `max`.
pub fn count_between<T>(
    min: T,
    max: T,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    count_between_with(move || (min, max, ""))
}

/// A parser of whole numbers whose bounds (and the reason for them) are known only when the
/// command line is read, such as the open-file limit.
pub fn count_between_with<T, F>(
    bounds: F,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
    F: Fn() -> (T, T, &'static str) + Clone + Send + Sync + 'static,
{
    move |text| {
        let value: T = text
            .trim()
            .parse()
            .map_err(|_| "not a whole number".to_owned())?;
        let (min, max, why) = bounds();
        count_in_range(value, min, max, why)?;
        Ok(value)
    }
}

/// `5`, `5s`, `500ms`, `2m`, `1.5s`: a duration (zero and negative values parse, and are
/// then refused by the range).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const SYNTAX: &str = "not a duration: write e.g. 5s, 500ms or 2m";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| SYNTAX.to_owned())?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(SYNTAX.to_owned()),
    };
    // Beyond every range, yet still a duration: the range check says what is allowed.
    Duration::try_from_secs_f64(seconds.min(1e9)).map_err(|_| SYNTAX.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_then_meet_one_range_check() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        for bad in ["", "-1s", "5 hours", "s", "1e9", "five"] {
            assert_eq!(
                parse_duration(bad).unwrap_err(),
                "not a duration: write e.g. 5s, 500ms or 2m",
                "{bad}"
            );
        }
        let timeout = duration_between(Duration::from_millis(10), Duration::from_secs(300));
        // Zero and too short: the same rule, the same words.
        for short in ["0s", "1ms", "0"] {
            assert_eq!(
                timeout(short).unwrap_err(),
                "must be between 10ms and 5m",
                "{short}"
            );
        }
        assert_eq!(timeout("6m").unwrap_err(), "must be between 10ms and 5m");
        assert_eq!(timeout("2s").unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn counts_parse_then_meet_one_range_check() {
        let days = count_between(0_i64, 3650);
        assert_eq!(days("21").unwrap(), 21);
        assert_eq!(days("4000").unwrap_err(), "must be between 0 and 3650");
        assert_eq!(days("-1").unwrap_err(), "must be between 0 and 3650");
        assert_eq!(days("lots").unwrap_err(), "not a whole number");
        let sockets = count_between_with(|| (1_usize, 768, " (the open-file limit)"));
        assert_eq!(
            sockets("0").unwrap_err(),
            "must be between 1 and 768 (the open-file limit)"
        );
    }
}
