//! Governance: signed sign-offs, signed scoped expiring waivers, and key generation.
//!
//! The key store decides who may do what: `signoff:<role>` lets a key approve for a role and
//! `scopes: [waive:<glob>]` lets it waive the rules the globs match. Everything signed here is
//! the canonical JSON ([`audit::canonical_json`]) of a document without its `signature` field,
//! signed with a private key from [`crate::signing`]; the signer is found by trying the key
//! store's public keys, so a signature counts only for a key the store trusts.

use crate::audit::canonical_json;
use crate::finding::{Finding, Location, Severity, Waived};
use crate::keystore::{KeyEntry, KeyStore, Trust};
use crate::manifest::tree::{Node, Span, Value};
use crate::manifest::{LoadedManifest, yaml_options, yaml_problem};
use crate::signing::{self, PrivateKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Where sign-offs live, relative to the manifest's folder.
pub const SIGNOFF_DIR: &str = ".tollgate/signoffs";
/// The waivers file read when `--waivers` is not given, if it exists.
pub const DEFAULT_WAIVERS: &str = "tollgate-waivers.yaml";
/// The rule id of findings about waivers that do not apply.
pub const WAIVER_INVALID: &str = "waiver-invalid";

const MAX_SIGNOFF_BYTES: u64 = 64 * 1024;
const MAX_SIGNOFFS: usize = 1000;
const MAX_WAIVERS_BYTES: u64 = 1024 * 1024;

/// `sha256:<hex>` of the manifest's canonical JSON: comments, key order and formatting do not
/// change it; any value does.
pub fn manifest_digest(manifest: &LoadedManifest) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical_json(&manifest.json).as_bytes()))
    )
}

/// Signs the canonical JSON of `doc` (without `signature`) and stores the base64 signature in it.
fn sign_document(doc: &mut Map<String, Json>, key: &PrivateKey) {
    doc.remove("signature");
    let message = canonical_json(&Json::Object(doc.clone()));
    doc.insert(
        "signature".into(),
        Json::from(B64.encode(key.sign(message.as_bytes()))),
    );
}

/// How a signed document's signature checked out against the key store.
enum Signer<'a> {
    /// A store entry's key verifies it.
    Valid(&'a KeyEntry),
    /// No signature or key id.
    Unsigned,
    /// No store entry has the key id and no store key verifies it.
    UnknownKey(String),
    /// A store entry has the key id but its key does not verify the signature.
    BadSignature(&'a KeyEntry),
}

fn check_signature<'a>(
    doc: &Map<String, Json>,
    key_field: &str,
    store: &'a KeyStore,
) -> Signer<'a> {
    let (Some(sig), Some(key_id)) = (
        doc.get("signature").and_then(Json::as_str),
        doc.get(key_field).and_then(Json::as_str),
    ) else {
        return Signer::Unsigned;
    };
    let Ok(sig) = B64.decode(sig.trim()) else {
        let named = store_keys(store)
            .find(|(_, id)| id == key_id)
            .map(|(e, _)| e);
        return match named {
            Some(e) => Signer::BadSignature(e),
            None => Signer::UnknownKey(key_id.to_owned()),
        };
    };
    let mut body = doc.clone();
    body.remove("signature");
    let message = canonical_json(&Json::Object(body));
    let mut named = None;
    for (entry, id) in store_keys(store) {
        let Trust::Key(public) = &entry.trust else {
            continue;
        };
        if public.verify(message.as_bytes(), &sig) {
            return Signer::Valid(entry);
        }
        if id == key_id && named.is_none() {
            named = Some(entry);
        }
    }
    match named {
        Some(e) => Signer::BadSignature(e),
        None => Signer::UnknownKey(key_id.to_owned()),
    }
}

fn store_keys(store: &KeyStore) -> impl Iterator<Item = (&KeyEntry, String)> {
    store.entries.iter().filter_map(|e| match &e.trust {
        Trust::Key(k) => Some((e, signing::key_id(k))),
        Trust::Keyless(_) => None,
    })
}

