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
///
/// The offsets where lines start are found once, on the first diagnostic, so locating is a
/// binary search: a file with many problems (or many duplicate checks) is not scanned once
/// per problem.
pub(crate) struct Locator<'a> {
    file: &'a str,
    text: &'a str,
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Locator {
            file,
            text,
            line_starts: std::cell::OnceCell::new(),
        }
    }

    /// A diagnostic at the start of `span`.
    pub(crate) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let offset = char_boundary_at_or_before(self.text, span.start);
        // `starts` begins with 0, so at least one start is <= offset.
        let index = starts.partition_point(|&start| start <= offset).max(1) - 1;
        let line_start = starts.get(index).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset)
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        Diagnostic {
            file: self.file.to_owned(),
            line: index + 1,
            column,
            message: message.into(),
        }
    }
}

/// `offset` clamped to the text and moved back to the nearest character boundary.
fn char_boundary_at_or_before(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// 1-based line and character column of byte `offset` (clamped to the text, and to the
/// nearest character boundary before it).
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = char_boundary_at_or_before(text, offset);
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

    #[test]
    fn the_locator_agrees_with_line_column() {
        let text = "a = 1\nø = \"x\"\n\nlast";
        let locator = Locator::new("f.toml", text);
        for offset in 0..=text.len() + 2 {
            let d = locator.at(offset..offset, "m");
            assert_eq!(
                (d.line, d.column),
                line_column(text, offset),
                "offset {offset}"
            );
        }
    }
}
