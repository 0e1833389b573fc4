//! The run: resolve each name once, expand targets, probe them all concurrently under the
//! limits, and gather the observations in request order.
//!
//! Documented addresses start at once, alongside their name's lookup: they are probed
//! whatever DNS says, so a slow or failing resolver delays nothing it cannot change. The
//! addresses only DNS knows start as soon as their name resolves; nothing waits for the
//! slowest lookup. Every wait (for a DNS slot, a socket, a handshake slot) and every step is bounded by its
//! own timeout and by the run's deadline, so the run ends by the deadline plus a short grace;
//! whatever is cut short is recorded as such, never silently dropped. A task that fails
//! (which would be a bug) leaves an observation saying so rather than taking the run down.
//!
//! [`fetch`] reuses the same steps for one request whose answer a command needs.

mod control;
mod fetch;

pub use fetch::{FetchRequest, Fetched, fetch};

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use crate::catalog::{DnsName, Port};
use crate::probe::dns::{self, RecordKind, Resolve};
use crate::probe::http::{self, HttpExchange, HttpLimits, HttpRequest};
use crate::probe::limits::Limits;
use crate::probe::model::{
    AddressOrigin, ControlHello, DnsLookup, DnsObservation, DnsOutcome, Family, NameObservation,
    ProbeRequest, TargetObservation, TcpObservation, TcpState, TlsObservation,
};
use crate::probe::options::{CONNECT_AHEAD_PATIENCE_DIVISOR, CONNECT_AHEAD_STALL, ProbeOptions};
use crate::probe::proxy::{self, ProxyConfig};
use crate::probe::stream::TlsStream;
use crate::probe::targets::{self, Target};
use crate::probe::tls::{CpuGate, Handshake, HandshakeProgress, Hello, Sni, TlsClient};
use crate::probe::{Progress, ProgressFn, StepLimit, tcp};

/// Time granted after the deadline for tasks to record that they were cut short: 0.5 s, or a
/// quarter of the deadline when that is less (so that `serve`, which must answer before a
/// scrape's timeout, can count on the run ending by 1.25 × its deadline).
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// The grace after `deadline` (see [`DEADLINE_GRACE`]).
pub fn deadline_grace(deadline: Duration) -> Duration {
    DEADLINE_GRACE.min(deadline / 4)
}

pub(crate) const NOT_PROBED_DEADLINE: &str = "not probed: the run's overall deadline passed first";
const NOT_PROBED_INTERNAL: &str = "not probed: internal error (a bug; please report it)";

/// Runs the probe over `requests` with `resolver` and `tls`, built once for the run, under
/// limits of its own.
pub async fn run_with<R: Resolve>(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    resolver: R,
    tls: TlsClient,
    progress: Option<&ProgressFn<'_>>,
) -> Vec<NameObservation> {
    let limits = Limits::new(options);
    run_within(requests, options, resolver, tls, limits, progress).await
}

/// [`run_with`] under `limits`, which other runs may share (`serve`'s overlapping scrapes).
///
/// The steps: every target that needs no DNS starts at once, and the names' lookups as many
/// at a time as resolve at once ([`Run::start`]); each result takes its place as it comes,
/// and a name's answer starts the targets only DNS knows ([`Run::gather`]); at the hard stop,
/// whatever is still running keeps its "deadline" placeholder ([`Run::finish`]).
pub async fn run_within<R: Resolve>(
    requests: &[ProbeRequest],
    options: &ProbeOptions,
    resolver: R,
    tls: TlsClient,
    limits: Limits,
    progress: Option<&ProgressFn<'_>>,
) -> Vec<NameObservation> {
    let deadline = Instant::now() + options.deadline;
    // What `--connect-to` leaves to DNS: the ports no rule matches (all of them, without
    // rules). The matched ports go to the given addresses, directly.
    let remaining: Vec<Cow<'_, ProbeRequest>> = requests
        .iter()
        .map(|r| options.connect_to.remaining(r))
        .collect();
    let proxy = proxy_for(options, &remaining).await;
    let names = requests.iter().map(|r| &r.name);
    let shared = Arc::new(Shared::new(options, resolver, tls, deadline, names, limits));
    let mut run = Run::new(requests, &remaining, shared, progress);
    run.start(proxy.as_ref());
    run.gather(deadline + deadline_grace(options.deadline))
        .await;
    run.finish()
}

/// The proxy the run's names go through, when one is configured and some name that DNS
/// would otherwise answer does not match `--no-proxy`; its addresses are looked up once.
async fn proxy_for(
    options: &ProbeOptions,
    remaining: &[Cow<'_, ProbeRequest>],
) -> Option<Arc<ProxyTarget>> {
    let config = options.proxy.as_ref()?;
    let used = remaining
        .iter()
        .any(|r| !r.ports.is_empty() && !options.no_proxy.matches(&r.name));
    if !used {
        return None;
    }
    let addresses = config.addresses().await;
    Some(Arc::new(ProxyTarget {
        config: config.clone(),
        addresses,
    }))
}

/// A run under way: its tasks, what each stands for, and the observations they fill in, in
/// request order.
struct Run<'a, 'p, R> {
    /// The requests as given.
    requests: &'a [ProbeRequest],
    /// The requests as DNS sees them (see `--connect-to`).
    remaining: &'a [Cow<'a, ProbeRequest>],
    shared: Arc<Shared<R>>,
    /// Each name's HTTP request, shared by its targets' tasks.
    https: Vec<Option<Arc<HttpRequest>>>,
    observations: Vec<NameObservation>,
    tasks: JoinSet<Done>,
    slots: HashMap<Id, Slot>,
    /// Documented targets started before their name resolved, per request.
    early: Vec<HashMap<TargetKey, Early>>,
    /// Requests whose lookup waits for one of the run's lookups to end. A lookup task is
    /// spawned only then, as many at a time as names resolve at once (the DNS concurrency):
    /// the others would only wait for a DNS slot, each carrying a task (a run over 4,000
    /// names carried 4,000).
    queued: VecDeque<usize>,
    /// Lookup tasks spawned and not yet joined.
    lookups: usize,
    count: Progress,
    progress: Option<&'p ProgressFn<'p>>,
}

