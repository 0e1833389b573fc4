//! A private PKI made at test time: a root CA, intermediates, and leaf certificates that are
//! valid, expired, not yet valid, for the wrong name, or self-signed.
//!
//! Nothing is checked in: keys are generated per test (ECDSA P-256 with ring), so no fixture
//! ever expires and no private key sits in the repository. The CA can be written as a PEM
//! file for `--ca-file` and `SSL_CERT_FILE` tests.
//!
//! Validity dates are whole days (UTC midnight); relative helpers count from today.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority: a root ([`TestCa::new`]) or an intermediate
/// ([`TestCa::intermediate`]).
pub struct TestCa {
    name: String,
    der: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// Certificates a server sends after a leaf of this CA: this CA and its parents, the
    /// root excluded (empty for a root).
    chain: Vec<CertificateDer<'static>>,
    /// The root's certificate (this CA's own for a root).
    root_der: CertificateDer<'static>,
    root_pem: String,
    pem_file: OnceLock<tempfile::NamedTempFile>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A root CA whose subject CN and O are `name` (for example "Egress Test Root CA" or
    /// "Corp TLS Inspection CA"), valid from a year ago for ten years.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate CA key");
        let params = ca_params(name);
        let cert = params.self_signed(&key).expect("self-sign CA");
        let der = cert.der().clone();
        let pem = cert.pem();
        TestCa {
            name: name.to_string(),
            root_der: der.clone(),
            root_pem: pem.clone(),
            der,
            pem,
            issuer: Issuer::new(params, key),
            chain: Vec::new(),
            pem_file: OnceLock::new(),
        }
    }

    /// An intermediate CA signed by this one. Leaves it issues carry the whole chain up to
    /// (not including) the root; chaining this 100 times gives the 100-certificate chain.
    pub fn intermediate(&self, name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate intermediate key");
        let params = ca_params(name);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign intermediate");
        let der = cert.der().clone();
        let mut chain = vec![der.clone()];
        chain.extend(self.chain.iter().cloned());
        TestCa {
            name: name.to_string(),
            der,
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
            chain,
            root_der: self.root_der.clone(),
            root_pem: self.root_pem.clone(),
            pem_file: OnceLock::new(),
        }
    }

    /// The CA's name (its CN and O).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This CA's certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// This CA's certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// The root's certificate, PEM (the trust anchor, also for an intermediate).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A PEM file holding the root certificate, written on first call and removed when this
    /// CA is dropped: the value for `--ca-file` or `SSL_CERT_FILE`.
    pub fn pem_file(&self) -> PathBuf {
        self.pem_file
            .get_or_init(|| write_pem(&self.root_pem))
            .path()
            .to_path_buf()
    }

    /// A rustls root store trusting only this CA's root.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.root_der.clone()).expect("add test root");
        roots
    }

    /// Starts a leaf for `names` (DNS names, or IP addresses, which become IP SANs). Valid
    /// from yesterday for 90 days unless changed.
    pub fn leaf(&self, names: &[&str]) -> LeafBuilder<'_> {
        let today = today();
        LeafBuilder {
            ca: self,
            names: names.iter().map(|n| (*n).to_string()).collect(),
            common_name: names.first().map(|n| (*n).to_string()),
            not_before: today - Days::new(1),
            not_after: today + Days::new(90),
            serial: None,
            client: false,
        }
    }

    /// A currently valid leaf for `names`.
    pub fn valid(&self, names: &[&str]) -> Leaf {
        self.leaf(names).issue()
    }

    /// A leaf for `names` that expired yesterday.
    pub fn expired(&self, names: &[&str]) -> Leaf {
        self.leaf(names).days(-90, -1).issue()
    }

    /// A leaf for `names` valid only from tomorrow.
    pub fn not_yet_valid(&self, names: &[&str]) -> Leaf {
        self.leaf(names).days(1, 90).issue()
    }
}

/// Settings of one leaf certificate; [`LeafBuilder::issue`] signs it.
#[derive(Debug)]
pub struct LeafBuilder<'a> {
    ca: &'a TestCa,
    names: Vec<String>,
    common_name: Option<String>,
    not_before: NaiveDate,
    not_after: NaiveDate,
    serial: Option<u64>,
    /// Also for TLS clients (extended key usage `clientAuth`).
    client: bool,
}

