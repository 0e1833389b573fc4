//! Which proxy to use: the proxy URL (`--proxy`, `HTTPS_PROXY`), `NO_PROXY`, and the rule
//! that the flag beats the environment.
//!
//! Nothing here reads the environment: the CLI passes `HTTPS_PROXY` and `NO_PROXY` in
//! ([`ProxySettings::from_sources`]), so the rules are tested without touching the process.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::catalog::DnsName;
use crate::term::sanitize;

/// Port used when a proxy URL names none (curl's default).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// An HTTP proxy: `http://[user:pass@]host[:port]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    host: String,
    port: u16,
    /// `Basic …` credentials, when the URL has them. Never shown.
    authorization: Option<String>,
}

/// Why a proxy URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("proxy URL {url:?}: {reason}")]
pub struct ProxyUrlError {
    /// The URL with any password replaced by `***`.
    pub url: String,
    /// What is wrong and what is accepted.
    pub reason: String,
}

impl ProxyConfig {
    /// Parses `http://[user:pass@]host[:port][/]`; a URL without a scheme is taken as
    /// `http://`, as curl does. User and password may be percent-encoded.
    pub fn parse(url: &str) -> Result<Self, ProxyUrlError> {
        let fail = |reason: &str| ProxyUrlError {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        let rest = match trimmed.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(fail(&format!(
                    "scheme {scheme:?} is not supported; give an HTTP proxy as http://[user:pass@]host:port"
                )));
            }
            None => trimmed,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(fail(
                "a proxy URL has no path; give http://[user:pass@]host:port",
            ));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport).map_err(|reason| fail(&reason))?;
        let authorization = match userinfo {
            None => None,
            Some(userinfo) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let mut credentials = percent_decode(user).map_err(|r| fail(&r))?;
                credentials.push(b':');
                credentials.extend(percent_decode(pass).map_err(|r| fail(&r))?);
                Some(format!("Basic {}", base64(&credentials)))
            }
        };
        Ok(ProxyConfig {
            host,
            port,
            authorization,
        })
    }

    /// The proxy's host (a name or an address).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when the URL carried credentials.
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
    }

    /// The `Proxy-Authorization` header value (`Basic …`), when the URL carried credentials.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The proxy's addresses: the host itself when it is an address, else the system
    /// resolver's answer (the proxy is local configuration, not what the probe tests).
    pub(crate) async fn addresses(&self) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        match tokio::net::lookup_host((self.host.as_str(), self.port)).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    Err(format!("the proxy host {} has no address", self.host))
                } else {
                    Ok(addrs)
                }
            }
            Err(err) => Err(format!(
                "cannot resolve the proxy host {}: {}",
                self.host,
                sanitize(&err.to_string())
            )),
        }
    }
}

/// `host:port` without credentials, IPv6 in brackets.
impl fmt::Display for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Never shows the credentials.
impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing `]`")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`[{host}]` is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected `:port` after `]`".into()),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((_, _)) if hostport.matches(':').count() > 1 => {
                return Err("write an IPv6 proxy address in brackets: http://[::1]:3128".into());
            }
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the proxy host is missing".into());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(format!(
            "`{}` is not a host name or address",
            sanitize(host)
        ));
    }
    let port = match port {
        None => DEFAULT_PROXY_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("port `{}` is not 1-65535", sanitize(text))),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` in the credentials must be followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization: Basic`.
fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The URL with the password (if any) replaced, for messages.
fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            sanitize(&format!("{scheme}{user}:***@{hostport}"))
        }
        None => sanitize(url),
    }
}

/// `NO_PROXY`: names that are connected to directly even when a proxy is set.
///
/// Entries are separated by commas: `*` matches every name; `example.no`, `.example.no` and
/// `*.example.no` match `example.no` and every name under it; a `:port` suffix is ignored.
/// Address and CIDR entries never match, since the probe always connects by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    domains: Vec<String>,
}

impl NoProxy {
    /// Parses a `NO_PROXY` value.
    pub fn parse(value: &str) -> Self {
        let mut no_proxy = NoProxy::default();
        for entry in value.split([',', ' ', '\t']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                no_proxy.all = true;
                continue;
            }
            let entry = entry
                .strip_prefix("*.")
                .or_else(|| entry.strip_prefix('.'))
                .unwrap_or(entry);
            let host = match entry.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
                _ => entry,
            };
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if !host.is_empty() {
                no_proxy.domains.push(host);
            }
        }
        no_proxy
    }

    /// True when `name` bypasses the proxy.
    pub fn matches(&self, name: &DnsName) -> bool {
        if self.all {
            return true;
        }
        let name = name.as_str();
        self.domains.iter().any(|domain| {
            name == domain
                || (name.len() > domain.len()
                    && name.ends_with(domain.as_str())
                    && name.as_bytes().get(name.len() - domain.len() - 1) == Some(&b'.'))
        })
    }
}

/// Proxy-related environment, read by the CLI and passed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `https_proxy`, else `HTTPS_PROXY` (curl reads the lowercase one first).
    pub https_proxy: Option<String>,
    /// `no_proxy`, else `NO_PROXY`.
    pub no_proxy: Option<String>,
}

