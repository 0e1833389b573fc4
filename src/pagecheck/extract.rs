//! Extracting what a provider's page mentions: addresses, prefixes, host names, the table
//! row each sits in, and the page's own date.
//!
//! Pages come as Markdown (the provider's repository), HTML (the rendered site) or plain
//! text, and are untrusted input: the extractor scans characters, never backtracks, and caps
//! what it keeps, so any input ends in linear time without a panic. Host names inside
//! hyperlinks (Markdown link targets, autolinks, `href`) are references to other pages, not
//! endpoints, and are kept apart.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use chrono::NaiveDate;
use ipnet::IpNet;

use crate::catalog::{DnsName, HostPattern};

/// Most mentions kept from one page; a real page has a few dozen.
pub const MAX_MENTIONS: usize = 10_000;

/// One thing the page mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// What it is.
    pub value: Mentioned,
    /// 1-based line of the page.
    pub line: usize,
    /// The environment words of the table row or list item it sits in, as written.
    pub row_label: Option<String>,
}

/// The kinds of things a page can mention.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mentioned {
    /// A single address (written without a prefix length, or as /32, /128).
    Address(IpAddr),
    /// A prefix wider than one address.
    Prefix(IpNet),
    /// A host name or wildcard.
    Host(HostPattern),
}

impl std::fmt::Display for Mentioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mentioned::Address(a) => a.fmt(f),
            Mentioned::Prefix(p) => p.fmt(f),
            Mentioned::Host(h) => h.fmt(f),
        }
    }
}

/// Everything extracted from a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Mentions outside hyperlinks, in page order.
    pub mentions: Vec<Mention>,
    /// Host names found inside hyperlinks (references, not endpoints).
    pub references: Vec<DnsName>,
    /// The date the page states (`last_updated:` or `date:` in front matter, or
    /// "Last updated …").
    pub stated_date: Option<NaiveDate>,
    /// True when more than [`MAX_MENTIONS`] were found and the rest ignored.
    pub truncated: bool,
}

/// File extensions that look like top-level domains in running text (`sikkerhet.md`).
const FILE_EXTENSIONS: &[&str] = &[
    "md", "html", "htm", "png", "jpg", "jpeg", "gif", "svg", "pdf", "txt", "json", "yaml", "yml",
    "toml", "js", "css", "xml", "php", "aspx", "csv", "zip", "mdx",
];

/// Extracts mentions from page text (Markdown, HTML or plain text).
pub fn extract(text: &str) -> Page {
    let mut page = Page::default();
    let html = looks_like_html(text);
    let mut in_front_matter = false;
    let mut html_row = HtmlRow::default();
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let trimmed = raw_line.trim();
        if index == 0 && trimmed == "---" {
            in_front_matter = true;
            continue;
        }
        if in_front_matter {
            if trimmed == "---" {
                in_front_matter = false;
            } else if let Some(date) = front_matter_date(trimmed) {
                page.stated_date = Some(date);
            }
            continue;
        }
        let (plain, links) = split_links(raw_line);
        for link in links {
            if let Some(host) = url_host(&link)
                && !page.references.contains(&host)
            {
                page.references.push(host);
            }
        }
        let (plain, html_label) = strip_tags(&plain, html, &mut html_row);
        let label = html_label.or_else(|| row_label(raw_line, &plain));
        if page.stated_date.is_none() {
            page.stated_date = last_updated_line(&plain);
        }
        for token in tokens(&plain) {
            let Some(value) = classify(token) else {
                continue;
            };
            if page.mentions.len() >= MAX_MENTIONS {
                page.truncated = true;
                return page;
            }
            page.mentions.push(Mention {
                value,
                line: line_no,
                row_label: label.clone(),
            });
        }
    }
    page
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(4096)
        .collect::<String>()
        .to_ascii_lowercase();
    head.contains("<html") || head.contains("<table") || head.contains("<!doctype html")
}

/// `last_updated: Feb 9, 2026`, `date: 2026-02-09`.
fn front_matter_date(line: &str) -> Option<NaiveDate> {
    let (key, value) = line.split_once(':')?;
    matches!(
        key.trim(),
        "last_updated" | "date" | "updated" | "last_modified"
    )
    .then(|| parse_date(value.trim().trim_matches('"')))
    .flatten()
}

