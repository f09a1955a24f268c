//! Device trust at the JPKI service (docs/device-trust.md): a phone
//! certificate needs an affirming attestation result from the pinned
//! verifier for this application and SE, and the SE's own attestation of
//! the key bound to the application's commitment. Each way around it is
//! refused with `device_not_trusted` and nothing issued.

use crate::*;
use attest::ear::{self, Appraisal, Ear, Status, Vector, VerifierId};
use attest::ec::EcKey;
use attest::se_key::{self, KeySlot};
use attest::x509::Authority;

const SE: [u8; 10] = [0x4F, 0x4A, 0x53, 0x45, 1, 2, 3, 4, 0x20, 0x26];

fn result(key: &EcKey, nonce: &[u8], se: &[u8], status: Status) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let sub = Appraisal {
        ear_status: status,
        ear_trustworthiness_vector: Vector {
            instance_identity: Some(if status == Status::Affirming { 2 } else { 96 }),
            ..Default::default()
        },
        ear_appraisal_policy_ids: vec!["test".into()],
        openjpki_reasons: vec![],
    };
    let e = Ear {
        eat_profile: ear::PROFILE.into(),
        iat: now,
        exp: now + 600,
        ear_verifier_id: VerifierId { developer: "openjpki".into(), build: "test".into() },
        eat_nonce: ear::encode_nonce(nonce),
        ear_status: status,
        submods: ["tee", "app", "se"].into_iter().map(|n| (n.to_string(), sub.clone())).collect(),
        openjpki_se_identifier: hex::encode_upper(se),
    };
    ear::sign(&e, key)
}

#[tokio::test]
async fn a_phone_certificate_needs_the_verifiers_result_and_the_ses_own_attestation() {
    let mut env = env().await;
    let (verifier, se_issuer) = (EcKey::generate(), Authority::new_root("SE issuer", 30).unwrap());
    env.jlis.require_device_trust(jlis::device::DeviceTrust {
        verifier: verifier.spki(),
        se_issuer_roots: vec![se_issuer.certificate.clone()],
    });
    let (_, sign) = card(&env).await;
    // The holder's application (the example's commitment is 5A…).
    let applied = jlis::application::Application::example(&[PhoneCertType::Sign]);
    let application_cms = sign_application(&sign, &applied);
    let nonce = hex::decode(&applied.nonce).unwrap();
    let commitment = [0x5A; 32];
    let spki = key();
    let se_key = se_key::certify_se(&se_issuer, &SE).unwrap();
    let good_chain = se_key.attest(&spki, &SE, b"aid", KeySlot::Sign, &commitment).unwrap();
    let base = PhoneRequest {
        application: application_cms.clone(),
        phone_public_key: spki.clone(),
        attestation_result: Some(result(&verifier, &nonce, &SE, Status::Affirming)),
        key_attestation: good_chain.clone(),
        ..phone_request(&sign, PhoneCertType::Sign, &hex::encode_upper(SE))
    };
    let refused = |why: &'static str, r: PhoneRequest| {
        let jlis = &env.jlis;
        async move {
            let e = jlis.issue_phone(&PhoneRequest { request_id: rid(), ..r }).await.unwrap_err();
            assert_eq!(e.code(), jlis_api::Code::DeviceNotTrusted, "{why}: {e}");
            e.to_string()
        }
    };
    let rogue = EcKey::generate();
    let other_key = key();
    let cases: Vec<(&str, PhoneRequest, &str)> = vec![
        ("no result", PhoneRequest { attestation_result: None, ..base.clone() }, "no attestation result"),
        (
            "a result signed by another key (a compromised SP-TSM's own)",
            PhoneRequest { attestation_result: Some(result(&rogue, &nonce, &SE, Status::Affirming)), ..base.clone() },
            "not valid",
        ),
        (
            "a contraindicated result",
            PhoneRequest {
                attestation_result: Some(result(&verifier, &nonce, &SE, Status::Contraindicated)),
                ..base.clone()
            },
            "Contraindicated",
        ),
        (
            "a result for another application's nonce",
            PhoneRequest {
                attestation_result: Some(result(&verifier, &[1; 32], &SE, Status::Affirming)),
                ..base.clone()
            },
            "another application",
        ),
        (
            "a result for another SE",
            PhoneRequest {
                attestation_result: Some(result(&verifier, &nonce, &[9; 10], Status::Affirming)),
                ..base.clone()
            },
            "another SE",
        ),
        ("no key attestation", PhoneRequest { key_attestation: vec![], ..base.clone() }, "malformed"),
        (
            "a key attestation of another key",
            PhoneRequest {
                key_attestation: se_key.attest(&other_key, &SE, b"aid", KeySlot::Sign, &commitment).unwrap(),
                ..base.clone()
            },
            "another key",
        ),
        (
            "a key attestation bound to another application's commitment",
            PhoneRequest {
                key_attestation: se_key.attest(&spki, &SE, b"aid", KeySlot::Sign, &[1; 32]).unwrap(),
                ..base.clone()
            },
            "commitment",
        ),
        (
            "a key attestation for the auth slot",
            PhoneRequest {
                key_attestation: se_key.attest(&spki, &SE, b"aid", KeySlot::Auth, &commitment).unwrap(),
                ..base.clone()
            },
            "other key slot",
        ),
        (
            "a key attestation from an SE made by a rogue issuer",
            PhoneRequest {
                key_attestation: se_key::certify_se(&Authority::new_root("SE issuer", 30).unwrap(), &SE)
                    .unwrap()
                    .attest(&spki, &SE, b"aid", KeySlot::Sign, &commitment)
                    .unwrap(),
                ..base.clone()
            },
            "trusted SE issuer",
        ),
    ];
    for (why, request, says) in cases {
        let message = refused(why, request).await;
        assert!(message.contains(says), "{why}: {message}");
    }
    // Nothing was issued to the SE; then the genuine request is.
    let issued = env.jlis.issue_phone(&PhoneRequest { request_id: rid(), ..base.clone() }).await.unwrap();
    assert_eq!(
        pki::cert::public_key_der(&pki::cert::parse_certificates(&issued.certificate).unwrap()[0]).unwrap(),
        spki
    );
}
