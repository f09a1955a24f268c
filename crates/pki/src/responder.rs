//! The delegated OCSP responder of each CA (RFC 6960 §4.2.2.2): a
//! certificate the CA issues to a key of its own with extendedKeyUsage
//! id-kp-OCSPSigning, so OCSP answers are signed by that key and the CA key
//! signs certificates and CRLs only. It carries id-pkix-ocsp-nocheck
//! (§4.2.2.2.1): relying parties do not check its own status, which is
//! why it lives short ([`LIFETIME`]) and is renewed a month before it ends.

use crate::cert::{raw_extension, sign_tbs, x509_time, CertError};
use crate::keystore::Signer;
use crate::profile::{key_identifier, random_serial};
use const_oid::db::{rfc4519, rfc5280, rfc6960};
use const_oid::AssociatedOid;
use der::asn1::Null;
use der::Decode;
use spki::SubjectPublicKeyInfoOwned;
use std::time::{Duration, SystemTime};
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate};

/// How long a responder certificate is valid.
pub const LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// A responder certificate this close to its end is replaced at start.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// Issues the responder certificate of `ca` for `public_key_der`: subject
/// the CA's name with `CN=OCSP Responder` added, keyUsage digitalSignature
/// (critical), extendedKeyUsage id-kp-OCSPSigning, id-pkix-ocsp-nocheck,
/// AKI and SKI; valid from `now` for [`LIFETIME`] (never past the CA).
pub fn issue(
    ca: &Certificate,
    ca_key: &dyn Signer,
    public_key_der: &[u8],
    now: SystemTime,
) -> Result<Certificate, CertError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(public_key_der)?;
    let mut subject = ca.tbs_certificate.subject.clone();
    subject.0.extend(crate::names::name(&[(rfc4519::CN, "OCSP Responder")]).0);
    let ca_end = ca.tbs_certificate.validity.not_after.to_system_time();
    let not_after = (now + LIFETIME).min(ca_end);
    let extensions = vec![
        raw_extension(KeyUsage::OID, true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
        raw_extension(ExtendedKeyUsage::OID, false, &ExtendedKeyUsage(vec![rfc5280::ID_KP_OCSP_SIGNING]))?,
        raw_extension(rfc6960::ID_PKIX_OCSP_NOCHECK, false, &Null)?,
        raw_extension(
            AuthorityKeyIdentifier::OID,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_identifier(&ca.tbs_certificate.subject_public_key_info)),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
        raw_extension(SubjectKeyIdentifier::OID, false, &SubjectKeyIdentifier(key_identifier(&spki)))?,
    ];
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(),
        signature: crate::cert::rsa_signature_algorithm(crate::HashAlg::Sha256),
        issuer: ca.tbs_certificate.subject.clone(),
        validity: Validity { not_before: x509_time(now - Duration::from_secs(300))?, not_after: x509_time(not_after)? },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    sign_tbs(tbs, ca_key)
}

/// Whether `cert` may sign OCSP answers for `ca`: issued by it (signature
/// checked), valid at `at`, and with id-kp-OCSPSigning.
pub fn authorized(cert: &Certificate, ca: &Certificate, at: SystemTime) -> Result<(), CertError> {
    crate::chain::verify_signed_by(cert, ca).map_err(|e| CertError::Invalid(format!("OCSP responder: {e}")))?;
    crate::chain::check_validity(cert, at).map_err(|e| CertError::Invalid(format!("OCSP responder: {e}")))?;
    match crate::cert::find_extension::<ExtendedKeyUsage>(cert)? {
        Some((_, eku)) if eku.0.contains(&rfc5280::ID_KP_OCSP_SIGNING) => Ok(()),
        _ => Err(CertError::Invalid("the OCSP responder's certificate lacks id-kp-OCSPSigning".into())),
    }
}

/// Whether `cert` should be replaced at `now` (less than [`RENEW_BEFORE`] left).
pub fn due(cert: &Certificate, now: SystemTime) -> bool {
    cert.tbs_certificate.validity.not_after.to_system_time() < now + RENEW_BEFORE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocsp::{build_delegated_response, build_response, cert_id, verify_response, Status};

    /// The CA's answers are signed by its responder, whose certificate
    /// rides along; a relying party holding only the CA accepts them, and
    /// refuses an answer from a responder another CA certified, or from a
    /// certificate of this CA that is not an OCSP signer.
    #[test]
    fn answers_from_the_delegated_responder_verify_and_impostors_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let cas = crate::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let ca = cas.ca(crate::CaKind::Sign);
        let now = SystemTime::now();
        let id = cert_id(&ca.cert, &[0x42], crate::HashAlg::Sha256).unwrap();
        let entries = [(id, Status::Good)];
        let answer =
            build_delegated_response(&ca.responder, &entries, now, now + Duration::from_secs(60), None).unwrap();
        assert_eq!(verify_response(&answer, &ca.cert).unwrap().statuses.len(), 1);
        assert_ne!(
            ca.responder.cert.tbs_certificate.subject_public_key_info,
            ca.cert.tbs_certificate.subject_public_key_info
        );
        assert!(!due(&ca.responder.cert, now));

        // Reopening keeps the same responder; a certificate of another CA is refused.
        let again = crate::ca::LocalCa::open_or_create(dir.path()).unwrap();
        assert_eq!(again.ca(crate::CaKind::Sign).responder.cert_der, ca.responder.cert_der);
        let other_dir = tempfile::tempdir().unwrap();
        let other = crate::ca::LocalCa::open_or_create(other_dir.path()).unwrap();
        let foreign = build_delegated_response(
            &other.ca(crate::CaKind::Sign).responder,
            &entries,
            now,
            now + Duration::from_secs(60),
            None,
        )
        .unwrap();
        assert!(verify_response(&foreign, &ca.cert).is_err(), "another CA's responder");
        // The auth CA's own answer is no answer of the sign CA either.
        let auth = cas.ca(crate::CaKind::Auth);
        let wrong_ca =
            build_response(&auth.cert, auth.key(), &entries, now, now + Duration::from_secs(60), None).unwrap();
        assert!(verify_response(&wrong_ca, &ca.cert).is_err());
        // A certificate the CA issued for something else cannot sign answers.
        let key = crate::RsaPrivateKey::generate_2048().unwrap();
        let not_a_responder =
            cas.issue_card_certificate(crate::CaKind::Sign, &key.public_key_der(), &holder()).unwrap();
        let later = now + Duration::from_secs(60);
        let refused = authorized(&not_a_responder, &ca.cert, later).unwrap_err().to_string();
        assert!(refused.contains("OCSPSigning"), "{refused}");
        assert!(authorized(&ca.responder.cert, &auth.cert, now).is_err(), "issued by the other CA");
        assert!(authorized(&ca.responder.cert, &ca.cert, now + LIFETIME + Duration::from_secs(86_400)).is_err());
    }

    fn holder() -> crate::Holder {
        crate::Holder {
            name: "応答 試験".into(),
            address: "東京都千代田区".into(),
            birth: "19800101".into(),
            sex: crate::Sex::Female,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        }
    }
}
