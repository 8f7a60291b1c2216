//! `crypto.x509.parse_certificates` and `crypto.x509.parse_and_verify_certificates` as OPA
//! returns them: each certificate is the JSON form of Go's `x509.Certificate` (encoding/json field
//! names and value shapes, byte slices as standard base64, OIDs as integer arrays) plus OPA's
//! `URIStrings`. Decoding is RustCrypto's `x509-cert`; this module owns the mapping to Go's shapes
//! and OPA's input handling (PEM, base64 of DER, base64 of PEM; concatenated certificates).
//!
//! Not modelled (emitted as Go's zero values; README "Compatibility with OPA"): name constraints,
//! policy mappings, policy constraints and inhibitAnyPolicy.

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::{ObjectIdentifier, OctetString, UintRef};
use der::{Decode, Encode, Reader, SliceReader};
use num_bigint::{BigInt, Sign};
use regorus::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

/// Registers both builtins on the engine.
pub fn register(engine: &mut regorus::Engine) -> Result<()> {
    engine.add_extension(
        "crypto.x509.parse_certificates".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let text = string_operand(&args, "crypto.x509.parse_certificates")?;
            let certs =
                parse_input(&text).map_err(|e| anyhow!("crypto.x509.parse_certificates: {e}"))?;
            certs
                .iter()
                .map(|(c, raw)| to_value(c, raw))
                .collect::<Result<Vec<_>>>()
                .map(Value::from)
        }),
    )?;
    engine.add_extension(
        "crypto.x509.parse_and_verify_certificates".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let text = string_operand(&args, "crypto.x509.parse_and_verify_certificates")?;
            // OPA answers [false, []] for anything unparsable or unverifiable, not an error.
            let invalid = || Value::from(vec![Value::from(false), Value::new_array()]);
            let Ok(certs) = parse_input(&text) else {
                return Ok(invalid());
            };
            match verify_chain(&certs) {
                Ok(()) => {
                    // Go returns the chain leaf first, root last.
                    let chain = certs
                        .iter()
                        .rev()
                        .map(|(c, raw)| to_value(c, raw))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Value::from(vec![Value::from(true), Value::from(chain)]))
                }
                Err(_) => Ok(invalid()),
            }
        }),
    )?;
    Ok(())
}

fn string_operand(args: &[Value], name: &str) -> Result<String> {
    match args.first() {
        Some(Value::String(s)) => Ok(s.to_string()),
        _ => bail!("{name}: operand 1 must be string"),
    }
}

/// OPA's getX509CertsFromString: PEM when it starts with `-----BEGIN`, else standard base64 of
/// PEM or of (concatenated) DER. Each certificate comes with its DER bytes (Go's `Raw`).
fn parse_input(text: &str) -> Result<Vec<(Certificate, Vec<u8>)>> {
    let der = if text.starts_with("-----BEGIN") {
        pem_certificates(text.as_bytes())?
    } else {
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| anyhow!("input is neither PEM nor base64: {e}"))?;
        if bytes.starts_with(b"-----BEGIN") {
            pem_certificates(&bytes)?
        } else {
            bytes
        }
    };
    let mut reader = SliceReader::new(&der).map_err(|e| anyhow!("x509: malformed DER: {e}"))?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let start = usize::try_from(reader.position()).unwrap_or(0);
        let cert = Certificate::decode(&mut reader)
            .map_err(|e| anyhow!("x509: malformed certificate: {e}"))?;
        let end = usize::try_from(reader.position()).unwrap_or(der.len());
        out.push((cert, der[start..end].to_vec()));
    }
    Ok(out)
}

