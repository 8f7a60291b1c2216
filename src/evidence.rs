//! Test and scan evidence: reading JUnit XML and SARIF reports into `input.evidence`.
//!
//! This module owns everything tollgate knows about report files: where they are (relative to the
//! manifest's folder), how big they may be, how they are parsed and how they are summarised into
//! the [`TestEvidence`] and [`ScanEvidence`] objects the policies read. It never panics on a bad
//! report and never turns one into a silent pass: a missing, unreadable, oversized or malformed
//! report gives `found: false` and an `error` that names the report as written in the manifest.
//!
//! # JUnit XML
//!
//! The root element must be `<testsuites>` or `<testsuite>` (namespaces are ignored). Every
//! `<testcase>` anywhere below it is counted, whatever the `tests=` / `failures=` attributes say
//! (they are often wrong or missing, and nested suites would double-count them). A test case is
//! *failed* if it has a `<failure>` child, else *errors* if it has an `<error>` child, else
//! *skipped* if it has a `<skipped>` child, else *passed*. Surefire's `<flakyFailure>`,
//! `<flakyError>` and `<rerunFailure>` are not `<failure>`: a test that passed on a rerun passed.
//! `total = passed + failed + errors + skipped`. `failures` lists the first
//! [`MAX_LISTED`] failed or errored cases in document order, with the `message` attribute of
//! the `<failure>`/`<error>` element or, when it is missing or empty, its text, cut to
//! [`MAX_MESSAGE_CHARS`] characters. Documents with a DTD are refused outright (roxmltree's
//! default), which also shuts out entity-expansion bombs.
//!
//! # SARIF
//!
//! Only SARIF `version` `"2.1.0"` is accepted. Every result of every run is considered, except
//! results whose `kind` is `pass`, `notApplicable` or `informational` (not findings), results
//! with `baselineState` `absent` (they are gone), and suppressed results (a `suppressions` entry
//! whose `status` is `accepted` or absent). A run whose `results` is missing or `null` is an
//! error: SARIF uses that to say the tool did not complete, and an empty scan must not pass.
//!
//! The severity of a result is decided as GitHub code scanning does:
//!
//! | source (first that applies)                                           | value            | severity   |
//! |-----------------------------------------------------------------------|------------------|------------|
//! | `properties["security-severity"]` of the result, else of its rule     | `>= 9.0`         | `critical` |
//! |                                                                       | `>= 7.0`         | `high`     |
//! |                                                                       | `>= 4.0`         | `medium`   |
//! |                                                                       | `> 0.0`          | `low`      |
//! |                                                                       | `0.0`            | `none`     |
//! | `level` of the result, else the rule's `defaultConfiguration.level`, else `"warning"` | `error` | `high` |
//! |                                                                       | `warning`        | `medium`   |
//! |                                                                       | `note`           | `low`      |
//! |                                                                       | `none`           | `none`     |
//!
//! `security-severity` may be a numeric string (the SARIF convention) or a number; anything
//! else (negative, not a number) is ignored and the level decides. An unknown `level` counts as
//! `warning`. The rule of a result is found through `rule.toolComponent` + `rule.index` (an
//! extension's rules), else `ruleIndex`/`rule.index` into `tool.driver.rules`, else by matching
//! `ruleId`/`rule.id` against the ids of `tool.driver.rules` and then `tool.extensions[].rules`.
//! `findings` lists at most [`MAX_LISTED`] results, most severe first (document order within a
//! severity).

use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest report tollgate reads; larger files are refused rather than exhausting memory.
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// How many failures (JUnit) or findings (SARIF) are listed per report.
pub const MAX_LISTED: usize = 20;

/// The deepest element nesting accepted in a JUnit report. roxmltree parses recursively and
/// overflows the stack somewhere past a few hundred levels; real reports nest a handful deep.
pub const MAX_XML_DEPTH: usize = 128;

/// Failure messages are cut to this many characters (stack traces can be megabytes).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// A report the manifest asks for: its name and its path as written in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement<'a> {
    /// The key under `input.evidence.tests` / `input.evidence.scans`.
    pub name: &'a str,
    /// The report's path as written in the manifest (relative to the manifest's folder, or absolute).
    pub report: &'a str,
}

/// `input.evidence`: every required test and scan report, by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Evidence {
    /// Test reports (JUnit XML), by name.
    pub tests: BTreeMap<String, TestEvidence>,
    /// Scan reports (SARIF), by name.
    pub scans: BTreeMap<String, ScanEvidence>,
}

/// What one JUnit report says (`input.evidence.tests.<name>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestEvidence {
    /// The report was read and understood; when `false`, all counts are zero and `error` says why.
    pub found: bool,
    /// The report's path as written in the manifest.
    pub report: String,
    /// Number of test cases (`passed + failed + errors + skipped`).
    pub total: u64,
    /// Test cases without failure, error or skip.
    pub passed: u64,
    /// Test cases with a `<failure>`.
    pub failed: u64,
    /// Test cases with an `<error>` (and no `<failure>`).
    pub errors: u64,
    /// Test cases with a `<skipped>` (and no failure or error).
    pub skipped: u64,
    /// The first [`MAX_LISTED`] failed or errored test cases.
    pub failures: Vec<TestFailure>,
    /// Why the report could not be used; present only when `found` is `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A failed or errored test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestFailure {
    /// The `name` attribute of the `<testcase>` (empty when missing).
    pub name: String,
    /// The `classname` attribute of the `<testcase>` (empty when missing).
    pub classname: String,
    /// The failure's `message` attribute, else its text, cut to [`MAX_MESSAGE_CHARS`] characters.
    pub message: String,
}

/// What one SARIF report says (`input.evidence.scans.<name>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanEvidence {
    /// The report was read and understood; when `false`, all counts are zero and `error` says why.
    pub found: bool,
    /// The report's path as written in the manifest.
    pub report: String,
    /// Number of counted findings (the sum of `counts`).
    pub total: u64,
    /// Findings per severity.
    pub counts: SeverityCounts,
    /// The [`MAX_LISTED`] most severe findings.
    pub findings: Vec<ScanFinding>,
    /// Why the report could not be used; present only when `found` is `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Number of findings per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SeverityCounts {
    /// `security-severity >= 9.0`.
    pub critical: u64,
    /// `security-severity >= 7.0`, or level `error`.
    pub high: u64,
    /// `security-severity >= 4.0`, or level `warning`.
    pub medium: u64,
    /// `security-severity > 0.0`, or level `note`.
    pub low: u64,
    /// `security-severity` 0.0, or level `none`.
    pub none: u64,
}

impl SeverityCounts {
    fn add(&mut self, severity: Severity) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::None => &mut self.none,
        };
        *slot += 1;
    }

    /// The sum of all severities.
    pub fn total(&self) -> u64 {
        self.critical + self.high + self.medium + self.low + self.none
    }
}

