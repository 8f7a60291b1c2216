//! Policy loading and evaluation with regorus, and the conftest result conventions.
//!
//! The builtin library in `policies/` is compiled into the binary; `--policy` adds `.rego` files
//! and directories, `--data` adds JSON/YAML documents. Rules named `deny`, `violation`, `deny_*`
//! or `violation_*` are failures; `warn` and `warn_*` are warnings. A result is a string or an
//! object `{msg, rule, path, severity, help, waivable}`. Everything that keeps a policy from giving
//! a clear answer (no failure rules, parse or compile errors, undefined functions, evaluation
//! errors, the time limit, results that do not follow the convention) is a [`PolicyError`]: the
//! gate fails closed on it.

use crate::finding::{Finding, Location, Severity};
use crate::manifest::LoadedManifest;
use crate::manifest::tree::Step;
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The builtin library, embedded at build time. Test files (`*_test.rego`) are not shipped.
pub const BUILTIN_POLICIES: &[(&str, &str)] = &[
    ("policies/lib.rego", include_str!("../policies/lib.rego")),
    (
        "policies/images.rego",
        include_str!("../policies/images.rego"),
    ),
    ("policies/iam.rego", include_str!("../policies/iam.rego")),
    (
        "policies/resources.rego",
        include_str!("../policies/resources.rego"),
    ),
    (
        "policies/evidence.rego",
        include_str!("../policies/evidence.rego"),
    ),
    (
        "policies/signoffs.rego",
        include_str!("../policies/signoffs.rego"),
    ),
    (
        "policies/residency.rego",
        include_str!("../policies/residency.rego"),
    ),
    ("policies/refs.rego", include_str!("../policies/refs.rego")),
];

/// Policy and data files larger than this are refused (they are text written by people).
pub const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Default wall-clock limit for evaluating all rules against one input.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to load.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// Load the embedded library.
    pub builtin: bool,
    /// `--policy` files and directories.
    pub policies: Vec<PathBuf>,
    /// `--data` files.
    pub data: Vec<PathBuf>,
    /// Evaluation time limit.
    pub timeout: Duration,
    /// `--bundle-key` and its key id: every `--policy` must then be a signed bundle (directory
    /// or `.tar.gz`) whose signature is checked before it is parsed.
    pub bundle_key: Option<(PathBuf, String)>,
}

/// Whether a rule's results fail the gate or warn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleKind {
    /// `deny`, `violation`, `deny_*`, `violation_*`.
    Failure,
    /// `warn`, `warn_*`.
    Warning,
}

impl RuleKind {
    /// Classifies a rule name by the conftest conventions.
    pub fn of(name: &str) -> Option<RuleKind> {
        let is = |prefix: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
        };
        if is("deny") || is("violation") {
            Some(RuleKind::Failure)
        } else if is("warn") {
            Some(RuleKind::Warning)
        } else {
            None
        }
    }
}

/// A gate rule found in a loaded policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleRef {
    /// `data.tollgate.images`.
    pub package: String,
    /// `deny`.
    pub name: String,
    /// Failure or warning.
    pub kind: RuleKind,
    /// The file that declares it.
    pub file: String,
}

impl RuleRef {
    /// `data.tollgate.images.deny`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// Why policies could not give an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// A policy or data file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A policy does not parse or compile.
    #[error("policy {file} does not compile:\n{message}")]
    Compile {
        /// The file.
        file: String,
        /// regorus's message, with line and column.
        message: String,
    },
    /// A data file is malformed or conflicts with other data.
    #[error("data {file} cannot be loaded: {message}")]
    Data {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// No `deny`/`violation` rule was loaded, so nothing could ever fail.
    #[error(
        "no failure rules loaded (deny, violation, deny_*, violation_*); {loaded} policy file(s) loaded"
    )]
    NoFailureRules {
        /// How many policy files were loaded.
        loaded: usize,
    },
    /// Evaluation failed (runtime error, undefined function, conflict).
    #[error("evaluating {rule} failed:\n{message}")]
    Eval {
        /// `data.pkg.deny`.
        rule: String,
        /// regorus's message, with file, line and column.
        message: String,
    },
    /// Evaluation took longer than the limit.
    #[error("evaluating {rule} exceeded the {limit:?} time limit:\n{message}")]
    Timeout {
        /// `data.pkg.deny`.
        rule: String,
        /// The limit.
        limit: Duration,
        /// regorus's message.
        message: String,
    },
    /// A result does not follow the string-or-object convention.
    #[error("{rule} returned a result tollgate cannot interpret: {message}")]
    BadResult {
        /// `data.pkg.deny`.
        rule: String,
        /// What is wrong, with the offending value.
        message: String,
    },
}

