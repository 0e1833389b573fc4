//! Tables sized to the reader's screen, for every table the tool prints.
//!
//! A general-purpose table wraps where the width runs out, which breaks host names and
//! addresses mid-label (`mvamelding.ap` / `i.skatteetate` / `n.no`): the one thing an admin
//! copies out of a report is then unusable. Here each column says how its text may fold
//! ([`Fold`]): names only after a dot, a comma or a space, addresses never, prose at spaces.
//! When even the narrowest layout is wider than the screen, columns are left out in the order
//! their definition states ([`Column::drop_order`]), and the caller can say which
//! ([`Rendered::dropped`]). Nothing is ever cut: a column that cannot fold further makes the
//! table wider than the screen rather than wrong.

use unicode_width::UnicodeWidthStr;

/// How a column's text may be folded onto more lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Prose: at spaces; a word longer than the column is cut where it must be.
    Words,
    /// Host names, URLs, lists of names and codes: only after `.`, `/`, `,` or a space,
    /// never inside a label.
    Names,
    /// Atoms separated by spaces (`192.0.2.0/24 (broad)`): at spaces only, never inside one.
    Spaces,
    /// Addresses and other atoms: never.
    Never,
}

/// The colour of a cell when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Green: fine.
    Good,
    /// Yellow: a warning.
    Warn,
    /// Red: a failure.
    Bad,
}

impl Tone {
    fn ansi(self) -> &'static str {
        match self {
            Tone::Good => "\x1b[32m",
            Tone::Warn => "\x1b[33m",
            Tone::Bad => "\x1b[31m",
        }
    }
}

/// How the table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Boxed, the house style of detail tables (`┌─┬─┐ │ a ┆ b │ ╞═╪═╡ └─┴─┘`).
    Boxed,
    /// Columns two spaces apart under a ruled header: the most rows on a screen.
    Plain,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    header: String,
    fold: Fold,
    drop_order: Option<u8>,
    right: bool,
}

impl Column {
    /// A column of prose.
    pub fn words(header: &str) -> Column {
        Column::new(header, Fold::Words)
    }

    /// A column of names (folded only between labels).
    pub fn names(header: &str) -> Column {
        Column::new(header, Fold::Names)
    }

    /// A column whose values are never folded.
    pub fn atoms(header: &str) -> Column {
        Column::new(header, Fold::Never)
    }

    /// A column of atoms that may fold between them, at spaces.
    pub fn spaced(header: &str) -> Column {
        Column::new(header, Fold::Spaces)
    }

    fn new(header: &str, fold: Fold) -> Column {
        Column {
            header: header.to_owned(),
            fold,
            drop_order: None,
            right: false,
        }
    }

    /// Left out when the screen is too narrow: lower orders go first. Columns without an
    /// order are always shown.
    pub fn drop_order(mut self, order: u8) -> Column {
        self.drop_order = Some(order);
        self
    }

    /// Right-aligned (numbers).
    pub fn right(mut self) -> Column {
        self.right = true;
        self
    }

    /// The header.
    pub fn header(&self) -> &str {
        &self.header
    }
}

/// One cell: text (lines separated by `\n`) and an optional colour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    text: String,
    tone: Option<Tone>,
}

impl Cell {
    /// A cell with `tone` when colour is on.
    pub fn toned(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone: Some(tone),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, tone: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_owned())
    }
}

/// A table to be laid out for a width.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

/// A laid-out table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The lines, without line ends.
    pub lines: Vec<String>,
    /// Headers of the columns left out for lack of width, in the order they went.
    pub dropped: Vec<String>,
}

impl Rendered {
    /// The lines joined, each ending in `\n`.
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// A note naming the columns left out, if any.
    pub fn dropped_note(&self) -> Option<String> {
        if self.dropped.is_empty() {
            return None;
        }
        Some(format!(
            "(columns left out for the width: {}; a wider terminal or COLUMNS=N shows them)",
            self.dropped.join(", ")
        ))
    }
}

