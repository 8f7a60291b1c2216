//! The one finding model every reporter renders, and the verdict and exit code derived from it.
//!
//! A [`Report`] is the whole outcome of a run: the findings policies produced, or the errors that
//! kept tollgate from deciding. Reporters only read it; the exit code comes from
//! [`Report::verdict`], never from an output format.

use crate::diagnostic::SharedSource;
use serde::Serialize;
use std::fmt;

/// How serious a finding is. Ordered: `Note < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Note,
    /// Should be fixed; fails the gate only with `--fail-on warning`.
    Warning,
    /// Must be fixed; fails the gate.
    Error,
}

impl Severity {
    /// Parses a policy-supplied severity (`error`, `warning`/`warn`, `note`/`info`).
    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "error" | "critical" | "high" | "deny" | "failure" => Some(Severity::Error),
            "warning" | "warn" | "medium" => Some(Severity::Warning),
            "note" | "info" | "low" | "notice" => Some(Severity::Note),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lowest severity that fails the gate (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Errors fail the gate (default).
    #[default]
    Error,
    /// Warnings and errors fail the gate.
    Warning,
    /// Nothing a policy says fails the gate (errors that prevent a decision still do).
    Never,
}

impl FailOn {
    fn fails(self, severity: Severity) -> bool {
        match self {
            FailOn::Error => severity >= Severity::Error,
            FailOn::Warning => severity >= Severity::Warning,
            FailOn::Never => false,
        }
    }
}

/// A position in a file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file, as the user named it.
    pub file: String,
    /// Line of the first character.
    pub line: u64,
    /// Column of the first character.
    pub column: u64,
    /// Byte offset into the file (for rendering source snippets).
    #[serde(skip)]
    pub offset: usize,
    /// Byte length of the located text.
    #[serde(skip)]
    pub len: usize,
    /// False when the policy's `path` did not exist and an ancestor was used instead.
    pub exact: bool,
}

impl Location {
    /// A position in `file` at a manifest-tree span; `exact` is false when an ancestor stood in.
    pub fn at(file: &str, span: crate::manifest::tree::Span, exact: bool) -> Location {
        Location {
            file: file.to_owned(),
            line: span.line,
            column: span.column,
            offset: span.offset,
            len: span.len,
            exact,
        }
    }
}

/// One thing a policy found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable rule id (`image-not-pinned`), or `<package>.<rule>` for user rules without one.
    pub rule: String,
    /// How serious.
    pub severity: Severity,
    /// What is wrong, in a sentence.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Whether a waiver may exempt this finding.
    pub waivable: bool,
    /// The route into the manifest the policy gave, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<serde_json::Value>,
    /// Where in the manifest, when `path` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The policy rule that produced it (`data.tollgate.images.deny`).
    pub source: String,
    /// The waiver that exempts it, if one applies: the finding stays visible but does not fail
    /// the gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waived>,
}

/// The waiver applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waived {
    /// The waiver's id.
    pub id: String,
    /// Who is accountable for it.
    pub owner: String,
    /// When it expires, as written.
    pub expires: String,
    /// Why the finding is accepted.
    pub reason: String,
    /// The key-store name of the key that signed it.
    pub signer: String,
}

/// Something that kept tollgate from reaching a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunError {
    /// Stable code (`manifest::unknown-key`, `policy::compile`).
    pub code: String,
    /// What failed.
    pub message: String,
    /// Where, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// The gate's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing at or above `--fail-on`.
    Pass,
    /// At least one finding at or above `--fail-on`.
    Deny,
    /// No decision could be reached (fail closed).
    Error,
}

impl Verdict {
    /// The process exit code: 0 pass, 1 denied, 2 could not decide.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Deny => 1,
            Verdict::Error => 2,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Deny => "deny",
            Verdict::Error => "error",
        }
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Errors.
    pub error: usize,
    /// Warnings.
    pub warning: usize,
    /// Notes.
    pub note: usize,
}

/// The whole outcome of a `check` run, as every reporter sees it.
#[derive(Debug, Clone)]
pub struct Report {
    /// The manifest as the user named it, when known.
    pub manifest_file: Option<String>,
    /// The manifest text, for rendering source snippets.
    pub source: Option<SharedSource>,
    /// Findings, most severe first, then in file order.
    pub findings: Vec<Finding>,
    /// Errors that prevented a decision; non-empty means verdict `error`.
    pub errors: Vec<RunError>,
    /// Diagnostics already fully rendered for people (manifest problems), shown by `human`.
    pub diagnostics: Vec<crate::diagnostic::SourceDiagnostic>,
    /// `--fail-on`.
    pub fail_on: FailOn,
    /// Facts about the run for summaries (images, evidence); `None` when the manifest did not load.
    pub summary: Option<SummaryFacts>,
    /// What the policies say about their own (non-builtin) rule ids, from `# METADATA`, by rule
    /// id: reporters describe user rules with it (SARIF rule descriptors).
    pub rule_descriptors: std::collections::BTreeMap<String, RuleDescriptor>,
}

/// A user policy rule described by its `# METADATA` annotation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDescriptor {
    /// The annotation's `title`.
    pub title: Option<String>,
    /// The annotation's `description`.
    pub description: Option<String>,
    /// The annotation's `custom.help`.
    pub help: Option<String>,
}

