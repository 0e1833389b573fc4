//! The run: resolve each name once, expand targets, probe them all concurrently under the
//! limits, and gather the observations in request order.
//!
//! Targets start as soon as their name resolves; nothing waits for the slowest lookup.
//! Every wait (for a DNS slot, a socket, a handshake slot) and every step is bounded by its
//! own timeout and by the run's deadline, so the run ends by the deadline plus a short grace;
//! whatever is cut short is recorded as such, never silently dropped. A task that fails
//! (which would be a bug) leaves an observation saying so rather than taking the run down.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use crate::catalog::{DnsName, Port};
use crate::probe::dns::{self, RecordKind, Resolve};
use crate::probe::model::{
    AddressOrigin, DnsObservation, DnsOutcome, Family, NameObservation, ProbeRequest,
    TargetObservation, TcpObservation, TcpState, TlsObservation,
};
use crate::probe::options::ProbeOptions;
use crate::probe::proxy::{self, ProxyConfig};
use crate::probe::targets::{self, Target};
use crate::probe::tls::TlsClient;
use crate::probe::{Progress, ProgressFn, StepLimit, tcp};

/// Time granted after the deadline for tasks to record that they were cut short.
const DEADLINE_GRACE: Duration = Duration::from_millis(500);

const NOT_PROBED_DEADLINE: &str = "not probed: the run's overall deadline passed first";
const NOT_PROBED_INTERNAL: &str = "not probed: internal error (a bug; please report it)";

/// Runs the probe over `requests` with `resolver` and `tls`, built once for the run.
pub async fn run_with<R: Resolve>(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    resolver: R,
    tls: TlsClient,
    progress: Option<&ProgressFn<'_>>,
) -> Vec<NameObservation> {
    let deadline = Instant::now() + options.deadline;
    let proxy = match &options.proxy {
        Some(config) if requests.iter().any(|r| !options.no_proxy.matches(&r.name)) => {
            let addresses = config.addresses().await;
            Some(Arc::new(ProxyTarget {
                config: config.clone(),
                addresses,
            }))
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        options: options.clone(),
        resolver,
        tls,
        deadline,
        dns_slots: Semaphore::new(options.dns_concurrency.max(1)),
        sockets: Semaphore::new(options.max_pending_connects.max(1)),
        handshakes: Semaphore::new(options.handshake_concurrency.max(1)),
    });

    let mut observations: Vec<NameObservation> = requests
        .iter()
        .map(|r| NameObservation {
            name: r.name.clone(),
            dns: None,
            targets: Vec::new(),
        })
        .collect();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut slots: HashMap<Id, Slot> = HashMap::new();
    let mut count = Progress {
        names: requests.len(),
        ..Progress::default()
    };

    for (index, (request, observation)) in requests.iter().zip(observations.iter_mut()).enumerate()
    {
        match &proxy {
            Some(proxy) if !options.no_proxy.matches(&request.name) => {
                count.names_done += 1;
                for port in dedup_ports(&request.ports) {
                    let slot = observation.targets.len();
                    observation.targets.push(placeholder(
                        None,
                        port,
                        AddressOrigin::Proxy,
                        Some(proxy.config.to_string()),
                        NOT_PROBED_DEADLINE,
                    ));
                    let task = proxied_target(
                        Arc::clone(&shared),
                        Arc::clone(proxy),
                        request.name.clone(),
                        port,
                    );
                    let handle = tasks.spawn(async move { Done::Target(index, slot, task.await) });
                    slots.insert(handle.id(), Slot::Target(index, slot));
                    count.targets += 1;
                }
            }
            _ => {
                let task = resolve(Arc::clone(&shared), request.name.clone());
                let handle = tasks.spawn(async move { Done::Name(index, task.await) });
                slots.insert(handle.id(), Slot::Name(index));
            }
        }
    }
    report(progress, count);

    let hard_stop = deadline + DEADLINE_GRACE;
    while let Ok(Some(joined)) = tokio::time::timeout_at(hard_stop, tasks.join_next_with_id()).await
    {
        let done = match joined {
            Ok((id, done)) => {
                slots.remove(&id);
                done
            }
            Err(err) => match slots.remove(&err.id()) {
                Some(Slot::Name(index)) => {
                    Done::Name(index, failed_dns(options.family, NOT_PROBED_INTERNAL))
                }
                Some(Slot::Target(index, slot)) => {
                    if let Some(target) = observations
                        .get_mut(index)
                        .and_then(|o| o.targets.get_mut(slot))
                    {
                        target.tcp.message = Some(NOT_PROBED_INTERNAL.to_owned());
                    }
                    count.targets_done += 1;
                    report(progress, count);
                    continue;
                }
                None => continue,
            },
        };
        match done {
            Done::Name(index, mut dns) => {
                count.names_done += 1;
                let Some(request) = requests.get(index) else {
                    continue;
                };
                let expansion = targets::expand(
                    request,
                    Some(&dns),
                    options.family,
                    options.max_addresses_per_name,
                );
                dns.addresses_dropped = expansion.dropped;
                let Some(observation) = observations.get_mut(index) else {
                    continue;
                };
                observation.dns = Some(dns);
                for target in expansion.targets {
                    let slot = observation.targets.len();
                    observation.targets.push(placeholder(
                        Some(target.address),
                        target.port,
                        target.origin,
                        None,
                        NOT_PROBED_DEADLINE,
                    ));
                    let task = direct_target(Arc::clone(&shared), request.name.clone(), target);
                    let handle = tasks.spawn(async move { Done::Target(index, slot, task.await) });
                    slots.insert(handle.id(), Slot::Target(index, slot));
                    count.targets += 1;
                }
            }
            Done::Target(index, slot, result) => {
                if let Some(target) = observations
                    .get_mut(index)
                    .and_then(|o| o.targets.get_mut(slot))
                {
                    *target = result;
                }
                count.targets_done += 1;
            }
        }
        report(progress, count);
    }
    // Past the hard stop: whatever still runs keeps its "deadline" placeholder.
    tasks.abort_all();
    for (_, slot) in slots {
        if let Slot::Name(index) = slot
            && let Some(observation) = observations.get_mut(index)
        {
            observation.dns = Some(failed_dns(options.family, NOT_PROBED_DEADLINE));
        }
    }
    observations
}

