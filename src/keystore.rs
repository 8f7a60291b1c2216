//! The key store (`tollgate-keystore.yaml`, v1): who is trusted, for what.
//!
//! Loading is strict and all-or-nothing, like the manifest: unknown keys (with "did you mean"),
//! wrong types, missing or duplicate names and unreadable public keys are all reported at once,
//! each at its line and column. Public keys are parsed here, once, so verification never meets
//! a malformed key: ECDSA P-256 and P-384, Ed25519 and RSA, as SubjectPublicKeyInfo PEM (RSA
//! also as PKCS#1 `RSA PUBLIC KEY`). `--key FILE` adds a shorthand entry named after the file
//! stem with the role `image-signer`.

use crate::context::Environment;
use crate::diagnostic::{SharedSource, SourceDiagnostic, shared_source};
use crate::manifest::tree::{Node, Span, Value};
use crate::manifest::{yaml_options, yaml_problem};
use sha2::Digest as _;
use spki::ObjectIdentifier;
use std::path::{Path, PathBuf};

/// The key store read when `--keystore` is not given, if it exists.
pub const DEFAULT_KEYSTORE: &str = "tollgate-keystore.yaml";

/// The role that lets a key's signatures count for images.
pub const IMAGE_SIGNER: &str = "image-signer";

/// Key stores and key files are small; anything bigger is refused before parsing.
pub const MAX_KEYSTORE_BYTES: u64 = 1024 * 1024;

const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The trusted keys, in the order they were written.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    /// Every entry; names are unique.
    pub entries: Vec<KeyEntry>,
}

/// One key-store entry.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// Unique name; signers are reported by it.
    pub name: String,
    /// Roles, e.g. `image-signer`, `signoff:security`.
    pub roles: Vec<String>,
    /// Globs of rules this key may waive.
    pub scopes: Vec<String>,
    /// How signatures are checked.
    pub trust: Trust,
}

impl KeyEntry {
    /// Whether the entry has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// What a key-store entry trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Signatures made with this public key.
    Key(PublicKey),
    /// Keyless (Fulcio certificate) signatures with this identity. Parsed, not yet verified.
    Keyless(Keyless),
}

/// `keyless:` constraints, as cosign's `--certificate-*` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyless {
    /// Exact OIDC issuer.
    pub issuer: Option<String>,
    /// OIDC issuer regular expression.
    pub issuer_regexp: Option<String>,
    /// Exact certificate identity (SAN).
    pub identity: Option<String>,
    /// Certificate identity regular expression.
    pub identity_regexp: Option<String>,
}

/// A parsed public key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA on NIST P-256 (signatures over SHA-256).
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-384 (signatures over SHA-384, or SHA-256 as cosign makes them).
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519 (pure, over the message).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (PKCS#1 v1.5 or PSS, SHA-256).
    Rsa(rsa::RsaPublicKey),
}

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

