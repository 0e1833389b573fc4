//! The JWT grant (RFC 7523) exactly as Digdir specifies it, signed with jsonwebtoken.
//!
//! Header: `alg` RS256, RS384 or RS512, and either `x5c` (the enterprise certificate chain,
//! standard base64 DER, leaf first) or `kid` (a key registered on the client). Claims: `aud`
//! (the issuer from the authorization server's fetched metadata, never a constant), `iss`
//! (the client id), `scope` (space-separated), `iat`, `exp` (at most
//! [`MAX_GRANT_LIFETIME_SECONDS`] after `iat`), a fresh random `jti`, and when asked
//! `resource` (an array: Maskinporten takes no other form) and `consumer_org`. The signed
//! grant is a credential until used: it is kept in a buffer wiped on drop and never printed;
//! the report shows [`GrantSummary`], the header and claims without the signature.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use zeroize::Zeroizing;

use super::keys::{ClientKey, PrivateKey};

/// Longest a grant may live: `exp - iat <= 120` (Digdir).
pub const MAX_GRANT_LIFETIME_SECONDS: i64 = 120;

/// The signature algorithms Maskinporten accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum GrantAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default).
    #[default]
    RS256,
    /// With SHA-384.
    RS384,
    /// With SHA-512.
    RS512,
}

impl GrantAlgorithm {
    fn jose(self) -> Algorithm {
        match self {
            GrantAlgorithm::RS256 => Algorithm::RS256,
            GrantAlgorithm::RS384 => Algorithm::RS384,
            GrantAlgorithm::RS512 => Algorithm::RS512,
        }
    }

    /// The name in the JWT header.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantAlgorithm::RS256 => "RS256",
            GrantAlgorithm::RS384 => "RS384",
            GrantAlgorithm::RS512 => "RS512",
        }
    }
}

/// What the grant asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    /// The client id (`iss`).
    pub client_id: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// The authorization server's issuer, from its metadata (`aud`).
    pub audience: String,
    /// The API the token is for (`resource`), when one is named.
    pub resource: Option<String>,
    /// The organisation acting through an Altinn delegation (`consumer_org`).
    pub consumer_org: Option<String>,
    /// Signature algorithm.
    pub algorithm: GrantAlgorithm,
}

/// The grant's claims, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantClaims {
    /// The authorization server's issuer.
    pub aud: String,
    /// The client id.
    pub iss: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Issued at (seconds since the epoch, UTC).
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// A fresh random id (UUID v4 form).
    pub jti: String,
    /// The target API, as Maskinporten wants it: an array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Vec<String>>,
    /// The consumer's organisation number (Altinn delegation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_org: Option<String>,
}

/// The grant without its signature: what the report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantSummary {
    /// `alg`.
    pub alg: &'static str,
    /// How the key is named: `x5c` (with this many certificates) or `kid`.
    pub key_reference: String,
    /// The claims sent.
    pub claims: GrantClaims,
}

/// A signed grant: the compact JWT (secret until used) and its summary.
pub struct SignedGrant {
    /// The compact JWT, wiped on drop.
    pub jwt: Zeroizing<String>,
    /// Header and claims, for the report.
    pub summary: GrantSummary,
}

impl std::fmt::Debug for SignedGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedGrant")
            .field("jwt", &"<redacted>")
            .field("summary", &self.summary)
            .finish()
    }
}

/// Why no grant could be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The key is not RSA.
    #[error("the key is {0}; Maskinporten's grants are signed RS256/384/512, with an RSA key")]
    NotRsa(String),
    /// Neither a certificate chain nor a kid names the key.
    #[error("the key comes with neither a certificate chain (x5c) nor a kid")]
    NoKeyReference,
    /// No randomness for the `jti`.
    #[error("no random numbers for the grant's jti")]
    Random,
    /// The JOSE library refused (the key is not a usable RSA key).
    #[error("cannot sign the grant: the RSA key is not usable ({0})")]
    Sign(String),
}

