//! `jpki demo phone`: the whole system on loopback HTTPS — the JPKI
//! service, the SEI-TSM and the SP-TSM with SQLite, a card issued at the
//! JPKI service, a phone prepared, applied for with the card, provisioned
//! and signing, a second phone superseding the first, and the card's
//! revocation cascading to the phone. Each step timed and checked; any
//! failed check exits non-zero.

use super::card::Runner;
use crate::demo::DemoArgs;
use anyhow::{anyhow, ensure, Result};
use jlis_api::status::Status;
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use phone::app::JpkiApp;
use phone::App;
use testbed::Deployment;
use tokio::runtime::Runtime;
use tsm_api::PhoneCertType as CertType;

/// The demo JPKI app's signing certificate (its SHA-256 is what the ARA-M
/// rule and the SP-TSM name).
pub const APP_CERTIFICATE: &[u8] = b"openjpki demo: the JPKI app's signing certificate";

const BOTH: [CertType; 2] = [CertType::Auth, CertType::Sign];

/// `jpki demo phone`
pub fn run(a: &DemoArgs, json: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    super::card::run_in_dir(a, json, |r, dir| steps(r, &rt, dir))
}

fn new_phone(d: &Deployment, model: &str) -> Result<JpkiApp> {
    phone_in_state(d, model, testbed::devices::PhoneState::Good)
}

/// A phone of the deployment's vendor whose TEE attests `state`.
fn phone_in_state(d: &Deployment, model: &str, state: testbed::devices::PhoneState) -> Result<JpkiApp> {
    let factory = testbed::devices::Factory::open(&d.dir).map_err(|e| anyhow!(e))?;
    factory.phone(App::new("jp.go.jpki.app", APP_CERTIFICATE.to_vec()), state, model).map_err(|e| anyhow!(e))
}

fn serial(der: &[u8]) -> Result<String> {
    let c = pki::cert::parse_certificates(der)?.remove(0);
    Ok(hex::encode_upper(c.tbs_certificate.serial_number.as_bytes()))
}

fn steps(r: &mut Runner, rt: &Runtime, dir: &std::path::Path) -> Result<()> {
    let hash = hex::encode_upper(pki::HashAlg::Sha256.digest(APP_CERTIFICATE));
    let d = r.run("start JPKI service, SEI-TSM, SP-TSM (HTTPS)", || {
        let d = rt.block_on(Deployment::create(dir, &hash, 30)).map_err(|e| anyhow!(e))?;
        let detail = format!("{} · {} · {}", d.jlis_url, d.sei_url, d.sp_url);
        Ok((d, detail))
    })?;
    let sei = d.sei().map_err(|e| anyhow!(e))?;
    let sp = d.sp().map_err(|e| anyhow!(e))?;
    let cas = d.jpki_cas().map_err(|e| anyhow!(e))?;
    let http = jlis_api::status::client();
    let status =
        |der: &[u8]| rt.block_on(jlis_api::status::ocsp(&http, &d.ocsp_url, der, &cas)).map_err(|e| anyhow!(e));

    let mut card = r.run("municipal office: card issued by the JPKI service", || {
        let holder = pki::Holder::example();
        let state =
            rt.block_on(d.make_card(&holder, "123456789018", InitialPins::test_card())).map_err(|e| anyhow!(e))?;
        let card = JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state)?));
        Ok((card, "auth + sign certificates, PINs 1234 / ABC123".to_string()))
    })?;

    let provision = |r: &mut Runner, card: &mut JpkiCard<_>, label: &str| -> Result<JpkiApp> {
        let phone = new_phone(&d, label)?;
        r.run(&format!("{label}: SEI-TSM prepares the SE"), || {
            let out = rt.block_on(phone.prepare(&sei))?;
            Ok(((), format!("SE {} · {} APDUs relayed", out.result["se_id"].as_str().unwrap_or("?"), out.apdus)))
        })?;
        r.run(&format!("{label}: apply with the card, SP-TSM provisions"), || {
            let applied = rt.block_on(phone.apply(&sp, card, "ABC123", &BOTH))?;
            let out = applied.outcome?;
            let n = out.result["certificates"].as_array().map_or(0, Vec::len);
            ensure!(n == 2, "expected 2 certificates, got {n}");
            Ok((
                (),
                format!("device affirmed · S = SHA-256(R) checked · 2 keys on chip, attested · {} APDUs", out.apdus),
            ))
        })?;
        r.run(&format!("{label}: PINs set in the applet"), || {
            phone.set_pins(b"2468", b"PHONE1")?;
            Ok(((), "auth 2468 · sign PHONE1".into()))
        })?;
        Ok(phone)
    };

    r.run("a rooted phone applies: refused by device trust, nothing made", || {
        let rooted =
            phone_in_state(&d, "rooted phone", testbed::devices::PhoneState::Preset(attest::keystore::Preset::Rooted))?;
        rt.block_on(rooted.prepare(&sei))?;
        let refused = match rt.block_on(rooted.apply(&sp, &mut card, "ABC123", &BOTH)) {
            Ok(_) => anyhow::bail!("the rooted phone was provisioned"),
            Err(e) => e.to_string(),
        };
        ensure!(refused.contains("device_not_trusted"), "refused for another reason: {refused}");
        let issued = rt.block_on(d.sp.certificates(&rooted.se_identifier())).map_err(|e| anyhow!("{e:?}"))?;
        ensure!(issued.is_empty(), "certificates were issued to the rooted phone");
        let reason =
            refused.split("the phone is not trusted (").nth(1).and_then(|r| r.split(')').next()).unwrap_or("?");
        Ok(((), format!("SP-TSM's appraisal of the TEE's evidence: {reason} · 0 certificates")))
    })?;

    let first = provision(r, &mut card, "phone 1")?;
    let first_sign = r.run("phone 1: CMS signature, checked as a relying party", || {
        let cms = first.cms_sign(CertType::Sign, "phone1", b"openjpki demo document", false)?;
        let checked =
            pki::cms::verify(&cms, &pki::cms::VerifyOptions { anchors: &cas, detached_content: None, at: None })?;
        let signer = der::Encode::to_der(&checked.signer)?;
        let s = status(&signer)?;
        ensure!(s == Status::Good, "OCSP says {s:?}");
        Ok((signer, "signature + chain to the JPKI sign CA · OCSP good".into()))
    })?;

    let second = provision(r, &mut card, "phone 2")?;
    r.run("phone 2 supersedes phone 1 (one phone at a time)", || {
        let s = status(&first_sign)?;
        ensure!(matches!(s, Status::Revoked { .. }), "phone 1's certificate is {s:?}");
        Ok(((), format!("phone 1 sign certificate {} revoked: superseded", serial(&first_sign)?)))
    })?;

    r.run("card revoked → phone 2 revoked (cascade)", || {
        card.verify(jpki::PinId::Sign, "ABC123")?;
        let card_sign = card.read_certificate(jpki::CertType::Sign)?;
        let operator = d.operator().map_err(|e| anyhow!(e))?;
        let revoked = rt.block_on(operator.revoke(
            "demo-card-revocation",
            &serial(&card_sign)?,
            pki::crl::Reason::KeyCompromise,
        ))?;
        let phone_auth = second.certificate(CertType::Auth, Some("2468"))?;
        let s = status(&phone_auth)?;
        ensure!(matches!(s, Status::Revoked { .. }), "phone 2's certificate is {s:?}");
        Ok((
            (),
            format!("{} certificates revoked in one transaction; OCSP for phone 2: revoked", revoked.revoked.len()),
        ))
    })?;
    Ok(())
}
