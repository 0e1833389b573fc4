//! `--label KEY=VALUE`: what the admin says about where a run happened (`site=oslo`,
//! `node=$NODE_NAME`), carried into every output so that results from fifty sites can be
//! told apart once they meet in one Prometheus, one log pipeline or one CI dashboard.
//!
//! Keys are Prometheus label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, which
//! Prometheus keeps for itself), since the metrics are where they are most constrained; names
//! the outputs already use (`environment`, `host`, `code`, …) and the ones Prometheus sets
//! (`job`, `instance`) are refused rather than silently overwritten. Values are any text
//! without control characters, at most [`MAX_VALUE_CHARS`]; each output escapes them its own
//! way.

use serde::Serialize;
use serde::ser::SerializeMap;

/// Most labels on one run.
pub const MAX_LABELS: usize = 32;
/// Longest label value, in characters.
pub const MAX_VALUE_CHARS: usize = 256;
/// Label names an output already uses, or Prometheus sets itself.
pub const RESERVED: &[&str] = &[
    "environment",
    "service",
    "host",
    "address",
    "port",
    "code",
    "severity",
    "provider",
    "data_version",
    "version",
    "outcome",
    "le",
    "quantile",
    "job",
    "instance",
];

/// One label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// A valid Prometheus label name.
    pub name: String,
    /// The value, without control characters.
    pub value: String,
}

/// The labels of a run, in the order given; serialised as a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Vec<Label>);

/// A `--label` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--label {shown}: {reason}")]
pub struct LabelError {
    /// The argument as given, made safe to print.
    pub shown: String,
    /// What is wrong.
    pub reason: String,
}

impl Labels {
    /// Parses `KEY=VALUE` arguments.
    pub fn parse(arguments: &[String]) -> Result<Labels, LabelError> {
        let mut labels: Vec<Label> = Vec::new();
        for text in arguments {
            let error = |reason: String| LabelError {
                shown: crate::term::sanitize(text),
                reason,
            };
            if labels.len() == MAX_LABELS {
                return Err(error(format!("at most {MAX_LABELS} labels")));
            }
            let (name, value) = text
                .split_once('=')
                .ok_or_else(|| error("write KEY=VALUE, e.g. site=oslo".to_owned()))?;
            check_name(name).map_err(error)?;
            if RESERVED.contains(&name) {
                return Err(error(format!(
                    "{name} is a label egresscheck's outputs (or Prometheus) already set; choose another name"
                )));
            }
            if labels.iter().any(|l| l.name == name) {
                return Err(error(format!("{name} is given twice")));
            }
            if value
                .chars()
                .any(|c| c.is_control() || crate::term::is_bidi_control(c))
            {
                return Err(error("the value holds control characters".to_owned()));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(error(format!(
                    "the value is longer than {MAX_VALUE_CHARS} characters"
                )));
            }
            labels.push(Label {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
        Ok(Labels(labels))
    }

    /// The labels, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `site=oslo node=a`: for one-line texts.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for label in &self.0 {
            map.serialize_entry(&label.name, &label.value)?;
        }
        map.end()
    }
}

/// A Prometheus label name, not one of Prometheus's own (`__…`).
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{:?} is not a label name: letters, digits and _, not starting with a digit",
            crate::term::sanitize(name)
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "{name}: names starting with __ are Prometheus's own"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Labels, LabelError> {
        Labels::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn labels_parse_in_order_and_serialise_as_an_object() {
        let labels = parse(&["site=oslo", "node=node-1.example", "zone_2=a=b", "empty="]).unwrap();
        assert_eq!(
            labels.to_text(),
            "site=oslo node=node-1.example zone_2=a=b empty="
        );
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            r#"{"site":"oslo","node":"node-1.example","zone_2":"a=b","empty":""}"#
        );
    }

    #[test]
    fn bad_names_reserved_names_and_control_characters_are_refused() {
        for (args, needle) in [
            (vec!["site"], "KEY=VALUE"),
            (vec!["1site=a"], "not a label name"),
            (vec!["si-te=a"], "not a label name"),
            (vec!["=a"], "not a label name"),
            (vec!["__name__=a"], "Prometheus's own"),
            (vec!["host=a"], "already set"),
            (vec!["instance=a"], "already set"),
            (vec!["site=a", "site=b"], "twice"),
            (vec!["site=a\nb"], "control"),
            (vec!["site=a\u{202e}b"], "control"),
        ] {
            let err = parse(&args).unwrap_err().to_string();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
        let long = format!("site={}", "x".repeat(MAX_VALUE_CHARS + 1));
        assert!(parse(&[&long]).is_err());
    }
}