fn now_rfc3339(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------------------------
// keygen
// ---------------------------------------------------------------------------------------------

/// `tollgate keygen NAME`: writes NAME.key (encrypted with `passphrase`) and NAME.pub; returns
/// the key id.
pub fn keygen(name: &Path, passphrase: &[u8], force: bool) -> Result<String, String> {
    let with_ext = |ext: &str| {
        let mut p = name.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let (private, public) = (with_ext(".key"), with_ext(".pub"));
    if !force {
        for p in [&private, &public] {
            if p.exists() {
                return Err(format!(
                    "{} already exists; pass --force to overwrite it",
                    p.display()
                ));
            }
        }
    }
    let key = PrivateKey::generate_p256();
    let pem = key
        .to_encrypted_pem(passphrase)
        .map_err(|e| e.to_string())?;
    if let Some(parent) = private.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    write_private(&private, &pem).map_err(|e| format!("{}: {e}", private.display()))?;
    std::fs::write(&public, key.public_pem()).map_err(|e| format!("{}: {e}", public.display()))?;
    Ok(key.key_id())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Sign-offs
// ---------------------------------------------------------------------------------------------

/// The default sign-off folder for a manifest.
pub fn default_signoff_dir(manifest: &LoadedManifest) -> PathBuf {
    let base = manifest.base_dir();
    if base == Path::new(".") {
        PathBuf::from(SIGNOFF_DIR)
    } else {
        base.join(SIGNOFF_DIR)
    }
}

/// Writes a signed sign-off for `role` of `manifest` into `dir`; returns the file written.
pub fn write_signoff(
    manifest: &LoadedManifest,
    key: &PrivateKey,
    role: &str,
    comment: Option<&str>,
    dir: &Path,
    now: jiff::Timestamp,
) -> Result<PathBuf, String> {
    let key_id = key.key_id();
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), Json::from("tollgate.dev/v1"));
    doc.insert("kind".into(), Json::from("Signoff"));
    doc.insert("role".into(), Json::from(role));
    doc.insert("key_id".into(), Json::from(key_id.clone()));
    doc.insert("time".into(), Json::from(now_rfc3339(now)));
    doc.insert("comment".into(), Json::from(comment.unwrap_or_default()));
    doc.insert("manifest".into(), Json::from(manifest.display.clone()));
    doc.insert(
        "manifest_name".into(),
        Json::from(manifest.manifest.metadata.name.clone()),
    );
    doc.insert(
        "manifest_digest".into(),
        Json::from(manifest_digest(manifest)),
    );
    sign_document(&mut doc, key);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let safe_role: String = role
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = format!("{safe_role}-{}-{stamp}", &key_id[..12]);
    let mut path = dir.join(format!("{base}.json"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{base}-{n}.json"));
        n += 1;
    }
    let mut text = serde_json::to_string_pretty(&Json::Object(doc)).unwrap_or_default();
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A sign-off that does not count, and why (`input.signoff_problems`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignoffProblem {
    /// The sign-off file.
    pub file: String,
    /// The role it claims, when readable.
    pub role: Option<String>,
    /// The key-store name of the signer, or the key id when no store entry has it.
    pub signer: Option<String>,
    /// `malformed`, `unknown-key`, `bad-signature`, `wrong-role` or `other-manifest`.
    pub problem: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// A valid sign-off.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSignoff {
    /// The role.
    pub role: String,
    /// The key-store name of the signer.
    pub signer: String,
    /// When it was signed (RFC 3339).
    pub time: String,
}

/// Reads and verifies every `*.json` sign-off in `dir` against the store and the manifest.
pub fn verify_signoffs(
    dir: &Path,
    manifest: &LoadedManifest,
    store: Option<&KeyStore>,
) -> Result<(Vec<ValidSignoff>, Vec<SignoffProblem>), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the sign-offs in {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    files.sort();
    if files.len() > MAX_SIGNOFFS {
        return Err(format!(
            "{} holds {} sign-offs; at most {MAX_SIGNOFFS} are read",
            dir.display(),
            files.len()
        ));
    }
    let digest = manifest_digest(manifest);
    let empty = KeyStore::default();
    let store = store.unwrap_or(&empty);
    let mut valid = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let file = path.display().to_string();
        match check_signoff(&path, &digest, store) {
            Ok(v) => valid.push(v),
            Err((problem, role, signer, message)) => problems.push(SignoffProblem {
                file,
                role,
                signer,
                problem,
                message,
            }),
        }
    }
    Ok((valid, problems))
}

type SignoffFailure = (&'static str, Option<String>, Option<String>, String);

fn check_signoff(
    path: &Path,
    digest: &str,
    store: &KeyStore,
) -> Result<ValidSignoff, SignoffFailure> {
    let malformed = |m: String| ("malformed", None, None, m);
    let size = std::fs::metadata(path)
        .map_err(|e| malformed(format!("cannot read it: {e}")))?
        .len();
    if size > MAX_SIGNOFF_BYTES {
        return Err(malformed(format!(
            "{size} bytes; a sign-off is at most {MAX_SIGNOFF_BYTES}"
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| malformed(format!("cannot read it: {e}")))?;
    let doc: Map<String, Json> = match serde_json::from_str(&text) {
        Ok(Json::Object(m)) => m,
        Ok(_) => return Err(malformed("not a JSON object".into())),
        Err(e) => return Err(malformed(format!("not JSON: {e}"))),
    };
    let field = |name: &str| doc.get(name).and_then(Json::as_str).map(str::to_owned);
    if field("kind").as_deref() != Some("Signoff") {
        return Err(malformed("`kind` is not `Signoff`".into()));
    }
    let (Some(role), Some(time), Some(signed_digest)) =
        (field("role"), field("time"), field("manifest_digest"))
    else {
        return Err(malformed(
            "missing `role`, `time` or `manifest_digest`".into(),
        ));
    };
    let entry = match check_signature(&doc, "key_id", store) {
        Signer::Valid(e) => e,
        Signer::Unsigned => {
            return Err((
                "malformed",
                Some(role),
                None,
                "it has no `signature` or `key_id`".into(),
            ));
        }
        Signer::UnknownKey(id) => {
            return Err((
                "unknown-key",
                Some(role),
                Some(id.clone()),
                format!("signed by key {id}, which is not in the key store"),
            ));
        }
        Signer::BadSignature(e) => {
            return Err((
                "bad-signature",
                Some(role),
                Some(e.name.clone()),
                format!(
                    "the signature is not valid for key '{}' (the file was altered)",
                    e.name
                ),
            ));
        }
    };
    let needed = format!("signoff:{role}");
    if !entry.has_role(&needed) {
        return Err((
            "wrong-role",
            Some(role.clone()),
            Some(entry.name.clone()),
            format!(
                "key '{}' does not hold the role `{needed}` in the key store",
                entry.name
            ),
        ));
    }
    if signed_digest != digest {
        return Err((
            "other-manifest",
            Some(role),
            Some(entry.name.clone()),
            format!(
                "it approves manifest {signed_digest}, but the manifest is now {digest} (it changed after the sign-off)"
            ),
        ));
    }
    Ok(ValidSignoff {
        role,
        signer: entry.name.clone(),
        time,
    })
}

// ---------------------------------------------------------------------------------------------
// Waivers
// ---------------------------------------------------------------------------------------------

/// One entry of `tollgate-waivers.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    /// Unique id.
    pub id: String,
    /// The rule id waived (exact).
    pub rule: String,
    /// A glob over the finding's target (its manifest path, dotted); `*` for every target.
    pub target: String,
    /// Why.
    pub reason: String,
    /// Who is accountable.
    pub owner: String,
    /// When it stops applying (RFC 3339, or a date meaning 00:00 UTC that day).
    pub expires: String,
    /// Set by `waiver sign`.
    pub signed_at: Option<String>,
    /// Key id of the signer, set by `waiver sign`.
    pub key: Option<String>,
    /// Base64 signature, set by `waiver sign`.
    pub signature: Option<String>,
    /// The entry as JSON (what is signed, without `signature`).
    pub json: Map<String, Json>,
    /// Where the entry starts in the file.
    pub span: Span,
}

/// A loaded waivers file.
#[derive(Debug, Clone)]
pub struct WaiverFile {
    /// The path as given.
    pub display: String,
    /// Every waiver in file order.
    pub waivers: Vec<Waiver>,
}

/// One problem in a waivers file, at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct WaiverFileProblem {
    /// Stable code (`waivers::unknown-key`).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Why a waivers file could not be used.
#[derive(Debug, Clone)]
pub struct WaiverFileError {
    /// The path as given.
    pub path: String,
    /// The text (empty when unreadable).
    pub text: String,
    /// Every problem.
    pub problems: Vec<WaiverFileProblem>,
}

impl std::fmt::Display for WaiverFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(
                f,
                "{}:{}:{}: {} [{}]",
                self.path, p.span.line, p.span.column, p.message, p.code
            )?;
        }
        Ok(())
    }
}

const WAIVER_KEYS: &[&str] = &[
    "id",
    "rule",
    "target",
    "reason",
    "owner",
    "expires",
    "signed_at",
    "key",
    "signature",
];
const REQUIRED_WAIVER_KEYS: &[&str] = &["id", "rule", "reason", "owner", "expires"];

/// Reads a waivers file strictly: unknown keys, wrong types, missing fields, duplicate ids and
/// unreadable dates are all reported, each at its line and column.
pub fn load_waivers(path: &Path) -> Result<WaiverFile, WaiverFileError> {
    let display = path.display().to_string();
    let fail = |text: String, code: &'static str, message: String| WaiverFileError {
        path: display.clone(),
        text,
        problems: vec![WaiverFileProblem {
            code,
            message,
            span: Span::START,
        }],
    };
    let size = std::fs::metadata(path)
        .map_err(|e| {
            fail(
                String::new(),
                "waivers::unreadable",
                format!("cannot read it: {e}"),
            )
        })?
        .len();
    if size > MAX_WAIVERS_BYTES {
        return Err(fail(
            String::new(),
            "waivers::too-large",
            format!("{size} bytes; the limit is {MAX_WAIVERS_BYTES}"),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            String::new(),
            "waivers::unreadable",
            format!("cannot read it: {e}"),
        )
    })?;
    parse_waivers(&display, &text)
}

/// [`load_waivers`] on text.
pub fn parse_waivers(display: &str, text: &str) -> Result<WaiverFile, WaiverFileError> {
    let mut problems = Vec::new();
    let mut problem = |code: &'static str, message: String, span: Span| {
        problems.push(WaiverFileProblem {
            code,
            message,
            span,
        });
    };
    let tree = serde_saphyr::from_str_with_options::<Node>(text, yaml_options()).map_err(|e| {
        let p = yaml_problem(&e, text);
        WaiverFileError {
            path: display.to_owned(),
            text: text.to_owned(),
            problems: vec![WaiverFileProblem {
                code: "waivers::yaml-syntax",
                message: p.message,
                span: p.span,
            }],
        }
    })?;
    let mut waivers = Vec::new();
    if let Value::Map(entries) = &tree.value {
        for (key, _) in entries {
            if !["apiVersion", "kind", "waivers"].contains(&key.name.as_str()) {
                problem(
                    "waivers::unknown-key",
                    format!(
                        "unknown key `{}`; the file allows apiVersion, kind, waivers",
                        key.name
                    ),
                    key.span,
                );
            }
        }
        for (key, expected) in [("apiVersion", "tollgate.dev/v1"), ("kind", "Waivers")] {
            match tree.get(key) {
                Some((
                    _,
                    Node {
                        value: Value::Str(s),
                        ..
                    },
                )) if s == expected => {}
                Some((_, node)) => problem(
                    "waivers::bad-value",
                    format!("`{key}` must be `{expected}`"),
                    node.span,
                ),
                None => problem(
                    "waivers::missing-key",
                    format!("the file has no `{key}: {expected}`"),
                    tree.span,
                ),
            }
        }
        match tree.get("waivers") {
            None => {}
            Some((
                _,
                Node {
                    value: Value::Null, ..
                },
            )) => {}
            Some((
                _,
                Node {
                    value: Value::Seq(items),
                    ..
                },
            )) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(w) = waiver_entry(i, item, &mut problem) {
                        if let Some(first) = waivers.iter().find(|f: &&Waiver| f.id == w.id) {
                            problem(
                                "waivers::duplicate-id",
                                format!(
                                    "duplicate waiver id `{}` (first at line {})",
                                    w.id, first.span.line
                                ),
                                item.span,
                            );
                        }
                        waivers.push(w);
                    }
                }
            }
            Some((_, node)) => problem(
                "waivers::wrong-type",
                "`waivers` must be a list of waivers".into(),
                node.span,
            ),
        }
    } else {
        problem(
            "waivers::wrong-type",
            "the file must be a mapping with apiVersion, kind and waivers".into(),
            tree.span,
        );
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.span.offset);
        return Err(WaiverFileError {
            path: display.to_owned(),
            text: text.to_owned(),
            problems,
        });
    }
    Ok(WaiverFile {
        display: display.to_owned(),
        waivers,
    })
}

