//! The SP's security domain: created by the ISD's owner, its keys handed
//! over and replaced, after which the ISD's owner cannot open it.

use crate::*;
use gp::commands;

fn create_ssd(se: &mut SecureElement) -> StaticKeys {
    let keys = isd_keys(se);
    let mut s = Session::open(se, 0, ISD, keys.clone(), 0x33).unwrap();
    let install = commands::install_for_install(SD_PACKAGE, SD_MODULE, SSD, [0x80, 0, 0], &[], true).unwrap();
    assert_eq!(s.send(se, &install).sw, StatusWord::Ok);
    assert_eq!(s.send(se, &install).sw, StatusWord::IncorrectData, "duplicate AID");
    let initial = StaticKeys::new(0x30, &[0x31; 16], &[0x32; 16], &[0x33; 16]).unwrap();
    assert_eq!(s.send(se, &commands::install_for_personalization(SSD).unwrap()).sw, StatusWord::Ok);
    let perso = commands::put_key(0, &initial, &keys.dek).data.clone();
    let r = s.send(se, &commands::store_data(0x80, 0, &perso));
    assert_eq!(r.sw, StatusWord::Ok);
    assert_eq!(r.data[0], 0x30);
    initial
}

#[test]
fn key_handover_locks_out_the_isd_owner() {
    let mut se = new_se();
    let initial = create_ssd(&mut se);
    // The SP-TSM opens its domain on another logical channel with the handed-over keys...
    let open = send(&mut se, &Command::new(0x00, 0x70, 0x00, 0x00).with_ne(1));
    let ch = open.data[0];
    let mut sp = Session::open(&mut se, ch, SSD, initial.clone(), 0x33).unwrap();
    // ...and replaces them (PUT KEY, same KVN, new values).
    let sp_keys = StaticKeys::new(0x30, &[0x51; 16], &[0x52; 16], &[0x53; 16]).unwrap();
    let r = sp.send(&mut se, &commands::put_key(0x30, &sp_keys, &initial.dek));
    assert_eq!(r.sw, StatusWord::Ok);
    assert_eq!(
        r.data,
        [vec![0x30], sp_keys.enc.kcv().to_vec(), sp_keys.mac.kcv().to_vec(), sp_keys.dek.kcv().to_vec()].concat()
    );
    // The keys the SEI-TSM knew no longer open the SSD; the new ones do.
    let err = Session::open(&mut se, ch, SSD, initial, 0x33).unwrap_err();
    assert!(err.contains("cryptogram"), "{err}");
    Session::open(&mut se, ch, SSD, sp_keys, 0x33).unwrap();
    // Nor do the ISD keys.
    let isd = StaticKeys { kvn: 0x30, ..isd_keys(&se) };
    assert!(Session::open(&mut se, ch, SSD, isd, 0x33).is_err());
}

#[test]
fn put_key_needs_c_dec_and_a_valid_kcv() {
    let mut se = new_se();
    let initial = create_ssd(&mut se);
    let mut sp = Session::open(&mut se, 0, SSD, initial.clone(), 0x01).unwrap();
    let new = StaticKeys::new(0x30, &[0x61; 16], &[0x62; 16], &[0x63; 16]).unwrap();
    assert_eq!(
        sp.send(&mut se, &commands::put_key(0x30, &new, &initial.dek)).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    let mut sp = Session::open(&mut se, 0, SSD, initial.clone(), 0x33).unwrap();
    let mut bad = commands::put_key(0x30, &new, &initial.dek);
    let n = bad.data.len();
    bad.data[n - 1] ^= 0xFF; // last KCV byte
    assert_eq!(sp.send(&mut se, &bad).sw, StatusWord::SecurityStatusNotSatisfied);
    let wrong_size = StaticKeys::new(0x30, &[0x61; 32], &[0x62; 32], &[0x63; 32]).unwrap();
    assert_eq!(sp.send(&mut se, &commands::put_key(0x30, &wrong_size, &initial.dek)).sw, StatusWord::IncorrectData);
    // Nothing changed: the initial keys still open the SSD.
    Session::open(&mut se, 0, SSD, initial, 0x33).unwrap();
}

#[test]
fn ssd_cannot_manage_the_isd_and_delete_needs_related_flag() {
    let mut se = new_se();
    let initial = create_ssd(&mut se);
    let mut sp = Session::open(&mut se, 0, SSD, initial, 0x33).unwrap();
    let r = sp.send(&mut se, &commands::delete(&gp::ara::ARA_M_AID, false).unwrap());
    assert_eq!(r.sw, StatusWord::ConditionsNotSatisfied);
    assert_eq!(
        sp.send(&mut se, &Command::new(0x80, 0xF0, 0x80, 0x7F)).sw,
        StatusWord::ConditionsNotSatisfied,
        "cannot lock the card"
    );
    let keys = isd_keys(&se);
    let mut isd = Session::open(&mut se, 0, ISD, keys, 0x33).unwrap();
    // Lock and unlock the SSD, then delete it.
    assert_eq!(isd.send(&mut se, &commands::set_status(0x40, 0x80, SSD)).sw, StatusWord::Ok);
    assert_eq!(
        send(&mut se, &Command::new(0x01, 0xA4, 0x04, 0x00).with_data(SSD.to_vec())).sw,
        StatusWord::ChannelNotSupported
    );
    assert_eq!(isd.send(&mut se, &commands::set_status(0x40, 0x00, SSD)).sw, StatusWord::Ok);
    assert_eq!(isd.send(&mut se, &commands::delete(SSD, false).unwrap()).sw, StatusWord::Ok);
    assert!(se.state().entry(SSD).is_none());
}