/// What the tasks share: configuration built once, and the limits.
struct Shared<R> {
    options: ProbeOptions,
    resolver: R,
    tls: TlsClient,
    deadline: Instant,
    dns_slots: Semaphore,
    sockets: Semaphore,
    handshakes: Semaphore,
}

impl<R> Shared<R> {
    fn limit(&self, step: Duration) -> StepLimit {
        StepLimit::new(step, self.deadline)
    }

    /// A permit, unless the deadline passes first.
    async fn permit<'a>(&self, semaphore: &'a Semaphore) -> Option<SemaphorePermit<'a>> {
        match tokio::time::timeout_at(self.deadline, semaphore.acquire()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => None,
        }
    }
}

struct ProxyTarget {
    config: ProxyConfig,
    addresses: Result<Vec<SocketAddr>, String>,
}

enum Slot {
    Name(usize),
    Target(usize, usize),
}

enum Done {
    Name(usize, DnsObservation),
    Target(usize, usize, TargetObservation),
}

fn report(progress: Option<&ProgressFn<'_>>, count: Progress) {
    if let Some(progress) = progress {
        progress(count);
    }
}

fn dedup_ports(ports: &[Port]) -> Vec<Port> {
    let mut out: Vec<Port> = Vec::new();
    for port in ports {
        if !out.contains(port) {
            out.push(*port);
        }
    }
    out
}

/// A and AAAA (as the family asks) in parallel, each bounded by the DNS timeout.
async fn resolve<R: Resolve>(shared: Arc<Shared<R>>, name: DnsName) -> DnsObservation {
    let Some(_slot) = shared.permit(&shared.dns_slots).await else {
        return failed_dns(shared.options.family, NOT_PROBED_DEADLINE);
    };
    let limit = shared.limit(shared.options.dns_timeout);
    let family = shared.options.family;
    let lookup = |kind: RecordKind| {
        let shared = &shared;
        let name = &name;
        async move {
            let start = Instant::now();
            match tokio::time::timeout(limit.duration, shared.resolver.lookup(name, kind)).await {
                Ok(lookup) => lookup,
                Err(_) => dns::timed_out(kind, &limit, super::elapsed_ms(start)),
            }
        }
    };
    let (a, aaaa) = tokio::join!(
        async {
            match family {
                Family::V6 => None,
                _ => Some(lookup(RecordKind::A).await),
            }
        },
        async {
            match family {
                Family::V4 => None,
                _ => Some(lookup(RecordKind::Aaaa).await),
            }
        }
    );
    DnsObservation {
        a,
        aaaa,
        addresses_dropped: 0,
    }
}

/// A DNS observation for lookups that never ran.
fn failed_dns(family: Family, message: &str) -> DnsObservation {
    let lookup =
        |kind: RecordKind| dns::failure(kind, DnsOutcome::Error, None, 0.0, message.to_owned());
    DnsObservation {
        a: (family != Family::V6).then(|| lookup(RecordKind::A)),
        aaaa: (family != Family::V4).then(|| lookup(RecordKind::Aaaa)),
        addresses_dropped: 0,
    }
}

