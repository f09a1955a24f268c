//! ISD access, GET DATA/STATUS, ARA-M rules, refusals, persistence.

use crate::*;
use gp::ara::{AidRef, ApduRule, HashRef, Rule};
use gp::commands;

#[test]
fn kdf3_keys_from_the_master_open_the_isd_and_cplc_names_the_se() {
    let mut se = new_se();
    let r = send(&mut se, &commands::get_data(0x9F7F));
    assert_eq!(r.sw, StatusWord::Ok, "CPLC is readable without a secure channel");
    let cplc = commands::Cplc::parse(&r.data).unwrap();
    assert_eq!(cplc.se_identifier(), se.state().se_identifier());
    let keys = isd_keys(&se);
    let mut s = Session::open(&mut se, 0, ISD, keys, 0x33).unwrap();
    let r = s.send(&mut se, &commands::get_status(0x80, &[]));
    let entries = commands::parse_get_status(&r.data).unwrap();
    assert_eq!((entries[0].aid.as_slice(), entries[0].life_cycle), (ISD, 0x0F));
    let r = s.send(&mut se, &commands::get_status(0x40, &[]));
    assert!(commands::parse_get_status(&r.data).unwrap().iter().any(|e| e.aid == gp::ara::ARA_M_AID));
    // Another master key does not open it.
    let wrong = StaticKeys::diversify_kdf3(0x01, &AesKey::new(&[0x99; 16]).unwrap(), &se.state().se_identifier());
    assert!(Session::open(&mut se, 0, ISD, wrong, 0x33).unwrap_err().contains("cryptogram"));
}

#[test]
fn content_management_needs_a_secure_channel() {
    let mut se = new_se();
    let install = commands::install_for_install(SD_PACKAGE, SD_MODULE, SSD, [0x80, 0, 0], &[], true).unwrap();
    assert_eq!(send(&mut se, &install).sw, StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(send(&mut se, &commands::get_status(0x40, &[])).sw, StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(se.state().registry.len(), 2, "nothing installed");
}

#[test]
fn a_bad_mac_ends_the_session_until_a_new_handshake() {
    let mut se = new_se();
    let keys = isd_keys(&se);
    let mut s = Session::open(&mut se, 0, ISD, keys.clone(), 0x13).unwrap();
    let mut wrapped = s.channel.wrap_command(&commands::get_status(0x80, &[]).to_bytes().unwrap()).unwrap();
    wrapped[7] ^= 0x01;
    assert_eq!(se.process(&wrapped), vec![0x69, 0x82]);
    // Even correctly wrapped commands are refused now.
    let good = s.channel.wrap_command(&commands::get_status(0x80, &[]).to_bytes().unwrap()).unwrap();
    assert_eq!(se.process(&good), vec![0x69, 0x82]);
    // A new handshake works.
    let mut s = Session::open(&mut se, 0, ISD, keys, 0x13).unwrap();
    assert_eq!(s.send(&mut se, &commands::get_status(0x80, &[])).sw, StatusWord::Ok);
}

fn rule(hash: u8) -> Rule {
    Rule {
        aid: AidRef::Specific(jpki::ap::AID_JPKI.to_vec()),
        hash: HashRef::Specific(vec![hash; 32]),
        package: None,
        apdu: Some(ApduRule::Always),
        nfc: Some(false),
    }
}

#[test]
fn ara_m_rules_are_written_through_the_isd_and_read_by_anyone() {
    let mut se = new_se();
    // The enforcer's view before any rule: 6A 88.
    let open = send(&mut se, &Command::new(0x00, 0x70, 0x00, 0x00).with_ne(1));
    let ch = open.data[0];
    assert_eq!(
        send(&mut se, &Command::new(ch, 0xA4, 0x04, 0x00).with_data(gp::ara::ARA_M_AID.to_vec())).sw,
        StatusWord::Ok
    );
    assert_eq!(
        send(&mut se, &Command::new(0x80 | ch, 0xCA, 0xFF, 0x40).with_ne(256)).sw,
        StatusWord::ReferencedDataNotFound
    );
    let tag0 = send(&mut se, &Command::new(0x80 | ch, 0xCA, 0xDF, 0x20).with_ne(256)).data;
    // An app cannot write rules on the ARA-M directly.
    let direct = commands::store_data(0x90, 0, &gp::ara::store_rule(&rule(0xAA)));
    let mut direct = direct.clone();
    direct.cla |= ch;
    assert_eq!(send(&mut se, &direct).sw, StatusWord::SecurityStatusNotSatisfied);
    // The SEI-TSM writes one through the ISD.
    let keys = isd_keys(&se);
    let mut s = Session::open(&mut se, 0, ISD, keys, 0x33).unwrap();
    assert_eq!(
        s.send(&mut se, &commands::install_for_personalization(&gp::ara::ARA_M_AID).unwrap()).sw,
        StatusWord::Ok
    );
    assert_eq!(s.send(&mut se, &commands::store_data(0x90, 0, &gp::ara::store_rule(&rule(0xAA)))).sw, StatusWord::Ok);
    assert_eq!(s.send(&mut se, &commands::store_data(0x90, 1, &gp::ara::store_rule(&rule(0xBB)))).sw, StatusWord::Ok);
    let r = send(&mut se, &Command::new(0x80 | ch, 0xCA, 0xFF, 0x40).with_ne(256));
    assert_eq!(r.sw, StatusWord::Ok);
    let rules = gp::ara::parse_all(&r.data).unwrap();
    assert_eq!(rules, vec![rule(0xAA), rule(0xBB)]);
    let tag1 = send(&mut se, &Command::new(0x80 | ch, 0xCA, 0xDF, 0x20).with_ne(256)).data;
    assert_ne!(tag0, tag1, "refresh tag changes with the rules");
    // Malformed rule data is refused and changes nothing.
    assert_eq!(
        s.send(&mut se, &commands::store_data(0x90, 2, &[0xF0, 0x02, 0xE2, 0x00])).sw,
        StatusWord::IncorrectData
    );
    assert_eq!(se.state().ara_rules.len(), 2);
}

#[test]
fn state_is_committed_to_the_se_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("se.json");
    let state = SecureElement::manufacture(&AesKey::new(&MASTER).unwrap(), [9, 9, 9, 9], [1, 1]);
    pki::fs::write_atomically(&path, &serde_json::to_vec(&state).unwrap()).unwrap();
    let mut se = SecureElement::open(&path).unwrap();
    se.power_on();
    let keys = isd_keys(&se);
    Session::open(&mut se, 0, ISD, keys.clone(), 0x33).unwrap();
    Session::open(&mut se, 0, ISD, keys.clone(), 0x33).unwrap();
    let saved: se::SeState = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved.registry[0].key_sets[0].sequence, 2, "sequence counter durable");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("REDACTED"));
    let mut se = SecureElement::open(&path).unwrap();
    se.power_on();
    Session::open(&mut se, 0, ISD, keys, 0x33).unwrap();
}

#[test]
fn malformed_input_never_panics_or_changes_state() {
    let mut se = new_se();
    let before = serde_json::to_string(se.state()).unwrap();
    let mut seed = 0x2545_F491u32;
    for len in 0..400usize {
        let bytes: Vec<u8> = (0..len % 60 + 4)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if i == 0 {
                    [0x00, 0x80, 0x84, 0x01][seed as usize % 4]
                } else {
                    seed as u8
                }
            })
            .collect();
        assert!(se.process(&bytes).len() >= 2);
    }
    assert_eq!(serde_json::to_string(se.state()).unwrap(), before);
}
