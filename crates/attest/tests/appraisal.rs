//! The verifier against each way a phone can be untrustworthy
//! (issue 18's list), and the relying party's check of its results.

use attest::appraisal::{check_result, Metadata, Policy, Reason, ResultError, StatusEntry, Verifier};
use attest::ear::Status;
use attest::ec::EcKey;
use attest::keystore::{AppIdentity, Keystore, Platform, Preset, Vendor};
use attest::se_key::{self, KeySlot};
use attest::x509::{Authority, Parsed};
use std::time::SystemTime;

const SE: [u8; 10] = [0x47, 0x90, 0x51, 0x00, 0x12, 0x34, 0x56, 0x78, 0x20, 0x26];

struct World {
    vendor: Vendor,
    batch: Authority,
    se_issuer: Authority,
    app: AppIdentity,
    verifier: Verifier,
}

fn world() -> World {
    let vendor = Vendor::new("Example Phones").unwrap();
    let batch = vendor.attestation_key("X1").unwrap();
    let se_issuer = Authority::new_root("openjpki SE issuer", 30).unwrap();
    let app = AppIdentity { package: "jp.go.jpki.app".into(), version: 7, signing_digests: vec![vec![0xAB; 32]] };
    let mut policy = Policy::jpki("openjpki:jpki-issuance:1", &app.package, &hex::encode([0xAB; 32]));
    policy.result_lifetime_secs = 600;
    let metadata = Metadata::of(
        ("Example Phones", &vendor.root.certificate, &vendor.boot_key),
        ("openjpki SE issuer", &se_issuer.certificate),
    );
    let verifier = Verifier::new(policy, metadata, EcKey::generate(), "test");
    World { vendor, batch, se_issuer, app, verifier }
}

impl World {
    fn keystore(&self, preset: Preset) -> Keystore {
        Keystore::new(preset.state(&self.vendor.boot_key), self.batch.clone(), self.vendor.root.certificate.clone())
    }

    fn evidence(&self, ks: &Keystore, app: &AppIdentity, nonce: &[u8]) -> Vec<u8> {
        let platform = Platform {
            ueid: [&[1u8][..], &[4; 16]].concat(),
            model: "X1".into(),
            se_identifier: SE.to_vec(),
            applet: "JPKI applet".into(),
        };
        ks.evidence(nonce, app, &platform).unwrap()
    }

    /// The codes found for a phone in `preset` (fresh nonce).
    fn codes(&self, preset: Preset) -> (Status, Vec<&'static str>) {
        let nonce = [5u8; 32];
        let a = self.verifier.appraise(
            &self.evidence(&self.keystore(preset), &self.app, &nonce),
            &nonce,
            SystemTime::now(),
        );
        (a.status(), a.findings.iter().map(Reason::code).collect())
    }
}

#[test]
fn a_good_phone_is_affirmed_and_each_bad_state_named() {
    let w = world();
    assert_eq!(w.codes(Preset::Good), (Status::Affirming, vec![]));
    assert_eq!(w.codes(Preset::Unlocked), (Status::Contraindicated, vec!["bootloader_unlocked"]));
    assert_eq!(w.codes(Preset::Rooted), (Status::Contraindicated, vec!["boot_not_verified"]));
    assert_eq!(w.codes(Preset::OldPatch), (Status::Warning, vec!["patch_level"]));
    assert_eq!(w.codes(Preset::Software), (Status::Contraindicated, vec!["software_keystore"]));
}