impl PolicyError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Read { .. } => "policy::unreadable",
            PolicyError::Compile { .. } => "policy::compile",
            PolicyError::Data { .. } => "policy::data",
            PolicyError::NoFailureRules { .. } => "policy::no-rules",
            PolicyError::Eval { .. } => "policy::eval",
            PolicyError::Timeout { .. } => "policy::timeout",
            PolicyError::BadResult { .. } => "policy::bad-result",
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            PolicyError::Read { .. } => "check the path given to --policy / --data".into(),
            PolicyError::Compile { .. } => {
                "fix the policy at the line shown; policies are Rego v1 (`deny contains msg if { ... }`)".into()
            }
            PolicyError::Data { .. } => {
                "data files are JSON or YAML objects; `tollgate.config` holds only the builtin library's settings (README: Configuration); two files may not set the same key to different values".into()
            }
            PolicyError::NoFailureRules { .. } => {
                "load a policy with a `deny` or `violation` rule (--policy), or drop --no-builtin-policies".into()
            }
            PolicyError::Eval { message, .. } if is_undefined_function(message) => {
                "the function is not a builtin tollgate supports and is not defined by any loaded policy".into()
            }
            PolicyError::Eval { .. } => "fix the policy at the line shown".into(),
            PolicyError::Timeout { .. } => {
                "simplify the policy, or raise the limit with --policy-timeout".into()
            }
            PolicyError::BadResult { .. } => {
                "results must be strings or objects with a string `msg` (and optional rule, path, severity, help, waivable)".into()
            }
        }
    }
}

fn is_undefined_function(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("unknown function")
        || m.contains("undefined function")
        || m.contains("could not find")
}

/// A loaded set of policies and data, ready to evaluate inputs.
#[derive(Clone)]
pub struct PolicySet {
    engine: regorus::Engine,
    rules: Vec<RuleRef>,
    files: Vec<String>,
    timeout: Duration,
    /// SHA-256 over every loaded policy file's name and text, in load order.
    library: sha2::Sha256,
    /// The builtin library is loaded, so `data.tollgate.config` is its configuration.
    builtin: bool,
    /// `# METADATA` annotations of gate rules, by (package, rule name).
    annotations: std::collections::BTreeMap<(String, String), serde_json::Map<String, Json>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("rules", &self.rules)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// One member of a gate rule's result set.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// The rule that produced it.
    pub rule: RuleRef,
    /// The member, as JSON.
    pub value: Json,
    /// The rule's `# METADATA` annotations, when it has them: `custom.id`, `custom.severity`
    /// and `custom.help` (or `description`) are the defaults for results that do not say.
    pub annotations: Option<serde_json::Map<String, Json>>,
}

