//! DNS names and host patterns, validated once so every later use can trust them.
//!
//! A name that reaches a firewall rule, a shell command or an SNI extension must be a plain
//! LDH host name: labels of letters, digits and hyphens, 1–63 characters, not starting or
//! ending with a hyphen, 253 characters in all. Names are stored lowercase without a trailing
//! dot. A `*` is allowed only as the whole first label of a wildcard pattern.

use std::fmt;

use serde::Serialize;

/// Longest DNS name in its text form, without the trailing dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A valid, lowercase, absolute DNS host name without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DnsName(String);

/// Why a string is not a valid DNS host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty string.
    #[error("the name is empty")]
    Empty,
    /// Longer than 253 characters.
    #[error("the name is {0} characters long, the limit is 253")]
    TooLong(usize),
    /// An empty label (`a..b`, leading dot).
    #[error("the name has an empty label")]
    EmptyLabel,
    /// A label over 63 characters.
    #[error("label `{0}` is longer than 63 characters")]
    LabelTooLong(String),
    /// A character outside letters, digits and hyphen.
    #[error("label `{label}` holds {ch:?}; labels hold only letters, digits and hyphens")]
    BadCharacter {
        /// The label.
        label: String,
        /// The offending character.
        ch: char,
    },
    /// A label starting or ending with a hyphen.
    #[error("label `{0}` starts or ends with a hyphen")]
    EdgeHyphen(String),
    /// A single label where a full name is needed.
    #[error("the name has a single label; a fully qualified name has at least two")]
    SingleLabel,
    /// All-numeric top-level label (would read as an address).
    #[error("the last label `{0}` is all digits, which is not a top-level domain")]
    NumericTld(String),
    /// A `*` anywhere but as the whole first label.
    #[error("`*` is allowed only as the whole first label, as in *.example.no")]
    MisplacedWildcard,
}

impl DnsName {
    /// Parses a host name; a single trailing dot is accepted and dropped.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(trimmed.len()));
        }
        let mut labels = 0usize;
        let mut last = "";
        for label in trimmed.split('.') {
            check_label(label)?;
            labels += 1;
            last = label;
        }
        if labels < 2 {
            return Err(NameError::SingleLabel);
        }
        if last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::NumericTld(last.to_owned()));
        }
        Ok(DnsName(trimmed.to_ascii_lowercase()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` is `parent` or a name under it.
    pub fn is_within(&self, parent: &DnsName) -> bool {
        self.0 == parent.0
            || (self.0.len() > parent.0.len()
                && self.0.ends_with(&parent.0)
                && self.0.as_bytes().get(self.0.len() - parent.0.len() - 1) == Some(&b'.'))
    }

    /// True when `self` is exactly one label below `parent`, as a `*.parent` wildcard
    /// matches in TLS and DNS.
    pub fn is_one_label_below(&self, parent: &DnsName) -> bool {
        self.0.len() > parent.0.len() + 1
            && self.is_within(parent)
            && !self.0[..self.0.len() - parent.0.len() - 1].contains('.')
    }
}

fn check_label(label: &str) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if label.contains('*') {
        return Err(NameError::MisplacedWildcard);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong(label.to_owned()));
    }
    if let Some(ch) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(NameError::BadCharacter {
            label: label.to_owned(),
            ch,
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NameError::EdgeHyphen(label.to_owned()));
    }
    Ok(())
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read back from reports (a baseline): the same checks as [`DnsName::parse`], so a name in a
/// file is as valid as one from the data.
impl<'de> serde::Deserialize<'de> for DnsName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DnsName::parse(&text).map_err(|err| {
            serde::de::Error::custom(format!(
                "{:?} is not a host name: {err}",
                crate::term::sanitize(&text)
            ))
        })
    }
}

/// A host in the table: one name, or `*.base` for every name one label below `base`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// A single host name.
    Exact(DnsName),
    /// `*.base`: the names one label below `base`.
    Wildcard(DnsName),
}

impl HostPattern {
    /// Parses `name` or `*.name`.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        match text.strip_prefix("*.") {
            Some(base) => DnsName::parse(base).map(HostPattern::Wildcard),
            None => DnsName::parse(text).map(HostPattern::Exact),
        }
    }

    /// True for a `*.` pattern.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, HostPattern::Wildcard(_))
    }

    /// The name, or the base of a wildcard.
    pub fn base(&self) -> &DnsName {
        match self {
            HostPattern::Exact(name) | HostPattern::Wildcard(name) => name,
        }
    }

    /// True when the pattern covers `name`.
    pub fn matches(&self, name: &DnsName) -> bool {
        match self {
            HostPattern::Exact(exact) => exact == name,
            HostPattern::Wildcard(base) => name.is_one_label_below(base),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => write!(f, "{name}"),
            HostPattern::Wildcard(base) => write!(f, "*.{base}"),
        }
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names_and_lowercases_them() {
        let name = DnsName::parse("MvaMelding.api.Skatteetaten.no.").unwrap();
        assert_eq!(name.as_str(), "mvamelding.api.skatteetaten.no");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(DnsName::parse(""), Err(NameError::Empty));
        assert_eq!(DnsName::parse("a..no"), Err(NameError::EmptyLabel));
        assert_eq!(DnsName::parse("localhost"), Err(NameError::SingleLabel));
        assert!(matches!(
            DnsName::parse("a_b.no"),
            Err(NameError::BadCharacter { ch: '_', .. })
        ));
        assert!(matches!(
            DnsName::parse("-a.no"),
            Err(NameError::EdgeHyphen(_))
        ));
        assert!(matches!(
            DnsName::parse(&format!("{}.no", "a".repeat(64))),
            Err(NameError::LabelTooLong(_))
        ));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(matches!(DnsName::parse(&long), Err(NameError::TooLong(_))));
        assert!(matches!(
            DnsName::parse("1.2.3.4"),
            Err(NameError::NumericTld(_))
        ));
        assert_eq!(DnsName::parse("a.*.no"), Err(NameError::MisplacedWildcard));
        assert_eq!(
            HostPattern::parse("*a.example.no"),
            Err(NameError::MisplacedWildcard)
        );
        assert_eq!(
            HostPattern::parse("*.*.example.no"),
            Err(NameError::MisplacedWildcard)
        );
    }

    #[test]
    fn wildcard_matches_exactly_one_label() {
        let pattern = HostPattern::parse("*.api.example.no").unwrap();
        let one = DnsName::parse("x.api.example.no").unwrap();
        let two = DnsName::parse("y.x.api.example.no").unwrap();
        let base = DnsName::parse("api.example.no").unwrap();
        let sibling = DnsName::parse("x.xapi.example.no").unwrap();
        assert!(pattern.matches(&one));
        assert!(!pattern.matches(&two));
        assert!(!pattern.matches(&base));
        assert!(!pattern.matches(&sibling));
    }
}
