//! The enforcer and OMAPI against an SE whose ARA-M the SEI-TSM filled:
//! the registered app reaches the JPKI applet, another app does not, rules
//! for all apps and all applets apply in AOSP's order, filters restrict
//! APDUs, and a rule change takes effect through the refresh tag.
#![allow(missing_docs)]

use apdu::{Command, Icc, Response, StatusWord};
use gp::ara::{AidRef, ApduRule, HashRef, Rule};
use gp::commands;
use gp::crypto::AesKey;
use phone::{App, OmapiError, SeService};
use se::SecureElement;

use gp::aids::{ISD, SD_MODULE, SD_PACKAGE};
use jpki::ap::{JPKI_PACKAGE, SP_DOMAIN as SSD};
const JPKI_AID: &[u8] = &jpki::ap::AID_JPKI;

fn jpki_app() -> App {
    App::new("jp.go.jpki.app", b"certificate of the JPKI app signer".to_vec())
}

fn other_app() -> App {
    App::new("com.example.malicious", b"some other signer".to_vec())
}

/// Runs commands in the SEI-TSM's secure channel to the ISD.
fn as_sei_tsm(se: &mut SecureElement, commands: &[Command]) {
    let master = AesKey::new(&[0x40; 16]).unwrap();
    let keys = gp::StaticKeys::diversify_kdf3(0x01, &master, &se.state().se_identifier());
    let exchange = |se: &mut SecureElement, raw: &[u8]| Response::parse(&se.process(raw)).unwrap();
    assert_eq!(exchange(se, &commands::select(ISD).to_bytes().unwrap()).sw, StatusWord::Ok);
    let (hs, init) = gp::host::HostHandshake::start(keys, [5; 8], 0x33).unwrap();
    let r = exchange(se, &init);
    let (mut ch, ext, _) = hs.authenticate(&r.data).unwrap();
    assert_eq!(exchange(se, &ext).sw, StatusWord::Ok);
    for c in commands {
        let wrapped = ch.wrap_command(&c.to_bytes().unwrap()).unwrap();
        let r = ch.unwrap_response(&se.process(&wrapped)).unwrap();
        assert_eq!(r.sw, StatusWord::Ok, "{c:?}");
    }
}

fn rule(aid: AidRef, hash: HashRef, apdu: ApduRule) -> Rule {
    Rule { aid, hash, package: None, apdu: Some(apdu), nfc: None }
}

fn store(rules: &[Rule]) -> Vec<Command> {
    let mut cmds = vec![commands::install_for_personalization(&gp::ara::ARA_M_AID).unwrap()];
    cmds.extend(rules.iter().enumerate().map(|(i, r)| commands::store_data(0x90, i as u8, &gp::ara::store_rule(r))));
    cmds
}

fn se_with(rules: &[Rule]) -> SecureElement {
    let state = SecureElement::manufacture(&AesKey::new(&[0x40; 16]).unwrap(), [7, 7, 7, 7], [1, 2]);
    let mut se = SecureElement::new(state, Box::new(se::MemoryNvm)).unwrap();
    se.power_on();
    let mut setup = vec![
        commands::install_for_install(SD_PACKAGE, SD_MODULE, SSD, [0x80, 0, 0], &[], true).unwrap(),
        commands::install_for_install(JPKI_PACKAGE, JPKI_AID, JPKI_AID, [0, 0, 0], &[], true).unwrap(),
    ];
    setup.extend(store(rules));
    as_sei_tsm(&mut se, &setup);
    se
}

fn jpki_rule() -> Rule {
    rule(
        AidRef::Specific(JPKI_AID.to_vec()),
        HashRef::Specific(jpki_app().certificate_hashes()[1].clone()),
        ApduRule::Always,
    )
}

