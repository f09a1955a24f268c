//! The phone JPKI applet: installed by the SEI-TSM, extradited to the SP's
//! domain, provisioned by the SP-TSM at level 33 with a commitment check,
//! PIN set offline, then used like a card by the JPKI client.

use crate::*;
use gp::commands;
use jpki::{CertType, JpkiCard, KeyType, PinId, TokenKind};
use se::applet::provision;
use transport::InProcess;

use jpki::ap::JPKI_PACKAGE;
const JPKI_AID: &[u8] = &jpki::ap::AID_JPKI;

/// SEI-TSM preparation: SSD with handed-over keys, JPKI applet installed and
/// extradited to it. Returns the SSD keys the SP-TSM then owns.
fn prepare(se: &mut SecureElement) -> StaticKeys {
    let keys = isd_keys(se);
    let mut isd = Session::open(se, 0, ISD, keys.clone(), 0x33).unwrap();
    let ok = |r: Response| assert_eq!(r.sw, StatusWord::Ok);
    ok(isd.send(se, &commands::install_for_install(SD_PACKAGE, SD_MODULE, SSD, [0x80, 0, 0], &[], true).unwrap()));
    ok(isd.send(se, &commands::install_for_install(JPKI_PACKAGE, JPKI_AID, JPKI_AID, [0, 0, 0], &[], true).unwrap()));
    let ssd_keys = StaticKeys::new(0x30, &[0x71; 16], &[0x72; 16], &[0x73; 16]).unwrap();
    ok(isd.send(se, &commands::install_for_personalization(SSD).unwrap()));
    ok(isd.send(se, &commands::store_data(0x80, 0, &commands::put_key(0, &ssd_keys, &keys.dek).data)));
    let extradite = Command::new(0x80, 0xE6, 0x10, 0x00)
        .with_data(
            [vec![SSD.len() as u8], SSD.to_vec(), vec![0, JPKI_AID.len() as u8], JPKI_AID.to_vec(), vec![0, 0, 0]]
                .concat(),
        )
        .with_ne(256);
    ok(isd.send(se, &extradite));
    // After extradition the ISD's owner cannot personalize the applet.
    assert_eq!(
        isd.send(se, &commands::install_for_personalization(JPKI_AID).unwrap()).sw,
        StatusWord::ConditionsNotSatisfied
    );
    ssd_keys
}

fn tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    apdu::tlv::encode(tag, value)
}

