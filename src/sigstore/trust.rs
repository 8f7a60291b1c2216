//! The Sigstore trusted root (`trustedroot+json;version=0.1`): Fulcio CAs, Rekor logs, CT logs
//! and timestamp authorities with their validity windows, read from a file (no TUF).

use super::error::{Error, ErrorKind, err};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::Deserialize;

/// Largest trusted root accepted (the production root is about 10 KiB).
pub const MAX_ROOT_BYTES: usize = 4 * 1024 * 1024;

/// A closed validity interval `[start, end]`; a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start (inclusive); `None` only where the trusted root omitted it (malformed for keys).
    pub start: Option<Timestamp>,
    /// End (inclusive), `None` for "still valid".
    pub end: Option<Timestamp>,
}

impl Validity {
    /// Whether `t` lies in the closed interval (a missing start counts as unbounded here; keys
    /// check for it separately because a key without a start is malformed).
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

/// A transparency log (Rekor) or CT log key.
#[derive(Debug, Clone)]
pub struct LogKey {
    /// The log's base URL, for messages.
    pub base_url: String,
    /// The key id (SHA-256 of the DER key for Rekor v1 / CT; the note key id for Rekor v2).
    pub log_id: Vec<u8>,
    /// The key, DER (SPKI, or PKCS#1 when `key_details` says so).
    pub key: Vec<u8>,
    /// The protobuf-specs `keyDetails` name.
    pub key_details: String,
    /// When the key may be used.
    pub validity: Validity,
}

/// A certificate authority (Fulcio) or timestamp authority: a chain, leaf or intermediate first.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The authority's URI, for messages.
    pub uri: String,
    /// The chain, DER, issuer of the signed certificate first, root last.
    pub chain: Vec<Vec<u8>>,
    /// When the authority may be used.
    pub validity: Validity,
}

/// A parsed trusted root.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<LogKey>,
    /// Fulcio CAs.
    pub certificate_authorities: Vec<Authority>,
    /// Certificate Transparency logs.
    pub ctlogs: Vec<LogKey>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: Option<RawKey>,
    log_id: Option<RawLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: Option<RawChain>,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: Option<String>,
}

fn bad(message: impl Into<String>) -> Error {
    err(ErrorKind::MalformedTrustRoot, message)
}

fn decode(field: &str, text: Option<&String>) -> Result<Vec<u8>, Error> {
    let text = text.ok_or_else(|| bad(format!("trusted root is missing `{field}`")))?;
    STANDARD.decode(text.trim()).map_err(|e| {
        bad(format!(
            "trusted root field `{field}` is not valid base64 ({e})"
        ))
    })
}

fn time(field: &str, text: Option<&String>) -> Result<Option<Timestamp>, Error> {
    text.map(|t| {
        t.parse::<Timestamp>().map_err(|e| {
            bad(format!(
                "trusted root field `{field}` is not an RFC 3339 time ({e})"
            ))
        })
    })
    .transpose()
}

fn range(field: &str, raw: Option<&RawRange>) -> Result<Validity, Error> {
    Ok(Validity {
        start: time(
            &format!("{field}.start"),
            raw.and_then(|r| r.start.as_ref()),
        )?,
        end: time(&format!("{field}.end"), raw.and_then(|r| r.end.as_ref()))?,
    })
}

fn logs(kind: &str, raw: &[RawLog]) -> Result<Vec<LogKey>, Error> {
    let mut out = Vec::new();
    for (i, log) in raw.iter().enumerate() {
        let at = format!("{kind}[{i}]");
        let key = log
            .public_key
            .as_ref()
            .ok_or_else(|| bad(format!("trusted root `{at}` has no publicKey")))?;
        out.push(LogKey {
            base_url: log.base_url.clone(),
            log_id: decode(
                &format!("{at}.logId.keyId"),
                log.log_id.as_ref().and_then(|l| l.key_id.as_ref()),
            )?,
            key: decode(&format!("{at}.publicKey.rawBytes"), key.raw_bytes.as_ref())?,
            key_details: key.key_details.clone(),
            validity: range(&format!("{at}.publicKey.validFor"), key.valid_for.as_ref())?,
        });
    }
    Ok(out)
}

fn authorities(kind: &str, raw: &[RawAuthority]) -> Result<Vec<Authority>, Error> {
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let at = format!("{kind}[{i}]");
        let mut chain = Vec::new();
        for (j, c) in a
            .cert_chain
            .as_ref()
            .map(|c| c.certificates.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            chain.push(decode(
                &format!("{at}.certChain.certificates[{j}].rawBytes"),
                c.raw_bytes.as_ref(),
            )?);
        }
        if chain.is_empty() {
            return Err(bad(format!("trusted root `{at}` has an empty certChain")));
        }
        out.push(Authority {
            uri: a.uri.clone(),
            chain,
            validity: range(&format!("{at}.validFor"), a.valid_for.as_ref())?,
        });
    }
    Ok(out)
}

impl TrustedRoot {
    /// Parses `trusted_root.json` bytes.
    pub fn parse(json: &[u8]) -> Result<TrustedRoot, Error> {
        if json.len() > MAX_ROOT_BYTES {
            return Err(bad(format!(
                "trusted root is {} bytes, more than the {MAX_ROOT_BYTES}-byte limit",
                json.len()
            )));
        }
        let raw: RawRoot = serde_json::from_slice(json)
            .map_err(|e| bad(format!("trusted root is not valid JSON: {e}")))?;
        match raw.media_type.as_deref() {
            Some("application/vnd.dev.sigstore.trustedroot+json;version=0.1") => {}
            other => {
                return Err(bad(format!(
                    "unsupported trusted root media type {other:?}; expected \
                     application/vnd.dev.sigstore.trustedroot+json;version=0.1"
                )));
            }
        }
        Ok(TrustedRoot {
            tlogs: logs("tlogs", &raw.tlogs)?,
            certificate_authorities: authorities(
                "certificateAuthorities",
                &raw.certificate_authorities,
            )?,
            ctlogs: logs("ctlogs", &raw.ctlogs)?,
            timestamp_authorities: authorities("timestampAuthorities", &raw.timestamp_authorities)?,
        })
    }

    /// The Rekor log whose key id is `log_id`, checked usable at `t`.
    pub fn tlog_at(&self, log_id: &[u8], t: Option<Timestamp>) -> Result<&LogKey, Error> {
        find_log(&self.tlogs, "transparency log", log_id, t)
    }

    /// The CT log whose key id is `log_id`, checked usable at `t`.
    pub fn ctlog_at(&self, log_id: &[u8], t: Option<Timestamp>) -> Result<&LogKey, Error> {
        find_log(&self.ctlogs, "CT log", log_id, t)
    }
}

fn find_log<'a>(
    logs: &'a [LogKey],
    what: &str,
    log_id: &[u8],
    t: Option<Timestamp>,
) -> Result<&'a LogKey, Error> {
    let id = hex::encode(log_id);
    let log = logs.iter().find(|l| l.log_id == log_id).ok_or_else(|| {
        err(
            ErrorKind::TransparencyLog,
            format!("no {what} with key id {id} in the trusted root (bundle from another Sigstore instance?)"),
        )
    })?;
    if log.validity.start.is_none() {
        return Err(bad(format!(
            "trusted root {what} {} (key id {id}) has no validFor.start; a key must say when it became valid",
            log.base_url
        )));
    }
    if let Some(t) = t
        && !log.validity.contains(t)
    {
        return Err(err(
            ErrorKind::Time,
            format!(
                "{what} key {} (key id {id}) was not valid at {t}",
                log.base_url
            ),
        ));
    }
    Ok(log)
}
