//! `jpki rssp ...` as a signer, an administrator and an auditor drive it,
//! against `jpki serve all` in its own process: register with the card,
//! list, sign a file (OpenSSL verifies the CAdES), suspend with the card,
//! wrong input answered in one line with exit code 2, the audit log read
//! and verified, a tampered configuration refused at start.

use crate::phone::{json, ok, Services};
use crate::*;

fn fails(c: &mut std::process::Command) -> String {
    let o = run(c);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.starts_with("jpki: error: "), "{err}");
    err
}

#[test]
fn a_signer_registers_signs_and_suspends_with_the_card_and_an_auditor_reads_the_log() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let password = work.path().join("password");
    std::fs::write(&password, "cli signer password\n").unwrap();
    let dir = s.dir.path();
    let rssp = |args: &[&str]| {
        let mut c = jpki();
        c.arg("rssp").args(args).arg("--dir").arg(dir);
        c
    };
    let registered = json(&ok(jpki()
        .args(["--json", "rssp", "register", "--dir"])
        .arg(dir)
        .arg("--card")
        .arg(&card)
        .arg("--password-file")
        .arg(&password)
        .env("JPKI_SIGN_PIN", "ABC123")));
    let (signer, credential) = (
        registered["signer_id"].as_str().unwrap().to_string(),
        registered["credential_id"].as_str().unwrap().to_string(),
    );
    assert_eq!(registered["name"], "公的 個人", "the holder's name, from the card");

    let listed = text(&ok(rssp(&["credentials", "--signer", &signer]).arg("--password-file").arg(&password)));
    assert!(listed.contains(&credential) && listed.contains("PIN") && listed.contains("valid"), "{listed}");

    // Sign a file remotely; OpenSSL verifies the detached CAdES against the RSSP CA.
    let doc = work.path().join("contract.txt");
    std::fs::write(&doc, "契約書: remote signing through the CSC API").unwrap();
    let p7s = work.path().join("contract.p7s");
    ok(rssp(&["sign", "--signer", &signer]).arg("--password-file").arg(&password).arg(&doc).arg("-o").arg(&p7s));
    assert_detached_cms_verifies(&p7s, &doc, &s.path("rssp-ca/rssp-ca.pem"));

    // Wrong password: one line, exit 2, nothing signed.
    let wrong = work.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let err =
        fails(rssp(&["sign", "--signer", &signer]).arg("--password-file").arg(&wrong).arg(&doc).arg("-o").arg(&p7s));
    assert!(err.contains("wrong signer id or password"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // No service named: a hint, exit 2.
    let err = fails(jpki().args(["rssp", "credentials", "--signer", &signer]).arg("--password-file").arg(&password));
    assert!(err.contains("--dir"), "{err}");

    // Suspended with the card: signing is refused until resumed.
    let out = text(&ok(rssp(&["suspend", "--credential", &credential])
        .arg("--card")
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123")));
    assert!(out.contains("suspended"), "{out}");
    let err =
        fails(rssp(&["sign", "--signer", &signer]).arg("--password-file").arg(&password).arg(&doc).arg("-o").arg(&p7s));
    assert!(err.contains("disabled"), "{err}");
    ok(rssp(&["resume", "--credential", &credential]).arg("--card").arg(&card).env("JPKI_SIGN_PIN", "ABC123"));

    // The auditor reads the log; an auditor cannot unlock; an administrator can.
    let auditor = s.path("rssp-auditor.token");
    let log = text(&ok(rssp(&["admin", "audit"]).arg("--token-file").arg(&auditor)));
    for event in ["registered", "signature.document", "credential.suspended", "credential.resumed"] {
        assert!(log.contains(event), "{event}: {log}");
    }
    let err = fails(rssp(&["admin", "unlock", &credential]).arg("--token-file").arg(&auditor));
    assert!(err.contains("only administrators"), "{err}");
    ok(rssp(&["admin", "unlock", &credential]).arg("--token-file").arg(s.path("rssp-admin.token")));

    // The audit log verifies (chain, signed checkpoints, anchor).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let verified = text(&ok(jpki().args(["audit", "verify", "--config"]).arg(s.path("rssp.toml"))));
    assert!(verified.contains("Audit log intact"), "{verified}");

    // A configuration edited without the administrator's seal: refused at start.
    let config = s.path("rssp.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original.replace("max_failures = 5", "max_failures = 500")).unwrap();
    let err = fails(jpki().args(["serve", "rssp", "--config"]).arg(&config));
    assert!(err.contains("changed since an administrator sealed it"), "{err}");
    // Sealed by an administrator (who holds the crypto module), it is accepted.
    ok(jpki().args(["rssp", "admin", "seal-config", "--config"]).arg(&config));
    let config_loaded = rssp_config_verifies(&config);
    assert!(config_loaded, "the sealed configuration verifies");
}

/// `openssl cms -verify` of the detached CAdES `p7s` over `content`, up to the RSSP CA `ca`.
fn assert_detached_cms_verifies(p7s: &Path, content: &Path, ca: &Path) {
    let o = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(p7s)
        .arg("-content")
        .arg(content)
        .arg("-CAfile")
        .arg(ca)
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success(), "OpenSSL verifies {}: {}", p7s.display(), text(&o));
}

fn rssp_config_verifies(path: &Path) -> bool {
    let config = ::rssp::config::Config::load(path).unwrap();
    ::rssp::config::Config::verify_seal(path, &*config.open_cm().unwrap()).is_ok()
}

/// The confirm factor from the command line: the phone's TEE makes the
/// confirmation key at registration (the card signs its hash), and each
/// `jpki rssp sign --confirm-phone` shows the credential and the file's
/// hash on the phone's trusted UI before the service activates the key.
#[test]
fn a_signer_confirms_each_remote_signature_on_the_phones_trusted_ui() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let password = work.path().join("password");
    std::fs::write(&password, "cli confirm password\n").unwrap();
    let dir = s.dir.path();
    let phone = work.path().join("phone");
    ok(jpki().args(["phone", "new", "--dir"]).arg(&phone).arg("--services").arg(dir));
    // --factor confirm needs the phone.
    let o = run(jpki().args(["rssp", "register", "--factor", "confirm", "--dir"]).arg(dir).arg("--card").arg(&card));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--confirm-phone"), "{}", text(&o));

    let registered = json(&ok(jpki()
        .args(["--json", "rssp", "register", "--factor", "confirm", "--dir"])
        .arg(dir)
        .arg("--card")
        .arg(&card)
        .arg("--confirm-phone")
        .arg(&phone)
        .arg("--password-file")
        .arg(&password)
        .env("JPKI_SIGN_PIN", "ABC123")));
    assert_eq!((registered["level"].as_u64(), registered["factor"].as_str()), (Some(2), Some("confirm")));
    let (signer, credential) = (
        registered["signer_id"].as_str().unwrap().to_string(),
        registered["credential_id"].as_str().unwrap().to_string(),
    );
    let tee = std::fs::read_to_string(phone.join("tee.json")).unwrap();
    assert!(tee.contains("rssp:openjpki-rssp"), "the TEE keeps the key for the service");

    let doc = work.path().join("lease.txt");
    std::fs::write(&doc, "賃貸借契約: confirmed on the phone").unwrap();
    let p7s = work.path().join("lease.p7s");
    let sign = || {
        let mut c = jpki();
        c.args(["rssp", "sign", "--dir"]).arg(dir).args(["--signer", &signer]).arg("--password-file").arg(&password);
        c
    };
    // Without the phone's confirmation: refused, naming the factor.
    let err = fails(sign().arg(&doc).arg("-o").arg(&p7s));
    assert!(err.contains("CONFIRM"), "{err}");
    // With it: the trusted UI showed the credential and the file's hash.
    let o = ok(sign().arg("--confirm-phone").arg(&phone).arg(&doc).arg("-o").arg(&p7s));
    let shown = String::from_utf8_lossy(&o.stderr).into_owned();
    let digest = hex::encode(pki::HashAlg::Sha256.digest(&std::fs::read(&doc).unwrap()));
    assert!(shown.contains("[trusted UI]") && shown.contains(&credential) && shown.contains(&digest), "{shown}");
    assert_detached_cms_verifies(&p7s, &doc, &s.path("rssp-ca/rssp-ca.pem"));
}
