//! `[[authorization_server]]`: the OAuth2 server whose tokens the provider's APIs expect.
//!
//! Apart from the rest of the validator because its rules are its own: the metadata URL must
//! be `https` on a host the same environment and service document as an endpoint (so that
//! `check` probes it and `rules` opens it), the issuer is an `https` URL (it becomes the
//! grant's `aud`), certificate issuer patterns are plain single-line text, and scope prefixes
//! are scope characters.

use std::collections::HashMap;

use toml::Spanned;

use super::{References, Validator};
use crate::catalog::model::{
    ApiAudience, AuthorizationServer, Endpoint, EnvId, HttpsUrl, IssuerPattern, ServiceId, SourceId,
};
use crate::catalog::raw::{RawAuthorizationServer, Text};

/// Longest issuer pattern or scope prefix.
const MAX_PATTERN_LEN: usize = 256;

impl Validator<'_> {
    pub(super) fn authorization_servers(
        &mut self,
        raw: &[Spanned<RawAuthorizationServer>],
        refs: &References,
        endpoints: &[Endpoint],
    ) -> Vec<AuthorizationServer> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for entry in raw {
            let a = entry.get_ref();
            let environment = self.reference(
                &a.environment,
                "authorization_server.environment",
                &refs.environments,
                "environment",
            );
            let service = self.reference(
                &a.service,
                "authorization_server.service",
                &refs.services,
                "service",
            );
            let source = self.reference(
                &a.source,
                "authorization_server.source",
                &refs.sources,
                "source",
            );
            let metadata_url = self.https_url(&a.metadata_url, "authorization_server.metadata_url");
            let issuer = self
                .https_url(&a.issuer, "authorization_server.issuer")
                .map(|u| u.url);
            let certificate_issuers = a
                .certificate_issuers
                .iter()
                .filter_map(|p| self.issuer_pattern(p))
                .collect();
            let api_scope_prefixes = a
                .api_scope_prefixes
                .iter()
                .filter_map(|p| self.scope_prefix(p))
                .collect();
            let api_audience = self.api_audience(a.api_audience.as_ref());
            let note = a
                .note
                .as_ref()
                .and_then(|n| self.free_text(n, "authorization_server.note"));
            if let (Some(env), Some(service)) = (&environment, &service) {
                let _ = self.unique(
                    &mut seen,
                    format!("{env} {service}"),
                    &a.environment,
                    "authorization_server",
                    "environment and service",
                );
            }
            if let (Some(env), Some(service), Some(url)) = (&environment, &service, &metadata_url) {
                self.documented_host(endpoints, env, service, url, &a.metadata_url);
            }
            if let (
                Some(environment),
                Some(service),
                Some(metadata_url),
                Some(issuer),
                Some(api_audience),
                Some(source),
            ) = (
                environment,
                service,
                metadata_url,
                issuer,
                api_audience,
                source,
            ) {
                out.push(AuthorizationServer {
                    environment: EnvId(environment),
                    service: ServiceId(service),
                    metadata_url,
                    issuer,
                    certificate_issuers,
                    api_scope_prefixes,
                    api_audience,
                    source: SourceId(source),
                    note,
                });
            }
        }
        out
    }

    fn https_url(&mut self, raw: &Text, field: &str) -> Option<HttpsUrl> {
        let value = self.url(raw, field)?;
        let parsed = HttpsUrl::parse(&value);
        if parsed.is_none() {
            self.problem(
                raw.span(),
                format!("{field}: found {value:?}, expected an https:// URL with a DNS host name (no user info, no IP address, a port from 1 to 65535 if any)"),
            );
        }
        parsed
    }

    /// The metadata host must be one of the environment's documented endpoints of the same
    /// service: otherwise `check` would not probe it and `rules` would not open it.
    fn documented_host(
        &mut self,
        endpoints: &[Endpoint],
        environment: &str,
        service: &str,
        url: &HttpsUrl,
        at: &Text,
    ) {
        let covered = endpoints.iter().any(|e| {
            e.environment.as_str() == environment
                && e.service.as_str() == service
                && e.host.matches(&url.host)
                && e.ports.contains(&url.port)
        });
        if !covered {
            self.problem(
                at.span(),
                format!(
                    "authorization_server.metadata_url: found host {}:{}, which no [[endpoint]] of environment `{environment}` and service `{service}` documents; expected the host and port of one of its endpoints, so that `check` probes it and `rules` opens it",
                    url.host, url.port
                ),
            );
        }
    }

    fn issuer_pattern(&mut self, raw: &Text) -> Option<IssuerPattern> {
        let field = "authorization_server.certificate_issuers";
        let text = self.line_text(raw, field)?;
        if text.chars().count() > MAX_PATTERN_LEN || text.chars().all(|c| c == '*' || c == ' ') {
            self.problem(
                raw.span(),
                format!("{field}: found {text:?}, expected the common name of a certificate issuer (at most {MAX_PATTERN_LEN} characters, `*` for any run of characters, not only `*`)"),
            );
            return None;
        }
        Some(IssuerPattern(text))
    }

    fn scope_prefix(&mut self, raw: &Text) -> Option<String> {
        let value = raw.get_ref();
        // RFC 6749 scope-token characters, less the quote and backslash.
        let valid = !value.is_empty()
            && value.len() <= MAX_PATTERN_LEN
            && value
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if valid {
            Some(value.clone())
        } else {
            self.problem(
                raw.span(),
                format!("authorization_server.api_scope_prefixes: found {value:?}, expected the start of an OAuth2 scope such as \"skatteetaten:\" (visible ASCII, no quotes or backslashes, at most {MAX_PATTERN_LEN})"),
            );
            None
        }
    }

    fn api_audience(&mut self, raw: Option<&Text>) -> Option<ApiAudience> {
        match raw.map(|r| (r.get_ref().as_str(), r.span())) {
            None | Some(("any", _)) => Some(ApiAudience::Any),
            Some(("unspecified", _)) => Some(ApiAudience::Unspecified),
            Some((other, span)) => {
                self.problem(
                    span,
                    format!("authorization_server.api_audience: found {other:?}, expected \"any\" (default) or \"unspecified\" (the APIs expect tokens without an audience: no `resource`)"),
                );
                None
            }
        }
    }
}
