//! Norwegian enterprise certificates ("virksomhetssertifikat") made at test time, and the key
//! files a client keeps them in.
//!
//! An [`EnterpriseCa`] is named like the CAs that issue them (a test CA's name carries
//! "Test4" as Buypass's does, a production CA's does not); its [`Enterprise`] certificates
//! carry an RSA key (Maskinporten's grants are RS256) and the subject fields of the real ones:
//! `organizationIdentifier` `NTRNO-<orgno>` (SEID 2.0) or the bare number as `serialNumber`
//! (older certificates), `O`, `CN`, `C=NO`, key usage nonRepudiation ("signering"). Keys are
//! 2048-bit RSA from the `rsa` crate (ring signs with RSA but cannot make RSA keys).
//!
//! ```ignore
//! let ca = EnterpriseCa::test();                       // "Egress Test Class 3 Test4 CA"
//! let cert = ca.issue(Subject::org("910753614"));     // valid from yesterday, 2 years
//! let dir = tempfile::tempdir()?;
//! let p12 = cert.write_pkcs12(dir.path(), "pw", Pkcs12Kind::OpenSsl3); // mode 0600
//! let (key, chain) = cert.write_pem(dir.path());
//! let jwk = cert.write_jwk(dir.path(), "kid-1");
//! ```

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{Datelike, Days, NaiveDate, Utc};
use p12_keystore::{EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, DnValue, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use ring::rand::SecureRandom;
use rsa::pkcs8::EncodePrivateKey;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// ring's system random numbers as the RNG the `rsa` crate asks for.
struct RingRng;

impl rsa::rand_core::TryRng for RingRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        ring::rand::SystemRandom::new()
            .fill(dst)
            .expect("system random numbers");
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for RingRng {}

/// A fresh 2048-bit RSA key, PKCS#8 DER.
pub fn rsa_key() -> Vec<u8> {
    rsa_key_of(2048)
}

/// A fresh RSA key of `bits` bits (1024 at least), PKCS#8 DER.
pub fn rsa_key_of(bits: usize) -> Vec<u8> {
    let key = rsa::PrivateKey::new(&mut RingRng, bits).expect("generate RSA key");
    key.to_pkcs8_der()
        .expect("encode RSA key")
        .as_bytes()
        .to_vec()
}

/// The public modulus and exponent of a PKCS#8 RSA key, big-endian.
pub fn rsa_public(pkcs8: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let info = pkcs8::PrivateKeyInfoRef::try_from(pkcs8).expect("PKCS#8");
    let key = pkcs1::RsaPrivateKeyRef::try_from(info.private_key.as_bytes()).expect("PKCS#1");
    (
        key.modulus.as_bytes().to_vec(),
        key.public_exponent.as_bytes().to_vec(),
    )
}

/// An RSA public key as rcgen puts it in a certificate. ring, rcgen's signer, refuses RSA
/// keys under 2048 bits, but a leaf is signed by its CA: only the public half goes in it.
struct RsaPublicKey(Vec<u8>);

impl RsaPublicKey {
    /// The PKCS#1 `RSAPublicKey` of a PKCS#8 RSA key.
    fn of(pkcs8: &[u8]) -> RsaPublicKey {
        use pkcs1::der::Encode as _;
        let (n, e) = rsa_public(pkcs8);
        let key = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(&n).expect("modulus"),
            public_exponent: pkcs1::UintRef::new(&e).expect("exponent"),
        };
        RsaPublicKey(key.to_der().expect("encode RSAPublicKey"))
    }
}

