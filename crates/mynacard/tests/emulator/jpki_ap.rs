//! JPKI AP: token, certificates, PINs, signing.

use crate::*;

fn read_all(c: &mut MynaCard, fid: &str) -> (Vec<u8>, u16) {
    assert_eq!(sw(c, &format!("00 A4 02 0C 02 {fid}")), 0x9000);
    let mut out = Vec::new();
    loop {
        let off = out.len();
        let (data, s) = send(c, &format!("00 B0 {:02X} {:02X} 00", off >> 8, off & 0xFF));
        if s != 0x9000 {
            return (out, s);
        }
        out.extend_from_slice(&data);
        if data.len() < 256 {
            return (out, 0x9000);
        }
    }
}

#[test]
fn token_is_space_padded() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 06");
    let (data, s) = send(&mut c, "00 B0 00 00 20");
    assert_eq!(s, 0x9000);
    assert_eq!(&data[..], b"JPKIAPICCTOKEN2                 ");
}

#[test]
fn certificates_read_like_opensc_does() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    for fid in ["00 0A", "00 0B", "00 02"] {
        sw(&mut c, &format!("00 A4 02 0C 02 {fid}"));
        let (head, s) = send(&mut c, "00 B0 00 00 04");
        assert_eq!(s, 0x9000);
        assert_eq!(&head[..2], &[0x30, 0x82], "{fid}: certificate must be ≥ 256 bytes");
        let size = (usize::from(head[2]) << 8 | usize::from(head[3])) + 4;
        let (all, s) = read_all(&mut c, fid);
        assert_eq!((all.len(), s), (size, 0x9000));
    }
    // Short read at the end of the file, and 6B 00 past it.
    let fixture = fixture();
    let len = fixture.jpki.auth_cert.len();
    sw(&mut c, "00 A4 02 0C 02 00 0A");
    let (tail, s) = send(&mut c, &format!("00 B0 {:02X} {:02X} 00", (len - 3) >> 8, (len - 3) & 0xFF));
    assert_eq!((tail.len(), s), (3, 0x9000));
    assert_eq!(sw(&mut c, &format!("00 B0 {:02X} {:02X} 01", len >> 8, len & 0xFF)), 0x6B00);
    // Extended Le, as a contact reader accepted in the real-card trace.
    let (all, s) = send(&mut c, "00 B0 00 00 00 FF FF");
    assert_eq!((all.len(), s), (len, 0x9000));
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 17"), 0x9000);
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), 0x6981);
}

#[test]
fn sign_certificate_needs_the_signature_password() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(read_all(&mut c, "00 01").1, 0x6982);
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"ABC123")).1, 0x9000);
    let (cert, s) = read_all(&mut c, "00 01");
    assert_eq!(s, 0x9000);
    assert_eq!(cert, fixture().jpki.sign_cert);
}

#[test]
fn empty_verify_reports_tries_in_every_state() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    assert_eq!(sw(&mut c, "00 20 00 80 00"), 0x63C3, "5-byte form (case 2) is the same query");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3, "still 63 C3 after a correct PIN");
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
}

#[test]
fn wrong_pins_count_down_then_block() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"0000")).1, 0x63C2);
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"0000")).1, 0x63C1);
    // A correct PIN resets the counter.
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x9000);
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C3);
    for left in [2, 1, 0] {
        assert_eq!(send_bytes(&mut c, &verify_apdu(b"9999")).1, 0x63C0 | left);
    }
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x6984, "blocked");
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C0, "empty VERIFY on a blocked PIN");
    assert_eq!(c.state().jpki.auth_pin.tries_left, 0);
    // The sign password is independent.
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(sw(&mut c, "00 20 00 80"), 0x63C5);
}

#[test]
fn verify_needs_a_pin_ef() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x6A88);
    sw(&mut c, "00 A4 02 0C 02 00 0A");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"1234")).1, 0x6A88);
}

fn digest_info() -> Vec<u8> {
    let h = pki::HashAlg::Sha256;
    h.digest_info(&h.digest(b"openjpki"))
}

fn sign_apdu(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0x2A, 0x00, 0x80, data.len() as u8];
    v.extend_from_slice(data);
    v.push(0);
    v
}

