//! Pattern 4 — a fake SP-TSM talks to the JPKI service (⑩).
//!
//! Only the SP-TSM's client certificate opens the phone-certificate door:
//! the attacker tries without one, with the SEI-TSM's (another role's), and
//! with one it made. Then the SP-TSM itself is compromised — it holds the
//! real client certificate — and asks the JPKI service to certify the
//! attacker's key for a holder: with no application, with an application
//! for the other type, with another card's application, and with a genuine
//! application already used. The JPKI service checks the card-signed
//! application itself, so none of these yields a certificate.

use crate::fake;
use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use jlis::client::JlisClient;
use jlis::{PhoneCertType, PhoneRequest};
use svc::tls::Service;
use tsm_api::PhoneCertType as CertType;

/// The SE identifier the attacker wants certificates linked to.
pub const ATTACKER_SE: &str = "0A0B0C0D0E0F10111213";

fn request(card_certificate: &[u8], application: Vec<u8>, cert_type: PhoneCertType) -> Result<PhoneRequest, Breach> {
    let mut id = [0u8; 8];
    pki::fill_random(&mut id);
    let key = pki::RsaPrivateKey::generate_2048().map_err(lab_err)?;
    Ok(PhoneRequest {
        request_id: format!("attacker-{}", hex::encode(id)),
        card_certificate: card_certificate.to_vec(),
        application,
        phone_public_key: key.public_key_der(),
        se_id: ATTACKER_SE.into(),
        cert_type,
        attestation_result: None,
        key_attestation: vec![],
    })
}

/// An affirming EAR the compromised SP-TSM signs with the verifier key it holds.
fn forged_result(verifier: &attest::ec::EcKey, nonce: &[u8], se: &[u8]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let ear = attest::ear::Ear::affirming(nonce, se, now, 300, "forged");
    attest::ear::sign(&ear, verifier)
}

/// A genuine SE's attestation of a key generated in it — what a
/// compromised SP-TSM gets by having an SE it holds domain keys for
/// generate and attest (ATTEST KEY) a key: the applet attests the key it
/// generated, never `_wanted`. The bytes are made here with the emulated
/// SE's attestation key, as the applet makes them, without the relay.
fn borrowed_attestation(genuine: &phone::app::JpkiApp, _wanted: &[u8]) -> Result<Vec<Vec<u8>>, Breach> {
    let se = genuine.se_service();
    se.with_se(|s| {
        let id = s.state().se_identifier();
        let ak = s.state().attestation.clone().ok_or_else(|| Breach::Lab("no SE attestation key".into()))?;
        let key = attest::ec::EcKey::from_pkcs8(ak.key.expose()).map_err(lab_err)?;
        let name = format!("openjpki SE attestation {}", hex::encode_upper(id));
        let authority = attest::x509::Authority::from_parts(&name, key, ak.certificate.0.clone());
        let real = pki::RsaPrivateKey::generate_2048().map_err(lab_err)?.public_key_der();
        let signer = attest::se_key::SeAttestationKey { authority, issuer_root: ak.issuer_root.0.clone() };
        signer.attest(&real, &id, b"JPKI", attest::se_key::KeySlot::Sign, &[0; 32]).map_err(lab_err)
    })
}

