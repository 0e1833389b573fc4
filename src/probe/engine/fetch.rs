//! One HTTPS request over the probe path, for a command that needs the answer itself (an
//! authorization server's metadata, a token request).
//!
//! `check` asks every address of a name at once and keeps only what it observed. A request
//! that matters once (a token grant may be used only once) goes to one server: the name is
//! resolved as `check` resolves it (or handed to the proxy), its addresses are tried in
//! order, each through the same steps as `check` (TCP or the proxy's CONNECT, the TLS
//! handshake with the recording verifier, the bounded HTTP exchange), and the first answer
//! ends it. Every attempt is recorded, so a failure reads like `check`'s.

use tokio::time::Instant;

use super::{Connected, NOT_PROBED_DEADLINE, SendPolicy, Shared, lookups, over_tls, placeholder};
use crate::catalog::{DnsName, Port};
use crate::probe::dns::Resolve;
use crate::probe::http::{HttpRequest, HttpResponse};
use crate::probe::limits::Limits;
use crate::probe::model::{
    AddressOrigin, NameObservation, ProbeRequest, TargetObservation, TcpObservation, TcpState,
};
use crate::probe::options::ProbeOptions;
use crate::probe::tls::TlsClient;
use crate::probe::{proxy, targets, tcp};

/// What to fetch, and over which connections it may go.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The host: DNS name, SNI, the name the certificate must be valid for, `Host`.
    pub name: DnsName,
    /// The port.
    pub port: Port,
    /// The request.
    pub http: HttpRequest,
    /// Whether the request needs a trusted connection ([`SendPolicy::Trusted`] for anything
    /// secret).
    pub policy: SendPolicy,
}

/// What a fetch observed, and the answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// DNS (absent through a proxy) and every target tried, in order, each with its TCP, TLS
    /// and HTTP observations, as `check` reports them.
    pub observation: NameObservation,
    /// The answer of the target that gave one.
    pub response: Option<HttpResponse>,
}

/// Fetches `request` with `resolver` and `tls` under `options` (its timeouts, proxy and
/// deadline; `--no-http` does not apply: the request is the point).
pub async fn fetch<R: Resolve>(
    request: &FetchRequest,
    options: &ProbeOptions,
    resolver: R,
    tls: TlsClient,
) -> Fetched {
    let options = ProbeOptions {
        http_checks: true,
        ..options.clone()
    };
    let deadline = Instant::now() + options.deadline;
    let names = std::iter::once(&request.name);
    let shared = Shared::new(
        &options,
        resolver,
        tls,
        deadline,
        names,
        Limits::new(&options),
    );
    let mut observation = NameObservation {
        name: request.name.clone(),
        dns: None,
        targets: Vec::new(),
    };
    let proxy = options
        .proxy
        .as_ref()
        .filter(|_| !options.no_proxy.matches(&request.name));
    let response = match proxy {
        Some(proxy) => through_proxy(&shared, proxy, request, &mut observation).await,
        None => direct(&shared, request, &mut observation).await,
    };
    Fetched {
        observation,
        response,
    }
}

/// Resolves the name, then tries its addresses in order until one answers.
async fn direct<R: Resolve>(
    shared: &Shared<R>,
    request: &FetchRequest,
    observation: &mut NameObservation,
) -> Option<HttpResponse> {
    let dns = Box::pin(lookups(shared, request.name.clone())).await;
    let planned = ProbeRequest {
        name: request.name.clone(),
        ports: vec![request.port],
        documented: Vec::new(),
        http: None,
    };
    let expansion = targets::expand(
        &planned,
        Some(&dns),
        shared.options.family,
        shared.options.max_addresses_per_name,
    );
    observation.dns = Some(dns);
    for target in expansion.targets {
        let addr = std::net::SocketAddr::new(target.address, target.port.get());
        let (tcp, stream) = tcp::connect(addr, shared.limit(shared.options.connect_timeout)).await;
        let mut tried = placeholder(
            Some(target.address),
            target.port,
            target.origin,
            None,
            NOT_PROBED_DEADLINE,
        );
        tried.tcp = tcp;
        let response = match stream {
            Some(stream) => {
                let control_to = Some(addr);
                attempt(shared, (stream, &[], control_to), request, &mut tried).await
            }
            None => None,
        };
        observation.targets.push(tried);
        if response.is_some() {
            return response;
        }
    }
    None
}

/// Opens a CONNECT tunnel through `proxy` (which resolves the name) and sends the request.
async fn through_proxy<R: Resolve>(
    shared: &Shared<R>,
    proxy: &proxy::ProxyConfig,
    request: &FetchRequest,
    observation: &mut NameObservation,
) -> Option<HttpResponse> {
    let via = Some(proxy.to_string());
    let mut tried = placeholder(
        None,
        request.port,
        AddressOrigin::Proxy,
        via,
        NOT_PROBED_DEADLINE,
    );
    let response = match proxy.addresses().await {
        Err(problem) => {
            tried.tcp = TcpObservation {
                state: TcpState::ProxyError,
                ms: 0.0,
                message: Some(problem),
                proxy_status: None,
                proxy_auth: Vec::new(),
            };
            None
        }
        Ok(addresses) => {
            let limit = || shared.limit(shared.options.connect_timeout);
            let (tcp, tunnel) =
                proxy::connect_via(proxy, &addresses, &request.name, request.port, limit).await;
            tried.tcp = tcp;
            match tunnel {
                Some(tunnel) => {
                    let (stream, leftover) = (tunnel.stream, tunnel.leftover);
                    attempt(shared, (stream, &leftover, None), request, &mut tried).await
                }
                None => None,
            }
        }
    };
    observation.targets.push(tried);
    response
}

/// TLS and HTTP over one open connection (with what a proxy sent after its answer, and the
/// address control handshakes go to), recorded in `tried`.
async fn attempt<R: Sync>(
    shared: &Shared<R>,
    (stream, leftover, control_to): (tokio::net::TcpStream, &[u8], Option<std::net::SocketAddr>),
    request: &FetchRequest,
    tried: &mut TargetObservation,
) -> Option<HttpResponse> {
    let connected = Connected {
        stream,
        leftover,
        name: &request.name,
        port: request.port,
        first_turn: None,
        control_to,
    };
    over_tls(shared, connected, Some(&request.http), request.policy)
        .await
        .record(tried)
}