/// The DER of every PEM block, concatenated; any block type other than CERTIFICATE is an error
/// (OPA's message), text outside blocks is skipped as Go's pem.Decode does.
fn pem_certificates(mut text: &[u8]) -> Result<Vec<u8>> {
    let mut der = Vec::new();
    while let Some(begin) = find(text, b"-----BEGIN ") {
        let after = &text[begin + 11..];
        let Some(close) = find(after, b"-----") else {
            break;
        };
        let label = String::from_utf8_lossy(&after[..close]).to_string();
        let body = &after[close + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = find(body, end_marker.as_bytes()) else {
            break;
        };
        if label != "CERTIFICATE" {
            bail!("PEM block type is '{label}', expected CERTIFICATE");
        }
        let b64: Vec<u8> = body[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        der.extend(
            STANDARD
                .decode(&b64)
                .map_err(|e| anyhow!("PEM block has invalid base64: {e}"))?,
        );
        text = &body[end + end_marker.len()..];
    }
    Ok(der)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The chain as OPA checks it with Go's `Certificate.Verify` (root first, leaf last; the root is
/// trusted as given): each certificate names the one before it as issuer and carries a signature
/// that verifies under its key; issuers are CAs; every certificate is valid now; and the leaf (and
/// any intermediate with extended key usages) allows server authentication, Go's default usage.
fn verify_chain(certs: &[(Certificate, Vec<u8>)]) -> Result<()> {
    if certs.len() < 2 {
        bail!("must supply at least two certificates to be able to verify");
    }
    let now = std::time::SystemTime::now();
    for pair in certs.windows(2) {
        let (issuer, child) = (&pair[0].0, &pair[1].0);
        if issuer.tbs_certificate.subject != child.tbs_certificate.issuer {
            bail!("issuer name does not match");
        }
        if !ext::<BasicConstraints>(issuer)?.is_some_and(|b| b.ca) {
            bail!("issuer is not a CA");
        }
        check_signature(child, issuer)?;
    }
    for (i, (c, _)) in certs.iter().enumerate() {
        let v = c.tbs_certificate.validity;
        if now < v.not_before.to_system_time() || now > v.not_after.to_system_time() {
            bail!("certificate has expired or is not yet valid");
        }
        if i > 0
            && let Some(eku) = ext::<ExtendedKeyUsage>(c)?
            && !eku
                .0
                .iter()
                .any(|o| matches!(ext_key_usage(o), Some(0 | 1)))
        {
            bail!("certificate does not allow server authentication");
        }
    }
    Ok(())
}

/// The child's signature under the issuer's key, for the algorithm pairs tollgate's key store
/// verifies (ECDSA P-256/P-384 with SHA-256/384, RSA PKCS#1 v1.5 and PSS with SHA-256, Ed25519);
/// any other pair fails closed.
fn check_signature(child: &Certificate, issuer: &Certificate) -> Result<()> {
    let tbs = child.tbs_certificate.to_der()?;
    let sig = child
        .signature
        .as_bytes()
        .ok_or_else(|| anyhow!("signature has unused bits"))?;
    let spki = issuer.tbs_certificate.subject_public_key_info.to_der()?;
    let key = crate::keystore::PublicKey::from_spki_der(&spki).map_err(|e| anyhow!(e))?;
    let supported = matches!(
        (&key, signature_algorithm(child)),
        (crate::keystore::PublicKey::P256(_), 10)
            | (crate::keystore::PublicKey::P384(_), 10 | 11)
            | (crate::keystore::PublicKey::Rsa(_), 4 | 13)
            | (crate::keystore::PublicKey::Ed25519(_), 16)
    );
    if !supported || !key.verify(&tbs, sig) {
        bail!("signature does not verify");
    }
    Ok(())
}

fn ext<'a, T: Decode<'a> + const_oid::AssociatedOid>(c: &'a Certificate) -> Result<Option<T>> {
    Ok(c.tbs_certificate
        .get::<T>()
        .map_err(|e| anyhow!("x509: malformed extension: {e}"))?
        .map(|(_, v)| v))
}

fn b64(bytes: &[u8]) -> Value {
    Value::from(STANDARD.encode(bytes))
}

fn oid_arcs(oid: &ObjectIdentifier) -> Value {
    Value::from(
        oid.arcs()
            .map(|a| Value::from(u64::from(a)))
            .collect::<Vec<_>>(),
    )
}

fn big(magnitude: BigInt) -> Result<Value> {
    Value::from_numeric_string(&magnitude.to_string())
}

fn list_or_null(items: Vec<Value>) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::from(items)
    }
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Go's SignatureAlgorithm enumeration for the certificate's signature algorithm.
fn signature_algorithm(c: &Certificate) -> u64 {
    let alg = &c.signature_algorithm;
    match alg.oid.to_string().as_str() {
        "1.2.840.113549.1.1.2" => 1,
        "1.2.840.113549.1.1.4" => 2,
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => 3,
        "1.2.840.113549.1.1.11" => 4,
        "1.2.840.113549.1.1.12" => 5,
        "1.2.840.113549.1.1.13" => 6,
        "1.2.840.10040.4.3" => 7,
        "2.16.840.1.101.3.4.3.2" => 8,
        "1.2.840.10045.4.1" => 9,
        "1.2.840.10045.4.3.2" => 10,
        "1.2.840.10045.4.3.3" => 11,
        "1.2.840.10045.4.3.4" => 12,
        "1.2.840.113549.1.1.10" => {
            // RSASSA-PSS: the hash in the parameters picks SHA256/384/512WithRSAPSS.
            let params = alg
                .parameters
                .as_ref()
                .and_then(|p| p.to_der().ok())
                .unwrap_or_default();
            let has = |last: u8| {
                find(
                    &params,
                    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, last],
                )
                .is_some()
            };
            if has(1) {
                13
            } else if has(2) {
                14
            } else if has(3) {
                15
            } else {
                0
            }
        }
        "1.3.101.112" => 16,
        _ => 0,
    }
}

/// Go's PublicKeyAlgorithm and PublicKey (RSA {N, E}; ECDSA {Curve: {}, X, Y}; Ed25519 bytes).
fn public_key(c: &Certificate) -> Result<(u64, Value)> {
    let spki = &c.tbs_certificate.subject_public_key_info;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| anyhow!("x509: public key has unused bits"))?;
    match spki.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => {
            let mut r = SliceReader::new(key)?;
            let (n, e) =
                r.sequence(|r| Ok::<_, der::Error>((UintRef::decode(r)?, UintRef::decode(r)?)))?;
            let e = e
                .as_bytes()
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let n = BigInt::from_bytes_be(Sign::Plus, n.as_bytes());
            Ok((1, object(vec![("N", big(n)?), ("E", Value::from(e))])))
        }
        "1.2.840.10045.2.1" => {
            if key.first() != Some(&4) || key.len() % 2 != 1 {
                bail!("x509: unsupported elliptic curve point encoding");
            }
            let half = (key.len() - 1) / 2;
            let x = BigInt::from_bytes_be(Sign::Plus, &key[1..=half]);
            let y = BigInt::from_bytes_be(Sign::Plus, &key[half + 1..]);
            Ok((
                3,
                object(vec![
                    ("Curve", Value::new_object()),
                    ("X", big(x)?),
                    ("Y", big(y)?),
                ]),
            ))
        }
        "1.3.101.112" => Ok((4, b64(key))),
        "1.2.840.10040.4.1" => bail!("x509: DSA public keys are not supported"),
        _ => Ok((0, Value::Null)),
    }
}

