//! `GET /probe`: one run of the check per scrape, answered before Prometheus gives up.
//!
//! The steps, each with its early answer: check the request against the data file (400,
//! before anything touches the network); work out the deadline from the scrape timeout
//! (400 for a bad header); wait for a turn while `--max-concurrent-probes` runs are under way
//! (at most half the deadline, or `--probe-queue-wait`; then 503); run [`crate::commands::pipeline`] under the deadline; render the textfile
//! families and the scrape's own with [`crate::output::prometheus::render_scrape`]. Nothing
//! is kept between scrapes. `debug=true` answers, as blackbox does, with the run's findings
//! and the metrics it would have served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use super::State;
use super::log::Level;
use super::metrics::Outcome;
use super::query::{self, ScrapeRequest};
use super::routes::{Answer, METRICS_CONTENT_TYPE, text, typed};
use crate::commands::pipeline::{Judgement, Run};
use crate::output::Renderer;
use crate::output::prometheus::{Scrape, render_scrape};
use crate::output::table::TableRenderer;

/// Answers one scrape.
pub async fn probe(state: &Arc<State>, request: &Request<Incoming>, peer: SocketAddr) -> Answer {
    let started = Instant::now();
    let loaded = state.current();
    let options = &state.options;
    let checked = ScrapeRequest::parse(request.uri().query().unwrap_or(""), &loaded.catalog)
        .and_then(|scrape| {
            let deadline = query::deadline(
                request.headers(),
                options.timeout_offset,
                options.probe.deadline,
            )?;
            Ok((scrape, deadline))
        });
    let (scrape, deadline) = match checked {
        Ok(checked) => checked,
        Err(reason) => {
            state.metrics.scrape(Outcome::BadRequest);
            log_refusal(state, peer, StatusCode::BAD_REQUEST, &reason);
            return text(StatusCode::BAD_REQUEST, &reason);
        }
    };
    if deadline < crate::probe::options::MIN_TIMEOUT {
        state.metrics.scrape(Outcome::BadRequest);
        let reason = format!(
            "the scrape timeout leaves no time to probe (less than {} ms after --timeout-offset)",
            crate::probe::options::MIN_TIMEOUT.as_millis()
        );
        log_refusal(state, peer, StatusCode::BAD_REQUEST, &reason);
        return text(StatusCode::BAD_REQUEST, &reason);
    }
    let wait = queue_wait(options.probe_queue_wait, deadline);
    let Ok(Ok(_turn)) = tokio::time::timeout(wait, state.probes.acquire()).await else {
        state.metrics.scrape(Outcome::Rejected);
        let reason = format!(
            "{} probes are under way (--max-concurrent-probes); try again later",
            options.max_concurrent_probes
        );
        log_refusal(state, peer, StatusCode::SERVICE_UNAVAILABLE, &reason);
        return text(StatusCode::SERVICE_UNAVAILABLE, &reason);
    };
    let left = deadline.saturating_sub(started.elapsed());
    run(
        state,
        &loaded,
        scrape,
        left.max(crate::probe::options::MIN_TIMEOUT),
        peer,
    )
    .await
}

/// How long a scrape with `deadline` waits for a turn before 503: half its deadline, or
/// less when `--probe-queue-wait` says so. Runs share the probe limits, so a turn comes as
/// soon as a run ends, and the run that waited still has the other half.
fn queue_wait(cap: Option<Duration>, deadline: Duration) -> Duration {
    let half = deadline / super::QUEUE_WAIT_DIVISOR;
    cap.map_or(half, |cap| cap.min(half))
}

