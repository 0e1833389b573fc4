//! The authorization server's answers: its metadata (RFC 8414) and the token response, read
//! into what the report shows and the audit judges.
//!
//! A token is decoded, never trusted: the claims of a JWT access token (`scope`, `exp`,
//! `aud`, `consumer`, `supplier`) are read from its payload to compare with what was asked,
//! and the token itself is dropped (wiped) here, so no later step can print it. An error
//! answer keeps Maskinporten's `error` and `error_description` (sanitised, cut short) and
//! gets advice in words an admin can act on (`advice`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::term::sanitize;

/// Characters kept of a server-sent text (an error description).
const TEXT_CHARS: usize = 300;
/// Scopes kept from a token.
const MAX_SCOPES: usize = 64;

/// What the metadata says that the token step needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// `issuer`: the grant's `aud`.
    pub issuer: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`, when given.
    pub jwks_uri: Option<String>,
}

#[derive(Deserialize)]
struct RawMetadata {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
}

/// Reads a metadata document; the error says what is missing.
pub fn metadata(body: &[u8]) -> Result<Metadata, String> {
    let raw: RawMetadata = serde_json::from_slice(body)
        .map_err(|e| format!("the metadata is not a JSON object ({e})"))?;
    let field = |value: Option<String>, name: &str| {
        value
            .filter(|v| !v.is_empty())
            .map(|v| sanitize(&v))
            .ok_or_else(|| format!("the metadata has no \"{name}\""))
    };
    Ok(Metadata {
        issuer: field(raw.issuer, "issuer")?,
        token_endpoint: field(raw.token_endpoint, "token_endpoint")?,
        jwks_uri: raw.jwks_uri.map(|u| sanitize(&u)),
    })
}

/// An organisation as Maskinporten names it (`{"authority": "iso6523-actorid-upis", "ID":
/// "0192:123456789"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// The identifier scheme.
    #[serde(default)]
    pub authority: String,
    /// `0192:` and the organisation number.
    #[serde(rename = "ID", default)]
    pub id: String,
}

impl Organisation {
    /// The organisation number without its ISO 6523 prefix.
    pub fn number(&self) -> &str {
        self.id.rsplit(':').next().unwrap_or(&self.id)
    }
}

/// The claims of an access token worth showing; none of them is the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenClaims {
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// `expires_in` of the answer, seconds.
    pub expires_in: Option<i64>,
    /// `exp` of the token.
    pub exp: Option<i64>,
    /// `aud`, when the token is audience-restricted.
    pub aud: Vec<String>,
    /// `iss`.
    pub iss: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// The legal consumer.
    pub consumer: Option<Organisation>,
    /// The supplier acting for the consumer (delegation).
    pub supplier: Option<Organisation>,
    /// True when the token is a JWT whose claims were read; false when it is opaque and
    /// only the answer's own fields are known.
    pub decoded: bool,
}

