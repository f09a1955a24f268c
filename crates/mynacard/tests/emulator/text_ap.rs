//! 券面事項入力補助AP: PIN, my number, basic four attributes, AP info.

use crate::*;
use apdu::tlv;

fn unlocked() -> MynaCard {
    let mut c = card();
    assert_eq!(sw(&mut c, SELECT_TEXT), 0x9000);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 11"), 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x9000);
    c
}

#[test]
fn my_number_layout_of_a_real_card() {
    let mut c = card();
    sw(&mut c, SELECT_TEXT);
    sw(&mut c, "00 A4 02 0C 02 00 01");
    assert_eq!(sw(&mut c, "00 B0 00 00 00"), 0x6982);
    let mut c = unlocked();
    sw(&mut c, "00 A4 02 0C 02 00 01");
    let (data, s) = send(&mut c, "00 B0 00 00 00");
    assert_eq!(s, 0x9000);
    assert_eq!(data.len(), 17);
    assert_eq!(&data[..3], &[0xFF, 0x10, 0x0C]);
    assert_eq!(&data[3..15], b"123456789018");
    assert_eq!(&data[15..], &[0xFF, 0xFF]);
}

#[test]
fn basic_four_attributes() {
    let mut c = unlocked();
    sw(&mut c, "00 A4 02 0C 02 00 02");
    // The trace client reads the length byte first, then the whole object.
    let (len, _) = send(&mut c, "00 B0 00 02 01");
    let (data, s) = send(&mut c, &format!("00 B0 00 00 {:02X}", len[0] as usize + 3));
    assert_eq!(s, 0x9000);
    let outer = tlv::parse_exact(&data).unwrap();
    assert_eq!(outer.tag, 0xFF20);
    let h = holder();
    let field = |t| String::from_utf8(outer.find(t).unwrap().unwrap().value.to_vec()).unwrap();
    assert_eq!(field(0xDF22), h.name);
    assert_eq!(field(0xDF23), h.address);
    assert_eq!(field(0xDF24), "19850401");
    assert_eq!(field(0xDF25), "1");
    assert_eq!(outer.find(0xDF21).unwrap().unwrap().value.len(), 8);
}

#[test]
fn ap_info_is_free_and_jpki_files_are_not_here() {
    let mut c = card();
    sw(&mut c, SELECT_TEXT);
    sw(&mut c, "00 A4 02 0C 02 00 05");
    let (data, s) = send(&mut c, "00 B0 00 00 00");
    assert_eq!((data.len(), s), (256, 0x9000));
    let info = tlv::parse_one(&data).unwrap().0;
    assert_eq!(info.tag, 0xFF40);
    assert_eq!(info.find(0xDF42).unwrap().unwrap().value.len(), 16);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 0A"), 0x6A82);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 18"), 0x6A82);
}

#[test]
fn text_pin_is_separate_from_the_auth_pin() {
    let mut c = card();
    sw(&mut c, SELECT_TEXT);
    sw(&mut c, "00 A4 02 0C 02 00 11");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"0000")).1, 0x63C2);
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
}