impl PolicySet {
    /// Loads the builtin library (unless disabled), the user's policies and data.
    pub fn load(options: &PolicyOptions) -> Result<PolicySet, PolicyError> {
        // Rego v1 is the default; builtin errors must surface rather than make a rule undefined.
        // The same extra builtins as `tollgate eval` (crypto, JWT, x509, net, yaml), so a policy
        // that works there works in the gate.
        let engine = crate::rego::new_engine(crate::rego::EngineOptions {
            v0: false,
            strict_builtin_errors: true,
        })
        .map_err(|e| PolicyError::Eval {
            rule: "tollgate's builtin extensions".into(),
            message: e.to_string(),
        })?;
        let mut set = PolicySet {
            engine,
            rules: Vec::new(),
            files: Vec::new(),
            timeout: options.timeout,
            library: sha2::Sha256::default(),
            builtin: options.builtin,
            annotations: std::collections::BTreeMap::new(),
        };
        if options.builtin {
            for (file, text) in BUILTIN_POLICIES {
                set.add_policy(file, text)?;
            }
        }
        let key = match &options.bundle_key {
            Some((path, id)) => Some(crate::rego::signing::BundleKey::load(path, id).map_err(
                |reason| PolicyError::Read {
                    path: path.display().to_string(),
                    reason,
                },
            )?),
            None => None,
        };
        for path in &options.policies {
            if let Some(key) = &key {
                if std::fs::metadata(path).is_ok_and(|m| m.is_file()) && !is_archive(path) {
                    return Err(PolicyError::Read {
                        path: path.display().to_string(),
                        reason: "--bundle-key needs signed bundles (a directory or .tar.gz), not a single file".into(),
                    });
                }
                set.add_archive(path, Some(key))?;
                continue;
            }
            if is_archive(path) {
                set.add_archive(path, None)?;
                continue;
            }
            let found = policy_files(path)?;
            for file in found.policies {
                let text = read_limited(&file)?;
                set.add_policy(&file.display().to_string(), &text)?;
            }
            for (prefix, file) in found.data {
                set.add_data_file(&file, &prefix)?;
            }
        }
        for path in &options.data {
            set.add_data_file(path, &[])?;
        }
        if !set.rules.iter().any(|r| r.kind == RuleKind::Failure) {
            return Err(PolicyError::NoFailureRules {
                loaded: set.files.len(),
            });
        }
        set.rules.sort();
        set.rules
            .dedup_by(|a, b| a.package == b.package && a.name == b.name);
        Ok(set)
    }

    /// The gate rules found.
    pub fn rules(&self) -> &[RuleRef] {
        &self.rules
    }