/// The token endpoint's answer, interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TokenAnswer {
    /// A token came.
    Token(TokenClaims),
    /// An OAuth2 error (`error`, `error_description`).
    Error {
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`, sanitised and cut short.
        description: Option<String>,
    },
    /// Something that is neither a token nor an OAuth2 error.
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What came, in words.
        what: String,
    },
}

/// The answer's fields; the token is wiped when this is dropped.
#[derive(Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct RawToken {
    access_token: Option<String>,
    #[zeroize(skip)]
    expires_in: Option<i64>,
    #[zeroize(skip)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct RawClaims {
    scope: Option<String>,
    exp: Option<i64>,
    #[serde(default)]
    aud: Option<OneOrMany>,
    iss: Option<String>,
    client_id: Option<String>,
    consumer: Option<Organisation>,
    supplier: Option<Organisation>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Interprets the token endpoint's answer (`status`, `body`).
pub fn token_answer(status: u16, body: &[u8]) -> TokenAnswer {
    if status == 200
        && let Ok(raw) = serde_json::from_slice::<RawToken>(body)
        && let Some(token) = &raw.access_token
    {
        let mut claims = decode_claims(token).unwrap_or_default();
        if claims.scopes.is_empty()
            && let Some(scope) = &raw.scope
        {
            claims.scopes = split_scopes(scope);
        }
        claims.expires_in = raw.expires_in;
        return TokenAnswer::Token(claims);
    }
    if let Ok(raw) = serde_json::from_slice::<RawError>(body)
        && let Some(error) = raw.error
    {
        return TokenAnswer::Error {
            status,
            error: cut(&error),
            description: raw.error_description.map(|d| cut(&d)),
        };
    }
    let what = if status == 200 {
        "an answer without access_token".to_owned()
    } else if body.is_empty() {
        "an empty answer".to_owned()
    } else {
        let first = String::from_utf8_lossy(body);
        format!(
            "no OAuth2 error but: {}",
            cut(first.lines().next().unwrap_or_default())
        )
    };
    TokenAnswer::Unexpected { status, what }
}

/// The claims of a JWT access token, read without verifying it (it is the resource
/// server's to verify; the claims only tell the admin what was granted).
fn decode_claims(token: &str) -> Option<TokenClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?,
    );
    let raw: RawClaims = serde_json::from_slice(&bytes).ok()?;
    let clean = |o: Option<Organisation>| {
        o.map(|o| Organisation {
            authority: cut(&o.authority),
            id: cut(&o.id),
        })
    };
    Some(TokenClaims {
        scopes: raw.scope.as_deref().map(split_scopes).unwrap_or_default(),
        expires_in: None,
        exp: raw.exp,
        aud: match raw.aud {
            None => Vec::new(),
            Some(OneOrMany::One(a)) => vec![cut(&a)],
            Some(OneOrMany::Many(all)) => all.iter().take(MAX_SCOPES).map(|a| cut(a)).collect(),
        },
        iss: raw.iss.map(|i| cut(&i)),
        client_id: raw.client_id.map(|c| cut(&c)),
        consumer: clean(raw.consumer),
        supplier: clean(raw.supplier),
        decoded: true,
    })
}

fn split_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().take(MAX_SCOPES).map(cut).collect()
}

/// Sanitised and cut to [`TEXT_CHARS`] characters.
fn cut(text: &str) -> String {
    let clean = sanitize(text);
    if clean.chars().count() <= TEXT_CHARS {
        clean
    } else {
        let mut short: String = clean.chars().take(TEXT_CHARS).collect();
        short.push('…');
        short
    }
}

/// What to do about an OAuth2 error from Maskinporten, from its `error` and the MP-nnn text
/// in `error_description` (Digdir's troubleshooting page).
pub fn advice(error: &str, description: Option<&str>, environment: &str) -> String {
    let text = description.unwrap_or_default().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    match error {
        "invalid_scope" => format!(
            "the scope is not provisioned on the client, or Skatteetaten has not yet registered your organisation for it: ask Skatteetaten whether your organisation number has the scope in {environment}, then add it to the client in Digdir's self-service (Samarbeidsportalen)"
        ),
        "invalid_client" => format!(
            "the client id or its key is not registered: check that --client-id is the client's id in Digdir's self-service for {environment} (a client exists in one environment only) and, with --kid, that the key is registered on the client and not expired (keys live one year)"
        ),
        "invalid_grant" if has(&["mp-012", "used before", "jti"]) => {
            "the grant's jti was used before: every grant needs a fresh jti (egresscheck makes one per run; an integration that reuses grants fails the same way)".to_owned()
        }
        "invalid_grant" if has(&["mp-110", " aud"]) => format!(
            "wrong audience: the grant's aud must be the issuer of the {environment} authorization server's metadata"
        ),
        "invalid_grant" if has(&["mp-120", "mp-124", "certificate", "signature"]) => format!(
            "the certificate was refused: {environment} needs a valid {} enterprise certificate (a production certificate is refused in test, a test certificate in production), with the key it was issued for",
            if environment.contains("prod") { "production" } else { "test" }
        ),
        "invalid_grant" if has(&["mp-130", "expired", "issue time", "iat", "clock", "future"]) => {
            "a clock problem: Maskinporten accepts a grant only within 10 seconds of its own clock; synchronise this host's clock (NTP) and try again".to_owned()
        }
        "invalid_grant" if has(&["mp-122", "orgno", "organization number"]) => {
            "the certificate belongs to another organisation than the client: use the enterprise certificate of the organisation that owns the client".to_owned()
        }
        "invalid_grant" if has(&["mp-121", "expired key"]) => {
            "the key registered on the client has expired (keys live one year): register it again in Digdir's self-service".to_owned()
        }
        "invalid_grant" if has(&["mp-100", "client not found", "client authentication"]) => format!(
            "the client was not found: check --client-id and that the client was created in {environment}, not in another environment"
        ),
        "invalid_grant" => format!(
            "Maskinporten refused the grant: check the clock (NTP), that the certificate is a {environment} enterprise certificate, and the client id"
        ),
        "access_denied" | "unauthorized_client" if has(&["mp-251", "delegated"]) => {
            "the consumer has not delegated the scope to your organisation in Altinn: the consumer must delegate it (delegations made in Altinn do not apply in Altinn's test environment tt02)".to_owned()
        }
        "access_denied" | "unauthorized_client" => {
            "the consumer has no access to the scope, or the client may not use this grant type: ask the API owner (Skatteetaten) for access; check the client's integration type in Digdir's self-service".to_owned()
        }
        "invalid_request" if has(&["consumer_org"]) => {
            "consumer_org names the client's own organisation: leave --consumer-org out when acting for yourself".to_owned()
        }
        "invalid_request" => {
            "Maskinporten could not read the request: report it with the error description above".to_owned()
        }
        _ => "see Digdir's troubleshooting page (docs.digdir.no, Maskinporten, Feilsøking) for the error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(br#"{"alg":"RS256"}"#),
            enc.encode(claims.to_string())
        )
    }

    #[test]
    fn a_token_is_read_for_its_claims() {
        let token = jwt(&serde_json::json!({
            "scope": "skatteetaten:a skatteetaten:b", "exp": 99, "aud": "https://api/",
            "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:910753614"},
            "supplier": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}
        }));
        let body =
            serde_json::json!({"access_token": token, "expires_in": 119, "token_type": "Bearer"});
        let TokenAnswer::Token(c) = token_answer(200, body.to_string().as_bytes()) else {
            panic!("not a token");
        };
        assert_eq!(c.scopes, ["skatteetaten:a", "skatteetaten:b"]);
        assert_eq!(c.aud, ["https://api/"]);
        assert_eq!(c.consumer.unwrap().number(), "910753614");
        assert_eq!(c.supplier.unwrap().number(), "991825827");
        assert_eq!(c.expires_in, Some(119));
        assert!(c.decoded);
    }

    #[test]
    fn an_opaque_token_falls_back_to_the_answers_scope() {
        let body = br#"{"access_token":"IxC0B76vlWl3fiQhAwZUmD0hr_PPwC9hSIXRdoUslPU=","expires_in":599,"scope":"difitest:test1"}"#;
        let TokenAnswer::Token(c) = token_answer(200, body) else {
            panic!("not a token");
        };
        assert_eq!(c.scopes, ["difitest:test1"]);
        assert!(!c.decoded);
    }

    #[test]
    fn errors_and_garbage_are_told_apart() {
        let body =
            br#"{"error":"invalid_scope","error_description":"MP-200: Invalid scope \u001b[31m"}"#;
        let TokenAnswer::Error {
            error,
            description,
            status,
        } = token_answer(400, body)
        else {
            panic!("not an error");
        };
        assert_eq!((status, error.as_str()), (400, "invalid_scope"));
        assert!(!description.unwrap().contains('\u{1b}'));
        assert!(matches!(
            token_answer(502, b"<html>Bad gateway</html>"),
            TokenAnswer::Unexpected { status: 502, .. }
        ));
        assert!(matches!(
            token_answer(200, b"{}"),
            TokenAnswer::Unexpected { .. }
        ));
    }

    #[test]
    fn advice_follows_digdirs_error_texts() {
        assert!(advice("invalid_scope", None, "test").contains("Skatteetaten"));
        assert!(advice("invalid_client", None, "test").contains("--client-id"));
        assert!(
            advice(
                "invalid_grant",
                Some("MP-012: Grant is used before"),
                "test"
            )
            .contains("jti")
        );
        assert!(
            advice("invalid_grant", Some("Invalid JWT claim aud"), "test").contains("audience")
        );
        assert!(
            advice(
                "invalid_grant",
                Some("MP-120: The JWT is signed with an invalid certificate."),
                "test"
            )
            .contains("test enterprise certificate")
        );
        assert!(advice("invalid_grant", Some("MP-130: JWT is expired"), "prod").contains("clock"));
    }

    #[test]
    fn metadata_needs_issuer_and_token_endpoint() {
        let m = metadata(br#"{"issuer":"https://test.maskinporten.no/","token_endpoint":"https://test.maskinporten.no/token"}"#).unwrap();
        assert_eq!(m.issuer, "https://test.maskinporten.no/");
        assert!(
            metadata(br#"{"issuer":"x"}"#)
                .unwrap_err()
                .contains("token_endpoint")
        );
        assert!(metadata(b"<html>").is_err());
    }
}
