//! The client's signing key and certificate chain: a PKCS#12 keystore, a PEM key with its
//! chain, or a JWK with the `kid` it is registered under.
//!
//! Everything here is local: files are read (bounded), decrypted and parsed, and the private
//! key ends as PKCS#1 DER in a [`Zeroizing`] buffer that wipes itself when dropped, as do the
//! password and every intermediate copy this module makes. No error message carries key
//! material or the password: they name the file and what is wrong with it. Files that others
//! on the machine may read (group or world read permission) are reported, not refused.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use pkcs1::der::Encode as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use crate::term::sanitize;

/// Largest key, keystore, chain or password file read: 1 MiB (a keystore with a long chain
/// is a few kilobytes).
pub const MAX_KEY_FILE_BYTES: usize = 1024 * 1024;
/// Most certificates taken from a chain file or keystore.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// The object identifier of `rsaEncryption` (PKCS#1), the only key type the grant can use.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// A secret string (a keystore password) that never prints and wipes itself when dropped.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`, which is moved and wiped with the `Secret`.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the key comes from, as the user named it.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A PKCS#12 keystore (`--keystore`) and its password.
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Its password (from `--keystore-password-file` or `EGRESSCHECK_KEYSTORE_PASSWORD`).
        password: Secret,
    },
    /// A PEM private key (`--key`) and its certificate chain (`--cert`), leaf first.
    Pem {
        /// The key file (PKCS#8 or PKCS#1).
        key: PathBuf,
        /// The chain file.
        chain: PathBuf,
    },
    /// A JWK private key (`--jwk`) registered on the client under `kid`.
    Jwk {
        /// The JWK file (a key, or a set holding it).
        path: PathBuf,
        /// The key id registered on the client.
        kid: String,
    },
}

impl KeySource {
    /// The files this source reads (for permission checks and messages).
    pub fn files(&self) -> Vec<&Path> {
        match self {
            KeySource::Keystore { path, .. } | KeySource::Jwk { path, .. } => vec![path],
            KeySource::Pem { key, chain } => vec![key, chain],
        }
    }

    /// How the grant identifies the key: `x5c` (a certificate chain) or `kid`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeySource::Keystore { .. } => "pkcs12",
            KeySource::Pem { .. } => "pem",
            KeySource::Jwk { .. } => "jwk",
        }
    }
}

/// The private key as loaded.
pub enum PrivateKey {
    /// An RSA key, PKCS#1 DER, wiped on drop.
    Rsa(Zeroizing<Vec<u8>>),
    /// Another kind of key (EC, Ed25519, …): it cannot sign an RS256/384/512 grant.
    Other(String),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKey::Rsa(_) => f.write_str("PrivateKey::Rsa(<redacted>)"),
            PrivateKey::Other(kind) => write!(f, "PrivateKey::Other({kind})"),
        }
    }
}

/// A loaded key: the private key, the certificate chain (leaf first; empty for a JWK) and
/// the `kid` (JWK only).
#[derive(Debug)]
pub struct ClientKey {
    /// The private key.
    pub key: PrivateKey,
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The key id registered on the client (JWK).
    pub kid: Option<String>,
}

/// Why a key could not be loaded. Messages name files and problems, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct KeyError {
    /// The file.
    pub file: String,
    /// What is wrong, and what to do.
    pub reason: String,
}

fn error(path: &Path, reason: impl Into<String>) -> KeyError {
    KeyError {
        file: sanitize(&path.display().to_string()),
        reason: reason.into(),
    }
}

/// Loads the key `source` names.
pub fn load(source: &KeySource) -> Result<ClientKey, KeyError> {
    match source {
        KeySource::Keystore { path, password } => load_keystore(path, password),
        KeySource::Pem { key, chain } => load_pem(key, chain),
        KeySource::Jwk { path, kid } => load_jwk(path, kid),
    }
}

/// Reads a file of at most [`MAX_KEY_FILE_BYTES`] into a buffer wiped on drop.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let file = std::fs::File::open(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let limit = u64::try_from(MAX_KEY_FILE_BYTES).unwrap_or(u64::MAX);
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(path, format!("cannot read: {e}")))?;
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(error(
            path,
            format!("larger than {MAX_KEY_FILE_BYTES} bytes; this is not a key file"),
        ));
    }
    Ok(bytes)
}

/// Reads a password file: its first line, without the line break.
pub fn read_password_file(path: &Path) -> Result<Secret, KeyError> {
    let bytes = read_secret_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| error(path, "the password file is not UTF-8 text"))?;
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    Ok(Secret::new(line.to_owned()))
}