impl PublicKey {
    /// Parses a PEM public key (`PUBLIC KEY` SPKI, or `RSA PUBLIC KEY` PKCS#1).
    pub fn from_pem(pem: &str) -> Result<PublicKey, String> {
        let (label, der) = spki::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| format!("not a PEM block ({e})"))?;
        match label {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                rsa::RsaPublicKey::from_pkcs1_der(&der)
                    .map(PublicKey::Rsa)
                    .map_err(|e| format!("invalid PKCS#1 RSA public key: {e}"))
            }
            other if other.contains("PRIVATE KEY") => Err(format!(
                "this is a private key (`{other}`); the key store holds public keys only"
            )),
            other => Err(format!(
                "unexpected PEM label `{other}`; expected `PUBLIC KEY`"
            )),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| format!("invalid SubjectPublicKeyInfo: {e}"))?;
        let oid = info.algorithm.oid;
        if oid == OID_EC {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| format!("EC key without a named curve: {e}"))?;
            if curve == OID_P256 {
                use p256::pkcs8::DecodePublicKey;
                return p256::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P256)
                    .map_err(|e| format!("invalid P-256 key: {e}"));
            }
            if curve == OID_P384 {
                use p384::pkcs8::DecodePublicKey;
                return p384::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P384)
                    .map_err(|e| format!("invalid P-384 key: {e}"));
            }
            return Err(format!(
                "unsupported elliptic curve {curve}; supported: P-256, P-384"
            ));
        }
        if oid == OID_ED25519 {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            return ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map(PublicKey::Ed25519)
                .map_err(|e| format!("invalid Ed25519 key: {e}"));
        }
        if oid == OID_RSA {
            use rsa::pkcs8::DecodePublicKey;
            return rsa::RsaPublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| format!("invalid RSA key: {e}"));
        }
        Err(format!(
            "unsupported key algorithm {oid}; supported: ECDSA P-256/P-384, Ed25519, RSA"
        ))
    }

    /// The algorithm, for messages.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::P384(_) => "ECDSA P-384",
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::Rsa(_) => "RSA",
        }
    }

    /// Whether `signature` is a valid signature of `message` by this key.
    ///
    /// ECDSA signatures are accepted in ASN.1 DER (what cosign writes) or fixed-size form.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            PublicKey::P256(key) => {
                let Some(sig) = p256::ecdsa::Signature::from_der(signature)
                    .ok()
                    .or_else(|| p256::ecdsa::Signature::from_slice(signature).ok())
                else {
                    return false;
                };
                key.verify(message, &sig).is_ok()
            }
            PublicKey::P384(key) => {
                let Some(sig) = p384::ecdsa::Signature::from_der(signature)
                    .ok()
                    .or_else(|| p384::ecdsa::Signature::from_slice(signature).ok())
                else {
                    return false;
                };
                key.verify(message, &sig).is_ok()
                    || key
                        .verify_prehash(&sha2::Sha256::digest(message), &sig)
                        .is_ok()
            }
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            PublicKey::Rsa(key) => {
                use rsa::sha2::Sha256;
                let pkcs1 = rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|sig| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                        .verify(message, &sig)
                        .is_ok()
                });
                pkcs1
                    || rsa::pss::Signature::try_from(signature).is_ok_and(|sig| {
                        rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
                            .verify(message, &sig)
                            .is_ok()
                    })
            }
        }
    }
}

/// One thing wrong with a key store, at a position in it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyProblem {
    /// Stable code, e.g. `keystore::unknown-key`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// How to fix it.
    pub help: Option<String>,
}

impl KeyProblem {
    fn new(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        KeyProblem {
            code,
            message: message.into(),
            span,
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Why a key store (or a `--key`) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The file could not be read.
    #[error("cannot read key store {path}: {reason}")]
    Read {
        /// The path as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// `--key` could not be used.
    #[error("cannot use --key {key}: {reason}")]
    Key {
        /// The key as given.
        key: String,
        /// Why.
        reason: String,
    },
    /// The file was read but is not a valid key store.
    #[error("key store {path} is invalid: {} problem(s)", problems.len())]
    Invalid {
        /// The path as given.
        path: String,
        /// The text, for rendering.
        text: SharedSource,
        /// Every problem, in file order.
        problems: Vec<KeyProblem>,
    },
}

impl KeyStoreError {
    /// One diagnostic per problem.
    pub fn diagnostics(&self) -> Vec<SourceDiagnostic> {
        match self {
            KeyStoreError::Invalid { text, problems, .. } => problems
                .iter()
                .map(|p| {
                    let mut d = SourceDiagnostic::new(p.code, p.message.clone())
                        .with_source(text.clone())
                        .with_label("here", p.span.offset, p.span.len);
                    if let Some(h) = &p.help {
                        d = d.with_help(h.clone());
                    }
                    d
                })
                .collect(),
            KeyStoreError::Read { .. } => vec![
                SourceDiagnostic::new("keystore::unreadable", self.to_string())
                    .with_help("pass the key store with --keystore FILE; the README's key store section shows the format"),
            ],
            KeyStoreError::Key { .. } => vec![
                SourceDiagnostic::new("keystore::bad-key", self.to_string())
                    .with_help("--key takes a PEM public key file (or env://VAR holding one): ECDSA P-256/P-384, Ed25519 or RSA"),
            ],
        }
    }
}

impl KeyStore {
    /// Reads and validates a key store file; `env` resolves `env://VAR` keys.
    pub fn load(path: &Path, env: &Environment) -> Result<KeyStore, KeyStoreError> {
        let display = path.display().to_string();
        let text =
            read_bounded(path, MAX_KEYSTORE_BYTES).map_err(|reason| KeyStoreError::Read {
                path: display.clone(),
                reason,
            })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&display, &text, &base, env)
    }

    /// Validates key-store text; `base` is the folder key paths are relative to.
    pub fn parse(
        display: &str,
        text: &str,
        base: &Path,
        env: &Environment,
    ) -> Result<KeyStore, KeyStoreError> {
        let invalid = |problems: Vec<KeyProblem>| KeyStoreError::Invalid {
            path: display.to_owned(),
            text: shared_source(display, text),
            problems,
        };
        if text.trim().is_empty() {
            return Err(invalid(vec![
                KeyProblem::new(
                    "keystore::missing-key",
                    "the key store is empty",
                    Span::START,
                )
                .help("start with `apiVersion: tollgate.dev/v1`, `kind: KeyStore`, `keys: [...]`"),
            ]));
        }
        let tree =
            serde_saphyr::from_str_with_options::<Node>(text, yaml_options()).map_err(|e| {
                let p = yaml_problem(&e, text);
                let code = match p.kind.code() {
                    "manifest::duplicate-key" => "keystore::duplicate-key",
                    "manifest::too-large" => "keystore::too-large",
                    _ => "keystore::yaml-syntax",
                };
                invalid(vec![KeyProblem {
                    code,
                    message: p.message,
                    span: p.span,
                    help: p.help,
                }])
            })?;
        let mut problems = Vec::new();
        let store = validate(&tree, base, env, &mut problems);
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.span.offset);
            return Err(invalid(problems));
        }
        Ok(store)
    }

