//! `jpki phone ...`

use crate::cmd::phone::PhoneNewArgs;
use crate::cmd::phone::PhoneServeArgs;
use crate::output;
use anyhow::{bail, Context, Result};
use jpki::PinId;
use phone::{JpkiApplet, NfcEmulation, Relay, SeService};
use std::time::Instant;

fn step(json: bool, what: &str, start: Instant) {
    if !json {
        eprintln!("[ok] {what:<52} {:>8.1} ms", start.elapsed().as_secs_f64() * 1000.0);
    }
}

/// `jpki phone new`
pub fn new(a: &PhoneNewArgs, json: bool) -> Result<()> {
    let dir = phone::PhoneDir::new(&a.dir);
    if dir.exists() && !a.force {
        bail!("{} already holds a phone; pass --force to replace it", a.dir.display());
    }
    if let Some(services) = &a.services {
        return super::app::new_networked(&a.dir, services, &a.state, json);
    }
    let master_key_file = a.master_key_file.as_ref().expect("clap requires --master-key-file without --services");
    let auth_pin = PinId::Auth.normalize(&a.auth_pin).map_err(anyhow::Error::msg)?;
    let sign_pin = PinId::Sign.normalize(&a.sign_pin).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&a.dir)?;
    let master = crate::cmd::se::master_key(master_key_file, true)?;
    let ca = pki::ca::LocalCa::open_or_create(&a.ca_dir.clone().unwrap_or_else(crate::cmd::card::default_ca_dir))?;

    // The phone: a fresh SE and the JPKI app's identity.
    dir.write_se(&se::SecureElement::manufacture(
        &master,
        crate::cmd::se::random_bytes(),
        crate::cmd::se::random_bytes(),
    ))?;
    let mut app_cert = [0u8; 64];
    pki::fill_random(&mut app_cert);
    let app = dir.install_app(&app_cert)?;
    let phone = SeService::new(dir.open_se()?);
    let mut relay = Relay::new(&phone, &app);

    let t = Instant::now();
    let handed_over = sei_tsm::prepare(&mut relay, &master, &[&app.certificate_hashes()[1]])?;
    step(json, "SEI-TSM: SP domain, JPKI applet, ARA-M rule", t);
    let t = Instant::now();
    let sp_keys = sp_tsm::take_over(&mut relay, handed_over)?;
    step(json, "SP-TSM: domain keys replaced (PUT KEY)", t);
    let t = Instant::now();
    let commitment = JpkiApplet::open(&phone, &app)?.commitment()?;
    step(json, "app: commitment S = SHA-256(R) from the applet", t);
    let holder = pki::Holder::example();
    let t = Instant::now();
    let types = [tsm_api::PhoneCertType::Auth, tsm_api::PhoneCertType::Sign];
    let done = sp_tsm::provision(&mut relay, sp_keys, &commitment, &types, |keys, _| {
        let issue = |t: &tsm_api::PhoneCertType, spki: &[u8]| {
            let kind = match t {
                tsm_api::PhoneCertType::Auth => pki::CaKind::Auth,
                tsm_api::PhoneCertType::Sign => pki::CaKind::Sign,
            };
            let cert = ca.issue_card_certificate(kind, spki, &holder).map_err(|e| e.to_string())?;
            Ok((der::Encode::to_der(&cert).map_err(|e| e.to_string())?, ca.ca(kind).cert_der.clone()))
        };
        keys.iter().map(|(t, spki)| issue(t, spki)).collect()
    })?;
    step(json, "SP-TSM: R checked, 2 keys generated on chip, certified", t);
    let t = Instant::now();
    let mut applet = JpkiApplet::open(&phone, &app)?;
    applet.set_pin(PinId::Auth, &auth_pin)?;
    applet.set_pin(PinId::Sign, &sign_pin)?;
    step(json, "user: PINs set offline", t);
    let id = hex::encode_upper(done.se_identifier);
    if json {
        return output::json(
            &serde_json::json!({ "dir": a.dir, "se_identifier": id, "certificates": done.certificates.len() }),
        );
    }
    output::line(format_args!("Phone in {} (SE {id}) holds JPKI auth and sign certificates.", a.dir.display()))?;
    output::line(format_args!("Reach it by NFC: jpki phone serve-nfc --dir {} --vpcd 127.0.0.1:35963", a.dir.display()))
}

/// `jpki phone serve-nfc`
pub fn serve_nfc(a: &PhoneServeArgs) -> Result<()> {
    let dir = phone::PhoneDir::new(&a.dir);
    let se = dir.open_se()?;
    dir.app()?;
    let mut nfc = NfcEmulation::new(&SeService::new(se));
    eprintln!("Phone {} in NFC card emulation towards vpcd at {} (Ctrl-C to stop)", a.dir.display(), a.vpcd);
    let options = transport::vpcd::ServeOptions { reconnect: !a.once, ..Default::default() };
    let stop = std::sync::atomic::AtomicBool::new(false);
    transport::vpcd::serve(&a.vpcd, &mut nfc, &options, &stop)
        .with_context(|| format!("serving to vpcd at {} (is pcscd with vsmartcard-vpcd running?)", a.vpcd))
}