    /// The policy files loaded, in load order.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// `sha256:<hex>` over the loaded policy files' names and texts (length-prefixed, in load
    /// order): what the audit trail records as the policy library.
    pub fn digest(&self) -> String {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(self.library.clone().finalize()))
    }

    fn add_policy(&mut self, file: &str, text: &str) -> Result<(), PolicyError> {
        {
            use sha2::Digest as _;
            for part in [file, text] {
                self.library.update((part.len() as u64).to_be_bytes());
                self.library.update(part.as_bytes());
            }
        }
        let (compiled, annotated) =
            crate::rego::metadata::rewrite(text).map_err(|message| PolicyError::Compile {
                file: file.to_owned(),
                message,
            })?;
        let package = self
            .engine
            .add_policy(file.to_owned(), compiled)
            .map_err(|e| PolicyError::Compile {
                file: file.to_owned(),
                message: e.to_string(),
            })?;
        for (name, _, map) in &annotated.rules {
            if RuleKind::of(name).is_some() {
                self.annotations
                    .entry((package.clone(), name.clone()))
                    .or_insert_with(|| map.clone());
            }
        }
        for name in declared_gate_rules(text) {
            if let Some(kind) = RuleKind::of(&name) {
                self.rules.push(RuleRef {
                    package: package.clone(),
                    name,
                    kind,
                    file: file.to_owned(),
                });
            }
        }
        self.files.push(file.to_owned());
        Ok(())
    }

    /// Loads a compressed OPA bundle (`.tar.gz`), or with a key any signed bundle, with the loader `tollgate eval -b` uses:
    /// `.manifest` roots enforced, data placed by folder, `*_test.rego` files skipped.
    fn add_archive(
        &mut self,
        path: &Path,
        key: Option<&crate::rego::signing::BundleKey>,
    ) -> Result<(), PolicyError> {
        let file = path.display().to_string();
        let mut bundle = crate::rego::Loaded::default();
        bundle
            .add_bundle_verified(path, key)
            .map_err(|e| PolicyError::Read {
                path: file.clone(),
                reason: e.message.clone(),
            })?;
        for module in &bundle.modules {
            if !module.file.ends_with("_test.rego") {
                self.add_policy(&module.file, &module.text)?;
            }
        }
        if !bundle.data.is_empty() {
            let value = regorus::Value::from_json_str(&Json::Object(bundle.data).to_string())
                .map_err(|e| PolicyError::Data {
                    file: file.clone(),
                    message: e.to_string(),
                })?;
            self.engine.add_data(value).map_err(|e| PolicyError::Data {
                file,
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Loads a JSON/YAML object and merges it at `prefix` under the data root.
    fn add_data_file(&mut self, path: &Path, prefix: &[String]) -> Result<(), PolicyError> {
        let file = path.display().to_string();
        let text = read_limited(path)?;
        let data_error = |message: String| PolicyError::Data {
            file: file.clone(),
            message,
        };
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let json: Json = if is_json {
            serde_json::from_str(&text).map_err(|e| data_error(e.to_string()))?
        } else {
            serde_saphyr::from_str(&text).map_err(|e| data_error(e.to_string()))?
        };
        if !json.is_object() {
            return Err(data_error(format!(
                "the document must be an object (it is merged at the data root), found {}",
                json_kind(&json)
            )));
        }
        let json = prefix
            .iter()
            .rev()
            .fold(json, |inner, key| serde_json::json!({ key: inner }));
        if self.builtin {
            check_builtin_config(&json).map_err(data_error)?;
        }
        let value = regorus::Value::from_json_str(&json.to_string())
            .map_err(|e| data_error(e.to_string()))?;
        self.engine
            .add_data(value)
            .map_err(|e| data_error(e.to_string()))
    }

    fn annotations_of(&self, rule: &RuleRef) -> Option<serde_json::Map<String, Json>> {
        self.annotations
            .get(&(rule.package.clone(), rule.name.clone()))
            .cloned()
    }

    /// Whether the builtin library's effective `slsa_builders` is non-empty, i.e. the policies
    /// judge SLSA provenance of every image (so `check` fetches every image's attestations).
    pub fn slsa_builders_configured(&self) -> bool {
        if !self.builtin {
            return false;
        }
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::new_object());
        engine
            .eval_rule("data.tollgate.lib.config".into())
            .ok()
            .and_then(|v| serde_json::to_value(&v).ok())
            .and_then(|j| {
                j.get("slsa_builders")
                    .and_then(Json::as_array)
                    .map(|a| !a.is_empty())
            })
            .unwrap_or(false)
    }

    /// Evaluates every gate rule against one input document.
    ///
    /// All gate rules are evaluated by one query, `[[v | v := data.p.deny], ...]`: regorus clears
    /// its rule cache between `eval_rule` calls, so evaluating them one by one would recompute the
    /// helper rules they share. Each comprehension is always defined (empty when the rule is
    /// undefined), so element `i` belongs to `self.rules[i]`.
    pub fn evaluate(&self, input: &Json) -> Result<Vec<RuleResult>, PolicyError> {
        let mut engine = self.engine_for(input)?;
        let query = format!(
            "[{}]",
            self.rules
                .iter()
                .map(|rule| format!("[v | v := {}]", rule.path()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let outcome = match engine.eval_query(query, false) {
            Ok(outcome) => outcome,
            Err(e) => return Err(self.attribute_failure(input, e.to_string())),
        };
        let values = outcome
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .map(|e| e.value.clone());
        let per_rule = match values.as_ref().map(|v| v.as_array()) {
            Some(Ok(per_rule)) if per_rule.len() == self.rules.len() => per_rule.clone(),
            _ => {
                return Err(PolicyError::BadResult {
                    rule: "the gate rules".into(),
                    message: "the combined query over the gate rules gave no result".into(),
                });
            }
        };
        let mut results = Vec::new();
        for (rule, value) in self.rules.iter().zip(per_rule.iter()) {
            let Some(value) = value.as_array().ok().and_then(|v| v.first()) else {
                continue;
            };
            self.collect(rule, value, &mut results)?;
        }
        Ok(results)
    }

    /// A clone of the loaded engine with `input` and the time limit set.
    fn engine_for(&self, input: &Json) -> Result<regorus::Engine, PolicyError> {
        let mut engine = self.engine.clone();
        let input_value =
            regorus::Value::from_json_str(&input.to_string()).map_err(|e| PolicyError::Eval {
                rule: "input".into(),
                message: e.to_string(),
            })?;
        engine.set_input(input_value);
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: self.timeout,
            check_interval: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
        });
        Ok(engine)
    }

    /// Names the gate rule behind a failed combined evaluation. A time limit is reported at
    /// once (re-running would take as long again); other errors are rare, so the rules are
    /// re-evaluated one by one to name the one that fails.
    fn attribute_failure(&self, input: &Json, message: String) -> PolicyError {
        let timeout = |rule: String, message: String| PolicyError::Timeout {
            rule,
            limit: self.timeout,
            message,
        };
        if is_time_limit(&message) {
            return timeout("the gate rules".into(), message);
        }
        let mut engine = match self.engine_for(input) {
            Ok(engine) => engine,
            Err(e) => return e,
        };
        for rule in &self.rules {
            if let Err(e) = engine.eval_rule(rule.path()) {
                let message = e.to_string();
                return if is_time_limit(&message) {
                    timeout(rule.path(), message)
                } else {
                    PolicyError::Eval {
                        rule: rule.path(),
                        message,
                    }
                };
            }
        }
        PolicyError::Eval {
            rule: "the gate rules".into(),
            message,
        }
    }

    /// Adds one gate rule's value to `results`: each member of a set, or a single value;
    /// `false` and `null` are no result.
    fn collect(
        &self,
        rule: &RuleRef,
        value: &regorus::Value,
        results: &mut Vec<RuleResult>,
    ) -> Result<(), PolicyError> {
        let json = serde_json::to_value(value).map_err(|e| PolicyError::BadResult {
            rule: rule.path(),
            message: e.to_string(),
        })?;
        match json {
            Json::Array(members) => results.extend(members.into_iter().map(|value| RuleResult {
                rule: rule.clone(),
                value,
                annotations: self.annotations_of(rule),
            })),
            Json::Bool(false) | Json::Null => {}
            other => results.push(RuleResult {
                rule: rule.clone(),
                value: other,
                annotations: self.annotations_of(rule),
            }),
        }
        Ok(())
    }
}

/// regorus's message for an evaluation stopped by the execution timer.
fn is_time_limit(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("time limit") || lower.contains("timed out")
}

impl RuleResult {
    /// The rule's `# METADATA` description for reporters (`title`, `description`,
    /// `custom.help`), when it has an annotation with any of them.
    pub fn descriptor(&self) -> Option<crate::finding::RuleDescriptor> {
        let a = self.annotations.as_ref()?;
        let text = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_owned);
        let d = crate::finding::RuleDescriptor {
            title: text(a.get("title")),
            description: text(a.get("description")),
            help: text(a.get("custom").and_then(|c| c.get("help"))),
        };
        (d != crate::finding::RuleDescriptor::default()).then_some(d)
    }

    /// Interprets the result by the conftest conventions, resolving `path` in the manifest.
    pub fn to_finding(&self, manifest: &LoadedManifest) -> Result<Finding, PolicyError> {
        let source = self.rule.path();
        let bad = |message: String| PolicyError::BadResult {
            rule: source.clone(),
            message,
        };
        let default_severity = match self.rule.kind {
            RuleKind::Failure => Severity::Error,
            RuleKind::Warning => Severity::Warning,
        };
        let default_rule = format!(
            "{}.{}",
            self.rule
                .package
                .strip_prefix("data.")
                .unwrap_or(&self.rule.package),
            self.rule.name
        );
        let custom = |key: &str| {
            self.annotations
                .as_ref()
                .and_then(|a| a.get("custom"))
                .and_then(|c| c.get(key))
                .and_then(Json::as_str)
                .map(str::to_owned)
        };
        let default_rule = custom("id").unwrap_or(default_rule);
        let default_severity = custom("severity")
            .and_then(|s| Severity::parse(&s))
            .unwrap_or(default_severity);
        let default_help = custom("help").or_else(|| {
            self.annotations
                .as_ref()
                .and_then(|a| a.get("description"))
                .and_then(Json::as_str)
                .map(str::to_owned)
        });
        let mut finding = Finding {
            rule: default_rule,
            severity: default_severity,
            message: String::new(),
            help: default_help,
            waivable: true,
            path: None,
            location: None,
            source: source.clone(),
            waived: None,
        };
        match &self.value {
            Json::String(msg) => finding.message = msg.clone(),
            Json::Bool(true) => finding.message = format!("{source} is true"),
            Json::Object(fields) => {
                finding.message = match fields.get("msg").or_else(|| fields.get("message")) {
                    Some(Json::String(m)) => m.clone(),
                    _ => {
                        return Err(bad(format!(
                            "object without a string `msg`: {}",
                            clip(&self.value)
                        )));
                    }
                };
                if let Some(rule) = fields.get("rule") {
                    finding.rule = rule
                        .as_str()
                        .filter(|r| !r.is_empty())
                        .ok_or_else(|| {
                            bad(format!(
                                "`rule` must be a non-empty string, found {}",
                                clip(rule)
                            ))
                        })?
                        .to_owned();
                }
                if let Some(severity) = fields.get("severity") {
                    finding.severity =
                        severity.as_str().and_then(Severity::parse).ok_or_else(|| {
                            bad(format!(
                                "`severity` must be \"error\", \"warning\" or \"note\", found {}",
                                clip(severity)
                            ))
                        })?;
                }
                if let Some(help) = fields.get("help") {
                    finding.help = Some(
                        help.as_str()
                            .ok_or_else(|| {
                                bad(format!("`help` must be a string, found {}", clip(help)))
                            })?
                            .to_owned(),
                    );
                }
                if let Some(waivable) = fields.get("waivable") {
                    finding.waivable = waivable.as_bool().ok_or_else(|| {
                        bad(format!(
                            "`waivable` must be a boolean, found {}",
                            clip(waivable)
                        ))
                    })?;
                }
                if let Some(path) = fields.get("path").filter(|p| !p.is_null()) {
                    let route = route_of(path).ok_or_else(|| {
                        bad(format!(
                            "`path` must be a list of keys and indices, found {}",
                            clip(path)
                        ))
                    })?;
                    let located = manifest.locate(&route);
                    finding.path = Some(path.clone());
                    finding.location =
                        Some(Location::at(&manifest.display, located.span, located.exact));
                }
            }
            other => {
                return Err(bad(format!(
                    "expected a string or an object, found {}",
                    clip(other)
                )));
            }
        }
        Ok(finding)
    }
}

/// A `path` as a route: `["deploy", "iam_roles", 0]`, or the dotted string `deploy.iam_roles.0`.
fn route_of(path: &Json) -> Option<Vec<Step>> {
    match path {
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Some(Step::Key(s.clone())),
                Json::Number(n) => n.as_u64().map(|i| Step::Index(i as usize)),
                _ => None,
            })
            .collect(),
        Json::String(s) => Some(
            s.split('.')
                .filter(|seg| !seg.is_empty())
                .map(|seg| match seg.parse::<usize>() {
                    Ok(i) => Step::Index(i),
                    Err(_) => Step::Key(seg.to_owned()),
                })
                .collect(),
        ),
        _ => None,
    }
}