impl rcgen::PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Base64url without padding (JWK numbers, JWT parts).
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An enterprise-certificate CA.
pub struct EnterpriseCa {
    name: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl EnterpriseCa {
    /// A CA whose common name is `name`.
    pub fn named(name: &str) -> EnterpriseCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "NO");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Egress Test CA AS");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, offset(-365), offset(3650));
        let cert = params.self_signed(&key).expect("self-sign CA");
        EnterpriseCa {
            name: name.to_owned(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A test CA, named as the test data's test patterns expect ("… Test4 CA").
    pub fn test() -> EnterpriseCa {
        EnterpriseCa::named("Egress Test Class 3 Test4 CA")
    }

    /// A production CA ("… Class 3 CA", no "Test4").
    pub fn production() -> EnterpriseCa {
        EnterpriseCa::named("Egress Test Class 3 CA")
    }

    /// The CA's common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// Issues an enterprise certificate for `subject` with a fresh RSA key.
    pub fn issue(&self, subject: Subject) -> Enterprise {
        let key = rsa_key_of(subject.rsa_bits);
        self.issue_with_key(subject, key)
    }

    /// Issues an enterprise certificate for `subject` with `pkcs8` (an RSA key, or any key
    /// rcgen can sign with when `subject.key_algorithm` says so).
    pub fn issue_with_key(&self, subject: Subject, pkcs8: Vec<u8>) -> Enterprise {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        let dn = &mut params.distinguished_name;
        *dn = rcgen::DistinguishedName::new();
        dn.push(DnType::CountryName, "NO");
        dn.push(DnType::OrganizationName, subject.organisation.as_str());
        if subject.seid2 {
            dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 97]),
                DnValue::Utf8String(format!("NTRNO-{}", subject.org_number)),
            );
        } else {
            dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                DnValue::PrintableString(subject.org_number.as_str().try_into().expect("digits")),
            );
        }
        dn.push(DnType::CommonName, subject.organisation.as_str());
        params.key_usages = subject.key_usages.clone();
        set_validity(&mut params, subject.not_before, subject.not_after);
        params.use_authority_key_identifier_extension = true;
        let cert = match subject.key_algorithm {
            Some(alg) => {
                let key = KeyPair::from_pkcs8_der_and_sign_algo(
                    &PrivatePkcs8KeyDer::from(pkcs8.clone()),
                    alg,
                )
                .expect("load key");
                params.signed_by(&key, &self.issuer)
            }
            None => params.signed_by(&RsaPublicKey::of(&pkcs8), &self.issuer),
        }
        .expect("sign leaf");
        Enterprise {
            chain: vec![cert.der().clone(), self.der.clone()],
            pkcs8,
        }
    }
}

/// Who an enterprise certificate is for, and its validity and key usage.
#[derive(Clone)]
pub struct Subject {
    pub org_number: String,
    pub organisation: String,
    /// `organizationIdentifier` (true) or `serialNumber` (false).
    pub seid2: bool,
    pub key_usages: Vec<KeyUsagePurpose>,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
    /// A non-RSA key's rcgen algorithm (None: RSA).
    pub key_algorithm: Option<&'static rcgen::SignatureAlgorithm>,
    /// The RSA key's size in bits (2048 unless [`Subject::rsa_bits`] says otherwise).
    pub rsa_bits: usize,
}

impl Subject {
    /// Organisation `org_number`, SEID 2.0 fields, "signering" key usage, valid from
    /// yesterday for two years.
    pub fn org(org_number: &str) -> Subject {
        Subject {
            org_number: org_number.to_owned(),
            organisation: format!("EGRESS TEST {org_number} AS"),
            seid2: true,
            key_usages: vec![KeyUsagePurpose::ContentCommitment],
            not_before: offset(-1),
            not_after: offset(730),
            key_algorithm: None,
            rsa_bits: 2048,
        }
    }

    /// An RSA key of `bits` bits (at least 1024) instead of 2048.
    pub fn rsa_bits(mut self, bits: usize) -> Subject {
        self.rsa_bits = bits;
        self
    }

    /// The older layout: the number as the subject's serialNumber.
    pub fn serial_number(mut self) -> Subject {
        self.seid2 = false;
        self
    }

    /// Validity relative to today, in days.
    pub fn days(mut self, from: i64, to: i64) -> Subject {
        self.not_before = offset(from);
        self.not_after = offset(to);
        self
    }

