//! Fulcio certificates: the chain up to a trusted CA at the signing time, the signer identity
//! (SAN) and OIDC issuer extensions, and the embedded SCTs checked against the CT log keys.

use super::crypto::{self, Hash};
use super::error::{Error, ErrorKind, err};
use super::trust::{Authority, TrustedRoot};
use crate::keystore::PublicKey;
use der::asn1::{OctetString, Utf8StringRef};
use der::{Decode, Encode};
use jiff::Timestamp;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;

const OID_SAN: &str = "2.5.29.17";
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_OTHERNAME_SAN: &str = "1.3.6.1.4.1.57264.1.7";
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

/// Parses a DER certificate, naming `what` on failure.
pub fn parse(der: &[u8], what: &str) -> Result<Certificate, Error> {
    Certificate::from_der(der).map_err(|e| {
        err(
            ErrorKind::Certificate,
            format!("{what} is not a valid X.509 certificate ({e})"),
        )
    })
}

/// The certificate's subject public key.
pub fn public_key(cert: &Certificate) -> Result<PublicKey, Error> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| err(ErrorKind::Certificate, format!("certificate key: {e}")))?;
    crypto::parse_key(&spki)
        .map_err(|e| err(ErrorKind::Certificate, format!("certificate key: {e}")))
}

fn unix(t: x509_cert::time::Time) -> Timestamp {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
}

/// The certificate's validity as a closed interval.
pub fn validity(cert: &Certificate) -> (Timestamp, Timestamp) {
    let v = &cert.tbs_certificate.validity;
    (unix(v.not_before), unix(v.not_after))
}

/// Whether `t` is inside the certificate's validity (closed interval).
pub fn valid_at(cert: &Certificate, t: Timestamp) -> bool {
    let (from, to) = validity(cert);
    from <= t && t <= to
}

/// Whether `issuer` signed `cert`.
pub fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(key) = public_key(issuer) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(sig) = cert.signature.as_bytes() else {
        return false;
    };
    cert.tbs_certificate.issuer == issuer.tbs_certificate.subject
        && crypto::verify_by_oid(&key, cert.signature_algorithm.oid, None, &tbs, sig)
}

/// Whether the certificate is self-signed (subject = issuer and its own key verifies it).
pub fn self_signed(cert: &Certificate) -> bool {
    signed_by(cert, cert)
}

/// Verifies `leaf` up to one of `authorities` valid at every time in `times`: each certificate
/// signed by the next, the last self-signed, every certificate valid at each time. Returns the
/// index of the authority and its first certificate (the leaf's issuer).
pub fn verify_chain<'a>(
    leaf: &Certificate,
    authorities: &'a [Authority],
    times: &[Timestamp],
    what: &str,
) -> Result<(&'a Authority, Certificate), Error> {
    let mut reasons = Vec::new();
    for auth in authorities {
        let mut chain = Vec::new();
        for (i, der) in auth.chain.iter().enumerate() {
            chain.push(parse(
                der,
                &format!("trusted root {} certificate {i}", auth.uri),
            )?);
        }
        let Some(issuer) = chain.first() else {
            continue;
        };
        if !signed_by(leaf, issuer) {
            continue;
        }
        let mut ok = true;
        for pair in chain.windows(2) {
            if !signed_by(&pair[0], &pair[1]) {
                reasons.push(format!(
                    "trusted root chain of {} does not verify",
                    auth.uri
                ));
                ok = false;
            }
        }
        if let Some(root) = chain.last()
            && !self_signed(root)
        {
            reasons.push(format!(
                "trusted root chain of {} does not end in a self-signed root",
                auth.uri
            ));
            ok = false;
        }
        for &t in times {
            if !auth.validity.contains(t) {
                reasons.push(format!("{} was not a trusted authority at {t}", auth.uri));
                ok = false;
            }
            if !valid_at(leaf, t) {
                let (from, to) = validity(leaf);
                reasons.push(format!(
                    "{what} is valid from {from} to {to}, not at the signing time {t}"
                ));
                ok = false;
            }
            for c in &chain {
                if !valid_at(c, t) {
                    reasons.push(format!(
                        "a certificate of {} was not valid at {t}",
                        auth.uri
                    ));
                    ok = false;
                }
            }
        }
        if ok {
            return Ok((auth, issuer.clone()));
        }
    }
    let why = if reasons.is_empty() {
        format!("{what} was not issued by any certificate authority in the trusted root")
    } else {
        reasons.join("; ")
    };
    Err(err(ErrorKind::Certificate, why))
}

/// Checks that the leaf is a code-signing end-entity certificate, as Fulcio issues them:
/// extended key usage codeSigning, and not a CA (a CA certificate could mint other identities).
pub fn check_leaf_usage(cert: &Certificate) -> Result<(), Error> {
    let eku = extension(cert, "2.5.29.37")
        .and_then(|v| x509_cert::ext::pkix::ExtendedKeyUsage::from_der(v).ok())
        .ok_or_else(|| {
            err(
                ErrorKind::Certificate,
                "the signing certificate has no extended key usage; Fulcio certificates are for code signing",
            )
        })?;
    if !eku.0.iter().any(|o| o.to_string() == "1.3.6.1.5.5.7.3.3") {
        return Err(err(
            ErrorKind::Certificate,
            "the signing certificate is not for code signing (no codeSigning extended key usage)",
        ));
    }
    if let Some(bc) = extension(cert, "2.5.29.19")
        .and_then(|v| x509_cert::ext::pkix::BasicConstraints::from_der(v).ok())
        && bc.ca
    {
        return Err(err(
            ErrorKind::Certificate,
            "the signing certificate is a CA certificate, not an end-entity certificate",
        ));
    }
    Ok(())
}

