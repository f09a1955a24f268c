//! Every way a session must break: a flipped bit anywhere in a wrapped
//! command or response, a replayed command, a skipped command, a command
//! below the level, a wrong key version or key.

use crate::sessions::{config, keys, open};
use apdu::{Command, Response, StatusWord};
use gp::card::CardSession;
use gp::host::HostHandshake;
use gp::Scp03Error;

fn command() -> Vec<u8> {
    Command::new(0x80, 0xE2, 0x90, 0x00).with_data(vec![0x33; 40]).with_ne(256).to_bytes().unwrap()
}

#[test]
fn any_flipped_bit_in_a_command_closes_the_session() {
    for level in [0x01, 0x03, 0x11, 0x13, 0x33] {
        let (mut host, _) = open(level, 16, 0x70);
        let wrapped = host.wrap_command(&command()).unwrap();
        for byte in 0..wrapped.len() {
            for bit in [0x01, 0x80] {
                let (mut host, mut card) = open(level, 16, 0x70);
                let mut bad = host.wrap_command(&command()).unwrap();
                bad[byte] ^= bit;
                // Flipping a channel bit of CLA or the Le byte is not protected
                // by the MAC (Amd D §6.2.4); everything else is.
                let unprotected = (byte == 0 && bit == 0x01) || byte == bad.len() - 1;
                let result = card.unwrap_command(&bad);
                if unprotected {
                    continue;
                }
                assert!(result.is_err(), "level {level:02X}: flip {bit:02X} at {byte} accepted");
                assert!(matches!(card, CardSession::Aborted), "session aborted");
                // Once aborted, even a correct command is refused.
                let good = host.wrap_command(&command()).unwrap();
                assert_eq!(card.unwrap_command(&good).unwrap_err(), Scp03Error::NoSession);
            }
        }
    }
}

#[test]
fn any_flipped_bit_in_a_response_is_detected() {
    let (mut host, mut card) = open(0x33, 32, 0x70);
    host.wrap_command(&command()).map(|w| card.unwrap_command(&w).unwrap()).unwrap();
    let wire = card.wrap_response(&Response::new(vec![0x44; 20], StatusWord::Ok));
    for byte in 0..wire.len() - 2 {
        let mut bad = wire.clone();
        bad[byte] ^= 0x04;
        assert!(host.unwrap_response(&bad).is_err(), "flip at {byte} accepted");
    }
    // Turning 90 00 into an error status word would drop the R-MAC check:
    // data with an error status word is refused instead.
    let n = wire.len();
    let mut error_sw = wire.clone();
    error_sw[n - 2] = 0x6A;
    error_sw[n - 1] = 0x88;
    assert!(matches!(host.unwrap_response(&error_sw), Err(Scp03Error::Malformed(_))));
    let mut warning = wire.clone();
    warning[n - 2] = 0x62;
    warning[n - 1] = 0x82;
    assert_eq!(host.unwrap_response(&warning).unwrap_err(), Scp03Error::BadMac, "SW is covered by the R-MAC");
    assert_eq!(host.unwrap_response(&[0x90, 0x00]).unwrap_err(), Scp03Error::MissingResponseMac);
    assert_eq!(host.unwrap_response(&wire).unwrap().data, vec![0x44; 20]);
}

#[test]
fn replayed_and_skipped_commands_are_rejected() {
    let (mut host, mut card) = open(0x33, 16, 0x70);
    let first = host.wrap_command(&command()).unwrap();
    card.unwrap_command(&first).unwrap();
    assert_eq!(card.unwrap_command(&first).unwrap_err(), Scp03Error::BadMac, "replay");

    let (mut host, mut card) = open(0x13, 16, 0x70);
    let _skipped = host.wrap_command(&command()).unwrap();
    let second = host.wrap_command(&command()).unwrap();
    assert_eq!(card.unwrap_command(&second).unwrap_err(), Scp03Error::BadMac, "skip");
}

#[test]
fn plain_commands_below_the_level_are_refused() {
    let (_, mut card) = open(0x01, 16, 0x70);
    assert_eq!(card.unwrap_command(&command()).unwrap_err(), Scp03Error::SecurityLevel);
    assert!(matches!(card, CardSession::Aborted));
}

#[test]
fn wrong_key_version_or_keys_never_open_a_session() {
    let card_keys = keys(16);
    let mut card = CardSession::default();
    let mut seq = 0;
    // The card has no key set 31.
    let (_, init) = HostHandshake::start(gp::StaticKeys { kvn: 0x31, ..card_keys.clone() }, [1; 8], 0x33).unwrap();
    let r = card.initialize_update(&Command::parse(&init).unwrap(), &config(0x70), None, &mut seq, || [0; 8]);
    assert_eq!(r.sw, StatusWord::ReferencedDataNotFound);
    // The host asks for 31, the card answers with 30.
    let (hs, init) = HostHandshake::start(gp::StaticKeys { kvn: 0x31, ..card_keys.clone() }, [1; 8], 0x33).unwrap();
    let r =
        card.initialize_update(&Command::parse(&init).unwrap(), &config(0x70), Some(&card_keys), &mut seq, || [0; 8]);
    assert_eq!(hs.authenticate(&r.data).unwrap_err(), Scp03Error::KeyVersion { expected: 0x31, card: 0x30 });
    // Wrong keys: the host rejects the card cryptogram.
    let (hs, init) = HostHandshake::start(keys(32), [1; 8], 0x33).unwrap();
    let r =
        card.initialize_update(&Command::parse(&init).unwrap(), &config(0x70), Some(&card_keys), &mut seq, || [0; 8]);
    assert_eq!(hs.authenticate(&r.data).unwrap_err(), Scp03Error::CardCryptogram);
    // A forged EXTERNAL AUTHENTICATE: no session.
    let mut forged = hex::decode("84823300108c36f96bcc00724a4e13ad591d7da3f0").unwrap();
    forged[6] ^= 1;
    assert_ne!(card.external_authenticate(&forged).sw, StatusWord::Ok);
    assert!(card.level().is_none());
    assert!(HostHandshake::start(keys(16), [0; 8], 0x02).is_err(), "C-DEC without C-MAC");
}