#[test]
fn signing_with_each_key() {
    let fixture = fixture();
    for (pin_ef, pin, key_ef, cert) in [
        ("00 18", &b"1234"[..], "00 17", &fixture.jpki.auth_cert),
        ("00 1B", &b"ABC123"[..], "00 1A", &fixture.jpki.sign_cert),
    ] {
        let mut c = card();
        sw(&mut c, SELECT_JPKI);
        sw(&mut c, &format!("00 A4 02 0C 02 {key_ef}"));
        assert_eq!(send_bytes(&mut c, &sign_apdu(&digest_info())).1, 0x6982, "no VERIFY yet");
        sw(&mut c, &format!("00 A4 02 0C 02 {pin_ef}"));
        assert_eq!(send_bytes(&mut c, &verify_apdu(pin)).1, 0x9000);
        sw(&mut c, &format!("00 A4 02 0C 02 {key_ef}"));
        let (sig, s) = send_bytes(&mut c, &sign_apdu(&digest_info()));
        assert_eq!((sig.len(), s), (256, 0x9000));
        let cert = <pki::Certificate as der::Decode>::from_der(cert).unwrap();
        let spki = pki::cert::public_key_der(&cert).unwrap();
        pki::rsa::verify(&spki, pki::HashAlg::Sha256, b"openjpki", &sig).unwrap();
        // Raw input (TLS 1.0 MD5‖SHA-1) is padded and signed as well.
        let (sig, s) = send_bytes(&mut c, &sign_apdu(&[0x5A; 36]));
        assert_eq!(s, 0x9000);
        assert_eq!(pki::rsa::recover(&spki, &sig).unwrap(), vec![0x5A; 36]);
        // 245 bytes is the limit; case 3 (no Le) is accepted.
        let mut max = vec![0x80, 0x2A, 0x00, 0x80, 245];
        max.extend_from_slice(&[1; 245]);
        assert_eq!(send_bytes(&mut c, &max).1, 0x9000);
        let mut too_long = vec![0x80, 0x2A, 0x00, 0x80, 246];
        too_long.extend_from_slice(&[1; 246]);
        assert_eq!(send_bytes(&mut c, &too_long).1, 0x6700);
        assert_eq!(sw(&mut c, "80 2A 00 81 01 00 00"), 0x6A86);
    }
}

#[test]
fn auth_pin_does_not_unlock_the_sign_key() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 18");
    send_bytes(&mut c, &verify_apdu(b"1234"));
    sw(&mut c, "00 A4 02 0C 02 00 1A");
    assert_eq!(send_bytes(&mut c, &sign_apdu(&digest_info())).1, 0x6982);
    sw(&mut c, "00 A4 02 0C 02 00 0A");
    assert_eq!(send_bytes(&mut c, &sign_apdu(&digest_info())).1, 0x6981);
}

#[test]
fn security_state_cleared_by_select_aid_and_reset() {
    for clear in ["select-same", "select-other", "select-unknown", "reset", "power"] {
        let mut c = card();
        sw(&mut c, SELECT_JPKI);
        sw(&mut c, "00 A4 02 0C 02 00 18");
        send_bytes(&mut c, &verify_apdu(b"1234"));
        match clear {
            "select-same" => assert_eq!(sw(&mut c, SELECT_JPKI), 0x9000),
            "select-other" => {
                sw(&mut c, SELECT_TEXT);
                sw(&mut c, SELECT_JPKI);
            }
            "select-unknown" => assert_eq!(sw(&mut c, "00 A4 04 0C 05 A0 00 00 00 01"), 0x6A82),
            "reset" => {
                c.reset();
                sw(&mut c, SELECT_JPKI);
            }
            _ => {
                c.power_off();
                c.power_on();
                sw(&mut c, SELECT_JPKI);
            }
        }
        sw(&mut c, "00 A4 02 0C 02 00 17");
        assert_eq!(send_bytes(&mut c, &sign_apdu(&digest_info())).1, 0x6982, "{clear}");
    }
}

#[test]
fn change_pin() {
    let mut c = card();
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(sw(&mut c, "00 24 01 80 06 58 59 5A 39 38 37"), 0x6982, "old password first");
    send_bytes(&mut c, &verify_apdu(b"ABC123"));
    assert_eq!(sw(&mut c, "00 24 01 80 03 41 42 43"), 0x6A80, "too short");
    assert_eq!(sw(&mut c, "00 24 01 80 06 61 62 63 31 32 33"), 0x6A80, "lower case");
    assert_eq!(sw(&mut c, "00 24 00 80 06 58 59 5A 39 38 37"), 0x6A86);
    assert_eq!(sw(&mut c, "00 24 01 80 06 58 59 5A 39 38 37"), 0x9000); // XYZ987
    sw(&mut c, SELECT_JPKI);
    sw(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"ABC123")).1, 0x63C4);
    assert_eq!(send_bytes(&mut c, &verify_apdu(b"XYZ987")).1, 0x9000);
}
