//! What a proxy's 407 asks for: the authentication schemes of its `Proxy-Authenticate`
//! headers (RFC 9110 section 11.7.1), so that the report can say whether credentials in the
//! proxy URL will do (`Basic`) or the proxy speaks only what egresscheck detects but does
//! not speak (`Negotiate`, `NTLM`).

/// Most schemes recorded from one answer.
pub const MAX_SCHEMES: usize = 8;
/// Longest scheme name kept.
const MAX_SCHEME_CHARS: usize = 32;

/// The schemes of every `Proxy-Authenticate` header in `header` (an answer's status line and
/// header fields), in order, each once.
pub(crate) fn schemes(header: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in header.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("proxy-authenticate") {
            continue;
        }
        for challenge in split_outside_quotes(value) {
            // A challenge is `scheme [token68 | auth-param, …]`; a segment whose first word
            // holds `=` is an auth-param of the challenge before it.
            let Some(word) = challenge.split_whitespace().next() else {
                continue;
            };
            let is_token = word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if word.contains('=') || !is_token || word.len() > MAX_SCHEME_CHARS {
                continue;
            }
            if out.len() < MAX_SCHEMES && !out.iter().any(|s| s.eq_ignore_ascii_case(word)) {
                out.push(word.to_owned());
            }
        }
    }
    out
}

/// `value` split at commas that are not inside a quoted string.
fn split_outside_quotes(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value.get(start..).unwrap_or_default());
    parts
}

/// True for a scheme egresscheck speaks (credentials in the proxy URL).
pub fn spoken(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("basic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_read_from_every_challenge() {
        let header = "HTTP/1.1 407 Proxy Authentication Required\r\n\
            Proxy-Authenticate: Negotiate\r\n\
            proxy-authenticate: NTLM\r\n\
            Proxy-Authenticate: Basic realm=\"corp, proxy\", charset=\"UTF-8\"\r\n\
            Via: 1.1 squid\r\n";
        assert_eq!(schemes(header), vec!["Negotiate", "NTLM", "Basic"]);
        assert_eq!(
            schemes("Proxy-Authenticate: Digest realm=\"x\", nonce=\"a,b\", Basic realm=\"y\"\r\n"),
            vec!["Digest", "Basic"]
        );
        assert_eq!(
            schemes("Proxy-Authenticate: NTLM, Negotiate\r\n"),
            vec!["NTLM", "Negotiate"]
        );
        assert!(schemes("Via: x\r\n").is_empty());
        assert!(
            schemes("Proxy-Authenticate: \u{1b}[31m\r\n").is_empty(),
            "no escape sequences"
        );
        let many: String = (0..20)
            .map(|i| format!("Proxy-Authenticate: S{i}\r\n"))
            .collect();
        assert_eq!(schemes(&many).len(), MAX_SCHEMES);
        assert!(spoken("basic") && !spoken("NTLM"));
    }
}
