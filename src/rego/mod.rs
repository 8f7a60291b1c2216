//! The OPA drop-ins: `tollgate test` ([`test`]) and `tollgate eval` ([`eval`]), on regorus.
//!
//! This module loads policies and data the way OPA's loader does (files and directories walked
//! recursively, data placed by its folder, bundles with `.manifest` roots), builds an engine with
//! the extra builtins in [`builtins`], and turns regorus's pre-rendered error text back into
//! OPA-shaped errors (`code`, `message`, `location`).

pub mod builtins;
pub mod eval;
pub mod jwt;
pub mod metadata;
pub mod signing;
pub mod test;
pub mod x509;

use serde_json::{Map, Value as Json};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Files larger than this are refused; OPA has no limit, but a CI gate should not be made to
/// parse gigabytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What a command prints and returns; `main` writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

/// A Rego source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// The path as shown in messages and locations.
    pub file: String,
    /// The source text.
    pub text: String,
}

/// Everything loaded from the command line: modules and one merged data document.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Rego modules, in load order (sorted within each directory walk).
    pub modules: Vec<ModuleFile>,
    /// The data document (an object), merged from all data files.
    pub data: Map<String, Json>,
}

/// An OPA-shaped error: what `opa eval -f json` prints under `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoError {
    /// `rego_parse_error`, `rego_compile_error`, `eval_error`, `loader_error`, ...
    pub code: String,
    /// The message without location.
    pub message: String,
    /// Where, when known.
    pub location: Option<ErrorLocation>,
}

/// A position in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLocation {
    /// The file.
    pub file: String,
    /// Line, from 1.
    pub row: u32,
    /// Column, from 1.
    pub col: u32,
}

impl RegoError {
    /// An error without a location.
    pub fn plain(code: &str, message: impl Into<String>) -> RegoError {
        RegoError {
            code: code.to_owned(),
            message: message.into(),
            location: None,
        }
    }

    /// Reads regorus's rendered error (`--> file:line:col`, a snippet, `error: message`) into
    /// its parts; text without that shape becomes the message as is.
    pub fn from_regorus(code: &str, error: &dyn std::fmt::Display) -> RegoError {
        let text = format!("{error:#}");
        let mut location = None;
        let mut message = None;
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("--> ") {
                location = parse_location(rest);
            } else if location.is_some()
                && let Some(m) = line.strip_prefix("error: ")
            {
                message = Some(m.trim().to_owned());
            }
        }
        let message = message.unwrap_or_else(|| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        });
        RegoError {
            code: code.to_owned(),
            message,
            location,
        }
    }

    /// `{"code", "message", "location"}` as OPA prints it.
    pub fn to_json(&self) -> Json {
        let mut object = Map::new();
        object.insert("message".into(), Json::String(self.message.clone()));
        object.insert("code".into(), Json::String(self.code.clone()));
        if let Some(l) = &self.location {
            object.insert(
                "location".into(),
                serde_json::json!({"file": l.file, "row": l.row, "col": l.col}),
            );
        }
        Json::Object(object)
    }
}

impl std::fmt::Display for RegoError {
    /// `file:row: code: message`, OPA's one-line form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{}:{}: {}: {}", l.file, l.row, self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// OPA's stderr form for a list of errors: `1 error occurred: ...` or `N errors occurred:` and one
/// per line.
pub fn render_errors(errors: &[RegoError]) -> String {
    match errors {
        [one] => format!("1 error occurred: {one}\n"),
        many => {
            let mut out = format!("{} errors occurred:\n", many.len());
            for e in many {
                out.push_str(&format!("{e}\n"));
            }
            out
        }
    }
}

fn parse_location(text: &str) -> Option<ErrorLocation> {
    let mut parts = text.trim().rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let row = parts.next()?.parse().ok()?;
    let file = parts.next()?.to_owned();
    Some(ErrorLocation { file, row, col })
}

/// How a path's data files are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `opa eval -d` / `opa test PATH`: every `.json`/`.yaml`/`.yml` is data at its folder's path.
    Files,
    /// `--bundle`: only `data.json`/`data.yaml`/`data.yml` are data.
    Bundle,
}

impl Loaded {
    /// Loads a `-d` argument: a file or directory, optionally `a.b:path` to place its data
    /// under `data.a.b`.
    pub fn add_path(&mut self, arg: &str) -> Result<(), RegoError> {
        let (prefix, path) = split_prefix(arg);
        self.walk(Path::new(path), &prefix, Mode::Files)
    }