impl<'a, 'p, R: Resolve + Send + Sync + 'static> Run<'a, 'p, R> {
    fn new(
        requests: &'a [ProbeRequest],
        remaining: &'a [Cow<'a, ProbeRequest>],
        shared: Arc<Shared<R>>,
        progress: Option<&'p ProgressFn<'p>>,
    ) -> Self {
        Run {
            requests,
            remaining,
            shared,
            https: requests
                .iter()
                .map(|r| r.http.clone().map(Arc::new))
                .collect(),
            observations: requests
                .iter()
                .map(|r| NameObservation {
                    name: r.name.clone(),
                    dns: None,
                    targets: Vec::new(),
                })
                .collect(),
            tasks: JoinSet::new(),
            slots: HashMap::new(),
            early: vec![HashMap::new(); requests.len()],
            queued: VecDeque::new(),
            lookups: 0,
            count: Progress {
                names: requests.len(),
                ..Progress::default()
            },
            progress,
        }
    }

    /// Starts what needs no answer first: each request's `--connect-to` targets, then
    /// either its proxied targets or its lookup with its documented targets alongside.
    fn start(&mut self, proxy: Option<&Arc<ProxyTarget>>) {
        let shared = Arc::clone(&self.shared);
        let options = &shared.options;
        for (index, (given, request)) in self.requests.iter().zip(self.remaining).enumerate() {
            for target in options.connect_to.targets(given) {
                self.start_direct(index, target);
            }
            if request.ports.is_empty() {
                // Every port has its address: nothing to ask DNS.
                self.count.names_done += 1;
                continue;
            }
            match proxy {
                Some(proxy) if !options.no_proxy.matches(&request.name) => {
                    self.start_proxied(index, request, proxy);
                }
                _ => self.start_lookup(index, request),
            }
        }
        report(self.progress, self.count);
    }

    /// Starts `target` of request `index` directly (no proxy) in the next place among the
    /// request's targets, which holds a placeholder until the result replaces it.
    fn start_direct(&mut self, index: usize, target: Target) {
        let Some(name) = self.observations.get(index).map(|o| o.name.clone()) else {
            return;
        };
        let Some(slot) = self.place(index, waiting(&target)) else {
            return;
        };
        let http = http_of(&self.https, index);
        let task = direct_target(Arc::clone(&self.shared), name, http, target);
        self.spawn(Slot::Target(index, slot), async move {
            Done::Target(index, slot, task.await)
        });
    }

    /// Hands request `index` to the proxy: a target per port, each with its placeholder.
    fn start_proxied(&mut self, index: usize, request: &ProbeRequest, proxy: &Arc<ProxyTarget>) {
        self.count.names_done += 1;
        for port in dedup_ports(&request.ports) {
            let via = Some(proxy.config.to_string());
            let proxied = placeholder(None, port, AddressOrigin::Proxy, via, NOT_PROBED_DEADLINE);
            let Some(slot) = self.place(index, proxied) else {
                return;
            };
            let task = proxied_target(
                Arc::clone(&self.shared),
                Arc::clone(proxy),
                request.name.clone(),
                http_of(&self.https, index),
                port,
            );
            self.spawn(Slot::Target(index, slot), async move {
                Done::Target(index, slot, task.await)
            });
        }
    }

    /// Starts request `index`'s lookup, and its documented targets alongside: they are
    /// probed whatever DNS says. Each takes its place among the targets once DNS answers.
    fn start_lookup(&mut self, index: usize, request: &ProbeRequest) {
        self.queued.push_back(index);
        self.spawn_lookups();
        for target in documented_targets(request, &self.shared.options) {
            let key = (target.address, target.port);
            let Some(started) = self.early.get_mut(index) else {
                return;
            };
            if started.contains_key(&key) {
                continue;
            }
            started.insert(key, Early::Running { slot: None });
            let task = direct_target(
                Arc::clone(&self.shared),
                request.name.clone(),
                http_of(&self.https, index),
                target,
            );
            self.spawn(Slot::Early(index, key), async move {
                Done::Early(index, key, task.await)
            });
        }
    }

    /// Spawns queued lookups while the run has fewer running than its DNS concurrency.
    fn spawn_lookups(&mut self) {
        while self.lookups < self.shared.options.dns_concurrency.max(1) {
            let Some(index) = self.queued.pop_front() else {
                return;
            };
            let Some(request) = self.remaining.get(index) else {
                continue;
            };
            let task = resolve(Arc::clone(&self.shared), request.name.clone());
            self.lookups += 1;
            self.spawn(
                Slot::Name(index),
                async move { Done::Name(index, task.await) },
            );
        }
    }

    /// Puts `waiting` in the next place among request `index`'s targets; that place.
    fn place(&mut self, index: usize, waiting: TargetObservation) -> Option<usize> {
        let targets = &mut self.observations.get_mut(index)?.targets;
        targets.push(waiting);
        Some(targets.len() - 1)
    }

    /// Spawns `task`, which stands for `slot` until it is joined.
    fn spawn(&mut self, slot: Slot, task: impl Future<Output = Done> + Send + 'static) {
        if !matches!(slot, Slot::Name(_)) {
            self.count.targets += 1;
        }
        let handle = self.tasks.spawn(task);
        self.slots.insert(handle.id(), slot);
    }

    /// Takes each result as it comes, until every task is done or `hard_stop` passes.
    async fn gather(&mut self, hard_stop: Instant) {
        while let Ok(Some(joined)) =
            tokio::time::timeout_at(hard_stop, self.tasks.join_next_with_id()).await
        {
            let Some(done) = self.take(joined) else {
                continue;
            };
            match done {
                Done::Name(index, dns) => {
                    self.lookups = self.lookups.saturating_sub(1);
                    self.on_name(index, dns);
                    self.spawn_lookups();
                }
                Done::Target(index, slot, result) => self.on_target(index, slot, result),
                Done::Early(index, key, result) => self.on_early(index, key, result),
            }
            report(self.progress, self.count);
        }
    }

    /// What a joined task leaves: its result, or for a task that failed (a bug) an
    /// observation saying so in its place.
    fn take(&mut self, joined: Result<(Id, Done), tokio::task::JoinError>) -> Option<Done> {
        let failed = match joined {
            Ok((id, done)) => {
                self.slots.remove(&id);
                return Some(done);
            }
            Err(failed) => failed,
        };
        match self.slots.remove(&failed.id())? {
            Slot::Name(index) => Some(Done::Name(
                index,
                failed_dns(self.shared.options.family, NOT_PROBED_INTERNAL),
            )),
            Slot::Target(index, slot) => {
                if let Some(target) = self.target_mut(index, slot) {
                    target.tcp.message = Some(NOT_PROBED_INTERNAL.to_owned());
                }
                self.count.targets_done += 1;
                report(self.progress, self.count);
                None
            }
            Slot::Early(index, key) => {
                let failed = placeholder(
                    Some(key.0),
                    key.1,
                    AddressOrigin::Documented,
                    None,
                    NOT_PROBED_INTERNAL,
                );
                Some(Done::Early(index, key, failed))
            }
        }
    }

    /// A name's lookups answered: its targets, in answer order. Documented ones already
    /// running take their place with the origin DNS now gives them; the others start.
    fn on_name(&mut self, index: usize, mut dns: DnsObservation) {
        self.count.names_done += 1;
        let Some(request) = self.remaining.get(index) else {
            return;
        };
        let options = &self.shared.options;
        let expansion = targets::expand(
            request,
            Some(&dns),
            options.family,
            options.max_addresses_per_name,
        );
        dns.addresses_dropped = expansion.dropped;
        let Some(observation) = self.observations.get_mut(index) else {
            return;
        };
        observation.dns = Some(dns);
        for target in expansion.targets {
            let key = (target.address, target.port);
            let early = self.early.get_mut(index).and_then(|e| e.get_mut(&key));
            match early {
                Some(state) => {
                    if !state.placed()
                        && let Some(observation) = self.observations.get_mut(index)
                    {
                        let slot = observation.targets.len();
                        observation.targets.push(take_place(state, slot, target));
                    }
                }
                None => self.start_direct(index, target),
            }
        }
    }

    /// A target's result replaces its placeholder.
    fn on_target(&mut self, index: usize, slot: usize, result: TargetObservation) {
        if let Some(target) = self.target_mut(index, slot) {
            *target = result;
        }
        self.count.targets_done += 1;
    }

    /// A documented target started before its name resolved is done: into its place if it
    /// has one (keeping the origin DNS gave it), else kept until DNS gives it one.
    fn on_early(&mut self, index: usize, key: TargetKey, mut result: TargetObservation) {
        self.count.targets_done += 1;
        let Some(state) = self.early.get_mut(index).and_then(|e| e.get_mut(&key)) else {
            return;
        };
        match std::mem::replace(state, Early::Placed) {
            Early::Running { slot: Some(slot) } => {
                if let Some(target) = self
                    .observations
                    .get_mut(index)
                    .and_then(|o| o.targets.get_mut(slot))
                {
                    result.origin = target.origin;
                    *target = result;
                }
            }
            Early::Running { slot: None } => *state = Early::Finished(Box::new(result)),
            // A second result for one target cannot happen; keep the first.
            other @ (Early::Finished(_) | Early::Placed) => *state = other,
        }
    }

    fn target_mut(&mut self, index: usize, slot: usize) -> Option<&mut TargetObservation> {
        self.observations
            .get_mut(index)
            .and_then(|o| o.targets.get_mut(slot))
    }

    /// Past the hard stop: whatever still runs keeps its "deadline" placeholder, a name DNS
    /// never answered says so, and its documented targets take their places in their order.
    fn finish(mut self) -> Vec<NameObservation> {
        self.tasks.abort_all();
        let family = self.shared.options.family;
        let unanswered = self.slots.drain().filter_map(|(_, slot)| match slot {
            Slot::Name(index) => Some(index),
            _ => None,
        });
        for index in unanswered.chain(self.queued.drain(..)) {
            if let Some(observation) = self.observations.get_mut(index) {
                observation.dns = Some(failed_dns(family, NOT_PROBED_DEADLINE));
            }
        }
        let options = &self.shared.options;
        for (observation, (request, started)) in self
            .observations
            .iter_mut()
            .zip(self.remaining.iter().zip(self.early.iter_mut()))
        {
            if started.values().all(Early::placed) {
                continue;
            }
            for target in documented_targets(request, options) {
                if let Some(state) = started.get_mut(&(target.address, target.port))
                    && !state.placed()
                {
                    let slot = observation.targets.len();
                    observation.targets.push(take_place(state, slot, target));
                }
            }
        }
        self.observations
    }
}