#[test]
fn commitment_provisioning_pin_and_use() {
    let mut se = new_se();
    let ssd_keys = prepare(&mut se);

    // The app (OMAPI, no secure channel) gets the commitment S = SHA-256(R).
    assert_eq!(send(&mut se, &Command::new(0x00, 0xA4, 0x04, 0x00).with_data(JPKI_AID.to_vec())).sw, StatusWord::Ok);
    let s = send(&mut se, &Command::new(0x80, 0xC0, 0x00, 0x00).with_ne(32));
    assert_eq!((s.sw, s.data.len()), (StatusWord::Ok, 32));

    // The SP-TSM, at level 33 on its own domain.
    let mut sp = Session::open(&mut se, 0, SSD, ssd_keys.clone(), 0x33).unwrap();
    assert_eq!(sp.send(&mut se, &commands::install_for_personalization(JPKI_AID).unwrap()).sw, StatusWord::Ok);
    let store = |data: Vec<u8>| commands::store_data(0x81, 0, &data).with_ne(256);
    let r = sp.send(&mut se, &store(tlv(provision::READ_IDENTITY, &[])));
    assert_eq!(r.sw, StatusWord::Ok);
    assert_eq!(&r.data[..10], &se.state().se_identifier());
    assert_eq!(pki::HashAlg::Sha256.digest(&r.data[10..]), s.data, "SHA-256(R) = S");

    let r = sp.send(&mut se, &store(tlv(provision::GENERATE_KEY, &[provision::TYPE_AUTH])));
    assert_eq!(r.sw, StatusWord::Ok);
    let spki = r.data;
    assert_eq!(pki::rsa::public_key_bits(&spki).unwrap(), 2048);

    // A certificate for another key is refused; the right one is written.
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
    let holder = pki::Holder {
        name: "スマホ 利用者".into(),
        address: "東京都".into(),
        birth: "19900101".into(),
        sex: pki::Sex::Male,
        prefecture: "Tokyo".into(),
        municipality: "Chiyoda-ku".into(),
    };
    let other = pki::RsaPrivateKey::generate_2048().unwrap();
    let der = |c: pki::Certificate| der::Encode::to_der(&c).unwrap();
    let wrong = der(ca.issue_card_certificate(pki::CaKind::Auth, &other.public_key_der(), &holder).unwrap());
    let r = sp.send(&mut se, &store(tlv(provision::WRITE_CERT, &[&[provision::TYPE_AUTH][..], &wrong].concat())));
    assert_eq!(r.sw, StatusWord::IncorrectData);
    let cert = der(ca.issue_card_certificate(pki::CaKind::Auth, &spki, &holder).unwrap());
    let ca_der = ca.ca(pki::CaKind::Auth).cert_der.clone();
    for (tag, body) in [(provision::WRITE_CERT, &cert), (provision::WRITE_CA_CERT, &ca_der)] {
        let r = sp.send(&mut se, &store(tlv(tag, &[&[provision::TYPE_AUTH][..], body].concat())));
        assert_eq!(r.sw, StatusWord::Ok);
    }

    // The user sets the PIN offline, once.
    assert_eq!(send(&mut se, &Command::new(0x00, 0xA4, 0x04, 0x00).with_data(JPKI_AID.to_vec())).sw, StatusWord::Ok);
    assert_eq!(
        send(&mut se, &Command::new(0x80, 0xC2, 0x01, 0x80).with_data(b"12".to_vec())).sw,
        StatusWord::IncorrectData
    );
    assert_eq!(send(&mut se, &Command::new(0x80, 0xC2, 0x01, 0x80).with_data(b"4321".to_vec())).sw, StatusWord::Ok);
    assert_eq!(
        send(&mut se, &Command::new(0x80, 0xC2, 0x01, 0x80).with_data(b"0000".to_vec())).sw,
        StatusWord::ConditionsNotSatisfied
    );

    // The JPKI client uses the phone like a card.
    let mut phone = JpkiCard::new(InProcess::new(se));
    assert_eq!(phone.token().unwrap(), TokenKind::PhoneSe);
    assert!(matches!(phone.read_certificate(CertType::Auth), Err(jpki::Error::NeedsPin(PinId::Auth))));
    phone.verify(PinId::Auth, "4321").unwrap();
    assert_eq!(phone.read_certificate(CertType::Auth).unwrap(), cert);
    let h = pki::HashAlg::Sha256;
    let sig = phone.sign(KeyType::Auth, &h.digest_info(&h.digest(b"login"))).unwrap();
    pki::rsa::verify(&spki, h, b"login", &sig).unwrap();
    // Wrong PINs are counted in the SE's state.
    assert!(matches!(phone.verify(PinId::Auth, "0000"), Err(jpki::Error::WrongPin { tries_left: 2, .. })));
    let se = phone.transport_mut().card();
    let tries = se.state().entry(JPKI_AID).unwrap().jpki.as_ref().unwrap().card.jpki.auth_pin.tries_left;
    assert_eq!(tries, 2);
}

#[test]
fn provisioning_needs_level_33_and_the_right_domain() {
    let mut se = new_se();
    let ssd_keys = prepare(&mut se);
    let mut sp = Session::open(&mut se, 0, SSD, ssd_keys, 0x13).unwrap();
    assert_eq!(sp.send(&mut se, &commands::install_for_personalization(JPKI_AID).unwrap()).sw, StatusWord::Ok);
    let r = sp.send(&mut se, &commands::store_data(0x81, 0, &tlv(provision::GENERATE_KEY, &[1])).with_ne(256));
    assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
    // Provisioning commands sent straight to the applet are unknown there.
    assert_eq!(send(&mut se, &Command::new(0x00, 0xA4, 0x04, 0x00).with_data(JPKI_AID.to_vec())).sw, StatusWord::Ok);
    let r = send(&mut se, &commands::store_data(0x81, 0, &tlv(provision::GENERATE_KEY, &[1])).with_ne(256));
    assert_ne!(r.sw, StatusWord::Ok);
    let applet = se.state().entry(JPKI_AID).unwrap().jpki.as_ref().unwrap();
    assert!(applet.card.jpki.auth_key.expose().is_empty(), "no key generated");
}

#[test]
fn revocation_deletes_everything() {
    let mut se = new_se();
    let ssd_keys = prepare(&mut se);
    let mut sp = Session::open(&mut se, 0, SSD, ssd_keys, 0x33).unwrap();
    sp.send(&mut se, &commands::install_for_personalization(JPKI_AID).unwrap());
    let r = sp.send(&mut se, &commands::store_data(0x81, 0, &tlv(provision::GENERATE_KEY, &[2])).with_ne(256));
    assert_eq!(r.sw, StatusWord::Ok);
    let r = sp.send(&mut se, &commands::store_data(0x81, 0, &tlv(provision::READ_IDENTITY, &[])).with_ne(256));
    assert_eq!(r.sw, StatusWord::ConditionsNotSatisfied, "no commitment drawn yet");
    assert_eq!(sp.send(&mut se, &commands::store_data(0x81, 0, &tlv(provision::DELETE_ALL, &[]))).sw, StatusWord::Ok);
    let applet = se.state().entry(JPKI_AID).unwrap().jpki.as_ref().unwrap();
    assert!(applet.card.jpki.sign_key.expose().is_empty());
}