/// Which proxy a run uses and which names bypass it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// The proxy, if any.
    pub proxy: Option<ProxyConfig>,
    /// Names that bypass it.
    pub no_proxy: NoProxy,
}

impl ProxySettings {
    /// The flag beats the environment; `--no-proxy` ignores both the environment and
    /// `NO_PROXY`. An empty variable counts as unset.
    pub fn from_sources(
        flag: Option<&str>,
        disabled: bool,
        env: &ProxyEnv,
    ) -> Result<Self, ProxyUrlError> {
        if disabled {
            return Ok(ProxySettings::default());
        }
        fn non_empty(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.trim().is_empty())
        }
        let proxy = match flag.or(non_empty(&env.https_proxy)) {
            Some(url) => Some(ProxyConfig::parse(url)?),
            None => None,
        };
        let no_proxy = non_empty(&env.no_proxy)
            .map(NoProxy::parse)
            .unwrap_or_default();
        Ok(ProxySettings { proxy, no_proxy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    #[test]
    fn urls_parse_with_and_without_credentials() {
        let proxy = ProxyConfig::parse("http://proxy.corp.example:3128").unwrap();
        assert_eq!(proxy.to_string(), "proxy.corp.example:3128");
        assert!(!proxy.has_credentials());
        let proxy = ProxyConfig::parse("http://us%40er:p%3Ass@10.0.0.1:8080/").unwrap();
        assert_eq!(proxy.to_string(), "10.0.0.1:8080");
        assert_eq!(
            proxy.authorization.as_deref(),
            Some(format!("Basic {}", base64(b"us@er:p:ss")).as_str())
        );
        let proxy = ProxyConfig::parse("http://[::1]:3128").unwrap();
        assert_eq!(proxy.host(), "::1");
        assert_eq!(proxy.to_string(), "[::1]:3128");
        let proxy = ProxyConfig::parse("proxy:3128").unwrap();
        assert_eq!((proxy.host(), proxy.port()), ("proxy", 3128));
        let proxy = ProxyConfig::parse("http://proxy").unwrap();
        assert_eq!(proxy.port(), DEFAULT_PROXY_PORT);
    }

    #[test]
    fn bad_urls_are_rejected_without_showing_the_password() {
        for (url, needle) in [
            ("https://proxy:3128", "not supported"),
            ("socks5://proxy:1080", "not supported"),
            ("http://proxy:0", "1-65535"),
            ("http://proxy:99999", "1-65535"),
            ("http://proxy:3128/path", "no path"),
            ("http://::1:3128", "brackets"),
            ("http://[::1:3128", "closing"),
            ("http://:3128", "missing"),
            ("http://pro xy:3128", "not a host"),
            ("http://u:p%zz@proxy:3128", "two hex digits"),
        ] {
            let err = ProxyConfig::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
        let err = ProxyConfig::parse("http://user:secret@proxy:0").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let proxy = ProxyConfig::parse("http://user:secret@proxy:1").unwrap();
        assert!(!format!("{proxy:?}").contains("secret"));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn no_proxy_matches_domains_and_subdomains() {
        let no_proxy =
            NoProxy::parse(" .internal.example, api.example.no:443,10.0.0.0/8,*.corp.example");
        assert!(no_proxy.matches(&name("internal.example")));
        assert!(no_proxy.matches(&name("a.b.internal.example")));
        assert!(no_proxy.matches(&name("api.example.no")));
        assert!(no_proxy.matches(&name("x.api.example.no")));
        assert!(no_proxy.matches(&name("host.corp.example")));
        assert!(!no_proxy.matches(&name("notinternal.example")));
        assert!(!no_proxy.matches(&name("example.no")));
        assert!(NoProxy::parse("*").matches(&name("anything.example")));
        assert!(!NoProxy::parse("").matches(&name("anything.example")));
    }

    #[test]
    fn flag_beats_environment_and_no_proxy_flag_ignores_both() {
        let env = ProxyEnv {
            https_proxy: Some("http://env-proxy:3128".into()),
            no_proxy: Some("example.no".into()),
        };
        let from_env = ProxySettings::from_sources(None, false, &env).unwrap();
        assert_eq!(from_env.proxy.unwrap().host(), "env-proxy");
        assert!(from_env.no_proxy.matches(&name("api.example.no")));
        let from_flag = ProxySettings::from_sources(Some("http://flag:1"), false, &env).unwrap();
        assert_eq!(from_flag.proxy.unwrap().host(), "flag");
        let disabled = ProxySettings::from_sources(None, true, &env).unwrap();
        assert_eq!(disabled, ProxySettings::default());
        let empty = ProxyEnv {
            https_proxy: Some("  ".into()),
            no_proxy: None,
        };
        assert!(
            ProxySettings::from_sources(None, false, &empty)
                .unwrap()
                .proxy
                .is_none()
        );
        let bad = ProxyEnv {
            https_proxy: Some("ftp://x".into()),
            no_proxy: None,
        };
        assert!(ProxySettings::from_sources(None, false, &bad).is_err());
    }
}
