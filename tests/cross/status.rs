//! CRLs and OCSP answers made by `pki`, checked by OpenSSL.

use openjpki_tests::{fixture, openssl, write_pem as pem};
use pki::crl::{CrlParams, Reason, Revoked};
use pki::ocsp::Status;
use std::time::{Duration, SystemTime};

fn serial_of(der: &[u8]) -> Vec<u8> {
    pki::cert::parse_certificates(der).unwrap()[0].tbs_certificate.serial_number.as_bytes().to_vec()
}

#[test]
fn openssl_verifies_full_and_delta_crls_and_sees_the_revocation() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let ca = f.ca.ca(pki::CaKind::Auth);
    let ca_pem = f.ca.cert_path(pki::CaKind::Auth).to_string_lossy().into_owned();
    let auth = pem(dir.path(), "auth.pem", &f.card.jpki.auth_cert);
    let now = SystemTime::now();
    let revoked = Revoked {
        serial: serial_of(&f.card.jpki.auth_cert),
        revoked_at: now,
        reason: Reason::KeyCompromise,
        invalidity: Some(now - Duration::from_secs(3600)),
    };
    let others: Vec<Revoked> = (1u32..=50)
        .map(|i| Revoked {
            serial: i.to_be_bytes().to_vec(),
            revoked_at: now,
            reason: if i % 2 == 0 { Reason::Superseded } else { Reason::Unspecified },
            invalidity: None,
        })
        .collect();
    let entries: Vec<Revoked> = std::iter::once(revoked).chain(others).collect();
    let params =
        CrlParams { this_update: now, next_update: now + Duration::from_secs(86400), number: 7, delta_base: None };
    let crl = pki::crl::build(&ca.cert, ca.key(), &entries, &params).unwrap();
    let crl_path = dir.path().join("auth.crl");
    std::fs::write(&crl_path, &crl).unwrap();
    let crl_arg = crl_path.to_string_lossy().into_owned();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl_arg, "-CAfile", &ca_pem, "-noout", "-text"]);
    assert!(ok && text.contains("verify OK"), "{text}");
    let serial_hex: String = serial_of(&f.card.jpki.auth_cert).iter().map(|b| format!("{b:02X}")).collect();
    assert!(text.contains(&serial_hex), "revoked serial listed: {text}");
    assert!(
        text.contains("Key Compromise") && text.contains("Superseded") && text.contains("Invalidity Date"),
        "{text}"
    );
    assert!(text.contains("X509v3 CRL Number: \n                7") || text.contains("CRL Number"), "{text}");
    // The revoked certificate fails path validation with the CRL.
    let crl_pem = dir.path().join("auth.crl.pem");
    let (ok, _) = openssl(&["crl", "-inform", "DER", "-in", &crl_arg, "-out", crl_pem.to_str().unwrap()]);
    assert!(ok);
    let (ok, text) =
        openssl(&["verify", "-crl_check", "-CRLfile", crl_pem.to_str().unwrap(), "-CAfile", &ca_pem, &auth]);
    assert!(!ok && text.contains("revoked"), "{text}");
    // A delta CRL carries the critical deltaCRLIndicator.
    let delta = CrlParams { number: 8, delta_base: Some(7), ..params };
    let hold_release = Revoked { serial: vec![0x42], revoked_at: now, reason: Reason::RemoveFromCrl, invalidity: None };
    let der = pki::crl::build(&ca.cert, ca.key(), &[hold_release], &delta).unwrap();
    std::fs::write(&crl_path, &der).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl_arg, "-CAfile", &ca_pem, "-noout", "-text"]);
    assert!(ok && text.contains("verify OK"), "{text}");
    assert!(text.contains("Delta CRL Indicator: critical") && text.contains("Remove From CRL"), "{text}");
    // An empty CRL is valid too.
    let der = pki::crl::build(&ca.cert, ca.key(), &[], &CrlParams { number: 9, ..delta }).unwrap();
    std::fs::write(&crl_path, &der).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl_arg, "-CAfile", &ca_pem, "-noout"]);
    assert!(ok && text.contains("verify OK"), "{text}");
}

