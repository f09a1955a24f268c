//! Per-request app assertions (device-trust.md §5, the App Attest model;
//! docs/device-trust.md "Per-request app assertions").
//!
//! The app key is the TEE key that signed the application's evidence: its
//! Android attestation bound it to the app (package and signing
//! certificate) and to the application's nonce, and the SP-TSM kept its
//! public key. Every later call of the app to the SP-TSM carries an
//! assertion by that key over the request, in App Attest's wire format:
//! CBOR `{"signature": bstr, "authenticatorData": bstr}` where
//! `authenticatorData` = rpIdHash (32) ‖ flags (1) ‖ counter (u32 BE) and
//! `signature` is ECDSA-P256-SHA256 (ASN.1) over
//! SHA-256(authenticatorData ‖ clientDataHash). Here
//! clientDataHash = SHA-256(`METHOD path` LF ‖ body): the assertion covers
//! the exact request. The verifier checks the signature under the stored
//! key, rpIdHash against the app the evidence named, and a counter above
//! the stored one, which it stores before going on.
//!
//! A cloned or repackaged app — even with the right package name and a
//! stolen resume token — has no such key in its TEE: refused.

use crate::ec::{self, EcKey};
use crate::keystore::AppIdentity;
use ciborium::value::Value;

/// The HTTP header that carries an assertion (base64).
pub const HEADER: &str = "x-app-assertion";
/// authenticatorData's length: rpIdHash, flags, counter.
pub const AUTHENTICATOR_DATA_LEN: usize = 37;
/// The largest assertion a verifier reads.
pub const MAX_LEN: usize = 256;

/// Why an assertion is refused. Each has a reason code, as the appraisal's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// No assertion came with a request that needs one.
    #[error("assertion_missing: the request carries no app assertion ({HEADER}); update the JPKI app")]
    Missing,
    /// Not the CBOR map of App Attest, or not base64.
    #[error("assertion_malformed: {0}")]
    Malformed(String),
    /// The signature does not verify under the app key over this request.
    #[error("assertion_signature: the assertion is not by this application's app key over this request")]
    Signature,
    /// rpIdHash names another app.
    #[error("assertion_app: the assertion is for another app")]
    OtherApp,
    /// The counter did not grow: a replayed (or cloned) assertion.
    #[error("assertion_replayed: counter {got} is not above {stored}")]
    Replayed {
        /// The assertion's counter.
        got: u32,
        /// The highest counter seen.
        stored: u32,
    },
}

impl AssertionError {
    /// The reason code (the message's first word).
    pub fn code(&self) -> &'static str {
        match self {
            AssertionError::Missing => "assertion_missing",
            AssertionError::Malformed(_) => "assertion_malformed",
            AssertionError::Signature => "assertion_signature",
            AssertionError::OtherApp => "assertion_app",
            AssertionError::Replayed { .. } => "assertion_replayed",
        }
    }
}

/// The relying-party id of an app, App Attest's `TeamID.bundleID` made
/// Android: the SHA-256 of its (first) signing certificate in hex, a dot,
/// the package name. A repackaged app has another.
pub fn rp_id(app: &AppIdentity) -> String {
    let digest = app.signing_digests.first().map(hex::encode).unwrap_or_default();
    format!("{digest}.{}", app.package)
}

/// SHA-256 of [`rp_id`].
pub fn rp_id_hash(app: &AppIdentity) -> [u8; 32] {
    sha256(rp_id(app).as_bytes())
}

/// clientDataHash of a request: SHA-256(`METHOD path` LF ‖ body).
pub fn client_data_hash(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut data = format!("{method} {path}\n").into_bytes();
    data.extend_from_slice(body);
    sha256(&data)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&pki::HashAlg::Sha256.digest(data));
    out
}

fn signed_nonce(authenticator_data: &[u8], client_data_hash: &[u8; 32]) -> [u8; 32] {
    let mut data = authenticator_data.to_vec();
    data.extend_from_slice(client_data_hash);
    sha256(&data)
}

