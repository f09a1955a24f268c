//! Class, instruction, length and selection errors; ATR; power events.

use crate::*;

#[test]
fn atr_is_the_one_opensc_matches() {
    assert_eq!(card().atr(), hex("3B E0 00 FF 81 31 FE 45 14"));
}

#[test]
fn unknown_aid_class_instruction() {
    let mut c = card();
    // PIV, OpenPGP: foreign AIDs must not be claimed (jpki-card.md §1).
    assert_eq!(sw(&mut c, "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00"), 0x6A86);
    assert_eq!(sw(&mut c, "00 A4 04 0C 06 D2 76 00 01 24 01"), 0x6A82);
    assert_eq!(sw(&mut c, "B0 A4 00 00 02 3F 00"), 0x6E00); // coolkey class
    assert_eq!(sw(&mut c, "00 CA 01 00 00"), 0x6D00); // GET DATA
    assert_eq!(sw(&mut c, "00 84 00 00 08"), 0x6D00); // GET CHALLENGE
    assert_eq!(sw(&mut c, "80 A4 04 0C 02 00 01"), 0x6E00); // proprietary class on ISO INS
    assert_eq!(sw(&mut c, "00 2A 00 80 01 00 00"), 0x6E00); // ISO class on 80 2A
    assert_eq!(sw(&mut c, "01 A4 04 0C 02 00 01"), 0x6881); // logical channel
    assert_eq!(sw(&mut c, "0C A4 04 0C 02 00 01"), 0x6882); // secure messaging
}

#[test]
fn wrong_parameters_and_lengths() {
    let mut c = card();
    assert_eq!(sw(&mut c, "00 A4 01 0C 02 00 01"), 0x6A86);
    assert_eq!(sw(&mut c, "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01"), 0x6A86);
    assert_eq!(sw(&mut c, "00 A4 04 0C"), 0x6700);
    assert_eq!(sw(&mut c, "00 A4 04 0C 0A D3 92"), 0x6700); // Lc larger than data
    assert_eq!(sw(&mut c, "00 A4"), 0x6700);
    assert_eq!(sw(&mut c, SELECT_JPKI), 0x9000);
    assert_eq!(sw(&mut c, "00 A4 02 0C 01 0A"), 0x6700);
    assert_eq!(sw(&mut c, "00 A4 02 0C 03 00 0A 00"), 0x6700);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 99"), 0x6A82);
    assert_eq!(sw(&mut c, "00 20 01 80"), 0x6A86);
    assert_eq!(sw(&mut c, "00 B0 80 00 04"), 0x6A86); // SFI form
}

#[test]
fn select_ef_needs_an_application() {
    let mut c = card();
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 0A"), 0x6A82);
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6986);
}

#[test]
fn malformed_input_never_panics_or_changes_state() {
    let mut c = card();
    let before = serde_json::to_string(c.state()).unwrap();
    let mut seed = 0x1234_5678u32;
    for len in 0..300usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let r = c.process(&bytes);
        assert!(r.len() >= 2);
    }
    // Random bytes can form a VERIFY only after a SELECT of a PIN EF, which
    // needs an exact AID; the persisted state is the same.
    assert_eq!(serde_json::to_string(c.state()).unwrap(), before);
}
