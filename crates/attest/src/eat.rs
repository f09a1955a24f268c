//! The phone's evidence: an Entity Attestation Token (RFC 9711) as a CWT —
//! COSE_Sign1 (CBOR tag 18), ES256 — signed by a key the phone's TEE made
//! for this nonce, with that key's Android attestation chain in the
//! protected `x5chain` header (RFC 9360, label 33). So the claims are as
//! good as the TEE and boot state the chain attests.
//!
//! Claims (keys from RFC 9711's CDDL; private claims below −65536):
//! `eat_nonce` (10), `iat` (6), `eat_profile` (265), `intuse` (275) = 4
//! certificate issuance, `ueid` (256), `hwmodel` (259), `dbgstat` (263),
//! and `submods` (266) `"se"` {SE identifier, applet name} and `"app"`
//! {package, signing-certificate digests}.

use crate::ec::{self, EcKey};
use ciborium::value::Value;
use coset::{iana, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};

/// Our EAT profile.
pub const PROFILE: &str = "tag:openjpki.org,2026:phone-evidence#1";
/// intuse: certificate issuance.
pub const INTUSE_CERTIFICATE_ISSUANCE: i64 = 4;
/// Private claim: the SE identifier (bstr, 10 bytes).
pub const CLAIM_SE_IDENTIFIER: i64 = -70_001;
/// Private claim: SHA-256 digests of the app's signing certificates.
pub const CLAIM_APP_SIGNING_DIGESTS: i64 = -70_002;

const NONCE: i64 = 10;
const IAT: i64 = 6;
const UEID: i64 = 256;
const HWMODEL: i64 = 259;
const DBGSTAT: i64 = 263;
const SUBMODS: i64 = 266;
const EAT_PROFILE: i64 = 265;
const SWNAME: i64 = 270;
const INTUSE: i64 = 275;
const X5CHAIN: i64 = 33;

/// What the phone claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneClaims {
    /// The verifier's nonce (8–64 bytes).
    pub nonce: Vec<u8>,
    /// Issued at (seconds since the epoch).
    pub issued_at: i64,
    /// The device instance (type 0x01 RAND ‖ 16 bytes).
    pub ueid: Vec<u8>,
    /// The phone model.
    pub hwmodel: String,
    /// Debug status (0 enabled, 1 disabled).
    pub dbgstat: i64,
    /// The SE identifier the app read through OMAPI.
    pub se_identifier: Vec<u8>,
    /// The applet (swname of submod "se").
    pub applet: String,
    /// The app's package name.
    pub app_package: String,
    /// SHA-256 of each of the app's signing certificates.
    pub app_signing_digests: Vec<Vec<u8>>,
}

/// Opened evidence: claims whose signature verified under the chain's leaf.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The claims.
    pub claims: PhoneClaims,
    /// The Android attestation chain of the signing key, leaf first.
    pub chain: Vec<Vec<u8>>,
}

/// Why evidence could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EatError {
    /// Not a tagged COSE_Sign1 CWT with our claims.
    #[error("the evidence is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify under the chain's leaf key.
    #[error("the evidence's signature does not verify under its attested key")]
    BadSignature,
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

fn map(entries: Vec<(Value, Value)>) -> Value {
    Value::Map(entries)
}

/// Signs `claims` with the TEE `key` whose attestation chain is `chain`.
pub fn sign(claims: &PhoneClaims, chain: &[Vec<u8>], key: &EcKey) -> Vec<u8> {
    let se = map(vec![
        (int(SWNAME), Value::Text(claims.applet.clone())),
        (int(CLAIM_SE_IDENTIFIER), bytes(&claims.se_identifier)),
    ]);
    let app = map(vec![
        (int(SWNAME), Value::Text(claims.app_package.clone())),
        (int(CLAIM_APP_SIGNING_DIGESTS), Value::Array(claims.app_signing_digests.iter().map(|d| bytes(d)).collect())),
    ]);
    let set = map(vec![
        (int(NONCE), bytes(&claims.nonce)),
        (int(IAT), int(claims.issued_at)),
        (int(UEID), bytes(&claims.ueid)),
        (int(HWMODEL), bytes(claims.hwmodel.as_bytes())),
        (int(DBGSTAT), int(claims.dbgstat)),
        (int(EAT_PROFILE), Value::Text(PROFILE.into())),
        (int(SUBMODS), map(vec![(Value::Text("se".into()), se), (Value::Text("app".into()), app)])),
        (int(INTUSE), int(INTUSE_CERTIFICATE_ISSUANCE)),
    ]);
    let mut payload = Vec::new();
    ciborium::into_writer(&set, &mut payload).expect("claims encode");
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .value(X5CHAIN, Value::Array(chain.iter().map(|c| bytes(c)).collect()))
        .build();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| key.sign_fixed(tbs))
        .build()
        .to_tagged_vec()
        .expect("COSE_Sign1 encodes")
}

fn claim(set: &[(Value, Value)], key: i64) -> Option<&Value> {
    get(set, &int(key))
}

fn malformed(what: &str) -> EatError {
    EatError::Malformed(what.into())
}

fn get<'a>(entries: &'a [(Value, Value)], key: &Value) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn as_bytes(v: Option<&Value>, what: &str) -> Result<Vec<u8>, EatError> {
    v.and_then(Value::as_bytes).cloned().ok_or_else(|| malformed(what))
}

fn as_text(v: Option<&Value>, what: &str) -> Result<String, EatError> {
    v.and_then(Value::as_text).map(str::to_string).ok_or_else(|| malformed(what))
}