fn placeholder(
    address: Option<IpAddr>,
    port: Port,
    origin: AddressOrigin,
    proxy: Option<String>,
    message: &str,
) -> TargetObservation {
    TargetObservation {
        address,
        port,
        origin,
        proxy,
        tcp: TcpObservation {
            state: TcpState::Other,
            ms: 0.0,
            message: Some(message.to_owned()),
            proxy_status: None,
        },
        tls: None,
    }
}

async fn direct_target<R: Resolve>(
    shared: Arc<Shared<R>>,
    name: DnsName,
    target: Target,
) -> TargetObservation {
    let mut observation = placeholder(
        Some(target.address),
        target.port,
        target.origin,
        None,
        NOT_PROBED_DEADLINE,
    );
    // The socket permit is held until the socket is closed: it stands for a file descriptor.
    let Some(_socket) = shared.permit(&shared.sockets).await else {
        return observation;
    };
    let addr = SocketAddr::new(target.address, target.port.get());
    let (tcp, stream) = tcp::connect(addr, shared.limit(shared.options.connect_timeout)).await;
    observation.tcp = tcp;
    if let Some(stream) = stream {
        observation.tls = Some(handshake(&shared, stream, &[], &name).await);
    }
    observation
}

async fn proxied_target<R: Resolve>(
    shared: Arc<Shared<R>>,
    proxy: Arc<ProxyTarget>,
    name: DnsName,
    port: Port,
) -> TargetObservation {
    let via = Some(proxy.config.to_string());
    let mut observation = placeholder(None, port, AddressOrigin::Proxy, via, NOT_PROBED_DEADLINE);
    let addresses = match &proxy.addresses {
        Ok(addresses) => addresses,
        Err(problem) => {
            observation.tcp = TcpObservation {
                state: TcpState::ProxyError,
                ms: 0.0,
                message: Some(problem.clone()),
                proxy_status: None,
            };
            return observation;
        }
    };
    let Some(_socket) = shared.permit(&shared.sockets).await else {
        return observation;
    };
    let (tcp, tunnel) = proxy::connect_via(&proxy.config, addresses, &name, port, || {
        shared.limit(shared.options.connect_timeout)
    })
    .await;
    observation.tcp = tcp;
    if let Some(tunnel) = tunnel {
        observation.tls = Some(handshake(&shared, tunnel.stream, &tunnel.leftover, &name).await);
    }
    observation
}

