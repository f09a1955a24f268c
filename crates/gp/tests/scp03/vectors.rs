//! Every vector of vectors/scp03.json (pySim sessions, pySim KCVs,
//! GlobalPlatformPro KDF/KCV/KDF3), host side and card side.

use crate::{byte, h, vectors};
use apdu::{Command, Response, StatusWord};
use gp::card::{CardConfig, CardSession};
use gp::crypto::{kdf, AesKey};
use gp::host::HostHandshake;
use gp::StaticKeys;

/// The eUICC ISD-R the pySim vectors were made against (gp-scp03.md §2.2).
const ISD_R: &str = "a0000005591010ffffffff8900000100";

fn static_keys(v: &serde_json::Value, kvn: u8) -> StaticKeys {
    let k = &v["static_keys"];
    StaticKeys::new(kvn, &h(&k["enc"]), &h(&k["mac"]), &h(&k["dek"])).unwrap()
}

#[test]
fn pysim_sessions_host_side() {
    let sessions = vectors()["scp03_sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 9);
    for s in sessions {
        let name = s["name"].as_str().unwrap();
        let keys = static_keys(s, byte(&s["key_version"]));
        let challenge: [u8; 8] = h(&s["host_challenge"]).try_into().unwrap();
        let (hs, init) = HostHandshake::start(keys, challenge, byte(&s["security_level"])).unwrap();
        assert_eq!(init, h(&s["initialize_update_command"]), "{name} INITIALIZE UPDATE");
        let hs = hs.expect_sd_aid(&hex::decode(ISD_R).unwrap());
        let (mut channel, ext_auth, info) = hs.authenticate(&h(&s["initialize_update_response"])).unwrap();
        assert_eq!(info.init.i, 0x70);
        assert_eq!(ext_auth, h(&s["external_authenticate_command"]), "{name} EXTERNAL AUTHENTICATE");
        for w in s["wrapped"].as_array().unwrap() {
            let label = w["label"].as_str().unwrap();
            let wrapped = channel.wrap_command(&h(&w["plain_command"])).unwrap();
            assert_eq!(hex::encode(&wrapped), w["wrapped_command"].as_str().unwrap(), "{name} {label}");
            if let Some(resp) = w.get("wrapped_response") {
                let raw = [h(resp), h(&w["response_sw"])].concat();
                let plain = channel.unwrap_response(&raw).unwrap();
                assert_eq!(plain.data, h(&w["plain_response"]), "{name} {label} response");
                assert_eq!(plain.sw, StatusWord::Ok);
            }
        }
    }
}

#[test]
fn pysim_sessions_card_side() {
    for s in vectors()["scp03_sessions"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let keys = static_keys(s, byte(&s["key_version"]));
        let init_rsp = h(&s["initialize_update_response"]);
        let config = CardConfig { i: 0x70, kdd: [0; 10], sd_aid: hex::decode(ISD_R).unwrap() };
        // The published response carries the counter value the card returned.
        let published = u32::from_be_bytes([0, init_rsp[29], init_rsp[30], init_rsp[31]]);
        let mut sequence = published - 1;
        let mut card = CardSession::default();
        let init = Command::parse(&h(&s["initialize_update_command"])).unwrap();
        let r = card.initialize_update(&init, &config, Some(&keys), &mut sequence, || unreachable!("pseudo-random"));
        assert_eq!((r.data.clone(), r.sw), (init_rsp, StatusWord::Ok), "{name} INITIALIZE UPDATE response");
        assert_eq!(sequence, published);
        let r = card.external_authenticate(&h(&s["external_authenticate_command"]));
        assert_eq!(r.sw, StatusWord::Ok, "{name} EXTERNAL AUTHENTICATE");
        assert_eq!(card.level(), Some(byte(&s["security_level"])));
        for w in s["wrapped"].as_array().unwrap() {
            let label = w["label"].as_str().unwrap();
            let plain = card.unwrap_command(&h(&w["wrapped_command"])).unwrap();
            assert_eq!(plain.to_bytes().unwrap(), h(&w["plain_command"]), "{name} {label}");
            if let Some(resp) = w.get("wrapped_response") {
                let sw = h(&w["response_sw"]);
                let response = Response::new(h(&w["plain_response"]), StatusWord::from_bytes(sw[0], sw[1]));
                assert_eq!(card.wrap_response(&response), [h(resp), sw].concat(), "{name} {label} response");
            }
        }
    }
}

#[test]
fn pysim_static_key_kcvs() {
    let v = &vectors()["pysim_static_key_kcv"];
    let s = &vectors()["scp03_sessions"][0]["static_keys"];
    for k in ["enc", "mac", "dek"] {
        assert_eq!(AesKey::new(&h(&s[k])).unwrap().kcv().to_vec(), h(&v["kcv"][k]), "{k}");
    }
}

#[test]
fn globalplatformpro_kdf_kcv_and_kdf3_vectors() {
    let all = vectors()["globalplatformpro_kdf_kcv_vectors"].as_array().unwrap();
    let mut seen = 0;
    for v in all {
        let name = v["name"].as_str().unwrap();
        match v["kind"].as_str().unwrap() {
            "session_key_kcv" => {
                let keys = static_keys(v, 0);
                assert_eq!(keys.dek.kcv().to_vec(), h(&v["kcv"]["static_dek"]));
                let s = keys.session_keys(&h(&v["context"]));
                assert_eq!(s.s_enc.kcv().to_vec(), h(&v["kcv"]["s_enc"]), "{name}");
                assert_eq!(s.s_mac.kcv().to_vec(), h(&v["kcv"]["s_mac"]), "{name}");
                assert_eq!(s.s_rmac.kcv().to_vec(), h(&v["kcv"]["s_rmac"]), "{name}");
            }
            "kdf_output_kcv" => {
                // One CMAC over 16 × 00 ‖ 01 ‖ 16 × 00.
                let key = AesKey::new(&h(&v["key"])).unwrap();
                let out = gp::crypto::cmac(&key, &h(&v["prf_input"]));
                assert_eq!(AesKey::new(&out).unwrap().kcv().to_vec(), h(&v["output_kcv"]), "{name}");
                assert_eq!(hex::encode(out), "22339ce95e71937438d01995491712e2");
            }
            "kdf3_diversification" => {
                let master = AesKey::new(&h(&v["master_key"])).unwrap();
                let keys = StaticKeys::diversify_kdf3(1, &master, &h(&v["kdd"]));
                assert_eq!(keys.enc.expose(), h(&v["derived"]["enc"]).as_slice(), "{name}");
            }
            "kdf3_diversification_kcv" => {
                let master = AesKey::new(&h(&v["master_key"])).unwrap();
                let keys = StaticKeys::diversify_kdf3(1, &master, &h(&v["kdd"]));
                for (k, key) in [("enc", &keys.enc), ("mac", &keys.mac), ("dek", &keys.dek)] {
                    assert_eq!(key.kcv().to_vec(), h(&v["kcv"][k]), "{name} {k}");
                }
            }
            other => panic!("unknown vector kind {other}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
}

#[test]
fn derived_intermediate_values() {
    // gp-scp03.md §2.2 (debugging aids): AES128_11 session keys and cryptograms.
    let s = &vectors()["scp03_sessions"][0];
    let keys = static_keys(s, 0x30);
    let ctx = [h(&s["host_challenge"]), h(&s["initialize_update_response"])[13..21].to_vec()].concat();
    let session = keys.session_keys(&ctx);
    assert_eq!(hex::encode(session.s_enc.expose()), "c4e87149f2114da66bb015a567d751f9");
    assert_eq!(hex::encode(session.s_mac.expose()), "8b2635556e987a6b84f43d9ffc197d3f");
    assert_eq!(hex::encode(session.s_rmac.expose()), "3f6b2ce3b3abd9a99bd4453afa54cc7b");
    assert_eq!(hex::encode(kdf(&session.s_mac, 0, &ctx, 64)), "66c484c1d2ef1948");
    assert_eq!(hex::encode(kdf(&session.s_mac, 1, &ctx, 64)), "7d5f5826a993ebc8");
}