/// "Last updated on Feb 9, 2026" as the rendered site shows it (tags already removed).
fn last_updated_line(line: &str) -> Option<NaiveDate> {
    let lower = line.to_ascii_lowercase();
    let at = lower.find("last updated")?;
    let rest = line.get(at + "last updated".len()..)?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .map(|w| w.trim_start_matches(':'))
        .filter(|w| !w.is_empty() && *w != "on")
        .take(3)
        .collect();
    parse_date(&words.join(" ")).or_else(|| parse_date(words.first()?))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    ["%b %d, %Y", "%B %d, %Y", "%Y-%m-%d", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
}

/// Splits hyperlink targets out of a line: Markdown `[text](target)`, autolinks
/// `<scheme://…>`, HTML `href="…"`, and bare `scheme://…` URLs. Returns the line with the
/// targets blanked, and the targets.
fn split_links(line: &str) -> (String, Vec<String>) {
    let mut plain = String::with_capacity(line.len());
    let mut links = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("](") {
            let end = after.find(')').unwrap_or(after.len());
            links.push(after.get(..end).unwrap_or_default().to_owned());
            plain.push_str("] ");
            rest = after.get(end..).unwrap_or_default();
            continue;
        }
        if let Some(after) = strip_prefix_ignore_case(rest, "href=") {
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
            let body = quote.map_or(after, |q| after.get(q.len_utf8()..).unwrap_or_default());
            let end = match quote {
                Some(q) => body.find(q).unwrap_or(body.len()),
                None => body.find([' ', '>']).unwrap_or(body.len()),
            };
            links.push(body.get(..end).unwrap_or_default().to_owned());
            plain.push(' ');
            rest = body.get(end..).unwrap_or_default();
            continue;
        }
        if starts_with_scheme(rest) {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | ')' | '"' | '\'' | '|'))
                .unwrap_or(rest.len());
            links.push(rest.get(..end).unwrap_or_default().to_owned());
            plain.push(' ');
            rest = rest.get(end..).unwrap_or_default();
            continue;
        }
        let mut chars = rest.chars();
        if let Some(ch) = chars.next() {
            plain.push(ch);
        }
        rest = chars.as_str();
    }
    (plain, links)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn starts_with_scheme(text: &str) -> bool {
    ["https://", "http://", "ftp://", "mailto:"]
        .iter()
        .any(|s| strip_prefix_ignore_case(text, s).is_some())
}

/// The host of a URL or a host-like link target.
fn url_host(link: &str) -> Option<DnsName> {
    let after_scheme = link.split_once("://").map_or(link, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    DnsName::parse(host)
        .ok()
        .filter(|name| !has_file_extension(name.as_str()))
}

/// Where the HTML scanner is: inside a `<tr>` (with its label once the first cell closed).
#[derive(Debug, Default)]
struct HtmlRow {
    /// `Some` inside a row; the text of its first non-empty cell once known.
    label: Option<String>,
    /// Text of the cell being read.
    cell: String,
}

/// Removes HTML/JSX tags (`<br />`, `<td>`, `<Summary>`). In HTML pages it also follows
/// `<tr>` rows across lines and returns the label (first cell) of the row the line is in.
fn strip_tags(line: &str, html: bool, row: &mut HtmlRow) -> (String, Option<String>) {
    let mut out = String::with_capacity(line.len());
    let mut line_label = None;
    let mut rest = line;
    loop {
        let (text, tag_and_rest) = match rest.find('<') {
            Some(start) => (rest.get(..start).unwrap_or_default(), rest.get(start + 1..)),
            None => (rest, None),
        };
        out.push_str(text);
        if row.label.is_some() {
            row.cell.push_str(text);
        }
        let Some(after) = tag_and_rest else { break };
        let Some(end) = after.find('>') else {
            out.push('<');
            out.push_str(after);
            break;
        };
        let tag = after
            .get(..end)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if html {
            if tag == "tr" || tag.starts_with("tr ") {
                row.label = Some(String::new());
                row.cell.clear();
            } else if tag == "/td" || tag == "/th" {
                if let Some(label) = row.label.as_mut() {
                    let cell = row.cell.trim();
                    if label.is_empty() && !cell.is_empty() {
                        *label = cell.chars().take(200).collect();
                    }
                }
                row.cell.clear();
            } else if tag == "/tr" {
                line_label = row.label.take().filter(|l| !l.is_empty()).or(line_label);
            }
        }
        if let Some(label) = row.label.as_ref().filter(|l| !l.is_empty()) {
            line_label = Some(label.clone());
        }
        out.push(' ');
        rest = after.get(end + 1..).unwrap_or_default();
    }
    if row.cell.len() > 4096 {
        row.cell.clear();
    }
    (out, line_label)
}

/// The label of the row a Markdown line belongs to: the first cell of a table row, or the
/// lead-in of a list item ("* Prod (…): …").
fn row_label(raw: &str, plain: &str) -> Option<String> {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('|') {
        let first = plain
            .trim_start()
            .trim_start_matches('|')
            .split('|')
            .next()?;
        let cell = first.trim();
        return (!cell.is_empty() && !cell.chars().all(|c| c == '-' || c == ':'))
            .then(|| cell.to_owned());
    }
    let item = trimmed
        .strip_prefix("* ")
        .or_else(|| trimmed.strip_prefix("- "))?;
    let lead = item.split([':', '(']).next()?.trim();
    (!lead.is_empty() && lead.split_whitespace().count() <= 3).then(|| lead.to_owned())
}

/// Splits text into candidate tokens: runs of characters that can appear in an address,
/// prefix or host name.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '*' | '-')))
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '-' | '/')))
        .filter(|t| !t.is_empty() && t.len() <= 300)
}

