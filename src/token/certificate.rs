//! What the enterprise certificate says, judged before anything is sent.
//!
//! Maskinporten refuses a grant signed with a certificate that has expired, that is not for
//! signing, whose key is not RSA (the grant is RS256/384/512), or that belongs to the other
//! environment (a production certificate in test, or the reverse). Each of those is visible
//! locally, so the admin learns it from here rather than from an `invalid_grant`. The
//! environment is told by the issuer: the data file lists, per authorization server, the
//! issuers of the enterprise certificates its environment accepts, and the most specific
//! matching pattern across environments decides (provider-neutral: no CA name is in the
//! code).

use chrono::{DateTime, Utc};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::catalog::{AuthorizationServer, EnvId};
use crate::probe::cert::describe;
use crate::probe::model::CertificateInfo;
use crate::term::sanitize;

/// `organizationIdentifier` (ETSI EN 319 412-1), `NTRNO-` followed by the organisation number
/// on Norwegian SEID 2.0 certificates.
const ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";
/// `serialNumber` of the subject: the bare organisation number on older certificates.
const SUBJECT_SERIAL_NUMBER: &str = "2.5.4.5";
/// Smallest RSA key Maskinporten can be expected to accept.
pub const MIN_RSA_BITS: usize = 2048;

/// The certificate's facts and the verdicts on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateFacts {
    /// Subject, issuer, validity, key, fingerprint.
    pub certificate: CertificateInfo,
    /// The issuer's common name, the part issuer patterns match.
    pub issuer_name: String,
    /// The organisation number the certificate carries (organizationIdentifier or
    /// serialNumber of the subject).
    pub organisation_number: Option<String>,
    /// Key usages the certificate states (empty: none stated, which allows any).
    pub key_usage: Vec<String>,
    /// The key usage allows signing (digitalSignature or nonRepudiation, or none stated).
    pub signing_allowed: bool,
    /// The public key is RSA.
    pub rsa: bool,
    /// The RSA key's size in bits.
    pub rsa_bits: Option<usize>,
    /// The environment whose accepted issuers match best, if any does.
    pub issued_for: Option<EnvId>,
}

/// Why a certificate cannot be described at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate cannot be parsed: {0}")]
pub struct CertificateError(pub String);

/// Describes the leaf `der` and judges which environment's issuers match it, among
/// `servers` (every authorization server of the service).
pub fn judge(
    der: &[u8],
    servers: &[&AuthorizationServer],
) -> Result<CertificateFacts, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertificateError(sanitize(&e.to_string())))?;
    let issuer_name = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map_or_else(|| sanitize(&cert.issuer().to_string()), sanitize);
    let key_usage: Vec<String> = match cert.key_usage() {
        Ok(Some(ext)) => {
            let ku = ext.value;
            [
                (ku.digital_signature(), "digitalSignature"),
                (ku.non_repudiation(), "nonRepudiation"),
                (ku.key_encipherment(), "keyEncipherment"),
                (ku.data_encipherment(), "dataEncipherment"),
                (ku.key_agreement(), "keyAgreement"),
                (ku.key_cert_sign(), "keyCertSign"),
                (ku.crl_sign(), "cRLSign"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name.to_owned())
            .collect()
        }
        _ => Vec::new(),
    };
    let signing_allowed = key_usage.is_empty()
        || key_usage
            .iter()
            .any(|u| u == "digitalSignature" || u == "nonRepudiation");
    let rsa_bits = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(rsa.key_size()),
        _ => None,
    };
    Ok(CertificateFacts {
        certificate: describe(der),
        organisation_number: organisation_number(&cert),
        issued_for: environment_of(&issuer_name, servers),
        issuer_name,
        key_usage,
        signing_allowed,
        rsa: rsa_bits.is_some(),
        rsa_bits,
    })
}

/// The organisation number: `organizationIdentifier` (`NTRNO-123456789`), else a nine-digit
/// subject `serialNumber`.
fn organisation_number(cert: &X509Certificate<'_>) -> Option<String> {
    let attribute = |oid: &str| {
        cert.subject()
            .iter_attributes()
            .find(|a| a.attr_type().to_id_string() == oid)
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned)
    };
    let digits = |text: &str| -> Option<String> {
        let number: String = text.chars().filter(char::is_ascii_digit).collect();
        (number.len() == 9).then_some(number)
    };
    attribute(ORGANIZATION_IDENTIFIER)
        .and_then(|id| digits(id.rsplit('-').next().unwrap_or(&id)))
        .or_else(|| attribute(SUBJECT_SERIAL_NUMBER).and_then(|s| digits(&s)))
}

/// The environment whose most specific matching issuer pattern is the longest.
pub fn environment_of(issuer: &str, servers: &[&AuthorizationServer]) -> Option<EnvId> {
    servers
        .iter()
        .filter_map(|server| {
            server
                .certificate_issuers
                .iter()
                .filter(|p| p.matches(issuer))
                .map(|p| p.specificity())
                .max()
                .map(|best| (best, &server.environment))
        })
        .max_by_key(|(best, _)| *best)
        .map(|(_, env)| env.clone())
}

/// Days from `now` until the certificate ends (negative once it has).
pub fn days_left(facts: &CertificateFacts, now: DateTime<Utc>) -> i64 {
    (facts.certificate.not_after - now).num_days()
}