/// Opens evidence: parses it and checks its signature under the leaf of
/// its chain. The chain itself is the appraisal's to check.
pub fn open(token: &[u8]) -> Result<Evidence, EatError> {
    let sign1 = CoseSign1::from_tagged_slice(token).map_err(|e| EatError::Malformed(e.to_string()))?;
    if sign1.protected.header.alg != Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) {
        return Err(malformed("the algorithm is not ES256"));
    }
    let chain: Vec<Vec<u8>> = sign1
        .protected
        .header
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(X5CHAIN))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| malformed("no x5chain in the protected header"))?
        .iter()
        .map(|c| c.as_bytes().cloned().ok_or_else(|| malformed("x5chain holds a non-bstr")))
        .collect::<Result<_, _>>()?;
    let leaf = chain.first().ok_or_else(|| malformed("empty x5chain"))?;
    let spki =
        crate::x509::Parsed::from_der(leaf).map_err(|_| malformed("the x5chain leaf is not a certificate"))?.spki();
    sign1
        .verify_signature(b"", |sig, tbs| if ec::verify_fixed(&spki, tbs, sig) { Ok(()) } else { Err(()) })
        .map_err(|()| EatError::BadSignature)?;
    let payload = sign1.payload.as_deref().ok_or_else(|| malformed("no payload"))?;
    let set: Value = ciborium::from_reader(payload).map_err(|e| EatError::Malformed(e.to_string()))?;
    let set = set.as_map().ok_or_else(|| malformed("the claims are not a map"))?;
    if claim(set, EAT_PROFILE).and_then(Value::as_text) != Some(PROFILE) {
        return Err(malformed("not our EAT profile"));
    }
    if claim(set, INTUSE).and_then(Value::as_integer).map(i128::from) != Some(INTUSE_CERTIFICATE_ISSUANCE as i128) {
        return Err(malformed("intended use is not certificate issuance"));
    }
    let integer = |key: i64, what: &str| {
        claim(set, key).and_then(Value::as_integer).and_then(|i| i64::try_from(i).ok()).ok_or_else(|| malformed(what))
    };
    let issued_at = integer(IAT, "no iat")?;
    let submods = claim(set, SUBMODS).and_then(Value::as_map).ok_or_else(|| malformed("no submods"))?;
    let se =
        get(submods, &Value::Text("se".into())).and_then(Value::as_map).ok_or_else(|| malformed("no submod se"))?;
    let app =
        get(submods, &Value::Text("app".into())).and_then(Value::as_map).ok_or_else(|| malformed("no submod app"))?;
    let digests = get(app, &int(CLAIM_APP_SIGNING_DIGESTS))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no app signing digests"))?
        .iter()
        .map(|d| d.as_bytes().cloned().ok_or_else(|| malformed("a digest is not a bstr")))
        .collect::<Result<_, _>>()?;
    let claims = PhoneClaims {
        nonce: as_bytes(claim(set, NONCE), "no eat_nonce")?,
        issued_at,
        ueid: as_bytes(claim(set, UEID), "no ueid")?,
        hwmodel: String::from_utf8(as_bytes(claim(set, HWMODEL), "no hwmodel")?).map_err(|_| malformed("hwmodel"))?,
        dbgstat: integer(DBGSTAT, "no dbgstat")?,
        se_identifier: as_bytes(get(se, &int(CLAIM_SE_IDENTIFIER)), "no SE identifier")?,
        applet: as_text(get(se, &int(SWNAME)), "no applet name")?,
        app_package: as_text(get(app, &int(SWNAME)), "no app package")?,
        app_signing_digests: digests,
    };
    Ok(Evidence { claims, chain })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::{Authority, CertSpec, SubjectKey};

    pub(crate) fn sample_claims() -> PhoneClaims {
        PhoneClaims {
            nonce: vec![9; 32],
            issued_at: 1_800_000_000,
            ueid: [&[1u8][..], &[5; 16]].concat(),
            hwmodel: "openjpki phone".into(),
            dbgstat: 1,
            se_identifier: vec![1; 10],
            applet: "JPKI applet".into(),
            app_package: "jp.go.jpki.app".into(),
            app_signing_digests: vec![vec![3; 32]],
        }
    }

    #[test]
    fn evidence_opens_only_with_its_signature_intact() {
        let root = Authority::new_root("r", 1).unwrap();
        let key = EcKey::generate();
        let leaf = root.issue(&CertSpec::new("k", 1, false), SubjectKey::Ec(&key)).unwrap();
        let chain = vec![leaf, root.certificate.clone()];
        let token = sign(&sample_claims(), &chain, &key);
        let opened = open(&token).unwrap();
        assert_eq!(opened.claims, sample_claims());
        assert_eq!(opened.chain, chain);
        // Signed by another key than the attested one.
        let forged = sign(&sample_claims(), &chain, &EcKey::generate());
        assert_eq!(open(&forged).unwrap_err(), EatError::BadSignature);
        // One claim byte changed.
        let i = token.windows(32).position(|w| w == [9; 32]).unwrap();
        let mut altered = token.clone();
        altered[i] ^= 1;
        assert_eq!(open(&altered).unwrap_err(), EatError::BadSignature);
        assert!(matches!(open(b"\xd2\x84junk"), Err(EatError::Malformed(_))));
        assert!(matches!(open(&token[..token.len() - 1]), Err(EatError::Malformed(_))));
    }
}