/// Go's pkix.Name filled from the RDN sequence (FillFromRDNSequence).
fn name(n: &Name) -> Value {
    let mut names = Vec::new();
    let mut lists: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    let (mut cn, mut serial) = (String::new(), String::new());
    for rdn in n.0.iter() {
        for atv in rdn.0.iter() {
            let value = String::from_utf8_lossy(atv.value.value()).to_string();
            names.push(object(vec![
                ("Type", oid_arcs(&atv.oid)),
                ("Value", Value::from(value.clone())),
            ]));
            let arcs: Vec<u32> = atv.oid.arcs().collect();
            if let [2, 5, 4, t] = arcs[..] {
                match t {
                    3 => cn = value,
                    5 => serial = value,
                    6..=11 | 17 => lists.entry(t).or_default().push(Value::from(value)),
                    _ => {}
                }
            }
        }
    }
    let mut list = |t: u32| list_or_null(lists.remove(&t).unwrap_or_default());
    object(vec![
        ("Country", list(6)),
        ("Locality", list(7)),
        ("Province", list(8)),
        ("StreetAddress", list(9)),
        ("Organization", list(10)),
        ("OrganizationalUnit", list(11)),
        ("PostalCode", list(17)),
        ("SerialNumber", Value::from(serial)),
        ("CommonName", Value::from(cn)),
        ("Names", list_or_null(names)),
        ("ExtraNames", Value::Null),
    ])
}