    /// Loads a bundle directory or `.tar.gz`, checking its `.manifest` roots.
    pub fn add_bundle(&mut self, path: &Path) -> Result<(), RegoError> {
        self.add_bundle_verified(path, None)
    }

    /// Loads a bundle; with a key, its `.signatures.json` is verified against every file of the
    /// bundle first, and the files loaded are the very bytes that were verified.
    pub fn add_bundle_verified(
        &mut self,
        path: &Path,
        key: Option<&signing::BundleKey>,
    ) -> Result<(), RegoError> {
        let meta = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
        let mut bundle = Loaded::default();
        let roots = if meta.is_file() || key.is_some() {
            let files = if meta.is_file() {
                read_archive(path)?
            } else {
                read_bundle_dir(path)?
            };
            if let Some(key) = key {
                signing::verify_bundle(&path.display().to_string(), &files, key)
                    .map_err(|e| RegoError::plain(signing::ERROR_CODE, e))?;
            }
            bundle.add_bundle_files(path, files, !meta.is_file())?
        } else {
            bundle.walk(path, &[], Mode::Bundle)?;
            read_manifest_roots(path)?
        };
        if let Some(roots) = roots {
            check_roots(path, &roots, &bundle)?;
        }
        self.modules.extend(bundle.modules);
        merge_into(&mut self.data, bundle.data, &path.display().to_string())
    }

    fn walk(&mut self, root: &Path, prefix: &[String], mode: Mode) -> Result<(), RegoError> {
        let meta = std::fs::metadata(root).map_err(|e| read_error(root, &e))?;
        if meta.is_file() {
            return self.add_file(root, prefix.to_vec(), mode, true);
        }
        let mut files: Vec<(PathBuf, Vec<String>)> = Vec::new();
        let mut stack = vec![(root.to_path_buf(), prefix.to_vec())];
        while let Some((dir, data_path)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&dir, &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| read_error(&dir, &e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let p = entry.path();
                let kind = entry.file_type().map_err(|e| read_error(&p, &e))?;
                if kind.is_dir() {
                    let mut sub = data_path.clone();
                    sub.push(name);
                    stack.push((p, sub));
                } else {
                    files.push((p, data_path.clone()));
                }
            }
        }
        files.sort();
        for (file, data_path) in files {
            self.add_file(&file, data_path, mode, false)?;
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        path: &Path,
        data_path: Vec<String>,
        mode: Mode,
        explicit: bool,
    ) -> Result<(), RegoError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !wanted(&name, mode) {
            if explicit && mode == Mode::Files {
                return Err(RegoError::plain(
                    "loader_error",
                    format!(
                        "{}: unsupported file type (want .rego, .json, .yaml or .yml)",
                        path.display()
                    ),
                ));
            }
            return Ok(());
        }
        let text = read_limited(path)?;
        self.add_text(&path.display().to_string(), &name, text, data_path)
    }

    /// Adds one wanted file's text: a module, or data placed at `data_path`.
    fn add_text(
        &mut self,
        file: &str,
        name: &str,
        text: String,
        data_path: Vec<String>,
    ) -> Result<(), RegoError> {
        let ext = extension(name);
        if ext == "rego" {
            self.modules.push(ModuleFile {
                file: file.to_owned(),
                text,
            });
            return Ok(());
        }
        let value: Json = if ext == "json" {
            serde_json::from_str(&text).map_err(|e| {
                RegoError::plain("loader_error", format!("{file}: invalid JSON: {e}"))
            })?
        } else {
            serde_saphyr::from_str(&text).map_err(|e| {
                RegoError::plain("loader_error", format!("{file}: invalid YAML: {e}"))
            })?
        };
        let placed = data_path
            .iter()
            .rev()
            .fold(value, |inner, key| serde_json::json!({ key: inner }));
        match placed {
            Json::Object(object) => merge_into(&mut self.data, object, file),
            _ => Err(RegoError::plain(
                "loader_error",
                format!("{file}: bad document type: the root data document must be an object"),
            )),
        }
    }

