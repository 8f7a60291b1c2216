//! RFC 3161 timestamps: a CMS SignedData token over the bundle's signature, signed by a
//! timestamp authority of the trusted root that was valid at the token's time.

use super::certs;
use super::crypto::{self, Hash};
use super::error::{Error, ErrorKind, err};
use super::trust::TrustedRoot;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::OctetString;
use der::{Decode, Encode};
use jiff::Timestamp;
use x509_tsp::{TimeStampResp, TstInfo};

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";

fn ts_err(i: usize, m: impl std::fmt::Display) -> Error {
    err(ErrorKind::Timestamp, format!("RFC 3161 timestamp {i}: {m}"))
}

fn token(i: usize, der: &[u8]) -> Result<ContentInfo, Error> {
    if let Ok(ci) = ContentInfo::from_der(der) {
        return Ok(ci);
    }
    // Bundles store the whole TimeStampResp: status, then the token.
    let resp = TimeStampResp::from_der(der)
        .map_err(|e| ts_err(i, format!("not a TimeStampResp or token ({e})")))?;
    resp.time_stamp_token
        .ok_or_else(|| ts_err(i, "the response carries no timestamp token"))
}

/// Verifies timestamp `i` over `signature` and returns its time.
pub fn verify(
    i: usize,
    der: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<Timestamp, Error> {
    let ci = token(i, der)?;
    if ci.content_type.to_string() != OID_SIGNED_DATA {
        return Err(ts_err(i, "the token is not CMS SignedData"));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| ts_err(i, format!("SignedData is malformed ({e})")))?;
    if sd.encap_content_info.econtent_type.to_string() != OID_TST_INFO {
        return Err(ts_err(i, "the token's content is not a TSTInfo"));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| ts_err(i, "the token has no TSTInfo content"))?;
    let tst_bytes = econtent.decode_as::<OctetString>().map_err(|e| {
        ts_err(
            i,
            format!("TSTInfo is not wrapped in an OCTET STRING ({e})"),
        )
    })?;
    let tst = TstInfo::from_der(tst_bytes.as_bytes())
        .map_err(|e| ts_err(i, format!("TSTInfo is malformed ({e})")))?;

    let imprint_hash = Hash::from_oid(tst.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| ts_err(i, "unsupported message-imprint hash algorithm"))?;
    if imprint_hash.digest(signature) != tst.message_imprint.hashed_message.as_bytes() {
        return Err(ts_err(
            i,
            "the timestamp is not over this bundle's signature (message imprint differs)",
        ));
    }
    let gen_secs = i64::try_from(tst.gen_time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let gen_time =
        Timestamp::from_second(gen_secs).map_err(|e| ts_err(i, format!("genTime: {e}")))?;

    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(ts_err(
            i,
            format!(
                "the token has {} signers; exactly one is required",
                signers.len()
            ),
        ));
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| ts_err(i, "the token's signer has no signed attributes"))?;
    let digest_hash = Hash::from_oid(si.digest_alg.oid)
        .ok_or_else(|| ts_err(i, "unsupported signer digest algorithm"))?;
    let md = attrs
        .iter()
        .find(|a| a.oid.to_string() == OID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| ts_err(i, "the signed attributes have no message digest"))?;
    if md.as_bytes() != digest_hash.digest(tst_bytes.as_bytes()) {
        return Err(ts_err(i, "the signed message digest is not the TSTInfo's"));
    }
    let signed = attrs
        .to_der()
        .map_err(|e| ts_err(i, format!("cannot re-encode signed attributes ({e})")))?;

    // Embedded certificates are not trusted: the signer must be a timestamp authority of the
    // trusted root, whose chain is checked below.
    let mut reasons = Vec::new();
    for auth in &root.timestamp_authorities {
        let mut chain = Vec::new();
        for (j, der) in auth.chain.iter().enumerate() {
            chain.push(certs::parse(
                der,
                &format!("trusted root TSA {} certificate {j}", auth.uri),
            )?);
        }
        let Some(leaf) = chain.first() else { continue };
        if let SignerIdentifier::IssuerAndSerialNumber(ias) = &si.sid
            && (ias.issuer != leaf.tbs_certificate.issuer
                || ias.serial_number != leaf.tbs_certificate.serial_number)
        {
            continue;
        }
        let Ok(key) = certs::public_key(leaf) else {
            continue;
        };
        if !crypto::verify_by_oid(
            &key,
            si.signature_algorithm.oid,
            Some(digest_hash),
            &signed,
            si.signature.as_bytes(),
        ) {
            continue;
        }
        let chain_ok = chain.windows(2).all(|p| certs::signed_by(&p[0], &p[1]))
            && chain.last().is_some_and(certs::self_signed);
        if !chain_ok {
            reasons.push(format!(
                "the certificate chain of TSA {} does not verify",
                auth.uri
            ));
            continue;
        }
        if !auth.validity.contains(gen_time) {
            reasons.push(format!(
                "TSA {} was not trusted at the timestamp's time {gen_time}",
                auth.uri
            ));
            continue;
        }
        if let Some(c) = chain.iter().find(|c| !certs::valid_at(c, gen_time)) {
            let (from, to) = certs::validity(c);
            reasons.push(format!(
                "TSA {} certificate is valid from {from} to {to}, not at the timestamp's time {gen_time}",
                auth.uri
            ));
            continue;
        }
        return Ok(gen_time);
    }
    Err(ts_err(
        i,
        if reasons.is_empty() {
            "not signed by any timestamp authority in the trusted root".to_string()
        } else {
            reasons.join("; ")
        },
    ))
}
