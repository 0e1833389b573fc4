//! `egresscheck token …`: can this host get a token? The key, the certificate, the
//! authorization server's metadata over the probe path, the grant, the token request, the
//! answer.
//!
//! The keystore password is read from a file (`--keystore-password-file`) or the environment
//! (`EGRESSCHECK_KEYSTORE_PASSWORD`), here at the edge; there is deliberately no flag that
//! takes it, so it never shows in a process list or a shell history.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::data::FormatArg;
use super::probe::{OPEN_FILE_CEILING, ProbeFlags, proxy_env};
use crate::audit::{AuditOptions, DEFAULT_CERT_WARN_DAYS};
use crate::commands::token::{self, PASSWORD_ENV, TokenFormat};
use crate::commands::{CommandError, DataSource};
use crate::exit::Status;
use crate::probe::options;
use crate::token::flow::TokenOptions;

/// `egresscheck token`: get a token from the environment's authorization server.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Environment whose authorization server to ask (id, name or alias), e.g. test.
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,

    /// The client id (Digdir's self-service shows it).
    #[arg(long = "client-id", value_name = "ID")]
    pub client_id: String,

    /// A scope to ask for (repeatable), e.g. skatteetaten:mvameldingvalidering.
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,

    /// PKCS#12 keystore (.p12/.pfx) with the enterprise certificate, its chain and key. Its
    /// password comes from --keystore-password-file or EGRESSCHECK_KEYSTORE_PASSWORD.
    #[arg(long, value_name = "FILE.p12", conflicts_with_all = ["key", "jwk"])]
    pub keystore: Option<PathBuf>,

    /// File whose first line is the keystore password.
    #[arg(
        long = "keystore-password-file",
        value_name = "FILE",
        requires = "keystore"
    )]
    pub keystore_password_file: Option<PathBuf>,

    /// PEM private key (PKCS#8 or PKCS#1, unencrypted) of the enterprise certificate.
    #[arg(
        long,
        value_name = "KEY.pem",
        requires = "cert",
        conflicts_with = "jwk"
    )]
    pub key: Option<PathBuf>,

    /// PEM certificate chain, the enterprise certificate first.
    #[arg(long, value_name = "CHAIN.pem", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Private RSA key as a JWK (or a JWK set), registered on the client under --kid.
    #[arg(long, value_name = "FILE.json", requires = "kid")]
    pub jwk: Option<PathBuf>,

    /// The key id the JWK is registered under on the client.
    #[arg(long, value_name = "KID", requires = "jwk")]
    pub kid: Option<String>,

    /// Organisation number of the consumer you act for (an Altinn delegation).
    #[arg(long = "consumer-org", value_name = "ORGNO")]
    pub consumer_org: Option<String>,

    /// The API the token is for (`resource`). Skatteetaten's APIs want none.
    #[arg(long, value_name = "URI")]
    pub resource: Option<String>,

    /// The authorization server's metadata URL instead of the data file's (a test server).
    #[arg(long = "metadata-url", value_name = "URL")]
    pub metadata_url: Option<String>,

    /// Signature algorithm of the grant: RS256, RS384 or RS512.
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    pub algorithm: String,

    /// Warn when the enterprise certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_CERT_WARN_DAYS, value_parser = clap::value_parser!(i64).range(0..=3650))]
    pub cert_warn_days: i64,

    /// Exit 1 on warnings too.
    #[arg(long)]
    pub strict: bool,

    /// How to reach the authorization server (as `check`).
    #[command(flatten)]
    pub flags: ProbeFlags,

    /// Report format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
}

impl TokenArgs {
    /// Runs the command.
    pub fn run(
        self,
        data: DataSource,
        screen: crate::term::Screen,
        out: &mut dyn Write,
    ) -> Result<Status, CommandError> {
        options::prepare_open_files(OPEN_FILE_CEILING);
        let catalog = data.load()?;
        let probe = self.flags.to_options(&proxy_env())?;
        let key = token::key_source(
            self.keystore,
            self.keystore_password_file.as_deref(),
            std::env::var(PASSWORD_ENV).ok(),
            self.key,
            self.cert,
            self.jwk,
            self.kid,
        )?;
        let options = TokenOptions {
            client_id: self.client_id,
            scopes: self.scopes,
            key,
            password_file: self.keystore_password_file,
            consumer_org: self.consumer_org,
            resource: self.resource,
            metadata_url: self
                .metadata_url
                .as_deref()
                .map(token::parse_metadata_url)
                .transpose()?,
            algorithm: token::parse_algorithm(&self.algorithm)?,
        };
        token::validate(&options)?;
        let audit = AuditOptions {
            cert_warn_days: self.cert_warn_days,
            ..AuditOptions::default()
        };
        let format = match self.format {
            FormatArg::Table => TokenFormat::Table,
            FormatArg::Json => TokenFormat::Json,
        };
        token::token_with(
            &catalog,
            &self.environment,
            &options,
            &token::ProbeTransport::new(probe),
            &audit,
            self.strict,
            format,
            &screen,
            out,
        )
    }
}
