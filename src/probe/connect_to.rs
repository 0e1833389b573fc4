//! `--connect-to`: probe a name at an address the user gives, as curl's option of the same
//! name does, to test a host before DNS points at it (a new address, a failover site, a
//! load balancer) with the real name as SNI and for the certificate check.
//!
//! A rule is `HOST1:PORT1:HOST2:PORT2` (curl's form; an empty HOST1 or PORT1 matches any
//! name or port, an empty PORT2 keeps the port) or just `ADDRESS` (every name, every port).
//! HOST2 is an address: IPv4, or IPv6 in brackets. The first rule that matches a name and
//! port decides; a matched port is not looked up in DNS and goes to the address directly,
//! never through a proxy.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::catalog::{DnsName, Port};
use crate::probe::model::{AddressOrigin, ProbeRequest};
use crate::probe::targets::Target;

/// One `--connect-to` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRule {
    /// The name it applies to; any name when absent.
    pub host: Option<DnsName>,
    /// The port it applies to; any port when absent.
    pub port: Option<Port>,
    /// Where to connect instead.
    pub address: IpAddr,
    /// The port to connect to; the requested port when absent.
    pub to_port: Option<Port>,
}

/// The `--connect-to` rules of a run, in the order given (the first match wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectTo {
    rules: Vec<ConnectRule>,
}

impl ConnectTo {
    /// The rules, in order.
    pub fn new(rules: Vec<ConnectRule>) -> Self {
        ConnectTo { rules }
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Where `name` on `port` goes, when a rule says.
    pub fn lookup(&self, name: &DnsName, port: Port) -> Option<(IpAddr, Port)> {
        self.rules
            .iter()
            .find(|r| r.host.as_ref().is_none_or(|h| h == name) && r.port.is_none_or(|p| p == port))
            .map(|r| (r.address, r.to_port.unwrap_or(port)))
    }

    /// The targets the rules give `request` (each matched port once).
    pub fn targets(&self, request: &ProbeRequest) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for port in &request.ports {
            if let Some((address, port)) = self.lookup(&request.name, *port)
                && !targets
                    .iter()
                    .any(|t| t.address == address && t.port == port)
            {
                targets.push(Target {
                    address,
                    port,
                    origin: AddressOrigin::ConnectTo,
                });
            }
        }
        targets
    }

    /// `request` with only the ports no rule matches: what DNS is still asked about.
    pub fn remaining<'a>(&self, request: &'a ProbeRequest) -> Cow<'a, ProbeRequest> {
        if self.is_empty() {
            return Cow::Borrowed(request);
        }
        let mut rest = request.clone();
        rest.ports
            .retain(|port| self.lookup(&request.name, *port).is_none());
        Cow::Owned(rest)
    }
}

impl fmt::Display for ConnectRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.as_ref().map(DnsName::as_str).unwrap_or_default();
        let port = self.port.map(|p| p.to_string()).unwrap_or_default();
        let to_port = self.to_port.map(|p| p.to_string()).unwrap_or_default();
        match self.address {
            IpAddr::V6(v6) => write!(f, "{host}:{port}:[{v6}]:{to_port}"),
            IpAddr::V4(v4) => write!(f, "{host}:{port}:{v4}:{to_port}"),
        }
    }
}

impl ConnectRule {
    /// Parses `HOST1:PORT1:HOST2:PORT2` or `ADDRESS` (see the module documentation).
    pub fn parse(text: &str) -> Result<ConnectRule, String> {
        const FORM: &str =
            "expected HOST1:PORT1:ADDRESS:PORT2 (as curl's --connect-to) or an ADDRESS";
        if let Some(address) = bare_address(text) {
            return Ok(ConnectRule {
                host: None,
                port: None,
                address,
                to_port: None,
            });
        }
        let fields = split_fields(text).ok_or_else(|| FORM.to_owned())?;
        let [host, port, address, to_port] = fields;
        let host = match host {
            "" => None,
            name => Some(DnsName::parse(name).map_err(|e| format!("HOST1 {name:?}: {e}"))?),
        };
        let address = bare_address(address).ok_or_else(|| {
            format!(
                "{address:?} is not an address: give the address to connect to (IPv6 in brackets)"
            )
        })?;
        Ok(ConnectRule {
            host,
            port: optional_port(port, "PORT1")?,
            address,
            to_port: optional_port(to_port, "PORT2")?,
        })
    }
}