#[test]
fn another_vendor_a_revoked_key_or_vendor_and_a_repackaged_app_are_refused() {
    let mut w = world();
    let nonce = [5u8; 32];
    let now = SystemTime::now();
    let codes =
        |v: &Verifier, ev: &[u8]| v.appraise(ev, &nonce, now).findings.iter().map(Reason::code).collect::<Vec<_>>();
    // A vendor the metadata does not list.
    let stranger = Vendor::new("Unknown Phones").unwrap();
    let ks = Keystore::new(
        Preset::Good.state(&stranger.boot_key),
        stranger.attestation_key("Z").unwrap(),
        stranger.root.certificate.clone(),
    );
    assert_eq!(codes(&w.verifier, &w.evidence(&ks, &w.app, &nonce)), ["unknown_vendor"]);
    // The JPKI app's name, another signing key (repackaged).
    let repackaged = AppIdentity { signing_digests: vec![vec![0xCD; 32]], ..w.app.clone() };
    assert_eq!(codes(&w.verifier, &w.evidence(&w.keystore(Preset::Good), &repackaged, &nonce)), ["app_signing_key"]);
    let other = AppIdentity { package: "com.example.fake".into(), ..w.app.clone() };
    assert_eq!(codes(&w.verifier, &w.evidence(&w.keystore(Preset::Good), &other, &nonce)), ["app_package"]);
    // The batch attestation key revoked.
    let good = w.evidence(&w.keystore(Preset::Good), &w.app, &nonce);
    let serial = Parsed::from_der(&w.batch.certificate).unwrap().serial_hex();
    w.verifier
        .metadata
        .status
        .insert(serial, StatusEntry { status: "REVOKED".into(), reason: "KEY_COMPROMISE".into() });
    assert_eq!(codes(&w.verifier, &good), ["attestation_key_revoked"]);
    w.verifier.metadata.status.clear();
    w.verifier.metadata.entries[0].status = "REVOKED".into();
    assert_eq!(codes(&w.verifier, &good), ["vendor_revoked"]);
}

#[test]
fn evidence_for_another_nonce_or_too_old_or_tampered_is_refused() {
    let w = world();
    let now = SystemTime::now();
    let ev = w.evidence(&w.keystore(Preset::Good), &w.app, &[5; 32]);
    let codes = |ev: &[u8], nonce: &[u8], at| {
        w.verifier.appraise(ev, nonce, at).findings.iter().map(Reason::code).collect::<Vec<_>>()
    };
    assert_eq!(codes(&ev, &[6; 32], now), ["nonce_mismatch", "nonce_mismatch"]);
    assert_eq!(codes(&ev, &[5; 32], now + std::time::Duration::from_secs(301)), ["evidence_stale"]);
    let mut tampered = ev.clone();
    let at = tampered.len() - 70;
    tampered[at] ^= 1;
    assert_eq!(codes(&tampered, &[5; 32], now), ["evidence_signature"]);
    assert_eq!(codes(b"not CBOR", &[5; 32], now), ["evidence_malformed"]);
}

#[test]
fn se_key_attestations_bind_the_phone_the_application_and_the_key() {
    let w = world();
    let nonce = [5u8; 32];
    let now = SystemTime::now();
    let ev = w.evidence(&w.keystore(Preset::Good), &w.app, &nonce);
    let se_key = se_key::certify_se(&w.se_issuer, &SE).unwrap();
    let spki = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
    let commitment = [9u8; 32];
    let chain = se_key.attest(&spki, &SE, b"aid", KeySlot::Sign, &commitment).unwrap();
    let appraise = |se: &[u8], commitment: &[u8], chain: &[Vec<u8>]| {
        let mut a = w.verifier.appraise(&ev, &nonce, now);
        a.appraise_se_keys(&w.verifier.metadata, &[(KeySlot::Sign, spki.clone(), chain.to_vec())], se, commitment, now);
        a
    };
    let good = appraise(&SE, &commitment, &chain);
    assert_eq!(good.status(), Status::Affirming, "{:?}", good.findings);
    let (ear, token) = w.verifier.result(&good, now);
    assert_eq!(ear.submods["se"].ear_status, Status::Affirming);
    let se_hex = hex::encode_upper(SE);
    assert!(check_result(&token, &w.verifier.public_key(), &nonce, &se_hex, now).is_ok());
    // The relying party's refusals.
    assert_eq!(
        check_result(&token, &w.verifier.public_key(), &[6; 32], &se_hex, now).unwrap_err(),
        ResultError::AnotherNonce
    );
    assert_eq!(check_result(&token, &w.verifier.public_key(), &nonce, "00", now).unwrap_err(), ResultError::AnotherSe);
    assert!(matches!(
        check_result(&token, &EcKey::generate().spki(), &nonce, &se_hex, now),
        Err(ResultError::Token(_))
    ));
    // Evidence from another phone than the SE the keys are made in.
    let other_se = [1u8; 10];
    let other_key = se_key::certify_se(&w.se_issuer, &other_se).unwrap();
    let other_chain = other_key.attest(&spki, &other_se, b"aid", KeySlot::Sign, &commitment).unwrap();
    let a = appraise(&other_se, &commitment, &other_chain);
    assert_eq!(a.findings.iter().map(Reason::code).collect::<Vec<_>>(), ["another_phone"]);
    let (_, token) = w.verifier.result(&a, now);
    assert!(matches!(
        check_result(&token, &w.verifier.public_key(), &nonce, &hex::encode_upper(other_se), now),
        Err(ResultError::NotAffirming(Status::Contraindicated, _))
    ));
    // A key attestation not bound to this application's commitment, or from another SE.
    assert_eq!(
        appraise(&SE, &[8; 32], &chain).findings.iter().map(Reason::code).collect::<Vec<_>>(),
        ["se_another_commitment"]
    );
    assert_eq!(
        appraise(&SE, &commitment, &other_chain).findings.iter().map(Reason::code).collect::<Vec<_>>(),
        ["se_another_se"]
    );
    // A rogue SE issuer.
    let rogue = se_key::certify_se(&Authority::new_root("openjpki SE issuer", 30).unwrap(), &SE).unwrap();
    let forged = rogue.attest(&spki, &SE, b"aid", KeySlot::Sign, &commitment).unwrap();
    assert_eq!(
        appraise(&SE, &commitment, &forged).findings.iter().map(Reason::code).collect::<Vec<_>>(),
        ["se_unknown_issuer"]
    );
}