#[test]
fn openssl_ocsp_accepts_good_and_revoked_answers_with_the_nonce() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let ca = f.ca.ca(pki::CaKind::Sign);
    let ca_pem = f.ca.cert_path(pki::CaKind::Sign).to_string_lossy().into_owned();
    let sign = pem(dir.path(), "sign.pem", &f.card.jpki.sign_cert);
    let req = dir.path().join("req.der").to_string_lossy().into_owned();
    let (ok, text) = openssl(&["ocsp", "-issuer", &ca_pem, "-cert", &sign, "-nonce", "-reqout", &req]);
    assert!(ok, "{text}");
    let parsed = pki::ocsp::parse_request(&std::fs::read(&req).unwrap()).unwrap();
    assert_eq!(parsed.cert_ids.len(), 1);
    assert!(pki::ocsp::issued_by(&parsed.cert_ids[0], &ca.cert));
    assert!(!pki::ocsp::issued_by(&parsed.cert_ids[0], &f.ca.ca(pki::CaKind::Auth).cert));
    assert_eq!(parsed.cert_ids[0].serial_number.as_bytes(), serial_of(&f.card.jpki.sign_cert).as_slice());
    let nonce = parsed.nonce.clone().expect("openssl sent a nonce");
    let now = SystemTime::now();
    let resp = dir.path().join("resp.der").to_string_lossy().into_owned();
    for (status, expect) in [
        (Status::Good, "Cert Status: good"),
        (Status::Revoked { at: now, reason: Reason::CertificateHold }, "Cert Status: revoked"),
        (Status::Unknown, "Cert Status: unknown"),
    ] {
        let der = pki::ocsp::build_response(
            &ca.cert,
            ca.key(),
            &[(parsed.cert_ids[0].clone(), status)],
            now,
            now + Duration::from_secs(600),
            Some(&nonce),
        )
        .unwrap();
        std::fs::write(&resp, &der).unwrap();
        // -reqin without -cert: OpenSSL checks the nonce against our request.
        let (ok, text) =
            openssl(&["ocsp", "-respin", &resp, "-reqin", &req, "-CAfile", &ca_pem, "-VAfile", &ca_pem, "-resp_text"]);
        assert!(ok, "{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(expect), "{expect}: {text}");
        assert!(!text.contains("Nonce Verify error") && !text.contains("WARNING"), "nonce echoed: {text}");
        if let Status::Revoked { .. } = status {
            assert!(text.contains("Certificate Hold") || text.contains("certificateHold"), "{text}");
        }
        // With -cert, OpenSSL maps the answer to the certificate.
        let (ok, text) =
            openssl(&["ocsp", "-respin", &resp, "-issuer", &ca_pem, "-cert", &sign, "-CAfile", &ca_pem, "-no_nonce"]);
        assert!(ok && text.contains(&format!("sign.pem: {}", expect.trim_start_matches("Cert Status: "))), "{text}");
        let checked = pki::ocsp::verify_response(&der, &ca.cert).unwrap();
        assert_eq!(checked.statuses.len(), 1);
        assert_eq!(checked.nonce.as_deref(), Some(nonce.as_slice()));
    }
    // A response signed by another CA is refused by OpenSSL and by us.
    let other = f.ca.ca(pki::CaKind::Auth);
    let der = pki::ocsp::build_response(
        &other.cert,
        other.key(),
        &[(parsed.cert_ids[0].clone(), Status::Good)],
        now,
        now,
        Some(&nonce),
    )
    .unwrap();
    std::fs::write(&resp, &der).unwrap();
    let (_, text) = openssl(&["ocsp", "-respin", &resp, "-reqin", &req, "-CAfile", &ca_pem, "-VAfile", &ca_pem]);
    assert!(!text.contains("Response verify OK"), "{text}");
    assert!(pki::ocsp::verify_response(&der, &ca.cert).is_err());
    assert!(pki::ocsp::parse_request(b"\x30\x00").is_err());
    let malformed = pki::ocsp::error_response(pki::ocsp::ResponseStatus::MalformedRequest);
    assert_eq!(malformed, vec![0x30, 0x03, 0x0A, 0x01, 0x01]);
}