    /// The shorthand entry for `--key KEY` (a PEM file, or `env://VAR`): named after the file
    /// stem (or the variable), with the role `image-signer`.
    pub fn key_entry(key: &str, env: &Environment) -> Result<KeyEntry, KeyStoreError> {
        let fail = |reason: String| KeyStoreError::Key {
            key: key.to_owned(),
            reason,
        };
        let (name, pem) = if let Some(var) = key.strip_prefix("env://") {
            let pem = env
                .vars
                .get(var)
                .cloned()
                .ok_or_else(|| fail(format!("the environment variable {var} is not set")))?;
            (var.to_owned(), pem)
        } else {
            let path = Path::new(key);
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| fail("the path has no file name".into()))?;
            (name, read_bounded(path, MAX_KEY_FILE_BYTES).map_err(fail)?)
        };
        let public = PublicKey::from_pem(&pem).map_err(fail)?;
        Ok(KeyEntry {
            name,
            roles: vec![IMAGE_SIGNER.to_owned()],
            scopes: Vec::new(),
            trust: Trust::Key(public),
        })
    }

    /// Adds an entry, refusing a name already in the store.
    pub fn add(&mut self, entry: KeyEntry, origin: &str) -> Result<(), KeyStoreError> {
        if self.entries.iter().any(|e| e.name == entry.name) {
            return Err(KeyStoreError::Key {
                key: origin.to_owned(),
                reason: format!(
                    "the key store already has a key named `{}`; rename the file or drop one of them",
                    entry.name
                ),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// `(name, key)` of every public key with the `image-signer` role.
    pub fn image_signer_keys(&self) -> Vec<(&str, &PublicKey)> {
        self.entries
            .iter()
            .filter(|e| e.has_role(IMAGE_SIGNER))
            .filter_map(|e| match &e.trust {
                Trust::Key(k) => Some((e.name.as_str(), k)),
                Trust::Keyless(_) => None,
            })
            .collect()
    }

    /// `(name, constraints)` of every keyless entry with the `image-signer` role.
    pub fn image_signer_identities(&self) -> Vec<(&str, &Keyless)> {
        self.entries
            .iter()
            .filter(|e| e.has_role(IMAGE_SIGNER))
            .filter_map(|e| match &e.trust {
                Trust::Keyless(k) => Some((e.name.as_str(), k)),
                Trust::Key(_) => None,
            })
            .collect()
    }
}

fn read_bounded(path: &Path, limit: u64) -> Result<String, String> {
    let describe = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
        _ => format!("{}: {e}", path.display()),
    };
    let size = std::fs::metadata(path).map_err(describe)?.len();
    if size > limit {
        return Err(format!(
            "{} is {size} bytes; the limit is {limit} bytes",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(describe)?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "keys"];
const ENTRY_KEYS: &[&str] = &["name", "public_key", "roles", "scopes", "keyless"];
const KEYLESS_KEYS: &[&str] = &["issuer", "identity", "identity_regexp", "issuer_regexp"];

fn unknown_keys(node: &Node, allowed: &[&str], what: &str, problems: &mut Vec<KeyProblem>) {
    let Value::Map(entries) = &node.value else {
        return;
    };
    for (key, _) in entries {
        if allowed.contains(&key.name.as_str()) {
            continue;
        }
        let best = allowed
            .iter()
            .map(|a| (strsim::jaro_winkler(a, &key.name), *a))
            .fold((0.0, ""), |acc, x| if x.0 > acc.0 { x } else { acc });
        let help = if best.0 > 0.8 {
            format!("did you mean `{}`?", best.1)
        } else {
            format!("{what} allows: {}", allowed.join(", "))
        };
        problems.push(
            KeyProblem::new(
                "keystore::unknown-key",
                format!("unknown key `{}` in {what}", key.name),
                key.span,
            )
            .help(help),
        );
    }
}

fn string_at<'a>(
    node: &'a Node,
    key: &str,
    what: &str,
    problems: &mut Vec<KeyProblem>,
) -> Option<(&'a str, Span)> {
    let (_, value) = node.get(key)?;
    match &value.value {
        Value::Str(s) => Some((s.as_str(), value.span)),
        _ => {
            problems.push(KeyProblem::new(
                "keystore::wrong-type",
                format!("`{key}` in {what} must be a string"),
                value.span,
            ));
            None
        }
    }
}

fn strings_at(node: &Node, key: &str, what: &str, problems: &mut Vec<KeyProblem>) -> Vec<String> {
    let Some((_, value)) = node.get(key) else {
        return Vec::new();
    };
    let Value::Seq(items) = &value.value else {
        problems.push(
            KeyProblem::new(
                "keystore::wrong-type",
                format!("`{key}` in {what} must be a list of strings"),
                value.span,
            )
            .help(format!("write it as `{key}: [a, b]`")),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Str(s) => out.push(s.clone()),
            _ => problems.push(KeyProblem::new(
                "keystore::wrong-type",
                format!("every entry of `{key}` in {what} must be a string"),
                item.span,
            )),
        }
    }
    out
}

fn validate(
    root: &Node,
    base: &Path,
    env: &Environment,
    problems: &mut Vec<KeyProblem>,
) -> KeyStore {
    let mut store = KeyStore::default();
    if !matches!(root.value, Value::Map(_)) {
        problems.push(KeyProblem::new(
            "keystore::wrong-type",
            "the key store must be a mapping with apiVersion, kind and keys",
            root.span,
        ));
        return store;
    }
    unknown_keys(root, ROOT_KEYS, "the key store", problems);
    for (key, expected) in [("apiVersion", "tollgate.dev/v1"), ("kind", "KeyStore")] {
        match string_at(root, key, "the key store", problems) {
            Some((v, _)) if v == expected => {}
            Some((v, span)) => problems.push(
                KeyProblem::new(
                    "keystore::bad-value",
                    format!("`{key}` is `{v}`; this version of tollgate reads `{expected}`"),
                    span,
                )
                .help(format!("set `{key}: {expected}`")),
            ),
            None if root.get(key).is_none() => problems.push(
                KeyProblem::new(
                    "keystore::missing-key",
                    format!("the key store has no `{key}`"),
                    root.span,
                )
                .help(format!("add `{key}: {expected}`")),
            ),
            None => {}
        }
    }
    let Some((_, keys)) = root.get("keys") else {
        problems.push(
            KeyProblem::new(
                "keystore::missing-key",
                "the key store has no `keys`",
                root.span,
            )
            .help("add `keys:` with at least one entry"),
        );
        return store;
    };
    let Value::Seq(items) = &keys.value else {
        problems.push(KeyProblem::new(
            "keystore::wrong-type",
            "`keys` must be a list of key entries",
            keys.span,
        ));
        return store;
    };
    let mut seen: Vec<(String, Span)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let what = format!("`keys[{i}]`");
        if !matches!(item.value, Value::Map(_)) {
            problems.push(KeyProblem::new(
                "keystore::wrong-type",
                format!("{what} must be a mapping with `name` and `public_key` or `keyless`"),
                item.span,
            ));
            continue;
        }
        unknown_keys(item, ENTRY_KEYS, &what, problems);
        let name = match string_at(item, "name", &what, problems) {
            Some((n, span)) if !n.trim().is_empty() => {
                if let Some((_, first)) = seen.iter().find(|(s, _)| s == n) {
                    problems.push(
                        KeyProblem::new(
                            "keystore::duplicate-name",
                            format!(
                                "duplicate key name `{n}` (first used at line {})",
                                first.line
                            ),
                            span,
                        )
                        .help("each key needs a unique `name`; signers are reported by it"),
                    );
                } else {
                    seen.push((n.to_owned(), span));
                }
                Some(n.to_owned())
            }
            Some((_, span)) => {
                problems.push(KeyProblem::new(
                    "keystore::bad-value",
                    format!("`name` in {what} is empty"),
                    span,
                ));
                None
            }
            None => {
                if item.get("name").is_none() {
                    problems.push(
                        KeyProblem::new(
                            "keystore::missing-key",
                            format!("{what} has no `name`"),
                            item.span,
                        )
                        .help("add `name: <unique name>`"),
                    );
                }
                None
            }
        };
        let roles = strings_at(item, "roles", &what, problems);
        let scopes = strings_at(item, "scopes", &what, problems);
        let trust = match (item.get("public_key"), item.get("keyless")) {
            (Some(_), Some((k, _))) => {
                problems.push(
                    KeyProblem::new(
                        "keystore::bad-value",
                        format!("{what} has both `public_key` and `keyless`"),
                        k.span,
                    )
                    .help("an entry is either a public key or a keyless identity; split it in two"),
                );
                None
            }
            (None, None) => {
                problems.push(
                    KeyProblem::new(
                        "keystore::missing-key",
                        format!("{what} has neither `public_key` nor `keyless`"),
                        item.span,
                    )
                    .help("add `public_key: keys/<name>.pub` (a PEM file, inline PEM or env://VAR)"),
                );
                None
            }
            (Some(_), None) => string_at(item, "public_key", &what, problems).and_then(
                |(text, span)| match resolve_public_key(text, base, env) {
                    Ok(k) => Some(Trust::Key(k)),
                    Err(reason) => {
                        problems.push(
                            KeyProblem::new(
                                "keystore::bad-key",
                                format!("`public_key` of {what}: {reason}"),
                                span,
                            )
                            .help("give a PEM public key file relative to the key store, inline PEM, or env://VAR; supported: ECDSA P-256/P-384, Ed25519, RSA"),
                        );
                        None
                    }
                },
            ),
            (None, Some((_, node))) => {
                let kw = format!("`keyless` of {what}");
                if !matches!(node.value, Value::Map(_)) {
                    problems.push(KeyProblem::new(
                        "keystore::wrong-type",
                        format!("{kw} must be a mapping"),
                        node.span,
                    ));
                    None
                } else {
                    unknown_keys(node, KEYLESS_KEYS, &kw, problems);
                    let get = |k: &str, p: &mut Vec<KeyProblem>| {
                        string_at(node, k, &kw, p).map(|(s, _)| s.to_owned())
                    };
                    let keyless = Keyless {
                        issuer: get("issuer", problems),
                        issuer_regexp: get("issuer_regexp", problems),
                        identity: get("identity", problems),
                        identity_regexp: get("identity_regexp", problems),
                    };
                    if keyless.issuer.is_none() && keyless.issuer_regexp.is_none()
                        || keyless.identity.is_none() && keyless.identity_regexp.is_none()
                    {
                        problems.push(
                            KeyProblem::new(
                                "keystore::missing-key",
                                format!("{kw} needs an issuer and an identity"),
                                node.span,
                            )
                            .help("set `issuer` or `issuer_regexp`, and `identity` or `identity_regexp`"),
                        );
                    }
                    // Checked here so a bad pattern is reported where it is written, instead of
                    // the entry silently trusting nothing at verification time.
                    for (field, pattern) in [
                        ("issuer_regexp", &keyless.issuer_regexp),
                        ("identity_regexp", &keyless.identity_regexp),
                    ] {
                        if let Some(Err(e)) = pattern.as_deref().map(regex::Regex::new) {
                            problems.push(KeyProblem::new(
                                "keystore::invalid-regexp",
                                format!("`{field}` of {kw} is not a valid regular expression: {e}"),
                                node.span,
                            ));
                        }
                    }
                    Some(Trust::Keyless(keyless))
                }
            }
        };
        if let (Some(name), Some(trust)) = (name, trust) {
            store.entries.push(KeyEntry {
                name,
                roles,
                scopes,
                trust,
            });
        }
    }
    store
}

fn resolve_public_key(text: &str, base: &Path, env: &Environment) -> Result<PublicKey, String> {
    let pem = if let Some(var) = text.strip_prefix("env://") {
        env.vars
            .get(var)
            .cloned()
            .ok_or_else(|| format!("the environment variable {var} is not set"))?
    } else if text.contains("-----BEGIN") {
        text.to_owned()
    } else {
        read_bounded(&base.join(text), MAX_KEY_FILE_BYTES)?
    };
    PublicKey::from_pem(&pem)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn p256_pair() -> (p256::ecdsa::SigningKey, String) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pem = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (sk, pem)
    }

    #[test]
    fn p256_signatures_verify_in_der_and_fixed_form() {
        let (sk, pem) = p256_pair();
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), "ECDSA P-256");
        let sig: p256::ecdsa::Signature = sk.sign(b"payload");
        assert!(key.verify(b"payload", sig.to_der().as_bytes()));
        assert!(key.verify(b"payload", &sig.to_bytes()));
        assert!(!key.verify(b"other", sig.to_der().as_bytes()));
        assert!(!key.verify(b"payload", b"garbage"));
    }

    #[test]
    fn p384_signatures_verify_with_sha384_and_sha256() {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let sk = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
        let pem = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), "ECDSA P-384");
        let sig: p384::ecdsa::Signature = sk.sign(b"payload");
        assert!(key.verify(b"payload", sig.to_der().as_bytes()));
        let sig256: p384::ecdsa::Signature =
            sk.sign_prehash(&sha2::Sha256::digest(b"payload")).unwrap();
        assert!(key.verify(b"payload", sig256.to_der().as_bytes()));
        assert!(!key.verify(b"payloaX", sig.to_der().as_bytes()));
    }

    #[test]
    fn ed25519_signatures_verify() {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let pem = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), "Ed25519");
        let sig = sk.sign(b"payload");
        assert!(key.verify(b"payload", &sig.to_bytes()));
        assert!(!key.verify(b"tampered", &sig.to_bytes()));
    }

    #[test]
    fn rsa_pkcs1v15_and_pss_verify() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::EncodePublicKey as _;
        use rsa::sha2::Sha256;
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let mut rng = rand_core::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let public = private.to_public_key();
        let spki = public.to_public_key_pem(LineEnding::LF).unwrap();
        let pkcs1 = public.to_pkcs1_pem(LineEnding::LF).unwrap();
        for pem in [spki, pkcs1] {
            let key = PublicKey::from_pem(&pem).unwrap();
            assert_eq!(key.algorithm(), "RSA");
            let v15 = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone()).sign(b"payload");
            assert!(key.verify(b"payload", &v15.to_bytes()));
            let pss = rsa::pss::SigningKey::<Sha256>::new(private.clone())
                .sign_with_rng(&mut rng, b"payload");
            assert!(key.verify(b"payload", &pss.to_bytes()));
            assert!(!key.verify(b"other", &pss.to_bytes()));
        }
    }

    #[test]
    fn private_keys_and_garbage_are_refused_with_a_reason() {
        use p256::pkcs8::EncodePrivateKey;
        let (sk, _) = p256_pair();
        let private = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        let err = PublicKey::from_pem(&private).unwrap_err();
        assert!(err.contains("private key"), "{err}");
        assert!(PublicKey::from_pem("hello").unwrap_err().contains("PEM"));
    }

    #[test]
    fn pem_fixture_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys");
        for (file, algorithm) in [
            ("p256.pub", "ECDSA P-256"),
            ("p384.pub", "ECDSA P-384"),
            ("ed25519.pub", "Ed25519"),
            ("rsa.pub", "RSA"),
        ] {
            let pem = std::fs::read_to_string(dir.join(file)).unwrap();
            assert_eq!(PublicKey::from_pem(&pem).unwrap().algorithm(), algorithm);
        }
    }

    fn parse(text: &str, env: &Environment) -> Result<KeyStore, KeyStoreError> {
        KeyStore::parse("ks.yaml", text, Path::new("."), env)
    }

    fn problems(text: &str) -> Vec<KeyProblem> {
        match parse(text, &env(&[])) {
            Err(KeyStoreError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn a_keyless_entry_with_a_bad_regexp_is_a_problem() {
        let text = "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: ci\n    keyless: {issuer: x, identity_regexp: '^(acme'}\n    roles: [image-signer]\n";
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, "keystore::invalid-regexp");
        assert!(found[0].message.contains("identity_regexp"), "{found:?}");
    }

    #[test]
    fn keystore_with_inline_env_and_keyless_entries_loads() {
        let (_, pem) = p256_pair();
        let indented = pem.replace('\n', "\n      ");
        let text = format!(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: release\n    public_key: |\n      {indented}\n    roles: [image-signer]\n  - name: alice\n    public_key: env://ALICE_KEY\n    roles: [signoff:security]\n    scopes: [waive:resource-quota-*]\n  - name: ci\n    keyless: {{issuer: https://token.actions.githubusercontent.com, identity_regexp: '^https://github\\.com/acme/'}}\n    roles: [image-signer]\n"
        );
        let store = parse(&text, &env(&[("ALICE_KEY", &pem)])).unwrap();
        assert_eq!(store.entries.len(), 3);
        let signers: Vec<&str> = store.image_signer_keys().iter().map(|(n, _)| *n).collect();
        assert_eq!(signers, ["release"]);
        assert_eq!(store.entries[1].scopes, ["waive:resource-quota-*"]);
        assert!(matches!(store.entries[2].trust, Trust::Keyless(_)));
    }

    #[test]
    fn unknown_keys_and_duplicates_are_located() {
        let p = problems(
            "apiVersion: tollgate.dev/v1\nkind: KeyStore\nkeys:\n  - name: a\n    public_key: env://NOPE\n    rolez: [image-signer]\n  - name: a\n    keyless: {issuer: x, identity: y}\n",
        );
        let codes: Vec<(&str, u64, u64)> = p
            .iter()
            .map(|p| (p.code, p.span.line, p.span.column))
            .collect();
        assert!(codes.contains(&("keystore::bad-key", 5, 17)), "{codes:?}");
        assert!(
            codes.contains(&("keystore::unknown-key", 6, 5)),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("keystore::duplicate-name", 7, 11)),
            "{codes:?}"
        );
        let unknown = p
            .iter()
            .find(|p| p.code == "keystore::unknown-key")
            .unwrap();
        assert_eq!(unknown.help.as_deref(), Some("did you mean `roles`?"));
    }

    #[test]
    fn wrong_header_missing_keys_and_yaml_errors_are_problems() {
        let p = problems("apiVersion: v2\nkind: KeyStore\n");
        assert!(p.iter().any(|p| p.code == "keystore::bad-value"));
        assert!(p.iter().any(|p| p.code == "keystore::missing-key"));
        let p = problems("apiVersion: tollgate.dev/v1\nkind: KeyStore\nkind: KeyStore\n");
        assert_eq!(p[0].code, "keystore::duplicate-key");
        assert_eq!(p[0].span.line, 3);
        let p = problems("keys: [unclosed\n");
        assert_eq!(p[0].code, "keystore::yaml-syntax");
    }

    #[test]
    fn key_shorthand_is_named_after_the_file_stem() {
        let dir = tempfile::tempdir().unwrap();
        let (_, pem) = p256_pair();
        let path = dir.path().join("release.pub");
        std::fs::write(&path, &pem).unwrap();
        let entry = KeyStore::key_entry(path.to_str().unwrap(), &env(&[])).unwrap();
        assert_eq!(entry.name, "release");
        assert!(entry.has_role(IMAGE_SIGNER));
        let entry = KeyStore::key_entry("env://COSIGN_PUB", &env(&[("COSIGN_PUB", &pem)])).unwrap();
        assert_eq!(entry.name, "COSIGN_PUB");
        let mut store = KeyStore::default();
        store.add(entry.clone(), "a").unwrap();
        assert!(store.add(entry, "b").is_err());
        let missing = KeyStore::key_entry("/nonexistent/k.pub", &env(&[])).unwrap_err();
        assert!(missing.to_string().contains("no such file"), "{missing}");
    }
}