/// The app's assertion with `counter` over `client_data_hash`.
pub fn assert(key: &EcKey, rp_id_hash: &[u8; 32], counter: u32, client_data_hash: &[u8; 32]) -> Vec<u8> {
    let mut authenticator_data = rp_id_hash.to_vec();
    authenticator_data.push(0);
    authenticator_data.extend_from_slice(&counter.to_be_bytes());
    let signature = key.sign_der(&signed_nonce(&authenticator_data, client_data_hash));
    let map = Value::Map(vec![
        (Value::Text("signature".into()), Value::Bytes(signature)),
        (Value::Text("authenticatorData".into()), Value::Bytes(authenticator_data)),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).expect("CBOR encodes");
    out
}

/// An assertion taken apart (not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// ECDSA signature (ASN.1).
    pub signature: Vec<u8>,
    /// rpIdHash ‖ flags ‖ counter.
    pub authenticator_data: Vec<u8>,
}

impl Parsed {
    /// The counter.
    pub fn counter(&self) -> u32 {
        let c = &self.authenticator_data[33..37];
        u32::from_be_bytes([c[0], c[1], c[2], c[3]])
    }
}

/// Parses an assertion: a CBOR map with exactly the two byte strings.
pub fn parse(raw: &[u8]) -> Result<Parsed, AssertionError> {
    let malformed = |m: &str| AssertionError::Malformed(m.to_string());
    if raw.len() > MAX_LEN {
        return Err(malformed("longer than an assertion"));
    }
    let mut reader = raw;
    let value: Value = ciborium::from_reader(&mut reader).map_err(|_| malformed("not CBOR"))?;
    if !reader.is_empty() {
        return Err(malformed("trailing bytes after the CBOR map"));
    }
    let Value::Map(entries) = value else { return Err(malformed("not a CBOR map")) };
    let (mut signature, mut authenticator_data) = (None, None);
    for (k, v) in entries {
        let (Value::Text(k), Value::Bytes(v)) = (k, v) else {
            return Err(malformed("entries must be text keys with byte-string values"));
        };
        let slot = match k.as_str() {
            "signature" => &mut signature,
            "authenticatorData" => &mut authenticator_data,
            _ => return Err(malformed("an entry other than signature and authenticatorData")),
        };
        if slot.replace(v).is_some() {
            return Err(malformed("a repeated entry"));
        }
    }
    let (Some(signature), Some(authenticator_data)) = (signature, authenticator_data) else {
        return Err(malformed("signature or authenticatorData missing"));
    };
    if authenticator_data.len() != AUTHENTICATOR_DATA_LEN {
        return Err(malformed("authenticatorData is not 37 bytes"));
    }
    Ok(Parsed { signature, authenticator_data })
}

