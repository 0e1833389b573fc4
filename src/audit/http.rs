//! What the HTTP check and the server's clock say: `http-unexpected` and `clock-skew`.
//!
//! A wrong status, an answer without the header or JSON key the data expects, or no complete
//! answer is `http-unexpected`. So is a proxy's block page, recognised by what only a proxy
//! sends: a proxy error header (`X-Squid-Error`, a `Proxy-Status` with an error) on any
//! answer, or a `Via` header on a connection whose certificate public roots do not trust (a
//! middlebox that terminates TLS answers for the provider; a `Via` behind a genuine
//! certificate is the provider's own gateway and is only recorded).
//!
//! The server's `Date` against this host's clock gives `clock-skew`, once per name (the
//! largest of its targets), judged by the smallest difference `Date`'s one-second resolution
//! and the round trip allow.

use std::time::Duration;

use super::{Code, Context, Finding, Severity, target_label};
use crate::audit::AuditOptions;
use crate::catalog::HttpCheck;
use crate::probe::model::{HttpObservation, NameObservation, TargetObservation};

/// Findings of one target's HTTP exchange against the entry's check.
pub(super) fn exchange_findings(
    ctx: &Context<'_>,
    target: &TargetObservation,
    check: &HttpCheck,
    http: &HttpObservation,
    findings: &mut Vec<Finding>,
) {
    let label = target_label(target, &ctx.planned.name);
    let request = format!("{} {}", http.method, http.path);
    let host = &ctx.planned.name;
    let Some(status) = http.status else {
        let error = http.error.as_deref().unwrap_or("no answer");
        findings.push(ctx.finding(
            Code::HttpUnexpected,
            target.address,
            Some(target.port),
            format!(
                "{label}: TLS completed but {request} got no complete HTTP answer ({error}): a middlebox may cut connections it cannot inspect; ask the firewall or proxy team to let {host} through unmodified"
            ),
        ));
        return;
    };
    let intercepted = target.tls.as_ref().is_some_and(|t| !t.trusted_public);
    let block_page = block_page_evidence(http, intercepted);
    let mut wrong: Vec<String> = Vec::new();
    if !check.status_expected(status) {
        let expected: Vec<String> = check.expect_status.iter().map(u16::to_string).collect();
        wrong.push(format!(
            "status {status}, expected {}",
            expected.join(" or ")
        ));
    }
    if let Some(key) = &check.expect_json_key {
        match &http.json_keys {
            Some(keys) if keys.contains(key) => {}
            Some(_) => wrong.push(format!("a JSON object without `{key}`")),
            None if http.body_truncated => wrong.push(format!(
                "a body longer than the read bound, where JSON with `{key}` was expected (raise --max-http-bytes)"
            )),
            None => wrong.push(format!(
                "{} where JSON with `{key}` was expected",
                kind_of_body(http)
            )),
        }
    }
    if let Some(header) = &check.expect_header
        && !http.headers.contains(header)
    {
        wrong.push(format!("no `{header}` header"));
    }
    if wrong.is_empty() && block_page.is_none() {
        return;
    }
    let said = what_it_said(http);
    let (verdict, advice) = match &block_page {
        Some(evidence) => (
            format!("a proxy or gateway answered instead of the provider ({evidence})"),
            format!(
                "ask the proxy or firewall team to allow {host} and to exclude it from TLS inspection"
            ),
        ),
        None => (
            "not the answer the provider gives".to_owned(),
            format!(
                "if the page names a proxy or firewall, ask its team to allow {host}; else check the data file's http check against the provider's documentation"
            ),
        ),
    };
    let details = if wrong.is_empty() {
        String::new()
    } else {
        format!(": {}", wrong.join("; "))
    };
    findings.push(ctx.finding(
        Code::HttpUnexpected,
        target.address,
        Some(target.port),
        format!("{label}: {request} answered {status}{details}{said}; {verdict}: {advice}"),
    ));
}

/// What marks an answer as a proxy's own: a proxy error header on any answer, or `Via` when
/// the TLS connection was terminated by something public roots do not trust.
fn block_page_evidence(http: &HttpObservation, intercepted: bool) -> Option<String> {
    let lower = |h: &String| h.to_ascii_lowercase();
    let error_header = http.proxy_headers.iter().find(|h| {
        let h = lower(h);
        h.starts_with("x-squid-error:") || (h.starts_with("proxy-status:") && h.contains("error="))
    });
    if let Some(header) = error_header {
        return Some(header.clone());
    }
    let via = http
        .proxy_headers
        .iter()
        .find(|h| lower(h).starts_with("via:"))?;
    intercepted.then(|| format!("{via}, behind a certificate public roots do not trust"))
}

/// `an HTML page`, `a text/plain answer`, `an empty answer`.
fn kind_of_body(http: &HttpObservation) -> String {
    let content_type = http.content_type.as_deref().unwrap_or_default();
    if content_type.contains("html") || http.html_title.is_some() {
        "an HTML page".to_owned()
    } else if http.body_bytes == 0 {
        "an empty answer".to_owned()
    } else if content_type.is_empty() {
        "an answer that is not a JSON object".to_owned()
    } else {
        format!("a {content_type} answer")
    }
}

/// ` ("Access Denied")`: the page's title, else its first line, as the admin would see it.
fn what_it_said(http: &HttpObservation) -> String {
    http.html_title
        .as_deref()
        .or(http.body_first_line.as_deref())
        .map(|text| format!(" (\"{text}\")"))
        .unwrap_or_default()
}

/// One `clock-skew` per name: the largest difference any of its targets' `Date` shows.
pub(super) fn clock_findings(
    ctx: &Context<'_>,
    name: &NameObservation,
    options: &AuditOptions,
    findings: &mut Vec<Finding>,
) {
    let worst = name
        .targets
        .iter()
        .filter(|t| ctx.planned.ports.contains(&t.port))
        .filter_map(|t| t.http.as_ref().and_then(|h| h.clock))
        .max_by(|a, b| a.skew_min_seconds.total_cmp(&b.skew_min_seconds));
    let Some(clock) = worst else {
        return;
    };
    let at_least = Duration::try_from_secs_f64(clock.skew_min_seconds).unwrap_or(Duration::MAX);
    let severity = if at_least > options.clock_skew_fail {
        Severity::Fail
    } else if at_least > options.clock_skew_warn {
        Severity::Warn
    } else {
        return;
    };
    let host = &ctx.planned.name;
    let direction = if clock.skew_seconds > 0.0 {
        "behind"
    } else {
        "ahead of"
    };
    let mut finding = ctx.finding(
        Code::ClockSkew,
        None,
        None,
        format!(
            "this host's clock is about {:.1} s {direction} {host}'s (at least {:.1} s once the Date header's one-second resolution and the round trip are allowed for; warn above {} s, fail above {} s): Maskinporten accepts a token grant only within 10 s of its clock, and certificate validity is judged by this clock too; synchronise it with NTP (`timedatectl`, `chronyc tracking`)",
            clock.skew_seconds.abs(),
            clock.skew_min_seconds,
            options.clock_skew_warn.as_secs_f64(),
            options.clock_skew_fail.as_secs_f64(),
        ),
    );
    finding.severity = severity;
    findings.push(finding);
}