    /// Loads a bundle's files (from memory); `.manifest` roots returned. Directory bundles skip
    /// hidden files and folders, as the directory walk does.
    fn add_bundle_files(
        &mut self,
        path: &Path,
        files: Vec<signing::BundleFile>,
        skip_hidden: bool,
    ) -> Result<Option<Vec<String>>, RegoError> {
        let mut manifest = None;
        let mut wanted_files: Vec<(Vec<String>, String, Vec<u8>)> = Vec::new();
        for file in files {
            let mut parts: Vec<String> = file.path.split('/').map(str::to_owned).collect();
            let Some(name) = parts.pop() else { continue };
            if parts.is_empty() && name == ".manifest" {
                manifest = Some(file.bytes);
                continue;
            }
            if skip_hidden && (name.starts_with('.') || parts.iter().any(|p| p.starts_with('.'))) {
                continue;
            }
            if wanted(&name, Mode::Bundle) {
                wanted_files.push((parts, name, file.bytes));
            }
        }
        wanted_files.sort();
        for (parts, name, bytes) in wanted_files {
            let mut all = parts.clone();
            all.push(name.clone());
            let shown = format!("{}/{}", path.display(), all.join("/"));
            let text = String::from_utf8(bytes).map_err(|_| {
                RegoError::plain("loader_error", format!("{shown}: not UTF-8 text"))
            })?;
            self.add_text(&shown, &name, text, parts)?;
        }
        match manifest {
            None => Ok(None),
            Some(bytes) => parse_manifest_roots(
                &String::from_utf8_lossy(&bytes),
                &path.display().to_string(),
            ),
        }
    }
}

