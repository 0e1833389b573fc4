//! What a certificate says, parsed with x509-parser into [`CertificateInfo`].
//!
//! Every certificate the peer sent is described, whether or not it verifies: an expired or
//! untrusted chain is exactly what an admin needs to see in full. Text from the certificate
//! is sanitised, since a hostile peer chooses it.

use chrono::{DateTime, Utc};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::probe::model::CertificateInfo;
use crate::term::sanitize;

/// Subject alternative names recorded per certificate; the rest are counted.
pub const MAX_SANS: usize = 100;

/// Describes one DER certificate. A certificate that does not parse is still listed, with
/// its fingerprint and the parser's reason as the subject.
pub fn describe(der: &[u8]) -> CertificateInfo {
    let sha256 = fingerprint(der);
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => from_parsed(&cert, sha256),
        Err(err) => CertificateInfo {
            subject: format!("(unparsable certificate: {})", sanitize(&err.to_string())),
            issuer: String::new(),
            sans: Vec::new(),
            serial: String::new(),
            not_before: DateTime::<Utc>::UNIX_EPOCH,
            not_after: DateTime::<Utc>::UNIX_EPOCH,
            sha256,
            key_algorithm: String::new(),
            signature_algorithm: String::new(),
        },
    }
}

fn from_parsed(cert: &X509Certificate<'_>, sha256: String) -> CertificateInfo {
    let validity = cert.validity();
    CertificateInfo {
        subject: sanitize(&cert.subject().to_string()),
        issuer: sanitize(&cert.issuer().to_string()),
        sans: sans(cert),
        serial: hex(cert.raw_serial()),
        not_before: timestamp(validity.not_before.timestamp()),
        not_after: timestamp(validity.not_after.timestamp()),
        sha256,
        key_algorithm: key_algorithm(cert),
        signature_algorithm: algorithm_name(&cert.signature_algorithm.algorithm),
    }
}

fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(extension)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &extension.value.general_names;
    let mut out: Vec<String> = names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(sanitize(dns)),
            GeneralName::IPAddress(bytes) => ip_text(bytes),
            _ => None,
        })
        .take(MAX_SANS)
        .collect();
    let total = names
        .iter()
        .filter(|n| matches!(n, GeneralName::DNSName(_) | GeneralName::IPAddress(_)))
        .count();
    if total > MAX_SANS {
        out.push(format!("(and {} more)", total - MAX_SANS));
    }
    out
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return Some(std::net::Ipv6Addr::from(v6).to_string());
    }
    None
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `RSA 2048`, `EC P-256`, `Ed25519`, or the algorithm's name.
fn key_algorithm(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", significant_bits(rsa.modulus)),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| curve_name(&oid.to_id_string()));
            match curve {
                Some(curve) => format!("EC {curve}"),
                None => "EC".to_owned(),
            }
        }
        _ => algorithm_name(&spki.algorithm.algorithm),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".to_owned(),
        "1.3.132.0.34" => "P-384".to_owned(),
        "1.3.132.0.35" => "P-521".to_owned(),
        other => other.to_owned(),
    }
}

/// Bits of a big-endian unsigned integer without its leading zeros.
fn significant_bits(bytes: &[u8]) -> usize {
    let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(first) => bytes.get(first..).unwrap_or_default(),
        None => &[],
    };
    match trimmed.first() {
        Some(&top) => trimmed.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

fn algorithm_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    match x509_parser::objects::oid2sn(oid, registry) {
        Ok(name) => name.to_owned(),
        Err(_) => oid.to_id_string(),
    }
}

/// SHA-256 of `der`, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_bits_ignore_leading_zeros() {
        assert_eq!(significant_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(significant_bits(&[0x01, 0x00]), 9);
        assert_eq!(significant_bits(&[]), 0);
        assert_eq!(significant_bits(&[0, 0]), 0);
    }

    #[test]
    fn garbage_is_described_not_rejected() {
        let info = describe(b"not a certificate");
        assert!(
            info.subject.starts_with("(unparsable certificate"),
            "{}",
            info.subject
        );
        assert_eq!(info.sha256.len(), 64);
    }

    #[test]
    fn a_generated_certificate_is_described_in_full() {
        let mut params = rcgen::CertificateParams::new(vec![
            "api.example.no".to_owned(),
            "192.0.2.1".to_owned(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "api.example.no");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = describe(cert.der());
        assert_eq!(info.subject, "CN=api.example.no");
        assert_eq!(info.issuer, "CN=api.example.no");
        assert_eq!(info.sans, vec!["api.example.no", "192.0.2.1"]);
        assert_eq!(info.key_algorithm, "EC P-256");
        assert_eq!(info.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(info.sha256, fingerprint(cert.der()));
        assert!(info.not_before < info.not_after);
        assert!(!info.serial.is_empty());
    }
}
