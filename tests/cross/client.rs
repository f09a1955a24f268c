//! `jpki::JpkiCard` over an in-process `mynacard::MynaCard`.

use jpki::{CertType, Error, KeyType, PinId, TokenKind};
use openjpki_tests::{client, fixture, holder};

#[test]
fn token_and_pin_status_without_consuming_tries() {
    let mut c = client();
    assert_eq!(c.token().unwrap(), TokenKind::Card);
    for _ in 0..3 {
        assert_eq!(c.pin_tries_left(PinId::Auth).unwrap(), 3);
        assert_eq!(c.pin_tries_left(PinId::Sign).unwrap(), 5);
        assert_eq!(c.pin_tries_left(PinId::Text).unwrap(), 3);
    }
}

#[test]
fn certificates_read_back_byte_for_byte() {
    let mut c = client();
    let f = fixture();
    assert_eq!(c.read_certificate(CertType::Auth).unwrap(), f.card.jpki.auth_cert);
    assert_eq!(c.read_certificate(CertType::AuthCa).unwrap(), f.card.jpki.auth_ca_cert);
    assert_eq!(c.read_certificate(CertType::SignCa).unwrap(), f.card.jpki.sign_ca_cert);
    assert!(matches!(c.read_certificate(CertType::Sign), Err(Error::NeedsPin(PinId::Sign))));
    c.verify(PinId::Sign, "abc123").unwrap();
    assert_eq!(c.read_certificate(CertType::Sign).unwrap(), f.card.jpki.sign_cert);
}

#[test]
fn pin_errors_say_what_happened() {
    let mut c = client();
    let e = c.verify(PinId::Auth, "0000").unwrap_err();
    assert!(matches!(e, Error::WrongPin { pin: PinId::Auth, tries_left: 2 }), "{e}");
    assert!(e.to_string().contains("2 tries left"));
    c.verify(PinId::Auth, "0000").unwrap_err();
    let e = c.verify(PinId::Auth, "0000").unwrap_err();
    assert!(matches!(e, Error::PinBlocked { pin: PinId::Auth }), "{e}");
    let e = c.verify(PinId::Auth, "1234").unwrap_err();
    assert!(matches!(e, Error::PinBlocked { .. }));
    assert!(e.to_string().contains("municipal office"));
    // Malformed PINs are refused before anything reaches the card.
    assert!(matches!(c.verify(PinId::Sign, "abc"), Err(Error::PinFormat(_))));
    assert_eq!(c.pin_tries_left(PinId::Sign).unwrap(), 5);
}

#[test]
fn sign_needs_verify_and_signatures_verify() {
    let mut c = client();
    let h = pki::HashAlg::Sha384;
    let di = h.digest_info(&h.digest(b"message"));
    assert!(matches!(c.sign(KeyType::Auth, &di), Err(Error::NeedsPin(PinId::Auth))));
    c.verify(PinId::Auth, "1234").unwrap();
    let sig = c.sign(KeyType::Auth, &di).unwrap();
    let cert = pki::cert::parse_certificates(&fixture().card.jpki.auth_cert).unwrap().remove(0);
    pki::rsa::verify(&pki::cert::public_key_der(&cert).unwrap(), h, b"message", &sig).unwrap();
}

#[test]
fn change_pin_then_use_the_new_one() {
    let mut c = client();
    assert!(matches!(c.change_pin(PinId::Text, "1234", "12"), Err(Error::PinFormat(_))));
    c.change_pin(PinId::Text, "1234", "5678").unwrap();
    c.reselect().unwrap();
    assert!(matches!(c.verify(PinId::Text, "1234"), Err(Error::WrongPin { tries_left: 2, .. })));
    c.verify(PinId::Text, "5678").unwrap();
    assert_eq!(c.my_number().unwrap().as_str(), "123456789018");
}

#[test]
fn text_ap_attributes_match_the_signature_certificate() {
    let mut c = client();
    assert!(matches!(c.attributes(), Err(Error::NeedsPin(PinId::Text))));
    c.verify(PinId::Text, "1234").unwrap();
    let attrs = c.attributes().unwrap();
    let h = holder();
    assert_eq!(
        (attrs.name.as_str(), attrs.address.as_str(), attrs.birth.as_str(), attrs.sex.as_str()),
        (h.name.as_str(), h.address.as_str(), "19920229", "2")
    );
    let cert = pki::cert::parse_certificates(&fixture().card.jpki.sign_cert).unwrap().remove(0);
    let in_cert = pki::describe::holder_attributes(&cert).unwrap();
    assert_eq!(in_cert.name, attrs.name);
    assert_eq!(in_cert.address, attrs.address);
    assert_eq!(in_cert.birth, "419920229", "平成 era digit");
}

#[test]
fn cms_round_trip_and_every_rejection() {
    let mut c = client();
    c.verify(PinId::Sign, "ABC123").unwrap();
    let content = b"contract text";
    let now = std::time::SystemTime::now();
    let opts = pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: true, signing_time: now };
    let der = jpki::sign_cms(&mut c, KeyType::Sign, content, &opts).unwrap();
    let f = fixture();
    let anchors = vec![f.ca.ca(pki::CaKind::Sign).cert.clone()];
    let ok = pki::cms::VerifyOptions { anchors: &anchors, detached_content: Some(content), at: None };
    let v = pki::cms::verify(&der, &ok).unwrap();
    assert_eq!(v.path.len(), 2);
    // Wrong content, missing content, wrong CA, time outside validity.
    assert!(
        pki::cms::verify(&der, &pki::cms::VerifyOptions { detached_content: Some(b"other"), ..ok.clone() }).is_err()
    );
    assert!(pki::cms::verify(&der, &pki::cms::VerifyOptions { detached_content: None, ..ok.clone() }).is_err());
    let wrong_ca = vec![f.ca.ca(pki::CaKind::Auth).cert.clone()];
    assert!(matches!(
        pki::cms::verify(&der, &pki::cms::VerifyOptions { anchors: &wrong_ca, ..ok.clone() }),
        Err(pki::cms::CmsError::Chain(_))
    ));
    let later = now + std::time::Duration::from_secs(20 * 365 * 24 * 3600);
    assert!(pki::cms::verify(&der, &pki::cms::VerifyOptions { at: Some(later), ..ok.clone() }).is_err());
    assert!(pki::cms::verify(b"\x30\x03\x02\x01\x00", &ok).is_err());
}
