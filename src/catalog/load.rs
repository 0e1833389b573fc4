//! Reading a data file: bounds first, then TOML, then validation.
//!
//! The bounds are what make "never panics, never hangs" hold for any input: the size is
//! capped before anything is parsed, invalid UTF-8 is located and reported, and the nesting
//! depth of arrays and inline tables is measured by a small scanner before the recursive
//! TOML parser can be driven into a stack overflow.

use std::io::Read;
use std::path::Path;

use super::error::{Diagnostic, LoadError, Locator, line_column};
use super::model::{Catalog, SUPPORTED_SCHEMAS};
use super::raw::{RawFile, SchemaProbe};
use super::validate;

/// Largest data file accepted. Real tables are a few kilobytes; this leaves room for a
/// provider with thousands of endpoints and still bounds memory and parse time.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of arrays and inline tables accepted. The schema needs 2.
pub const MAX_NESTING: usize = 32;

/// The origin name used for the bundled data in messages.
pub const BUNDLED_ORIGIN: &str = "<bundled>/data/skatteetaten.toml";

/// The data file compiled into the binary.
pub const BUNDLED_TOML: &str = include_str!("../../data/skatteetaten.toml");

/// Loads the bundled data file.
pub fn bundled() -> Result<Catalog, LoadError> {
    load_str(BUNDLED_TOML, BUNDLED_ORIGIN)
}

/// Loads a data file from disk.
pub fn load_path(path: &Path) -> Result<Catalog, LoadError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| LoadError::Read {
        file: origin.clone(),
        source,
    })?;
    load_reader(file, &origin)
}

/// Loads a data file from any reader (standard input, a file), reading at most
/// [`MAX_FILE_BYTES`] + 1 bytes.
pub fn load_reader(reader: impl Read, origin: &str) -> Result<Catalog, LoadError> {
    let bytes = read_bounded(reader, origin)?;
    load_bytes(&bytes, origin)
}

/// Reads at most [`MAX_FILE_BYTES`]; more is [`LoadError::TooLarge`].
pub fn read_bounded(reader: impl Read, origin: &str) -> Result<Vec<u8>, LoadError> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX);
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            file: origin.to_owned(),
            source,
        })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Loads a data file from bytes: size and UTF-8 are checked here.
pub fn load_bytes(bytes: &[u8], origin: &str) -> Result<Catalog, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => load_str(text, origin),
        Err(err) => {
            let valid = bytes.get(..err.valid_up_to()).unwrap_or_default();
            let prefix = String::from_utf8_lossy(valid);
            let (line, column) = line_column(&prefix, prefix.len());
            Err(LoadError::Invalid(vec![Diagnostic {
                file: origin.to_owned(),
                line,
                column,
                message: "found bytes that are not UTF-8, expected a UTF-8 TOML text (is this a binary file?)".into(),
            }]))
        }
    }
}

/// Loads a data file from text.
pub fn load_str(text: &str, origin: &str) -> Result<Catalog, LoadError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let locator = Locator::new(origin, text);
    if let Some(offset) = excessive_nesting(text) {
        return Err(LoadError::Invalid(vec![locator.at(
            offset..offset,
            format!(
                "found arrays or inline tables nested more than {MAX_NESTING} deep, expected the flat layout of a data file"
            ),
        )]));
    }
    let schema = check_schema(text, &locator)?;
    let raw: RawFile = toml::from_str(text).map_err(|err| toml_error(&locator, &err))?;
    validate::validate(raw, schema, &locator)
}

fn check_schema(text: &str, locator: &Locator<'_>) -> Result<u32, LoadError> {
    let probe: SchemaProbe = toml::from_str(text).map_err(|err| toml_error(locator, &err))?;
    let supported = SUPPORTED_SCHEMAS
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(schema) = probe.schema else {
        return Err(LoadError::Invalid(vec![locator.at(
            0..0,
            format!(
                "found no `schema` key, expected `schema = N` at the top (supported: {supported})"
            ),
        )]));
    };
    let span = schema.span();
    let found = schema.into_inner();
    let number = found
        .as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| SUPPORTED_SCHEMAS.contains(n));
    number.ok_or_else(|| {
        LoadError::Invalid(vec![locator.at(
            span,
            format!("found schema {}, which this version of egresscheck does not support; supported: {supported}", super::validate::describe(&found)),
        )])
    })
}

fn toml_error(locator: &Locator<'_>, err: &toml::de::Error) -> LoadError {
    let span = err.span().unwrap_or(0..0);
    let message = err.message().trim().replace('\n', " ");
    LoadError::Invalid(vec![locator.at(span, message)])
}

/// Returns the byte offset where arrays and inline tables first nest deeper than
/// [`MAX_NESTING`], skipping strings and comments. Dotted keys and table headers do not
/// recurse in the parser and are not counted.
fn excessive_nesting(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'#' => i = skip_until(bytes, i, b"\n"),
            b'"' if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                i = skip_string(bytes, i + 3, b"\"\"\"", true)
            }
            b'\'' if bytes.get(i..i + 3) == Some(b"'''") => {
                i = skip_string(bytes, i + 3, b"'''", false)
            }
            b'"' => i = skip_string(bytes, i + 1, b"\"", true),
            b'\'' => i = skip_string(bytes, i + 1, b"'", false),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn skip_until(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if bytes.get(i..i + end.len()) == Some(end) {
            return i + end.len();
        }
        i += 1;
    }
    bytes.len()
}

fn skip_string(bytes: &[u8], from: usize, end: &[u8], escapes: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if escapes && bytes.get(i) == Some(&b'\\') {
            i += 2;
            continue;
        }
        if bytes.get(i..i + end.len()) == Some(end) {
            return i + end.len();
        }
        // A single-line string ends at the line's end even if unterminated; the parser
        // reports that, the scanner only must not lose its place.
        if end.len() == 1 && bytes.get(i) == Some(&b'\n') {
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_scanner_ignores_brackets_in_strings_and_comments() {
        let deep_in_string = format!("a = \"{}\"\n# {}\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(excessive_nesting(&deep_in_string), None);
        let deep = format!("a = {}", "[".repeat(MAX_NESTING + 1));
        assert_eq!(excessive_nesting(&deep), Some(4 + MAX_NESTING));
    }
}