async fn handshake<R>(
    shared: &Shared<R>,
    stream: tokio::net::TcpStream,
    leftover: &[u8],
    name: &DnsName,
) -> TlsObservation {
    let Some(_slot) = shared.permit(&shared.handshakes).await else {
        return TlsObservation::not_attempted(NOT_PROBED_DEADLINE);
    };
    shared
        .tls
        .handshake(
            stream,
            leftover,
            name,
            shared.limit(shared.options.handshake_timeout),
            shared.options.max_tls_bytes,
        )
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::probe::model::DnsLookup;
    use crate::probe::verify::TrustStores;

    /// Answers from a table; names not in it time out (the engine's timeout cuts them).
    struct FakeResolver {
        answers: HashMap<(String, &'static str), Vec<IpAddr>>,
        asked: Mutex<Vec<(String, &'static str)>>,
    }

    impl FakeResolver {
        fn new(entries: &[(&str, &'static str, &[&str])]) -> Self {
            FakeResolver {
                answers: entries
                    .iter()
                    .map(|(name, kind, addrs)| {
                        (
                            ((*name).to_owned(), *kind),
                            addrs.iter().map(|a| a.parse().unwrap()).collect(),
                        )
                    })
                    .collect(),
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    impl Resolve for FakeResolver {
        async fn lookup(&self, name: &DnsName, kind: RecordKind) -> DnsLookup {
            self.asked
                .lock()
                .unwrap()
                .push((name.as_str().to_owned(), kind.label()));
            match self.answers.get(&(name.as_str().to_owned(), kind.label())) {
                None => std::future::pending().await,
                Some(addrs) => crate::probe::testing::answered(kind, addrs),
            }
        }
    }

    fn tls() -> TlsClient {
        TlsClient::with_stores(TrustStores {
            public: Arc::new(rustls::RootCertStore::empty()),
            system: Arc::new(rustls::RootCertStore::empty()),
            system_problem: None,
        })
        .unwrap()
    }

    fn request(name: &str, ports: &[u16], documented: &[&str]) -> ProbeRequest {
        ProbeRequest {
            name: DnsName::parse(name).unwrap(),
            ports: ports.iter().map(|&p| Port::try_from(p).unwrap()).collect(),
            documented: documented.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    /// A port on loopback with nothing listening: bind, note the port, close.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn each_name_is_resolved_once_and_every_target_is_reported_in_order() {
        let port = closed_port();
        let resolver = FakeResolver::new(&[
            ("a.example.no", "A", &["127.0.0.1"]),
            ("a.example.no", "AAAA", &[]),
        ]);
        let requests = vec![request(
            "a.example.no",
            &[port],
            &["127.0.0.1", "127.0.0.2"],
        )];
        let options = ProbeOptions {
            connect_timeout: Duration::from_secs(5),
            ..ProbeOptions::default()
        };
        let seen = Mutex::new(Vec::new());
        let progress = |p: Progress| seen.lock().unwrap().push(p);
        let observations = run_with(&requests, &options, resolver, tls(), Some(&progress)).await;
        let [observation] = observations.as_slice() else {
            panic!("one observation per request");
        };
        let dns = observation.dns.as_ref().unwrap();
        assert_eq!(dns.outcome(), DnsOutcome::Answer);
        let targets: Vec<String> = observation
            .targets
            .iter()
            .map(|t| format!("{:?} {:?} {:?}", t.address.unwrap(), t.origin, t.tcp.state))
            .collect();
        assert_eq!(
            targets,
            vec![
                "127.0.0.1 DnsAndDocumented Refused",
                "127.0.0.2 Documented Refused",
            ]
        );
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(last.names_done, 1);
        assert_eq!(last.targets, 2);
        assert_eq!(last.targets_done, 2);
    }

    #[tokio::test]
    async fn a_resolver_that_never_answers_is_cut_by_the_dns_timeout() {
        let resolver = FakeResolver::new(&[]);
        let requests = vec![request("silent.example.no", &[443], &[])];
        let options = ProbeOptions {
            dns_timeout: Duration::from_millis(50),
            family: Family::V4,
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, resolver, tls(), None).await;
        let dns = observations[0].dns.as_ref().unwrap();
        assert!(dns.aaaa.is_none(), "--family 4 asks for A only");
        assert_eq!(dns.outcome(), DnsOutcome::Timeout);
        assert!(observations[0].targets.is_empty());
    }

    #[tokio::test]
    async fn the_overall_deadline_ends_the_run_and_says_what_was_cut() {
        // The DNS timeout is longer than the deadline: the deadline wins.
        let resolver = FakeResolver::new(&[]);
        let requests = vec![request("slow.example.no", &[443], &[])];
        let options = ProbeOptions {
            dns_timeout: Duration::from_secs(60),
            deadline: Duration::from_millis(100),
            ..ProbeOptions::default()
        };
        let started = std::time::Instant::now();
        let observations = run_with(&requests, &options, resolver, tls(), None).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ends, does not hang"
        );
        let dns = observations[0].dns.as_ref().unwrap();
        let message = dns.a.as_ref().unwrap().message.as_deref().unwrap();
        assert!(message.contains("deadline"), "{message}");
    }

    #[tokio::test]
    async fn names_matching_no_proxy_are_resolved_and_others_go_through_the_proxy() {
        let port = closed_port();
        let resolver = FakeResolver::new(&[
            ("direct.example.no", "A", &["127.0.0.1"]),
            ("direct.example.no", "AAAA", &[]),
        ]);
        let requests = vec![
            request("direct.example.no", &[port], &[]),
            request("proxied.example.no", &[443, 443, 8443], &["127.0.0.9"]),
        ];
        let options = ProbeOptions {
            proxy: Some(ProxyConfig::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
            no_proxy: proxy::NoProxy::parse("direct.example.no"),
            ..ProbeOptions::default()
        };
        let resolver = Arc::new(resolver);
        let observations = run_with(&requests, &options, Arc::clone(&resolver), tls(), None).await;
        assert!(observations[0].dns.is_some());
        assert_eq!(observations[0].targets[0].tcp.state, TcpState::Refused);
        assert!(observations[1].dns.is_none(), "the proxy resolves");
        let proxied: Vec<(Option<IpAddr>, u16, TcpState)> = observations[1]
            .targets
            .iter()
            .map(|t| (t.address, t.port.get(), t.tcp.state))
            .collect();
        assert_eq!(
            proxied,
            vec![
                (None, 443, TcpState::ProxyError),
                (None, 8443, TcpState::ProxyError)
            ]
        );
        let message = observations[1].targets[0].tcp.message.as_deref().unwrap();
        assert!(message.contains("cannot connect to the proxy"), "{message}");
        let asked = resolver.asked.lock().unwrap().clone();
        assert!(
            asked.iter().all(|(name, _)| name == "direct.example.no"),
            "{asked:?}"
        );
    }
}
