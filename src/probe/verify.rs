//! The recording verifier: judge a peer's chain three ways, record the verdicts, and let the
//! handshake finish.
//!
//! A prober that aborts on an untrusted certificate cannot say what the certificate was, and
//! that is the one thing an admin facing TLS interception needs. So, through rustls's
//! `dangerous()` door, [`RecordingVerifier`] checks the chain against
//!
//! * the public store: Mozilla's roots (webpki-roots, compiled in, so the check does not
//!   depend on the network it tests) plus the `--ca-file` anchors, and
//! * the system store: rustls-native-certs (which honours `SSL_CERT_FILE` and
//!   `SSL_CERT_DIR`) plus the `--ca-file` anchors,
//!
//! and separately whether the leaf is valid for the probe name. It records all three, with
//! rustls's own error text as the reason, then accepts the chain. Handshake signatures are
//! still verified, so the peer must hold the certificate's key. A chain valid only through
//! the system store is the mark of an intercepting middlebox whose CA was installed locally.
//!
//! The verdicts reach the connection that asked for them through a thread-local slot: rustls
//! calls the verifier synchronously inside `process_new_packets`, which [`with_recording`]
//! wraps, so the slot is set and read on the same thread with no await in between.
//!
//! Chain verification is the verifier's cost (a signature check per certificate, per store),
//! so it is done as little as the verdicts allow:
//!
//! * Trust does not depend on the name, so it is cached per chain: a thousand addresses and
//!   names serving one certificate cost one chain verification and one description. The name
//!   check is cheap and runs per (name, chain), also cached.
//! * A chain is first verified against the anchors the two stores share (the `--ca-file`
//!   anchors, and the Mozilla roots a system store usually holds). A path to such an anchor
//!   is a valid path in either store, so both verdicts hold at the price of one verification.
//!   Otherwise (no such path) each store is asked on its own, as the verdicts then differ or
//!   need their own error text.
//!
//! A chain rejected only for its dates (expired, not yet valid) is asked once more, at a
//! moment inside its leaf's validity: whether it then leads to an anchor is recorded as
//! `anchored_public` / `anchored_system`. That tells a provider's expired certificate (a
//! public CA) from an inspection box's stale one (a CA installed here, or none at all), which
//! the verdicts alone cannot: the dates are checked before the path is built.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use crate::probe::ProbeError;
use crate::probe::cert;
use crate::probe::model::CertificateInfo;
use crate::term::sanitize;

/// Largest `--ca-file` read: 4 MiB, far more than any bundle of anchors.
pub const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Distinct (name, chain) verdicts kept per run; beyond this, chains are verified every time.
const MAX_CACHED_VERDICTS: usize = 4096;
/// Certificates of a peer chain described; the rest are counted in the last entry.
pub const MAX_CHAIN_DESCRIBED: usize = 16;

/// The three verdicts on one chain for one name, and the chain itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerdict {
    /// Valid against Mozilla's roots plus `--ca-file`.
    pub trusted_public: bool,
    /// Why not, when not.
    pub public_error: Option<String>,
    /// Valid against the system store plus `--ca-file`.
    pub trusted_system: bool,
    /// Why not, when not.
    pub system_error: Option<String>,
    /// Leads to an anchor of the public store, its validity dates set aside.
    pub anchored_public: bool,
    /// Leads to an anchor of the system store, its validity dates set aside.
    pub anchored_system: bool,
    /// The leaf is valid for the name.
    pub hostname_match: bool,
    /// Why not, when not.
    pub name_error: Option<String>,
    /// The chain as sent, leaf first.
    pub chain: Vec<CertificateInfo>,
}

/// What the verifier recorded for one connection.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The verdicts.
    pub verdict: Arc<ChainVerdict>,
    /// The server stapled an OCSP response.
    pub ocsp_stapled: bool,
}