/// The HTTP request of the request at `index`, for one of its targets.
fn http_of(https: &[Option<Arc<HttpRequest>>], index: usize) -> Option<Arc<HttpRequest>> {
    https.get(index).cloned().flatten()
}

/// The targets of `request` that need no DNS: its documented addresses on its ports.
fn documented_targets(request: &ProbeRequest, options: &ProbeOptions) -> Vec<Target> {
    targets::expand(
        request,
        None,
        options.family,
        options.max_addresses_per_name,
    )
    .targets
}

/// A documented target started before its name resolved.
type TargetKey = (IpAddr, Port);

/// Where an early target stands.
#[derive(Debug, Clone)]
enum Early {
    /// Running; `slot` is its place among its name's targets once it has one (its
    /// placeholder is there until the result replaces it).
    Running { slot: Option<usize> },
    /// Done before it had a place: kept until it takes one.
    Finished(Box<TargetObservation>),
    /// Done and in its place.
    Placed,
}

impl Early {
    /// True once the target has its place among its name's targets.
    fn placed(&self) -> bool {
        matches!(self, Early::Placed | Early::Running { slot: Some(_) })
    }
}

/// The observation to put in `slot` for an early target that has no place yet: its result
/// when finished (with the origin the expansion gives it), else a placeholder its result
/// will replace.
fn take_place(state: &mut Early, slot: usize, target: Target) -> TargetObservation {
    match std::mem::replace(state, Early::Placed) {
        Early::Finished(mut done) => {
            done.origin = target.origin;
            *done
        }
        Early::Running { .. } | Early::Placed => {
            *state = Early::Running { slot: Some(slot) };
            waiting(&target)
        }
    }
}

/// What the tasks share: configuration built once, and the limits.
struct Shared<R> {
    options: ProbeOptions,
    resolver: R,
    tls: TlsClient,
    deadline: Instant,
    /// The run's own limits, or the ones it shares with other runs (see [`Limits`]).
    limits: Limits,
    /// The control handshakes' name, when they send one (see `control`).
    control_sni: Option<DnsName>,
}

