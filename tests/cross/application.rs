//! The holder's application for phone certificates, signed by the card and
//! checked as the SP-TSM checks it: replayed, expired and unknown nonces,
//! the wrong key, a tampered signature and a foreign CA are refused.

use jpki::{KeyType, PinId};
use openjpki_tests::{client, fixture};
use sp_tsm::application::{verify, Application, ApplicationError, Device, NonceBook};
use std::time::{Duration, SystemTime};
use tsm_api::PhoneCertType as CertType;

fn application(nonce: &[u8; 32]) -> Application {
    Application {
        nonce: hex(nonce),
        commitment: hex(&[0x5C; 32]),
        cert_types: vec![CertType::Sign, CertType::Auth],
        device: Device { model: "openjpki phone".into(), app_certificate_hash: hex(&[0xA1; 32]) },
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// The card signs `content` with `key` after the holder's password or PIN.
fn card_signs(key: KeyType, content: &[u8]) -> Vec<u8> {
    let mut card = client();
    match key {
        KeyType::Sign => card.verify(PinId::Sign, "ABC123").unwrap(),
        KeyType::Auth => card.verify(PinId::Auth, "1234").unwrap(),
    }
    let options =
        pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
    jpki::sign_cms(&mut card, key, content, &options).unwrap()
}

fn sign_ca() -> Vec<pki::Certificate> {
    vec![fixture().ca.ca(pki::CaKind::Sign).cert.clone()]
}

#[test]
fn a_card_signed_application_is_accepted_once() {
    let nonces = NonceBook::default();
    let app = application(&nonces.issue());
    let cms = card_signs(KeyType::Sign, &app.to_content());
    let ok = verify(&cms, &nonces, &sign_ca(), SystemTime::now()).unwrap();
    assert_eq!(ok.application, app);
    assert_eq!(ok.commitment, [0x5C; 32]);
    let card_sign_cert =
        der::Encode::to_der(&pki::cert::parse_certificates(&fixture().card.jpki.sign_cert).unwrap()[0]).unwrap();
    assert_eq!(ok.card_certificate, card_sign_cert);
    // The same application again is a replay.
    assert!(matches!(verify(&cms, &nonces, &sign_ca(), SystemTime::now()), Err(ApplicationError::UnknownNonce)));
}

#[test]
fn expired_and_unknown_nonces_are_refused() {
    let expired = NonceBook::new(Duration::ZERO);
    let cms = card_signs(KeyType::Sign, &application(&expired.issue()).to_content());
    let e = verify(&cms, &expired, &sign_ca(), SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::ExpiredNonce), "{e}");
    assert_eq!(e.code(), "expired_nonce");
    let elsewhere = NonceBook::default();
    let cms = card_signs(KeyType::Sign, &application(&elsewhere.issue()).to_content());
    let e = verify(&cms, &NonceBook::default(), &sign_ca(), SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::UnknownNonce), "{e}");
}

#[test]
fn wrong_key_tampering_foreign_ca_and_bad_content_are_refused_without_burning_the_nonce() {
    let nonces = NonceBook::default();
    let nonce = nonces.issue();
    let content = application(&nonce).to_content();
    let both_cas = [sign_ca(), vec![fixture().ca.ca(pki::CaKind::Auth).cert.clone()]].concat();

    // Signed with the authentication key: not the holder's consent.
    let by_auth = card_signs(KeyType::Auth, &content);
    let e = verify(&by_auth, &nonces, &both_cas, SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::NotCardSignature), "{e}");

    // One flipped byte in the signature.
    let mut tampered = card_signs(KeyType::Sign, &content);
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert!(matches!(verify(&tampered, &nonces, &sign_ca(), SystemTime::now()), Err(ApplicationError::Signature(_))));

    // A card of another JPKI hierarchy.
    let other = tempfile::tempdir().unwrap();
    let other_ca = pki::ca::LocalCa::open_or_create(other.path()).unwrap();
    let cms = card_signs(KeyType::Sign, &content);
    let e = verify(&cms, &nonces, &[other_ca.ca(pki::CaKind::Sign).cert.clone()], SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::Signature(_)), "{e}");

    // Signed, but not an application, or asking for a type twice.
    let e = verify(&card_signs(KeyType::Sign, b"{\"hello\":1}"), &nonces, &sign_ca(), SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::Malformed(_)), "{e}");
    let mut twice = application(&nonce);
    twice.cert_types = vec![CertType::Sign, CertType::Sign];
    let e =
        verify(&card_signs(KeyType::Sign, &twice.to_content()), &nonces, &sign_ca(), SystemTime::now()).unwrap_err();
    assert!(matches!(e, ApplicationError::Malformed(_)), "{e}");

    // None of that used up the holder's nonce.
    assert!(verify(&card_signs(KeyType::Sign, &content), &nonces, &sign_ca(), SystemTime::now()).is_ok());
}
