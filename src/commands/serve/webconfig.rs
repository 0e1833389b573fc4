//! `--web.config.file`: the Prometheus exporter-toolkit web configuration, so that the
//! exporter is protected the way every other exporter is (TLS, client certificates, basic
//! authentication with bcrypt hashes, security headers).
//!
//! The format is exporter-toolkit's (`docs/web-configuration.md` there), read strictly as its
//! `yaml.UnmarshalStrict` does: an unknown key is an error, not a silent no-op. Settings it
//! has that this exporter cannot honour (TLS below 1.2, cipher suites rustls does not offer,
//! client certificates that are requested but not verified, rate limits) are refused with a
//! message rather than ignored: a protection that silently does nothing is worse than none.
//! Relative file names are taken from the configuration file's directory, as the toolkit
//! does. The file is read at start and on every reload (SIGHUP, `POST /-/reload`); a bad
//! file at start stops the exporter, a bad file at reload keeps the configuration in force.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::http;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Largest web configuration file read.
pub const MAX_WEB_CONFIG_BYTES: usize = 1024 * 1024;

/// Why a web configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--web.config.file {file}: {reason}")]
pub struct WebConfigError {
    /// The file as given.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

/// The web configuration in force: TLS (if any), users, extra response headers.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// The TLS server configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User names and their bcrypt hashes; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<String>,
    burst: Option<u64>,
}

/// Headers the toolkit lets a configuration set, with the values it accepts (`None`: any).
const ALLOWED_HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Content-Security-Policy", None),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-XSS-Protection", None),
    ("Strict-Transport-Security", None),
];

impl WebConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let file = path.display().to_string();
        let error = |reason: String| WebConfigError {
            file: file.clone(),
            reason,
        };
        let bytes = crate::commands::read_limited(
            std::fs::File::open(path).map_err(|e| error(format!("cannot read it: {e}")))?,
            MAX_WEB_CONFIG_BYTES,
            &file,
            "web configuration",
        )
        .map_err(|e| error(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| error("not UTF-8".to_owned()))?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        WebConfig::parse(&text, dir).map_err(error)
    }

    /// Parses the text of a configuration whose relative file names are under `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| e.to_string())?
        };
        if let Some(limit) = &raw.rate_limit {
            let disabled = limit
                .interval
                .as_deref()
                .is_none_or(|i| i.trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0");
            if !disabled {
                return Err(
                    "rate_limit is not supported by egresscheck serve: /probe is already bounded by --max-concurrent-probes; put a reverse proxy in front for per-client limits".to_owned(),
                );
            }
            let _ = limit.burst;
        }
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users: user {user:?} contains ':', which basic authentication cannot carry"
                ));
            }
            hash.parse::<bcrypt::HashParts>().map_err(|_| {
                format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash ($2y$…); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                )
            })?;
        }
        let headers = headers(raw.http_server_config.as_ref())?;
        let tls = match raw.tls_server_config {
            Some(tls) if tls.enabled() => Some(Arc::new(tls.server_config(dir)?)),
            _ => None,
        };
        Ok(WebConfig {
            tls,
            users,
            headers,
        })
    }
}

fn headers(http: Option<&RawHttp>) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, String> {
    let Some(http) = http else {
        return Ok(Vec::new());
    };
    // HTTP/2 is a preference; this exporter answers HTTP/1.1, which every scraper speaks.
    let _ = http.http2;
    let mut out = Vec::new();
    for (name, value) in http.headers.iter().flatten() {
        let Some((canonical, allowed)) = ALLOWED_HEADERS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        else {
            let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "http_server_config.headers: {name:?} cannot be set; allowed: {}",
                names.join(", ")
            ));
        };
        if value.is_empty() {
            continue;
        }
        if let Some(allowed) = allowed
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
        {
            return Err(format!(
                "http_server_config.headers: {canonical} {value:?}; allowed: {}",
                allowed.join(", ")
            ));
        }
        let header_name = http::HeaderName::from_static_checked(canonical)?;
        let header_value = http::HeaderValue::from_str(value)
            .map_err(|_| format!("http_server_config.headers: {canonical}: not a header value"))?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

/// `HeaderName::from_bytes` with the error as text.
trait FromStaticChecked: Sized {
    fn from_static_checked(name: &str) -> Result<Self, String>;
}

impl FromStaticChecked for http::HeaderName {
    fn from_static_checked(name: &str) -> Result<Self, String> {
        http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))
    }
}

/// How the server treats client certificates (`client_auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    VerifyIfGiven,
    RequireAndVerify,
}

impl RawTls {
    /// The toolkit's rule: TLS is on when any certificate, key or client setting is given.
    fn enabled(&self) -> bool {
        self.cert.is_some()
            || self.key.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.client_ca.is_some()
            || self.client_ca_file.is_some()
            || self.client_auth_type.is_some()
    }

