//! The tamper-evident audit trail: one hash-chained JSON line per decision.
//!
//! Each record carries a sequence number, the previous record's hash and its own hash, computed
//! over the record's canonical JSON (keys sorted, no whitespace) without the `hash` field. Editing
//! a record breaks its hash; removing, inserting or reordering records breaks the sequence and the
//! chain. Appends take an exclusive lock on the log file, read the last record and append in one
//! write, so parallel jobs sharing a log never interleave.
//!
//! A record may be signed (`check --audit-key`): its `key` (the key id, part of the hashed body)
//! names the signer and `signature` (base64, added after hashing and excluded from the hash) signs
//! the record's `hash` string. `verify_signed` checks those signatures against a public key.

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The format version written in every record.
pub const AUDIT_FORMAT: u64 = 1;

/// Lines longer than this are not audit records (bounds memory when verifying hostile files).
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Why the trail could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O failure on the log.
    #[error("audit log {path}: {reason}")]
    Io {
        /// The log.
        path: String,
        /// Why.
        reason: String,
    },
    /// The last record of the log is not valid, so nothing can be chained to it.
    #[error("audit log {path}: cannot append after line {line}: {reason}")]
    BrokenTail {
        /// The log.
        path: String,
        /// The 1-based line of the bad record.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// The first problem found in a trail, by 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// `verify_signed`: a record has no signature, or one the key does not verify.
    BadSignature {
        /// The line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// A line is not a JSON object with the audit fields.
    Malformed {
        /// The line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// A record's content does not match its own hash.
    Edited {
        /// The line.
        line: usize,
    },
    /// Sequence numbers jump forward: records were removed before this line.
    Removed {
        /// The line.
        line: usize,
        /// The sequence number that was expected.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
    /// A record repeats or goes back in sequence, or does not chain to its predecessor although
    /// its sequence number fits: a record was inserted or records were reordered.
    InsertedOrReordered {
        /// The line.
        line: usize,
        /// The sequence number that was expected.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tamper::BadSignature { line, reason } => {
                write!(f, "line {line} is not signed by the key: {reason}")
            }
            Tamper::Malformed { line, reason } => {
                write!(f, "line {line} is not an audit record: {reason}")
            }
            Tamper::Edited { line } => write!(
                f,
                "line {line} was edited: its content does not match its hash"
            ),
            Tamper::Removed {
                line,
                expected_seq,
                found_seq,
            } => write!(
                f,
                "records were removed before line {line}: expected sequence {expected_seq}, found {found_seq}"
            ),
            Tamper::InsertedOrReordered {
                line,
                expected_seq,
                found_seq,
            } => write!(
                f,
                "line {line} was inserted or moved: expected sequence {expected_seq} chained to the previous record, found sequence {found_seq}"
            ),
        }
    }
}

/// The outcome of verifying a trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records that verified before the first problem (all of them when `tamper` is `None`).
    pub records: usize,
    /// The first problem, if any.
    pub tamper: Option<Tamper>,
    /// The hash of the last good record (what the next append chains to).
    pub head: String,
}

/// Serialises a JSON value canonically: object keys sorted, no insignificant whitespace.
pub fn canonical_json(value: &Json) -> String {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Json::Object(out)
            }
            Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// SHA-256 hex of a record's canonical JSON without its `hash` and `signature` fields.
pub fn record_hash(record: &Map<String, Json>) -> String {
    let mut body = record.clone();
    body.remove("hash");
    body.remove("signature");
    hex::encode(Sha256::digest(
        canonical_json(&Json::Object(body)).as_bytes(),
    ))
}

/// Appends a decision to the log at `path`, chaining it to the last record. `body` is the
/// decision (time, verdict, findings, ...); `seq`, `prev`, `hash` and `format` are added here.
/// Returns the completed record.
pub fn append(path: &Path, body: Map<String, Json>) -> Result<Map<String, Json>, AuditError> {
    append_signed(path, body, None)
}

/// Signs a record's hash (the hex string's bytes) and returns the base64 signature.
pub type HashSigner<'a> = &'a dyn Fn(&[u8]) -> String;

