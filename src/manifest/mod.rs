//! The pipeline manifest (`tollgate.yaml`, v1): loading, strict validation and the typed view.
//!
//! Loading is all-or-nothing and reports every problem at once: YAML syntax, schema violations
//! (unknown keys with "did you mean", wrong types, bad quantities, missing keys) and semantic
//! checks (duplicate names). Each problem carries the line and column it was found at. The
//! loaded manifest keeps its spanned tree so that a policy result's `path` can be turned back
//! into a position in the file.

pub mod schema;
pub mod tree;

use crate::diagnostic::{SharedSource, SourceDiagnostic, shared_source};
use miette::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tree::{Located, Node, Span, Step, Value};

/// Manifests are small; anything bigger is a mistake or an attack and is refused before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// What kind of problem a manifest has; each kind has a stable diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file is not well-formed YAML.
    YamlSyntax,
    /// A key the schema does not know.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value has the wrong type.
    WrongType,
    /// A value is outside what is allowed (enum, const, pattern, range).
    BadValue,
    /// A resource value is not a Kubernetes quantity.
    BadQuantity,
    /// Two list entries share a name that must be unique.
    DuplicateName,
    /// A mapping has the same key twice.
    DuplicateKey,
    /// The file is over the size or complexity budget.
    TooLarge,
    /// A bug in tollgate itself.
    Internal,
}

impl ProblemKind {
    /// The stable diagnostic code shown to users and in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::YamlSyntax => "manifest::yaml-syntax",
            ProblemKind::UnknownKey => "manifest::unknown-key",
            ProblemKind::MissingKey => "manifest::missing-key",
            ProblemKind::WrongType => "manifest::wrong-type",
            ProblemKind::BadValue => "manifest::bad-value",
            ProblemKind::BadQuantity => "manifest::bad-quantity",
            ProblemKind::DuplicateName => "manifest::duplicate-name",
            ProblemKind::DuplicateKey => "manifest::duplicate-key",
            ProblemKind::TooLarge => "manifest::too-large",
            ProblemKind::Internal => "manifest::internal",
        }
    }
}

/// One thing wrong with a manifest, at a position in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The kind, which gives the diagnostic code.
    pub kind: ProblemKind,
    /// A sentence that names what is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// The short text under the underlined source.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// A second position that explains the first (e.g. the first of two duplicates).
    pub related: Option<(Span, String)>,
}

impl Problem {
    /// A problem without help.
    pub fn new(
        kind: ProblemKind,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Problem {
            kind,
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: None,
        }
    }

    /// Adds how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a second, explanatory position.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related = Some((span, label.into()));
        self
    }

    /// Renders the problem as a diagnostic over the manifest source.
    pub fn to_diagnostic(&self, source: &SharedSource) -> SourceDiagnostic {
        let mut d = SourceDiagnostic::new(self.kind.code(), self.message.clone())
            .with_severity(Severity::Error)
            .with_source(source.clone())
            .with_label(self.label.clone(), self.span.offset, self.span.len);
        if let Some((span, label)) = &self.related {
            d = d.with_label(label.clone(), span.offset, span.len);
        }
        if let Some(help) = &self.help {
            d = d.with_help(help.clone());
        }
        d
    }
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {reason}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error, in words.
        reason: String,
    },
    /// The file is larger than [`MAX_MANIFEST_BYTES`].
    #[error("manifest {path} is {size} bytes; the limit is {MAX_MANIFEST_BYTES} bytes")]
    TooLarge {
        /// The path as given.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The file was read but is not a valid manifest.
    #[error("manifest {path} is invalid: {} problem(s)", problems.len())]
    Invalid {
        /// The path as given.
        path: String,
        /// The file, for rendering.
        text: SharedSource,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ManifestError {
    /// One diagnostic per problem, for the human reporter.
    pub fn diagnostics(&self) -> Vec<SourceDiagnostic> {
        match self {
            ManifestError::Read { path, .. } => vec![
                SourceDiagnostic::new("manifest::unreadable", self.to_string()).with_help(format!(
                    "pass the manifest with `--manifest FILE` (looked for `{path}`); the README's manifest reference shows the format"
                )),
            ],
            ManifestError::TooLarge { .. } => {
                vec![
                    SourceDiagnostic::new(ProblemKind::TooLarge.code(), self.to_string())
                        .with_help("a manifest describes one pipeline and is a few kilobytes"),
                ]
            }
            ManifestError::Invalid { text, problems, .. } => {
                problems.iter().map(|p| p.to_diagnostic(text)).collect()
            }
        }
    }
}

/// The manifest as typed data: the parts tollgate itself acts on. Policies see the full JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    /// `metadata:`.
    pub metadata: Metadata,
    /// `requirements:`.
    #[serde(default)]
    pub requirements: Requirements,
    /// `images:`.
    #[serde(default)]
    pub images: Vec<Image>,
}

/// `metadata:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Metadata {
    /// Pipeline or service name.
    pub name: String,
    /// Owning team.
    pub owner: String,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `requirements:`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Requirements {
    /// JUnit reports that must pass.
    #[serde(default)]
    pub tests: Vec<TestRequirement>,
    /// SARIF reports that must stay under a threshold.
    #[serde(default)]
    pub scans: Vec<ScanRequirement>,
    /// Roles that must sign off.
    #[serde(default)]
    pub signoffs: Vec<SignoffRequirement>,
}

/// One required test report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestRequirement {
    /// Unique name.
    pub name: String,
    /// Path relative to the manifest's folder.
    pub report: String,
}