thread_local! {
    static RECORDED: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

/// Runs `f` (a synchronous rustls call) and returns what the verifier recorded during it.
pub fn with_recording<T>(f: impl FnOnce() -> T) -> (T, Option<Recorded>) {
    RECORDED.with(|slot| slot.borrow_mut().take());
    let out = f();
    (out, RECORDED.with(|slot| slot.borrow_mut().take()))
}

/// The trust anchors of a run, loaded once.
#[derive(Debug, Clone)]
pub struct TrustStores {
    /// Mozilla's roots plus `--ca-file`.
    pub public: Arc<RootCertStore>,
    /// The system store plus `--ca-file`.
    pub system: Arc<RootCertStore>,
    /// Why the system store is empty or incomplete, when it is.
    pub system_problem: Option<String>,
}

impl TrustStores {
    /// Loads webpki-roots, the system store and every `--ca-file`. An unreadable or empty
    /// `--ca-file` is an error: the admin asked for those anchors.
    pub fn load(ca_files: &[PathBuf]) -> Result<Self, ProbeError> {
        let mut public = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut system = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = system.add_parsable_certificates(native.certs);
        let system_problem = match (added, native.errors.first()) {
            (0, Some(err)) => Some(format!(
                "no system trust store could be read: {}",
                sanitize(&err.to_string())
            )),
            (0, None) => Some("the system trust store is empty".to_owned()),
            _ => None,
        };
        for path in ca_files {
            for anchor in read_ca_file(path)? {
                for store in [&mut public, &mut system] {
                    store
                        .add(anchor.clone())
                        .map_err(|err| ProbeError::CaFile {
                            path: path.clone(),
                            reason: format!(
                                "a certificate is not usable as a trust anchor: {}",
                                sanitize(&err.to_string())
                            ),
                        })?;
                }
            }
        }
        Ok(TrustStores {
            public: Arc::new(public),
            system: Arc::new(system),
            system_problem,
        })
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProbeError> {
    let fail = |reason: String| ProbeError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|err| fail(err.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| fail(err.to_string()))?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(fail(format!(
            "the file is larger than {MAX_CA_FILE_BYTES} bytes"
        )));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|err| fail(format!("not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(fail(
            "no `-----BEGIN CERTIFICATE-----` block in the file".to_owned(),
        ));
    }
    Ok(certs)
}

/// Verifies and records; never rejects a chain (see the module documentation).
#[derive(Debug)]
pub struct RecordingVerifier {
    stores: TrustStores,
    /// The anchors of the public store that the system store holds too.
    shared: RootCertStore,
    algorithms: WebPkiSupportedAlgorithms,
    /// Verdicts per (name, chain).
    cache: Mutex<HashMap<[u8; 32], Arc<ChainVerdict>>>,
    /// Trust and description per chain, whatever the name.
    trust: Mutex<HashMap<[u8; 32], Arc<ChainTrust>>>,
}

/// What a chain is worth whatever the name: the two trust verdicts, whether each store
/// anchors it when its dates are set aside, and its description.
#[derive(Debug)]
struct ChainTrust {
    public: Result<(), String>,
    system: Result<(), String>,
    public_anchored: bool,
    system_anchored: bool,
    chain: Vec<CertificateInfo>,
}

impl RecordingVerifier {
    /// A verifier over `stores`, checking signatures with `algorithms` (the crypto
    /// provider's).
    pub fn new(stores: TrustStores, algorithms: WebPkiSupportedAlgorithms) -> Self {
        let in_system: HashSet<_> = stores.system.roots.iter().collect();
        let shared = RootCertStore {
            roots: stores
                .public
                .roots
                .iter()
                .filter(|anchor| in_system.contains(anchor))
                .cloned()
                .collect(),
        };
        RecordingVerifier {
            stores,
            shared,
            algorithms,
            cache: Mutex::new(HashMap::new()),
            trust: Mutex::new(HashMap::new()),
        }
    }

    /// The verdicts on a chain for `server_name` at `now`, cached per run.
    pub fn verdict(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Arc<ChainVerdict> {
        let chain_key = chain_key(end_entity, intermediates);
        let key = verdict_key(&chain_key, server_name);
        if let Some(hit) = cached(&self.cache, &key) {
            return hit;
        }
        let parsed = ParsedCertificate::try_from(end_entity);
        let trust = match cached(&self.trust, &chain_key) {
            Some(trust) => trust,
            None => {
                let trust = Arc::new(self.trust(&parsed, end_entity, intermediates, now));
                remember(&self.trust, chain_key, &trust);
                trust
            }
        };
        let name = match &parsed {
            Ok(parsed) => {
                verify_server_name(parsed, server_name).map_err(|err| sanitize(&err.to_string()))
            }
            Err(err) => Err(sanitize(&err.to_string())),
        };
        let verdict = Arc::new(ChainVerdict {
            trusted_public: trust.public.is_ok(),
            public_error: trust.public.clone().err(),
            trusted_system: trust.system.is_ok(),
            system_error: trust.system.clone().err(),
            anchored_public: trust.public_anchored,
            anchored_system: trust.system_anchored,
            hostname_match: name.is_ok(),
            name_error: name.err(),
            chain: trust.chain.clone(),
        });
        remember(&self.cache, key, &verdict);
        verdict
    }

    fn trust(
        &self,
        parsed: &Result<ParsedCertificate<'_>, Error>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> ChainTrust {
        let chain = describe_chain(end_entity, intermediates);
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(err) => {
                let reason = sanitize(&err.to_string());
                return ChainTrust {
                    public: Err(reason.clone()),
                    system: Err(reason),
                    public_anchored: false,
                    system_anchored: false,
                    chain,
                };
            }
        };
        let against = |roots: &RootCertStore, at: UnixTime| {
            verify_server_cert_signed_by_trust_anchor(
                parsed,
                roots,
                intermediates,
                at,
                self.algorithms.all,
            )
        };
        // A chain refused for its dates only: does it lead to an anchor at a moment its
        // leaf was valid?
        let anchored = |roots: &RootCertStore, verdict: &Result<(), Error>| match verdict {
            Ok(()) => true,
            Err(err) if is_date_error(err) => {
                within_validity(&chain).is_some_and(|at| against(roots, at).is_ok())
            }
            Err(_) => false,
        };
        let text = |verdict: Result<(), Error>| verdict.map_err(|err| sanitize(&err.to_string()));
        // A valid path to an anchor both stores hold is valid in each of them.
        if !self.shared.is_empty() && against(&self.shared, now).is_ok() {
            return ChainTrust {
                public: Ok(()),
                system: Ok(()),
                public_anchored: true,
                system_anchored: true,
                chain,
            };
        }
        let public = against(&self.stores.public, now);
        let public_anchored = anchored(&self.stores.public, &public);
        let (system, system_anchored) = if self.stores.system.is_empty() {
            let reason = self
                .stores
                .system_problem
                .clone()
                .unwrap_or_else(|| "the system trust store is empty".to_owned());
            (Err(reason), false)
        } else {
            let system = against(&self.stores.system, now);
            let anchored = anchored(&self.stores.system, &system);
            (text(system), anchored)
        };
        ChainTrust {
            public: text(public),
            system,
            public_anchored,
            system_anchored,
            chain,
        }
    }
}

/// True for a verification error about the certificate's dates only.
fn is_date_error(err: &Error) -> bool {
    use rustls::CertificateError;
    matches!(
        err,
        Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

/// The middle of the leaf's validity, when it has one.
fn within_validity(chain: &[CertificateInfo]) -> Option<UnixTime> {
    let leaf = chain.first()?;
    let from = leaf.not_before.timestamp();
    let to = leaf.not_after.timestamp();
    let middle = from.checked_add(to.checked_sub(from)? / 2)?;
    let seconds = u64::try_from(middle).ok()?;
    (from <= to).then(|| UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds)))
}

/// A cached value, if any (a poisoned lock is a miss).
fn cached<T>(cache: &Mutex<HashMap<[u8; 32], Arc<T>>>, key: &[u8; 32]) -> Option<Arc<T>> {
    cache.lock().ok()?.get(key).map(Arc::clone)
}

/// Caches `value` unless the cache holds [`MAX_CACHED_VERDICTS`] already.
fn remember<T>(cache: &Mutex<HashMap<[u8; 32], Arc<T>>>, key: [u8; 32], value: &Arc<T>) {
    if let Ok(mut cache) = cache.lock()
        && cache.len() < MAX_CACHED_VERDICTS
    {
        cache.insert(key, Arc::clone(value));
    }
}

fn describe_chain(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Vec<CertificateInfo> {
    let mut chain: Vec<CertificateInfo> = std::iter::once(end_entity)
        .chain(intermediates.iter())
        .take(MAX_CHAIN_DESCRIBED)
        .map(|der| cert::describe(der.as_ref()))
        .collect();
    let total = intermediates.len() + 1;
    if total > MAX_CHAIN_DESCRIBED
        && let Some(last) = chain.last_mut()
    {
        last.subject = format!(
            "{} (and {} more certificates not described)",
            last.subject,
            total - MAX_CHAIN_DESCRIBED
        );
    }
    chain
}

/// SHA-256 over every certificate, each prefixed by its length so that no two different
/// chains collide by concatenation.
fn chain_key(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for der in std::iter::once(end_entity).chain(intermediates.iter()) {
        ctx.update(&(der.len() as u64).to_be_bytes());
        ctx.update(der.as_ref());
    }
    digest(ctx)
}

/// SHA-256 over the chain's key and the name.
fn verdict_key(chain_key: &[u8; 32], server_name: &ServerName<'_>) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(chain_key);
    ctx.update(server_name.to_str().as_bytes());
    digest(ctx)
}

fn digest(ctx: ring::digest::Context) -> [u8; 32] {
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let verdict = self.verdict(end_entity, intermediates, server_name, now);
        let recorded = Recorded {
            verdict,
            ocsp_stapled: !ocsp_response.is_empty(),
        };
        RECORDED.with(|slot| *slot.borrow_mut() = Some(recorded));
        // Recorded, not enforced: the handshake goes on so the rest can be observed.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pki {
        ca: rcgen::Certificate,
        params: rcgen::CertificateParams,
        ca_key: rcgen::KeyPair,
    }

    fn pki(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        Pki { ca, params, ca_key }
    }

    fn leaf(pki: &Pki, name: &str) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&pki.params, &pki.ca_key);
        params.signed_by(&key, &issuer).unwrap().der().clone()
    }

    fn stores(public: &[&Pki], system: &[&Pki]) -> TrustStores {
        let store = |pkis: &[&Pki]| {
            let mut store = RootCertStore::empty();
            for pki in pkis {
                store.add(pki.ca.der().clone()).unwrap();
            }
            Arc::new(store)
        };
        TrustStores {
            public: store(public),
            system: store(system),
            system_problem: None,
        }
    }

    fn verifier(stores: TrustStores) -> RecordingVerifier {
        RecordingVerifier::new(
            stores,
            rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn server_name(name: &str) -> ServerName<'static> {
        ServerName::try_from(name.to_owned()).unwrap()
    }

    #[test]
    fn trusted_everywhere_and_matching() {
        let pki = pki("Public CA");
        let v = verifier(stores(&[&pki], &[&pki]));
        let cert = leaf(&pki, "api.example.no");
        let verdict = v.verdict(&cert, &[], &server_name("api.example.no"), UnixTime::now());
        assert!(verdict.trusted_public && verdict.trusted_system && verdict.hostname_match);
        assert_eq!(verdict.public_error, None);
        assert_eq!(verdict.chain.len(), 1);
        assert_eq!(verdict.chain[0].issuer, "CN=Public CA");
    }

    #[test]
    fn interception_is_trusted_only_by_the_system_store() {
        let public = pki("Public CA");
        let middlebox = pki("Corporate Inspection CA");
        let v = verifier(stores(&[&public], &[&public, &middlebox]));
        let cert = leaf(&middlebox, "api.example.no");
        let verdict = v.verdict(&cert, &[], &server_name("api.example.no"), UnixTime::now());
        assert!(!verdict.trusted_public);
        assert!(verdict.trusted_system);
        assert!(verdict.hostname_match);
        let reason = verdict.public_error.as_deref().unwrap();
        assert!(
            reason.contains("UnknownIssuer") || reason.contains("unknown issuer"),
            "{reason}"
        );
        assert_eq!(verdict.chain[0].issuer, "CN=Corporate Inspection CA");
    }

    #[test]
    fn name_mismatch_is_recorded_apart_from_trust() {
        let pki = pki("Public CA");
        let v = verifier(stores(&[&pki], &[&pki]));
        let cert = leaf(&pki, "other.example.no");
        let verdict = v.verdict(&cert, &[], &server_name("api.example.no"), UnixTime::now());
        assert!(verdict.trusted_public);
        assert!(!verdict.hostname_match);
        assert!(verdict.name_error.is_some());
    }

    #[test]
    fn verdicts_are_cached_per_name_and_chain() {
        let pki = pki("Public CA");
        let v = verifier(stores(&[&pki], &[]));
        let cert = leaf(&pki, "api.example.no");
        let name = server_name("api.example.no");
        let first = v.verdict(&cert, &[], &name, UnixTime::now());
        let second = v.verdict(&cert, &[], &name, UnixTime::now());
        assert!(Arc::ptr_eq(&first, &second));
        let other = v.verdict(&cert, &[], &server_name("x.example.no"), UnixTime::now());
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(!first.trusted_system);
    }

    #[test]
    fn trust_is_judged_once_per_chain_whatever_the_name() {
        let pki = pki("Public CA");
        let v = verifier(stores(&[&pki], &[&pki]));
        let cert = leaf(&pki, "api.example.no");
        let right = v.verdict(&cert, &[], &server_name("api.example.no"), UnixTime::now());
        let wrong = v.verdict(&cert, &[], &server_name("x.example.no"), UnixTime::now());
        assert!(right.hostname_match && !wrong.hostname_match);
        assert!(wrong.trusted_public && wrong.trusted_system);
        assert_eq!(right.chain, wrong.chain);
        assert_eq!(
            v.trust.lock().unwrap().len(),
            1,
            "one chain, one trust verdict"
        );
        assert_eq!(v.cache.lock().unwrap().len(), 2, "two names");
    }

    #[test]
    fn shared_anchors_decide_both_stores_and_the_rest_are_asked_apart() {
        let shared = pki("Shared CA");
        let public_only = pki("Public-only CA");
        let system_only = pki("System-only CA");
        let v = verifier(stores(&[&shared, &public_only], &[&shared, &system_only]));
        assert_eq!(v.shared.len(), 1);
        let now = UnixTime::now();
        let name = server_name("api.example.no");
        let by = |ca: &Pki| v.verdict(&leaf(ca, "api.example.no"), &[], &name, now);
        let both = by(&shared);
        assert!(both.trusted_public && both.trusted_system);
        assert_eq!(
            (both.public_error.as_ref(), both.system_error.as_ref()),
            (None, None)
        );
        let public = by(&public_only);
        assert!(public.trusted_public && !public.trusted_system);
        assert!(public.system_error.is_some());
        let system = by(&system_only);
        assert!(!system.trusted_public && system.trusted_system);
        assert!(system.public_error.is_some());
        let stranger = by(&pki("Unknown CA"));
        assert!(!stranger.trusted_public && !stranger.trusted_system);
    }

    /// Issue 12: an expired certificate is told apart by the store that anchors it, dates
    /// aside (the provider's CA, a middlebox's CA installed here, or no known CA).
    #[test]
    fn out_of_date_chains_are_anchored_apart_from_their_dates() {
        let public = pki("Public CA");
        let middlebox = pki("Corporate Inspection CA");
        let v = verifier(stores(&[&public], &[&public, &middlebox]));
        // rcgen's default validity ends in 4096: verify after it.
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            (4100 - 1970) * 365 * 24 * 3600,
        ));
        let name = server_name("api.example.no");
        let by = |ca: &Pki| v.verdict(&leaf(ca, "api.example.no"), &[], &name, later);
        let provider = by(&public);
        assert!(!provider.trusted_public && !provider.trusted_system);
        assert!(
            provider
                .public_error
                .as_deref()
                .unwrap()
                .contains("expired"),
            "{:?}",
            provider.public_error
        );
        assert!(provider.anchored_public && provider.anchored_system);
        let stale = by(&middlebox);
        assert!(!stale.trusted_system && !stale.anchored_public && stale.anchored_system);
        let stranger = by(&pki("Unknown CA"));
        assert!(!stranger.anchored_public && !stranger.anchored_system);
        // Valid dates: anchored is trusted.
        let now = v.verdict(
            &leaf(&public, "api.example.no"),
            &[],
            &name,
            UnixTime::now(),
        );
        assert!(now.trusted_public && now.anchored_public);
        let now = v.verdict(
            &leaf(&middlebox, "api.example.no"),
            &[],
            &name,
            UnixTime::now(),
        );
        assert!(!now.anchored_public && now.anchored_system);
    }

    #[test]
    fn the_slot_carries_the_verdict_out_of_the_verifier() {
        let pki = pki("Public CA");
        let v = verifier(stores(&[&pki], &[&pki]));
        let cert = leaf(&pki, "api.example.no");
        let (result, recorded) = with_recording(|| {
            v.verify_server_cert(
                &cert,
                &[],
                &server_name("api.example.no"),
                b"ocsp",
                UnixTime::now(),
            )
        });
        assert!(result.is_ok());
        let recorded = recorded.unwrap();
        assert!(recorded.ocsp_stapled);
        assert!(recorded.verdict.trusted_public);
        let (_, nothing) = with_recording(|| ());
        assert!(nothing.is_none());
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let err = TrustStores::load(std::slice::from_ref(&empty)).unwrap_err();
        assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");
        let missing = dir.path().join("missing.pem");
        assert!(TrustStores::load(&[missing]).is_err());
        let pki = pki("Private CA");
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, pki.ca.pem()).unwrap();
        let stores = TrustStores::load(&[good]).unwrap();
        assert_eq!(
            stores.public.len(),
            webpki_roots::TLS_SERVER_ROOTS.len() + 1
        );
    }
}