impl LeafBuilder<'_> {
    /// Also usable as a TLS client certificate (`clientAuth` besides `serverAuth`).
    pub fn for_clients(mut self) -> Self {
        self.client = true;
        self
    }

    /// Validity relative to today, in days (negative is in the past).
    pub fn days(mut self, from: i64, to: i64) -> Self {
        self.not_before = offset(from);
        self.not_after = offset(to);
        self
    }

    /// Valid from yesterday until `days` from today (for "expiring soon" findings).
    pub fn expires_in_days(mut self, days: i64) -> Self {
        self.not_after = offset(days);
        self
    }

    /// Fixed validity dates (for snapshots with a fixed `--as-of`).
    pub fn validity(mut self, not_before: NaiveDate, not_after: NaiveDate) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Subject common name (default: the first name).
    pub fn common_name(mut self, cn: &str) -> Self {
        self.common_name = Some(cn.to_string());
        self
    }

    /// A fixed serial number (default: random).
    pub fn serial(mut self, serial: u64) -> Self {
        self.serial = Some(serial);
        self
    }

    /// Signs the leaf with the CA.
    pub fn issue(self) -> Leaf {
        let key = KeyPair::generate().expect("generate leaf key");
        let params = self.params();
        let cert = params.signed_by(&key, &self.ca.issuer).expect("sign leaf");
        let mut chain = vec![cert.der().clone()];
        chain.extend(self.ca.chain.iter().cloned());
        Leaf::new(chain, &key, self.names)
    }

    /// A self-signed certificate with these settings (the CA is not used).
    pub fn self_signed(self) -> Leaf {
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = self.params().self_signed(&key).expect("self-sign leaf");
        Leaf::new(vec![cert.der().clone()], &key, self.names)
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::new(self.names.clone()).expect("leaf names");
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = &self.common_name {
            params
                .distinguished_name
                .push(DnType::CommonName, cn.as_str());
        }
        set_validity(&mut params, self.not_before, self.not_after);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if self.client {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.use_authority_key_identifier_extension = true;
        if let Some(serial) = self.serial {
            params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        }
        params
    }
}

/// A leaf certificate with its chain and key: what a TLS server presents.
#[derive(Debug)]
pub struct Leaf {
    /// Leaf first, then intermediates (never the root).
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
    /// The names it was issued for.
    pub names: Vec<String>,
}

/// The same certificate and key again (for a server that keeps its certificate while its
/// other settings change).
impl Clone for Leaf {
    fn clone(&self) -> Self {
        Leaf {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            names: self.names.clone(),
        }
    }
}

impl Leaf {
    /// A self-signed leaf for `names`, valid from yesterday for 90 days.
    pub fn self_signed(names: &[&str]) -> Leaf {
        // A throwaway CA only to reuse the builder; the leaf does not chain to it.
        TestCa::new("unused").leaf(names).self_signed()
    }

    fn new(chain: Vec<CertificateDer<'static>>, key: &KeyPair, names: Vec<String>) -> Leaf {
        Leaf {
            chain,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            names,
        }
    }

    /// The private key, for a rustls server config.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// The leaf certificate alone.
    pub fn cert(&self) -> &CertificateDer<'static> {
        self.chain.first().expect("a leaf chain is never empty")
    }

    /// The chain as PEM (leaf first), for a server configured by files.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", self.key.secret_pkcs8_der())
    }

    /// SHA-256 of the leaf certificate, lowercase hex (as reports show fingerprints).
    pub fn sha256_hex(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.cert());
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One PEM block.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Writes PEM text to a temporary file, removed when the returned handle drops (for a bundle
/// of several anchors: concatenate their `root_pem()`).
pub fn write_pem(pem: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("egresscheck-test-ca-")
        .suffix(".pem")
        .tempfile()
        .expect("create PEM file");
    file.write_all(pem.as_bytes()).expect("write PEM file");
    file.flush().expect("flush PEM file");
    file
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, offset(-365), offset(3650));
    params.use_authority_key_identifier_extension = true;
    params
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn offset(days: i64) -> NaiveDate {
    let today = today();
    let shifted = if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    shifted.expect("date in range")
}

/// Sets the validity to whole days (rcgen's date type is not nameable without the `time`
/// crate, so the conversion happens in place).
fn set_validity(params: &mut CertificateParams, not_before: NaiveDate, not_after: NaiveDate) {
    let ymd = |d: NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    params.not_before = ymd(not_before);
    params.not_after = ymd(not_after);
}
