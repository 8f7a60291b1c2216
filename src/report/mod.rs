//! Reporters: one module per output format, each a pure function of the [`Report`].
//!
//! A reporter renders to bytes and never decides anything: the exit code comes from
//! [`Report::verdict`]. Adding a format is adding a module and a [`Format`] variant.

pub mod human;
pub mod json;

use crate::cli::Format;
use crate::finding::Report;

/// How the human report is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: false,
            width: 100,
        }
    }
}

/// Renders a report in one format.
pub fn render(format: Format, report: &Report, style: Style) -> String {
    match format {
        Format::Human => human::render(report, style),
        Format::Json => json::render(report),
    }
}