/// [`append`], with the record's hash signed by `signer` into a `signature` field.
pub fn append_signed(
    path: &Path,
    body: Map<String, Json>,
    signer: Option<HashSigner<'_>>,
) -> Result<Map<String, Json>, AuditError> {
    let display = path.display().to_string();
    let io = |e: std::io::Error| AuditError::Io {
        path: display.clone(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    // Exclusive for the read-last-record-then-append sequence: parallel jobs queue here.
    file.lock().map_err(io)?;
    let result = (|| {
        let (seq, prev) = match last_line(&mut file).map_err(io)? {
            None => (0, GENESIS.to_owned()),
            Some((line_no, text)) => {
                let record = parse_record(&text).map_err(|reason| AuditError::BrokenTail {
                    path: display.clone(),
                    line: line_no,
                    reason,
                })?;
                if record_hash(&record) != record["hash"].as_str().unwrap_or_default() {
                    return Err(AuditError::BrokenTail {
                        path: display.clone(),
                        line: line_no,
                        reason:
                            "the last record does not match its hash; run `tollgate audit verify`"
                                .into(),
                    });
                }
                let seq = record["seq"].as_u64().unwrap_or(0);
                (
                    seq + 1,
                    record["hash"].as_str().unwrap_or_default().to_owned(),
                )
            }
        };
        let mut record = Map::new();
        record.insert("format".into(), Json::from(AUDIT_FORMAT));
        record.insert("seq".into(), Json::from(seq));
        record.insert("prev".into(), Json::from(prev));
        for (k, v) in body {
            if !matches!(k.as_str(), "format" | "seq" | "prev" | "hash" | "signature") {
                record.insert(k, v);
            }
        }
        let hash = record_hash(&record);
        if let Some(sign) = signer {
            record.insert("signature".into(), Json::from(sign(hash.as_bytes())));
        }
        record.insert("hash".into(), Json::from(hash));
        let mut line = Json::Object(record.clone()).to_string();
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(record)
    })();
    let _ = file.unlock();
    result
}

/// Checks the whole trail and reports the first record that was edited, removed, inserted or
/// reordered.
pub fn verify(path: &Path) -> Result<Verification, AuditError> {
    verify_signed(path, None)
}

/// Checks a record's `signature` over its hash.
pub type SignatureCheck<'a> = &'a dyn Fn(&[u8], &[u8]) -> bool;

/// [`verify`], and with `check` every record must carry a `signature` (base64) that `check`
/// accepts for the record's hash.
pub fn verify_signed(
    path: &Path,
    check: Option<SignatureCheck<'_>>,
) -> Result<Verification, AuditError> {
    let display = path.display().to_string();
    let io = |e: std::io::Error| AuditError::Io {
        path: display.clone(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::new(file);
    let mut expected_seq = 0u64;
    let mut head = GENESIS.to_owned();
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let done = |tamper: Tamper| Verification {
            records: line_no - 1,
            tamper: Some(tamper),
            head: head.clone(),
        };
        if n > MAX_RECORD_BYTES {
            return Ok(done(Tamper::Malformed {
                line: line_no,
                reason: format!("longer than {MAX_RECORD_BYTES} bytes"),
            }));
        }
        let text = String::from_utf8_lossy(&buf);
        let record = match parse_record(text.trim_end_matches(['\n', '\r'])) {
            Ok(r) => r,
            Err(reason) => {
                return Ok(done(Tamper::Malformed {
                    line: line_no,
                    reason,
                }));
            }
        };
        if record_hash(&record) != record["hash"].as_str().unwrap_or_default() {
            return Ok(done(Tamper::Edited { line: line_no }));
        }
        if let Some(check) = check {
            use base64::Engine as _;
            let hash = record["hash"].as_str().unwrap_or_default();
            let signature = record
                .get("signature")
                .and_then(Json::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
            let reason = match signature {
                None => Some("it has no signature"),
                Some(sig) if !check(hash.as_bytes(), &sig) => {
                    Some("its signature does not verify with the key")
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                return Ok(done(Tamper::BadSignature {
                    line: line_no,
                    reason: reason.into(),
                }));
            }
        }
        let seq = record["seq"].as_u64().unwrap_or(u64::MAX);
        let prev = record["prev"].as_str().unwrap_or_default();
        if seq > expected_seq {
            return Ok(done(Tamper::Removed {
                line: line_no,
                expected_seq,
                found_seq: seq,
            }));
        }
        if seq < expected_seq || prev != head {
            return Ok(done(Tamper::InsertedOrReordered {
                line: line_no,
                expected_seq,
                found_seq: seq,
            }));
        }
        head = record["hash"].as_str().unwrap_or_default().to_owned();
        expected_seq += 1;
    }
    Ok(Verification {
        records: line_no,
        tamper: None,
        head,
    })
}

fn parse_record(text: &str) -> Result<Map<String, Json>, String> {
    let value: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Json::Object(record) = value else {
        return Err("not a JSON object".into());
    };
    for (field, ok) in [
        ("seq", record.get("seq").is_some_and(Json::is_u64)),
        ("prev", record.get("prev").is_some_and(Json::is_string)),
        ("hash", record.get("hash").is_some_and(Json::is_string)),
    ] {
        if !ok {
            return Err(format!("missing or invalid `{field}`"));
        }
    }
    Ok(record)
}

/// The last non-empty line of the file and its 1-based number, reading backwards in chunks so a
/// long log costs one short read per append.
fn last_line(file: &mut File) -> std::io::Result<Option<(usize, String)>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    const CHUNK: u64 = 64 * 1024;
    loop {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        pos = start;
        let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if trimmed.contains(&b'\n') || pos == 0 || tail.len() > MAX_RECORD_BYTES {
            break;
        }
    }
    let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = match trimmed.iter().rposition(|b| *b == b'\n') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    // Line numbers need a count of newlines before the last line; logs are append-only and
    // this is rare (only error messages use it), so count lazily over the file.
    file.seek(SeekFrom::Start(0))?;
    let mut count = 0usize;
    let mut reader = BufReader::new(&mut *file);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        count += 1;
        buf.clear();
    }
    Ok(Some((count, String::from_utf8_lossy(last).into_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(i: usize) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert(
            "verdict".into(),
            Json::from(if i.is_multiple_of(2) { "pass" } else { "deny" }),
        );
        m.insert("run".into(), Json::from(i));
        m
    }

    fn log_of(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        for i in 0..n {
            append(&path, body(i)).expect("append");
        }
        (dir, path)
    }

    fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect();
        f(&mut lines);
        std::fs::write(path, lines.join("\n") + "\n").expect("write");
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v: Json =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": null}}"#)
                .expect("json");
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}"#
        );
    }

    #[test]
    fn an_untouched_log_verifies() {
        let (_d, path) = log_of(5);
        let v = verify(&path).expect("verify");
        assert_eq!((v.records, v.tamper), (5, None));
    }

    #[test]
    fn edits_removals_insertions_and_swaps_are_found() {
        let (_d, path) = log_of(6);
        rewrite(&path, |l| l[2] = l[2].replace("\"pass\"", "\"deny\""));
        assert_eq!(
            verify(&path).expect("v").tamper,
            Some(Tamper::Edited { line: 3 })
        );

        let (_d, path) = log_of(6);
        rewrite(&path, |l| {
            l.remove(3);
        });
        assert!(matches!(
            verify(&path).expect("v").tamper,
            Some(Tamper::Removed { line: 4, .. })
        ));

        let (_d, path) = log_of(6);
        rewrite(&path, |l| {
            let copy = l[1].clone();
            l.insert(4, copy);
        });
        assert!(matches!(
            verify(&path).expect("v").tamper,
            Some(Tamper::InsertedOrReordered { line: 5, .. })
        ));

        let (_d, path) = log_of(6);
        rewrite(&path, |l| l.swap(2, 3));
        assert!(matches!(
            verify(&path).expect("v").tamper,
            Some(Tamper::Removed { line: 3, .. })
        ));
    }

    #[test]
    fn signed_records_verify_and_the_signature_is_outside_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        // "sig:" in base64; the checkers below look only at that prefix.
        let sign = |_: &[u8]| "c2lnOg==".to_owned();
        for i in 0..3 {
            let mut b = body(i);
            b.insert("key".into(), Json::from("k1"));
            let r = append_signed(&path, b, Some(&sign)).expect("append");
            assert_eq!(r["hash"].as_str().map(str::len), Some(64));
            assert!(r.contains_key("signature"));
        }
        assert_eq!(verify(&path).expect("v").tamper, None);
        let accept = |_: &[u8], sig: &[u8]| sig.starts_with(b"sig:");
        assert_eq!(verify_signed(&path, Some(&accept)).expect("v").records, 3);
        let reject = |_: &[u8], _: &[u8]| false;
        assert!(matches!(
            verify_signed(&path, Some(&reject)).expect("v").tamper,
            Some(Tamper::BadSignature { line: 1, .. })
        ));
        let (_d, unsigned) = log_of(2);
        assert!(matches!(
            verify_signed(&unsigned, Some(&accept)).expect("v").tamper,
            Some(Tamper::BadSignature { line: 1, .. })
        ));
    }

    #[test]
    fn appending_after_a_tampered_tail_is_refused() {
        let (_d, path) = log_of(3);
        rewrite(&path, |l| l[2] = l[2].replace("\"pass\"", "\"deny\""));
        assert!(matches!(
            append(&path, body(9)),
            Err(AuditError::BrokenTail { line: 3, .. })
        ));
    }
}
