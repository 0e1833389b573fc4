//! Load errors: every problem with `FILE:LINE:COLUMN`, what was found and what was expected.

use std::fmt;
use std::ops::Range;

/// One problem in a data file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (`-` for standard input, `<bundled>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was found and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a data file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read the data file: {source}")]
    Read {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is larger than any data file needs to be.
    #[error(
        "{file}: the data file is larger than {limit} bytes; a provider table is a few kilobytes, so this is not a data file"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// One or more problems in the content, each located.
    #[error("{}", DisplayList(.0))]
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    /// The located problems, empty for read and size errors.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Invalid(list) => list,
            _ => &[],
        }
    }
}

struct DisplayList<'a>(&'a [Diagnostic]);

impl fmt::Display for DisplayList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Maps byte offsets of one text to lines and columns.
pub(crate) struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Locator { file, text }
    }

    /// A diagnostic at the start of `span`.
    pub(crate) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = line_column(self.text, span.start);
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and character column of byte `offset` (clamped to the text, and to the
/// nearest character boundary before it).
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nø = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // "ø" is two bytes; the space after it is column 2.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }
}