/// The SE's attestation certificate, verified once for the first key,
/// anchors the second key's chain; that chain is still checked in full:
/// a leaf the SE did not sign, a rogue issuer's or a revoked attesting
/// certificate, and a wrong binding are each refused.
#[test]
fn the_second_key_of_one_se_is_checked_in_full_after_the_first() {
    let w = world();
    let nonce = [5u8; 32];
    let now = SystemTime::now();
    let ev = w.evidence(&w.keystore(Preset::Good), &w.app, &nonce);
    let se_key = se_key::certify_se(&w.se_issuer, &SE).unwrap();
    let commitment = [9u8; 32];
    let (auth, sign) = (
        pki::RsaPrivateKey::generate_2048().unwrap().public_key_der(),
        pki::RsaPrivateKey::generate_2048().unwrap().public_key_der(),
    );
    let good_auth = se_key.attest(&auth, &SE, b"aid", KeySlot::Auth, &commitment).unwrap();
    let good_sign = se_key.attest(&sign, &SE, b"aid", KeySlot::Sign, &commitment).unwrap();
    let codes = |second: Vec<Vec<u8>>, metadata: &Metadata| {
        let mut a = w.verifier.appraise(&ev, &nonce, now);
        let keys = [(KeySlot::Auth, auth.clone(), good_auth.clone()), (KeySlot::Sign, sign.clone(), second)];
        a.appraise_se_keys(metadata, &keys, &SE, &commitment, now);
        a.findings.iter().map(Reason::code).collect::<Vec<_>>()
    };
    let metadata = &w.verifier.metadata;
    assert!(codes(good_sign.clone(), metadata).is_empty());
    // A rogue issuer's SE attestation key for the same SE.
    let rogue = se_key::certify_se(&Authority::new_root("openjpki SE issuer", 30).unwrap(), &SE).unwrap();
    assert_eq!(
        codes(rogue.attest(&sign, &SE, b"aid", KeySlot::Sign, &commitment).unwrap(), metadata),
        ["se_unknown_issuer"]
    );
    // The genuine attesting certificate with a leaf it did not sign.
    let mut spliced = rogue.attest(&sign, &SE, b"aid", KeySlot::Sign, &commitment).unwrap();
    spliced[1] = good_auth[1].clone();
    assert_eq!(codes(spliced, metadata), ["se_attestation_chain_invalid"]);
    // A wrong binding under the anchored certificate.
    assert_eq!(
        codes(se_key.attest(&sign, &SE, b"aid", KeySlot::Sign, &[8; 32]).unwrap(), metadata),
        ["se_another_commitment"]
    );
    // The attesting certificate revoked: refused for both keys.
    let mut revoked = metadata.clone();
    let serial = attest::x509::Parsed::from_der(&good_auth[1]).unwrap().serial_hex();
    revoked.status.insert(serial, StatusEntry { status: "REVOKED".into(), reason: "KEY_COMPROMISE".into() });
    assert_eq!(codes(good_sign, &revoked), ["se_attestation_key_revoked", "se_attestation_key_revoked"]);
}
