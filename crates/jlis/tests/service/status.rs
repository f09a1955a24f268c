//! OCSP answers and CRLs of the service, checked by OpenSSL.

use crate::*;
use pki::crl::Reason;

fn openssl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl").args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn ocsp_and_crls_follow_revocation_hold_and_release() {
    let env = env().await;
    let (auth, sign) = card(&env).await;
    let dir = env.dir.path();
    let ca_pem = env.jlis.ca().cert_path(pki::CaKind::Auth).to_string_lossy().into_owned();
    let cert = dir.join("auth.pem");
    std::fs::write(&cert, pki::cert::to_pem(&pki::cert::parse_certificates(&auth).unwrap()[0]).unwrap()).unwrap();
    let cert = cert.to_string_lossy().into_owned();
    let req = dir.join("req.der").to_string_lossy().into_owned();
    let resp = dir.join("resp.der").to_string_lossy().into_owned();
    let ask = |expect: &'static str| {
        let (ok, text) = openssl(&["ocsp", "-issuer", &ca_pem, "-cert", &cert, "-nonce", "-reqout", &req]);
        assert!(ok, "{text}");
        let request = std::fs::read(&req).unwrap();
        (request, expect)
    };
    for (action, expect) in [("none", "Cert Status: good"), ("revoke", "Cert Status: revoked")] {
        if action == "revoke" {
            env.jlis.revoke(&rid(), &serial(&auth), Reason::KeyCompromise).await.unwrap();
        }
        let (request, expect) = ask(expect);
        std::fs::write(&resp, env.jlis.ocsp(&request).await.unwrap()).unwrap();
        // The CA alone as trust anchor: OpenSSL accepts the delegated
        // responder because the CA issued it for OCSP signing.
        let (ok, text) = openssl(&["ocsp", "-respin", &resp, "-reqin", &req, "-CAfile", &ca_pem, "-resp_text"]);
        assert!(ok && text.contains("Response verify OK") && text.contains(expect), "{action}: {text}");
        assert!(
            text.contains("CN=OCSP Responder") && text.contains("OCSP Signing") && text.contains("OCSP No Check"),
            "{text}"
        );
        assert!(!text.contains("Nonce Verify error"), "{text}");
    }
    // Malformed requests get malformedRequest, not an error.
    assert_eq!(env.jlis.ocsp(b"nonsense").await.unwrap(), vec![0x30, 0x03, 0x0A, 0x01, 0x01]);

    // The full CRL lists the revoked auth certificate; OpenSSL verifies it.
    let crl = dir.join("auth.crl").to_string_lossy().into_owned();
    std::fs::write(&crl, env.jlis.crl(pki::CaKind::Auth, false).await.unwrap()).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl, "-CAfile", &ca_pem, "-noout", "-text"]);
    assert!(
        ok && text.contains("verify OK") && text.contains(&serial(&auth)) && text.contains("Key Compromise"),
        "{text}"
    );

    // Hold and release on the sign CA appear in the next full and delta CRLs.
    let sign_ca = env.jlis.ca().cert_path(pki::CaKind::Sign).to_string_lossy().into_owned();
    env.jlis.crl(pki::CaKind::Sign, false).await.unwrap();
    env.jlis.hold(&rid(), &serial(&sign)).await.unwrap();
    std::fs::write(&crl, env.jlis.crl(pki::CaKind::Sign, true).await.unwrap()).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl, "-CAfile", &sign_ca, "-noout", "-text"]);
    assert!(ok && text.contains("Delta CRL Indicator") && text.contains("Certificate Hold"), "{text}");
    // Released while its base did not list it: nothing to remove.
    env.jlis.release(&rid(), &serial(&sign)).await.unwrap();
    std::fs::write(&crl, env.jlis.crl(pki::CaKind::Sign, true).await.unwrap()).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl, "-CAfile", &sign_ca, "-noout", "-text"]);
    assert!(ok && text.contains("No Revoked Certificates"), "{text}");
    // On hold in a base, released after it: the delta removes it.
    env.jlis.hold(&rid(), &serial(&sign)).await.unwrap();
    env.jlis.crl(pki::CaKind::Sign, false).await.unwrap();
    env.jlis.release(&rid(), &serial(&sign)).await.unwrap();
    std::fs::write(&crl, env.jlis.crl(pki::CaKind::Sign, true).await.unwrap()).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl, "-CAfile", &sign_ca, "-noout", "-text"]);
    assert!(ok && text.contains("Remove From CRL"), "{text}");
    std::fs::write(&crl, env.jlis.crl(pki::CaKind::Sign, false).await.unwrap()).unwrap();
    let (ok, text) = openssl(&["crl", "-inform", "DER", "-in", &crl, "-CAfile", &sign_ca, "-noout", "-text"]);
    assert!(ok && text.contains("No Revoked Certificates"), "released: {text}");
}

