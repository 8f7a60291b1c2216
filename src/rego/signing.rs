//! Signed OPA bundles: `.signatures.json` checked before anything in the bundle is parsed.
//!
//! The format is OPA's (`opa sign`, `opa build --signing-key`): `{"signatures": [JWT]}` with
//! exactly one compact JWS whose payload is `{"files": [{"name", "hash", "algorithm"}], "keyid"?,
//! "scope"?, "iat"?, "iss"?}`. A file's hash is over its bytes, except for the structured files
//! OPA names (`data.json`, `data.yaml`, `.manifest` by base name), whose hash is over the
//! canonical JSON OPA's `bundle/hash.go` writes: object keys sorted, no whitespace, numbers as
//! written, strings escaped as Go's `encoding/json` escapes them with HTML escaping off.
//!
//! Stricter than OPA on purpose: every file in the bundle except `/.signatures.json` must be
//! listed (OPA lets `exclude_files` skip some; we have no such option), MD5 and SHA-1 file hashes
//! are refused, and a JWT `kid` that names a different key than `--bundle-verification-key-id`
//! is an error instead of being overridden.

use super::jwt;
use crate::keystore::PublicKey;
use serde_json::Value as Json;
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::Path;

/// `--bundle-key` and `--bundle-verification-key-id`.
#[derive(Debug, Clone)]
pub struct BundleKey {
    /// The public key.
    pub key: PublicKey,
    /// Its id (OPA's `--verification-key-id`, default `default`).
    pub id: String,
}

impl BundleKey {
    /// Reads a PEM public key file.
    pub fn load(path: &Path, id: &str) -> Result<BundleKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--bundle-key {}: {e}", path.display()))?;
        let key = PublicKey::from_pem(&text)
            .map_err(|e| format!("--bundle-key {}: {e}", path.display()))?;
        Ok(BundleKey {
            key,
            id: id.to_owned(),
        })
    }
}

