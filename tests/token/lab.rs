//! The token lab: a DNS zone, a test authorization server on a loopback address (TLS with a
//! test CA), a data file whose test environment points at it, and an enterprise certificate
//! with its key in every form a client keeps it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::authserver::{AuthServer, AuthServerBuilder, TestClient};
use crate::support::dns::DnsServer;
use crate::support::enterprise::{Enterprise, EnterpriseCa, Pkcs12Kind, Subject, private_file};
use crate::support::pki::TestCa;

pub const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");
pub const HOST: &str = "auth.egress.test";
pub const ORG: &str = "910753614";
pub const CLIENT: &str = "client-1";
pub const SCOPE: &str = "skatteetaten:mva";
pub const PASSWORD: &str = "keystore-pw-Zq81";

/// Everything a token test needs; dropped servers stop.
pub struct Lab {
    pub ca: TestCa,
    pub dns: DnsServer,
    pub auth: AuthServer,
    pub enterprise_ca: EnterpriseCa,
    pub cert: Enterprise,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    /// The client id the commands send (default [`CLIENT`]).
    pub client_id: String,
}

/// A loopback address per test name, so parallel labs do not share one.
fn address(seed: &str) -> Ipv4Addr {
    let h = seed
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    Ipv4Addr::new(127, 77, (h >> 8) as u8, (h as u8).max(2))
}

impl Lab {
    /// A lab whose server knows `client-1` of organisation 910753614 with [`SCOPE`], accepts
    /// test certificates, and whatever `tweak` adds.
    pub fn new(seed: &str, tweak: impl FnOnce(AuthServerBuilder) -> AuthServerBuilder) -> Lab {
        Lab::with_cert(seed, Subject::org(ORG), tweak)
    }

    /// As [`Lab::new`], with the client's certificate made for `subject`.
    pub fn with_cert(
        seed: &str,
        subject: Subject,
        tweak: impl FnOnce(AuthServerBuilder) -> AuthServerBuilder,
    ) -> Lab {
        let ip = address(seed);
        let ca = TestCa::new("Egress Test Root CA");
        let dns = DnsServer::zone("egress.test").a(HOST, ip, 60).start();
        let enterprise_ca = EnterpriseCa::test();
        let cert = enterprise_ca.issue(subject);
        let auth = tweak(
            AuthServer::builder(ca.valid(&[HOST]))
                .bind(ip.into())
                .client(
                    TestClient::new(CLIENT, ORG)
                        .scopes(&[SCOPE])
                        .key("kid-1", cert.public()),
                )
                .accept_ca(enterprise_ca.name()),
        )
        .start();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.toml");
        std::fs::write(&data, data_file(ip, auth.addr().port())).unwrap();
        Lab {
            ca,
            dns,
            auth,
            enterprise_ca,
            cert,
            dir,
            data,
            client_id: CLIENT.to_owned(),
        }
    }

    /// A subdirectory of the lab's directory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A file in the lab's directory, mode 0600.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        private_file(self.dir.path(), name, bytes)
    }

    /// The keystore (OpenSSL 3 encryption) and its password file.
    pub fn keystore(&self) -> (PathBuf, PathBuf) {
        (
            self.cert
                .write_pkcs12(self.dir.path(), PASSWORD, Pkcs12Kind::OpenSsl3),
            self.file("password.txt", format!("{PASSWORD}\n").as_bytes()),
        )
    }

    /// `egresscheck --data LAB token --env test --client-id client-1 --scope SCOPE` with the
    /// lab's resolver and CA, then `key_args` and `more`.
    pub fn token(&self, key_args: &[&str], more: &[&str]) -> Output {
        self.token_env(key_args, more, &[])
    }

    /// As [`Lab::token`], with environment variables.
    pub fn token_env(&self, key_args: &[&str], more: &[&str], env: &[(&str, &str)]) -> Output {
        self.token_via(&["--no-proxy"], key_args, more, env)
    }

    /// As [`Lab::token_env`], reaching the server by `route` (`--no-proxy`, or `--proxy URL`).
    pub fn token_via(
        &self,
        route: &[&str],
        key_args: &[&str],
        more: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data")
            .arg(&self.data)
            .args([
                "token",
                "--env",
                "test",
                "--client-id",
                &self.client_id,
                "--scope",
                SCOPE,
            ])
            .args(["--resolver", &self.dns.resolver_arg(), "--ca-file"])
            .arg(self.ca.pem_file())
            .args(["--timeout", "3s"])
            .args(route)
            .args(key_args)
            .args(more)
            .env_remove("EGRESSCHECK_KEYSTORE_PASSWORD");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `--key KEY.pem --cert CHAIN.pem` for the lab's certificate (written now).
    pub fn pem_args(&self) -> Vec<String> {
        let (key, chain) = self.cert.write_pem(self.dir.path());
        vec![
            "--key".into(),
            key.display().to_string(),
            "--cert".into(),
            chain.display().to_string(),
        ]
    }

    /// The keystore arguments.
    pub fn keystore_args(&self) -> Vec<String> {
        let (p12, pw) = self.keystore();
        vec![
            "--keystore".into(),
            p12.display().to_string(),
            "--keystore-password-file".into(),
            pw.display().to_string(),
        ]
    }
}

/// `args` as `&str`s.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The JSON document of a run.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Codes of the findings in a JSON document.
pub fn codes(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Standard output and error as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The data file: environments test and prod, the authorization server of test on the lab's
/// address and port, prod's elsewhere (never contacted; its issuer patterns tell production
/// certificates from test ones).
pub fn data_file(ip: Ipv4Addr, port: u16) -> String {
    let mut text = crate::support::data::header("Token endpoints");
    text.push_str(&format!(
        r#"
[[environment]]
id = "test"
name = "Test"

[[environment]]
id = "prod"
name = "Production"

[[service]]
id = "maskinporten"
name = "Test authorization server"

[[endpoint]]
environment = "test"
service = "maskinporten"
host = "{HOST}"
ipv4 = ["{ip}"]
ports = [{port}]
source = "page"

[[endpoint]]
environment = "prod"
service = "maskinporten"
host = "auth-prod.egress.test"
ports = [443]
source = "page"

[[authorization_server]]
environment = "test"
service = "maskinporten"
metadata_url = "https://{HOST}:{port}/.well-known/oauth-authorization-server"
issuer = "https://{HOST}:{port}/"
certificate_issuers = ["Egress Test Class 3 Test4 CA*"]
api_scope_prefixes = ["skatteetaten:"]
api_audience = "unspecified"
source = "page"

[[authorization_server]]
environment = "prod"
service = "maskinporten"
metadata_url = "https://auth-prod.egress.test/.well-known/oauth-authorization-server"
issuer = "https://auth-prod.egress.test/"
certificate_issuers = ["Egress Test Class 3 CA*"]
api_scope_prefixes = ["skatteetaten:"]
api_audience = "unspecified"
source = "page"
"#
    ));
    text
}