/// The certificate's SAN identity: the first URI, e-mail or Fulcio otherName.
pub fn san_identity(cert: &Certificate) -> Option<String> {
    let ext = extension(cert, OID_SAN)?;
    let names = Vec::<GeneralName>::from_der(ext).ok()?;
    names.into_iter().find_map(|n| match n {
        GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
        GeneralName::Rfc822Name(e) => Some(e.to_string()),
        GeneralName::OtherName(o) if o.type_id.to_string() == OID_OTHERNAME_SAN => o
            .value
            .decode_as::<der::asn1::Utf8StringRef<'_>>()
            .ok()
            .map(|s| s.to_string()),
        _ => None,
    })
}

/// The Fulcio OIDC issuer: extension 1.3.6.1.4.1.57264.1.8 (a DER UTF8String), else the
/// deprecated 1.3.6.1.4.1.57264.1.1 (raw UTF-8 bytes).
pub fn oidc_issuer(cert: &Certificate) -> Option<String> {
    if let Some(v) = extension(cert, OID_ISSUER_V2) {
        return Utf8StringRef::from_der(v).ok().map(|s| s.to_string());
    }
    extension(cert, OID_ISSUER_V1).and_then(|v| String::from_utf8(v.to_vec()).ok())
}

fn extension<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// A byte reader for the TLS encoding of SCTs that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
    }
}

struct Sct<'a> {
    log_id: &'a [u8],
    timestamp: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    signature: &'a [u8],
}

fn parse_sct(raw: &[u8]) -> Option<Sct<'_>> {
    let mut r = Reader(raw);
    if r.u8()? != 0 {
        return None;
    }
    let log_id = r.take(32)?;
    let timestamp = r.u64()?;
    let ext_len = r.u16()?;
    let extensions = r.take(ext_len)?;
    let hash_alg = r.u8()?;
    let _sig_alg = r.u8()?;
    let sig_len = r.u16()?;
    let signature = r.take(sig_len)?;
    Some(Sct {
        log_id,
        timestamp,
        extensions,
        hash_alg,
        signature,
    })
}

/// Verifies that at least one SCT embedded in `leaf` is signed by a CT log of the trusted root.
pub fn verify_embedded_scts(
    leaf: &Certificate,
    issuer: &Certificate,
    root: &TrustedRoot,
) -> Result<(), Error> {
    let sct_err = |m: String| err(ErrorKind::Sct, m);
    let raw = extension(leaf, OID_SCT_LIST).ok_or_else(|| {
        sct_err("signing certificate has no embedded SCT (Certificate Transparency proof)".into())
    })?;
    let list = OctetString::from_der(raw)
        .map_err(|e| sct_err(format!("embedded SCT list is not an OCTET STRING ({e})")))?;
    let mut r = Reader(list.as_bytes());
    let total = r
        .u16()
        .ok_or_else(|| sct_err("embedded SCT list is truncated".into()))?;
    let mut body = Reader(
        r.take(total)
            .ok_or_else(|| sct_err("embedded SCT list is truncated".into()))?,
    );

    // The precertificate the log signed: the leaf's TBS without the SCT list extension.
    let mut tbs = leaf.tbs_certificate.clone();
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id.to_string() != OID_SCT_LIST);
    }
    let tbs_der = tbs
        .to_der()
        .map_err(|e| sct_err(format!("cannot re-encode the precertificate ({e})")))?;
    let issuer_spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| sct_err(format!("issuer key: {e}")))?;
    let issuer_key_hash = crypto::sha256(&issuer_spki);

    let mut reasons = Vec::new();
    while !body.0.is_empty() {
        let Some(len) = body.u16() else { break };
        let Some(raw_sct) = body.take(len) else { break };
        let Some(sct) = parse_sct(raw_sct) else {
            reasons.push("an embedded SCT is malformed".to_string());
            continue;
        };
        let ts_ms = i64::try_from(sct.timestamp).unwrap_or(i64::MAX);
        let at = Timestamp::from_millisecond(ts_ms).ok();
        let log = match root.ctlog_at(sct.log_id, at) {
            Ok(l) => l,
            Err(e) => {
                reasons.push(e.message);
                continue;
            }
        };
        let key = match crypto::parse_key(&log.key) {
            Ok(k) => k,
            Err(e) => {
                reasons.push(format!("CT log {} key: {e}", log.base_url));
                continue;
            }
        };
        let Ok(tbs_len) = u32::try_from(tbs_der.len()) else {
            continue;
        };
        let Ok(ext_len) = u16::try_from(sct.extensions.len()) else {
            continue;
        };
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&sct.timestamp.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs_der);
        signed.extend_from_slice(&ext_len.to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        let hash = match sct.hash_alg {
            4 => Hash::Sha256,
            5 => Hash::Sha384,
            6 => Hash::Sha512,
            other => {
                reasons.push(format!("SCT uses unsupported hash algorithm {other}"));
                continue;
            }
        };
        if crypto::verify_message(&key, hash, &signed, sct.signature) {
            return Ok(());
        }
        reasons.push(format!(
            "the SCT from CT log {} does not verify under its key",
            log.base_url
        ));
    }
    Err(sct_err(if reasons.is_empty() {
        "signing certificate's SCT list is empty".to_string()
    } else {
        format!("no valid SCT: {}", reasons.join("; "))
    }))
}