/// One required scan report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScanRequirement {
    /// Unique name.
    pub name: String,
    /// Path relative to the manifest's folder.
    pub report: String,
}

/// One required sign-off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SignoffRequirement {
    /// The role, matched against keystore `signoff:<role>`.
    pub role: String,
    /// Distinct signers needed.
    #[serde(default = "one")]
    pub min: u64,
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

/// One shipped image.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Image {
    /// Unique name.
    pub name: String,
    /// Tag or digest reference.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Base image reference, if declared.
    #[serde(default)]
    pub base: Option<String>,
    /// Whether a valid signature is required.
    #[serde(default = "yes")]
    pub signed: bool,
    /// Predicate types that must be attested.
    #[serde(default)]
    pub attestations: Vec<String>,
}

/// A manifest that loaded and validated, with everything needed to point back into it.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// The path as given on the command line.
    pub path: PathBuf,
    /// The path as shown to users.
    pub display: String,
    /// The file's text, for diagnostics.
    pub source: SharedSource,
    /// The spanned YAML tree.
    pub tree: Node,
    /// The manifest as written, as JSON (what policies see as `input.manifest`).
    pub json: serde_json::Value,
    /// The typed view.
    pub manifest: Manifest,
}

impl LoadedManifest {
    /// The folder report paths are relative to.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Resolves a route into the manifest to a position.
    pub fn locate(&self, route: &[Step]) -> Located {
        self.tree.locate(route)
    }
}

/// Reads and validates a manifest file.
pub fn load(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let display = path.display().to_string();
    let read_error = |e: std::io::Error| ManifestError::Read {
        path: display.clone(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            _ => e.to_string(),
        },
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            path: display,
            size,
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            path: display,
            size: bytes.len() as u64,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ManifestError::Read {
        path: display.clone(),
        reason: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse(path, &display, &text)
}

/// Validates manifest text; `display` names the file in diagnostics.
pub fn parse(path: &Path, display: &str, text: &str) -> Result<LoadedManifest, ManifestError> {
    let source = shared_source(display, text);
    let invalid = |problems: Vec<Problem>| ManifestError::Invalid {
        path: display.to_owned(),
        text: source.clone(),
        problems,
    };
    let tree = parse_tree(text).map_err(|p| invalid(vec![*p]))?;
    let json = tree.to_json();
    let mut problems = schema::validate(&tree, &json);
    problems.extend(duplicate_names(&tree));
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.span.offset, p.kind.code()));
        problems.dedup();
        return Err(invalid(problems));
    }
    let manifest: Manifest = serde_json::from_value(json.clone()).map_err(|e| {
        invalid(vec![
            Problem::new(
                ProblemKind::Internal,
                format!("the manifest passed the schema but does not fit tollgate's model: {e}"),
                Span::START,
                "here",
            )
            .with_help("this is a bug in tollgate; please report it"),
        ])
    })?;
    Ok(LoadedManifest {
        path: path.to_path_buf(),
        display: display.to_owned(),
        source,
        tree,
        json,
        manifest,
    })
}

/// Budgets that keep a hostile file (alias bombs, deep nesting) bounded in time and memory.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000;
    budget.max_aliases = 100;
    budget.max_anchors = 100;
    budget.max_depth = 64;
    budget.max_nodes = 100_000;
    budget.max_total_scalar_bytes = MAX_MANIFEST_BYTES as usize;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.alias_limits.max_total_replayed_events = 100_000;
    options
}

fn parse_tree(text: &str) -> Result<Node, Box<Problem>> {
    if text.trim().is_empty() {
        return Err(Box::new(
            Problem::new(
                ProblemKind::MissingKey,
                "the manifest is empty",
                Span::START,
                "empty file",
            )
            .with_help("see the manifest reference in the README"),
        ));
    }
    serde_saphyr::from_str_with_options::<Node>(text, yaml_options())
        .map_err(|e| Box::new(yaml_problem(&e, text)))
}

pub(crate) fn yaml_problem(error: &serde_saphyr::Error, text: &str) -> Problem {
    let span = error
        .location()
        .map(|loc| {
            let line = loc.line().max(1);
            let column = loc.column().max(1);
            let offset = loc
                .span()
                .byte_offset()
                .map(|o| o as usize)
                .unwrap_or_else(|| offset_of(text, line, column));
            Span {
                line,
                column,
                offset: offset.min(text.len()),
                len: 1.min(text.len().saturating_sub(offset)),
            }
        })
        .unwrap_or(Span::START);
    let mut options = serde_saphyr::RenderOptions::default();
    options.snippets = serde_saphyr::SnippetMode::Off;
    let message = error.render_with_options(options);
    let (kind, help) = classify_yaml_error(&message);
    Problem::new(kind, format!("invalid YAML: {message}"), span, "here").with_help(help)
}