/// The severity of a finding, most severe first (so sorting ascending puts critical first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `security-severity >= 9.0`.
    Critical,
    /// `security-severity >= 7.0`, or level `error`.
    High,
    /// `security-severity >= 4.0`, or level `warning`.
    Medium,
    /// `security-severity > 0.0`, or level `note`.
    Low,
    /// `security-severity` 0.0, or level `none`.
    None,
}

impl Severity {
    /// The lowercase name used in the input document.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::None => "none",
        }
    }

    /// Maps a CVSS-like `security-severity` score as GitHub does; `None` for negative or NaN.
    pub fn from_score(score: f64) -> Option<Severity> {
        // NaN fails every comparison, so it falls through to `None` like a negative score.
        if score >= 9.0 {
            Some(Severity::Critical)
        } else if score >= 7.0 {
            Some(Severity::High)
        } else if score >= 4.0 {
            Some(Severity::Medium)
        } else if score > 0.0 {
            Some(Severity::Low)
        } else if score == 0.0 {
            Some(Severity::None)
        } else {
            None
        }
    }

    /// Maps a SARIF `level`; unknown levels count as `warning` (SARIF's default level).
    pub fn from_level(level: &str) -> Severity {
        match level {
            "error" => Severity::High,
            "note" => Severity::Low,
            "none" => Severity::None,
            _ => Severity::Medium,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SARIF result, as listed in `findings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanFinding {
    /// `ruleId` (else `rule.id`, else the resolved rule's `id`; empty when none is known).
    pub rule_id: String,
    /// The mapped severity.
    pub severity: Severity,
    /// `message.text` (else `message.markdown`, else the rule's `shortDescription.text`), cut to
    /// [`MAX_MESSAGE_CHARS`] characters.
    pub message: String,
    /// The first location's `physicalLocation.artifactLocation.uri`.
    pub uri: Option<String>,
    /// The first location's `physicalLocation.region.startLine`.
    pub line: Option<u64>,
}

/// The counts of a JUnit report, independent of where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JunitSummary {
    /// Number of test cases.
    pub total: u64,
    /// Passed test cases.
    pub passed: u64,
    /// Failed test cases.
    pub failed: u64,
    /// Errored test cases.
    pub errors: u64,
    /// Skipped test cases.
    pub skipped: u64,
    /// The first [`MAX_LISTED`] failed or errored test cases.
    pub failures: Vec<TestFailure>,
}

/// The counts of a SARIF report, independent of where it came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SarifSummary {
    /// Number of counted findings.
    pub total: u64,
    /// Findings per severity.
    pub counts: SeverityCounts,
    /// The [`MAX_LISTED`] most severe findings.
    pub findings: Vec<ScanFinding>,
}

/// Why a report could not be used. The `Display` text does not name the report: callers
/// prefix it with the path as written in the manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The file does not exist.
    #[error("not found (looked for {})", resolved.display())]
    NotFound {
        /// The absolute path that was looked at.
        resolved: PathBuf,
    },
    /// The path exists but is a directory or another non-file.
    #[error("not a file (looked at {})", resolved.display())]
    NotAFile {
        /// The absolute path that was looked at.
        resolved: PathBuf,
    },
    /// The file could not be read.
    #[error("could not be read ({}): {source}", resolved.display())]
    Unreadable {
        /// The absolute path that was looked at.
        resolved: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_REPORT_BYTES`].
    #[error("too large: {size} bytes, the limit is {} MiB", MAX_REPORT_BYTES / (1024 * 1024))]
    TooLarge {
        /// The size seen (at least the limit plus one when the file grew while being read).
        size: u64,
    },
    /// The file is empty or only whitespace.
    #[error("the report is empty")]
    Empty,
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text (invalid byte at offset {offset}); reports must be UTF-8")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// XML syntax error.
    #[error("not valid XML at line {line}, column {column}: {message}")]
    InvalidXml {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The parser's description.
        message: String,
    },
    /// XML that cannot be positioned (truncated document, DTD, limits).
    #[error("not valid XML: {message}")]
    InvalidXmlDocument {
        /// What is wrong.
        message: String,
    },
    /// Well-formed XML with another root element.
    #[error("not a JUnit report: root element is <{root}>, expected <testsuites> or <testsuite>")]
    NotJunit {
        /// The root element's local name.
        root: String,
    },
    /// JSON syntax error.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// Valid JSON that is not a SARIF log.
    #[error("not a SARIF log: {reason}")]
    NotSarif {
        /// What is missing or wrong.
        reason: String,
    },
    /// A SARIF log of another version.
    #[error("SARIF version {version} is not supported, expected 2.1.0")]
    UnsupportedSarifVersion {
        /// The `version` found.
        version: String,
    },
    /// A SARIF run without results: the tool did not complete.
    #[error(
        "runs[{run}] has no \"results\" array (SARIF's way of saying the tool did not complete)"
    )]
    MissingResults {
        /// Index of the run.
        run: usize,
    },
}

impl TestEvidence {
    /// Evidence for a report that could not be used.
    fn missing(report: &str, error: &EvidenceError) -> TestEvidence {
        TestEvidence {
            found: false,
            report: report.to_owned(),
            total: 0,
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 0,
            failures: Vec::new(),
            error: Some(format!("{report}: {error}")),
        }
    }
}

impl ScanEvidence {
    /// Evidence for a report that could not be used.
    fn missing(report: &str, error: &EvidenceError) -> ScanEvidence {
        ScanEvidence {
            found: false,
            report: report.to_owned(),
            total: 0,
            counts: SeverityCounts::default(),
            findings: Vec::new(),
            error: Some(format!("{report}: {error}")),
        }
    }
}

/// Reads every required report. `base_dir` is the manifest's folder: relative report paths are
/// resolved against it, absolute ones are used as they are.
pub fn gather(base_dir: &Path, tests: &[Requirement<'_>], scans: &[Requirement<'_>]) -> Evidence {
    let tests = tests
        .iter()
        .map(|req| {
            let path = base_dir.join(req.report);
            (req.name.to_owned(), read_junit(&path, req.report))
        })
        .collect();
    let scans = scans
        .iter()
        .map(|req| {
            let path = base_dir.join(req.report);
            (req.name.to_owned(), read_sarif(&path, req.report))
        })
        .collect();
    Evidence { tests, scans }
}

/// Reads and summarises one JUnit report. `report` is the path as written in the manifest,
/// used in the result and in error messages.
pub fn read_junit(path: &Path, report: &str) -> TestEvidence {
    match read_report(path).and_then(|text| summarize_junit(&text)) {
        Ok(summary) => TestEvidence {
            found: true,
            report: report.to_owned(),
            total: summary.total,
            passed: summary.passed,
            failed: summary.failed,
            errors: summary.errors,
            skipped: summary.skipped,
            failures: summary.failures,
            error: None,
        },
        Err(err) => TestEvidence::missing(report, &err),
    }
}