fn waiver_entry(
    i: usize,
    item: &Node,
    problem: &mut impl FnMut(&'static str, String, Span),
) -> Option<Waiver> {
    let Value::Map(entries) = &item.value else {
        problem(
            "waivers::wrong-type",
            format!("`waivers[{i}]` must be a mapping"),
            item.span,
        );
        return None;
    };
    let before = entries.len();
    let mut ok = true;
    let mut json = Map::new();
    for (key, value) in entries {
        if !WAIVER_KEYS.contains(&key.name.as_str()) {
            let best = WAIVER_KEYS
                .iter()
                .map(|a| (strsim::jaro_winkler(a, &key.name), *a))
                .fold((0.0, ""), |acc, x| if x.0 > acc.0 { x } else { acc });
            let hint = if best.0 > 0.8 {
                format!("did you mean `{}`?", best.1)
            } else {
                format!("a waiver allows: {}", WAIVER_KEYS.join(", "))
            };
            problem(
                "waivers::unknown-key",
                format!("unknown key `{}` in `waivers[{i}]`; {hint}", key.name),
                key.span,
            );
            ok = false;
            continue;
        }
        match &value.value {
            Value::Str(s) if !s.trim().is_empty() => {
                json.insert(key.name.clone(), Json::from(s.clone()));
            }
            _ => {
                problem(
                    "waivers::wrong-type",
                    format!(
                        "`{}` in `waivers[{i}]` must be a non-empty string",
                        key.name
                    ),
                    value.span,
                );
                ok = false;
            }
        }
    }
    for required in REQUIRED_WAIVER_KEYS {
        if item.get(required).is_none() {
            problem(
                "waivers::missing-key",
                format!("`waivers[{i}]` has no `{required}`"),
                item.span,
            );
            ok = false;
        }
    }
    for dated in ["expires", "signed_at"] {
        if let (Some(text), Some((_, node))) =
            (json.get(dated).and_then(Json::as_str), item.get(dated))
            && parse_time(text).is_none()
        {
            problem(
                "waivers::bad-value",
                format!("`{dated}` in `waivers[{i}]` is not an RFC 3339 time or a YYYY-MM-DD date"),
                node.span,
            );
            ok = false;
        }
    }
    if let Some(target) = json.get("target").and_then(Json::as_str)
        && glob_matcher(target).is_none()
    {
        if let Some((_, node)) = item.get("target") {
            problem(
                "waivers::bad-value",
                format!("`target` in `waivers[{i}]` is not a valid glob"),
                node.span,
            );
        }
        ok = false;
    }
    if !ok || before == 0 {
        return None;
    }
    let get = |k: &str| json.get(k).and_then(Json::as_str).map(str::to_owned);
    Some(Waiver {
        id: get("id")?,
        rule: get("rule")?,
        target: get("target").unwrap_or_else(|| "*".into()),
        reason: get("reason")?,
        owner: get("owner")?,
        expires: get("expires")?,
        signed_at: get("signed_at"),
        key: get("key"),
        signature: get("signature"),
        json: json.clone(),
        span: item.span,
    })
}

/// An RFC 3339 time, or a `YYYY-MM-DD` date (00:00 UTC that day).
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn glob_matcher(glob: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(glob)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// `tollgate waiver sign`: signs every entry of the file with `key` at `now` and rewrites the
/// file (comments are not kept). Returns how many entries were signed.
pub fn sign_waivers(path: &Path, key: &PrivateKey, now: jiff::Timestamp) -> Result<usize, String> {
    let file = load_waivers(path).map_err(|e| e.to_string().trim_end().to_owned())?;
    let mut out = String::from("apiVersion: tollgate.dev/v1\nkind: Waivers\n");
    out.push_str(
        "# Signed by `tollgate waiver sign`; editing a signed entry voids its signature.\n",
    );
    if file.waivers.is_empty() {
        out.push_str("waivers: []\n");
    } else {
        out.push_str("waivers:\n");
    }
    let key_id = key.key_id();
    for waiver in &file.waivers {
        let mut doc = waiver.json.clone();
        doc.insert("signed_at".into(), Json::from(now_rfc3339(now)));
        doc.insert("key".into(), Json::from(key_id.clone()));
        sign_document(&mut doc, key);
        let mut first = true;
        for field in WAIVER_KEYS {
            let Some(value) = doc.get(*field) else {
                continue;
            };
            let quoted = serde_json::to_string(value).unwrap_or_default();
            out.push_str(if first { "  - " } else { "    " });
            out.push_str(&format!("{field}: {quoted}\n"));
            first = false;
        }
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(file.waivers.len())
}

/// Policy for applying waivers.
#[derive(Debug, Clone, Copy)]
pub struct WaiverPolicy {
    /// The run's time.
    pub now: jiff::Timestamp,
    /// The longest `expires - signed_at`.
    pub max_days: u32,
}

/// A finding's target for waiver matching: its manifest path in dotted form (`deploy.resources.cpu`),
/// or empty when the finding has no path.
pub fn finding_target(finding: &Finding) -> String {
    match &finding.path {
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("."),
        Some(Json::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// A waiver whose signature, scope, expiry and lifetime check out: it may apply to findings.
#[derive(Debug, Clone)]
pub struct ValidWaiver<'a> {
    /// The waiver.
    pub waiver: &'a Waiver,
    /// The key-store name of its signer.
    pub signer: String,
}

impl ValidWaiver<'_> {
    /// The waiver as `input.waivers` shows it.
    pub fn to_json(&self) -> Json {
        let w = self.waiver;
        serde_json::json!({
            "id": w.id,
            "rule": w.rule,
            "target": w.target,
            "reason": w.reason,
            "owner": w.owner,
            "expires": w.expires,
            "signed_at": w.signed_at,
            "signer": self.signer,
        })
    }
}

fn waiver_problem(file: &WaiverFile, waiver: &Waiver, problem: &str, help: &str) -> Finding {
    Finding {
        rule: WAIVER_INVALID.into(),
        severity: Severity::Warning,
        message: format!(
            "waiver '{}' (rule {}) does not apply: {problem}",
            waiver.id, waiver.rule
        ),
        help: Some(help.into()),
        waivable: false,
        path: None,
        location: Some(Location::at(&file.display, waiver.span, true)),
        source: "tollgate.waivers".into(),
        waived: None,
    }
}

/// Checks each waiver before policies run: signed by a key-store key whose `scopes` hold
/// `waive:<glob>` matching the rule, not expired, lifetime within the maximum. Returns the valid
/// ones and a `waiver-invalid` warning for each other one.
pub fn validate_waivers<'a>(
    file: &'a WaiverFile,
    store: Option<&KeyStore>,
    policy: WaiverPolicy,
) -> (Vec<ValidWaiver<'a>>, Vec<Finding>) {
    let empty = KeyStore::default();
    let store = store.unwrap_or(&empty);
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for waiver in &file.waivers {
        let mut report = |problem: &str, help: &str| {
            invalid.push(waiver_problem(file, waiver, problem, help));
        };
        let mut doc = waiver.json.clone();
        if let Some(sig) = &waiver.signature {
            doc.insert("signature".into(), Json::from(sig.clone()));
        }
        let entry = match check_signature(&doc, "key", store) {
            Signer::Valid(e) => e,
            Signer::Unsigned => {
                report(
                    "it is not signed",
                    "sign it with `tollgate waiver sign --key KEY` using a key whose scopes cover the rule",
                );
                continue;
            }
            Signer::UnknownKey(id) => {
                report(
                    &format!("it is signed by key {id}, which is not in the key store"),
                    "sign it with a key from the key store",
                );
                continue;
            }
            Signer::BadSignature(e) => {
                report(
                    &format!(
                        "its signature is not valid for key '{}' (it was edited after signing)",
                        e.name
                    ),
                    "re-sign it with `tollgate waiver sign`",
                );
                continue;
            }
        };
        let in_scope = entry.scopes.iter().any(|s| {
            s.strip_prefix("waive:")
                .and_then(glob_matcher)
                .is_some_and(|m| m.is_match(&waiver.rule))
        });
        if !in_scope {
            let scopes = if entry.scopes.is_empty() {
                "none".to_owned()
            } else {
                entry.scopes.join(", ")
            };
            report(
                &format!(
                    "key '{}' may not waive rule {} (its scopes: {scopes})",
                    entry.name, waiver.rule
                ),
                "have it signed by a key whose key-store scopes include `waive:<glob>` matching the rule",
            );
            continue;
        }
        let expires = parse_time(&waiver.expires);
        let signed_at = waiver.signed_at.as_deref().and_then(parse_time);
        let (Some(expires), Some(signed_at)) = (expires, signed_at) else {
            report(
                "its expires or signed_at time is unreadable",
                "re-sign it with `tollgate waiver sign`",
            );
            continue;
        };
        if expires <= policy.now {
            report(
                &format!("it expired at {}", waiver.expires),
                "renew it with a new `expires` and re-sign it, or fix the finding",
            );
            continue;
        }
        let max = jiff::SignedDuration::from_hours(i64::from(policy.max_days) * 24);
        if expires.duration_since(signed_at) > max {
            report(
                &format!(
                    "its lifetime from signed_at {} to expires {} is longer than {} days",
                    waiver.signed_at.as_deref().unwrap_or_default(),
                    waiver.expires,
                    policy.max_days
                ),
                "shorten `expires` and re-sign it (or raise --max-waiver-days)",
            );
            continue;
        }
        valid.push(ValidWaiver {
            waiver,
            signer: entry.name.clone(),
        });
    }
    (valid, invalid)
}

/// Applies valid waivers to the findings of the run: a waiver exempts the findings of its rule
/// whose target matches its glob, when they are waivable ([`Finding::waived`] is set; they stay
/// in every report). Returns the applied waivers (with the targets they covered) and a
/// `waiver-invalid` warning for a waiver that matched nothing or only non-waivable findings.
pub fn apply_waivers(
    file: &WaiverFile,
    valid: &[ValidWaiver<'_>],
    findings: &mut [Finding],
) -> (Vec<Json>, Vec<Finding>) {
    let mut applied = Vec::new();
    let mut invalid = Vec::new();
    for v in valid {
        let waiver = v.waiver;
        let target = glob_matcher(&waiver.target);
        let matching: Vec<usize> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.rule == waiver.rule && f.waived.is_none())
            .filter(|(_, f)| {
                waiver.target == "*"
                    || target
                        .as_ref()
                        .is_some_and(|m| m.is_match(finding_target(f)))
            })
            .map(|(i, _)| i)
            .collect();
        if matching.is_empty() {
            invalid.push(waiver_problem(
                file,
                waiver,
                &format!(
                    "it matches no finding (rule {}, target {})",
                    waiver.rule, waiver.target
                ),
                "remove it if the finding is fixed, or correct `rule` / `target`",
            ));
            continue;
        }
        let (waivable, not): (Vec<usize>, Vec<usize>) =
            matching.into_iter().partition(|i| findings[*i].waivable);
        if !not.is_empty() {
            invalid.push(waiver_problem(
                file,
                waiver,
                &format!("rule {} is not waivable", waiver.rule),
                "fix the finding; this rule cannot be waived",
            ));
        }
        if waivable.is_empty() {
            continue;
        }
        let waived = Waived {
            id: waiver.id.clone(),
            owner: waiver.owner.clone(),
            expires: waiver.expires.clone(),
            reason: waiver.reason.clone(),
            signer: v.signer.clone(),
        };
        let mut targets = Vec::new();
        for i in waivable {
            targets.push(Json::from(finding_target(&findings[i])));
            findings[i].waived = Some(waived.clone());
        }
        let mut json = v.to_json();
        if let Json::Object(m) = &mut json {
            m.insert("findings".into(), Json::Array(targets));
        }
        applied.push(json);
    }
    (applied, invalid)
}