/// What a token is, if anything worth comparing.
fn classify(token: &str) -> Option<Mentioned> {
    let may_be_address =
        token.contains(':') || token.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if may_be_address && let Some(address) = address_or_prefix(token) {
        return Some(address);
    }
    if !token.contains('.') || token.contains(['/', ':']) {
        return None;
    }
    let pattern = HostPattern::parse(token).ok()?;
    let base = pattern.base().as_str();
    if has_file_extension(base) {
        return None;
    }
    Some(Mentioned::Host(pattern))
}

fn has_file_extension(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .is_some_and(|tld| FILE_EXTENSIONS.contains(&tld) || tld.len() < 2)
}

fn address_or_prefix(token: &str) -> Option<Mentioned> {
    let (addr, len) = match token.split_once('/') {
        Some((addr, len)) => (addr, Some(len.parse::<u8>().ok()?)),
        None => (token, None),
    };
    let ip = Ipv4Addr::from_str(addr)
        .map(IpAddr::V4)
        .or_else(|_| Ipv6Addr::from_str(addr).map(IpAddr::V6))
        .ok()?;
    let net = match len {
        Some(len) => IpNet::new(ip, len).ok()?,
        None => IpNet::from(ip),
    };
    if net.prefix_len() == net.max_prefix_len() {
        Some(Mentioned::Address(ip))
    } else {
        // A page that writes a prefix with host bits set still means the network.
        Some(Mentioned::Prefix(net.trunc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(page: &Page) -> Vec<String> {
        page.mentions.iter().map(|m| m.value.to_string()).collect()
    }

    #[test]
    fn markdown_table_rows_carry_their_label() {
        let text = "| Miljø | Host | IP |\n|---|---|---|\n| Test | *.api.example-test.no | 192.0.2.1/32 <br />198.51.100.0/27 | 2001:db8::/32 |\n";
        let page = extract(text);
        assert_eq!(
            values(&page),
            vec![
                "*.api.example-test.no",
                "192.0.2.1",
                "198.51.100.0/27",
                "2001:db8::/32"
            ]
        );
        assert!(
            page.mentions
                .iter()
                .all(|m| m.row_label.as_deref() == Some("Test"))
        );
    }

    #[test]
    fn links_are_references_and_files_are_not_hosts() {
        let text = "Se [Digdir](https://docs.digdir.no/x) og [delegering](./delegering.md), <https://samarbeid.digdir.no/>.\nBruk \"api.example.no\".";
        let page = extract(text);
        assert_eq!(values(&page), vec!["api.example.no"]);
        let refs: Vec<&str> = page.references.iter().map(|r| r.as_str()).collect();
        assert_eq!(refs, vec!["docs.digdir.no", "samarbeid.digdir.no"]);
    }

    #[test]
    fn front_matter_date_is_the_page_date() {
        let page = extract("---\ntitle: X\nlast_updated: Feb 9, 2026\n---\ntext\n");
        assert_eq!(page.stated_date, NaiveDate::from_ymd_opt(2026, 2, 9));
    }

    #[test]
    fn html_rows_span_lines() {
        let text = "<html><table>\n<tr>\n<td>Prod</td>\n<td>192.0.2.7</td>\n</tr>\n<tr><td>Test</td><td>192.0.2.8</td></tr>\n</table>";
        let page = extract(text);
        assert_eq!(values(&page), vec!["192.0.2.7", "192.0.2.8"]);
        assert_eq!(page.mentions[0].row_label.as_deref(), Some("Prod"));
        assert_eq!(page.mentions[1].row_label.as_deref(), Some("Test"));
    }

    #[test]
    fn garbage_is_bounded_and_quiet() {
        let garbage: String = (0..200_000u32)
            .map(|i| char::from_u32(i % 0x2FF).unwrap_or('x'))
            .collect();
        let page = extract(&garbage);
        assert!(page.mentions.len() <= MAX_MENTIONS);
    }
}