impl<R> Shared<R> {
    /// The shared state of a run that probes `names`.
    fn new<'n>(
        options: &ProbeOptions,
        resolver: R,
        tls: TlsClient,
        deadline: Instant,
        names: impl Iterator<Item = &'n DnsName> + Clone,
        limits: Limits,
    ) -> Self {
        Shared {
            control_sni: options
                .control
                .sni_for(|candidate| names.clone().any(|name| name == candidate)),
            options: options.clone(),
            resolver,
            tls,
            deadline,
            limits,
        }
    }

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
    Early(usize, TargetKey),
}

enum Done {
    Name(usize, DnsObservation),
    Target(usize, usize, TargetObservation),
    Early(usize, TargetKey, TargetObservation),
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
    let Some(_slot) = shared.permit(&shared.limits.dns).await else {
        return failed_dns(shared.options.family, NOT_PROBED_DEADLINE);
    };
    // The run spawns this task only when one of its own lookups has ended, but runs may
    // share the slots (`serve`): the lookups' state (large, hickory's futures) is allocated
    // only once the name has one.
    Box::pin(lookups(&shared, name)).await
}

/// The lookups of one name, within the DNS timeout.
async fn lookups<R: Resolve>(shared: &Shared<R>, name: DnsName) -> DnsObservation {
    let limit = shared.limit(shared.options.dns_timeout);
    let family = shared.options.family;
    let (a_lookup, aaaa_lookup) = shared.resolver.lookup_pair(&name, family);
    // Boxed once here, so that the futures (kilobytes each) are not copied again with every
    // wrapper they pass through.
    let (a_lookup, aaaa_lookup) = (Box::pin(a_lookup), Box::pin(aaaa_lookup));
    let started = Instant::now();
    let (a, aaaa) = tokio::join!(
        async {
            match family {
                Family::V6 => None,
                _ => Some(bounded(RecordKind::A, &limit, a_lookup).await),
            }
        },
        async {
            match family {
                Family::V4 => None,
                _ => Some(bounded(RecordKind::Aaaa, &limit, aaaa_lookup).await),
            }
        }
    );
    // A lookup that found nothing may be explained further (a CNAME chain that ends nowhere)
    // within what is left of the same limit; not when the other family answered directly,
    // since a name with its own addresses is no alias.
    let direct = |l: &Option<DnsLookup>| {
        l.as_ref()
            .is_some_and(|l| l.outcome == DnsOutcome::Answer && l.cname_chain.is_empty())
    };
    let (a_direct, aaaa_direct) = (direct(&a), direct(&aaaa));
    let explain = |lookup: Option<DnsLookup>, other_direct: bool, kind: RecordKind| {
        let shared = &shared;
        let name = &name;
        async move {
            match lookup {
                Some(found)
                    if found.outcome == DnsOutcome::NoRecords
                        && found.cname_chain.is_empty()
                        && !other_direct =>
                {
                    let left = limit.duration.saturating_sub(started.elapsed());
                    let fallback = found.clone();
                    // Boxed: rarely needed, and a resolver's explanation may be a large future.
                    let explain = Box::pin(shared.resolver.explain(name, kind, found));
                    let explained = tokio::time::timeout(left, explain);
                    Some(explained.await.unwrap_or(fallback))
                }
                other => other,
            }
        }
    };
    let (a, aaaa) = tokio::join!(
        explain(a, aaaa_direct, RecordKind::A),
        explain(aaaa, a_direct, RecordKind::Aaaa)
    );
    DnsObservation {
        a,
        aaaa,
        addresses_dropped: 0,
    }
}

/// `lookup`, cut short at `limit`.
async fn bounded(
    kind: RecordKind,
    limit: &StepLimit,
    lookup: impl Future<Output = DnsLookup>,
) -> DnsLookup {
    let start = Instant::now();
    match tokio::time::timeout(limit.duration, lookup).await {
        Ok(lookup) => lookup,
        Err(_) => dns::timed_out(kind, limit, super::elapsed_ms(start)),
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
            proxy_auth: Vec::new(),
        },
        tls: None,
        http: None,
        control: Vec::new(),
    }
}

/// A direct target's observation until its result replaces it: not probed, cut by the
/// deadline.
fn waiting(target: &Target) -> TargetObservation {
    placeholder(
        Some(target.address),
        target.port,
        target.origin,
        None,
        NOT_PROBED_DEADLINE,
    )
}

async fn direct_target<R: Resolve>(
    shared: Arc<Shared<R>>,
    name: DnsName,
    http: Option<Arc<HttpRequest>>,
    target: Target,
) -> TargetObservation {
    // The socket permit is held until the socket is closed: it stands for a file descriptor.
    let Some(_socket) = shared.permit(&shared.limits.sockets).await else {
        return waiting(&target);
    };
    // A place in the connect-ahead window, waited for at most a tenth of the connect
    // timeout: a black hole queued behind a full window is reported that much late at most.
    let patience = shared.options.connect_timeout / CONNECT_AHEAD_PATIENCE_DIVISOR;
    let ahead = tokio::time::timeout(patience, shared.limits.connect_ahead.acquire())
        .await
        .ok()
        .and_then(Result::ok);
    let addr = SocketAddr::new(target.address, target.port.get());
    let connect = std::pin::pin!(tcp::connect(
        addr,
        shared.limit(shared.options.connect_timeout)
    ));
    let ((tcp, stream), ahead) = connect_ahead(connect, ahead).await;
    let secured = match stream {
        Some(stream) => {
            // The slot of the handshake's first turn, waited for before anything of the
            // handshake exists: a connection waiting for one holds its socket and this small
            // task. Thousands may wait at once (a long run's targets outlast their patience
            // for a connect-ahead place and connect together); the steps below would cost
            // each about 8 KiB more.
            let first_turn = shared.permit(&shared.limits.handshakes).await;
            // From its ClientHello on, the connection no longer waits for a handshake.
            drop(ahead);
            let over = Connected {
                stream,
                leftover: &[],
                name: &name,
                port: target.port,
                first_turn,
                control_to: Some(addr),
            };
            // Boxed: what the steps over a connection need (the handshake, its controls, the
            // HTTP exchange) is allocated once the target has a connection and a slot, not
            // carried by every task from its start. A run starts a task per target at once,
            // and most of them wait for a place first.
            Some(Box::pin(over_tls(&shared, over, http.as_deref(), SendPolicy::Always)).await)
        }
        None => None,
    };
    let mut observation = waiting(&target);
    observation.tcp = tcp;
    if let Some(secured) = secured {
        secured.record(&mut observation);
    }
    observation
}

