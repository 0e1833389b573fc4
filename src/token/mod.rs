//! Maskinporten readiness: can this host, with this client and this enterprise certificate,
//! get a token? (`egresscheck token`, `check --client`.)
//!
//! An open firewall is half of a go-live; the other half is the token every API call starts
//! with. This module holds the local half of that question, each concern in its own file:
//! [`keys`] (PKCS#12, PEM or JWK, wiped after use), [`certificate`] (expiry, key usage, RSA,
//! test or production by issuer, organisation number), [`grant`] (the JWT grant exactly as
//! Digdir specifies it, signed through [`jose`], jsonwebtoken over ring) and [`answer`]
//! (metadata, tokens and OAuth2 errors, with advice). The network half (the metadata and
//! token requests) goes through the probe's own path (`crate::probe`), like `check`, and the
//! findings are the audit's (`crate::audit::token`). Layering: commands → audit → token →
//! probe → catalog.

pub mod answer;
pub mod certificate;
pub mod flow;
pub mod grant;
mod jose;
pub mod keys;