/// `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]`.
fn bare_address(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let address: IpAddr = inner.parse().ok()?;
    // Brackets hold IPv6 only, as in URLs.
    (inner.len() == text.len() || address.is_ipv6()).then_some(address)
}

/// The four fields of `HOST1:PORT1:HOST2:PORT2`, HOST2 possibly `[IPv6]`.
fn split_fields(text: &str) -> Option<[&str; 4]> {
    let (host, rest) = text.split_once(':')?;
    let (port, rest) = rest.split_once(':')?;
    let (address, to_port) = if rest.starts_with('[') {
        let close = rest.find(']')?;
        let (address, after) = rest.split_at(close + 1);
        (address, after.strip_prefix(':')?)
    } else {
        rest.split_once(':')?
    };
    (!to_port.contains(':')).then_some([host, port, address, to_port])
}

fn optional_port(text: &str, field: &str) -> Result<Option<Port>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u16>()
        .ok()
        .and_then(|p| Port::try_from(p).ok())
        .map(Some)
        .ok_or_else(|| format!("{field} {text:?}: a port is 1-65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    fn port(n: u16) -> Port {
        Port::try_from(n).unwrap()
    }

    #[test]
    fn curl_form_and_bare_addresses_parse() {
        let rule = ConnectRule::parse("api.example.no:443:192.0.2.7:8443").unwrap();
        assert_eq!(rule.host, Some(name("api.example.no")));
        assert_eq!(rule.port, Some(port(443)));
        assert_eq!(rule.address, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(rule.to_port, Some(port(8443)));
        assert_eq!(rule.to_string(), "api.example.no:443:192.0.2.7:8443");
        let rule = ConnectRule::parse("::[2001:db8::7]:").unwrap();
        assert_eq!((rule.host, rule.port, rule.to_port), (None, None, None));
        assert_eq!(rule.address, "2001:db8::7".parse::<IpAddr>().unwrap());
        for bare in ["192.0.2.7", "2001:db8::7", "[2001:db8::7]"] {
            let rule = ConnectRule::parse(bare).unwrap();
            assert!(rule.host.is_none() && rule.port.is_none(), "{bare}");
        }
        for (bad, needle) in [
            (
                "api.example.no:443:backend.example.no:443",
                "not an address",
            ),
            ("api.example.no:https:192.0.2.7:443", "PORT1"),
            ("api.example.no:443:192.0.2.7:0", "PORT2"),
            ("api.example.no:443:192.0.2.7", "expected HOST1:PORT1"),
            ("[192.0.2.7]", "expected HOST1:PORT1"),
            ("bad_name:443:192.0.2.7:443", "HOST1"),
        ] {
            let err = ConnectRule::parse(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_rest_goes_to_dns() {
        let rules = ConnectTo::new(vec![
            ConnectRule::parse("a.example.no:8443:192.0.2.8:").unwrap(),
            ConnectRule::parse("a.example.no::192.0.2.1:9443").unwrap(),
            ConnectRule::parse(":443:192.0.2.9:").unwrap(),
        ]);
        let request = ProbeRequest {
            name: name("a.example.no"),
            ports: vec![port(443), port(8443)],
            documented: Vec::new(),
            http: None,
        };
        let targets: Vec<String> = rules
            .targets(&request)
            .iter()
            .map(|t| format!("{}:{}", t.address, t.port))
            .collect();
        assert_eq!(targets, vec!["192.0.2.1:9443", "192.0.2.8:8443"]);
        assert!(rules.remaining(&request).ports.is_empty());
        let other = ProbeRequest {
            name: name("b.example.no"),
            ports: vec![port(443), port(8443)],
            documented: Vec::new(),
            http: None,
        };
        assert_eq!(rules.lookup(&other.name, port(443)).unwrap().1, port(443));
        assert_eq!(rules.remaining(&other).ports, vec![port(8443)]);
        assert!(ConnectTo::default().targets(&other).is_empty());
    }
}