/// Runs `connect` holding `ahead`, its place in the connect-ahead window if it got one, for
/// as long as the connect may soon complete; the place, when the connect completed within
/// [`CONNECT_AHEAD_STALL`], is for the caller to hold until its handshake has a slot.
///
/// Connects run ahead of the handshakes, but not far: on a fast path, about as many
/// connections are open and waiting for a handshake slot as there are slots. Opening every
/// connection at once has them sit idle on the server, and the burst of connects keeps the
/// first handshakes waiting. Two escapes keep black holes from queueing: a connect unanswered
/// for [`CONNECT_AHEAD_STALL`] gives its place back (a slow or black-holed path costs a
/// socket, not a place), and a target that waited a tenth of its connect timeout for a place
/// ([`CONNECT_AHEAD_PATIENCE_DIVISOR`]) connects without one. Connects in flight stay
/// bounded only by `--max-connects`.
///
/// The connect is pinned in the caller's state and borrowed here, so that it is stored once:
/// moved in and pinned again, it was stored twice in every target's task.
async fn connect_ahead<'a, T>(
    mut connect: std::pin::Pin<&mut impl Future<Output = T>>,
    ahead: Option<SemaphorePermit<'a>>,
) -> (T, Option<SemaphorePermit<'a>>) {
    let Some(ahead) = ahead else {
        return (connect.await, None);
    };
    tokio::select! {
        biased;
        done = &mut connect => (done, Some(ahead)),
        () = tokio::time::sleep(CONNECT_AHEAD_STALL) => {
            drop(ahead);
            (connect.await, None)
        }
    }
}

async fn proxied_target<R: Resolve>(
    shared: Arc<Shared<R>>,
    proxy: Arc<ProxyTarget>,
    name: DnsName,
    http: Option<Arc<HttpRequest>>,
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
                proxy_auth: Vec::new(),
            };
            return observation;
        }
    };
    let Some(_socket) = shared.permit(&shared.limits.sockets).await else {
        return observation;
    };
    let (tcp, tunnel) = proxy::connect_via(&proxy.config, addresses, &name, port, || {
        shared.limit(shared.options.connect_timeout)
    })
    .await;
    observation.tcp = tcp;
    if let Some(tunnel) = tunnel {
        let over = Connected {
            stream: tunnel.stream,
            leftover: &tunnel.leftover,
            name: &name,
            port,
            first_turn: None,
            control_to: None,
        };
        let secured = over_tls(&shared, over, http.as_deref(), SendPolicy::Always).await;
        secured.record(&mut observation);
    }
    observation
}

/// An open connection to a target (direct, or a tunnel through the proxy), ready for TLS.
struct Connected<'a, 'w> {
    stream: tokio::net::TcpStream,
    /// Bytes a proxy sent after its answer; they belong to the TLS server.
    leftover: &'a [u8],
    name: &'a DnsName,
    port: Port,
    /// The handshake slot for the first turn of its handshake, when it is already held.
    first_turn: Option<SemaphorePermit<'w>>,
    /// The address control handshakes go to, for a direct connection (through a proxy the
    /// proxy picks the address, and its CONNECT answer says what it blocks).
    control_to: Option<SocketAddr>,
}

/// Whether an HTTP request may go over a connection whatever its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPolicy {
    /// Send it: the request carries nothing secret (a check's `GET`), and what a middlebox
    /// answers is worth knowing.
    Always,
    /// Send it only when public roots (plus `--ca-file`) trust the chain and it is valid for
    /// the name: the request may carry a secret.
    Trusted,
}

/// What the steps over an open connection saw.
struct Secured {
    tls: TlsObservation,
    http: Option<HttpExchange>,
    control: Vec<ControlHello>,
}

impl Secured {
    /// Records what was seen in `target`; the HTTP answer itself is the caller's.
    fn record(self, target: &mut TargetObservation) -> Option<http::HttpResponse> {
        target.tls = Some(self.tls);
        target.control = self.control;
        let exchange = self.http?;
        target.http = Some(exchange.observation);
        exchange.response
    }
}

/// The steps over an open connection: the TLS handshake (with its control handshakes when
/// it got no ServerHello), then the HTTP exchange the request asks for, if the handshake
/// completed (and `policy` allows it).
async fn over_tls<R: Sync>(
    shared: &Shared<R>,
    connected: Connected<'_, '_>,
    http: Option<&HttpRequest>,
    policy: SendPolicy,
) -> Secured {
    let http = http.filter(|_| shared.options.http_checks);
    let (name, port, control_to) = (connected.name, connected.port, connected.control_to);
    let checked = control::handshake_checked(shared, connected, http.is_some(), control_to).await;
    let (tls, control) = (checked.tls, checked.control);
    let (Some(stream), Some(request)) = (checked.stream, http) else {
        return Secured {
            tls,
            http: None,
            control,
        };
    };
    if policy == SendPolicy::Trusted && !(tls.trusted_public && tls.hostname_match) {
        let exchange = http::not_sent(
            request,
            "not sent: the server's certificate is not trusted by public roots (or --ca-file) for this name",
        );
        return Secured {
            tls,
            http: Some(exchange),
            control,
        };
    }
    let limits = HttpLimits {
        limit: shared.limit(shared.options.http_timeout),
        max_body_bytes: shared.options.max_http_bytes,
    };
    // Holds its socket only: waiting for an HTTP answer costs no handshake slot. Boxed like
    // the handshake: hyper's state is allocated when the exchange starts.
    let exchange = Box::pin(http::exchange(stream, name, port, request, limits)).await;
    Secured {
        tls,
        http: Some(exchange),
        control,
    }
}