/// Go's ExtKeyUsage enumeration, or None for an OID it lists in UnknownExtKeyUsage.
fn ext_key_usage(oid: &ObjectIdentifier) -> Option<u64> {
    Some(match oid.to_string().as_str() {
        "2.5.29.37.0" => 0,
        "1.3.6.1.5.5.7.3.1" => 1,
        "1.3.6.1.5.5.7.3.2" => 2,
        "1.3.6.1.5.5.7.3.3" => 3,
        "1.3.6.1.5.5.7.3.4" => 4,
        "1.3.6.1.5.5.7.3.5" => 5,
        "1.3.6.1.5.5.7.3.6" => 6,
        "1.3.6.1.5.5.7.3.7" => 7,
        "1.3.6.1.5.5.7.3.8" => 8,
        "1.3.6.1.5.5.7.3.9" => 9,
        "1.3.6.1.4.1.311.10.3.3" => 10,
        "2.16.840.1.113730.4.1" => 11,
        "1.3.6.1.4.1.311.2.1.22" => 12,
        "1.3.6.1.4.1.311.61.1.1" => 13,
        _ => return None,
    })
}

/// Go's net.IP text form (IPv4-mapped IPv6 addresses print as IPv4).
fn ip_text(bytes: &[u8]) -> Result<String> {
    Ok(match bytes.len() {
        4 => Ipv4Addr::from(<[u8; 4]>::try_from(bytes)?).to_string(),
        16 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(bytes)?);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4).to_string(),
                None => v6.to_string(),
            }
        }
        n => bail!("x509: cannot parse IP address of length {n}"),
    })
}

/// Go's url.URL fields for a URI SAN (scheme, authority, path, query, fragment).
fn url(text: &str) -> Result<Value> {
    let (rest, fragment) = match text.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (text, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (scheme, rest) = match rest.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), rest),
    };
    let (mut host, mut user, mut path, mut opaque) =
        (String::new(), Value::Null, String::new(), String::new());
    if let Some(after) = rest.strip_prefix("//") {
        let (authority, p) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        host = match authority.rsplit_once('@') {
            Some((_, h)) => {
                // Go's *Userinfo has only unexported fields: encoding/json writes {}.
                user = Value::new_object();
                h.to_string()
            }
            None => authority.to_string(),
        };
        path = p.to_string();
    } else if !scheme.is_empty() && !rest.starts_with('/') {
        opaque = rest.to_string();
    } else {
        path = rest.to_string();
    }
    let (path, raw_path) = unescape_path(&path)?;
    Ok(object(vec![
        ("Scheme", Value::from(scheme)),
        ("Opaque", Value::from(opaque)),
        ("User", user),
        ("Host", Value::from(host)),
        ("Path", Value::from(path)),
        ("RawPath", Value::from(raw_path)),
        ("OmitHost", Value::from(false)),
        ("ForceQuery", Value::from(query == Some(""))),
        ("RawQuery", Value::from(query.unwrap_or(""))),
        (
            "Fragment",
            Value::from(percent_decode(fragment.unwrap_or(""))?),
        ),
        (
            "RawFragment",
            Value::from(if fragment.is_some_and(|f| f.contains('%')) {
                fragment.unwrap_or("").to_string()
            } else {
                String::new()
            }),
        ),
    ]))
}