/// Every regular file of a `.tar.gz` bundle, in memory, with its bundle-relative path.
fn read_archive(path: &Path) -> Result<Vec<signing::BundleFile>, RegoError> {
    let archive_error = |message: String| {
        RegoError::plain("bundle_error", format!("{}: {message}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(|e| read_error(path, &e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| archive_error(e.to_string()))?;
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for entry in entries {
        let entry = entry.map_err(|e| archive_error(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry
            .path()
            .map_err(|e| archive_error(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = inner
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.contains(&"..") {
            return Err(archive_error(format!("entry {inner} leaves the bundle")));
        }
        if parts.is_empty() {
            continue;
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        total = total.saturating_add(size);
        if size > MAX_FILE_BYTES || total > 4 * MAX_FILE_BYTES {
            return Err(archive_error("the bundle is too large".into()));
        }
        let mut bytes = Vec::new();
        std::io::Read::take(entry, MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| archive_error(format!("{inner}: {e}")))?;
        files.push(signing::BundleFile {
            path: parts.join("/"),
            bytes,
        });
    }
    Ok(files)
}

/// Every regular file under a bundle directory (hidden ones too: a signature must cover them).
fn read_bundle_dir(root: &Path) -> Result<Vec<signing::BundleFile>, RegoError> {
    let mut files = Vec::new();
    let mut total: u64 = 0;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read_error(&dir, &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let p = entry.path();
            let rel = format!("{prefix}{name}");
            let kind = entry.file_type().map_err(|e| read_error(&p, &e))?;
            if kind.is_dir() {
                stack.push((p, format!("{rel}/")));
                continue;
            }
            let meta = std::fs::metadata(&p).map_err(|e| read_error(&p, &e))?;
            total = total.saturating_add(meta.len());
            if meta.len() > MAX_FILE_BYTES || total > 4 * MAX_FILE_BYTES {
                return Err(RegoError::plain(
                    "bundle_error",
                    format!("{}: the bundle is too large", root.display()),
                ));
            }
            let bytes = std::fs::read(&p).map_err(|e| read_error(&p, &e))?;
            files.push(signing::BundleFile { path: rel, bytes });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default()
}

/// Whether a file is a module or data in this mode.
fn wanted(name: &str, mode: Mode) -> bool {
    let ext = extension(name);
    ext == "rego"
        || match mode {
            Mode::Files => matches!(ext.as_str(), "json" | "yaml" | "yml"),
            Mode::Bundle => matches!(name, "data.json" | "data.yaml" | "data.yml"),
        }
}

/// `a.b:path` → (["a", "b"], "path"); URLs and plain paths have no prefix.
fn split_prefix(arg: &str) -> (Vec<String>, &str) {
    match arg.split_once(':') {
        Some((prefix, path)) if !prefix.is_empty() && !path.starts_with("//") => {
            (prefix.split('.').map(str::to_owned).collect(), path)
        }
        _ => (Vec::new(), arg),
    }
}

/// Deep-merges objects; two different non-object values at one key are a merge error, as in OPA.
fn merge_into(
    target: &mut Map<String, Json>,
    source: Map<String, Json>,
    file: &str,
) -> Result<(), RegoError> {
    for (key, value) in source {
        match (target.get_mut(&key), value) {
            (None, value) => {
                target.insert(key, value);
            }
            (Some(Json::Object(existing)), Json::Object(incoming)) => {
                merge_into(existing, incoming, file)?;
            }
            (Some(existing), value) if *existing == value => {}
            (Some(_), _) => {
                return Err(RegoError::plain(
                    "loader_error",
                    format!("{file}: merge error: data.{key} is already defined by another file"),
                ));
            }
        }
    }
    Ok(())
}

fn read_manifest_roots(bundle: &Path) -> Result<Option<Vec<String>>, RegoError> {
    let path = bundle.join(".manifest");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(&path, &e)),
    };
    parse_manifest_roots(&text, &path.display().to_string())
}

/// The `roots` of a `.manifest` document (`None` when absent: everything).
fn parse_manifest_roots(text: &str, shown: &str) -> Result<Option<Vec<String>>, RegoError> {
    let manifest: Json = serde_json::from_str(text).map_err(|e| {
        RegoError::plain(
            "bundle_error",
            format!("{shown}/.manifest: invalid manifest: {e}"),
        )
    })?;
    match manifest.get("roots") {
        None => Ok(None),
        Some(Json::Array(items)) => items
            .iter()
            .map(|r| {
                r.as_str().map(str::to_owned).ok_or_else(|| {
                    RegoError::plain(
                        "bundle_error",
                        format!("{shown}/.manifest: roots must be strings"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(RegoError::plain(
            "bundle_error",
            format!("{shown}/.manifest: roots must be a list"),
        )),
    }
}

/// Every package and every data key must lie under one of the manifest's roots (`""` is all).
fn check_roots(bundle: &Path, roots: &[String], loaded: &Loaded) -> Result<(), RegoError> {
    let roots: Vec<Vec<&str>> = roots
        .iter()
        .map(|r| r.split('/').filter(|s| !s.is_empty()).collect())
        .collect();
    let covered = |path: &[&str]| {
        roots
            .iter()
            .any(|root| root.iter().zip(path).all(|(a, b)| a == b) && path.len() >= root.len())
            || roots.iter().any(|root| root.is_empty())
    };
    for module in &loaded.modules {
        let package = package_of(&module.text).unwrap_or_default();
        let path: Vec<&str> = package.split('.').collect();
        if !covered(&path) {
            return Err(RegoError::plain(
                "bundle_error",
                format!(
                    "{}: manifest roots do not permit package '{package}' in module '{}'",
                    bundle.display(),
                    module.file
                ),
            ));
        }
    }
    let mut leaves = Vec::new();
    data_leaves(&loaded.data, &mut Vec::new(), &roots, &mut leaves);
    if let Some(path) = leaves.first() {
        return Err(RegoError::plain(
            "bundle_error",
            format!(
                "{}: manifest roots do not permit data at path '/{}'",
                bundle.display(),
                path.join("/")
            ),
        ));
    }
    Ok(())
}

/// Data paths not under any root: walks down while the path is a prefix of some root.
fn data_leaves(
    data: &Map<String, Json>,
    prefix: &mut Vec<String>,
    roots: &[Vec<&str>],
    out: &mut Vec<Vec<String>>,
) {
    for (key, value) in data {
        prefix.push(key.clone());
        let under_root = roots
            .iter()
            .any(|r| r.len() <= prefix.len() && r.iter().zip(prefix.iter()).all(|(a, b)| a == b));
        if !under_root {
            let above_root = roots.iter().any(|r| {
                r.len() > prefix.len() && r.iter().zip(prefix.iter()).all(|(a, b)| a == b)
            });
            match value {
                Json::Object(inner) if above_root => data_leaves(inner, prefix, roots, out),
                _ => out.push(prefix.clone()),
            }
        }
        prefix.pop();
    }
}

/// The package declared by a module (`a.b` for `package a.b`), from its text.
pub fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("package")?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let name = rest.split('#').next()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    })
}

fn read_error(path: &Path, e: &std::io::Error) -> RegoError {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        _ => e.to_string(),
    };
    RegoError::plain("loader_error", format!("{}: {reason}", path.display()))
}

fn read_limited(path: &Path) -> Result<String, RegoError> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(RegoError::plain(
            "loader_error",
            format!(
                "{}: {} bytes is over the {MAX_FILE_BYTES}-byte limit",
                path.display(),
                meta.len()
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| read_error(path, &e))
}

/// Engine settings shared by `test` and `eval`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// Parse Rego v0.
    pub v0: bool,
    /// Builtin errors abort evaluation instead of making the expression undefined.
    pub strict_builtin_errors: bool,
}

/// A fresh engine with tollgate's extra builtins registered.
pub fn new_engine(options: EngineOptions) -> Result<regorus::Engine, RegoError> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(options.v0);
    engine.set_strict_builtin_errors(options.strict_builtin_errors);
    builtins::register(&mut engine)
        .and_then(|()| x509::register(&mut engine))
        .map_err(|e| RegoError::from_regorus("rego_compile_error", &e))?;
    Ok(engine)
}

/// Adds the loaded modules and data to an engine and compiles them (compile errors surface here,
/// not at the first query).
pub fn install(engine: &mut regorus::Engine, loaded: &Loaded) -> Result<(), RegoError> {
    // Document and subpackages annotations reach across files: collect them first.
    let scopes = metadata::Scopes::collect(loaded.modules.iter().map(|m| m.text.as_str()));
    for module in &loaded.modules {
        let (text, _) = metadata::rewrite_in(&module.text, &scopes)
            .map_err(|m| RegoError::plain("rego_parse_error", format!("{}: {m}", module.file)))?;
        engine
            .add_policy(module.file.clone(), text)
            .map_err(|e| RegoError::from_regorus("rego_parse_error", &e))?;
    }
    install_data(engine, &loaded.data)?;
    // A trivial query prepares (compiles) the modules.
    engine
        .eval_query("true".into(), false)
        .map_err(|e| RegoError::from_regorus("rego_compile_error", &e))?;
    Ok(())
}

/// Adds a data document.
pub fn install_data(
    engine: &mut regorus::Engine,
    data: &Map<String, Json>,
) -> Result<(), RegoError> {
    if data.is_empty() {
        return Ok(());
    }
    let text =
        serde_json::to_string(data).map_err(|e| RegoError::plain("loader_error", e.to_string()))?;
    let value = regorus::Value::from_json_str(&text)
        .map_err(|e| RegoError::from_regorus("loader_error", &e))?;
    engine
        .add_data(value)
        .map_err(|e| RegoError::from_regorus("loader_error", &e))
}

/// A regorus value as JSON (sets become arrays, as OPA prints them).
pub fn to_json(value: &regorus::Value) -> Result<Json, RegoError> {
    serde_json::to_value(value).map_err(|e| {
        let mut message = e.to_string();
        if message.contains("could not serialize number") {
            // regorus keeps big integers exactly, but JSON output goes through f64.
            message.push_str(
                ": the result holds an integer too large for a JSON double (such as an RSA \
                 modulus from crypto.x509.parse_certificates); query the fields you need instead",
            );
        }
        RegoError::plain("eval_error", message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regorus_errors_are_split_into_parts() {
        let mut engine = regorus::Engine::new();
        let err = engine
            .add_policy("p.rego".into(), "package p\n\nx := )\n".into())
            .expect_err("parse error");
        let e = RegoError::from_regorus("rego_parse_error", &err);
        let loc = e.location.clone().expect("location");
        assert_eq!((loc.file.as_str(), loc.row), ("p.rego", 3));
        assert!(!e.message.contains("-->"), "{e:?}");
    }

    #[test]
    fn prefixes_split_like_opa() {
        assert_eq!(
            split_prefix("a.b:x.json"),
            (vec!["a".into(), "b".into()], "x.json")
        );
        assert_eq!(split_prefix("x.json"), (vec![], "x.json"));
        assert_eq!(split_prefix("file://x").0.len(), 0);
    }

    #[test]
    fn merge_conflicts_are_errors() {
        let mut a = serde_json::json!({"x": {"y": 1}})
            .as_object()
            .cloned()
            .expect("obj");
        let b = serde_json::json!({"x": {"z": 2}})
            .as_object()
            .cloned()
            .expect("obj");
        merge_into(&mut a, b, "b.json").expect("merges");
        assert_eq!(
            Json::Object(a.clone()),
            serde_json::json!({"x": {"y": 1, "z": 2}})
        );
        let c = serde_json::json!({"x": {"y": 3}})
            .as_object()
            .cloned()
            .expect("obj");
        assert!(merge_into(&mut a, c, "c.json").is_err());
    }

    #[test]
    fn packages_are_read() {
        assert_eq!(package_of("# c\npackage a.b # x\n").as_deref(), Some("a.b"));
        assert_eq!(package_of("packages\n"), None);
    }
}
