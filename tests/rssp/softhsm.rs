//! The crypto module in a PKCS#11 token (SoftHSM2): the signer's key is
//! generated in the token (sensitive, never extractable, sign only), the
//! records are MAC'd and the seeds sealed by the token, the RSSP CA's key
//! is there too, and a deleted credential's key is destroyed in it. OpenSC's
//! pkcs11-tool is the outside look at the token.

use crate::lab::*;
use rssp::instruction::Purpose;
use rssp::records::Factor;

#[tokio::test(flavor = "multi_thread")]
async fn the_signers_keys_live_and_die_in_a_softhsm2_token() {
    let hsm_dir = tempfile::tempdir().unwrap();
    let (keys, conf) = hsm::softhsm::init_token(hsm_dir.path(), "openjpki-rssp", "135790").unwrap();
    // One token per test process: set before the module is first loaded.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let lab = Lab::in_token(keys.clone()).await;
    assert!(!lab.dir.path().join("rssp-cm").exists(), "no software crypto module beside a token");
    assert!(!lab.dir.path().join("rssp-ca").join("rssp-ca.key.pem").exists());
    let s = lab.signer("耐タンパ 花子", Factor::Totp).await;
    // Signatures by the token's key verify with the certificate.
    let uri = s.registered["totp_uri"].as_str().unwrap().to_string();
    assert!(uri.contains("secret="), "the seed was sealed by the token and shown once");
    let docs: Vec<&[u8]> = vec![b"first", b"second"];
    let hashes: Vec<Vec<u8>> = docs.iter().map(|d| sha256(d)).collect();
    let otp = current_otp(&uri);
    let mut auth = pin(PASSWORD);
    auth.push(csc_api::types::AuthDatum { id: "OTP".into(), value: otp });
    let sad =
        s.csc.authorize(&s.credential(), &hashes, auth).await.expect("password and OTP (seed opened by the token)");
    let signatures = s.csc.sign_hash(&s.credential(), &sad.sad, &hashes).await.unwrap();
    for (d, sig) in docs.iter().zip(&signatures) {
        assert!(verifies(&s.certificate(), d, sig));
    }
    // pkcs11-tool: the signer's key is in the token, generated there, never extractable.
    let key_label = {
        let id = s.credential();
        let row = lab
            .store()
            .await
            .read(move |tx| tx.optional("SELECT key_label FROM credentials WHERE id = $1", store::params![id]))
            .await
            .unwrap();
        row.unwrap().text("key_label").unwrap()
    };
    let listed = list_objects(&keys, &conf);
    for label in [key_label.as_str(), "rssp-ca", "rssp-record-mac", "rssp-seal"] {
        assert!(listed.contains(&format!("label:      {label}\n")), "{label}: {listed}");
    }
    let signer_key = objects(&listed)
        .into_iter()
        .find(|o| o.starts_with("Private Key Object") && o.contains(&format!("label:      {key_label}\n")))
        .unwrap_or_else(|| panic!("no private key {key_label}: {listed}"));
    assert!(signer_key.contains("Access:     sensitive, always sensitive, never extractable, local"), "{signer_key}");
    assert!(signer_key.contains("Usage:      sign\n"), "{signer_key}");
    assert!(!listed.contains("selftest-"), "the self-test's key was destroyed");
    // Deleted with the card: the key is destroyed in the token.
    assert_eq!(lab.instruct(&s.card, Purpose::Delete, &s.credential()).await.unwrap()["status"], "deleted");
    let listed = list_objects(&keys, &conf);
    assert!(!listed.contains(&format!("label:      {key_label}\n")), "{listed}");
}

/// pkcs11-tool's listing cut into objects: a header line at column 0, then
/// its indented attributes (the objects come in the token's order).
fn objects(listed: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for line in listed.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            out.push(String::new());
        }
        if let Some(o) = out.last_mut() {
            o.push_str(line);
            o.push('\n');
        }
    }
    out
}

fn list_objects(keys: &hsm::Pkcs11Config, conf: &std::path::Path) -> String {
    let out = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", conf)
        .arg("--module")
        .arg(&keys.module)
        .args(["--token-label", "openjpki-rssp", "--login", "--pin", "135790", "--list-objects"])
        .output()
        .expect("pkcs11-tool (Debian package opensc)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
