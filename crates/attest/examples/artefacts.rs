//! Writes one of each device-trust artefact into a directory, for the
//! outside oracles of tests/interop/device-trust.sh (pyasn1 through
//! webauthn's KeyDescription, pycose + cbor2, PyJWT, pyattest, OpenSSL):
//! `cargo run -p attest --example artefacts -- OUTDIR`.

use attest::appraisal::{Metadata, Policy, Verifier};
use attest::ec::{spki_to_pem, EcKey};
use attest::keystore::{AppIdentity, Keystore, Platform, Preset, Vendor};
use attest::se_key::{self, KeySlot};
use attest::x509::Authority;
use base64::Engine;
use std::path::Path;

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: artefacts OUTDIR")?;
    let out = Path::new(&out);
    std::fs::create_dir_all(out)?;
    let write = |name: &str, bytes: &[u8]| std::fs::write(out.join(name), bytes);
    let nonce: Vec<u8> = (0u8..32).collect();
    let se_id = [0x4F, 0x4A, 0x53, 0x45, 0x12, 0x34, 0x56, 0x78, 0x20, 0x26];
    let app = AppIdentity { package: "jp.go.jpki.app".into(), version: 7, signing_digests: vec![vec![0xAB; 32]] };

    // The TEE's evidence and its Android key attestation.
    let vendor = Vendor::new("Oracle Phones")?;
    let batch = vendor.attestation_key("O1")?;
    let keystore = Keystore::new(Preset::Good.state(&vendor.boot_key), batch.clone(), vendor.root.certificate.clone());
    let platform = Platform {
        ueid: [&[1u8][..], &[7; 16]].concat(),
        model: "O1".into(),
        se_identifier: se_id.to_vec(),
        applet: "JPKI applet".into(),
    };
    let (evidence, app_key) = keystore.evidence_and_key(&nonce, &app, &platform)?;
    let opened = attest::eat::open(&evidence)?;
    write("evidence.cbor", &evidence)?;
    write("android-leaf.pem", pem("CERTIFICATE", &opened.chain[0]).as_bytes())?;
    write("android-batch.pem", pem("CERTIFICATE", &opened.chain[1]).as_bytes())?;
    write("android-root.pem", pem("CERTIFICATE", &opened.chain[2]).as_bytes())?;
    let leaf = attest::x509::Parsed::from_der(&opened.chain[0])?;
    write("key-description.der", leaf.extension(attest::android::OID).ok_or("no KeyDescription")?)?;

    // The SE's key attestation.
    let se_issuer = Authority::new_root("Oracle SE Issuer", 30)?;
    let se_key = se_key::certify_se(&se_issuer, &se_id)?;
    let rsa = pki::RsaPrivateKey::generate_2048()?.public_key_der();
    let commitment = [0x5A; 32];
    let chain = se_key.attest(
        &rsa,
        &se_id,
        &[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01],
        KeySlot::Sign,
        &commitment,
    )?;
    write("se-key-attestation.pem", pem("CERTIFICATE", &chain[0]).as_bytes())?;
    write("se-attestation.pem", pem("CERTIFICATE", &chain[1]).as_bytes())?;
    write("se-issuer.pem", pem("CERTIFICATE", &se_issuer.certificate).as_bytes())?;

    // The verifier's result.
    let policy = Policy::jpki("oracle-policy", &app.package, &hex::encode([0xAB; 32]));
    let metadata = Metadata::of(
        ("Oracle Phones", &vendor.root.certificate, &vendor.boot_key),
        ("Oracle SE Issuer", &se_issuer.certificate),
    );
    let verifier_key = EcKey::generate();
    let verifier = Verifier::new(policy, metadata, verifier_key.clone(), "oracle");
    let now = std::time::SystemTime::now();
    let mut appraised = verifier.appraise(&evidence, &nonce, now);
    appraised.appraise_se_keys(&verifier.metadata, &[(KeySlot::Sign, rsa, chain)], &se_id, &commitment, now);
    let (_, token) = verifier.result(&appraised, now);
    write("ear.jwt", token.as_bytes())?;
    write("verifier.pub.pem", spki_to_pem(&verifier_key.spki()).as_bytes())?;

    // A trusted confirmation.
    let confirmation_key = EcKey::generate();
    let prompt = "契約書 contract.pdf に署名します SHA-256 0123abcd";
    let message = attest::confirm::message(prompt, &nonce);
    let token = attest::confirm::token(&attest::confirm::TEST_SECRET, &message);
    let signature =
        attest::confirm::sign_confirmed(&confirmation_key, &attest::confirm::TEST_SECRET, &message, &token)?;
    write("confirmation.cbor", &message)?;
    write("confirmation.sig", &signature)?;
    write("confirmation-key.pem", spki_to_pem(&confirmation_key.spki()).as_bytes())?;

    // A per-request app assertion by the key that signed the evidence.
    let body = br#"{"responses":["9000"]}"#;
    let request = attest::assertion::client_data_hash("POST", "/v1/relay/00", body);
    let assertion = attest::assertion::assert(&app_key, &attest::assertion::rp_id_hash(&app), 3, &request);
    write("assertion.cbor", &assertion)?;
    write("app-key.pem", spki_to_pem(&app_key.spki()).as_bytes())?;

    let expected = serde_json::json!({
        "assertion_rp_id": attest::assertion::rp_id(&app),
        "assertion_client_data_hash": hex::encode(request),
        "assertion_counter": 3,
        "nonce": hex::encode(&nonce),
        "se_identifier": hex::encode_upper(se_id),
        "package": app.package,
        "signing_digest": hex::encode([0xAB; 32]),
        "os_patch_level": keystore.state.os_patch_level,
        "vendor_patch_level": keystore.state.vendor_patch_level,
        "verified_boot_key": keystore.state.verified_boot_key,
        "commitment": hex::encode(commitment),
        "prompt": prompt,
        "eat_profile": attest::eat::PROFILE,
        "ear_profile": attest::ear::PROFILE,
    });
    write("expected.json", serde_json::to_string_pretty(&expected)?.as_bytes())?;
    Ok(())
}
