//! The data file as written: serde structs that mirror the TOML, with spans.
//!
//! Values that need checking beyond their TOML type (addresses, names, ports, dates,
//! references) are kept as spanned text or numbers here so that the validator can report
//! every problem with its own line and column, instead of serde stopping at the first.

use serde::Deserialize;
use toml::Spanned;

/// Spanned string.
pub(crate) type Text = Spanned<String>;

/// Only the `schema` key, read first so that an unsupported schema is reported as such and
/// not as a pile of unknown keys.
#[derive(Debug, Deserialize)]
pub(crate) struct SchemaProbe {
    pub schema: Option<Spanned<toml::Value>>,
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawFile {
    #[allow(dead_code)] // checked by `SchemaProbe` before this struct is read
    pub schema: Spanned<toml::Value>,
    pub data: Spanned<RawData>,
    #[serde(default)]
    pub source: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub environment: Vec<Spanned<RawEnvironment>>,
    #[serde(default)]
    pub service: Vec<Spanned<RawService>>,
    #[serde(default)]
    pub endpoint: Vec<Spanned<RawEndpoint>>,
    #[serde(default)]
    pub subnet: Vec<Spanned<RawSubnet>>,
    #[serde(default)]
    pub legacy: Vec<Spanned<RawLegacy>>,
    #[serde(default)]
    pub authorization_server: Vec<Spanned<RawAuthorizationServer>>,
    #[serde(default)]
    pub broad_prefix: Vec<Spanned<RawBroadPrefix>>,
    #[serde(default)]
    pub note: Vec<Spanned<RawNote>>,
    #[serde(default)]
    pub changelog: Vec<Spanned<RawChangelog>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawData {
    pub provider: Text,
    pub version: Text,
    pub primary_source: Text,
    #[serde(default)]
    pub prefer_hostname_rules: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawSource {
    pub id: Text,
    pub publisher: Text,
    pub title: Text,
    pub url: Text,
    pub commit: Option<Text>,
    pub document_date: Option<Spanned<toml::Value>>,
    pub retrieved: Option<Spanned<toml::Value>>,
    pub note: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawEnvironment {
    pub id: Text,
    pub name: Text,
    #[serde(default)]
    pub aliases: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawService {
    pub id: Text,
    pub name: Text,
    pub operator: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawEndpoint {
    pub environment: Text,
    pub service: Text,
    pub host: Text,
    #[serde(default)]
    pub probe: Vec<Text>,
    #[serde(default)]
    pub ipv4: Vec<Text>,
    #[serde(default)]
    pub ipv6: Vec<Text>,
    pub ports: Spanned<Vec<Spanned<i64>>>,
    pub protocol: Option<Text>,
    pub source: Text,
    pub note: Option<Text>,
    pub http: Option<Spanned<RawHttp>>,
}

/// An endpoint's `http` table: one request after TLS, and what its answer must be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawHttp {
    pub method: Option<Text>,
    pub path: Text,
    #[serde(default)]
    pub expect_status: Vec<Spanned<i64>>,
    pub expect_header: Option<Text>,
    pub expect_json_key: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawSubnet {
    pub environment: Text,
    pub service: Text,
    pub cidr: Text,
    pub ports: Spanned<Vec<Spanned<i64>>>,
    pub protocol: Option<Text>,
    pub covers: Text,
    pub source: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawLegacy {
    pub environment: Text,
    pub service: Text,
    pub host: Text,
    #[serde(default)]
    pub ipv4: Vec<Text>,
    #[serde(default)]
    pub ipv6: Vec<Text>,
    pub ports: Spanned<Vec<Spanned<i64>>>,
    pub protocol: Option<Text>,
    pub sunset: Spanned<toml::Value>,
    pub sunset_basis: Text,
    pub replaced_by: Option<Text>,
    pub source: Text,
    pub note: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawAuthorizationServer {
    pub environment: Text,
    pub service: Text,
    pub metadata_url: Text,
    pub issuer: Text,
    #[serde(default)]
    pub certificate_issuers: Vec<Text>,
    #[serde(default)]
    pub api_scope_prefixes: Vec<Text>,
    pub api_audience: Option<Text>,
    pub source: Text,
    pub note: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawBroadPrefix {
    pub cidr: Text,
    pub opens: Text,
    pub source: Text,
    pub note: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawNote {
    pub text: Text,
    pub source: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct RawChangelog {
    pub version: Text,
    pub changes: Vec<Text>,
}
