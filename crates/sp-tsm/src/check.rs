//! The SP-TSM's check of a certificate the JPKI service returned, before
//! it goes into the SE (DESIGN.md: the SP-TSM checks the certificate it is
//! given; attack pattern 5).

use der::{Decode, Encode};
use jlis_api::{PhoneCertType, PhoneCertificate};

/// Checks a certificate the JPKI service returned before it goes into the
/// SE (DESIGN.md: the SP-TSM checks the certificate it is given): it
/// certifies exactly `spki`, the key generated in the SE; its CA is one of
/// the configured JPKI CAs `cas` and signed it; it is valid at `now`; it is
/// of type `t`; its serial is the one announced.
pub fn check_issued(
    cas: &[pki::Certificate],
    t: PhoneCertType,
    spki: &[u8],
    issued: &PhoneCertificate,
    now: std::time::SystemTime,
) -> Result<(), String> {
    let cert = pki::Certificate::from_der(&issued.certificate).map_err(|_| "it is not a certificate".to_string())?;
    if pki::cert::public_key_der(&cert).map_err(|e| e.to_string())? != spki {
        return Err("it certifies another key than the one generated in the SE".into());
    }
    let ca = cas
        .iter()
        .find(|ca| ca.to_der().is_ok_and(|d| d == issued.ca_certificate))
        .ok_or("its CA is not one of the configured JPKI CAs")?;
    pki::chain::validate_path(&cert, &[], std::slice::from_ref(ca), now)
        .map_err(|e| format!("it does not chain to the JPKI CA: {e}"))?;
    let is_sign = pki::describe::holder_from_sign_certificate(&cert).is_some();
    if is_sign != (t == PhoneCertType::Sign) {
        return Err(format!("it is not a {} certificate", t.as_str()));
    }
    if hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes()) != issued.serial.to_uppercase() {
        return Err("its serial is not the one the answer names".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PhoneCertType as CertType;

    /// Every refusal of `check_issued` (attack pattern 5 drives the
    /// "another key" one end to end).
    #[test]
    fn certificates_from_the_jpki_service_are_checked_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let other = pki::ca::LocalCa::open_or_create(&dir.path().join("other")).unwrap();
        let key = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        let holder = pki::Holder::example();
        let issue = |ca: &pki::ca::LocalCa, kind: pki::CaKind| {
            let cert = ca.issue_card_certificate(kind, &key, &holder).unwrap();
            jlis_api::PhoneCertificate {
                serial: hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes()),
                certificate: cert.to_der().unwrap(),
                ca_certificate: ca.ca(kind).cert_der.clone(),
                superseded: vec![],
            }
        };
        let cas = [ca.ca(pki::CaKind::Auth).cert.clone(), ca.ca(pki::CaKind::Sign).cert.clone()];
        let now = std::time::SystemTime::now();
        let sign = issue(&ca, pki::CaKind::Sign);
        assert_eq!(check_issued(&cas, CertType::Sign, &key, &sign, now), Ok(()));
        assert_eq!(check_issued(&cas, CertType::Auth, &key, &issue(&ca, pki::CaKind::Auth), now), Ok(()));
        let refused = |t, spki: &[u8], issued: &jlis_api::PhoneCertificate, at| {
            check_issued(&cas, t, spki, issued, at).unwrap_err()
        };
        let another = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        assert!(refused(CertType::Sign, &another, &sign, now).contains("another key"));
        assert!(refused(CertType::Auth, &key, &sign, now).contains("not a auth certificate"));
        assert!(
            refused(CertType::Sign, &key, &issue(&other, pki::CaKind::Sign), now).contains("not one of the configured")
        );
        let mut forged_ca = issue(&other, pki::CaKind::Sign);
        forged_ca.ca_certificate = sign.ca_certificate.clone();
        assert!(refused(CertType::Sign, &key, &forged_ca, now).contains("does not chain"));
        let far = now + std::time::Duration::from_secs(20 * 365 * 86_400);
        assert!(refused(CertType::Sign, &key, &sign, far).contains("does not chain"));
        let mut renamed = sign.clone();
        renamed.serial = "01".into();
        assert!(refused(CertType::Sign, &key, &renamed, now).contains("serial"));
        let mut garbage = sign.clone();
        garbage.certificate = b"not DER".to_vec();
        assert!(refused(CertType::Sign, &key, &garbage, now).contains("not a certificate"));
    }
}