/// What a run looked at, for report summaries (never used to decide anything).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SummaryFacts {
    /// `metadata.name` of the manifest.
    pub manifest_name: String,
    /// Whether the builtin library was evaluated (false with `--no-builtin-policies`).
    pub builtin_policies: bool,
    /// Shipped images in manifest order, with what verification found.
    pub images: Vec<ImageSummary>,
    /// Required test reports in manifest order.
    pub tests: Vec<TestSummary>,
    /// Required scan reports in manifest order.
    pub scans: Vec<ScanSummary>,
    /// Required sign-off roles in manifest order.
    pub signoffs: Vec<String>,
}

/// One shipped image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// The manifest name.
    pub name: String,
    /// The reference as written.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The resolved digest, when known.
    pub digest: Option<String>,
    /// A valid signature by an image-signer key was found.
    pub signed: bool,
    /// Key names with a valid signature.
    pub signers: Vec<String>,
}

/// One required test report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestSummary {
    /// The manifest name.
    pub name: String,
    /// The report path as written.
    pub report: String,
    /// The report was read.
    pub found: bool,
    /// Test cases.
    pub total: u64,
    /// Passed.
    pub passed: u64,
    /// Failed or errored.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
}

/// One required scan report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// The manifest name.
    pub name: String,
    /// The report path as written.
    pub report: String,
    /// The report was read.
    pub found: bool,
    /// Critical findings.
    pub critical: u64,
    /// High findings.
    pub high: u64,
    /// Medium findings.
    pub medium: u64,
    /// Low findings.
    pub low: u64,
}

impl Report {
    /// Attaches summary facts.
    pub fn with_summary(mut self, summary: SummaryFacts) -> Report {
        self.summary = Some(summary);
        self
    }

    /// Adds the descriptors of user rules (see [`Report::rule_descriptors`]).
    pub fn with_rule_descriptors(
        mut self,
        descriptors: std::collections::BTreeMap<String, RuleDescriptor>,
    ) -> Report {
        self.rule_descriptors = descriptors;
        self
    }

    /// A report of findings.
    pub fn of_findings(
        manifest_file: String,
        source: SharedSource,
        mut findings: Vec<Finding>,
        fail_on: FailOn,
    ) -> Report {
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| {
                    let key = |f: &Finding| f.location.as_ref().map_or(usize::MAX, |l| l.offset);
                    key(a).cmp(&key(b))
                })
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.message.cmp(&b.message))
        });
        findings.dedup();
        Report {
            manifest_file: Some(manifest_file),
            source: Some(source),
            findings,
            errors: Vec::new(),
            diagnostics: Vec::new(),
            fail_on,
            summary: None,
            rule_descriptors: std::collections::BTreeMap::new(),
        }
    }

    /// A report of a run that could not decide.
    pub fn of_errors(
        manifest_file: Option<String>,
        source: Option<SharedSource>,
        errors: Vec<RunError>,
        diagnostics: Vec<crate::diagnostic::SourceDiagnostic>,
        fail_on: FailOn,
    ) -> Report {
        Report {
            manifest_file,
            source,
            findings: Vec::new(),
            errors,
            diagnostics,
            fail_on,
            summary: None,
            rule_descriptors: std::collections::BTreeMap::new(),
        }
    }

    /// Whether this finding fails the gate under `--fail-on` (a waived finding never does).
    pub fn is_blocking(&self, finding: &Finding) -> bool {
        finding.waived.is_none() && self.fail_on.fails(finding.severity)
    }

    /// Pass, deny or error. Errors always win: tollgate fails closed.
    pub fn verdict(&self) -> Verdict {
        if !self.errors.is_empty() {
            Verdict::Error
        } else if self.findings.iter().any(|f| self.is_blocking(f)) {
            Verdict::Deny
        } else {
            Verdict::Pass
        }
    }

    /// Findings counted by severity.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for f in &self.findings {
            match f.severity {
                Severity::Error => counts.error += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Note => counts.note += 1,
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule: "r".into(),
            severity,
            message: "m".into(),
            help: None,
            waivable: true,
            path: None,
            location: None,
            source: "data.x.deny".into(),
            waived: None,
        }
    }

    fn report(findings: Vec<Finding>, fail_on: FailOn) -> Report {
        Report::of_findings(
            "t.yaml".into(),
            crate::diagnostic::shared_source("t.yaml", ""),
            findings,
            fail_on,
        )
    }

    #[test]
    fn verdict_follows_fail_on() {
        let warn = || vec![finding(Severity::Warning)];
        assert_eq!(report(warn(), FailOn::Error).verdict(), Verdict::Pass);
        assert_eq!(report(warn(), FailOn::Warning).verdict(), Verdict::Deny);
        assert_eq!(
            report(vec![finding(Severity::Error)], FailOn::Never).verdict(),
            Verdict::Pass
        );
        assert_eq!(
            report(vec![finding(Severity::Error)], FailOn::Error).verdict(),
            Verdict::Deny
        );
        assert_eq!(report(vec![], FailOn::Error).verdict().exit_code(), 0);
    }

    #[test]
    fn errors_always_fail_closed() {
        let r = Report::of_errors(
            None,
            None,
            vec![RunError {
                code: "x".into(),
                message: "m".into(),
                location: None,
                help: None,
            }],
            vec![],
            FailOn::Never,
        );
        assert_eq!(r.verdict(), Verdict::Error);
        assert_eq!(r.verdict().exit_code(), 2);
    }

    #[test]
    fn most_severe_first() {
        let r = report(
            vec![finding(Severity::Note), finding(Severity::Error)],
            FailOn::Error,
        );
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert_eq!(
            r.counts(),
            Counts {
                error: 1,
                warning: 0,
                note: 1
            }
        );
    }
}