/// Reads and summarises one SARIF report. `report` is the path as written in the manifest,
/// used in the result and in error messages.
pub fn read_sarif(path: &Path, report: &str) -> ScanEvidence {
    match read_report(path).and_then(|text| summarize_sarif(&text)) {
        Ok(summary) => ScanEvidence {
            found: true,
            report: report.to_owned(),
            total: summary.total,
            counts: summary.counts,
            findings: summary.findings,
            error: None,
        },
        Err(err) => ScanEvidence::missing(report, &err),
    }
}

/// Reads a report as UTF-8 text, refusing anything larger than [`MAX_REPORT_BYTES`].
fn read_report(path: &Path) -> Result<String, EvidenceError> {
    // Messages show the path as resolved against the manifest's folder, relative to the working
    // directory when the manifest was given relatively: unambiguous in a CI log, and the same on
    // every machine (an absolute path would differ between checkouts).
    let resolved = || path.to_path_buf();
    let io_error = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => EvidenceError::NotFound {
            resolved: resolved(),
        },
        _ => EvidenceError::Unreadable {
            resolved: resolved(),
            source,
        },
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        return Err(EvidenceError::NotAFile {
            resolved: resolved(),
        });
    }
    if meta.len() > MAX_REPORT_BYTES {
        return Err(EvidenceError::TooLarge { size: meta.len() });
    }
    let file = std::fs::File::open(path).map_err(io_error)?;
    // The metadata check is only a fast path: the file may grow between the two calls (or be a
    // FIFO swapped in), so the read itself is bounded too.
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    let len = bytes.len() as u64;
    if len > MAX_REPORT_BYTES {
        return Err(EvidenceError::TooLarge { size: len });
    }
    String::from_utf8(bytes).map_err(|e| EvidenceError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Drops a UTF-8 byte order mark (Windows tools write one; serde_json refuses it).
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Cuts `text` (trimmed) to [`MAX_MESSAGE_CHARS`] characters, marking the cut with `…`.
fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => text.to_owned(),
        Some(_) => {
            let mut out: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
            out.push('…');
            out
        }
    }
}

/// Summarises a JUnit XML document (pure: no I/O).
pub fn summarize_junit(xml: &str) -> Result<JunitSummary, EvidenceError> {
    let xml = strip_bom(xml);
    if xml.trim().is_empty() {
        return Err(EvidenceError::Empty);
    }
    if let Some(line) = too_deep(xml, MAX_XML_DEPTH) {
        return Err(EvidenceError::InvalidXml {
            line,
            column: 1,
            message: format!("elements are nested more than {MAX_XML_DEPTH} deep"),
        });
    }
    // Default options: DTDs are refused, so entity-expansion bombs never expand.
    let doc = roxmltree::Document::parse(xml).map_err(|err| {
        // An HTML error page saved as the report (a failed artifact download, a proxy's 404)
        // is rarely well-formed XML; naming its root says far more than the syntax error.
        match sniff_root(xml) {
            Some(root) if root != "testsuites" && root != "testsuite" => EvidenceError::NotJunit {
                root: root.to_owned(),
            },
            _ => xml_error(err),
        }
    })?;
    let root = doc.root_element();
    let root_name = root.tag_name().name();
    if root_name != "testsuites" && root_name != "testsuite" {
        return Err(EvidenceError::NotJunit {
            root: root_name.to_owned(),
        });
    }

    let mut summary = JunitSummary::default();
    // An explicit stack rather than recursion: nesting depth is attacker-controlled.
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.tag_name().name() == "testcase" {
            // A test case's children are its outcome, never further test cases.
            classify(node, &mut summary);
            continue;
        }
        // Reverse so that popping visits children in document order (failures keep file order).
        let children: Vec<_> = node.children().filter(|n| n.is_element()).collect();
        stack.extend(children.into_iter().rev());
    }
    summary.total = summary.passed + summary.failed + summary.errors + summary.skipped;
    Ok(summary)
}

/// Counts one `<testcase>` and records it when it failed or errored.
fn classify(case: roxmltree::Node<'_, '_>, summary: &mut JunitSummary) {
    let child = |name: &str| {
        case.children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
    };
    let outcome = if let Some(failure) = child("failure") {
        summary.failed += 1;
        Some(failure)
    } else if let Some(error) = child("error") {
        summary.errors += 1;
        Some(error)
    } else {
        if child("skipped").is_some() {
            summary.skipped += 1;
        } else {
            summary.passed += 1;
        }
        None
    };
    if let Some(element) = outcome
        && summary.failures.len() < MAX_LISTED
    {
        let message = match element.attribute("message") {
            Some(m) if !m.trim().is_empty() => m.to_owned(),
            _ => element
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .collect::<String>(),
        };
        summary.failures.push(TestFailure {
            name: case.attribute("name").unwrap_or_default().to_owned(),
            classname: case.attribute("classname").unwrap_or_default().to_owned(),
            message: clip(&message),
        });
    }
}