#[tokio::test]
async fn pre_signed_ocsp_answers_follow_state_changes() {
    let env = env().await;
    let (auth, sign) = card(&env).await;

    // A hold and its release change pre-signed answers too.
    let sign_ca = env.jlis.ca().ca(pki::CaKind::Sign);
    let sign_serial =
        pki::cert::parse_certificates(&sign).unwrap()[0].tbs_certificate.serial_number.as_bytes().to_vec();
    let sign_id = pki::ocsp::cert_id(&sign_ca.cert, &sign_serial, pki::HashAlg::Sha1).unwrap();
    let sign_request = pki::ocsp::build_request(std::slice::from_ref(&sign_id), None).unwrap();
    let sign_status =
        |der: &[u8]| format!("{:?}", pki::ocsp::verify_response(der, &sign_ca.cert).unwrap().statuses[0].1);
    assert!(sign_status(&env.jlis.ocsp(&sign_request).await.unwrap()).starts_with("Good"));
    env.jlis.hold(&rid(), &crate::serial(&sign)).await.unwrap();
    let held = sign_status(&env.jlis.ocsp(&sign_request).await.unwrap());
    assert!(held.starts_with("Revoked") && held.contains("CertificateHold"), "{held}");
    env.jlis.release(&rid(), &crate::serial(&sign)).await.unwrap();
    let sign_good = env.jlis.ocsp(&sign_request).await.unwrap();
    assert!(sign_status(&sign_good).starts_with("Good"));

    let ca = env.jlis.ca().ca(pki::CaKind::Auth);
    let serial = pki::cert::parse_certificates(&auth).unwrap()[0].tbs_certificate.serial_number.as_bytes().to_vec();
    let id = pki::ocsp::cert_id(&ca.cert, &serial, pki::HashAlg::Sha1).unwrap();
    let request = pki::ocsp::build_request(std::slice::from_ref(&id), None).unwrap();
    let status = |der: &[u8]| {
        let checked = pki::ocsp::verify_response(der, &ca.cert).unwrap();
        assert!(checked.nonce.is_none());
        format!("{:?}", checked.statuses[0].1)
    };
    let first = env.jlis.ocsp(&request).await.unwrap();
    assert!(status(&first).starts_with("Good"));
    assert_eq!(env.jlis.ocsp(&request).await.unwrap(), first, "served pre-signed");
    env.jlis.revoke(&rid(), &crate::serial(&auth), Reason::KeyCompromise).await.unwrap();
    let after = env.jlis.ocsp(&request).await.unwrap();
    assert!(status(&after).starts_with("Revoked"), "cache dropped on revocation");
    assert_eq!(
        env.jlis.ocsp(&sign_request).await.unwrap(),
        sign_good,
        "a change drops the answers about the serials it touched, not the others"
    );
    // With a nonce, each answer is signed on demand and echoes it.
    let with_nonce = pki::ocsp::build_request(&[id], Some(b"0123456789abcdef")).unwrap();
    let answer = env.jlis.ocsp(&with_nonce).await.unwrap();
    let checked = pki::ocsp::verify_response(&answer, &ca.cert).unwrap();
    assert_eq!(
        checked.nonce.unwrap(),
        der::Encode::to_der(&der::asn1::OctetString::new(&b"0123456789abcdef"[..]).unwrap()).unwrap()
    );
}