fn clip(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// Names of rules declared at the start of a line: `deny contains msg if`, `warn_x[msg] {`, ...
///
/// regorus has no stable API to list rules, and a rule with no results must still count as
/// "loaded" (a library whose rules are all quiet is not "zero rules"), so heads are read from the
/// text. Names are then evaluated through the engine, which is the authority.
pub fn declared_gate_rules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || RuleKind::of(&name).is_none() {
            continue;
        }
        let rest = line[name.len()..].trim_start();
        let is_head = rest.is_empty()
            || rest.starts_with(['[', '{', ':', '='])
            || rest.starts_with("contains")
            || rest.starts_with("if");
        if is_head {
            names.insert(name);
        }
    }
    names
}

/// The keys of `data.tollgate.config` the builtin library reads (`defaults` in policies/lib.rego).
pub const BUILTIN_CONFIG_KEYS: &[&str] = &[
    "approved_registries",
    "approved_base_images",
    "prohibited_iam_roles",
    "quotas",
    "residency",
    "protected_environments",
    "slsa_builders",
];

/// A misspelt or mistyped configuration key would silently leave the shipped default in force:
/// the gate would check something other than what the team configured. Refuse it instead.
fn check_builtin_config(data: &Json) -> Result<(), String> {
    let Some(config) = data.get("tollgate").and_then(|t| t.get("config")) else {
        return Ok(());
    };
    let Json::Object(keys) = config else {
        return Err(format!(
            "`tollgate.config` must be an object of builtin-library settings, found {}",
            json_kind(config)
        ));
    };
    for (key, value) in keys {
        if !BUILTIN_CONFIG_KEYS.contains(&key.as_str()) {
            let hint =
                crate::manifest::schema::did_you_mean(key, BUILTIN_CONFIG_KEYS.iter().copied())
                    .map_or_else(
                        || format!("known keys: {}", BUILTIN_CONFIG_KEYS.join(", ")),
                        |s| format!("did you mean `{s}`?"),
                    );
            return Err(format!(
                "unknown builtin-library setting `tollgate.config.{key}`; {hint} (settings for your own policies belong under another data key)"
            ));
        }
        let expected_object = matches!(key.as_str(), "quotas" | "residency");
        let ok = if expected_object {
            value.is_object()
        } else {
            value
                .as_array()
                .is_some_and(|items| items.iter().all(Json::is_string))
        };
        if !ok {
            return Err(format!(
                "`tollgate.config.{key}` must be {}, found {}",
                if expected_object {
                    "an object"
                } else {
                    "a list of strings"
                },
                json_kind(value)
            ));
        }
    }
    Ok(())
}

