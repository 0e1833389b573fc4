//! The endpoints: `/probe`, `/metrics`, `/`, `/-/healthy`, `/-/ready`, `/-/reload`.
//!
//! Every request passes basic authentication first when users are configured (as with
//! exporter-toolkit, health endpoints included), and every answer carries the web
//! configuration's security headers. Paths and methods outside this list get 404 and 405;
//! a request body is never read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};

use super::State;
// The landing page escapes as the HTML report does: one escaping for HTML text.
use crate::output::html::escape as html;

/// A response of this exporter.
pub type Answer = Response<Full<Bytes>>;

/// Content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers one request.
pub async fn handle(state: &Arc<State>, request: Request<Incoming>, peer: SocketAddr) -> Answer {
    let loaded = state.current();
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let mut answer = if loaded.auth.allows(authorization).await {
        route(state, &request, peer).await
    } else {
        let mut answer = text(StatusCode::UNAUTHORIZED, "Unauthorized");
        answer.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"egresscheck\""),
        );
        answer
    };
    for (name, value) in &loaded.web.headers {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}

async fn route(state: &Arc<State>, request: &Request<Incoming>, peer: SocketAddr) -> Answer {
    let method = request.method();
    let path = request.uri().path();
    let readable = method == Method::GET || method == Method::HEAD;
    match path {
        "/probe" if method == Method::GET => super::scrape::probe(state, request, peer).await,
        "/metrics" if readable => metrics(state),
        "/" if readable => landing(state),
        "/-/healthy" if readable => text(StatusCode::OK, "Healthy"),
        "/-/ready" if readable => text(StatusCode::OK, "Ready"),
        "/-/reload" if method == Method::POST || method == Method::PUT => {
            match state.reload("POST /-/reload").await {
                Ok(summary) => text(StatusCode::OK, &format!("reloaded: {summary}")),
                Err(reason) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("reload failed, the previous data stays in force: {reason}"),
                ),
            }
        }
        "/probe" => not_allowed("GET"),
        "/metrics" | "/" | "/-/healthy" | "/-/ready" => not_allowed("GET, HEAD"),
        "/-/reload" => not_allowed("POST, PUT"),
        _ => text(StatusCode::NOT_FOUND, "Not found"),
    }
}

fn metrics(state: &State) -> Answer {
    let loaded = state.current();
    let body = state.metrics.render(
        &loaded.catalog.data.provider,
        &loaded.catalog.data.version.to_string(),
        state.connections.load(Ordering::Relaxed),
    );
    typed(StatusCode::OK, METRICS_CONTENT_TYPE, body.into_bytes())
}

/// The landing page: what is loaded, and links.
fn landing(state: &State) -> Answer {
    let loaded = state.current();
    let data = &loaded.catalog.data;
    let date = loaded
        .catalog
        .primary_source()
        .and_then(|s| s.document_date)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    let mut environments = String::new();
    for env in &loaded.catalog.environments {
        let id = html(env.id.as_str());
        environments.push_str(&format!(
            "<li><a href=\"probe?env={id}\">probe?env={id}</a> ({})</li>\n",
            html(&env.name)
        ));
    }
    let page = format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>egresscheck exporter</title></head>
<body>
<h1>egresscheck exporter</h1>
<p>Checks, at each scrape, that this network reaches {provider}'s endpoints the way the data file documents them.</p>
<p>Data: {provider}, version {version} (the provider's page of {date}). egresscheck {tool}.</p>
<h2>Probe</h2>
<ul>
<li><a href=\"probe\">probe</a> (every environment)</li>
{environments}</ul>
<p><code>/probe</code> takes <code>env</code>, <code>service</code> and <code>host</code> (each repeatable) from the data file, and <code>debug=true</code>; nothing else.</p>
<h2>Exporter</h2>
<ul>
<li><a href=\"metrics\">metrics</a></li>
<li><a href=\"-/healthy\">-/healthy</a></li>
<li><a href=\"-/ready\">-/ready</a></li>
</ul>
</body>
</html>
",
        provider = html(&data.provider),
        version = html(&data.version.to_string()),
        date = html(&date),
        tool = html(env!("CARGO_PKG_VERSION")),
    );
    typed(
        StatusCode::OK,
        "text/html; charset=utf-8",
        page.into_bytes(),
    )
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    answer
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    answer
}

/// A plain-text answer of one line.
pub fn text(status: StatusCode, line: &str) -> Answer {
    let mut body = line.to_owned();
    body.push('\n');
    typed(status, "text/plain; charset=utf-8", body.into_bytes())
}

/// An answer with a body and its content type.
pub fn typed(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