fn client(lab: &Lab, identity: Option<(&std::path::Path, &std::path::Path)>) -> Result<JlisClient, Breach> {
    JlisClient::new(&lab.deployment.jlis_url, &lab.deployment.tls_ca, identity, None).map_err(lab_err)
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    card.verify(jpki::PinId::Sign, CARD_SIGN_PASSWORD).map_err(lab_err)?;
    let card_cert = card.read_certificate(jpki::CertType::Sign).map_err(lab_err)?;
    let mut a = Attempts::default();
    let tls = lab.dir().join("tls");

    let anonymous = client(lab, None)?;
    let r = anonymous.issue_phone(&request(&card_cert, Vec::new(), PhoneCertType::Sign)?).await.map(|c| c.serial);
    a.refused("a fake SP-TSM without a client certificate asks for a phone certificate", "403 forbidden", r)?;

    let jlis =
        lab.deployment.jlis_url.trim_start_matches("https://").parse().map_err(|e| Breach::Lab(format!("{e}")))?;
    let r =
        fake::client_certificate_refusal(lab, jlis, Service::Jlis, &tls.join("sei-tsm.pem"), &tls.join("sei-tsm.key"))
            .await;
    a.refused("a fake SP-TSM presenting the SEI-TSM's client certificate", "UnknownCA", r)?;

    let attacker = lab.dir().join("attacker");
    std::fs::create_dir_all(&attacker).map_err(lab_err)?;
    let key = rcgen::KeyPair::generate().map_err(lab_err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(lab_err)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "SP-TSM");
    let cert = params.self_signed(&key).map_err(lab_err)?;
    let (cert_path, key_path) = (attacker.join("fake-sp-client.pem"), attacker.join("fake-sp-client.key"));
    std::fs::write(&cert_path, cert.pem()).map_err(lab_err)?;
    std::fs::write(&key_path, key.serialize_pem()).map_err(lab_err)?;
    let r = fake::client_certificate_refusal(lab, jlis, Service::Jlis, &cert_path, &key_path).await;
    a.refused("a fake SP-TSM with a self-made client certificate named SP-TSM", "UnknownCA", r)?;

    // The SP-TSM is compromised: the real client certificate.
    let sp = client(lab, Some((&tls.join("sp-tsm.pem"), &tls.join("sp-tsm.key"))))?;
    let r = sp.issue_phone(&request(&card_cert, Vec::new(), PhoneCertType::Sign)?).await.map(|c| c.serial);
    a.refused("the compromised SP-TSM certifies its key for a holder who never applied", "403 bad_application", r)?;

    // A genuine application for an auth certificate, provisioned.
    let phone = lab.prepared_phone().await?;
    let sp_tsm = lab.sp()?;
    let auth_only_signed =
        phone.signed_application(&sp_tsm, &mut card, CARD_SIGN_PASSWORD, &[CertType::Auth]).await.map_err(lab_err)?;
    let (auth_only, auth_only_evidence) = (auth_only_signed.cms, auth_only_signed.evidence);
    let (_, outcome) =
        phone.attesting(&sp_tsm).apply(&auth_only, auth_only_evidence.as_deref(), &mut phone.relay()).await;
    outcome.map_err(|e| Breach::Lab(format!("the genuine provisioning: {e}")))?;

    let r = sp.issue_phone(&request(&card_cert, auth_only.clone(), PhoneCertType::Sign)?).await.map(|c| c.serial);
    a.refused(
        "it asks for a signature certificate with the holder's application for an auth one",
        "403 bad_application",
        r,
    )?;
    let r = sp.issue_phone(&request(&card_cert, auth_only, PhoneCertType::Auth)?).await.map(|c| c.serial);
    a.refused("it reuses the holder's provisioned application for its own key", "403 device_not_trusted", r)?;

    // Device trust: the compromised SP-TSM also holds the verifier's key,
    // so it can sign an affirming attestation result for a fresh genuine
    // application — but the key it wants certified was never attested by
    // an SE, and an SE attestation of another key does not stand for it.
    let fresh =
        phone.signed_application(&sp_tsm, &mut card, CARD_SIGN_PASSWORD, &[CertType::Sign]).await.map_err(lab_err)?;
    let verifier = std::fs::read_to_string(lab.dir().join("device-trust/verifier.key")).map_err(lab_err)?;
    let verifier = attest::ec::EcKey::from_pkcs8_pem(&verifier).map_err(lab_err)?;
    let se: [u8; 10] =
        hex::decode(ATTACKER_SE).map_err(lab_err)?.try_into().map_err(|_| Breach::Lab("SE id".into()))?;
    let forged = forged_result(&verifier, &fresh.nonce, &se);
    let mut forged_request = request(&card_cert, fresh.cms.clone(), PhoneCertType::Sign)?;
    forged_request.attestation_result = Some(forged.clone());
    let r = sp.issue_phone(&forged_request).await.map(|c| c.serial);
    a.refused(
        "it forges an affirming attestation result for its own key, without an SE's attestation",
        "403 device_not_trusted",
        r,
    )?;
    let genuine = lab.prepared_phone().await?;
    let other_key = pki::RsaPrivateKey::generate_2048().map_err(lab_err)?.public_key_der();
    let borrowed = borrowed_attestation(&genuine, &other_key)?;
    forged_request.request_id.push_str("-2");
    forged_request.key_attestation = borrowed;
    let r = sp.issue_phone(&forged_request).await.map(|c| c.serial);
    a.refused("it adds a genuine SE's attestation of another key", "403 device_not_trusted", r)?;

    let mut other = lab.card().await?;
    let others_signed =
        phone.signed_application(&sp_tsm, &mut other, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let others = others_signed.cms;
    let r = sp.issue_phone(&request(&card_cert, others, PhoneCertType::Sign)?).await.map(|c| c.serial);
    a.refused("it presents another holder's application for this card", "403 bad_application", r)?;

    let linked = lab.issued_to(ATTACKER_SE).await?;
    a.unchanged("the fake and compromised SP-TSMs", "the certificates linked to the attacker's SE", &0, &linked)?;
    a.done()
}