impl Grid {
    /// A table with `columns`.
    pub fn new(columns: Vec<Column>) -> Grid {
        Grid {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra ones ignored.
    pub fn row<I, C>(&mut self, cells: I)
    where
        I: IntoIterator<Item = C>,
        C: Into<Cell>,
    {
        let mut row: Vec<Cell> = cells.into_iter().map(Into::into).collect();
        row.resize(self.columns.len(), Cell::default());
        self.rows.push(row);
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Lays the table out in at most `width` columns of text (wider only when a column that
    /// cannot be left out cannot fold any narrower), colouring cells when `colour`.
    pub fn render(&self, width: usize, frame: Frame, colour: bool) -> Rendered {
        let layout = self.layout(width, frame);
        let mut lines = Vec::new();
        let shown: Vec<(usize, usize)> = layout.shown.clone();
        let header: Vec<Cell> = self
            .columns
            .iter()
            .map(|c| Cell::from(c.header.as_str()))
            .collect();
        let draw = Drawer {
            grid: self,
            shown: &shown,
            colour,
        };
        match frame {
            Frame::Boxed => {
                lines.push(draw.rule('┌', '─', '┬', '┐'));
                draw.row(&header, Fold::Words, frame, &mut lines);
                lines.push(draw.rule('╞', '═', '╪', '╡'));
                for row in &self.rows {
                    draw.row(row, Fold::Never, frame, &mut lines);
                }
                lines.push(draw.rule('└', '─', '┴', '┘'));
            }
            Frame::Plain => {
                draw.row(&header, Fold::Words, frame, &mut lines);
                lines.push(
                    shown
                        .iter()
                        .map(|(_, w)| "─".repeat(*w))
                        .collect::<Vec<_>>()
                        .join("  "),
                );
                for row in &self.rows {
                    draw.row(row, Fold::Never, frame, &mut lines);
                }
            }
        }
        Rendered {
            lines,
            dropped: layout.dropped,
        }
    }

    /// Which columns are shown, each with its width.
    fn layout(&self, width: usize, frame: Frame) -> Layout {
        let natural: Vec<usize> = (0..self.columns.len())
            .map(|c| self.measure(c, false))
            .collect();
        let minimum: Vec<usize> = (0..self.columns.len())
            .map(|c| self.measure(c, true))
            .collect();
        let mut visible: Vec<usize> = (0..self.columns.len()).collect();
        let mut dropped = Vec::new();
        let needed = |visible: &[usize], widths: &[usize]| {
            visible.iter().filter_map(|&c| widths.get(c)).sum::<usize>()
                + overhead(frame, visible.len())
        };
        let mut order: Vec<(u8, usize)> = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.drop_order.map(|o| (o, i)))
            .collect();
        order.sort_unstable();
        let mut order = order.into_iter();
        while needed(&visible, &minimum) > width {
            let Some((_, gone)) = order.next() else { break };
            visible.retain(|&c| c != gone);
            if let Some(column) = self.columns.get(gone) {
                dropped.push(column.header.clone());
            }
        }
        let pick = |widths: &[usize]| -> Vec<(usize, usize)> {
            visible
                .iter()
                .map(|&c| (c, widths.get(c).copied().unwrap_or(1)))
                .collect()
        };
        if needed(&visible, &natural) <= width {
            return Layout {
                shown: pick(&natural),
                dropped,
            };
        }
        let widths = self.share_out(
            &visible,
            &minimum,
            &natural,
            width - overhead(frame, visible.len()),
        );
        Layout {
            shown: pick(&widths),
            dropped,
        }
    }

    /// Widths for the columns `visible` that add up to at most `room`, between their
    /// narrowest (`minimum`, which fits) and their `natural` widths, so that the rows take as
    /// few lines as possible.
    ///
    /// It starts from the natural widths (every row on one line) and narrows columns until
    /// the table fits: each step narrows the column (by as much as the step chooses) that
    /// adds fewest lines per column given back; on a tie, prose before atoms before names
    /// (a folded name is the hardest to read).
    fn share_out(
        &self,
        visible: &[usize],
        minimum: &[usize],
        natural: &[usize],
        room: usize,
    ) -> Vec<usize> {
        // Folding prose is cheapest, a name dearest.
        let rank = |c: usize| match self.columns.get(c).map(|col| col.fold) {
            Some(Fold::Names | Fold::Never) | None => 2,
            Some(Fold::Spaces) => 1,
            Some(Fold::Words) => 0,
        };
        let least = |c: usize| minimum.get(c).copied().unwrap_or(1);
        let most = |c: usize| natural.get(c).copied().unwrap_or(1).max(least(c));
        // Lines per row of each visible column at each width from its least to its most.
        let folds: Vec<Vec<Vec<usize>>> = visible
            .iter()
            .map(|&c| {
                let fold = self.columns.get(c).map_or(Fold::Words, |col| col.fold);
                (least(c)..=most(c))
                    .map(|w| {
                        self.rows
                            .iter()
                            .map(|row| {
                                row.get(c)
                                    .map_or(1, |cell| fold_text(&cell.text, w, fold).len())
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let lines = |widths: &[usize]| -> usize {
            (0..self.rows.len())
                .map(|r| {
                    visible
                        .iter()
                        .enumerate()
                        .map(|(i, &c)| {
                            let w = widths.get(c).copied().unwrap_or(1);
                            folds
                                .get(i)
                                .and_then(|by_width| by_width.get(w.saturating_sub(least(c))))
                                .and_then(|rows| rows.get(r))
                                .copied()
                                .unwrap_or(1)
                        })
                        .max()
                        .unwrap_or(1)
                })
                .sum()
        };
        // A name folded between its labels reads worse than a longer table: each folded name
        // counts as a line added, even where its row is already taller for another column.
        let cost = |widths: &[usize]| -> usize {
            let folded_names: usize = visible
                .iter()
                .enumerate()
                .filter(|&(_, &c)| {
                    matches!(self.columns.get(c).map(|col| col.fold), Some(Fold::Names))
                })
                .map(|(i, &c)| {
                    let w = widths.get(c).copied().unwrap_or(1);
                    folds
                        .get(i)
                        .and_then(|by_width| by_width.get(w.saturating_sub(least(c))))
                        .map_or(0, |rows| rows.iter().filter(|&&n| n > 1).count())
                })
                .sum();
            lines(widths) + folded_names
        };
        let mut widths: Vec<usize> = (0..minimum.len().max(natural.len()))
            .map(|c| {
                if visible.contains(&c) {
                    most(c)
                } else {
                    least(c)
                }
            })
            .collect();
        let total = |widths: &[usize]| {
            visible
                .iter()
                .map(|&c| widths.get(c).copied().unwrap_or(0))
                .sum::<usize>()
        };
        let mut height = cost(&widths);
        while total(&widths) > room {
            let excess = total(&widths) - room;
            // (added lines, columns given back, rank) of the best narrowing so far.
            let mut best: Option<(usize, usize, usize, usize, usize)> = None; // (added, saved, rank, column, width)
            for &c in visible {
                let now = widths.get(c).copied().unwrap_or(1);
                for w in (least(c)..now).rev() {
                    let saved = now - w;
                    let mut trial = widths.clone();
                    if let Some(slot) = trial.get_mut(c) {
                        *slot = w;
                    }
                    let added = cost(&trial).saturating_sub(height);
                    // Fewer lines per column given back; no more given back than needed
                    // counts as much as needed.
                    let useful = saved.min(excess);
                    let candidate = (added, useful, rank(c), c, w);
                    let wins = best.is_none_or(|(b_added, b_useful, b_rank, _, _)| {
                        added * b_useful < b_added * useful
                            || (added * b_useful == b_added * useful
                                && (rank(c), std::cmp::Reverse(useful))
                                    < (b_rank, std::cmp::Reverse(b_useful)))
                    });
                    if wins {
                        best = Some(candidate);
                    }
                    if saved >= excess {
                        break;
                    }
                }
            }
            let Some((_, _, _, c, w)) = best else { break };
            if let Some(slot) = widths.get_mut(c) {
                *slot = w;
            }
            height = cost(&widths);
        }
        widths
    }

    /// The width column `c` needs: at its natural width (every line whole), or at its
    /// narrowest (folded as far as it allows; the header folds at spaces).
    fn measure(&self, column: usize, narrowest: bool) -> usize {
        let header = self.columns.get(column).map_or(0, |c| {
            if narrowest {
                c.header.split(' ').map(text_width).max().unwrap_or(0)
            } else {
                text_width(&c.header)
            }
        });
        self.rows
            .iter()
            .filter_map(|row| row.get(column))
            .flat_map(|cell| cell.text.lines())
            .map(|line| {
                if narrowest {
                    self.narrowest(column, line)
                } else {
                    text_width(line)
                }
            })
            .max()
            .unwrap_or(0)
            .max(header)
            .max(1)
    }

    /// The narrowest a line of column `c` can be folded to.
    fn narrowest(&self, column: usize, text: &str) -> usize {
        match self.columns.get(column).map(|c| c.fold) {
            Some(fold @ (Fold::Names | Fold::Spaces)) => pieces(text, fold)
                .iter()
                .map(|p| text_width(p.trim_end()))
                .max()
                .unwrap_or(0),
            // Prose folds at spaces, and a long word is cut; give words up to 12 columns.
            Some(Fold::Words) => pieces(text, Fold::Words)
                .iter()
                .map(|p| text_width(p.trim_end()).min(12))
                .max()
                .unwrap_or(0),
            Some(Fold::Never) | None => text_width(text),
        }
    }
}

struct Layout {
    /// (column index, width) of the columns shown, in order.
    shown: Vec<(usize, usize)>,
    dropped: Vec<String>,
}

/// Columns of text a frame adds to the cells' widths.
fn overhead(frame: Frame, columns: usize) -> usize {
    match frame {
        Frame::Boxed => 1 + 3 * columns,
        Frame::Plain => 2 * columns.saturating_sub(1),
    }
}

struct Drawer<'a> {
    grid: &'a Grid,
    shown: &'a [(usize, usize)],
    colour: bool,
}

impl Drawer<'_> {
    fn rule(&self, left: char, fill: char, join: char, right: char) -> String {
        let parts: Vec<String> = self
            .shown
            .iter()
            .map(|(_, w)| fill.to_string().repeat(w + 2))
            .collect();
        format!("{left}{}{right}", parts.join(&join.to_string()))
    }

    /// Appends the lines of one row; `header_fold` is how header cells fold (they are prose).
    fn row(&self, cells: &[Cell], header_fold: Fold, frame: Frame, lines: &mut Vec<String>) {
        let is_header = header_fold == Fold::Words;
        let folded: Vec<Vec<String>> = self
            .shown
            .iter()
            .map(|&(c, w)| {
                let fold = if is_header {
                    Fold::Words
                } else {
                    self.grid.columns.get(c).map_or(Fold::Words, |col| col.fold)
                };
                cells
                    .get(c)
                    .map(|cell| fold_text(&cell.text, w, fold))
                    .unwrap_or_default()
            })
            .collect();
        let height = folded.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for line in 0..height {
            let parts: Vec<String> = self
                .shown
                .iter()
                .zip(&folded)
                .map(|(&(c, w), lines)| {
                    let text = lines.get(line).map(String::as_str).unwrap_or("");
                    let right = !is_header && self.grid.columns.get(c).is_some_and(|col| col.right);
                    let padded = pad(text, w, right);
                    match cells.get(c).and_then(|cell| cell.tone) {
                        Some(tone) if self.colour && !is_header && !text.is_empty() => {
                            format!("{}{padded}\x1b[0m", tone.ansi())
                        }
                        _ => padded,
                    }
                })
                .collect();
            let text = match frame {
                Frame::Boxed => format!("│ {} │", parts.join(" ┆ ")),
                Frame::Plain => parts.join("  ").trim_end().to_owned(),
            };
            lines.push(text);
        }
    }
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text_width(text)));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// Display width of `text` in terminal columns.
pub fn text_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The pieces of a line after which it may break: each ends in its break character.
fn pieces(text: &str, fold: Fold) -> Vec<&str> {
    let breaks: &[char] = match fold {
        Fold::Names => &['.', '/', ',', ' '],
        Fold::Words | Fold::Spaces => &[' '],
        Fold::Never => &[],
    };
    let mut out = Vec::new();
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        if breaks.contains(&ch) {
            let end = i + ch.len_utf8();
            if let Some(piece) = text.get(start..end) {
                out.push(piece);
            }
            start = end;
        }
    }
    if let Some(rest) = text.get(start..)
        && !rest.is_empty()
    {
        out.push(rest);
    }
    out
}

/// `text` (lines separated by `\n`) folded into lines of at most `width` columns, as `fold`
/// allows.
pub fn fold_text(text: &str, width: usize, fold: Fold) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if fold == Fold::Never || text_width(line) <= width {
            out.push(line.to_owned());
            continue;
        }
        let mut current = String::new();
        for piece in pieces(line, fold) {
            let candidate = format!("{current}{piece}");
            if text_width(candidate.trim_end()) <= width || current.is_empty() {
                current = candidate;
            } else {
                out.push(current.trim_end().to_owned());
                current = piece.to_owned();
            }
            // Prose only: a word longer than the column is cut.
            while fold == Fold::Words && text_width(current.trim_end()) > width {
                let (head, tail) = split_at_width(&current, width.max(1));
                out.push(head);
                current = tail;
            }
        }
        if !current.trim_end().is_empty() || out.is_empty() {
            out.push(current.trim_end().to_owned());
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

fn split_at_width(text: &str, width: usize) -> (String, String) {
    let mut head = String::new();
    for (i, ch) in text.char_indices() {
        let next = format!("{head}{ch}");
        if text_width(&next) > width {
            return (head, text.get(i..).unwrap_or_default().to_owned());
        }
        head = next;
    }
    (head, String::new())
}

/// Prose wrapped to `width` after `indent` (the first line) and `hang` (the rest), folding
/// only at spaces, so that names, addresses and file names in it stay whole (a longer one
/// makes its line longer).
pub fn wrap(text: &str, width: usize, indent: &str, hang: &str) -> Vec<String> {
    let room = width
        .saturating_sub(text_width(indent).max(text_width(hang)))
        .max(20);
    let mut out = Vec::new();
    for (i, line) in fold_text(text, room, Fold::Spaces).into_iter().enumerate() {
        let lead = if i == 0 { indent } else { hang };
        out.push(format!("{lead}{line}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut grid = Grid::new(vec![
            Column::names("host"),
            Column::atoms("address"),
            Column::atoms("port").right().drop_order(2),
            Column::words("DNS").drop_order(1),
            Column::words("result"),
        ]);
        grid.row([
            "arbeidsgiveravgift.api.skatteetaten-test.no",
            "2a13:6201::abcd:1234",
            "443",
            "answer, TTL 300",
            "fail",
        ]);
        grid.row(["maskinporten.no", "139.105.36.164", "443", "answer", "ok"]);
        grid
    }

    #[test]
    fn wide_screens_get_one_line_per_row() {
        let out = grid().render(160, Frame::Boxed, false);
        assert_eq!(out.lines.len(), 6, "{}", out.text());
        assert!(out.dropped.is_empty());
        assert!(out.lines.iter().all(|l| text_width(l) <= 160));
        assert!(out.lines[1].starts_with("│ host "), "{}", out.text());
    }

    #[test]
    fn names_fold_only_between_labels_and_addresses_never() {
        // Boxed, the narrowest layout (host folded to its longest label, address, result)
        // is 55 columns wide; plain, 49.
        for width in [20, 40, 50, 55, 60, 70, 80, 90] {
            for (frame, narrowest) in [(Frame::Boxed, 55), (Frame::Plain, 49)] {
                let out = grid().render(width, frame, false);
                let text = out.text();
                // Every label of the long name is whole on some line.
                for label in ["arbeidsgiveravgift.", "api.", "skatteetaten-test.", "no"] {
                    assert!(text.contains(label), "{width}: {label} broken\n{text}");
                }
                assert!(text.contains("2a13:6201::abcd:1234"), "{width}\n{text}");
                assert!(text.contains("139.105.36.164"), "{width}\n{text}");
                for line in &out.lines {
                    assert!(
                        text_width(line) <= width.max(narrowest),
                        "{width}: {line:?} is {} wide\n{text}",
                        text_width(line)
                    );
                }
            }
        }
    }

    #[test]
    fn columns_go_in_their_stated_order_and_are_named() {
        let out = grid().render(120, Frame::Boxed, false);
        assert!(out.dropped.is_empty(), "{}", out.text());
        let out = grid().render(70, Frame::Boxed, false);
        assert_eq!(out.dropped, vec!["DNS"], "{}", out.text());
        let out = grid().render(60, Frame::Boxed, false);
        assert_eq!(out.dropped, vec!["DNS", "port"], "{}", out.text());
        assert!(out.dropped_note().unwrap().contains("DNS, port"));
        // Too narrow for what cannot go: wider than asked, never broken.
        let out = grid().render(10, Frame::Plain, false);
        assert!(out.text().contains("skatteetaten-test."), "{}", out.text());
    }

    #[test]
    fn colour_only_when_asked_and_alignment_survives_it() {
        let mut grid = Grid::new(vec![Column::atoms("a"), Column::atoms("b")]);
        grid.row([Cell::toned("fail", Tone::Bad), Cell::from("x")]);
        let plain = grid.render(80, Frame::Plain, false);
        assert!(!plain.text().contains('\x1b'));
        let coloured = grid.render(80, Frame::Plain, true);
        assert!(
            coloured.text().contains("\x1b[31mfail"),
            "{}",
            coloured.text()
        );
        assert_eq!(
            coloured.lines[2]
                .replace("\x1b[31m", "")
                .replace("\x1b[0m", ""),
            plain.lines[2]
        );
    }

    #[test]
    fn prose_wraps_at_spaces_with_a_hanging_indent() {
        let lines = wrap(
            "TLS is intercepted by CN=Corporate Inspection CA on 28 of 30 targets: have the provider's hosts excluded",
            40,
            "  1. ",
            "     ",
        );
        assert!(lines.iter().all(|l| text_width(l) <= 40), "{lines:?}");
        assert!(lines[0].starts_with("  1. TLS"));
        assert!(lines[1].starts_with("     "));
    }
}
