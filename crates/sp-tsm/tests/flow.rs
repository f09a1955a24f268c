//! Preparation and provisioning through the phone's relay, then use of the
//! phone over OMAPI and over NFC card emulation; the commitment check, key
//! hand-over and a tampered relay.
#![allow(missing_docs)]

use apdu::{Icc, Transport, TransportError};
use gp::AesKey;
use jpki::{CertType as Cert, JpkiCard, KeyType, PinId, TokenKind};
use phone::{App, JpkiApplet, NfcEmulation, Relay, SeService};
use tsm_api::PhoneCertType as CertType;

fn master() -> AesKey {
    AesKey::new(&[0x5A; 32]).unwrap()
}

fn new_phone() -> SeService {
    let state = se::SecureElement::manufacture(&master(), [3, 1, 4, 1], [5, 9]);
    SeService::new(se::SecureElement::new(state, Box::new(se::MemoryNvm)).unwrap())
}

fn jpki_app() -> App {
    App::new("jp.go.jpki.app", b"JPKI app signer certificate".to_vec())
}

struct Issuer {
    _dir: tempfile::TempDir,
    ca: pki::ca::LocalCa,
}

impl Issuer {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
        Self { _dir: dir, ca }
    }

    fn issue(&self, t: CertType, spki: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let kind = match t {
            CertType::Auth => pki::CaKind::Auth,
            CertType::Sign => pki::CaKind::Sign,
        };
        let holder = pki::Holder {
            name: "携帯 花子".into(),
            address: "東京都千代田区".into(),
            birth: "19950505".into(),
            sex: pki::Sex::Female,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        };
        let cert = self.ca.issue_card_certificate(kind, spki, &holder).map_err(|e| e.to_string())?;
        Ok((der::Encode::to_der(&cert).unwrap(), self.ca.ca(kind).cert_der.clone()))
    }
}

/// The whole flow on one phone; returns the phone and the SP's domain keys.
fn provisioned(issuer: &Issuer) -> (SeService, gp::StaticKeys) {
    let phone = new_phone();
    let app = jpki_app();
    let mut relay = Relay::new(&phone, &app);
    let handed_over = sei_tsm::prepare(&mut relay, &master(), &[&app.certificate_hashes()[1]]).unwrap();
    let sp_keys = sp_tsm::take_over(&mut relay, handed_over.clone()).unwrap();
    // The SEI-TSM's copy no longer opens the domain.
    assert!(sp_tsm::take_over(&mut relay, handed_over).is_err());
    let s = JpkiApplet::open(&phone, &app).unwrap().commitment().unwrap();
    let done = sp_tsm::provision(&mut relay, sp_keys.clone(), &s, &[CertType::Auth, CertType::Sign], |keys, _| {
        keys.iter().map(|(t, spki)| issuer.issue(*t, spki)).collect()
    })
    .unwrap();
    assert_eq!(done.certificates.len(), 2);
    let mut applet = JpkiApplet::open(&phone, &app).unwrap();
    applet.set_pin(PinId::Auth, b"2468").unwrap();
    applet.set_pin(PinId::Sign, b"PHONE1").unwrap();
    (phone, sp_keys)
}

#[test]
fn provisioned_phone_signs_over_omapi_and_over_nfc() {
    let issuer = Issuer::new();
    let (phone, _) = provisioned(&issuer);
    // The JPKI app through OMAPI.
    let mut card = JpkiCard::new(JpkiApplet::open(&phone, &jpki_app()).unwrap());
    assert_eq!(card.token().unwrap(), TokenKind::PhoneSe);
    card.verify(PinId::Sign, "phone1").unwrap();
    let sign_cert = card.read_certificate(Cert::Sign).unwrap();
    let opts = pki::cms::SignOptions {
        hash: pki::HashAlg::Sha256,
        detached: false,
        signing_time: std::time::SystemTime::now(),
    };
    let cms = jpki::sign_cms(&mut card, KeyType::Sign, b"phone document", &opts).unwrap();
    let anchors = vec![issuer.ca.ca(pki::CaKind::Sign).cert.clone()];
    let v = pki::cms::verify(&cms, &pki::cms::VerifyOptions { anchors: &anchors, detached_content: None, at: None })
        .unwrap();
    assert_eq!(der::Encode::to_der(&v.signer).unwrap(), sign_cert);
    drop(card);

    // An external reader over NFC: only the JPKI applet is reachable.
    let mut nfc = NfcEmulation::new(&phone);
    nfc.power_on();
    assert_eq!(nfc.process(&gp::commands::select(gp::aids::ISD).to_bytes().unwrap()), vec![0x6A, 0x82]);
    assert_eq!(nfc.process(&gp::commands::select(&gp::ara::ARA_M_AID).to_bytes().unwrap()), vec![0x6A, 0x82]);
    let mut reader = JpkiCard::new(transport::InProcess::new(nfc));
    assert_eq!(reader.token().unwrap(), TokenKind::PhoneSe);
    assert!(matches!(reader.read_certificate(Cert::Auth), Err(jpki::Error::NeedsPin(PinId::Auth))));
    reader.verify(PinId::Auth, "2468").unwrap();
    let auth = reader.read_certificate(Cert::Auth).unwrap();
    let h = pki::HashAlg::Sha256;
    let sig = reader.sign(KeyType::Auth, &h.digest_info(&h.digest(b"nfc login"))).unwrap();
    let cert = pki::cert::parse_certificates(&auth).unwrap().remove(0);
    pki::rsa::verify(&pki::cert::public_key_der(&cert).unwrap(), h, b"nfc login", &sig).unwrap();
}