fn classify_yaml_error(message: &str) -> (ProblemKind, &'static str) {
    let lower = message.to_lowercase();
    if lower.contains("duplicate") {
        (
            ProblemKind::DuplicateKey,
            "a key may appear once per mapping; remove or merge the repeated key",
        )
    } else if lower.contains("budget") || lower.contains("limit") || lower.contains("exceed") {
        (
            ProblemKind::TooLarge,
            "the manifest is too large or too deeply nested; aliases and anchors are limited to 100",
        )
    } else {
        (
            ProblemKind::YamlSyntax,
            "fix the YAML syntax at this position (check indentation, quotes and `:`)",
        )
    }
}

/// Byte offset of a 1-based line and column.
fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// Names that must be unique within their list: `(list route, key that names an entry, noun)`.
const UNIQUE_NAMES: &[(&[&str], &str, &str)] = &[
    (&["requirements", "tests"], "name", "test requirement"),
    (&["requirements", "scans"], "name", "scan requirement"),
    (&["requirements", "signoffs"], "role", "sign-off role"),
    (&["images"], "name", "image"),
];

fn duplicate_names(root: &Node) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (list, key, noun) in UNIQUE_NAMES {
        let route: Vec<Step> = list.iter().map(|k| Step::Key((*k).to_owned())).collect();
        let Some(Node {
            value: Value::Seq(items),
            ..
        }) = root.node_at(&route)
        else {
            continue;
        };
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for item in items {
            let Some((
                _,
                Node {
                    value: Value::Str(name),
                    span,
                },
            )) = item.get(key)
            else {
                continue;
            };
            if let Some(first) = seen.get(name.as_str()) {
                problems.push(
                    Problem::new(
                        ProblemKind::DuplicateName,
                        format!(
                            "duplicate {noun} `{key}: {name}` in {}",
                            schema::display_route(&route)
                        ),
                        *span,
                        "used again here",
                    )
                    .with_related(*first, "first used here")
                    .with_help(format!(
                        "each {noun} needs a unique `{key}`; rename or remove one"
                    )),
                );
            } else {
                seen.insert(name, *span);
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match parse(Path::new("t.yaml"), "t.yaml", text) {
            Ok(_) => Vec::new(),
            Err(ManifestError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    const HEADER: &str =
        "apiVersion: tollgate.dev/v1\nkind: Manifest\nmetadata: {name: a, owner: b}\n";

    #[test]
    fn minimal_manifest_loads_with_defaults() {
        let loaded = parse(
            Path::new("dir/t.yaml"),
            "dir/t.yaml",
            &format!("{HEADER}images:\n  - name: api\n    ref: r.example/a:1\n"),
        )
        .expect("valid");
        assert!(loaded.manifest.images[0].signed);
        assert_eq!(loaded.base_dir(), PathBuf::from("dir"));
        assert_eq!(loaded.json["images"][0]["ref"], "r.example/a:1");
    }

    #[test]
    fn unknown_key_points_at_the_key_with_a_suggestion() {
        let p = problems(&format!("{HEADER}deploy:\n  enviroment: prod\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].kind, ProblemKind::UnknownKey);
        assert_eq!((p[0].span.line, p[0].span.column), (5, 3));
        assert_eq!(p[0].help.as_deref(), Some("did you mean `environment`?"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(&format!(
            "{HEADER}deploy:\n  resources: {{cpu: lots, replicas: three}}\n  regionz: [x]\nimages:\n  - {{name: a, ref: r/a:1}}\n  - {{name: a, ref: r/b:1}}\n"
        ));
        let kinds: Vec<ProblemKind> = p.iter().map(|p| p.kind).collect();
        assert!(kinds.contains(&ProblemKind::BadQuantity), "{p:?}");
        assert!(kinds.contains(&ProblemKind::WrongType), "{p:?}");
        assert!(kinds.contains(&ProblemKind::UnknownKey), "{p:?}");
        assert!(kinds.contains(&ProblemKind::DuplicateName), "{p:?}");
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let p = problems(&format!("{HEADER}kind: Manifest\n"));
        assert_eq!(p[0].kind, ProblemKind::DuplicateKey, "{p:?}");
        assert_eq!(p[0].span.line, 4);
        let p = problems("apiVersion: [unclosed\n");
        assert_eq!(p[0].kind, ProblemKind::YamlSyntax, "{p:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("a{}", i - 1)
            };
            text.push_str(&format!(
                "a{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let p = problems(&text);
        assert!(!p.is_empty());
    }

    #[test]
    fn empty_file_is_a_problem() {
        assert_eq!(problems("  \n")[0].kind, ProblemKind::MissingKey);
    }
}