/// A delta CRL lists exactly what changed since its base (RFC 5280
/// §5.2.4): the revocation and the hold made since, and removeFromCRL for
/// the certificate the base listed on hold and that was released since —
/// not the certificates issued since (before: every one of them was listed
/// removeFromCRL), not the revocation already in the base. OpenSSL, given
/// the base and the delta (`verify -crl_check -use_deltas`), then sees each
/// certificate as it is.
#[tokio::test]
async fn a_delta_crl_lists_exactly_the_changes_since_its_base_and_openssl_agrees() {
    let env = env().await;
    let dir = env.dir.path();
    let mut signs = Vec::new();
    for _ in 0..5 {
        signs.push(card(&env).await.1);
    }
    let [released, revoked_before, revoked_after, held_after, untouched] = &signs[..] else { unreachable!() };
    env.jlis.hold(&rid(), &serial(released)).await.unwrap();
    env.jlis.revoke(&rid(), &serial(revoked_before), Reason::KeyCompromise).await.unwrap();
    let base = env.jlis.crl(pki::CaKind::Sign, false).await.unwrap();
    // In the same second as the base: the delta goes by the order of
    // changes, not by their time.
    env.jlis.release(&rid(), &serial(released)).await.unwrap();
    env.jlis.revoke(&rid(), &serial(revoked_after), Reason::AffiliationChanged).await.unwrap();
    env.jlis.hold(&rid(), &serial(held_after)).await.unwrap();
    let issued_after = card(&env).await.1;
    let delta = env.jlis.crl(pki::CaKind::Sign, true).await.unwrap();

    let (base_list, delta_list) = (pki::crl::parse(&base).unwrap(), pki::crl::parse(&delta).unwrap());
    let listed = |crl: &pki::crl::ParsedCrl| {
        let mut l: Vec<(String, Reason)> =
            crl.entries.iter().map(|e| (hex::encode_upper(&e.serial), e.reason)).collect();
        l.sort_by(|a, b| a.0.cmp(&b.0));
        l
    };
    let sorted = |mut v: Vec<(String, Reason)>| {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(
        listed(&delta_list),
        sorted(vec![
            (serial(released), Reason::RemoveFromCrl),
            (serial(revoked_after), Reason::AffiliationChanged),
            (serial(held_after), Reason::CertificateHold),
        ]),
        "issued since ({}) and untouched ({}) are not listed",
        serial(&issued_after),
        serial(untouched)
    );
    assert_eq!(delta_list.delta_base, Some(base_list.number), "the delta names its base");
    assert!(delta_list.number > base_list.number);

    let pem = |name: &str, der: &[u8], kind: &str| {
        let path = dir.join(name);
        let (ok, text) = {
            let der_path = dir.join(format!("{name}.der"));
            std::fs::write(&der_path, der).unwrap();
            openssl(&[kind, "-inform", "DER", "-in", der_path.to_str().unwrap(), "-out", path.to_str().unwrap()])
        };
        assert!(ok, "{text}");
        path.to_string_lossy().into_owned()
    };
    let (base_pem, delta_pem) = (pem("base.crl", &base, "crl"), pem("delta.crl", &delta, "crl"));
    // OpenSSL 3.0 keeps the last -CRLfile only: both CRLs go in one file.
    // Without -extended_crl it may take the (newer) delta for the full CRL;
    // it uses a delta only for a base CRL that names one (freshestCRL).
    let both = dir.join("base-and-delta.pem");
    std::fs::write(&both, [std::fs::read(&base_pem).unwrap(), std::fs::read(&delta_pem).unwrap()].concat()).unwrap();
    let both = both.to_string_lossy().into_owned();
    let ca_pem = env.jlis.ca().cert_path(pki::CaKind::Sign).to_string_lossy().into_owned();
    let (ok, text) = openssl(&["crl", "-in", &delta_pem, "-CAfile", &ca_pem, "-noout", "-text"]);
    assert!(ok && text.contains("verify OK") && text.contains("Delta CRL Indicator: critical"), "{text}");
    for (i, (cert, good)) in [
        (released, true),
        (revoked_before, false),
        (revoked_after, false),
        (held_after, false),
        (untouched, true),
        (&issued_after, true),
    ]
    .into_iter()
    .enumerate()
    {
        let cert_pem = pem(&format!("cert{i}.pem"), cert, "x509");
        let (ok, text) = openssl(&[
            "verify",
            "-crl_check",
            "-extended_crl",
            "-use_deltas",
            "-CRLfile",
            &both,
            "-CAfile",
            &ca_pem,
            &cert_pem,
        ]);
        assert_eq!(ok, good, "{}: {text}", serial(cert));
        if !good {
            assert!(text.contains("certificate revoked"), "{text}");
        }
    }
}

/// A flood of nonce OCSP requests (each signed on demand) does not starve
/// issuance (issue 15): the answers beyond the signing queue's bound are
/// `tryLater` at once, the rest are signed, and a card issued in the middle
/// of the flood is issued. Before, every request waited in one unbounded
/// queue, issuance behind all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_ocsp_flood_is_shed_with_try_later_and_issuance_goes_on() {
    let env = std::sync::Arc::new(env().await);
    let (auth, _) = card(&env).await;
    let ca = env.jlis.ca().ca(pki::CaKind::Auth).cert.clone();
    let serial = pki::cert::parse_certificates(&auth).unwrap()[0].tbs_certificate.serial_number.as_bytes().to_vec();
    let id = pki::ocsp::cert_id(&ca, &serial, pki::HashAlg::Sha256).unwrap();
    let flood: Vec<_> = (0..1500u32)
        .map(|i| {
            let request = pki::ocsp::build_request(std::slice::from_ref(&id), Some(&i.to_be_bytes())).unwrap();
            let env = env.clone();
            tokio::spawn(async move { env.jlis.ocsp(&request).await.unwrap() })
        })
        .collect();
    let issued = {
        let env = env.clone();
        tokio::spawn(async move { card(&env).await })
    };
    let try_later = pki::ocsp::error_response(pki::ocsp::ResponseStatus::TryLater);
    let (mut shed, mut signed) = (0, 0);
    for answer in flood {
        let answer = answer.await.unwrap();
        if answer == try_later {
            shed += 1;
        } else {
            pki::ocsp::verify_response(&answer, &ca).expect("a signed answer");
            signed += 1;
        }
    }
    let (new_auth, _) = issued.await.unwrap();
    assert!(!new_auth.is_empty());
    assert!(shed > 0 && signed > 0, "shed {shed}, signed {signed}");
}
