//! Rekor transparency-log entries: the signed entry timestamp (SET), the RFC 6962 inclusion
//! proof, the signed-note checkpoint, and whether the entry body describes this bundle.

use super::bundle::{InclusionProof, TlogEntry};
use super::crypto::{self, Hash};
use super::error::{Error, ErrorKind, err};
use super::trust::LogKey;
use crate::keystore::PublicKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

fn tlog_err(m: impl Into<String>) -> Error {
    err(ErrorKind::TransparencyLog, m)
}

/// The canonical JSON the Rekor v1 SET signs: keys sorted, no whitespace.
pub fn set_payload(entry: &TlogEntry) -> Vec<u8> {
    let value = serde_json::json!({
        "body": entry.body_b64,
        "integratedTime": entry.integrated_time,
        "logID": hex::encode(&entry.log_id),
        "logIndex": entry.log_index,
    });
    // serde_json with preserve_order keeps insertion order, which is already sorted here.
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Verifies the entry's SET under the log key.
pub fn verify_set(entry: &TlogEntry, set: &[u8], key: &PublicKey) -> Result<(), Error> {
    if crypto::verify_message(key, Hash::Sha256, &set_payload(entry), set) {
        Ok(())
    } else {
        Err(tlog_err(format!(
            "signed entry timestamp (SET) of log index {} does not verify under the log key",
            entry.log_index
        )))
    }
}

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

fn node_hash(l: &[u8], r: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// Computes the root from a leaf hash and an RFC 6962/9162 audit path, or `None` when the path
/// has the wrong shape for `index` in a tree of `size` leaves.
pub fn root_from_proof(
    leaf: [u8; 32],
    index: u64,
    size: u64,
    path: &[Vec<u8>],
) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if p.len() != 32 {
            return None;
        }
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                // RFC 9162 2.1.3.2: "repeat ... until LSB(fn) is set or fn is 0" runs at least once.
                loop {
                    fn_ >>= 1;
                    sn >>= 1;
                    if fn_ & 1 == 1 || fn_ == 0 {
                        break;
                    }
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

/// Verifies the inclusion proof of the entry body against the proof's root hash.
pub fn verify_inclusion(entry: &TlogEntry, proof: &InclusionProof) -> Result<(), Error> {
    let leaf = leaf_hash(&entry.body);
    match root_from_proof(leaf, proof.log_index, proof.tree_size, &proof.hashes) {
        Some(root) if root.as_slice() == proof.root_hash.as_slice() => Ok(()),
        Some(_) => Err(tlog_err(format!(
            "inclusion proof does not lead to the proof's root hash for log index {}",
            proof.log_index
        ))),
        None => Err(tlog_err(format!(
            "inclusion proof has the wrong shape for log index {} in a tree of size {}",
            proof.log_index, proof.tree_size
        ))),
    }
}

/// A parsed signed-note checkpoint.
#[derive(Debug)]
pub struct Checkpoint<'a> {
    /// The origin line.
    pub origin: &'a str,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root_hash: Vec<u8>,
    /// The signed text (the note body including its final newline).
    pub text: &'a str,
    /// Signature lines: (name, key hint, signature).
    pub signatures: Vec<(&'a str, [u8; 4], Vec<u8>)>,
}

/// Parses a signed note: body, blank line, then `— name base64(keyhint || sig)` lines.
pub fn parse_checkpoint(note: &str) -> Result<Checkpoint<'_>, Error> {
    let bad = |m: &str| tlog_err(format!("checkpoint is malformed: {m}"));
    let split = note
        .find("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let text = &note[..split + 1];
    let mut lines = text.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("no origin line"))?;
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or_else(|| bad("no tree size line"))?;
    let root_hash = lines
        .next()
        .and_then(|l| STANDARD.decode(l).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(|| bad("no root hash line"))?;
    let mut signatures = Vec::new();
    for line in note[split + 2..].lines() {
        if line.is_empty() {
            continue;
        }
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("a signature line does not start with an em dash"))?;
        let (name, sig) = rest
            .rsplit_once(' ')
            .ok_or_else(|| bad("a signature line has no signature"))?;
        let raw = STANDARD
            .decode(sig)
            .map_err(|_| bad("a signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("a signature is too short"));
        }
        let mut hint = [0u8; 4];
        hint.copy_from_slice(&raw[..4]);
        signatures.push((name, hint, raw[4..].to_vec()));
    }
    if signatures.is_empty() {
        return Err(bad("no signature lines"));
    }
    Ok(Checkpoint {
        origin,
        size,
        root_hash,
        text,
        signatures,
    })
}

/// Verifies the checkpoint: signed by the log (a line whose name is the log's origin and whose
/// key hint is the log id, verifying under the log key; cosignatures and witness lines are
/// ignored), for the same tree size and root hash as the inclusion proof.
pub fn verify_checkpoint(
    proof: &InclusionProof,
    log: &LogKey,
    key: &PublicKey,
) -> Result<(), Error> {
    let index = proof.log_index;
    let note = proof.checkpoint.as_deref().ok_or_else(|| {
        tlog_err(format!(
            "inclusion proof for log index {index} has no checkpoint"
        ))
    })?;
    let cp = parse_checkpoint(note)?;
    // Rekor v1 origins are "<host> - <tree id>" and its lines are signed as "<host>".
    let log_name = cp.origin.split(" - ").next().unwrap_or(cp.origin);
    let hint = log.log_id.get(..4).unwrap_or_default();
    let candidates: Vec<_> = cp
        .signatures
        .iter()
        .filter(|(name, h, _)| (*name == cp.origin || *name == log_name) && h.as_slice() == hint)
        .collect();
    if candidates.is_empty() {
        return Err(tlog_err(format!(
            "checkpoint for log index {index} has no signature by log {} (origin `{}`, key hint {})",
            log.base_url,
            cp.origin,
            hex::encode(hint)
        )));
    }
    if !candidates
        .iter()
        .any(|(_, _, sig)| crypto::verify_message(key, Hash::Sha256, cp.text.as_bytes(), sig))
    {
        return Err(tlog_err(format!(
            "checkpoint signature for log index {index} does not verify under the key of log {}",
            log.base_url
        )));
    }
    if cp.size != proof.tree_size {
        return Err(tlog_err(format!(
            "checkpoint tree size {} differs from the inclusion proof's {} for log index {index}",
            cp.size, proof.tree_size
        )));
    }
    if cp.root_hash != proof.root_hash {
        return Err(tlog_err(format!(
            "inclusion proof does not match the checkpoint root hash for log index {index}"
        )));
    }
    Ok(())
}
