//! `egresscheck serve` as a child process, and a small HTTP/1.1 client for it.
//!
//! ```ignore
//! use crate::support::exporter::Exporter;
//! let exporter = Exporter::start(&["--data", path, "serve", "--resolver", &dns.resolver_arg()]);
//! let answer = exporter.get("/probe?env=prod", &[("X-Prometheus-Scrape-Timeout-Seconds", "5")]);
//! assert_eq!(answer.status, 200);
//! let lines = exporter.logs();               // JSON log lines so far
//! ```
//!
//! The exporter listens on `127.0.0.1:0` with JSON logs at debug level; its address comes
//! from its own "listening" line. It is stopped by its process id (SIGTERM, then SIGKILL)
//! when dropped. [`get_tls`](Exporter::get_tls) speaks HTTPS with a test CA.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_egresscheck");

/// A running exporter.
pub struct Exporter {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of an unlabelled sample, or of the sample whose labels contain every
    /// `name="value"` in `labels`.
    pub fn sample(&self, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.body.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, rest) = series.split_once('{').unwrap_or((series, ""));
            if name != metric || line.starts_with('#') {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse().ok())
                .flatten()
        })
    }
}

impl Exporter {
    /// Starts `egresscheck ARGS… --listen 127.0.0.1:0 --log.format json --log.level debug`
    /// (ARGS include `serve`), and waits for it to listen.
    pub fn start(args: &[&str]) -> Exporter {
        Exporter::start_with(args, |_| {})
    }

    /// [`start`](Exporter::start), with a chance to change the command (environment).
    pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Exporter {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log.format",
                "json",
                "--log.level",
                "debug",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("egresscheck serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "unparsed": line }));
                if value["msg"] == "listening" {
                    let _ = tx.send(value["address"].as_str().unwrap_or("").to_owned());
                }
                sink.lock().unwrap().push(value);
            }
        });
        let Ok(address) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "egresscheck serve did not start listening: {:?}",
                logs.lock().unwrap()
            );
        };
        Exporter {
            child,
            addr: address.parse().expect("the listening line has an address"),
            logs,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log lines so far.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits up to `limit` for a log line with this `msg`.
    pub fn wait_for_log(&self, msg: &str, limit: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l["msg"] == msg) {
                return line;
            }
            assert!(
                start.elapsed() < limit,
                "no log line {msg:?} within {limit:?}: {:?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal to the exporter (`kill -s NAME PID`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Peak resident memory so far (VmHWM), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// `GET path` over plain HTTP.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.request("GET", path, headers)
    }

    /// Any request over plain HTTP (one connection, closed after).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        exchange(&mut stream, method, path, headers)
    }

    /// `GET path` over HTTPS, trusting `ca_pem`, as `server_name`, with an optional client
    /// certificate chain and key (PEM).
    pub fn get_tls(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        ca_pem: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Answer, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            Some((chain, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(chain.as_bytes())
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let name = ServerName::try_from("exporter.egress.test").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        let request = request_text("GET", path, headers);
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        match stream.read_to_end(&mut raw) {
            Ok(_) => {}
            // The server closes without close_notify after `Connection: close`; what came
            // before counts.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(e.to_string()),
        }
        Ok(parse(&raw))
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // By process id: SIGTERM, a moment to stop, then SIGKILL.
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request_text(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut text =
        format!("{method} {path} HTTP/1.1\r\nHost: exporter.egress.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Writes a request and reads the answer to the end of the connection.
pub fn exchange(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    stream
        .write_all(request_text(method, path, headers).as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

/// Parses an HTTP/1.1 answer (body by Content-Length, or to the end).
pub fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}
