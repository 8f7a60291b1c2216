//! Signature primitives for Sigstore: verification of a message or a precomputed digest under a
//! key, for the algorithms Sigstore uses (ECDSA P-256/P-384, Ed25519, RSA PKCS#1 v1.5).

use crate::keystore::PublicKey;
use der::oid::ObjectIdentifier;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A hash algorithm used by a signature or a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The hash named by a digest-algorithm OID.
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Hash> {
        match oid.to_string().as_str() {
            "2.16.840.1.101.3.4.2.1" => Some(Hash::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Hash::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Hash::Sha512),
            _ => None,
        }
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Parses a key given as SPKI DER, or PKCS#1 DER for RSA keys that the trusted root stores raw.
pub fn parse_key(der: &[u8]) -> Result<PublicKey, String> {
    match PublicKey::from_spki_der(der) {
        Ok(k) => Ok(k),
        Err(spki_err) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            rsa::RsaPublicKey::from_pkcs1_der(der)
                .map(PublicKey::Rsa)
                .map_err(|_| spki_err)
        }
    }
}

/// Verifies `signature` over a precomputed `digest` made with `hash`.
pub fn verify_digest(key: &PublicKey, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    match key {
        PublicKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
            .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
        PublicKey::P384(k) => p384::ecdsa::Signature::from_der(signature)
            .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
        // Pure Ed25519 signs the message, not a digest of it.
        PublicKey::Ed25519(_) => false,
        PublicKey::Rsa(k) => {
            let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return false;
            };
            match hash {
                Hash::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone())
                    .verify_prehash(digest, &sig)
                    .is_ok(),
                Hash::Sha384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(k.clone())
                    .verify_prehash(digest, &sig)
                    .is_ok(),
                Hash::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(k.clone())
                    .verify_prehash(digest, &sig)
                    .is_ok(),
            }
        }
    }
}

/// Verifies `signature` over `message` hashed with `hash` (Ed25519 signs the message itself).
pub fn verify_message(key: &PublicKey, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
    match key {
        PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        _ => verify_digest(key, hash, &hash.digest(message), signature),
    }
}

/// The hash a key's Sigstore signatures use: SHA-384 for P-384, SHA-256 otherwise.
pub fn default_hash(key: &PublicKey) -> Hash {
    match key {
        PublicKey::P384(_) => Hash::Sha384,
        _ => Hash::Sha256,
    }
}

/// Verifies an X.509/CMS signature whose algorithm is `alg` (a signature-algorithm OID; for a
/// bare key-algorithm OID as CMS allows, `fallback` names the digest).
pub fn verify_by_oid(
    key: &PublicKey,
    alg: ObjectIdentifier,
    fallback: Option<Hash>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let hash = match alg.to_string().as_str() {
        "1.2.840.10045.4.3.2" | "1.2.840.113549.1.1.11" => Hash::Sha256,
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => Hash::Sha384,
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => Hash::Sha512,
        "1.3.101.112" => {
            return matches!(key, PublicKey::Ed25519(_))
                && verify_message(key, Hash::Sha256, message, signature);
        }
        "1.2.840.10045.2.1" | "1.2.840.113549.1.1.1" => match fallback {
            Some(h) => h,
            None => return false,
        },
        _ => return false,
    };
    if matches!(key, PublicKey::Ed25519(_)) {
        return false;
    }
    verify_digest(key, hash, &hash.digest(message), signature)
}