fn is_archive(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// What a `--policy` argument contributes.
#[derive(Debug, Default)]
struct PolicyFiles {
    /// `.rego` files, sorted.
    policies: Vec<PathBuf>,
    /// Bundle data files (`data.json`, `data.yaml`) with the data path of their folder.
    data: Vec<(Vec<String>, PathBuf)>,
}

/// The files a `--policy` argument names. Directories are walked in sorted order as OPA bundle
/// directories: `.rego` files are policies (`*_test.rego` files are tests, not gate policies),
/// and `data.json`/`data.yaml` in folder `a/b/` is merged at `data.a.b`.
fn policy_files(path: &Path) -> Result<PolicyFiles, PolicyError> {
    let read_error = |p: &Path, e: std::io::Error| PolicyError::Read {
        path: p.display().to_string(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".into(),
            _ => e.to_string(),
        },
    };
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    if meta.is_file() {
        let name = path.to_string_lossy();
        if path.extension().is_none_or(|e| e != "rego") {
            return Err(PolicyError::Read {
                path: name.into_owned(),
                reason: "not a .rego file (data goes in --data)".into(),
            });
        }
        return Ok(PolicyFiles {
            policies: vec![path.to_path_buf()],
            data: Vec::new(),
        });
    }
    let mut found = PolicyFiles::default();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read_error(&dir, e))?;
            let p = entry.path();
            let file_type = entry.file_type().map_err(|e| read_error(&p, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if file_type.is_dir() {
                stack.push(p);
            } else if name.ends_with(".rego") && !name.ends_with("_test.rego") {
                found.policies.push(p);
            } else if matches!(name.as_str(), "data.json" | "data.yaml" | "data.yml") {
                let prefix = dir
                    .strip_prefix(path)
                    .unwrap_or(Path::new(""))
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.data.push((prefix, p));
            }
        }
    }
    found.policies.sort();
    found.data.sort();
    Ok(found)
}

