//! Private keys: generation (`tollgate keygen`), reading and signing.
//!
//! Keys are written in cosign's encrypted format, so `cosign sign --key` and tollgate share key
//! files: a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` whose body is JSON
//! `{"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": b64},
//! "cipher": {"name": "nacl/secretbox", "nonce": b64}, "ciphertext": b64}`, the ciphertext being
//! NaCl secretbox (XSalsa20-Poly1305, tag first) over the PKCS#8 DER of the key, with the box key
//! derived by scrypt from the passphrase. The older `ENCRYPTED COSIGN PRIVATE KEY` label and plain
//! PKCS#8 `PRIVATE KEY` PEM (ECDSA P-256 or Ed25519) are read too. The passphrase comes from
//! `COSIGN_PASSWORD` (as cosign) or `TOLLGATE_PASSWORD`; empty is allowed, as cosign allows it.

use crate::context::Environment;
use crate::keystore::PublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::{Aead, KeyInit};
use serde_json::{Value as Json, json};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The PEM label cosign 2.x writes.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label older cosign writes (also read).
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// The only scrypt parameters cosign accepts (log2 N = 15).
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_N: u64 = 1 << SCRYPT_LOG_N;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Why a private key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The key file could not be read.
    #[error("cannot read private key {key}: {reason}")]
    Read {
        /// The key as given.
        key: String,
        /// Why.
        reason: String,
    },
    /// The key is not in a format tollgate reads.
    #[error("private key {key} is not usable: {reason}")]
    Format {
        /// The key as given.
        key: String,
        /// Why.
        reason: String,
    },
    /// Decryption failed: the passphrase is wrong or the file was altered.
    #[error(
        "cannot decrypt private key {key}: wrong passphrase (set COSIGN_PASSWORD or TOLLGATE_PASSWORD) or a corrupted key file"
    )]
    WrongPassphrase {
        /// The key as given.
        key: String,
    },
    /// Encryption or encoding failed.
    #[error("cannot encode the private key: {0}")]
    Encode(String),
}

/// A private signing key.
#[derive(Clone)]
pub enum PrivateKey {
    /// ECDSA P-256; signatures are ASN.1 DER over SHA-256, as cosign makes them.
    P256(p256::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, {})", self.algorithm(), self.key_id())
    }
}