/// Checks `raw` under the app key `spki` for the app with `rp_id_hash`,
/// over the request whose hash is `client_data_hash`, against the highest
/// counter seen, `stored`. Returns the new counter, which the caller must
/// store (durably, only if still above what is stored) before acting.
pub fn verify(
    raw: &[u8],
    spki: &[u8],
    rp_id_hash: &[u8; 32],
    client_data_hash: &[u8; 32],
    stored: u32,
) -> Result<u32, AssertionError> {
    let parsed = parse(raw)?;
    let nonce = signed_nonce(&parsed.authenticator_data, client_data_hash);
    if !ec::verify_der(spki, &nonce, &parsed.signature) {
        return Err(AssertionError::Signature);
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&parsed.authenticator_data[..32], &rp_id_hash[..])) {
        return Err(AssertionError::OtherApp);
    }
    let got = parsed.counter();
    if got <= stored {
        return Err(AssertionError::Replayed { got, stored });
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(package: &str, certificate: &[u8]) -> AppIdentity {
        AppIdentity {
            package: package.into(),
            version: 1,
            signing_digests: vec![pki::HashAlg::Sha256.digest(certificate)],
        }
    }

    #[test]
    fn an_assertion_verifies_only_for_its_key_app_request_and_a_growing_counter() {
        let key = EcKey::generate();
        let jpki = app("jp.go.jpki.mobile", b"the JPKI app's signing certificate");
        let rp = rp_id_hash(&jpki);
        let request = client_data_hash("POST", "/v1/relay/ab", b"{\"responses\":[\"9000\"]}");
        let raw = assert(&key, &rp, 7, &request);
        assert_eq!(verify(&raw, &key.spki(), &rp, &request, 6), Ok(7));
        assert_eq!(parse(&raw).unwrap().counter(), 7);

        let other_key = EcKey::generate();
        assert_eq!(verify(&raw, &other_key.spki(), &rp, &request, 6), Err(AssertionError::Signature));
        let altered = client_data_hash("POST", "/v1/relay/ab", b"{\"responses\":[\"6A82\"]}");
        assert_eq!(verify(&raw, &key.spki(), &rp, &altered, 6), Err(AssertionError::Signature));
        let elsewhere = client_data_hash("POST", "/v1/relay/cd", b"{\"responses\":[\"9000\"]}");
        assert_eq!(verify(&raw, &key.spki(), &rp, &elsewhere, 6), Err(AssertionError::Signature));
        // The same package name signed by someone else: another rpId.
        let repackaged = rp_id_hash(&app("jp.go.jpki.mobile", b"a repackager's certificate"));
        assert_ne!(repackaged, rp);
        let forged = assert(&key, &repackaged, 8, &request);
        assert_eq!(verify(&forged, &key.spki(), &rp, &request, 7), Err(AssertionError::OtherApp));
        assert_eq!(verify(&raw, &key.spki(), &rp, &request, 7), Err(AssertionError::Replayed { got: 7, stored: 7 }));
        assert_eq!(
            verify(&assert(&key, &rp, 0, &request), &key.spki(), &rp, &request, 0),
            Err(AssertionError::Replayed { got: 0, stored: 0 })
        );
        assert_eq!(verify(&raw, &key.spki(), &rp, &request, 9).unwrap_err().code(), "assertion_replayed");
    }

    #[test]
    fn malformed_assertions_are_refused_by_name() {
        let key = EcKey::generate();
        let rp = [1u8; 32];
        let good = parse(&assert(&key, &rp, 1, &[2; 32])).unwrap();
        let encode = |v: Value| {
            let mut out = Vec::new();
            ciborium::into_writer(&v, &mut out).unwrap();
            out
        };
        let entry = |k: &str, v: &[u8]| (Value::Text(k.into()), Value::Bytes(v.to_vec()));
        let sig = entry("signature", &good.signature);
        let data = entry("authenticatorData", &good.authenticator_data);
        let mut trailing = encode(Value::Map(vec![sig.clone(), data.clone()]));
        trailing.push(0);
        let cases = [
            (b"not cbor \xff".to_vec(), "not CBOR"),
            (encode(Value::Array(vec![])), "not a CBOR map"),
            (encode(Value::Map(vec![sig.clone()])), "missing"),
            (encode(Value::Map(vec![sig.clone(), data.clone(), sig.clone()])), "repeated"),
            (encode(Value::Map(vec![sig.clone(), entry("authenticatorData", &[0; 36])])), "not 37 bytes"),
            (encode(Value::Map(vec![sig.clone(), data.clone(), entry("x", b"")])), "other than"),
            (encode(Value::Map(vec![(Value::Integer(1.into()), Value::Bytes(vec![]))])), "text keys"),
            (trailing, "trailing"),
            (vec![0xa0; MAX_LEN + 1], "longer"),
        ];
        for (raw, why) in cases {
            match parse(&raw) {
                Err(AssertionError::Malformed(m)) => assert!(m.contains(why), "{why}: {m}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        assert_eq!(
            verify(b"", &key.spki(), &rp, &[2; 32], 0).unwrap_err().code(),
            "assertion_malformed",
            "empty is malformed"
        );
    }
}
