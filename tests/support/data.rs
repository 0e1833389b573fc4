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

/// The environment (`prod`) and the service (`api`) every [`endpoint`] belongs to.
pub const PROD_API: &str = r#"
[[environment]]
id = "prod"
name = "Production"

[[service]]
id = "api"
name = "Test API"
"#;

/// A valid data file with one environment (`prod`), one service and `endpoints`.
pub fn data_file(endpoints: &[Endpoint<'_>]) -> String {
    let mut text = header("Firewall openings");
    text.push_str(PROD_API);
    for e in endpoints {
        let addresses: Vec<IpAddr> = e.address.into_iter().collect();
        text.push_str(&endpoint(e.host, &addresses, e.port));
    }
    text
}

/// One `[[endpoint]]` of `prod`/`api`: `host` on `port`, documenting `addresses`.
pub fn endpoint(host: &str, addresses: &[IpAddr], port: u16) -> String {
    let list = |v6: bool| -> Vec<String> {
        addresses
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(|a| format!("\"{a}\""))
            .collect()
    };
    let mut families = String::new();
    for (key, v6) in [("ipv4", false), ("ipv6", true)] {
        let values = list(v6);
        if !values.is_empty() {
            families.push_str(&format!("{key} = [{}]\n", values.join(", ")));
        }
    }
    format!(
        "\n[[endpoint]]\nenvironment = \"prod\"\nservice = \"api\"\nhost = \"{host}\"\n{families}ports = [{port}]\nsource = \"page\"\n"
    )
}

/// `text` (a [`data_file`]) with an `http` check on the endpoint of `host`; `check` is the
/// inline table, e.g. `{ path = "/", expect_status = [200] }`.
pub fn with_http(text: &str, host: &str, check: &str) -> String {
    let line = format!("host = \"{host}\"\n");
    assert!(text.contains(&line), "no endpoint {host} in the data file");
    text.replacen(&line, &format!("{line}http = {check}\n"), 1)
}
