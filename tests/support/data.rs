//! Test data files: a valid provider table around the endpoints a test serves.

use std::net::IpAddr;

/// One `[[endpoint]]` of [`data_file`]: a host, its documented address (if any) and port.
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub address: Option<IpAddr>,
    pub port: u16,
}

/// The start of every test data file: `schema`, `[data]` and the one `[[source]]` ("page")
/// entries cite, titled `title`.
pub fn header(title: &str) -> String {
    format!(
        r#"schema = 1

[data]
provider = "Egress Test Provider"
version = "2026-01-01.1"
primary_source = "page"

[[source]]
id = "page"
publisher = "Egress Test Provider"
title = "{title}"
url = "https://provider.egress.test/firewall"
document_date = 2026-01-01
"#
    )
}

/// A valid data file with one environment (`prod`), one service and `endpoints`.
pub fn data_file(endpoints: &[Endpoint<'_>]) -> String {
    let mut text = header("Firewall openings");
    text.push_str(
        r#"
[[environment]]
id = "prod"
name = "Production"

[[service]]
id = "api"
name = "Test API"
"#,
    );
    for e in endpoints {
        let family = match e.address {
            Some(IpAddr::V4(a)) => format!("ipv4 = [\"{a}\"]\n"),
            Some(IpAddr::V6(a)) => format!("ipv6 = [\"{a}\"]\n"),
            None => String::new(),
        };
        text.push_str(&format!(
            "\n[[endpoint]]\nenvironment = \"prod\"\nservice = \"api\"\nhost = \"{}\"\n{family}ports = [{}]\nsource = \"page\"\n",
            e.host, e.port
        ));
    }
    text
}

/// `text` (a [`data_file`]) with an `http` check on the endpoint of `host`; `check` is the
/// inline table, e.g. `{ path = "/", expect_status = [200] }`.
pub fn with_http(text: &str, host: &str, check: &str) -> String {
    let line = format!("host = \"{host}\"\n");
    assert!(text.contains(&line), "no endpoint {host} in the data file");
    text.replacen(&line, &format!("{line}http = {check}\n"), 1)
}
