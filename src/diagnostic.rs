//! One owned miette diagnostic type for everything tollgate shows a person.
//!
//! Manifest problems, policy findings and fatal errors all become a [`SourceDiagnostic`], so the
//! terminal looks the same whatever went wrong. Building one never prints: reporters do.

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity};
use std::fmt;
use std::sync::Arc;

/// A source file shown in diagnostics (shared: many diagnostics point into one file).
pub type SharedSource = Arc<NamedSource<String>>;

/// Makes a [`SharedSource`] from a display name and the file's text.
pub fn shared_source(name: &str, text: &str) -> SharedSource {
    Arc::new(NamedSource::new(name, text.to_owned()).with_language("yaml"))
}

/// An owned, fully described diagnostic.
#[derive(Debug, Clone)]
pub struct SourceDiagnostic {
    /// Stable code, e.g. `manifest::unknown-key` or a rule id.
    pub code: String,
    /// One-line message.
    pub message: String,
    /// How serious it is (decides the colour and the word shown).
    pub severity: Severity,
    /// The file the labels point into.
    pub source: Option<SharedSource>,
    /// Labelled spans into `source`; the first is primary.
    pub labels: Vec<LabeledSpan>,
    /// How to fix it.
    pub help: Option<String>,
    /// Where to read more.
    pub url: Option<String>,
    /// Diagnostics shown under this one (e.g. every manifest problem under "invalid manifest").
    pub related: Vec<SourceDiagnostic>,
}

impl SourceDiagnostic {
    /// A diagnostic with a message and a code, nothing else yet.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        SourceDiagnostic {
            code: code.into(),
            message: message.into(),
            severity: Severity::Error,
            source: None,
            labels: Vec::new(),
            help: None,
            url: None,
            related: Vec::new(),
        }
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Points into a source file.
    pub fn with_source(mut self, source: SharedSource) -> Self {
        self.source = Some(source);
        self
    }

    /// Adds a labelled byte span (`offset`, `len`) into the source.
    pub fn with_label(mut self, text: impl Into<String>, offset: usize, len: usize) -> Self {
        let primary = self.labels.is_empty();
        let label = if primary {
            LabeledSpan::new_primary_with_span(Some(text.into()), (offset, len))
        } else {
            LabeledSpan::new_with_span(Some(text.into()), (offset, len))
        };
        self.labels.push(label);
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the documentation link.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl Diagnostic for SourceDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.url
            .as_ref()
            .map(|u| Box::new(u) as Box<dyn fmt::Display + 'a>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_deref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}
