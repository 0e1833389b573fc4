//! HTTP checks: what an endpoint's `http` table asks the probe to send after TLS, and what
//! the answer must be.
//!
//! An open path with a genuine certificate is not yet an answer from the provider: a proxy
//! with TLS inspection serves its own block page, a gateway answers 403. A data file can
//! therefore ask for one request per endpoint (safe methods only: `GET` or `HEAD`, since the
//! probe must change nothing at the provider) and say what a good answer is. The grammar of
//! a request path lives here, at the bottom of the crate, so that the loader and the probe's
//! request builder accept exactly the same paths.

use std::fmt;

use serde::Serialize;

/// Longest request path accepted: 2,048 characters.
pub const MAX_HTTP_PATH_CHARS: usize = 2048;
/// Longest expected header name or JSON key: 256 characters.
pub const MAX_HTTP_NAME_CHARS: usize = 256;

/// A safe HTTP method a data file may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum HttpMethod {
    /// `GET`.
    #[serde(rename = "GET")]
    Get,
    /// `HEAD` (the answer has no body).
    #[serde(rename = "HEAD")]
    Head,
}

impl HttpMethod {
    /// Parses `GET` or `HEAD` (uppercase, as HTTP writes them).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "GET" => Some(HttpMethod::Get),
            "HEAD" => Some(HttpMethod::Head),
            _ => None,
        }
    }

    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP request per probed address of an endpoint, and what its answer must be.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HttpCheck {
    /// The method (default `GET`).
    pub method: HttpMethod,
    /// The path and query, starting with `/`.
    pub path: String,
    /// Status codes that count as a good answer; empty: any HTTP answer does.
    pub expect_status: Vec<u16>,
    /// A header the answer must carry (lowercase name).
    pub expect_header: Option<String>,
    /// A top-level key the answer's JSON object must hold (the answer must then be JSON).
    pub expect_json_key: Option<String>,
}

impl HttpCheck {
    /// True when `status` is a good answer.
    pub fn status_expected(&self, status: u16) -> bool {
        self.expect_status.is_empty() || self.expect_status.contains(&status)
    }
}

/// Checks a request path: `/`, then only RFC 3986 path and query characters (no fragment,
/// no space, no control or non-ASCII character), at most [`MAX_HTTP_PATH_CHARS`]. Returns
/// what is wrong, in words.
pub fn check_http_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("a path starts with /".to_owned());
    }
    if path.chars().count() > MAX_HTTP_PATH_CHARS {
        return Err(format!(
            "a path has at most {MAX_HTTP_PATH_CHARS} characters"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?%".contains(c);
    match path.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(format!(
            "U+{:04X} has no place in a path; percent-encode it (RFC 3986)",
            u32::from(bad)
        )),
        None => Ok(()),
    }
}

/// Checks a header name: an HTTP token (RFC 9110 `tchar`), lowercased.
pub fn check_header_name(name: &str) -> Result<String, String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.chars().count() > MAX_HTTP_NAME_CHARS || !name.chars().all(tchar) {
        return Err(format!(
            "a header name is 1 to {MAX_HTTP_NAME_CHARS} letters, digits or !#$%&'*+-.^_`|~"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_rfc_3986() {
        assert!(check_http_path("/").is_ok());
        assert!(check_http_path("/.well-known/oauth-authorization-server").is_ok());
        assert!(check_http_path("/a?b=c%20d&e=f").is_ok());
        for bad in ["", "x", "/a b", "/a\nb", "/#x", "/ø", "/\"x\""] {
            assert!(check_http_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_http_path(&format!("/{}", "a".repeat(MAX_HTTP_PATH_CHARS))).is_err());
    }

    #[test]
    fn header_names_are_tokens() {
        assert_eq!(check_header_name("Content-Type").unwrap(), "content-type");
        for bad in ["", "a b", "a:b", "ø"] {
            assert!(check_header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_expected_status_means_any_answer() {
        let mut check = HttpCheck {
            method: HttpMethod::Get,
            path: "/".into(),
            expect_status: vec![],
            expect_header: None,
            expect_json_key: None,
        };
        assert!(check.status_expected(404));
        check.expect_status = vec![200, 204];
        assert!(check.status_expected(204));
        assert!(!check.status_expected(403));
    }
}