#[test]
fn commitment_from_another_phone_is_refused_and_nothing_is_issued() {
    let issuer = Issuer::new();
    let (victim, _) = provisioned(&issuer);
    let attacker = new_phone();
    let app = jpki_app();
    let mut relay = Relay::new(&attacker, &app);
    let handed = sei_tsm::prepare(&mut relay, &master(), &[&app.certificate_hashes()[1]]).unwrap();
    let keys = sp_tsm::take_over(&mut relay, handed).unwrap();
    // The attacker's phone draws its own R, but the application carries the
    // victim's commitment (pattern 6).
    JpkiApplet::open(&attacker, &app).unwrap().commitment().unwrap();
    let victims_s = JpkiApplet::open(&victim, &app).unwrap().commitment().unwrap();
    let mut issued = 0;
    let err = sp_tsm::provision(&mut relay, keys, &victims_s, &[CertType::Sign], |keys, _| {
        issued += keys.len();
        keys.iter().map(|(t, spki)| issuer.issue(*t, spki)).collect()
    })
    .unwrap_err();
    assert!(matches!(err, tsm::TsmError::CommitmentMismatch), "{err}");
    assert_eq!(issued, 0);
}

#[test]
fn another_app_cannot_reach_the_applet() {
    let issuer = Issuer::new();
    let (phone, _) = provisioned(&issuer);
    let other = App::new("com.example.other", b"another signer".to_vec());
    assert!(matches!(
        JpkiApplet::open(&phone, &other),
        Err(phone::device::AppletError::Omapi(phone::OmapiError::Security(_)))
    ));
}

/// A relay that flips one bit of the n-th command it forwards.
struct Tampering {
    inner: Relay,
    n: usize,
    seen: usize,
}

impl Transport for Tampering {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.seen += 1;
        let mut c = command.to_vec();
        if self.seen == self.n {
            let last = c.len() - 2;
            c[last] ^= 0x10;
        }
        self.inner.transmit_raw(&c)
    }
}

#[test]
fn a_tampered_relay_ends_the_session_and_issues_nothing() {
    let issuer = Issuer::new();
    let phone = new_phone();
    let app = jpki_app();
    let mut relay = Relay::new(&phone, &app);
    let handed = sei_tsm::prepare(&mut relay, &master(), &[&app.certificate_hashes()[1]]).unwrap();
    let keys = sp_tsm::take_over(&mut relay, handed).unwrap();
    let s = JpkiApplet::open(&phone, &app).unwrap().commitment().unwrap();
    // Commands: SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, INSTALL,
    // STORE DATA identity, STORE DATA keygen …: tamper with the keygen.
    let mut evil = Tampering { inner: relay, n: 6, seen: 0 };
    let mut issued = 0;
    let err = sp_tsm::provision(&mut evil, keys, &s, &[CertType::Auth], |keys, _| {
        issued += keys.len();
        keys.iter().map(|(t, spki)| issuer.issue(*t, spki)).collect()
    })
    .unwrap_err();
    assert!(matches!(err, tsm::TsmError::Refused { sw: apdu::StatusWord::SecurityStatusNotSatisfied, .. }), "{err}");
    assert_eq!(issued, 0);
    let key_present = phone.with_se(|se| {
        !se.state().entry(&jpki::ap::AID_JPKI).unwrap().jpki.as_ref().unwrap().card.jpki.auth_key.expose().is_empty()
    });
    assert!(!key_present, "no key was generated");
}