/// The TLS handshake; the connection is kept for an HTTP exchange when `keep` (and the
/// ClientHello then offers only HTTP/1.1).
///
/// The handshake slots bound CPU work only: each turn of it (building the ClientHello,
/// processing what the server sent, verifying the chain) holds a slot, and waiting for the
/// server holds nothing but the socket ([`SlotGate`]). So a server that never answers its
/// ClientHello costs no slot while it keeps the handshake waiting for its timeout.
async fn handshake<R: Sync>(
    shared: &Shared<R>,
    connected: Connected<'_, '_>,
    keep: bool,
    progress: Option<&HandshakeProgress>,
) -> (TlsObservation, Option<TlsStream>) {
    let gate = SlotGate {
        shared,
        first_turn: std::sync::Mutex::new(connected.first_turn),
    };
    let handshake = Handshake {
        name: connected.name,
        sni: Sni::Name,
        progress,
        hello: if keep { Hello::Http1 } else { Hello::Standard },
        timeout: shared.options.handshake_timeout,
        deadline: shared.deadline,
        max_bytes: shared.options.max_tls_bytes,
    };
    let keep = keep.then(|| http::stream_budget(shared.options.max_http_bytes));
    // Boxed: the handshake's state (the TLS connection among it) is allocated when the
    // handshake starts, not carried by every target's task from the start.
    Box::pin(shared.tls.connect(
        connected.stream,
        connected.leftover,
        &handshake,
        &gate,
        keep,
    ))
    .await
}

/// The handshake slots as a [`CpuGate`]: each turn of a handshake's CPU work holds a slot
/// until it is done. The first turn's slot may already be held (a direct connection waits
/// for it before the handshake's state is allocated).
struct SlotGate<'a, R> {
    shared: &'a Shared<R>,
    first_turn: std::sync::Mutex<Option<SemaphorePermit<'a>>>,
}