/// Runs the planned scrape under `deadline` and renders it.
async fn run(
    state: &Arc<State>,
    loaded: &super::Loaded,
    scrape: ScrapeRequest,
    deadline: Duration,
    peer: SocketAddr,
) -> Answer {
    let mut probe_options = state.options.probe.clone();
    probe_options.deadline = deadline;
    let ScrapeRequest {
        planned,
        scope,
        debug,
    } = scrape;
    let ran = {
        let _in_flight = state.metrics.probe_started();
        planned
            .probe(&probe_options, &loaded.tls, &state.limits)
            .await
    };
    let run = match ran {
        Ok(run) => run,
        Err(err) => {
            state.metrics.scrape(Outcome::Error);
            let reason = crate::term::sanitize(&err.to_string()).replace('\n', "; ");
            log_refusal(state, peer, StatusCode::INTERNAL_SERVER_ERROR, &reason);
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the probe could not start: {reason}"),
            );
        }
    };
    state.metrics.probe_duration(run.duration_seconds);
    let judgement = Judgement {
        as_of: chrono::Utc::now().date_naive(),
        audit: state.options.audit,
    };
    let mut report = run.report(&loaded.catalog, &judgement, None);
    report.labels = state.options.labels.clone();
    let mut body = Vec::new();
    let info = Scrape {
        deadline_seconds: deadline.as_secs_f64(),
    };
    let Ok(success) = render_scrape(&report, &info, &mut body) else {
        state.metrics.scrape(Outcome::Error);
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot render the metrics",
        );
    };
    state.metrics.scrape(if success {
        Outcome::Success
    } else {
        Outcome::Failure
    });
    log_scrape(state, peer, &scope, &run, deadline, success);
    if debug {
        return debug_answer(&report, &info, &body, &state.options.probe);
    }
    typed(StatusCode::OK, METRICS_CONTENT_TYPE, body)
}

/// One line per scrape, at debug level.
fn log_scrape(
    state: &State,
    peer: SocketAddr,
    scope: &crate::commands::pipeline::Scope,
    run: &Run,
    deadline: Duration,
    success: bool,
) {
    if !state.log.enabled(Level::Debug) {
        return;
    }
    let targets: usize = run.observations.iter().map(|o| o.targets.len()).sum();
    state.log.log(
        Level::Debug,
        "scrape",
        &[
            ("remote", peer.to_string().into()),
            ("env", scope.environments.join(",").into()),
            ("service", scope.services.join(",").into()),
            ("host", scope.hosts.join(",").into()),
            ("names", run.observations.len().into()),
            ("targets", targets.into()),
            ("success", success.into()),
            ("duration_seconds", run.duration_seconds.into()),
            ("deadline_seconds", deadline.as_secs_f64().into()),
        ],
    );
}

/// A refused scrape, at debug level (a client's mistake is not the exporter's problem).
fn log_refusal(state: &State, peer: SocketAddr, status: StatusCode, reason: &str) {
    state.log.log(
        Level::Debug,
        "scrape refused",
        &[
            ("remote", peer.to_string().into()),
            ("status", u64::from(status.as_u16()).into()),
            ("reason", reason.into()),
        ],
    );
}

/// `?debug=true`: the findings as `check` prints them, the metrics, and the probe settings.
fn debug_answer(
    report: &crate::report::Report<'_>,
    info: &Scrape,
    metrics: &[u8],
    options: &crate::probe::options::ProbeOptions,
) -> Answer {
    let mut body = b"The run, as `egresscheck check` shows it:\n\n".to_vec();
    let table = TableRenderer::default();
    if table.render(report, &mut body).is_err() {
        body.extend_from_slice(b"(the table could not be rendered)\n");
    }
    body.extend_from_slice(b"\n\nMetrics that would have been returned:\n\n");
    body.extend_from_slice(metrics);
    let resolvers: Vec<String> = options.resolvers.iter().map(ToString::to_string).collect();
    let settings = format!(
        "\n\nProbe settings:\n\ndeadline: {:.3}s\nconnect timeout: {:?}\nhandshake timeout: {:?}\nDNS timeout: {:?}\nresolvers: {}\nproxy: {}\nfamily: {:?}\nhandshakes in flight: {}\n",
        info.deadline_seconds,
        options.connect_timeout,
        options.handshake_timeout,
        options.dns_timeout,
        if resolvers.is_empty() {
            "the system's".to_owned()
        } else {
            resolvers.join(", ")
        },
        options
            .proxy
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string),
        options.family,
        options.handshake_concurrency,
    );
    body.extend_from_slice(settings.as_bytes());
    typed(StatusCode::OK, "text/plain; charset=utf-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_waits_for_a_turn_half_its_deadline_unless_told_less() {
        let deadline = Duration::from_secs(9);
        assert_eq!(queue_wait(None, deadline), Duration::from_millis(4500));
        assert_eq!(
            queue_wait(Some(Duration::from_millis(200)), deadline),
            Duration::from_millis(200)
        );
        // Never more than half: the run keeps the rest.
        assert_eq!(
            queue_wait(Some(Duration::from_secs(60)), deadline),
            Duration::from_millis(4500)
        );
    }
}