fn load_keystore(path: &Path, password: &Secret) -> Result<ClientKey, KeyError> {
    let bytes = read_secret_file(path)?;
    let store = KeyStore::from_pkcs12(&bytes, password.expose(), Pkcs12ImportPolicy::Strict)
        .map_err(|err| error(path, keystore_problem(&err)))?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        error(
            path,
            "the keystore holds no private key with its certificate; export the enterprise certificate with its private key (openssl pkcs12 -export -inkey KEY -in CERT)",
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .take(MAX_CHAIN_CERTIFICATES)
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = from_pkcs8(chain.key().as_der()).map_err(|reason| error(path, reason))?;
    Ok(ClientKey {
        key,
        chain: certs,
        kid: None,
    })
}

/// Words for a keystore that cannot be opened. A wrong password shows as a MAC or padding
/// error; the library's own text is kept for the rest (it holds no secret).
fn keystore_problem(err: &p12_keystore::error::Error) -> String {
    match err {
        p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
            "cannot open the PKCS#12 keystore: the password is wrong (check --keystore-password-file or EGRESSCHECK_KEYSTORE_PASSWORD), or the file is damaged".to_owned()
        }
        p12_keystore::error::Error::UnsupportedEncryptionScheme
        | p12_keystore::error::Error::UnsupportedMacAlgorithm => format!(
            "the PKCS#12 keystore uses an encryption this build cannot read ({err}); re-export it with `openssl pkcs12 -export` (AES-256 and PBKDF2 by default)"
        ),
        other => format!(
            "not a PKCS#12 keystore egresscheck can read ({}); is it a .p12/.pfx file?",
            sanitize(&other.to_string())
        ),
    }
}

fn load_pem(key_path: &Path, chain_path: &Path) -> Result<ClientKey, KeyError> {
    let key_bytes = read_secret_file(key_path)?;
    let key = pem_private_key(&key_bytes).map_err(|reason| error(key_path, reason))?;
    let chain_bytes = read_secret_file(chain_path)?;
    let mut chain = Vec::new();
    for item in CertificateDer::pem_slice_iter(&chain_bytes).take(MAX_CHAIN_CERTIFICATES) {
        let cert = item.map_err(|e| {
            error(
                chain_path,
                format!("not a PEM certificate chain: {}", sanitize(&e.to_string())),
            )
        })?;
        chain.push(cert.into_owned());
    }
    if chain.is_empty() {
        return Err(error(
            chain_path,
            "holds no certificate; expected the enterprise certificate (then its issuers) in PEM (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(ClientKey {
        key,
        chain,
        kid: None,
    })
}

/// The first private key of a PEM file (PKCS#8 or PKCS#1); an encrypted one is refused with
/// the command that decrypts it.
fn pem_private_key(bytes: &[u8]) -> Result<PrivateKey, String> {
    for item in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(bytes) {
        let (kind, mut der) =
            item.map_err(|e| format!("not a PEM key file: {}", sanitize(&e.to_string())))?;
        let key = match kind {
            SectionKind::PrivateKey => from_pkcs8(&der),
            SectionKind::RsaPrivateKey => Ok(PrivateKey::Rsa(Zeroizing::new(der.clone()))),
            SectionKind::EcPrivateKey => Ok(PrivateKey::Other("an EC key".to_owned())),
            _ => {
                der.zeroize();
                continue;
            }
        };
        der.zeroize();
        return key;
    }
    if bytes
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY")
    {
        return Err("the key is encrypted; give egresscheck the PKCS#12 keystore instead (--keystore), or decrypt the key to a file only you can read (openssl pkey -in KEY -out PLAIN.pem)".to_owned());
    }
    Err("holds no private key; expected -----BEGIN PRIVATE KEY----- (PKCS#8) or -----BEGIN RSA PRIVATE KEY----- (PKCS#1)".to_owned())
}

/// The RSA key inside a PKCS#8 document, as PKCS#1 (what ring signs with).
fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|_| "the private key is not valid PKCS#8".to_owned())?;
    let oid = info.algorithm.oid.to_string();
    if oid != RSA_ENCRYPTION {
        let kind = match oid.as_str() {
            "1.2.840.10045.2.1" => "an EC key".to_owned(),
            "1.3.101.112" => "an Ed25519 key".to_owned(),
            other => format!("a key of type {other}"),
        };
        return Ok(PrivateKey::Other(kind));
    }
    Ok(PrivateKey::Rsa(Zeroizing::new(
        info.private_key.as_bytes().to_vec(),
    )))
}

/// The private members of an RSA JWK (RFC 7518 §6.3), wiped on drop.
#[derive(Deserialize, zeroize::ZeroizeOnDrop, zeroize::Zeroize)]
struct Jwk {
    #[zeroize(skip)]
    kty: Option<String>,
    #[zeroize(skip)]
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
}

/// A JWK file: one key, or a set (`{"keys": [...]}`) holding the one with our `kid`.
#[derive(Deserialize)]
#[serde(untagged)]
enum JwkFile {
    Set { keys: Vec<Jwk> },
    One(Box<Jwk>),
}

