//! The `http` table of an endpoint: method, path and expectations, each checked where it is
//! written, and one check per probe name (a name probed once cannot answer two requests).

use std::collections::HashMap;

use toml::Spanned;

use super::Validator;
use crate::catalog::http::{
    HttpCheck, HttpMethod, MAX_HTTP_NAME_CHARS, check_header_name, check_http_path,
};
use crate::catalog::model::Protocol;
use crate::catalog::names::DnsName;
use crate::catalog::raw::RawHttp;

impl Validator<'_> {
    /// The endpoint's HTTP check, or `None` (with the problems recorded) when it is invalid.
    pub(super) fn http_check(
        &mut self,
        raw: &Spanned<RawHttp>,
        protocol: Option<Protocol>,
    ) -> Option<HttpCheck> {
        let h = raw.get_ref();
        let mut ok = true;
        if protocol == Some(Protocol::Udp) {
            self.problem(
                raw.span(),
                "endpoint.http: found an HTTP check on a udp endpoint, expected it on tcp endpoints only (HTTP runs over TLS over TCP)",
            );
            ok = false;
        }
        let method = match &h.method {
            None => Some(HttpMethod::Get),
            Some(text) => {
                let method = HttpMethod::parse(text.get_ref());
                if method.is_none() {
                    self.problem(
                        text.span(),
                        format!(
                            "endpoint.http.method: found {:?}, expected \"GET\" or \"HEAD\" (a check must change nothing at the provider)",
                            text.get_ref()
                        ),
                    );
                }
                method
            }
        };
        let path = h.path.get_ref();
        if let Err(why) = check_http_path(path) {
            self.problem(
                h.path.span(),
                format!("endpoint.http.path: found {path:?}, expected a URL path such as \"/.well-known/openid-configuration\": {why}"),
            );
            ok = false;
        }
        let mut statuses: Vec<u16> = Vec::new();
        for status in &h.expect_status {
            let number = *status.get_ref();
            match u16::try_from(number)
                .ok()
                .filter(|n| (100..=599).contains(n))
            {
                Some(n) if statuses.contains(&n) => {
                    self.problem(
                        status.span(),
                        format!("endpoint.http.expect_status: found {number} twice, expected each status once"),
                    );
                    ok = false;
                }
                Some(n) => statuses.push(n),
                None => {
                    self.problem(
                        status.span(),
                        format!("endpoint.http.expect_status: found {number}, expected an HTTP status from 100 to 599"),
                    );
                    ok = false;
                }
            }
        }
        let header = h.expect_header.as_ref().and_then(|text| {
            let checked = check_header_name(text.get_ref());
            if let Err(why) = &checked {
                self.problem(
                    text.span(),
                    format!(
                        "endpoint.http.expect_header: found {:?}, expected a header name such as \"content-type\": {why}",
                        text.get_ref()
                    ),
                );
            }
            checked.ok()
        });
        ok &= h.expect_header.is_none() || header.is_some();
        let json_key = match &h.expect_json_key {
            None => None,
            Some(text) => {
                let key = self.line_text(text, "endpoint.http.expect_json_key");
                if key
                    .as_ref()
                    .is_some_and(|k| k.chars().count() > MAX_HTTP_NAME_CHARS)
                {
                    self.problem(
                        text.span(),
                        format!("endpoint.http.expect_json_key: found a key of {} characters, expected at most {MAX_HTTP_NAME_CHARS}", text.get_ref().chars().count()),
                    );
                    ok = false;
                }
                if method == Some(HttpMethod::Head) {
                    self.problem(
                        text.span(),
                        "endpoint.http.expect_json_key: found a JSON key to expect of a HEAD request, whose answer has no body; expected method \"GET\"",
                    );
                    ok = false;
                }
                ok &= key.is_some();
                key
            }
        };
        let method = method?;
        ok.then(|| HttpCheck {
            method,
            path: path.clone(),
            expect_status: statuses,
            expect_header: header,
            expect_json_key: json_key,
        })
    }

    /// Reports a probe name that two endpoints give different HTTP checks: the name is
    /// probed once, so it can answer only one request.
    pub(super) fn one_http_check_per_name(
        &mut self,
        checks: &mut HashMap<DnsName, HttpCheck>,
        names: &[DnsName],
        check: &HttpCheck,
        raw: &Spanned<RawHttp>,
    ) {
        for name in names {
            match checks.get(name) {
                Some(first) if first != check => self.problem(
                    raw.span(),
                    format!("endpoint.http: found a second, different HTTP check for {name}, expected one check per probe name (the name is probed once)"),
                ),
                Some(_) => {}
                None => {
                    checks.insert(name.clone(), check.clone());
                }
            }
        }
    }
}
