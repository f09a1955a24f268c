//! Host and card sides against each other at every security level and key
//! length, including long (extended) commands and error status words.

use apdu::{Command, Response, StatusWord};
use gp::card::{CardConfig, CardSession};
use gp::host::HostHandshake;
use gp::{Channel, StaticKeys};

pub fn keys(len: usize) -> StaticKeys {
    let k = |b: u8| vec![b; len];
    StaticKeys::new(0x30, &k(0x41), &k(0x42), &k(0x43)).unwrap()
}

pub fn config(i: u8) -> CardConfig {
    CardConfig { i, kdd: *b"KDD0123456", sd_aid: vec![0xA0, 0, 0, 1, 0x51, 0, 0, 0] }
}

/// A fresh authenticated pair (host channel, card session).
pub fn open(level: u8, key_len: usize, i: u8) -> (Channel, CardSession) {
    let keys = keys(key_len);
    let (hs, init) = HostHandshake::start(keys.clone(), [7; 8], level).unwrap();
    let mut card = CardSession::default();
    let mut seq = 0;
    let r = card.initialize_update(&Command::parse(&init).unwrap(), &config(i), Some(&keys), &mut seq, || [9; 8]);
    assert_eq!(r.sw, StatusWord::Ok);
    let (channel, ext, _) = hs.authenticate(&r.data).unwrap();
    assert_eq!(card.external_authenticate(&ext).sw, StatusWord::Ok);
    (channel, card)
}

#[test]
fn every_level_key_length_and_i() {
    for level in gp::level::VALID {
        for key_len in [16, 24, 32] {
            for i in [0x10, 0x60, 0x70] {
                let (mut host, mut card) = open(level, key_len, i);
                for (n, plain) in [
                    Command::new(0x80, 0xF2, 0x40, 0x02).with_data(vec![0x4F, 0x00]).with_ne(256),
                    Command::new(0x80, 0xCA, 0x00, 0x66).with_ne(256),
                    Command::new(0x80, 0xE2, 0x90, 0x00).with_data(vec![0x5A; 200]),
                    Command::new(0x80, 0xE6, 0x0C, 0x00).with_data(vec![0x11; 239]),
                    Command::new(0x80, 0xE2, 0x80, 0x00).with_data(vec![0x22; 600]),
                    Command::new(0x80, 0xF0, 0x40, 0x07),
                ]
                .into_iter()
                .enumerate()
                {
                    let wrapped = host.wrap_command(&plain.to_bytes().unwrap()).unwrap();
                    let got = card.unwrap_command(&wrapped).unwrap();
                    assert_eq!(got, plain, "level {level:02X} key {key_len} i {i:02X} command {n}");
                    let response = if n == 5 {
                        Response::status(StatusWord::ReferencedDataNotFound)
                    } else {
                        Response::new(vec![n as u8; n * 40], StatusWord::Ok)
                    };
                    let wire = card.wrap_response(&response);
                    if n == 5 {
                        assert_eq!(wire, vec![0x6A, 0x88], "error status words carry no MAC");
                    }
                    assert_eq!(host.unwrap_response(&wire).unwrap(), response, "level {level:02X} response {n}");
                }
            }
        }
    }
}

#[test]
fn pseudo_random_sequence_counter_advances_and_is_checked() {
    let keys = keys(16);
    let cfg = config(0x70);
    let mut seq = 41;
    let (hs, init) = HostHandshake::start(keys.clone(), [1; 8], 0x33).unwrap();
    let mut card = CardSession::default();
    let r = card.initialize_update(&Command::parse(&init).unwrap(), &cfg, Some(&keys), &mut seq, || [0; 8]);
    assert_eq!(seq, 42);
    assert_eq!(&r.data[29..], &[0, 0, 42]);
    assert!(hs.expect_sd_aid(&cfg.sd_aid).authenticate(&r.data).is_ok());
    let (hs, init) = HostHandshake::start(keys.clone(), [1; 8], 0x33).unwrap();
    let r = card.initialize_update(&Command::parse(&init).unwrap(), &cfg, Some(&keys), &mut seq, || [0; 8]);
    assert_eq!(hs.expect_sd_aid(&[0xA0, 0, 0, 0, 3]).authenticate(&r.data).unwrap_err(), gp::Scp03Error::CardChallenge);
    let mut exhausted = gp::card::MAX_SEQUENCE;
    let r = card.initialize_update(&Command::parse(&init).unwrap(), &cfg, Some(&keys), &mut exhausted, || [0; 8]);
    assert_eq!(r.sw, StatusWord::ConditionsNotSatisfied);
}

#[test]
fn a_script_of_commands_is_answered_in_order_and_each_response_checked_against_its_command() {
    let (mut host, mut card) = open(0x33, 16, 0x70);
    let plain: Vec<Command> =
        (0..4u8).map(|n| Command::new(0x80, 0xE2, 0x90, n).with_data(vec![n; 20 + usize::from(n)])).collect();
    // The host wraps the whole script before any response comes back.
    let sent: Vec<_> = plain
        .iter()
        .map(|c| {
            let wire = host.wrap_command(&c.to_bytes().unwrap()).unwrap();
            (wire, host.response_context())
        })
        .collect();
    // The card answers each command before taking the next.
    let answers: Vec<(Response, Vec<u8>)> = sent
        .iter()
        .enumerate()
        .map(|(n, (wire, _))| {
            assert_eq!(card.unwrap_command(wire).unwrap(), plain[n]);
            let r = Response::new(vec![0xA0 + n as u8; 16 + n], StatusWord::Ok);
            let w = card.wrap_response(&r);
            (r, w)
        })
        .collect();
    for (n, ((_, context), (response, wire))) in sent.iter().zip(&answers).enumerate() {
        assert_eq!(&host.unwrap_response_to(*context, wire).unwrap(), response, "response {n}");
    }
    // Checked against another command's context, a response is refused.
    assert!(host.unwrap_response_to(sent[0].1, &answers[1].1).is_err());
    assert!(host.unwrap_response(&answers[0].1).is_err(), "the channel's own context is the last command's");
}