fn load_jwk(path: &Path, kid: &str) -> Result<ClientKey, KeyError> {
    let bytes = read_secret_file(path)?;
    // serde_json's error text quotes no input, only line and column.
    let file: JwkFile = serde_json::from_slice(&bytes)
        .map_err(|e| error(path, format!("not a JWK (JSON): {e}")))?;
    let jwk = match file {
        JwkFile::One(jwk) => *jwk,
        JwkFile::Set { keys } => keys
            .into_iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .ok_or_else(|| {
                error(
                    path,
                    format!("the key set holds no key with kid {:?}", sanitize(kid)),
                )
            })?,
    };
    if let Some(own) = &jwk.kid
        && own != kid
    {
        return Err(error(
            path,
            format!(
                "the JWK's own kid is {:?}, not --kid {:?}; give the kid the key was registered under",
                sanitize(own),
                sanitize(kid)
            ),
        ));
    }
    let key = match jwk.kty.as_deref() {
        Some("RSA") => PrivateKey::Rsa(jwk_to_pkcs1(&jwk).map_err(|reason| error(path, reason))?),
        Some(other) => PrivateKey::Other(format!("a JWK of type {}", sanitize(other))),
        None => return Err(error(path, "the JWK has no \"kty\"")),
    };
    Ok(ClientKey {
        key,
        chain: Vec::new(),
        kid: Some(kid.to_owned()),
    })
}

/// The RSA private key of a JWK as PKCS#1 DER.
fn jwk_to_pkcs1(jwk: &Jwk) -> Result<Zeroizing<Vec<u8>>, String> {
    let member = |value: &Option<String>, name: &str| -> Result<Zeroizing<Vec<u8>>, String> {
        let text = value.as_deref().ok_or_else(|| {
            format!("the JWK lacks \"{name}\"; a private RSA JWK has n, e, d, p, q, dp, dq and qi")
        })?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| format!("the JWK's \"{name}\" is not base64url"))
    };
    let (n, e, d) = (
        member(&jwk.n, "n")?,
        member(&jwk.e, "e")?,
        member(&jwk.d, "d")?,
    );
    let (p, q) = (member(&jwk.p, "p")?, member(&jwk.q, "q")?);
    let (dp, dq, qi) = (
        member(&jwk.dp, "dp")?,
        member(&jwk.dq, "dq")?,
        member(&jwk.qi, "qi")?,
    );
    let key = pkcs1::RsaPrivateKey {
        modulus: uint(&n)?,
        public_exponent: uint(&e)?,
        private_exponent: uint(&d)?,
        prime1: uint(&p)?,
        prime2: uint(&q)?,
        exponent1: uint(&dp)?,
        exponent2: uint(&dq)?,
        coefficient: uint(&qi)?,
        other_prime_infos: None,
    };
    key.to_der()
        .map(Zeroizing::new)
        .map_err(|_| "the JWK's RSA numbers cannot be encoded".to_owned())
}

/// True when `leaf`'s public key is the RSA key's (a key and certificate given apart may
/// not belong together); true as well when there is nothing to compare (not RSA).
pub fn matches_certificate(key: &ClientKey, leaf: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::FromDer as _;
    let PrivateKey::Rsa(der) = &key.key else {
        return true;
    };
    let Ok(private) = pkcs1::RsaPrivateKeyRef::try_from(der.as_slice()) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(leaf) else {
        return false;
    };
    let trim = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            trim(rsa.modulus) == trim(private.modulus.as_bytes())
        }
        _ => false,
    }
}

fn uint(bytes: &[u8]) -> Result<pkcs1::UintRef<'_>, String> {
    pkcs1::UintRef::new(bytes).map_err(|_| "the JWK holds a malformed number".to_owned())
}

/// Files that others may read: group or world read permission on a file holding a key or a
/// password. Each entry is a sentence for the report.
#[cfg(unix)]
pub fn exposed_files<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    paths
        .into_iter()
        .filter_map(|path| {
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            (mode & 0o044 != 0).then(|| {
                format!(
                    "{} can be read by {} (mode {:03o}); it holds key material or a password: chmod 600 it",
                    sanitize(&path.display().to_string()),
                    if mode & 0o004 != 0 { "every user on this machine" } else { "its group" },
                    mode & 0o777
                )
            })
        })
        .collect()
}

/// Files that others may read (not judged on this platform).
#[cfg(not(unix))]
pub fn exposed_files<'a>(_paths: impl IntoIterator<Item = &'a Path>) -> Vec<String> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2".to_owned());
        assert!(!format!("{secret:?}").contains("hunter2"));
        let source = KeySource::Keystore {
            path: "k.p12".into(),
            password: secret,
        };
        assert!(!format!("{source:?}").contains("hunter2"));
        let key = PrivateKey::Rsa(Zeroizing::new(vec![1, 2, 3]));
        assert_eq!(format!("{key:?}"), "PrivateKey::Rsa(<redacted>)");
    }

    #[test]
    fn pem_keys_of_other_types_and_encrypted_keys_are_told_apart() {
        let ec = b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(matches!(pem_private_key(ec), Ok(PrivateKey::Other(k)) if k == "an EC key"));
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = pem_private_key(enc).unwrap_err();
        assert!(err.contains("encrypted"), "{err}");
        let none = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(
            pem_private_key(none)
                .unwrap_err()
                .contains("no private key")
        );
    }
}