/// A cheap pre-scan of element nesting, so hostile input cannot overflow roxmltree's recursive
/// parser. Returns the 1-based line where nesting first exceeds `limit`. It only has to be
/// right for well-formed XML: anything else is rejected by the parser afterwards.
fn too_deep(xml: &str, limit: usize) -> Option<u32> {
    let bytes = xml.as_bytes();
    let find = |from: usize, pat: &[u8]| -> usize {
        bytes[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map_or(bytes.len(), |p| from + p + pat.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i = find(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = find(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = find(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = find(i + 2, b">");
        } else {
            // A start tag: find its end outside quoted attribute values ('>' is legal in them).
            let mut j = i + 1;
            let mut quote = None;
            while j < bytes.len() {
                match (quote, bytes[j]) {
                    (None, b'"' | b'\'') => quote = Some(bytes[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if j > 0 && bytes.get(j - 1) != Some(&b'/') {
                depth += 1;
                if depth > limit {
                    let line = bytes[..i].iter().filter(|&&b| b == b'\n').count() + 1;
                    return Some(u32::try_from(line).unwrap_or(u32::MAX));
                }
            }
            i = j + 1;
        }
    }
    None
}

/// The name of the root element (or of the `<!DOCTYPE`, which must match it) of a document
/// that may not parse, skipping the XML declaration, processing instructions and comments.
fn sniff_root(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<?") {
            rest = &after[after.find("?>")? + 2..];
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->")? + 3..];
        } else if rest
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("<!DOCTYPE"))
        {
            return name_at(rest[9..].trim_start());
        } else {
            return name_at(rest.strip_prefix('<')?);
        }
    }
}

/// The XML name at the start of `text` (without a namespace prefix).
fn name_at(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '[' | '<'))
        .unwrap_or(text.len());
    let name = &text[..end];
    let local = name.rsplit(':').next().unwrap_or(name);
    (!local.is_empty()).then_some(local)
}

/// Turns a roxmltree error into an [`EvidenceError`] with a position when it has a real one.
fn xml_error(err: roxmltree::Error) -> EvidenceError {
    match err {
        roxmltree::Error::UnexpectedEndOfStream => EvidenceError::InvalidXmlDocument {
            message: "the document ends unexpectedly (truncated file?)".to_owned(),
        },
        roxmltree::Error::NoRootNode => EvidenceError::InvalidXmlDocument {
            message: "there is no root element".to_owned(),
        },
        roxmltree::Error::DtdDetected => EvidenceError::InvalidXmlDocument {
            message: "it declares a DTD, which tollgate refuses (entity expansion attacks); \
                      JUnit reports never need one"
                .to_owned(),
        },
        roxmltree::Error::NodesLimitReached
        | roxmltree::Error::AttributesLimitReached
        | roxmltree::Error::NamespacesLimitReached => EvidenceError::InvalidXmlDocument {
            message: err.to_string(),
        },
        _ => {
            let pos = err.pos();
            let text = err.to_string();
            // roxmltree appends " at row:col"; the position is already in our own wording.
            let suffix = format!(" at {pos}");
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            EvidenceError::InvalidXml {
                line: pos.row,
                column: pos.col,
                message,
            }
        }
    }
}

/// Summarises a SARIF 2.1.0 log (pure: no I/O).
pub fn summarize_sarif(json: &str) -> Result<SarifSummary, EvidenceError> {
    let json = strip_bom(json);
    if json.trim().is_empty() {
        return Err(EvidenceError::Empty);
    }
    // serde_json's recursion limit (128) bounds nesting, so hostile JSON cannot overflow the stack.
    let log: Value = serde_json::from_str(json).map_err(|e| EvidenceError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: json_message(&e),
    })?;
    let Some(object) = log.as_object() else {
        return Err(EvidenceError::NotSarif {
            reason: format!(
                "the top-level value is {}, expected an object",
                kind_of(&log)
            ),
        });
    };
    match object.get("version") {
        Some(Value::String(v)) if v == "2.1.0" => {}
        Some(Value::String(v)) => {
            return Err(EvidenceError::UnsupportedSarifVersion { version: v.clone() });
        }
        Some(other) => {
            return Err(EvidenceError::NotSarif {
                reason: format!(
                    "\"version\" is {}, expected the string \"2.1.0\"",
                    kind_of(other)
                ),
            });
        }
        None => {
            return Err(EvidenceError::NotSarif {
                reason: "there is no \"version\" property (is this the tool's own JSON format? \
                         ask it for SARIF output)"
                    .to_owned(),
            });
        }
    }
    let runs = match object.get("runs") {
        Some(Value::Array(runs)) => runs,
        Some(Value::Null) => {
            // SARIF: `runs: null` means the tool failed before it could start a run.
            return Err(EvidenceError::NotSarif {
                reason: "\"runs\" is null (the tool did not run)".to_owned(),
            });
        }
        Some(other) => {
            return Err(EvidenceError::NotSarif {
                reason: format!("\"runs\" is {}, expected an array", kind_of(other)),
            });
        }
        None => {
            return Err(EvidenceError::NotSarif {
                reason: "there is no \"runs\" array".to_owned(),
            });
        }
    };

    let mut counts = SeverityCounts::default();
    let mut findings: Vec<ScanFinding> = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        let results = match run.get("results") {
            Some(Value::Array(results)) => results,
            Some(Value::Null) | None => return Err(EvidenceError::MissingResults { run: index }),
            Some(other) => {
                return Err(EvidenceError::NotSarif {
                    reason: format!(
                        "runs[{index}].results is {}, expected an array",
                        kind_of(other)
                    ),
                });
            }
        };
        let rules = RuleIndex::new(run);
        for result in results {
            if !counts_as_finding(result) {
                continue;
            }
            let rule = rules.rule_of(result);
            let severity = severity_of(result, rule);
            counts.add(severity);
            // Keep only what can still make the list: sorting is stable, so after sorting by
            // severity the first MAX_LISTED of each severity are all that can ever be shown.
            findings.push(finding(result, rule, run, severity));
            if findings.len() > 4 * MAX_LISTED {
                findings.sort_by_key(|f| f.severity);
                findings.truncate(MAX_LISTED);
            }
        }
    }
    findings.sort_by_key(|f| f.severity);
    findings.truncate(MAX_LISTED);
    Ok(SarifSummary {
        total: counts.total(),
        counts,
        findings,
    })
}

/// serde_json's message without its trailing " at line X column Y" (we say that ourselves).
fn json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// "an array", "a string", … for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a result is a current, unsuppressed problem.
fn counts_as_finding(result: &Value) -> bool {
    let kind = result.get("kind").and_then(Value::as_str).unwrap_or("fail");
    if matches!(kind, "pass" | "notApplicable" | "informational") {
        return false;
    }
    // Present in the baseline but no longer produced: not a finding of this run.
    if result.get("baselineState").and_then(Value::as_str) == Some("absent") {
        return false;
    }
    let suppressed = result
        .get("suppressions")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|s| match s.get("status") {
                None | Some(Value::Null) => true,
                Some(status) => status.as_str() == Some("accepted"),
            })
        });
    !suppressed
}

/// The rules of one run, for looking up a result's rule.
struct RuleIndex<'a> {
    driver: &'a [Value],
    extensions: Vec<&'a [Value]>,
    by_id: HashMap<&'a str, &'a Value>,
}

impl<'a> RuleIndex<'a> {
    fn new(run: &'a Value) -> Self {
        let rules_of = |component: &'a Value| -> &'a [Value] {
            component
                .get("rules")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        let tool = run.get("tool");
        let driver = tool
            .and_then(|t| t.get("driver"))
            .map(rules_of)
            .unwrap_or_default();
        let extensions: Vec<&'a [Value]> = tool
            .and_then(|t| t.get("extensions"))
            .and_then(Value::as_array)
            .map(|list| list.iter().map(rules_of).collect())
            .unwrap_or_default();
        let mut by_id = HashMap::new();
        // The driver's rules win over an extension's rule with the same id.
        for rule in driver
            .iter()
            .chain(extensions.iter().flat_map(|r| r.iter()))
        {
            if let Some(id) = rule.get("id").and_then(Value::as_str) {
                by_id.entry(id).or_insert(rule);
            }
        }
        RuleIndex {
            driver,
            extensions,
            by_id,
        }
    }

    fn rule_of(&self, result: &Value) -> Option<&'a Value> {
        let reference = result.get("rule");
        let id = rule_id_of(result);
        let index = reference
            .and_then(|r| r.get("index"))
            .or_else(|| result.get("ruleIndex"))
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        let component = reference
            .and_then(|r| r.get("toolComponent"))
            .and_then(|c| c.get("index"))
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        let rules = match component {
            Some(c) => self.extensions.get(c).copied().unwrap_or_default(),
            None => self.driver,
        };
        let by_index = index.and_then(|i| rules.get(i));
        // An index that points at a rule with another id is a producer bug: trust the id.
        let consistent =
            by_index.filter(|rule| match (id, rule.get("id").and_then(Value::as_str)) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            });
        consistent.or_else(|| id.and_then(|id| self.by_id.get(id).copied()))
    }
}

