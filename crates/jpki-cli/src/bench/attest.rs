//! `jpki bench attest`: what device trust adds to one issuance (issue 18):
//! the SP-TSM's appraisal of the phone's evidence, its appraisal of the
//! SE's two key attestations and the signed result, the JPKI service's own
//! check of the result and of each key attestation — CPU time per
//! issuance, beside the RSA-2048 signature every certificate costs anyway
//! (measured in the same run) — and the bytes on the wire.

use anyhow::{anyhow, Result};
use attest::appraisal::{Metadata, Policy, Verifier};
use attest::ec::EcKey;
use attest::keystore::{AppIdentity, Keystore, Platform, Preset, Vendor};
use attest::se_key::KeySlot;
use attest::x509::Authority;
use base64::Engine;
use clap::Args;
use std::time::{Duration, Instant, SystemTime};

/// `jpki bench attest`
#[derive(Debug, Args)]
pub struct AttestBenchArgs {
    /// Issuances' worth of checks per measurement.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(10..))]
    pub count: u32,
    /// Measurements (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
}

fn per_op(count: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..count {
        f();
    }
    t.elapsed() / count
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the measurement.
pub fn attest(a: &AttestBenchArgs, json: bool) -> Result<()> {
    let err = |e: attest::Error| anyhow!(e);
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let vendor = Vendor::new("Bench Phones").map_err(err)?;
    let batch = vendor.attestation_key("B1").map_err(err)?;
    let se_issuer = Authority::new_root("Bench SE Issuer", 30).map_err(err)?;
    let app = AppIdentity { package: "jp.go.jpki.app".into(), version: 1, signing_digests: vec![vec![0xAB; 32]] };
    let keystore = Keystore::new(Preset::Good.state(&vendor.boot_key), batch, vendor.root.certificate.clone());
    let se_id = [0x4F, 0x4A, 0x53, 0x45, 1, 2, 3, 4, 0x20, 0x26];
    let nonce = [7u8; 32];
    let commitment = [0x5A; 32];
    let platform =
        Platform { ueid: vec![1; 17], model: "B1".into(), se_identifier: se_id.to_vec(), applet: "JPKI applet".into() };
    let evidence = keystore.evidence(&nonce, &app, &platform).map_err(err)?;
    let se_key = attest::se_key::certify_se(&se_issuer, &se_id).map_err(err)?;
    let rsa = pki::RsaPrivateKey::generate_2048()?;
    let spki = rsa.public_key_der();
    let keys: Vec<_> = [KeySlot::Auth, KeySlot::Sign]
        .into_iter()
        .map(|slot| Ok((slot, spki.clone(), se_key.attest(&spki, &se_id, b"aid", slot, &commitment).map_err(err)?)))
        .collect::<Result<_>>()?;
    let policy = Policy::jpki("bench", &app.package, &hex::encode([0xAB; 32]));
    let metadata = Metadata::of(
        ("Bench Phones", &vendor.root.certificate, &vendor.boot_key),
        ("Bench SE Issuer", &se_issuer.certificate),
    );
    let verifier = Verifier::new(policy, metadata, EcKey::generate(), "bench");
    let now = SystemTime::now();
    let appraise = || {
        let mut a = verifier.appraise(&evidence, &nonce, now);
        a.appraise_se_keys(&verifier.metadata, &keys, &se_id, &commitment, now);
        a
    };
    let (_, token) = verifier.result(&appraise(), now);
    let verdict = verifier.appraise(&evidence, &nonce, now);
    let se_hex = hex::encode_upper(se_id);
    let jpki_check = || {
        attest::appraisal::check_result(&token, &verifier.public_key(), &nonce, &se_hex, now).expect("affirming");
        for (slot, spki, chain) in &keys {
            let expected =
                attest::se_key::Expected { spki, se_identifier: &se_id, slot: *slot, commitment: &commitment };
            attest::se_key::verify(chain, std::slice::from_ref(&se_issuer.certificate), &|_| false, &expected, now)
                .expect("attested");
        }
    };
    // The RSSP's confirm factor: the registered confirmation key's chain
    // appraised again, and the holder's confirmation of two hashes checked.
    let (confirm_key, confirm_chain) = keystore.generate_attested(b"registration nonce", &app, true).map_err(err)?;
    let registered = rssp::records::ConfirmationKey {
        chain: confirm_chain.iter().map(|c| b64(c)).collect(),
        challenge: "registration nonce".into(),
    };
    let hashes = [vec![1u8; 32], vec![2u8; 32]];
    let prompt = rssp::confirm::prompt("bench", "c-bench", pki::HashAlg::Sha256, 2, &hashes);
    let challenges = ["bench challenge".to_string()];
    let message = attest::confirm::message(&prompt, challenges[0].as_bytes());
    let token_ui = attest::confirm::token(&attest::confirm::TEST_SECRET, &message);
    let signature = attest::confirm::sign_confirmed(&confirm_key, &attest::confirm::TEST_SECRET, &message, &token_ui)
        .map_err(|e| anyhow!(e))?;
    let rssp_check = || {
        rssp::confirm::check(&verifier, &registered, &message, &signature, &prompt, &challenges, now)
            .expect("confirmed");
    };
    let digest_info = pki::HashAlg::Sha256.digest_info(&[0; 32]);
    let (mut ev, mut sp, mut jp, mut rsa_sign, mut confirm) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..a.rounds {
        ev.push(per_op(a.count, || {
            assert!(verifier.appraise(&evidence, &nonce, now).findings.is_empty());
        }));
        // Provisioning completes the verdict kept from the application.
        sp.push(per_op(a.count, || {
            let mut appraised = verdict.clone();
            appraised.appraise_se_keys(&verifier.metadata, &keys, &se_id, &commitment, now);
            assert_eq!(appraised.status(), attest::ear::Status::Affirming);
            let _ = verifier.result(&appraised, now);
        }));
        jp.push(per_op(a.count, jpki_check));
        confirm.push(per_op(a.count, rssp_check));
        rsa_sign.push(per_op(a.count, || {
            rsa.sign_raw(&digest_info).expect("RSA");
        }));
    }
    let (ev, sp, jp, rsa_sign, confirm) = (median(ev), median(sp), median(jp), median(rsa_sign), median(confirm));
    // The SP-TSM appraises the evidence at application and, in
    // provisioning, adds the SE's key attestations to that verdict.
    let total = ev + sp + jp;
    let chain_bytes: usize = keys.iter().map(|(_, _, c)| c.iter().map(Vec::len).sum::<usize>()).sum();
    let wire_app = b64(&evidence).len();
    let wire_jlis =
        2 * token.len() + keys.iter().map(|(_, _, c)| c.iter().map(|d| b64(d).len()).sum::<usize>()).sum::<usize>();
    let report = serde_json::json!({
        "machine": crate::bench::micro::machine(),
        "per_issuance_ms": {
            "sp_tsm_evidence_at_application": ms(ev),
            "sp_tsm_se_keys_and_result_in_provisioning": ms(sp),
            "sp_tsm_total": ms(ev + sp),
            "jpki_service_checks": ms(jp),
            "total": ms(total),
            "peer_rsa2048_sign": ms(rsa_sign),
        },
        "rssp_confirm_factor_per_authorisation_ms": ms(confirm),
        "bytes": {
            "evidence_eat": evidence.len(),
            "ear_jwt": token.len(),
            "se_key_attestations_der": chain_bytes,
            "added_to_application_body_base64": wire_app,
            "added_to_jpki_requests_base64": wire_jlis,
        },
        "count": a.count,
        "rounds": a.rounds,
    });
    if json {
        return crate::output::json(&report);
    }
    println!(
        "device trust per issuance (median of {} rounds × {}), {}",
        a.rounds,
        a.count,
        crate::bench::micro::machine()
    );
    println!("  SP-TSM at application: appraise the evidence                  {:8.3} ms", ms(ev));
    println!("  SP-TSM in provisioning: 2 SE key attestations, EAR           {:8.3} ms", ms(sp));
    println!("  SP-TSM (the verifier) per issuance                            {:8.3} ms", ms(ev + sp));
    println!("  JPKI service: check EAR + 2 SE key attestations               {:8.3} ms", ms(jp));
    println!("  added server CPU per issuance                                  {:8.3} ms", ms(total));
    println!("  peer: one RSA-2048 signature (each certificate costs one)     {:8.3} ms", ms(rsa_sign));
    println!("  RSSP confirm factor per authorisation (key re-appraised)      {:8.3} ms", ms(confirm));
    println!(
        "  evidence (EAT) {} B · EAR {} B · SE key attestations {} B DER",
        evidence.len(),
        token.len(),
        chain_bytes
    );
    println!("  on the wire: +{wire_app} B in the application, +{wire_jlis} B over the 2 JPKI requests (base64)");
    Ok(())
}