/// One file of a bundle: its path inside the bundle (`/`-separated, no leading slash) and bytes.
#[derive(Debug, Clone)]
pub struct BundleFile {
    /// Path inside the bundle.
    pub path: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// The error code of a failed verification (exit 2 in every command).
pub const ERROR_CODE: &str = "bundle_signature_error";

/// The bundle-relative name of the signatures file.
pub const SIGNATURES_FILE: &str = ".signatures.json";

/// Verifies `files` (every file of the bundle, `.signatures.json` included) against `key`.
/// The error names the bundle (`shown`) and the offending file.
pub fn verify_bundle(shown: &str, files: &[BundleFile], key: &BundleKey) -> Result<(), String> {
    let fail = |message: String| Err(format!("{shown}: {message}"));
    let Some(signatures) = files.iter().find(|f| f.path == SIGNATURES_FILE) else {
        return fail(format!(
            "bundle is not signed (no {SIGNATURES_FILE}) but --bundle-key was given"
        ));
    };
    let config: Json = match serde_json::from_slice(&signatures.bytes) {
        Ok(v) => v,
        Err(e) => return fail(format!("{SIGNATURES_FILE}: invalid JSON: {e}")),
    };
    if config
        .get("plugin")
        .and_then(Json::as_str)
        .is_some_and(|p| !p.is_empty())
    {
        return fail(format!(
            "{SIGNATURES_FILE}: signing plugins are not supported"
        ));
    }
    let tokens: Vec<&str> = config
        .get("signatures")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let token = match tokens.as_slice() {
        [one] => *one,
        [] => {
            return fail(format!(
                "{SIGNATURES_FILE}: missing JWT (expected exactly one)"
            ));
        }
        _ => {
            return fail(format!(
                "{SIGNATURES_FILE}: multiple JWTs not supported (expected exactly one)"
            ));
        }
    };
    let payload =
        verify_token(token, key).map_err(|e| format!("{shown}: {SIGNATURES_FILE}: {e}"))?;
    let mut listed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for entry in payload
        .get("files")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let get = |k: &str| entry.get(k).and_then(Json::as_str).unwrap_or("").to_owned();
        listed.insert(
            get("name").trim_start_matches('/').to_owned(),
            (get("hash"), get("algorithm")),
        );
    }
    for file in files.iter().filter(|f| f.path != SIGNATURES_FILE) {
        let Some((want, algorithm)) = listed.remove(&file.path) else {
            return fail(format!(
                "file {} is not included in the bundle signature",
                file.path
            ));
        };
        let got = hash_file(&file.path, &file.bytes, &algorithm)
            .map_err(|e| format!("{shown}: {}: {e}", file.path))?;
        let want_bytes = hex::decode(&want)
            .map_err(|_| format!("{shown}: {}: signed hash is not hex", file.path))?;
        if want_bytes != got {
            return fail(format!(
                "{}: digest mismatch (want {want}, got {}): the file was changed after signing",
                file.path,
                hex::encode(&got)
            ));
        }
    }
    if !listed.is_empty() {
        let missing: Vec<&str> = listed.keys().map(String::as_str).collect();
        return fail(format!(
            "file(s) {} specified in the bundle signature but not found in the bundle",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Checks the JWT's signature, key id and scope; returns its payload.
fn verify_token(token: &str, key: &BundleKey) -> Result<Json, String> {
    let jwt = jwt::decode(token)?;
    let payload = jwt.payload_json()?;
    let named = jwt
        .kid()
        .or_else(|| payload.get("keyid").and_then(Json::as_str))
        .filter(|k| !k.is_empty());
    if let Some(kid) = named
        && kid != key.id
    {
        return Err(format!(
            "signed with key id `{kid}`, but the verification key id is `{}` (--bundle-verification-key-id)",
            key.id
        ));
    }
    let alg = jwt.alg().ok_or("JWT header has no `alg`")?;
    if !jwt::verify_signature(alg, &key.key, jwt.signing_input.as_bytes(), &jwt.signature)? {
        return Err(
            "signature verification failed: the bundle was not signed by --bundle-key".into(),
        );
    }
    let scope = payload.get("scope").and_then(Json::as_str).unwrap_or("");
    if !scope.is_empty() {
        return Err(format!(
            "scope mismatch: the signature has scope `{scope}`, none expected"
        ));
    }
    Ok(payload)
}

/// The digest OPA computes for a bundle file.
pub fn hash_file(path: &str, bytes: &[u8], algorithm: &str) -> Result<Vec<u8>, String> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let content: Vec<u8> = match base {
        "data.json" | ".manifest" => {
            let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
            canonical_json(text)?
        }
        "data.yaml" => {
            let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
            let value: Json =
                serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
            canonical_json(&value.to_string())?
        }
        _ => bytes.to_vec(),
    };
    Ok(match algorithm {
        "SHA-256" => sha2::Sha256::digest(&content).to_vec(),
        "SHA-224" => sha2::Sha224::digest(&content).to_vec(),
        "SHA-384" => sha2::Sha384::digest(&content).to_vec(),
        "SHA-512" => sha2::Sha512::digest(&content).to_vec(),
        "SHA-512-224" => sha2::Sha512_224::digest(&content).to_vec(),
        "SHA-512-256" => sha2::Sha512_256::digest(&content).to_vec(),
        "MD5" | "SHA-1" => return Err(format!("hash algorithm {algorithm} is too weak")),
        "" => return Err("no hashing algorithm given".into()),
        other => return Err(format!("unsupported hashing algorithm {other}")),
    })
}

/// The canonical form OPA hashes a structured file in (see the module documentation).
pub fn canonical_json(text: &str) -> Result<Vec<u8>, String> {
    let mut parser = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    parser.ws();
    let value = parser.value(0)?;
    parser.ws();
    if parser.i != parser.s.len() {
        return Err("invalid JSON: trailing characters".into());
    }
    let mut out = Vec::new();
    write_canonical(&value, &mut out);
    Ok(out)
}

enum Node {
    /// A primitive, already encoded (numbers as written, `true`, `false`, `null`).
    Raw(String),
    Str(String),
    Array(Vec<Node>),
    Object(BTreeMap<String, Node>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("invalid JSON at byte {}: {what}", self.i))
    }

    fn value(&mut self, depth: usize) -> Result<Node, String> {
        if depth > 512 {
            return self.err("nested too deeply");
        }
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut map = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Node::Object(map));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected `:`");
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Node::Object(map));
                        }
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Node::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Node::Array(items));
                        }
                        _ => return self.err("expected `,` or `]`"),
                    }
                }
            }
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(_) => {
                for word in ["true", "false", "null"] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(Node::Raw(word.into()));
                    }
                }
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                let number = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                if number.is_empty() || serde_json::from_str::<serde_json::Number>(number).is_err()
                {
                    self.i = start;
                    return self.err("expected a value");
                }
                Ok(Node::Raw(number.to_owned()))
            }
            None => self.err("unexpected end"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                let literal = std::str::from_utf8(&self.s[start..self.i])
                    .map_err(|_| "invalid JSON: string is not UTF-8".to_owned())?;
                return serde_json::from_str::<String>(literal)
                    .map_err(|e| format!("invalid JSON string at byte {start}: {e}"));
            }
        }
        self.err("unterminated string")
    }
}

fn write_canonical(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Raw(text) => out.extend_from_slice(text.as_bytes()),
        Node::Str(s) => write_go_string(s, out),
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Node::Object(map) => {
            out.push(b'{');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_go_string(key, out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
    }
}

/// A string as Go's `encoding/json` writes it with `SetEscapeHTML(false)`.
fn write_go_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_numbers() {
        let text = r#"{ "b": [1.0, 2e3, "x<>&\u2028"], "a": {"z": null, "y": true} }"#;
        assert_eq!(
            String::from_utf8(canonical_json(text).expect("test value")).expect("test value"),
            "{\"a\":{\"y\":true,\"z\":null},\"b\":[1.0,2e3,\"x<>&\\u2028\"]}"
        );
        assert!(canonical_json("{} x").is_err());
        assert!(canonical_json("[1,]").is_err());
    }

    #[test]
    fn plain_files_hash_their_bytes() {
        let got = hash_file("a/b.rego", b"package a\n", "SHA-256").expect("test value");
        assert_eq!(got, sha2::Sha256::digest(b"package a\n").to_vec());
        assert!(hash_file("x.rego", b"", "MD5").is_err());
    }
}