/// Go's setPath: Path is the unescaped form; RawPath keeps the original only when Go's own
/// escaping of Path would not give it back.
fn unescape_path(p: &str) -> Result<(String, String)> {
    let decoded = percent_decode(p)?;
    let escaped: String = decoded
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let raw = if escaped == p {
        String::new()
    } else {
        p.to_string()
    };
    Ok((decoded, raw))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .ok_or_else(|| anyhow!("x509: invalid URL escape in {s:?}"))?;
            out.push(
                u8::from_str_radix(hex, 16)
                    .map_err(|_| anyhow!("x509: invalid URL escape in {s:?}"))?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).to_string())
}

fn time_text(t: &x509_cert::time::Time) -> Result<Value> {
    let secs = i64::try_from(t.to_unix_duration().as_secs())?;
    Ok(Value::from(jiff::Timestamp::from_second(secs)?.to_string()))
}

/// One certificate as OPA returns it (Go's x509.Certificate through encoding/json, plus
/// URIStrings).
fn to_value(c: &Certificate, raw: &[u8]) -> Result<Value> {
    let tbs = &c.tbs_certificate;
    let (pk_alg, pk) = public_key(c)?;
    let serial = BigInt::from_signed_bytes_be(tbs.serial_number.as_bytes());
    let mut f: BTreeMap<&str, Value> = BTreeMap::new();
    f.insert("Raw", b64(raw));
    f.insert("RawTBSCertificate", b64(&tbs.to_der()?));
    f.insert(
        "RawSubjectPublicKeyInfo",
        b64(&tbs.subject_public_key_info.to_der()?),
    );
    f.insert("RawSubject", b64(&tbs.subject.to_der()?));
    f.insert("RawIssuer", b64(&tbs.issuer.to_der()?));
    f.insert("Signature", b64(c.signature.raw_bytes()));
    f.insert("SignatureAlgorithm", Value::from(signature_algorithm(c)));
    f.insert("PublicKeyAlgorithm", Value::from(pk_alg));
    f.insert("PublicKey", pk);
    f.insert("Version", Value::from(tbs.version as u64 + 1));
    f.insert("SerialNumber", big(serial)?);
    f.insert("Issuer", name(&tbs.issuer));
    f.insert("Subject", name(&tbs.subject));
    f.insert("NotBefore", time_text(&tbs.validity.not_before)?);
    f.insert("NotAfter", time_text(&tbs.validity.not_after)?);
    // Go's zero values for everything an extension may fill.
    for k in [
        "ExtraExtensions",
        "UnhandledCriticalExtensions",
        "ExtKeyUsage",
        "UnknownExtKeyUsage",
        "SubjectKeyId",
        "AuthorityKeyId",
        "OCSPServer",
        "IssuingCertificateURL",
        "DNSNames",
        "EmailAddresses",
        "IPAddresses",
        "URIs",
        "URIStrings",
        "PermittedDNSDomains",
        "ExcludedDNSDomains",
        "PermittedIPRanges",
        "ExcludedIPRanges",
        "PermittedEmailAddresses",
        "ExcludedEmailAddresses",
        "PermittedURIDomains",
        "ExcludedURIDomains",
        "CRLDistributionPoints",
        "PolicyIdentifiers",
        "Policies",
        "PolicyMappings",
    ] {
        f.insert(k, Value::Null);
    }
    for k in [
        "BasicConstraintsValid",
        "IsCA",
        "MaxPathLenZero",
        "PermittedDNSDomainsCritical",
        "InhibitAnyPolicyZero",
        "InhibitPolicyMappingZero",
        "RequireExplicitPolicyZero",
    ] {
        f.insert(k, Value::from(false));
    }
    for k in [
        "KeyUsage",
        "MaxPathLen",
        "InhibitAnyPolicy",
        "InhibitPolicyMapping",
        "RequireExplicitPolicy",
    ] {
        f.insert(k, Value::from(0u64));
    }
    let mut extensions = Vec::new();
    let mut unhandled = Vec::new();
    for e in tbs.extensions.as_deref().unwrap_or_default() {
        extensions.push(object(vec![
            ("Id", oid_arcs(&e.extn_id)),
            ("Critical", Value::from(e.critical)),
            ("Value", b64(e.extn_value.as_bytes())),
        ]));
        let value = e.extn_value.as_bytes();
        let bad = |what: &str, err: der::Error| anyhow!("x509: malformed {what} extension: {err}");
        let mut handled = true;
        match e.extn_id.to_string().as_str() {
            "2.5.29.15" => {
                let ku = KeyUsage::from_der(value).map_err(|x| bad("key usage", x))?;
                f.insert("KeyUsage", Value::from(u64::from(ku.0.bits())));
            }
            "2.5.29.19" => {
                let bc =
                    BasicConstraints::from_der(value).map_err(|x| bad("basic constraints", x))?;
                let max = bc.path_len_constraint.map_or(-1, i64::from);
                f.insert("BasicConstraintsValid", Value::from(true));
                f.insert("IsCA", Value::from(bc.ca));
                f.insert("MaxPathLen", Value::from(max));
                f.insert("MaxPathLenZero", Value::from(max == 0));
            }
            "2.5.29.17" => {
                let san = SubjectAltName::from_der(value)
                    .map_err(|x| bad("subject alternative name", x))?;
                let (mut dns, mut email, mut ips, mut uris, mut uri_strings) =
                    (vec![], vec![], vec![], vec![], vec![]);
                for g in &san.0 {
                    match g {
                        GeneralName::DnsName(s) => dns.push(Value::from(s.to_string())),
                        GeneralName::Rfc822Name(s) => email.push(Value::from(s.to_string())),
                        GeneralName::IpAddress(o) => ips.push(Value::from(ip_text(o.as_bytes())?)),
                        GeneralName::UniformResourceIdentifier(s) => {
                            uris.push(url(s.as_str())?);
                            uri_strings.push(Value::from(s.to_string()));
                        }
                        _ => {}
                    }
                }
                // Go treats a SAN with none of these four as unhandled (critical check below).
                handled =
                    !(dns.is_empty() && email.is_empty() && ips.is_empty() && uris.is_empty());
                f.insert("DNSNames", list_or_null(dns));
                f.insert("EmailAddresses", list_or_null(email));
                f.insert("IPAddresses", list_or_null(ips));
                f.insert("URIs", list_or_null(uris));
                f.insert("URIStrings", list_or_null(uri_strings));
            }
            "2.5.29.37" => {
                let eku =
                    ExtendedKeyUsage::from_der(value).map_err(|x| bad("extended key usage", x))?;
                let (mut known, mut unknown) = (vec![], vec![]);
                for oid in &eku.0 {
                    match ext_key_usage(oid) {
                        Some(n) => known.push(Value::from(n)),
                        None => unknown.push(oid_arcs(oid)),
                    }
                }
                f.insert("ExtKeyUsage", list_or_null(known));
                f.insert("UnknownExtKeyUsage", list_or_null(unknown));
            }
            "2.5.29.14" => {
                let ski = SubjectKeyIdentifier::from_der(value)
                    .map_err(|x| bad("subject key identifier", x))?;
                f.insert("SubjectKeyId", b64(ski.0.as_bytes()));
            }
            "2.5.29.35" => {
                let aki = AuthorityKeyIdentifier::from_der(value)
                    .map_err(|x| bad("authority key identifier", x))?;
                if let Some(k) = aki.key_identifier.as_ref().map(OctetString::as_bytes) {
                    f.insert("AuthorityKeyId", b64(k));
                }
            }
            "2.5.29.31" => {
                let dps = CrlDistributionPoints::from_der(value)
                    .map_err(|x| bad("CRL distribution points", x))?;
                let urls: Vec<Value> = dps
                    .0
                    .iter()
                    .filter_map(|dp| match &dp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => Some(names),
                        _ => None,
                    })
                    .flatten()
                    .filter_map(|g| match g {
                        GeneralName::UniformResourceIdentifier(s) => {
                            Some(Value::from(s.to_string()))
                        }
                        _ => None,
                    })
                    .collect();
                f.insert("CRLDistributionPoints", list_or_null(urls));
            }
            "2.5.29.32" => {
                let policies = CertificatePolicies::from_der(value)
                    .map_err(|x| bad("certificate policies", x))?;
                let ids: Vec<&ObjectIdentifier> =
                    policies.0.iter().map(|p| &p.policy_identifier).collect();
                f.insert(
                    "Policies",
                    list_or_null(ids.iter().map(|o| Value::from(o.to_string())).collect()),
                );
                f.insert(
                    "PolicyIdentifiers",
                    Value::from(ids.iter().map(|o| oid_arcs(o)).collect::<Vec<_>>()),
                );
            }
            "2.5.29.30" | "2.5.29.33" | "2.5.29.36" | "2.5.29.54" => {}
            "1.3.6.1.5.5.7.1.1" => {
                let aia = AuthorityInfoAccessSyntax::from_der(value)
                    .map_err(|x| bad("authority information access", x))?;
                let (mut ocsp, mut issuers) = (vec![], vec![]);
                for ad in &aia.0 {
                    if let GeneralName::UniformResourceIdentifier(s) = &ad.access_location {
                        match ad.access_method.to_string().as_str() {
                            "1.3.6.1.5.5.7.48.1" => ocsp.push(Value::from(s.to_string())),
                            "1.3.6.1.5.5.7.48.2" => issuers.push(Value::from(s.to_string())),
                            _ => {}
                        }
                    }
                }
                f.insert("OCSPServer", list_or_null(ocsp));
                f.insert("IssuingCertificateURL", list_or_null(issuers));
            }
            _ => handled = false,
        }
        if e.critical && !handled {
            unhandled.push(oid_arcs(&e.extn_id));
        }
    }
    f.insert("Extensions", list_or_null(extensions));
    f.insert("UnhandledCriticalExtensions", list_or_null(unhandled));
    Ok(object(f.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_pem_blocks_with_opas_message() {
        let err = parse_input("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .expect_err("not a certificate");
        assert_eq!(
            err.to_string(),
            "PEM block type is 'PUBLIC KEY', expected CERTIFICATE"
        );
    }

    #[test]
    fn rejects_text_that_is_neither_pem_nor_base64() {
        let err = parse_input("not a certificate!").expect_err("garbage");
        assert!(err.to_string().contains("neither PEM nor base64"), "{err}");
    }

    #[test]
    fn urls_split_like_go() {
        let v = url("https://user@example.com/a%2Fb?q=1#frag").expect("url");
        let s = serde_json::to_value(&v).expect("json");
        assert_eq!(s["Host"], "example.com");
        assert_eq!(s["Path"], "/a/b");
        assert_eq!(s["RawPath"], "/a%2Fb");
        assert_eq!(s["RawQuery"], "q=1");
        assert_eq!(s["Fragment"], "frag");
        assert_eq!(s["User"], serde_json::json!({}));
    }

    #[test]
    fn mapped_ipv6_prints_as_ipv4() {
        let mut b = [0u8; 16];
        b[10] = 0xff;
        b[11] = 0xff;
        b[12..].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(ip_text(&b).expect("ip"), "10.0.0.1");
        assert!(ip_text(&[1, 2, 3]).is_err());
    }
}