impl<R: Sync> CpuGate for SlotGate<'_, R> {
    async fn enter(&self) -> Option<impl Sized> {
        let held = self
            .first_turn
            .lock()
            .ok()
            .and_then(|mut first| first.take());
        match held {
            Some(slot) => Some(slot),
            None => self.shared.permit(&self.shared.limits.handshakes).await,
        }
    }
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
        /// Lookups asked to be explained further.
        explained: Mutex<Vec<(String, &'static str)>>,
        /// Answers wait this long.
        delay: Duration,
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
                explained: Mutex::new(Vec::new()),
                delay: Duration::ZERO,
            }
        }

        fn slow(mut self, delay: Duration) -> Self {
            self.delay = delay;
            self
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
                Some(addrs) => {
                    tokio::time::sleep(self.delay).await;
                    crate::probe::testing::answered(kind, addrs)
                }
            }
        }

        async fn explain(&self, name: &DnsName, kind: RecordKind, lookup: DnsLookup) -> DnsLookup {
            self.explained
                .lock()
                .unwrap()
                .push((name.as_str().to_owned(), kind.label()));
            lookup
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
            http: None,
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
    async fn documented_addresses_do_not_wait_for_dns() {
        // The resolver never answers and the run's deadline comes long before the DNS
        // timeout: the documented address is probed all the same.
        let port = closed_port();
        let resolver = FakeResolver::new(&[]);
        let requests = vec![request("silent.example.no", &[port], &["127.0.0.1"])];
        let options = ProbeOptions {
            dns_timeout: Duration::from_secs(60),
            deadline: Duration::from_millis(300),
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, resolver, tls(), None).await;
        let observation = &observations[0];
        let message = observation.dns.as_ref().unwrap().a.as_ref().unwrap();
        assert!(message.message.as_deref().unwrap().contains("deadline"));
        let [target] = observation.targets.as_slice() else {
            panic!("the documented target: {:?}", observation.targets);
        };
        assert_eq!(target.tcp.state, TcpState::Refused);
        assert_eq!(target.origin, AddressOrigin::Documented);
    }

    #[tokio::test]
    async fn early_targets_take_their_place_and_origin_once_dns_answers() {
        // DNS answers after the documented targets have finished: they are reported in answer
        // order with the origin DNS gives them, each probed once.
        let port = closed_port();
        let resolver = FakeResolver::new(&[
            ("a.example.no", "A", &["127.0.0.3", "127.0.0.2"]),
            ("a.example.no", "AAAA", &[]),
        ])
        .slow(Duration::from_millis(200));
        let requests = vec![request(
            "a.example.no",
            &[port],
            &["127.0.0.1", "127.0.0.2"],
        )];
        let progress = Mutex::new(Progress::default());
        let update = |p: Progress| *progress.lock().unwrap() = p;
        let observations = run_with(
            &requests,
            &ProbeOptions::default(),
            resolver,
            tls(),
            Some(&update),
        )
        .await;
        let targets: Vec<String> = observations[0]
            .targets
            .iter()
            .map(|t| format!("{} {:?} {:?}", t.address.unwrap(), t.origin, t.tcp.state))
            .collect();
        assert_eq!(
            targets,
            vec![
                "127.0.0.3 Dns Refused",
                "127.0.0.2 DnsAndDocumented Refused",
                "127.0.0.1 Documented Refused",
            ]
        );
        let last = *progress.lock().unwrap();
        assert_eq!(
            (last.targets, last.targets_done),
            (3, 3),
            "each target once"
        );
    }

    #[tokio::test]
    async fn an_early_target_still_running_when_dns_answers_lands_in_its_place() {
        // A listener that never accepts: the connect succeeds, the handshake waits for its
        // timeout, long after DNS has answered.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let resolver = FakeResolver::new(&[
            ("a.example.no", "A", &["127.0.0.1"]),
            ("a.example.no", "AAAA", &[]),
        ]);
        let requests = vec![request("a.example.no", &[port], &["127.0.0.1"])];
        let options = ProbeOptions {
            handshake_timeout: Duration::from_millis(300),
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, resolver, tls(), None).await;
        let [target] = observations[0].targets.as_slice() else {
            panic!("one target: {:?}", observations[0].targets);
        };
        assert_eq!(target.origin, AddressOrigin::DnsAndDocumented);
        assert_eq!(target.tcp.state, TcpState::Open);
        assert!(target.tls.as_ref().unwrap().timed_out, "{target:?}");
        drop(silent);
    }

    #[tokio::test]
    async fn a_failed_lookup_is_explained_only_when_the_name_may_be_an_alias() {
        let resolver = Arc::new(FakeResolver::new(&[
            ("direct.example.no", "A", &["127.0.0.1"]),
            ("direct.example.no", "AAAA", &[]),
            ("nothing.example.no", "A", &[]),
            ("nothing.example.no", "AAAA", &[]),
        ]));
        let requests = vec![
            request("direct.example.no", &[closed_port()], &[]),
            request("nothing.example.no", &[443], &[]),
        ];
        run_with(
            &requests,
            &ProbeOptions::default(),
            Arc::clone(&resolver),
            tls(),
            None,
        )
        .await;
        let mut explained = resolver.explained.lock().unwrap().clone();
        explained.sort_unstable();
        assert_eq!(
            explained,
            vec![
                ("nothing.example.no".to_owned(), "A"),
                ("nothing.example.no".to_owned(), "AAAA"),
            ],
            "a name with its own A records is no alias"
        );
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

    /// A run over many names carries a lookup task only for the names that may resolve at
    /// once; the rest wait in a queue, in order, and every name is still resolved.
    #[tokio::test]
    async fn lookups_are_spawned_as_many_at_a_time_as_resolve_at_once() {
        let names: Vec<String> = (0..40).map(|i| format!("n{i}.example.no")).collect();
        let answers: Vec<(&str, &'static str, &[&str])> = names
            .iter()
            .flat_map(|n| {
                [
                    (n.as_str(), "A", &["127.0.0.1"][..]),
                    (n.as_str(), "AAAA", &[][..]),
                ]
            })
            .collect();
        let resolver = FakeResolver::new(&answers).slow(Duration::from_millis(5));
        let port = closed_port();
        let requests: Vec<ProbeRequest> = names.iter().map(|n| request(n, &[port], &[])).collect();
        let remaining: Vec<Cow<'_, ProbeRequest>> = requests.iter().map(Cow::Borrowed).collect();
        let options = ProbeOptions {
            dns_concurrency: 3,
            ..ProbeOptions::default()
        };
        let deadline = Instant::now() + options.deadline;
        let shared = Arc::new(Shared::new(
            &options,
            resolver,
            tls(),
            deadline,
            requests.iter().map(|r| &r.name),
            Limits::new(&options),
        ));
        let mut run = Run::new(&requests, &remaining, Arc::clone(&shared), None);
        run.start(None);
        assert_eq!(run.tasks.len(), 3, "one task per lookup that may run");
        assert_eq!(run.queued.len(), 37);
        run.gather(deadline).await;
        let observations = run.finish();
        let asked = shared.resolver.asked.lock().unwrap().clone();
        let order: Vec<&str> = asked.iter().map(|(name, _)| name.as_str()).collect();
        let mut expected: Vec<&str> = order.clone();
        expected.dedup();
        assert_eq!(expected, names, "asked in the order given");
        for observation in &observations {
            let dns = observation.dns.as_ref().unwrap();
            assert_eq!(
                dns.a.as_ref().unwrap().outcome,
                DnsOutcome::Answer,
                "{dns:?}"
            );
        }
    }

    /// Names still queued when the deadline comes are recorded as cut short by it, like
    /// those whose lookup was under way.
    #[tokio::test]
    async fn names_still_queued_at_the_deadline_say_so() {
        let resolver = FakeResolver::new(&[]);
        let requests: Vec<ProbeRequest> = (0..5)
            .map(|i| request(&format!("q{i}.example.no"), &[443], &[]))
            .collect();
        let options = ProbeOptions {
            dns_concurrency: 2,
            dns_timeout: Duration::from_secs(60),
            deadline: Duration::from_millis(200),
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, resolver, tls(), None).await;
        for observation in &observations {
            let dns = observation.dns.as_ref().unwrap();
            let message = dns.a.as_ref().unwrap().message.as_deref().unwrap();
            assert!(
                message.contains("deadline"),
                "{}: {message}",
                observation.name
            );
        }
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

    /// The most connections a [`counting_listener`] saw at once.
    #[derive(Debug, Default)]
    struct Counts {
        /// Accepted and not yet closed by the client.
        open: std::sync::atomic::AtomicUsize,
        /// Accepted, and the client has sent nothing yet: idle on the server.
        idle: std::sync::atomic::AtomicUsize,
    }

    /// A listener on loopback that never answers, so every handshake waits for its timeout,
    /// and counts the most connections open at once and idle at once.
    async fn counting_listener() -> (u16, Arc<Counts>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let now = Arc::new(Counts::default());
        let most = Arc::new(Counts::default());
        let most_seen = Arc::clone(&most);
        let up = |count: &AtomicUsize, most: &AtomicUsize| {
            most.fetch_max(count.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        };
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                up(&now.open, &most.open);
                up(&now.idle, &most.idle);
                let now = Arc::clone(&now);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    let mut idle = true;
                    while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {
                        if std::mem::take(&mut idle) {
                            now.idle.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    if idle {
                        now.idle.fetch_sub(1, Ordering::SeqCst);
                    }
                    now.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (port, most_seen)
    }

    /// `--no-control`: only the targets' own connections reach the servers.
    fn no_controls() -> crate::probe::options::ControlOptions {
        crate::probe::options::ControlOptions {
            enabled: false,
            sni: crate::probe::options::ControlSni::Default,
        }
    }

    #[tokio::test]
    async fn stalled_handshakes_wait_together_and_idle_connections_stay_within_the_window() {
        use std::sync::atomic::Ordering;
        let (port, most) = counting_listener().await;
        let requests: Vec<ProbeRequest> = (0..8)
            .map(|i| request(&format!("t{i}.example.no"), &[port], &["127.0.0.1"]))
            .collect();
        let options = ProbeOptions {
            handshake_concurrency: 1,
            handshake_timeout: Duration::from_millis(500),
            dns_timeout: Duration::from_millis(100),
            family: Family::V4,
            // Counted here: the targets' own connections only.
            control: no_controls(),
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, FakeResolver::new(&[]), tls(), None).await;
        assert!(
            observations.iter().all(|o| o.targets.iter().all(|t| {
                t.tcp.state == TcpState::Open && t.tls.as_ref().is_some_and(|t| t.timed_out)
            })),
            "{observations:?}"
        );
        // One slot, yet every handshake waited for its answer at the same time: a handshake
        // waiting for the server holds no slot. (Holding one, at most two or three would be
        // open at once.)
        let open = most.open.load(Ordering::SeqCst);
        assert_eq!(open, 8, "{open} of 8 handshakes waited at once");
        // A connection waits idle on the server only until its ClientHello, which needs a
        // turn of the slot: the window keeps about as many idle as there are slots (one
        // waiting for the slot, one in it; a third or fourth on a machine so busy that a
        // loopback connect took longer than CONNECT_AHEAD_STALL). Without the window all
        // eight connect at once.
        let idle = most.idle.load(Ordering::SeqCst);
        assert!(idle <= 4, "{idle} connections were idle at once, of 8");
    }

    #[tokio::test]
    async fn runs_that_share_limits_share_their_sockets() {
        // Two runs at once (two scrapes of `serve`), each with two targets whose servers
        // never answer for 200 ms, one socket between them: the four handshakes wait one
        // after the other (800 ms). With limits of their own the runs would take 400 ms.
        let (port, _) = counting_listener().await;
        let options = ProbeOptions {
            max_pending_connects: 1,
            handshake_timeout: Duration::from_millis(200),
            dns_timeout: Duration::from_millis(100),
            family: Family::V4,
            control: no_controls(),
            ..ProbeOptions::default()
        };
        let limits = Limits::new(&options);
        let run = |first: &str| {
            let requests: Vec<ProbeRequest> = (0..2)
                .map(|i| request(&format!("{first}{i}.example.no"), &[port], &["127.0.0.1"]))
                .collect();
            let (options, limits) = (options.clone(), limits.clone());
            async move {
                let resolver = FakeResolver::new(&[]);
                run_within(&requests, &options, resolver, tls(), limits, None).await
            }
        };
        let started = Instant::now();
        let (a, b) = tokio::join!(run("a"), run("b"));
        let took = started.elapsed();
        let timed_out = |o: &Vec<NameObservation>| {
            o.iter().all(|o| {
                o.targets
                    .iter()
                    .all(|t| t.tls.as_ref().is_some_and(|t| t.timed_out))
            })
        };
        assert!(timed_out(&a) && timed_out(&b), "{a:?} {b:?}");
        assert!(took >= Duration::from_millis(790), "took {took:?}");
    }

    /// A port on loopback whose accept queue is full, so the kernel drops every further SYN
    /// (a black hole); it lasts as long as the returned guard.
    async fn unanswered_port() -> (u16, impl Drop) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        let listener = socket.listen(0).unwrap();
        let filler = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (port, Box::new((listener, filler)))
    }

    #[tokio::test]
    async fn unanswered_connects_do_not_hold_back_the_ones_behind_them() {
        let (hole_port, _hole) = unanswered_port().await;
        let mut requests: Vec<ProbeRequest> = (0..20)
            .map(|i| request(&format!("hole{i}.example.no"), &[hole_port], &["127.0.0.1"]))
            .collect();
        let open_port = closed_port();
        requests.push(request("last.example.no", &[open_port], &["127.0.0.1"]));
        let options = ProbeOptions {
            handshake_concurrency: 1,
            connect_timeout: Duration::from_secs(1),
            dns_timeout: Duration::from_millis(100),
            family: Family::V4,
            ..ProbeOptions::default()
        };
        let started = Instant::now();
        let observations = run_with(&requests, &options, FakeResolver::new(&[]), tls(), None).await;
        // Waiting their turn in the window, the holes would take 20 connect timeouts (20 s);
        // released after a moment each, they all wait out one timeout together.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        let states: Vec<TcpState> = observations
            .iter()
            .flat_map(|o| o.targets.iter().map(|t| t.tcp.state))
            .collect();
        assert_eq!(states.last(), Some(&TcpState::Refused));
        assert!(
            states.iter().take(20).all(|s| *s == TcpState::Filtered),
            "{states:?}"
        );
    }

    #[tokio::test]
    async fn a_connect_behind_a_full_window_waits_at_most_a_tenth_of_its_timeout() {
        // Three servers that never answer a handshake, one handshake slot, a window of one
        // place: the black hole behind them starts at the latest after 100 ms (a tenth of
        // its 1 s timeout; in fact once the slot built the ClientHellos before it, since a
        // stalled handshake holds neither slot nor place) and is reported before the
        // deadline, instead of being cut by it after waiting behind them.
        let (port, _) = counting_listener().await;
        let (hole_port, _hole) = unanswered_port().await;
        let mut requests: Vec<ProbeRequest> = (0..3)
            .map(|i| request(&format!("slow{i}.example.no"), &[port], &["127.0.0.1"]))
            .collect();
        requests.push(request("hole.example.no", &[hole_port], &["127.0.0.1"]));
        let options = ProbeOptions {
            handshake_concurrency: 1,
            handshake_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            dns_timeout: Duration::from_millis(100),
            deadline: Duration::from_millis(1700),
            family: Family::V4,
            ..ProbeOptions::default()
        };
        let observations = run_with(&requests, &options, FakeResolver::new(&[]), tls(), None).await;
        let hole = &observations[3].targets[0];
        assert_eq!(hole.tcp.state, TcpState::Filtered, "{hole:?}");
        let message = hole.tcp.message.as_deref().unwrap_or_default();
        assert!(
            message.contains("within 1s"),
            "cut by the deadline: {message}"
        );
    }

    /// A run starts a task per target at once and most wait for a place first: what a task
    /// carries before it connects is what a thousand targets cost before any of them runs.
    /// The steps over a connection (handshake, controls, HTTP) are boxed when it opens.
    #[tokio::test]
    async fn a_target_waiting_for_its_turn_carries_little_memory() {
        let options = ProbeOptions::default();
        let name = DnsName::parse("a.example.no").unwrap();
        let resolver = FakeResolver::new(&[]);
        let shared = Arc::new(Shared::new(
            &options,
            resolver,
            tls(),
            Instant::now() + options.deadline,
            std::iter::once(&name),
            Limits::new(&options),
        ));
        let target = Target {
            address: "127.0.0.1".parse().unwrap(),
            port: Port::try_from(443).unwrap(),
            origin: AddressOrigin::Documented,
        };
        let task = direct_target(shared, name, None, target);
        let bytes = std::mem::size_of_val(&task);
        assert!(
            bytes <= 1280,
            "a waiting target's task is {bytes} bytes (it was 10 KiB with its steps inline, 1.6 KiB with the connect stored twice)"
        );
    }
}