    /// Only these key usages.
    pub fn usages(mut self, usages: Vec<KeyUsagePurpose>) -> Subject {
        self.key_usages = usages;
        self
    }
}

/// An enterprise certificate with its chain (leaf, CA) and key.
pub struct Enterprise {
    pub chain: Vec<CertificateDer<'static>>,
    pub pkcs8: Vec<u8>,
}

/// The PKCS#12 encryption a keystore is written with.
#[derive(Debug, Clone, Copy)]
pub enum Pkcs12Kind {
    /// OpenSSL 3's default: PBES2 with AES-256-CBC and PBKDF2, HMAC-SHA256 MAC.
    OpenSsl3,
    /// The legacy format: 3DES, SHA-1 MAC.
    Legacy,
}

impl Enterprise {
    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The public modulus and exponent.
    pub fn public(&self) -> (Vec<u8>, Vec<u8>) {
        rsa_public(&self.pkcs8)
    }

    /// A PKCS#12 keystore with the key and chain, mode 0600.
    pub fn write_pkcs12(&self, dir: &Path, password: &str, kind: Pkcs12Kind) -> PathBuf {
        let certs: Vec<p12_keystore::Certificate> = self
            .chain
            .iter()
            .map(|c| p12_keystore::Certificate::from_der(c).expect("certificate"))
            .collect();
        let key = p12_keystore::PrivateKey::from_der(&self.pkcs8).expect("PKCS#8");
        let mut store = KeyStore::new();
        store.add_entry(
            "enterprise",
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(vec![1u8; 20], key, certs)),
        );
        let writer = store.writer(password);
        let writer = match kind {
            Pkcs12Kind::OpenSsl3 => writer,
            Pkcs12Kind::Legacy => writer
                .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
                .mac_algorithm(MacAlgorithm::HmacSha1),
        };
        let bytes = writer.write().expect("write PKCS#12");
        private_file(dir, "enterprise.p12", &bytes)
    }

    /// The key (PKCS#8 PEM) and the chain (PEM, leaf first), both mode 0600.
    pub fn write_pem(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let key = pem("PRIVATE KEY", &self.pkcs8);
        let chain: String = self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
        (
            private_file(dir, "enterprise.key", key.as_bytes()),
            private_file(dir, "enterprise-chain.pem", chain.as_bytes()),
        )
    }

    /// The key as a private RSA JWK with `kid`, mode 0600.
    pub fn write_jwk(&self, dir: &Path, kid: &str) -> PathBuf {
        let info = pkcs8::PrivateKeyInfoRef::try_from(self.pkcs8.as_slice()).expect("PKCS#8");
        let k = pkcs1::RsaPrivateKeyRef::try_from(info.private_key.as_bytes()).expect("PKCS#1");
        let n = |u: pkcs1::UintRef<'_>| b64url(u.as_bytes());
        let jwk = serde_json::json!({
            "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": n(k.modulus), "e": n(k.public_exponent), "d": n(k.private_exponent),
            "p": n(k.prime1), "q": n(k.prime2), "dp": n(k.exponent1), "dq": n(k.exponent2),
            "qi": n(k.coefficient),
        });
        private_file(dir, "enterprise.jwk.json", jwk.to_string().as_bytes())
    }
}

/// PEM text of `der` under `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Writes `bytes` to `dir/name` with mode 0600 (only the owner reads it).
pub fn private_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write key file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

fn offset(days: i64) -> NaiveDate {
    let today = Utc::now().date_naive();
    if days >= 0 {
        today + Days::new(days.unsigned_abs())
    } else {
        today - Days::new(days.unsigned_abs())
    }
}

fn set_validity(params: &mut CertificateParams, not_before: NaiveDate, not_after: NaiveDate) {
    let ymd = |d: NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    params.not_before = ymd(not_before);
    params.not_after = ymd(not_after);
}