#[test]
fn the_registered_app_reaches_the_jpki_applet_and_another_is_refused() {
    let service = SeService::new(se_with(&[jpki_rule()]));
    let reader = &service.readers()[0];
    assert_eq!(reader.name(), "eSE1");
    let mut ch = reader.open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0x00).unwrap();
    // The JPKI AP answers through the channel: commitment, token EF.
    let s = ch.transmit(&[0x80, 0xC0, 0x00, 0x00, 0x20]).unwrap();
    assert_eq!((s.len(), &s[32..]), (34, &[0x90, 0x00][..]));
    assert_eq!(ch.transmit(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06]).unwrap(), vec![0x90, 0x00]);
    let token = ch.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x20]).unwrap();
    assert_eq!(&token[..15], b"JPKIAPGPSETOKEN");
    // The app may not manage channels or select other applets itself.
    assert!(matches!(ch.transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]), Err(OmapiError::Security(_))));
    assert!(matches!(ch.transmit(&commands::select(ISD).to_bytes().unwrap()), Err(OmapiError::Security(_))));

    let err = reader.open_session(&other_app()).open_logical_channel(JPKI_AID, 0x00).unwrap_err();
    assert!(matches!(err, OmapiError::Security(_)), "{err}");
    assert!(err.to_string().contains("com.example.malicious"));
}

#[test]
fn no_rule_for_an_applet_means_no_access() {
    let service = SeService::new(se_with(&[jpki_rule()]));
    let reader = &service.readers()[0];
    assert!(matches!(reader.open_session(&jpki_app()).open_logical_channel(SSD, 0), Err(OmapiError::Security(_))));
    // An SE with an empty ARA-M denies everything.
    let service = SeService::new(se_with(&[]));
    let err = service.readers()[0].open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0).unwrap_err();
    assert!(matches!(err, OmapiError::Security(_)));
}

#[test]
fn generic_rules_yield_to_specific_ones_in_aosp_order() {
    let all_apps_filtered = rule(
        AidRef::Specific(JPKI_AID.to_vec()),
        HashRef::All,
        ApduRule::Filters(vec![([0x00, 0xB0, 0x00, 0x00], [0xFF, 0xFF, 0x00, 0x00])]),
    );
    // (AID, all apps) with a READ BINARY filter: any app may read, nothing else.
    let service = SeService::new(se_with(std::slice::from_ref(&all_apps_filtered)));
    let reader = &service.readers()[0];
    let mut ch = reader.open_session(&other_app()).open_logical_channel(JPKI_AID, 0).unwrap();
    assert!(ch.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x04]).is_ok());
    assert!(matches!(ch.transmit(&[0x80, 0xC0, 0x00, 0x00, 0x20]), Err(OmapiError::Security(_))));
    // Adding the JPKI app's own rule: the JPKI app gets it; others are now
    // refused (a rule for a specific certificate excludes the rest, case A).
    let service = SeService::new(se_with(&[all_apps_filtered, jpki_rule()]));
    let reader = &service.readers()[0];
    let mut ch = reader.open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0).unwrap();
    assert!(ch.transmit(&[0x80, 0xC0, 0x00, 0x00, 0x20]).is_ok());
    assert!(matches!(
        reader.open_session(&other_app()).open_logical_channel(JPKI_AID, 0),
        Err(OmapiError::Security(_))
    ));
    // (all AIDs, all apps) opens everything that has no more specific rule.
    let service = SeService::new(se_with(&[rule(AidRef::All, HashRef::All, ApduRule::Always)]));
    assert!(service.readers()[0].open_session(&other_app()).open_logical_channel(SSD, 0).is_ok());
}

#[test]
fn rule_changes_apply_through_the_refresh_tag() {
    let service = SeService::new(se_with(&[]));
    let reader = &service.readers()[0];
    assert!(reader.open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0).is_err());
    service.with_se(|se| as_sei_tsm(se, &store(&[jpki_rule()])));
    assert!(reader.open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0).is_ok(), "no reboot needed");
    let mut session = reader.open_session(&jpki_app());
    session.close();
    assert_eq!(session.open_logical_channel(JPKI_AID, 0).unwrap_err(), OmapiError::IllegalState("session"));
    assert!(matches!(
        reader.open_session(&jpki_app()).open_logical_channel(&[1, 2], 0),
        Err(OmapiError::IllegalArgument(_))
    ));
    assert!(matches!(
        reader.open_session(&jpki_app()).open_logical_channel(JPKI_AID, 0x02),
        Err(OmapiError::Unsupported(_))
    ));
}
