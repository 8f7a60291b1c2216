//! Compact JWS (JWT) decoding and signature checks, shared by signed bundles
//! ([`super::signing`]) and the `io.jwt.*` builtins ([`super::builtins`]).
//!
//! Only asymmetric algorithms are accepted: `ES256`, `ES384`, `RS256`, `RS384`, `RS512` and
//! `EdDSA`. `none` and the HMAC algorithms are refused: a public key must never be usable as an
//! HMAC secret (the classic JWT algorithm-confusion attack).

use crate::keystore::PublicKey;
use base64::Engine as _;
use serde_json::Value as Json;

/// A decoded compact JWS.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The protected header (a JSON object).
    pub header: Json,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// `base64url(header) "." base64url(payload)`: what the signature covers.
    pub signing_input: String,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

impl Jwt {
    /// The header's `alg`, if a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Json::as_str)
    }

    /// The header's `kid`, if a string.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Json::as_str)
    }

    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> Result<Json, String> {
        serde_json::from_slice(&self.payload).map_err(|e| format!("JWT payload is not JSON: {e}"))
    }
}

/// base64url without padding (trailing `=` tolerated, as OPA does).
pub fn b64url(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("invalid base64url: {e}"))
}

/// Splits and decodes `header.payload.signature`.
pub fn decode(token: &str) -> Result<Jwt, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(
            "encoded JWT must have 3 sections, found ".to_owned() + &parts.len().to_string()
        );
    }
    let header_bytes = b64url(parts[0]).map_err(|e| format!("JWT header: {e}"))?;
    let header: Json = serde_json::from_slice(&header_bytes)
        .map_err(|e| format!("JWT header is not JSON: {e}"))?;
    if !header.is_object() {
        return Err("JWT header is not a JSON object".into());
    }
    let payload = b64url(parts[1]).map_err(|e| format!("JWT payload: {e}"))?;
    let signature = b64url(parts[2]).map_err(|e| format!("JWT signature: {e}"))?;
    Ok(Jwt {
        header,
        payload,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature,
    })
}

/// Checks a JWS signature with `alg` and `key`. `Err` when the algorithm is unsupported or does
/// not fit the key type; `Ok(false)` when the signature is wrong.
pub fn verify_signature(
    alg: &str,
    key: &PublicKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    use p256::ecdsa::signature::Verifier;
    match (alg, key) {
        ("ES256", PublicKey::P256(k)) => Ok(p256::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|s| signature.len() == 64 && k.verify(signing_input, &s).is_ok())),
        ("ES384", PublicKey::P384(k)) => Ok(p384::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|s| signature.len() == 96 && k.verify(signing_input, &s).is_ok())),
        ("EdDSA", PublicKey::Ed25519(k)) => Ok(ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|s| k.verify(signing_input, &s).is_ok())),
        ("RS256", PublicKey::Rsa(k)) => Ok(rsa_ok::<sha2::Sha256>(k, signing_input, signature)),
        ("RS384", PublicKey::Rsa(k)) => Ok(rsa_ok::<sha2::Sha384>(k, signing_input, signature)),
        ("RS512", PublicKey::Rsa(k)) => Ok(rsa_ok::<sha2::Sha512>(k, signing_input, signature)),
        ("ES256" | "ES384" | "EdDSA" | "RS256" | "RS384" | "RS512", key) => Err(format!(
            "JWT algorithm {alg} does not fit the {} key",
            key.algorithm()
        )),
        (other, _) => Err(format!(
            "JWT algorithm `{other}` is not accepted (want ES256, ES384, RS256, RS384, RS512 or EdDSA)"
        )),
    }
}

fn rsa_ok<D>(key: &rsa::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + spki::der::oid::AssociatedOid,
{
    use rsa::signature::Verifier;
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone())
        .verify(message, &sig)
        .is_ok()
}

/// A public key from a JWK object (`kty` `EC` with `crv` P-256/P-384, `RSA`, or `OKP` Ed25519).
pub fn key_from_jwk(jwk: &Json) -> Result<PublicKey, String> {
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk
            .get(name)
            .and_then(Json::as_str)
            .ok_or_else(|| format!("JWK without `{name}`"))?;
        b64url(text).map_err(|e| format!("JWK `{name}`: {e}"))
    };
    match jwk.get("kty").and_then(Json::as_str) {
        Some("EC") => {
            let (x, y) = (field("x")?, field("y")?);
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            match jwk.get("crv").and_then(Json::as_str) {
                Some("P-256") => p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map(PublicKey::P256)
                    .map_err(|e| format!("invalid P-256 JWK: {e}")),
                Some("P-384") => p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map(PublicKey::P384)
                    .map_err(|e| format!("invalid P-384 JWK: {e}")),
                other => Err(format!("unsupported JWK curve {other:?}")),
            }
        }
        Some("RSA") => {
            let n = rsa::BigUint::from_bytes_be(&field("n")?);
            let e = rsa::BigUint::from_bytes_be(&field("e")?);
            rsa::RsaPublicKey::new(n, e)
                .map(PublicKey::Rsa)
                .map_err(|e| format!("invalid RSA JWK: {e}"))
        }
        Some("OKP") => {
            let x: [u8; 32] = field("x")?
                .try_into()
                .map_err(|_| "Ed25519 JWK `x` is not 32 bytes".to_owned())?;
            ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map(PublicKey::Ed25519)
                .map_err(|e| format!("invalid Ed25519 JWK: {e}"))
        }
        other => Err(format!("unsupported JWK kty {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_need_three_sections() {
        assert!(decode("a.b").is_err());
        assert!(decode("e30.e30.").is_ok());
    }

    #[test]
    fn es256_round_trip_and_alg_confusion() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("test value");
        let key = PublicKey::P256(*sk.verifying_key());
        let sig: p256::ecdsa::Signature = sk.sign(b"h.p");
        let raw = sig.to_bytes();
        assert_eq!(verify_signature("ES256", &key, b"h.p", &raw), Ok(true));
        assert_eq!(verify_signature("ES256", &key, b"h.q", &raw), Ok(false));
        assert!(verify_signature("HS256", &key, b"h.p", &raw).is_err());
        assert!(verify_signature("none", &key, b"h.p", &[]).is_err());
        assert!(verify_signature("RS256", &key, b"h.p", &raw).is_err());
    }
}