    fn server_config(&self, dir: &Path) -> Result<rustls::ServerConfig, String> {
        let provider = self.provider()?;
        let versions = self.versions()?;
        let auth = self.client_auth()?;
        let certs = self.certificates(dir)?;
        let key = self.private_key(dir)?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider.clone()))
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls_server_config: {e}"))?;
        let builder = match auth {
            ClientAuth::None => builder.with_no_client_auth(),
            auth => {
                let roots = self.client_roots(dir)?;
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::new(provider),
                );
                let verifier = if auth == ClientAuth::VerifyIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls_server_config: certificate and key do not fit: {e}"))?;
        config.ignore_client_order = self.prefer_server_cipher_suites.unwrap_or(true);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    fn certificates(&self, dir: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
        let pem = pem_source(self.cert.as_deref(), self.cert_file.as_deref(), dir, "cert")?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls_server_config: the certificate is not PEM: {e}"))?;
        if certs.is_empty() {
            return Err("tls_server_config: no certificate in the PEM given".to_owned());
        }
        Ok(certs)
    }

    fn private_key(&self, dir: &Path) -> Result<PrivateKeyDer<'static>, String> {
        let pem = pem_source(self.key.as_deref(), self.key_file.as_deref(), dir, "key")?;
        PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|e| format!("tls_server_config: no usable private key in the PEM: {e}"))
    }

    fn client_roots(&self, dir: &Path) -> Result<rustls::RootCertStore, String> {
        let pem = pem_source(
            self.client_ca.as_deref(),
            self.client_ca_file.as_deref(),
            dir,
            "client_ca",
        )
        .map_err(|_| {
            "tls_server_config: client_auth_type verifies client certificates, so client_ca_file (or client_ca) is needed".to_owned()
        })?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("tls_server_config: client CA: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("tls_server_config: client CA: {e}"))?;
        }
        if roots.is_empty() {
            return Err("tls_server_config: no certificate in the client CA".to_owned());
        }
        Ok(roots)
    }

    fn client_auth(&self) -> Result<ClientAuth, String> {
        match self.client_auth_type.as_deref().unwrap_or("NoClientCert") {
            "NoClientCert" | "" => {
                if self.client_ca_file.is_some() || self.client_ca.is_some() {
                    // The toolkit accepts a CA without a policy and then asks for nothing;
                    // say so rather than pretend clients are checked.
                    return Err("tls_server_config: client_ca_file is set but client_auth_type is NoClientCert, so no client certificate would be checked; set client_auth_type: RequireAndVerifyClientCert".to_owned());
                }
                if self
                    .client_allowed_sans
                    .as_ref()
                    .is_some_and(|s| !s.is_empty())
                {
                    return Err(
                        "tls_server_config: client_allowed_sans needs client certificates"
                            .to_owned(),
                    );
                }
                Ok(ClientAuth::None)
            }
            "VerifyClientCertIfGiven" => self.no_sans(ClientAuth::VerifyIfGiven),
            "RequireAndVerifyClientCert" => self.no_sans(ClientAuth::RequireAndVerify),
            other @ ("RequestClientCert" | "RequireAnyClientCert") => Err(format!(
                "tls_server_config: client_auth_type {other} accepts certificates without verifying them, which egresscheck does not do; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"
            )),
            other => Err(format!(
                "tls_server_config: unknown client_auth_type {other:?}; one of NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
            )),
        }
    }

    fn no_sans(&self, auth: ClientAuth) -> Result<ClientAuth, String> {
        if self
            .client_allowed_sans
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            return Err("tls_server_config: client_allowed_sans is not supported by egresscheck serve; issue client certificates from a CA of their own instead".to_owned());
        }
        Ok(auth)
    }

    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
        let rank = |field: &str, value: Option<&str>, default: u8| match value {
            None | Some("") => Ok(default),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(v @ ("TLS10" | "TLS11")) => Err(format!(
                "tls_server_config.{field}: {v} is not offered (TLS 1.2 and 1.3 only)"
            )),
            Some(v) => Err(format!(
                "tls_server_config.{field}: unknown version {v:?}; TLS12 or TLS13"
            )),
        };
        let min = rank("min_version", self.min_version.as_deref(), 12)?;
        let max = rank("max_version", self.max_version.as_deref(), 13)?;
        let versions: Vec<&'static rustls::SupportedProtocolVersion> =
            [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
                .into_iter()
                .filter(|(rank, _)| (min..=max).contains(rank))
                .map(|(_, version)| version)
                .collect();
        if versions.is_empty() {
            return Err("tls_server_config: min_version is above max_version".to_owned());
        }
        Ok(versions)
    }

    /// The ring provider, narrowed to `cipher_suites` (TLS 1.2 suites; TLS 1.3's are always
    /// kept, as Go does) and ordered by `curve_preferences`.
    fn provider(&self) -> Result<rustls::crypto::CryptoProvider, String> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(names) = self.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
            let mut chosen: Vec<rustls::SupportedCipherSuite> = provider
                .cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .copied()
                .collect();
            for name in names {
                let wanted = name.strip_suffix("_SHA256").map_or(name.as_str(), |n| {
                    if n.ends_with("CHACHA20_POLY1305") {
                        n
                    } else {
                        name.as_str()
                    }
                });
                let suite = provider
                    .cipher_suites
                    .iter()
                    .find(|s| {
                        s.suite().as_str().is_some_and(|s| {
                            s == name || s.strip_suffix("_SHA256") == Some(wanted)
                        })
                    })
                    .ok_or_else(|| {
                        format!("tls_server_config.cipher_suites: {name} is not offered (ECDHE with AES-GCM or ChaCha20-Poly1305 only)")
                    })?;
                chosen.push(*suite);
            }
            provider.cipher_suites = chosen;
        }
        if let Some(curves) = self.curve_preferences.as_ref().filter(|c| !c.is_empty()) {
            let mut groups = Vec::new();
            for curve in curves {
                let group = match curve.as_str() {
                    "X25519" => rustls::crypto::ring::kx_group::X25519,
                    "CurveP256" => rustls::crypto::ring::kx_group::SECP256R1,
                    "CurveP384" => rustls::crypto::ring::kx_group::SECP384R1,
                    other => {
                        return Err(format!(
                            "tls_server_config.curve_preferences: {other} is not offered; X25519, CurveP256 or CurveP384"
                        ));
                    }
                };
                groups.push(group);
            }
            provider.kx_groups = groups;
        }
        Ok(provider)
    }
}