impl PrivateKey {
    /// A new random ECDSA P-256 key from the operating system's generator.
    pub fn generate_p256() -> PrivateKey {
        PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    /// The algorithm, for messages.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PrivateKey::P256(_) => "ECDSA P-256",
            PrivateKey::Ed25519(_) => "Ed25519",
        }
    }

    /// The public half, as the key store holds it.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        spki_der(&self.public_key()).unwrap_or_default()
    }

    /// The public key as `PUBLIC KEY` PEM (what `NAME.pub` holds).
    pub fn public_pem(&self) -> String {
        spki::der::pem::encode_string(
            "PUBLIC KEY",
            spki::der::pem::LineEnding::LF,
            &self.spki_der(),
        )
        .unwrap_or_default()
    }

    /// The key id: SHA-256 hex of the public key's DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.spki_der()))
    }

    /// Signs `message`: ECDSA P-256 over SHA-256 (DER), or Ed25519.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match self {
            PrivateKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
        }
    }

    fn pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, SigningError> {
        use p256::pkcs8::EncodePrivateKey;
        let doc = match self {
            PrivateKey::P256(k) => k.to_pkcs8_der(),
            PrivateKey::Ed25519(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| SigningError::Encode(e.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The key in cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`).
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> Result<String, SigningError> {
        use rand_core::RngCore;
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        rand_core::OsRng.fill_bytes(&mut salt);
        rand_core::OsRng.fill_bytes(&mut nonce);
        let key = derive_box_key(passphrase, &salt)?;
        let cipher = crypto_secretbox::XSalsa20Poly1305::new((&*key).into());
        let plaintext = self.pkcs8_der()?;
        let ciphertext = cipher
            .encrypt((&nonce).into(), plaintext.as_slice())
            .map_err(|e| SigningError::Encode(e.to_string()))?;
        // Field order and names as go-securesystemslib's `encrypted` package marshals them.
        let body = json!({
            "kdf": {
                "name": "scrypt",
                "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": B64.encode(salt),
            },
            "cipher": {"name": "nacl/secretbox", "nonce": B64.encode(nonce)},
            "ciphertext": B64.encode(ciphertext),
        });
        spki::der::pem::encode_string(
            SIGSTORE_LABEL,
            spki::der::pem::LineEnding::LF,
            body.to_string().as_bytes(),
        )
        .map_err(|e| SigningError::Encode(e.to_string()))
    }

    /// Reads a private key from PEM text: cosign's encrypted format (either label) or plain
    /// PKCS#8 `PRIVATE KEY`. `name` is how the key is named in errors.
    pub fn from_pem(name: &str, pem: &str, passphrase: &[u8]) -> Result<PrivateKey, SigningError> {
        let format = |reason: String| SigningError::Format {
            key: name.to_owned(),
            reason,
        };
        let (label, body) = spki::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| format(format!("not a PEM block ({e})")))?;
        let body = Zeroizing::new(body);
        match label {
            SIGSTORE_LABEL | COSIGN_LABEL => {
                let der = decrypt(name, &body, passphrase)?;
                Self::from_pkcs8_der(&der).map_err(format)
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(&body).map_err(format),
            "PUBLIC KEY" => Err(format(
                "this is a public key; signing needs the private key (NAME.key)".into(),
            )),
            other => Err(format(format!(
                "unexpected PEM label `{other}`; expected `{SIGSTORE_LABEL}`, `{COSIGN_LABEL}` or `PRIVATE KEY`"
            ))),
        }
    }

    /// Parses PKCS#8 DER: ECDSA P-256 or Ed25519.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, String> {
        use p256::pkcs8::DecodePrivateKey;
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::P256(k));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(PrivateKey::Ed25519(k));
        }
        Err("not a PKCS#8 ECDSA P-256 or Ed25519 private key (the supported kinds)".into())
    }

    /// Reads the key `key` (a file, or `env://VAR` holding the PEM) with the passphrase from
    /// `env` ([`passphrase`]).
    pub fn load(key: &str, env: &Environment) -> Result<PrivateKey, SigningError> {
        let read = |reason: String| SigningError::Read {
            key: key.to_owned(),
            reason,
        };
        let pem = Zeroizing::new(if let Some(var) = key.strip_prefix("env://") {
            env.vars
                .get(var)
                .cloned()
                .ok_or_else(|| read(format!("the environment variable {var} is not set")))?
        } else {
            let path = std::path::Path::new(key);
            let size = std::fs::metadata(path)
                .map_err(|e| read(e.to_string()))?
                .len();
            if size > MAX_KEY_FILE_BYTES {
                return Err(read(format!(
                    "{size} bytes; a key file is at most {MAX_KEY_FILE_BYTES}"
                )));
            }
            std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?
        });
        let pass = passphrase(env);
        Self::from_pem(key, &pem, pass.as_bytes())
    }
}

/// The passphrase for private keys: `COSIGN_PASSWORD`, else `TOLLGATE_PASSWORD`, else empty.
pub fn passphrase(env: &Environment) -> Zeroizing<String> {
    Zeroizing::new(
        env.vars
            .get("COSIGN_PASSWORD")
            .or_else(|| env.vars.get("TOLLGATE_PASSWORD"))
            .cloned()
            .unwrap_or_default(),
    )
}

/// The DER SubjectPublicKeyInfo of a public key.
pub fn spki_der(key: &PublicKey) -> Result<Vec<u8>, String> {
    use p256::pkcs8::EncodePublicKey;
    let doc = match key {
        PublicKey::P256(k) => k.to_public_key_der(),
        PublicKey::P384(k) => k.to_public_key_der(),
        PublicKey::Ed25519(k) => k.to_public_key_der(),
        PublicKey::Rsa(k) => k.to_public_key_der(),
    }
    .map_err(|e| e.to_string())?;
    Ok(doc.as_bytes().to_vec())
}

/// The key id of a public key: SHA-256 hex of its DER SubjectPublicKeyInfo.
pub fn key_id(key: &PublicKey) -> String {
    hex::encode(Sha256::digest(spki_der(key).unwrap_or_default()))
}

fn derive_box_key(passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, SigningError> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, 32)
        .map_err(|e| SigningError::Encode(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase, salt, &params, &mut *key)
        .map_err(|e| SigningError::Encode(e.to_string()))?;
    Ok(key)
}

fn decrypt(name: &str, body: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, SigningError> {
    let format = |reason: &str| SigningError::Format {
        key: name.to_owned(),
        reason: format!("encrypted key: {reason}"),
    };
    let doc: Json = serde_json::from_slice(body).map_err(|_| format("the PEM body is not JSON"))?;
    let text = |pointer: &str| doc.pointer(pointer).and_then(Json::as_str);
    let bytes = |pointer: &str, what: &str| -> Result<Vec<u8>, SigningError> {
        text(pointer)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| format(&format!("missing or invalid {what}")))
    };
    if text("/kdf/name") != Some("scrypt") {
        return Err(format("the key derivation is not scrypt"));
    }
    let params = (
        doc.pointer("/kdf/params/N").and_then(Json::as_u64),
        doc.pointer("/kdf/params/r").and_then(Json::as_u64),
        doc.pointer("/kdf/params/p").and_then(Json::as_u64),
    );
    // As cosign (go-securesystemslib CheckParams): only the parameters it writes are accepted.
    if params
        != (
            Some(SCRYPT_N),
            Some(u64::from(SCRYPT_R)),
            Some(u64::from(SCRYPT_P)),
        )
    {
        return Err(format("scrypt parameters other than N=32768, r=8, p=1"));
    }
    if text("/cipher/name") != Some("nacl/secretbox") {
        return Err(format("the cipher is not nacl/secretbox"));
    }
    let salt = bytes("/kdf/salt", "salt")?;
    let nonce = bytes("/cipher/nonce", "nonce")?;
    if nonce.len() != NONCE_LEN {
        return Err(format("the nonce is not 24 bytes"));
    }
    let ciphertext = bytes("/ciphertext", "ciphertext")?;
    let key = derive_box_key(passphrase, &salt)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new((&*key).into());
    let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap_or([0; NONCE_LEN]);
    cipher
        .decrypt((&nonce).into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| SigningError::WrongPassphrase {
            key: name.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_keys_round_trip() {
        let key = PrivateKey::generate_p256();
        let pem = key.to_encrypted_pem(b"hunter2").expect("encrypt");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pem("k", &pem, b"hunter2").expect("decrypt");
        assert_eq!(back.key_id(), key.key_id());
        let sig = back.sign(b"message");
        assert!(key.public_key().verify(b"message", &sig));
        assert!(!key.public_key().verify(b"other", &sig));
        // The older label is read too.
        let old = pem.replace(SIGSTORE_LABEL, COSIGN_LABEL);
        assert!(PrivateKey::from_pem("k", &old, b"hunter2").is_ok());
    }

    #[test]
    fn a_wrong_passphrase_is_a_clear_error() {
        let key = PrivateKey::generate_p256();
        let pem = key.to_encrypted_pem(b"").expect("encrypt");
        assert!(PrivateKey::from_pem("k", &pem, b"").is_ok());
        let err = PrivateKey::from_pem("k.key", &pem, b"nope").expect_err("wrong pass");
        assert!(matches!(err, SigningError::WrongPassphrase { .. }));
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }

    #[test]
    fn other_scrypt_parameters_are_refused() {
        let key = PrivateKey::generate_p256();
        let pem = key.to_encrypted_pem(b"").expect("encrypt");
        let (label, body) = spki::der::pem::decode_vec(pem.as_bytes()).expect("pem");
        let text = String::from_utf8(body)
            .expect("utf8")
            .replace("32768", "16384");
        let pem =
            spki::der::pem::encode_string(label, spki::der::pem::LineEnding::LF, text.as_bytes())
                .expect("pem");
        let err = PrivateKey::from_pem("k", &pem, b"").expect_err("params");
        assert!(err.to_string().contains("N=32768"), "{err}");
    }

    #[test]
    fn plain_pkcs8_keys_are_read() {
        use p256::pkcs8::EncodePrivateKey;
        let p = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
        let pem = p
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem")
            .to_string();
        let key = PrivateKey::from_pem("p", &pem, b"").expect("p256");
        assert_eq!(key.algorithm(), "ECDSA P-256");
        let e = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pem = e
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem")
            .to_string();
        let key = PrivateKey::from_pem("e", &pem, b"").expect("ed25519");
        let sig = key.sign(b"m");
        assert!(key.public_key().verify(b"m", &sig));
        let public = key.public_pem();
        assert!(PublicKey::from_pem(&public).is_ok());
        assert_eq!(key_id(&key.public_key()), key.key_id());
        assert!(PrivateKey::from_pem("x", &public, b"").is_err());
    }
}
