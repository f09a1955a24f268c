//! A signer's life: registration with the card, login, authorise and sign
//! (checked by OpenSSL), signDoc, extendTransaction, suspension by the
//! signer, deletion, and the audit log that records it all.

use crate::lab::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rssp::instruction::Purpose;
use rssp::records::Factor;

#[tokio::test(flavor = "multi_thread")]
async fn a_card_holder_registers_and_signs_hashes_that_openssl_verifies() {
    let lab = Lab::new().await;
    let s = lab.signer("署名 太郎", Factor::Password).await;
    assert_eq!(s.registered["name"], "署名 太郎");
    assert_eq!(s.registered["level"], 1);
    let cert = s.certificate();
    // The certificate: issued by the RSSP CA, to the card's holder, for non-repudiation.
    let tmp = tempfile::tempdir().unwrap();
    let cert_pem = openjpki_tests::write_pem(tmp.path(), "signer.pem", &cert);
    let ca = lab.rssp_ca_pem();
    let (ok, out) = openjpki_tests::openssl(&["verify", "-CAfile", ca.to_str().unwrap(), &cert_pem]);
    assert!(ok, "openssl verify: {out}");
    let (_, text) = openjpki_tests::openssl(&["x509", "-in", &cert_pem, "-noout", "-subject", "-ext", "keyUsage"]);
    assert!(text.contains("署名 太郎") || text.contains("\\E7"), "subject names the holder: {text}");
    assert!(text.contains("Non Repudiation"), "{text}");
    // credentials/list and info, as pyHanko reads them.
    let list = s.csc.list().await.unwrap();
    assert_eq!(list.credential_ids, vec![s.credential()]);
    let info = s.csc.info(&s.credential()).await.unwrap();
    assert_eq!(info.scal, "2");
    assert_eq!(info.multisign, 10);
    assert_eq!(info.key.status, "enabled");
    assert!(info.key.algo.iter().any(|a| a == csc_api::oid::SHA256_WITH_RSA));
    assert_eq!(B64.decode(&info.cert.certificates[0]).unwrap(), cert);
    assert_eq!(info.cert.certificates.len(), 2, "signer then the RSSP CA");
    // Three documents signed with one authorisation (Appendix 1 method 1).
    let docs: Vec<&[u8]> = vec![b"contract A", b"contract B", b"contract C"];
    let hashes: Vec<Vec<u8>> = docs.iter().map(|d| sha256(d)).collect();
    let signatures = sign(&s, &hashes).await.unwrap();
    assert_eq!(signatures.len(), 3);
    for (doc, sig) in docs.iter().zip(&signatures) {
        assert!(verifies(&cert, doc, sig));
        // OpenSSL, the outside oracle: pkeyutl -verify over the digest.
        let (data, sigf, key) = (tmp.path().join("d"), tmp.path().join("s"), tmp.path().join("k.pem"));
        std::fs::write(&data, doc).unwrap();
        std::fs::write(&sigf, sig).unwrap();
        let (ok, out) =
            openjpki_tests::openssl(&["x509", "-in", &cert_pem, "-pubkey", "-noout", "-out", key.to_str().unwrap()]);
        assert!(ok, "{out}");
        let (ok, out) = openjpki_tests::openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            key.to_str().unwrap(),
            "-signature",
            sigf.to_str().unwrap(),
            data.to_str().unwrap(),
        ]);
        assert!(ok && out.contains("Verified OK"), "openssl dgst -verify: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_doc_makes_a_detached_cms_that_openssl_verifies() {
    let lab = Lab::new().await;
    let s = lab.signer("文書 次郎", Factor::Password).await;
    let doc = b"%PDF-1.7 pretend contract".to_vec();
    let sad = s.csc.authorize(&s.credential(), &[sha256(&doc)], pin(PASSWORD)).await.unwrap();
    // Another document than the one authorised: 403 invalid_hash, nothing consumed.
    let e = s
        .csc
        .call::<_, serde_json::Value>(
            "signatures/signDoc",
            &serde_json::json!({ "credentialID": s.credential(), "SAD": sad.sad,
                "documents": [{ "document": B64.encode(b"other"), "signature_format": "C", "signAlgo": csc_api::oid::SHA256_WITH_RSA }] }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, csc_api::error::Code::InvalidHash);
    let answer: serde_json::Value = s
        .csc
        .call(
            "signatures/signDoc",
            &serde_json::json!({ "credentialID": s.credential(), "SAD": sad.sad,
                "documents": [{ "document": B64.encode(&doc), "signature_format": "C", "conformance_level": "AdES-B-B", "signAlgo": csc_api::oid::SHA256_WITH_RSA }] }),
        )
        .await
        .unwrap();
    let cms = B64.decode(answer["SignatureObject"][0].as_str().unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (c, d) = (tmp.path().join("sig.p7s"), tmp.path().join("doc"));
    std::fs::write(&c, &cms).unwrap();
    std::fs::write(&d, &doc).unwrap();
    let ca = lab.rssp_ca_pem();
    assert!(openssl_cms_verifies(&c, &d, &ca), "openssl cms -verify");
    // A changed byte of the document no longer verifies (the signature is bound to it).
    std::fs::write(&d, b"%PDF-1.7 pretend contracT").unwrap();
    assert!(!openssl_cms_verifies(&c, &d, &ca));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_signer_suspends_resumes_and_deletes_with_the_card_and_the_key_is_destroyed() {
    let lab = Lab::new().await;
    let s = lab.signer("停止 三郎", Factor::Password).await;
    let h = vec![sha256(b"x")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap();
    assert_eq!(lab.instruct(&s.card, Purpose::Suspend, &s.credential()).await.unwrap()["status"], "suspended");
    // The outstanding SAD died with the suspension; new authorisations are refused.
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.unwrap_err();
    assert_eq!(e.description, csc_api::error::text::CREDENTIAL_DISABLED);
    let e = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap_err();
    assert_eq!(e.description, csc_api::error::text::CREDENTIAL_DISABLED);
    assert_eq!(s.csc.info(&s.credential()).await.unwrap().key.status, "disabled");
    assert_eq!(lab.instruct(&s.card, Purpose::Resume, &s.credential()).await.unwrap()["status"], "enabled");
    sign(&s, &h).await.expect("signs again once resumed");
    // Deletion destroys the key in the crypto module; nothing brings it back.
    let key_label = {
        let store = lab.store().await;
        let id = s.credential();
        let row = store
            .read(move |tx| tx.optional("SELECT key_label FROM credentials WHERE id = $1", store::params![id]))
            .await
            .unwrap();
        row.unwrap().text("key_label").unwrap()
    };
    let key_file = lab.dir.path().join("rssp-cm").join("keys").join(format!("{key_label}.sealed"));
    assert!(key_file.exists());
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap();
    assert_eq!(lab.instruct(&s.card, Purpose::Delete, &s.credential()).await.unwrap()["status"], "deleted");
    assert!(!key_file.exists(), "the sealed key file is gone");
    assert!(s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.is_err());
    let e = lab.instruct(&s.card, Purpose::Resume, &s.credential()).await.unwrap_err();
    assert!(e.description.contains("deleted"), "{e}");
    let e = lab.admin(&lab.admin_token(), &s.credential(), "resume").await.unwrap_err();
    assert!(e.description.contains("deleted"), "{e}");
    assert!(s.csc.list().await.unwrap().credential_ids.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_records_everything_and_jpki_audit_verify_detects_tampering() {
    let lab = Lab::new().await;
    let s = lab.signer("監査 四郎", Factor::Password).await;
    let h = vec![sha256(b"audited")];
    sign(&s, &h).await.unwrap();
    let _ = s.csc.authorize(&s.credential(), &h, pin("wrong password")).await.unwrap_err();
    lab.admin(&lab.admin_token(), &s.credential(), "unlock").await.unwrap();
    let (status, log) = lab.with_token(&lab.auditor_token()).get_raw("/rssp/v1/admin/audit").await.unwrap();
    assert_eq!(status, 200);
    let events: Vec<String> =
        log["entries"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    for e in
        ["sam.selftest", "registered", "login", "authorize", "signature", "authorize.failure", "credential.unlocked"]
    {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
    let signature =
        log["entries"].as_array().unwrap().iter().find(|e| e["event"] == "signature").unwrap()["detail"].to_string();
    assert!(signature.contains(&hex::encode(&h[0])), "the signature entry names the hash: {signature}");
    assert!(signature.contains(&s.credential()));
    let unlocked = log["entries"].as_array().unwrap().iter().find(|e| e["event"] == "credential.unlocked").unwrap()
        ["detail"]
        .to_string();
    assert!(unlocked.contains("\"admin\""), "the privileged action names the administrator: {unlocked}");
    // The chain and the signed checkpoints verify; an edited entry does not.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let public_key = audit_log::read_public_key(&lab.dir.path().join("rssp-audit.key.pub")).unwrap();
    let anchor = audit_log::Checkpoint::read(&lab.dir.path().join("rssp-audit.checkpoint")).unwrap();
    let store = lab.store().await;
    let intact = audit_log::verify_with(&store, &public_key, Some(&anchor)).await.unwrap().expect("intact");
    assert!(intact.entries >= 7 && intact.checkpoints >= 1);
    store
        .write(|tx| {
            tx.execute(
                "UPDATE audit SET detail = replace(detail, 'invalid', 'valid') WHERE event = 'authorize.failure'",
                &[],
            )
        })
        .await
        .unwrap();
    let e = audit_log::verify_with(&store, &public_key, Some(&anchor)).await.unwrap().unwrap_err();
    assert!(matches!(e, audit_log::AuditError::Altered(_)), "{e}");
    store.write(|tx| tx.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)", &[])).await.unwrap();
    assert!(audit_log::verify_with(&store, &public_key, Some(&anchor)).await.unwrap().is_err());
}

/// `openssl cms -verify` of the detached CMS `cms` over `content` against `ca`.
fn openssl_cms_verifies(cms: &std::path::Path, content: &std::path::Path, ca: &std::path::Path) -> bool {
    let (c, d, ca) = (cms.to_str().unwrap(), content.to_str().unwrap(), ca.to_str().unwrap());
    openjpki_tests::openssl(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        c,
        "-content",
        d,
        "-binary",
        "-CAfile",
        ca,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ])
    .0
}