/// The PEM text of an inline value or a file; exactly one must be given.
fn pem_source(
    inline: Option<&str>,
    file: Option<&str>,
    dir: &Path,
    field: &str,
) -> Result<Vec<u8>, String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!(
            "tls_server_config: give {field} or {field}_file, not both"
        )),
        (Some(text), None) => Ok(text.as_bytes().to_vec()),
        (None, Some(file)) => {
            let path = joined(dir, file);
            let shown = path.display().to_string();
            let reader = std::fs::File::open(&path)
                .map_err(|e| format!("tls_server_config.{field}_file {shown}: {e}"))?;
            crate::commands::read_limited(reader, MAX_WEB_CONFIG_BYTES, &shown, "PEM file")
                .map_err(|e| format!("tls_server_config.{field}_file: {e}"))
        }
        (None, None) => Err(format!(
            "tls_server_config: {field}_file (or {field}) is needed for TLS"
        )),
    }
}

/// A file name relative to the configuration's directory, as the toolkit joins them.
fn joined(dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$04$2VqfyR4Pu5bb3SPyrm7rpuqqz.ucvrE0IWBnClR23EnrMPo0SoQMG";

    fn parse(text: &str) -> Result<WebConfig, String> {
        WebConfig::parse(text, Path::new("/nonexistent"))
    }

    #[test]
    fn an_empty_file_is_plain_http_without_users() {
        let config = parse("").unwrap();
        assert!(config.tls.is_none() && config.users.is_empty() && config.headers.is_empty());
        let config = parse("tls_server_config: {}\n").unwrap();
        assert!(config.tls.is_none());
    }

    #[test]
    fn users_need_bcrypt_hashes_and_unknown_keys_are_refused() {
        let config = parse(&format!("basic_auth_users:\n  prometheus: {HASH}\n")).unwrap();
        assert_eq!(config.users.len(), 1);
        let err = parse("basic_auth_users:\n  prometheus: plaintext\n").unwrap_err();
        assert!(err.contains("not a bcrypt hash"), "{err}");
        let err = parse("basic_auth_user:\n  prometheus: x\n").unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn settings_that_cannot_be_honoured_are_refused_not_ignored() {
        for (text, needle) in [
            (
                "tls_server_config:\n  cert_file: a.pem\n  key_file: b.pem\n  min_version: TLS10\n",
                "TLS 1.2 and 1.3 only",
            ),
            ("rate_limit:\n  interval: 1s\n  burst: 5\n", "rate_limit"),
            (
                "tls_server_config:\n  client_auth_type: RequestClientCert\n",
                "without verifying",
            ),
            (
                "http_server_config:\n  headers:\n    X-Powered-By: me\n",
                "cannot be set",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                "allowed",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert!(parse("rate_limit:\n  interval: 0s\n").is_ok());
        let config = parse(
            "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n",
        )
        .unwrap();
        assert_eq!(config.headers.len(), 2);
    }

    #[test]
    fn tls_needs_a_certificate_and_a_key() {
        let err = parse("tls_server_config:\n  key_file: missing.pem\n").unwrap_err();
        assert!(err.contains("cert_file"), "{err}");
        let err =
            parse("tls_server_config:\n  cert_file: missing.pem\n  key_file: k.pem\n").unwrap_err();
        assert!(err.contains("/nonexistent/missing.pem"), "{err}");
    }
}