/// `ruleId`, else `rule.id`.
fn rule_id_of(result: &Value) -> Option<&str> {
    result.get("ruleId").and_then(Value::as_str).or_else(|| {
        result
            .get("rule")
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
    })
}

/// A `properties["security-severity"]` score, as a string or a number.
fn security_severity(holder: Option<&Value>) -> Option<Severity> {
    let value = holder?.get("properties")?.get("security-severity")?;
    let score = match value {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    Severity::from_score(score)
}

/// The severity of a result (see the module documentation for the table).
fn severity_of(result: &Value, rule: Option<&Value>) -> Severity {
    if let Some(severity) = security_severity(Some(result)).or_else(|| security_severity(rule)) {
        return severity;
    }
    let level = result
        .get("level")
        .and_then(Value::as_str)
        .or_else(|| {
            rule.and_then(|r| r.get("defaultConfiguration"))
                .and_then(|c| c.get("level"))
                .and_then(Value::as_str)
        })
        .unwrap_or("warning");
    Severity::from_level(level)
}

/// A non-blank string property of an optional object.
fn text_of<'v>(holder: Option<&'v Value>, key: &str) -> Option<&'v str> {
    holder
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Builds the listed form of a result.
fn finding(result: &Value, rule: Option<&Value>, run: &Value, severity: Severity) -> ScanFinding {
    let message = text_of(result.get("message"), "text")
        .or_else(|| text_of(result.get("message"), "markdown"))
        .or_else(|| text_of(rule.and_then(|r| r.get("shortDescription")), "text"))
        .unwrap_or_default();
    let physical = result
        .get("locations")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
        .and_then(|l| l.get("physicalLocation"));
    let artifact = physical.and_then(|p| p.get("artifactLocation"));
    let uri = artifact
        .and_then(|a| a.get("uri"))
        .and_then(Value::as_str)
        .or_else(|| {
            // `artifactLocation.index` points into `run.artifacts` instead of repeating the uri.
            let index = artifact?.get("index")?.as_u64()?;
            run.get("artifacts")?
                .get(usize::try_from(index).ok()?)?
                .get("location")?
                .get("uri")?
                .as_str()
        })
        .map(str::to_owned);
    let line = physical
        .and_then(|p| p.get("region"))
        .and_then(|r| r.get("startLine"))
        .and_then(Value::as_u64);
    let rule_id = rule_id_of(result)
        .or_else(|| rule.and_then(|r| r.get("id")).and_then(Value::as_str))
        .unwrap_or_default();
    ScanFinding {
        rule_id: rule_id.to_owned(),
        severity,
        message: clip(message),
        uri,
        line,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/evidence")).join(rel)
    }

    fn junit(rel: &str) -> TestEvidence {
        read_junit(&fixture(rel), rel)
    }

    fn sarif(rel: &str) -> ScanEvidence {
        read_sarif(&fixture(rel), rel)
    }

    fn counts(e: &TestEvidence) -> [u64; 5] {
        [e.total, e.passed, e.failed, e.errors, e.skipped]
    }

    fn error_of(e: &TestEvidence) -> &str {
        assert!(!e.found, "expected a failure, got {e:?}");
        assert_eq!(counts(e), [0; 5]);
        e.error.as_deref().unwrap()
    }

    fn scan_error_of(e: &ScanEvidence) -> &str {
        assert!(!e.found, "expected a failure, got {e:?}");
        assert_eq!(e.total, 0);
        e.error.as_deref().unwrap()
    }

    fn sev(e: &ScanEvidence) -> [u64; 5] {
        let c = e.counts;
        [c.critical, c.high, c.medium, c.low, c.none]
    }

    fn listed(e: &ScanEvidence) -> Vec<(&str, Severity)> {
        e.findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.severity))
            .collect()
    }

    // ---- JUnit dialects -------------------------------------------------------------------

    #[test]
    fn pytest_report() {
        let e = junit("junit/pytest.xml");
        assert!(e.found && e.error.is_none());
        assert_eq!(counts(&e), [6, 2, 1, 1, 2]);
        assert_eq!(e.failures.len(), 2);
        assert_eq!(e.failures[0].name, "test_refund_partial");
        assert_eq!(e.failures[0].classname, "tests.test_payments");
        assert!(
            e.failures[0]
                .message
                .starts_with("AssertionError: assert 300 == 400\n")
        );
        assert_eq!(
            e.failures[1].message,
            "failed on setup with \"psycopg.OperationalError: connection refused\""
        );
    }

    #[test]
    fn surefire_report_flaky_failure_is_a_pass() {
        let e = junit("junit/surefire.xml");
        assert_eq!(counts(&e), [5, 2, 1, 1, 1]);
        assert_eq!(e.failures[0].message, "expected: <400> but was: <300>");
        assert_eq!(e.failures[1].name, "closesLedger");
    }

    #[test]
    fn jest_report_message_from_text() {
        let e = junit("junit/jest.xml");
        assert_eq!(counts(&e), [5, 3, 1, 0, 1]);
        let f = &e.failures[0];
        assert_eq!(f.classname, "cart computes the total with tax");
        assert!(
            f.message
                .starts_with("Error: expect(received).toBe(expected)")
        );
        assert!(
            f.message.ends_with("utils.js:298:28)"),
            "trimmed: {:?}",
            f.message
        );
    }

    #[test]
    fn go_junit_report_with_build_failure() {
        let e = junit("junit/go-junit-report.xml");
        assert_eq!(counts(&e), [6, 3, 1, 1, 1]);
        assert_eq!(e.failures[0].name, "TestBalance/negative");
        assert_eq!(e.failures[0].message, "Failed");
        assert_eq!(e.failures[1].name, "[build failed]");
    }

    #[test]
    fn gitlab_rspec_report() {
        let e = junit("junit/gitlab.xml");
        assert_eq!(counts(&e), [4, 3, 1, 0, 0]);
        assert_eq!(
            e.failures[0].message,
            "expected: 90\n     got: 100\n\n(compared using ==)"
        );
    }

    #[test]
    fn nested_testsuites_are_counted_once() {
        // PHPUnit nests suites three deep and repeats totals at every level.
        let e = junit("junit/nested-phpunit.xml");
        assert_eq!(counts(&e), [7, 7, 0, 0, 0]);
    }

    #[test]
    fn attributes_are_not_trusted() {
        let s = summarize_junit(
            r#"<testsuite tests="100" failures="0"><testcase name="a"><failure/></testcase></testsuite>"#,
        )
        .unwrap();
        assert_eq!((s.total, s.failed, s.passed), (1, 1, 0));
        assert_eq!(s.failures[0].message, "");
        assert_eq!(s.failures[0].classname, "");
    }

    #[test]
    fn failure_wins_over_error_and_skipped() {
        let s = summarize_junit(
            "<testsuites><testsuite>\
             <testcase name='a'><skipped/><error message='e'/><failure message='f'/></testcase>\
             <testcase name='b'><skipped/><error message='e'/></testcase>\
             <testcase name='c'><system-out>ok</system-out></testcase>\
             </testsuite></testsuites>",
        )
        .unwrap();
        assert_eq!(
            [s.total, s.passed, s.failed, s.errors, s.skipped],
            [3, 1, 1, 1, 0]
        );
        assert_eq!(s.failures[0].message, "f");
        assert_eq!(s.failures[1].message, "e");
    }

    #[test]
    fn namespaced_root_and_bom_are_accepted() {
        let s = summarize_junit(
            "\u{feff}<j:testsuite xmlns:j='urn:x'><j:testcase name='a'/></j:testsuite>",
        )
        .unwrap();
        assert_eq!(s.passed, 1);
    }

    #[test]
    fn at_most_twenty_failures_are_listed_and_messages_are_clipped() {
        let long = "x".repeat(2000);
        let mut xml = String::from("<testsuite>");
        for i in 0..30 {
            xml.push_str(&format!(
                "<testcase name='t{i}'><failure message='{long}'/></testcase>"
            ));
        }
        xml.push_str("</testsuite>");
        let s = summarize_junit(&xml).unwrap();
        assert_eq!(s.failed, 30);
        assert_eq!(s.failures.len(), MAX_LISTED);
        assert_eq!(s.failures[19].name, "t19");
        assert_eq!(s.failures[0].message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(s.failures[0].message.ends_with('…'));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let nest = |depth: usize| {
            format!(
                "<testsuites>\n{}<testcase name='deep' classname='a>b'/>{}</testsuites>",
                "<testsuite name='x/y>'><!-- <c> --><![CDATA[<d>]]>".repeat(depth),
                "</testsuite>".repeat(depth)
            )
        };
        let s = summarize_junit(&nest(MAX_XML_DEPTH - 1)).unwrap();
        assert_eq!(s.passed, 1);
        let err = summarize_junit(&nest(100_000)).unwrap_err().to_string();
        assert_eq!(
            err,
            "not valid XML at line 2, column 1: elements are nested more than 128 deep"
        );
    }

    // ---- JUnit errors ---------------------------------------------------------------------

    #[test]
    fn truncated_xml_is_an_error() {
        let e = junit("junit/truncated.xml");
        let msg = error_of(&e);
        assert_eq!(
            msg,
            "junit/truncated.xml: not valid XML: the document ends unexpectedly (truncated file?)"
        );
        assert!(
            msg.starts_with("junit/truncated.xml: not valid XML"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err =
            summarize_junit("<testsuite>\n  <testcase name='a'>\n  </testsuite>").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("not valid XML at line 3, column "), "{msg}");
        assert!(!msg.ends_with(char::is_numeric), "position repeated: {msg}");
    }

    #[test]
    fn html_error_page_is_not_junit() {
        let e = junit("junit/html-error.xml");
        assert_eq!(
            error_of(&e),
            "junit/html-error.xml: not a JUnit report: root element is <html>, expected <testsuites> or <testsuite>"
        );
        // Well-formed XHTML without a doctype gets the same answer from the parsed tree.
        let err = summarize_junit("<html><body/></html>").unwrap_err();
        assert!(matches!(err, EvidenceError::NotJunit { ref root } if root == "html"));
    }

    #[test]
    fn other_xml_is_not_junit() {
        let e = junit("junit/not-junit.xml");
        assert!(error_of(&e).contains("root element is <coverage>"));
    }

    #[test]
    fn empty_report_is_an_error() {
        assert_eq!(
            error_of(&junit("junit/empty.xml")),
            "junit/empty.xml: the report is empty"
        );
        assert!(matches!(
            summarize_junit(" \n\t"),
            Err(EvidenceError::Empty)
        ));
    }

    #[test]
    fn entity_bomb_is_refused() {
        let e = junit("junit/entity-bomb.xml");
        let msg = error_of(&e);
        assert!(msg.contains("declares a DTD"), "{msg}");
    }

    // ---- reading files --------------------------------------------------------------------

    #[test]
    fn gather_resolves_relative_and_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("reports")).unwrap();
        std::fs::copy(
            fixture("junit/jest.xml"),
            dir.path().join("reports/unit.xml"),
        )
        .unwrap();
        let absolute = fixture("sarif/grype.sarif");
        let absolute = absolute.to_str().unwrap();
        let ev = gather(
            dir.path(),
            &[
                Requirement {
                    name: "unit",
                    report: "reports/unit.xml",
                },
                Requirement {
                    name: "e2e",
                    report: "reports/e2e.xml",
                },
            ],
            &[Requirement {
                name: "grype",
                report: absolute,
            }],
        );
        assert!(ev.tests["unit"].found);
        assert_eq!(ev.tests["unit"].report, "reports/unit.xml");
        let missing = dir.path().join("reports/e2e.xml");
        assert_eq!(
            ev.tests["e2e"].error.as_deref().unwrap(),
            format!(
                "reports/e2e.xml: not found (looked for {})",
                missing.display()
            )
        );
        assert!(ev.scans["grype"].found);
        assert_eq!(ev.scans["grype"].report, absolute);
    }

    #[test]
    fn relative_paths_stay_relative_to_the_working_directory() {
        let e = read_junit(Path::new("no/such/dir/unit.xml"), "unit.xml");
        assert_eq!(
            error_of(&e),
            "unit.xml: not found (looked for no/such/dir/unit.xml)"
        );
    }

    #[test]
    fn oversized_report_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.xml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_REPORT_BYTES + 1).unwrap(); // sparse: no disk used
        let e = read_junit(&path, "huge.xml");
        assert_eq!(
            error_of(&e),
            format!(
                "huge.xml: too large: {} bytes, the limit is 64 MiB",
                MAX_REPORT_BYTES + 1
            )
        );
        let s = read_sarif(&path, "huge.sarif");
        assert!(scan_error_of(&s).contains("too large"));
    }

    #[test]
    fn directory_and_non_utf8_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_junit(dir.path(), "reports");
        assert!(error_of(&e).starts_with("reports: not a file (looked at "));
        let path = dir.path().join("latin1.xml");
        std::fs::write(&path, b"<testsuite name='caf\xe9'/>").unwrap();
        let e = read_junit(&path, "latin1.xml");
        assert_eq!(
            error_of(&e),
            "latin1.xml: not UTF-8 text (invalid byte at offset 20); reports must be UTF-8"
        );
    }

    #[test]
    fn serialized_shape_matches_the_input_document() {
        let e = junit("junit/gitlab.xml");
        let v = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "found", "report", "total", "passed", "failed", "errors", "skipped", "failures"
            ]
        );
        assert_eq!(
            v["failures"][0]["name"],
            "Invoice#total applies the discount"
        );
        let missing = serde_json::to_value(junit("junit/empty.xml")).unwrap();
        assert_eq!(missing["error"], "junit/empty.xml: the report is empty");

        let s = serde_json::to_value(sarif("sarif/trivy-findings.sarif")).unwrap();
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["found", "report", "total", "counts", "findings"]);
        assert_eq!(
            s["counts"],
            json!({"critical": 1, "high": 1, "medium": 1, "low": 1, "none": 0})
        );
        assert_eq!(
            s["findings"][0],
            json!({
                "rule_id": "CVE-2024-45337", "severity": "critical",
                "message": "Package: golang.org/x/crypto\nInstalled Version: v0.26.0\nVulnerability CVE-2024-45337\nSeverity: CRITICAL\nFixed Version: 0.31.0",
                "uri": "app/payments-api", "line": 1
            })
        );
    }

    // ---- SARIF tools ----------------------------------------------------------------------

    #[test]
    fn trivy_clean() {
        let e = sarif("sarif/trivy-clean.sarif");
        assert!(e.found && e.error.is_none());
        assert_eq!((e.total, sev(&e)), (0, [0; 5]));
        assert!(e.findings.is_empty());
    }

    #[test]
    fn trivy_security_severity_via_rule_index() {
        let e = sarif("sarif/trivy-findings.sarif");
        assert_eq!((e.total, sev(&e)), (4, [1, 1, 1, 1, 0]));
        assert_eq!(
            listed(&e),
            [
                ("CVE-2024-45337", Severity::Critical),
                ("CVE-2023-45288", Severity::High),
                ("CVE-2024-2961", Severity::Medium),
                ("CVE-2016-2781", Severity::Low),
            ]
        );
    }

    #[test]
    fn semgrep_levels_from_rule_defaults_and_in_source_suppression() {
        let e = sarif("sarif/semgrep.sarif");
        // Four results, one suppressed with `nosemgrep` (a suppression without a status).
        assert_eq!((e.total, sev(&e)), (3, [0, 1, 1, 1, 0]));
        assert_eq!(
            listed(&e),
            [
                (
                    "python.lang.security.audit.formatted-sql-query.formatted-sql-query",
                    Severity::High
                ),
                (
                    "python.lang.security.audit.eval-detected.eval-detected",
                    Severity::Medium
                ),
                (
                    "python.django.security.audit.django-debug-true",
                    Severity::Low
                ),
            ]
        );
        assert_eq!(e.findings[1].uri.as_deref(), Some("app/reports.py"));
        assert_eq!(e.findings[1].line, Some(42));
    }

    #[test]
    fn codeql_rules_in_extensions_and_artifact_index() {
        let e = sarif("sarif/codeql.sarif");
        assert_eq!((e.total, sev(&e)), (3, [0, 1, 1, 1, 0]));
        assert_eq!(
            listed(&e),
            [
                ("js/sql-injection", Severity::High),
                ("js/reflected-xss", Severity::Medium),
                ("js/unused-local-variable", Severity::Low),
            ]
        );
        // The xss result names its file only through `artifactLocation.index`.
        assert_eq!(e.findings[1].uri.as_deref(), Some("src/routes/search.js"));
        assert_eq!(e.findings[1].line, Some(14));
    }

    #[test]
    fn grype_zero_score_is_none() {
        let e = sarif("sarif/grype.sarif");
        assert_eq!((e.total, sev(&e)), (3, [0, 2, 0, 0, 1]));
        assert_eq!(
            listed(&e),
            [
                ("CVE-2023-5363-libssl3", Severity::High),
                ("GHSA-m425-mq94-257g-google.golang.org/grpc", Severity::High),
                ("CVE-2011-3374-apt", Severity::None),
            ]
        );
    }

    // ---- SARIF errors ---------------------------------------------------------------------

    #[test]
    fn malformed_sarif() {
        let msg = scan_error_of(&sarif("sarif/malformed.sarif")).to_owned();
        assert!(
            msg.starts_with("sarif/malformed.sarif: not valid JSON at line 16, column "),
            "{msg}"
        );
        assert!(msg.ends_with("EOF while parsing a string"), "{msg}");
    }

    #[test]
    fn wrong_sarif_version() {
        assert_eq!(
            scan_error_of(&sarif("sarif/wrong-version.sarif")),
            "sarif/wrong-version.sarif: SARIF version 1.0.0 is not supported, expected 2.1.0"
        );
    }

    #[test]
    fn native_tool_json_is_not_sarif() {
        let msg = scan_error_of(&sarif("sarif/not-sarif.json")).to_owned();
        assert!(
            msg.starts_with("sarif/not-sarif.json: not a SARIF log: there is no \"version\""),
            "{msg}"
        );
    }

    #[test]
    fn structural_sarif_errors() {
        let err = |json: &str| summarize_sarif(json).unwrap_err().to_string();
        assert_eq!(
            err("[]"),
            "not a SARIF log: the top-level value is an array, expected an object"
        );
        assert_eq!(err(""), "the report is empty");
        assert_eq!(
            err(r#"{"version": 2}"#),
            "not a SARIF log: \"version\" is a number, expected the string \"2.1.0\""
        );
        assert_eq!(
            err(r#"{"version": "2.1.0"}"#),
            "not a SARIF log: there is no \"runs\" array"
        );
        assert_eq!(
            err(r#"{"version": "2.1.0", "runs": null}"#),
            "not a SARIF log: \"runs\" is null (the tool did not run)"
        );
        assert_eq!(
            err(r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}}]}"#),
            "runs[0] has no \"results\" array (SARIF's way of saying the tool did not complete)"
        );
        assert_eq!(
            err(r#"{"version": "2.1.0", "runs": [{"results": {}}]}"#),
            "not a SARIF log: runs[0].results is an object, expected an array"
        );
        // A BOM is tolerated; an empty run list is a clean (if odd) log.
        let s = summarize_sarif("\u{feff}{\"version\": \"2.1.0\", \"runs\": []}").unwrap();
        assert_eq!(s.total, 0);
    }

    // ---- SARIF rules ----------------------------------------------------------------------

    fn log(rules: Value, results: Value) -> SarifSummary {
        let doc = json!({
            "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "t", "rules": rules}}, "results": results}]
        });
        summarize_sarif(&doc.to_string()).unwrap()
    }

    fn one(rules: Value, result: Value) -> Severity {
        let s = log(rules, json!([result]));
        assert_eq!(s.total, 1);
        s.findings[0].severity
    }

    #[test]
    fn score_mapping_boundaries() {
        let cases = [
            (10.0, Some(Severity::Critical)),
            (9.0, Some(Severity::Critical)),
            (8.9, Some(Severity::High)),
            (7.0, Some(Severity::High)),
            (6.9, Some(Severity::Medium)),
            (4.0, Some(Severity::Medium)),
            (3.9, Some(Severity::Low)),
            (0.1, Some(Severity::Low)),
            (0.0, Some(Severity::None)),
            (-1.0, None),
            (f64::NAN, None),
        ];
        for (score, want) in cases {
            assert_eq!(Severity::from_score(score), want, "{score}");
        }
    }

    #[test]
    fn level_mapping_and_defaults() {
        let rules =
            json!([{"id": "r", "defaultConfiguration": {"level": "note"}}, {"id": "plain"}]);
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "r", "level": "error"})),
            Severity::High
        );
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "r", "level": "warning"})),
            Severity::Medium
        );
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "r", "level": "none"})),
            Severity::None
        );
        // No result level: the rule's default level.
        assert_eq!(one(rules.clone(), json!({"ruleId": "r"})), Severity::Low);
        // No level anywhere: SARIF's default, warning.
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "plain"})),
            Severity::Medium
        );
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "unknown-rule"})),
            Severity::Medium
        );
        assert_eq!(
            one(json!([]), json!({"message": {"text": "no rule at all"}})),
            Severity::Medium
        );
        assert_eq!(
            one(rules, json!({"ruleId": "r", "level": "bogus"})),
            Severity::Medium
        );
    }

    #[test]
    fn security_severity_beats_level_and_result_beats_rule() {
        let rules = json!([{"id": "r", "properties": {"security-severity": "9.8"},
                            "defaultConfiguration": {"level": "note"}}]);
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "r", "level": "note"})),
            Severity::Critical
        );
        assert_eq!(
            one(
                rules.clone(),
                json!({"ruleId": "r", "properties": {"security-severity": "4.2"}})
            ),
            Severity::Medium
        );
        // A number instead of a numeric string is accepted too.
        assert_eq!(
            one(
                rules.clone(),
                json!({"ruleId": "r", "properties": {"security-severity": 7.1}})
            ),
            Severity::High
        );
        // A result-level value that is not a number is ignored: the rule's score applies.
        assert_eq!(
            one(
                rules,
                json!({"ruleId": "r", "properties": {"security-severity": "high"}})
            ),
            Severity::Critical
        );
        // An unusable rule score falls back to the level.
        let bad = json!([{"id": "b", "properties": {"security-severity": "n/a"}}]);
        assert_eq!(
            one(bad, json!({"ruleId": "b", "level": "error"})),
            Severity::High
        );
    }

    #[test]
    fn rule_lookup_by_index_and_by_id() {
        let rules = json!([
            {"id": "a", "properties": {"security-severity": "9.5"}},
            {"id": "b", "properties": {"security-severity": "1.0"}}
        ]);
        // By index alone (no ruleId): the rule's id is reported.
        let s = log(rules.clone(), json!([{"ruleIndex": 1}]));
        assert_eq!(
            (s.findings[0].rule_id.as_str(), s.findings[0].severity),
            ("b", Severity::Low)
        );
        // By id alone.
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "a"})),
            Severity::Critical
        );
        // By `rule.id` (reportingDescriptorReference) alone.
        let s = log(rules.clone(), json!([{"rule": {"id": "a"}}]));
        assert_eq!(s.findings[0].rule_id, "a");
        // An index that contradicts the id: the id wins.
        assert_eq!(
            one(rules.clone(), json!({"ruleId": "a", "ruleIndex": 1})),
            Severity::Critical
        );
        // An index out of range falls back to the id.
        assert_eq!(
            one(rules, json!({"ruleId": "b", "ruleIndex": 7})),
            Severity::Low
        );
    }

    #[test]
    fn extension_rules_by_id() {
        let doc = json!({"version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": "d"},
                     "extensions": [{"name": "pack", "rules": [{"id": "x", "properties": {"security-severity": "9.0"}}]}]},
            "results": [{"ruleId": "x"}]
        }]});
        let s = summarize_sarif(&doc.to_string()).unwrap();
        assert_eq!(s.counts.critical, 1);
    }

    #[test]
    fn non_findings_suppressed_and_absent_results_are_skipped() {
        let results = json!([
            {"ruleId": "k1", "kind": "pass", "level": "error"},
            {"ruleId": "k2", "kind": "notApplicable", "level": "error"},
            {"ruleId": "k3", "kind": "informational", "level": "error"},
            {"ruleId": "k4", "kind": "review", "level": "error"},
            {"ruleId": "k5", "kind": "open", "level": "error"},
            {"ruleId": "k6", "kind": "fail", "level": "error"},
            {"ruleId": "s1", "level": "error", "suppressions": [{"kind": "external", "status": "accepted"}]},
            {"ruleId": "s2", "level": "error", "suppressions": [{"kind": "inSource"}]},
            {"ruleId": "s3", "level": "error", "suppressions": [{"kind": "external", "status": "underReview"}]},
            {"ruleId": "s4", "level": "error", "suppressions": [{"kind": "external", "status": "rejected"}]},
            {"ruleId": "s5", "level": "error", "suppressions": []},
            {"ruleId": "b1", "level": "error", "baselineState": "absent"},
            {"ruleId": "b2", "level": "error", "baselineState": "new"}
        ]);
        let s = log(json!([]), results);
        let ids: Vec<&str> = s.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(ids, ["k4", "k5", "k6", "s3", "s4", "s5", "b2"]);
        assert_eq!(s.total, 7);
    }

    #[test]
    fn findings_are_capped_most_severe_first_in_document_order() {
        let mut results = Vec::new();
        for i in 0..200 {
            let level = ["note", "warning", "error"][i % 3];
            results.push(json!({"ruleId": format!("r{i}"), "level": level}));
        }
        results.push(json!({"ruleId": "last", "properties": {"security-severity": "9.9"}}));
        let s = log(json!([]), Value::Array(results));
        assert_eq!(s.total, 201);
        assert_eq!(
            [
                s.counts.critical,
                s.counts.high,
                s.counts.medium,
                s.counts.low
            ],
            [1, 66, 67, 67]
        );
        assert_eq!(s.findings.len(), MAX_LISTED);
        assert_eq!(s.findings[0].rule_id, "last");
        let rest: Vec<&str> = s.findings[1..4]
            .iter()
            .map(|f| f.rule_id.as_str())
            .collect();
        assert_eq!(rest, ["r2", "r5", "r8"]);
        assert!(s.findings[1..].iter().all(|f| f.severity == Severity::High));
    }

    #[test]
    fn message_fallbacks_and_missing_location() {
        let rules = json!([{"id": "r", "shortDescription": {"text": "Rule text"}}]);
        let s = log(
            rules.clone(),
            json!([{"ruleId": "r", "message": {"markdown": "**md**"}}]),
        );
        assert_eq!(s.findings[0].message, "**md**");
        let s = log(rules, json!([{"ruleId": "r", "message": {"text": "  "}}]));
        assert_eq!(s.findings[0].message, "Rule text");
        assert_eq!(
            (s.findings[0].uri.as_deref(), s.findings[0].line),
            (None, None)
        );
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = summarize_sarif(&json).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }
}