fn read_limited(path: &Path) -> Result<String, PolicyError> {
    let err = |reason: String| PolicyError::Read {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_POLICY_FILE_BYTES {
        return Err(err(format!(
            "{} bytes is over the {MAX_POLICY_FILE_BYTES}-byte limit",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_follow_conftest() {
        assert_eq!(RuleKind::of("deny"), Some(RuleKind::Failure));
        assert_eq!(RuleKind::of("violation_x"), Some(RuleKind::Failure));
        assert_eq!(RuleKind::of("warn_a1"), Some(RuleKind::Warning));
        assert_eq!(RuleKind::of("denylist"), None);
        assert_eq!(RuleKind::of("deny_"), None);
        assert_eq!(RuleKind::of("allow"), None);
    }

    #[test]
    fn rule_heads_are_found() {
        let text = "package x\ndeny contains msg if {\n}\nwarn_old[msg] {\n}\ndenylist := 1\n  deny := 2\ndeny_b := true\n";
        let names: Vec<String> = declared_gate_rules(text).into_iter().collect();
        assert_eq!(names, ["deny", "deny_b", "warn_old"]);
    }

    #[test]
    fn every_shipped_policy_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("policies/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rego") && !n.ends_with("_test.rego"))
            .map(|n| format!("policies/{n}"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN_POLICIES
            .iter()
            .map(|(f, _)| (*f).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn builtin_library_loads_and_has_failure_rules() {
        let set = PolicySet::load(&PolicyOptions {
            builtin: true,
            policies: vec![],
            data: vec![],
            timeout: DEFAULT_TIMEOUT,
            bundle_key: None,
        })
        .expect("builtin library compiles");
        assert!(set.rules().iter().any(|r| r.kind == RuleKind::Failure));
    }

    #[test]
    fn slsa_builders_configured_follows_the_effective_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let load = |builtin: bool, yaml: Option<&str>| {
            let data = yaml.map(|y| {
                let path = dir.path().join(format!("d{}.yaml", y.len()));
                std::fs::write(&path, y).expect("write data");
                path
            });
            PolicySet::load(&PolicyOptions {
                builtin,
                policies: vec![],
                data: data.into_iter().collect(),
                timeout: DEFAULT_TIMEOUT,
                bundle_key: None,
            })
            .expect("loads")
        };
        assert!(!load(true, None).slsa_builders_configured(), "default []");
        let set = "tollgate: {config: {slsa_builders: [\"https://b.example\"]}}";
        assert!(load(true, Some(set)).slsa_builders_configured());
        let empty = "tollgate: {config: {slsa_builders: []}}";
        assert!(!load(true, Some(empty)).slsa_builders_configured());
    }

    #[test]
    fn the_librarys_metadata_names_only_catalogued_rules() {
        let mut ids = Vec::new();
        for (file, text) in BUILTIN_POLICIES {
            let (_, annotations) = crate::rego::metadata::rewrite(text).expect("metadata parses");
            for (_, _, map) in &annotations.rules {
                if let Some(id) = map
                    .get("custom")
                    .and_then(|c| c.get("id"))
                    .and_then(Json::as_str)
                {
                    assert!(
                        crate::rules::builtin_rule(id).is_some(),
                        "{file}: {id} is not in src/rules.rs"
                    );
                    ids.push(id.to_owned());
                }
            }
        }
        assert!(ids.len() >= 10, "the library annotates its rules: {ids:?}");
    }

    #[test]
    fn builtin_config_typos_and_types_are_refused() {
        let ok = serde_json::json!({"tollgate": {"config": {"approved_registries": ["r.example/x"], "quotas": {}}}});
        assert!(check_builtin_config(&ok).is_ok());
        assert!(check_builtin_config(&serde_json::json!({"other": 1})).is_ok());
        let typo = serde_json::json!({"tollgate": {"config": {"aproved_registries": ["x"]}}});
        assert!(
            check_builtin_config(&typo)
                .is_err_and(|e| e.contains("did you mean `approved_registries`"))
        );
        let wrong = serde_json::json!({"tollgate": {"config": {"approved_registries": "x"}}});
        assert!(check_builtin_config(&wrong).is_err_and(|e| e.contains("a list of strings")));
        let not_object = serde_json::json!({"tollgate": {"config": ["x"]}});
        assert!(check_builtin_config(&not_object).is_err());
    }

    #[test]
    fn paths_become_routes() {
        let r = route_of(&serde_json::json!(["deploy", "iam_roles", 1])).expect("route");
        assert_eq!(
            r,
            vec![
                Step::Key("deploy".into()),
                Step::Key("iam_roles".into()),
                Step::Index(1)
            ]
        );
        assert_eq!(
            route_of(&serde_json::json!("images.0.ref"))
                .expect("route")
                .len(),
            3
        );
        assert!(route_of(&serde_json::json!([true])).is_none());
    }
}
