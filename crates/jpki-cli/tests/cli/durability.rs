//! Killing the emulator process in the middle of a VERIFY: the try it
//! received is already counted in the card file.

use crate::*;
use apdu::Transport;
use std::net::TcpListener;
use transport::vpcd::{VpcdHost, POWER_ON};

fn serve(card: &Path, listener: &TcpListener, fault: bool) -> (std::process::Child, VpcdHost) {
    let addr = listener.local_addr().unwrap().to_string();
    let mut cmd = jpki();
    cmd.args(["card", "serve", "--once", "--vpcd", &addr, "--card"]).arg(card);
    if fault {
        cmd.env("JPKI_FAULT", "abort-after-pin-count");
    }
    let child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut host = VpcdHost::accept(listener).unwrap();
    host.set_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    host.control(POWER_ON).unwrap();
    (child, host)
}

const SELECT_JPKI: &[u8] = &[0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
const SELECT_SIGN_PIN: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x1B];

#[test]
fn process_killed_mid_verify_leaves_the_try_counted() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();

    let (mut child, mut host) = serve(&card, &listener, true);
    assert_eq!(host.transmit_raw(SELECT_JPKI).unwrap(), vec![0x90, 0x00]);
    assert_eq!(host.transmit_raw(SELECT_SIGN_PIN).unwrap(), vec![0x90, 0x00]);
    // The correct password: an attacker cutting power here must not win.
    let verify = [&[0x00, 0x20, 0x00, 0x80, 0x06][..], b"ABC123"].concat();
    assert!(host.transmit_raw(&verify).is_err(), "the process died before answering");
    let status = child.wait().unwrap();
    assert!(!status.success(), "aborted: {status:?}");

    let state = mynacard::CardState::load(&card).unwrap();
    assert_eq!(state.jpki.sign_pin.tries_left, 4, "the try was durable before the comparison");

    // A fresh process sees the counted try, and no temporary file is left.
    let (mut child, mut host) = serve(&card, &listener, false);
    host.transmit_raw(SELECT_JPKI).unwrap();
    host.transmit_raw(SELECT_SIGN_PIN).unwrap();
    assert_eq!(host.transmit_raw(&[0x00, 0x20, 0x00, 0x80]).unwrap(), vec![0x63, 0xC4]);
    drop(host);
    child.wait().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn serve_reconnects_after_the_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut child = jpki()
        .args(["card", "serve", "--vpcd", &addr, "--card"])
        .arg(&card)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..2 {
        // pcscd "restarts": the connection drops, the card comes back.
        let mut host = VpcdHost::accept(&listener).unwrap();
        host.control(POWER_ON).unwrap();
        assert_eq!(host.atr().unwrap(), mynacard::ATR.to_vec());
        assert_eq!(host.transmit_raw(SELECT_JPKI).unwrap(), vec![0x90, 0x00]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
