//! OpenSSL checks certificates and CMS made with the emulated card.

use jpki::{KeyType, PinId};
use openjpki_tests::{client, fixture, openssl, write_pem};

#[test]
fn openssl_verifies_the_card_certificates() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let auth_ca = f.ca.cert_path(pki::CaKind::Auth).to_string_lossy().into_owned();
    let sign_ca = f.ca.cert_path(pki::CaKind::Sign).to_string_lossy().into_owned();
    let auth = write_pem(dir.path(), "auth.pem", &f.card.jpki.auth_cert);
    let sign = write_pem(dir.path(), "sign.pem", &f.card.jpki.sign_cert);
    let (ok, out) = openssl(&["verify", "-x509_strict", "-CAfile", &auth_ca, &auth]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(&["verify", "-x509_strict", "-CAfile", &sign_ca, &sign]);
    assert!(ok, "{out}");
    // Cross-checks: the wrong CA is refused.
    let (ok, _) = openssl(&["verify", "-CAfile", &auth_ca, &sign]);
    assert!(!ok);
    let (ok, text) = openssl(&["x509", "-in", &sign, "-noout", "-text"]);
    assert!(ok);
    assert!(text.contains("1.2.392.200149.8.5.5.1"), "{text}");
    assert!(text.contains("Digital Signature, Non Repudiation"), "{text}");
    assert!(f.card.jpki.auth_cert.len() >= 256 && f.card.jpki.sign_cert.len() >= 256);
}

#[test]
fn openssl_cms_verifies_card_signatures_for_every_hash() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let content_path = dir.path().join("content.txt");
    std::fs::write(&content_path, "決算書 2026\n").unwrap();
    let content = std::fs::read(&content_path).unwrap();
    let sign_ca = f.ca.cert_path(pki::CaKind::Sign).to_string_lossy().into_owned();
    let auth_ca = f.ca.cert_path(pki::CaKind::Auth).to_string_lossy().into_owned();
    for (key, pin, ca) in
        [(KeyType::Sign, (PinId::Sign, "ABC123"), &sign_ca), (KeyType::Auth, (PinId::Auth, "1234"), &auth_ca)]
    {
        for hash in pki::HashAlg::ALL {
            for detached in [false, true] {
                let mut c = client();
                c.verify(pin.0, pin.1).unwrap();
                let opts = pki::cms::SignOptions { hash, detached, signing_time: std::time::SystemTime::now() };
                let der = jpki::sign_cms(&mut c, key, &content, &opts).unwrap();
                let p7 = dir.path().join("sig.p7m");
                std::fs::write(&p7, &der).unwrap();
                let p7 = p7.to_string_lossy().into_owned();
                let content_arg = content_path.to_string_lossy().into_owned();
                let mut args = vec![
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    &p7,
                    "-CAfile",
                    ca,
                    "-purpose",
                    "any",
                    "-out",
                    "/dev/null",
                ];
                if detached {
                    args.extend(["-content", &content_arg]);
                }
                let (ok, out) = openssl(&args);
                assert!(ok, "{key:?} {hash} detached={detached}: {out}");
            }
        }
    }
}