/// The claims for `request` issued at `now`.
pub fn claims(request: &GrantRequest, now: DateTime<Utc>) -> Result<GrantClaims, GrantError> {
    let iat = now.timestamp();
    Ok(GrantClaims {
        aud: request.audience.clone(),
        iss: request.client_id.clone(),
        scope: request.scopes.join(" "),
        iat,
        exp: iat + MAX_GRANT_LIFETIME_SECONDS,
        jti: fresh_jti()?,
        resource: request.resource.clone().map(|r| vec![r]),
        consumer_org: request.consumer_org.clone(),
    })
}

/// Signs `claims` with `key`: `x5c` from the key's chain, else its `kid`.
pub fn sign(
    key: &ClientKey,
    claims: GrantClaims,
    algorithm: GrantAlgorithm,
) -> Result<SignedGrant, GrantError> {
    let der = match &key.key {
        PrivateKey::Rsa(der) => der,
        PrivateKey::Other(kind) => return Err(GrantError::NotRsa(kind.clone())),
    };
    let mut header = Header::new(algorithm.jose());
    let key_reference = if !key.chain.is_empty() {
        header.x5c = Some(
            key.chain
                .iter()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .collect(),
        );
        format!("x5c ({} certificates)", key.chain.len())
    } else if let Some(kid) = &key.kid {
        header.kid = Some(kid.clone());
        format!("kid {kid}")
    } else {
        return Err(GrantError::NoKeyReference);
    };
    super::jose::install();
    let encoding = EncodingKey::from_rsa_der(der);
    let jwt = jsonwebtoken::encode(&header, &claims, &encoding)
        .map_err(|e| GrantError::Sign(e.to_string()))?;
    Ok(SignedGrant {
        jwt: Zeroizing::new(jwt),
        summary: GrantSummary {
            alg: algorithm.as_str(),
            key_reference,
            claims,
        },
    })
}

/// 122 random bits in the UUID v4 form Digdir's examples use.
fn fresh_jti() -> Result<String, GrantError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| GrantError::Random)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_is_fresh_and_uuid_shaped() {
        let a = fresh_jti().unwrap();
        let b = fresh_jti().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.chars().nth(14), Some('4'));
    }

    #[test]
    fn claims_follow_the_specification() {
        let request = GrantRequest {
            client_id: "client".into(),
            scopes: vec!["skatteetaten:a".into(), "skatteetaten:b".into()],
            audience: "https://test.maskinporten.no/".into(),
            resource: Some("https://api.example/".into()),
            consumer_org: Some("910753614".into()),
            algorithm: GrantAlgorithm::RS256,
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let c = claims(&request, now).unwrap();
        assert_eq!(c.exp - c.iat, 120);
        assert_eq!(c.scope, "skatteetaten:a skatteetaten:b");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["resource"],
            serde_json::json!(["https://api.example/"])
        );
        assert_eq!(json["consumer_org"], "910753614");
        let plain = GrantRequest {
            resource: None,
            consumer_org: None,
            ..request
        };
        let json = serde_json::to_value(claims(&plain, now).unwrap()).unwrap();
        assert!(json.get("resource").is_none() && json.get("consumer_org").is_none());
    }

    #[test]
    fn a_key_that_is_not_rsa_signs_nothing() {
        let key = ClientKey {
            key: PrivateKey::Other("an EC key".into()),
            chain: Vec::new(),
            kid: Some("k".into()),
        };
        let c = claims(
            &GrantRequest {
                client_id: "c".into(),
                scopes: vec![],
                audience: "a".into(),
                resource: None,
                consumer_org: None,
                algorithm: GrantAlgorithm::RS256,
            },
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            sign(&key, c, GrantAlgorithm::RS256).unwrap_err(),
            GrantError::NotRsa("an EC key".into())
        );
    }
}
