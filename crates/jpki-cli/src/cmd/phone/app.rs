//! `jpki phone apply|resume|pin|sign|cms|revoke|status`: the JPKI app on an
//! emulated phone against a running deployment (`jpki serve all`). The
//! phone's directory holds its SE (`se.json`, durable after every APDU),
//! the app's identity (`app.json`) and what the app remembers
//! (`phone.json`): the deployment it talks to, its application, the serials
//! of its certificates and the card certificate they are linked to — as the
//! real app keeps them to show status without asking for a PIN.

use crate::args::KeyName;
use crate::cmd::phone::PhoneApplyArgs;
use crate::cmd::phone::PhoneCertChoice;
use crate::cmd::phone::PhoneCmsSignArgs;
use crate::cmd::phone::PhoneDirArgs;
use crate::cmd::phone::PhonePinChangeArgs;
use crate::cmd::phone::PhoneRevokeArgs;
use crate::cmd::phone::PhoneSignArgs;
use crate::{device, output, pins};
use anyhow::{anyhow, bail, Context, Result};
use jlis_api::status::Status;
use jpki::PinId;
use phone::app::JpkiApp;
use phone::SeService;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use testbed::Endpoints;
use tsm_api::PhoneCertType as CertType;

use phone::dir::{IssuedCertificate, PhoneDir, PhoneRecord};

/// A phone directory opened with its deployment.
struct Phone {
    dir: PhoneDir,
    record: PhoneRecord,
    services: Endpoints,
    app: JpkiApp,
}

impl Phone {
    fn open(a: &PhoneDirArgs) -> Result<Self> {
        let dir = PhoneDir::new(&a.dir);
        let record = dir.record()?;
        let services = Endpoints::read(&record.services).map_err(|e| {
            anyhow!("the deployment in {} is not readable ({e}); is it still there?", record.services.display())
        })?;
        let mut app = JpkiApp::new(SeService::new(dir.open_se()?), dir.app()?, &record.model);
        if let Some(tee) = dir.tee()? {
            app = app.with_tee(tee);
        }
        Ok(Self { dir, record, services, app })
    }

    fn save(&self) -> Result<()> {
        Ok(self.dir.save_record(&self.record)?)
    }
}

/// The TEE's app key and its assertion counter are kept whatever the
/// command's outcome: a counter that went back would make the SP-TSM
/// refuse the next request as a replay.
impl Drop for Phone {
    fn drop(&mut self) {
        if let Some(tee) = self.app.tee() {
            if let Err(e) = self.dir.write_tee(tee) {
                eprintln!("warning: the phone's TEE state could not be saved: {e}");
            }
        }
    }
}

impl Phone {
    /// Refuses early, with what to do, when the keys are gone.
    fn with_keys(self) -> Result<Self> {
        if self.record.keys_deleted {
            bail!(
                "this phone's keys were deleted when its certificates were revoked; apply again with \
                 `jpki phone apply --dir {}`",
                self.dir.path().display()
            );
        }
        Ok(self)
    }

    fn sp(&self) -> Result<tsm_api::client::TsmClient> {
        self.services.sp().map_err(|e| anyhow!(e))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

fn step(json: bool, what: &str, start: Instant, detail: &str) {
    if !json {
        eprintln!("[ok] {what:<56} {:>8.1} ms  {detail}", start.elapsed().as_secs_f64() * 1000.0);
    }
}

fn cert_type(k: KeyName) -> CertType {
    match k {
        KeyName::Auth => CertType::Auth,
        KeyName::Sign => CertType::Sign,
    }
}

fn pin_of(t: CertType) -> PinId {
    match t {
        CertType::Auth => PinId::Auth,
        CertType::Sign => PinId::Sign,
    }
}

fn serial_hex(der: &[u8]) -> Result<String> {
    let c = pki::cert::parse_certificates(der)?.remove(0);
    Ok(hex::encode_upper(c.tbs_certificate.serial_number.as_bytes()))
}

/// `jpki phone new --services SYS`: the SE made for the deployment's
/// SEI-TSM (the SE issuer shares the ISD master key with it, and certifies
/// its attestation key), a TEE attesting device `state`, the JPKI app
/// installed, and the SE prepared at once.
pub fn new_networked(dir: &Path, services_dir: &Path, state: &str, json: bool) -> Result<()> {
    let services_dir = std::fs::canonicalize(services_dir).with_context(|| {
        format!("{}: make a deployment with `jpki serve all --init --dir DIR`", services_dir.display())
    })?;
    let state = testbed::devices::PhoneState::parse(state).ok_or_else(|| anyhow!("unknown device state {state:?}"))?;
    let factory = testbed::devices::Factory::open(&services_dir).map_err(|e| anyhow!(e))?;
    let phone_dir = PhoneDir::new(dir);
    phone_dir.write_se(&factory.se().map_err(|e| anyhow!(e))?)?;
    phone_dir.write_tee(&factory.tee(state).map_err(|e| anyhow!(e))?)?;
    phone_dir.install_app(crate::demo::phone::APP_CERTIFICATE)?;
    let mut record =
        PhoneRecord { services: services_dir, model: "openjpki emulated phone".into(), ..Default::default() };
    phone_dir.save_record(&record)?;
    let phone = Phone::open(&PhoneDirArgs { dir: dir.to_path_buf() })?;
    let sei = phone.services.sei().map_err(|e| anyhow!(e))?;
    let t = Instant::now();
    let out = runtime()?
        .block_on(phone.app.prepare(&sei))
        .context("the SEI-TSM could not prepare the SE (is `jpki serve all` running?)")?;
    step(json, "SEI-TSM: SP domain, JPKI applet, ARA-M rule", t, &format!("{} APDUs relayed", out.apdus));
    record.prepared = true;
    phone_dir.save_record(&record)?;
    let se_id = phone.app.se_identifier();
    if json {
        return output::json(&serde_json::json!({ "dir": dir, "se_identifier": se_id, "prepared": true }));
    }
    output::line(format_args!("Phone in {} (SE {se_id}) is ready.", dir.display()))?;
    output::line(format_args!("Apply with a card: jpki phone apply --dir {} --card CARD.json", dir.display()))
}

/// `jpki phone apply`
pub fn apply(a: &PhoneApplyArgs, json: bool) -> Result<()> {
    let mut phone = Phone::open(&a.phone)?;
    if !phone.record.prepared {
        bail!("the phone's SE was never prepared; make the phone again with `jpki phone new --services`");
    }
    let types: &[CertType] = match a.kind {
        PhoneCertChoice::Auth => &[CertType::Auth],
        PhoneCertChoice::Sign => &[CertType::Sign],
        PhoneCertChoice::Both => &[CertType::Auth, CertType::Sign],
    };
    let mut dev = device::open(&a.device)?;
    let rt = runtime()?;
    let sp = phone.app.attesting(&phone.sp()?);
    let t = Instant::now();
    let password = pins::get(PinId::Sign, &a.pins)?;
    let signed = rt.block_on(phone.app.signed_application(&sp, &mut dev.card, &password, types))?;
    // The signature password is still verified: the card's signature certificate.
    let card_cert = dev.card.read_certificate(jpki::CertType::Sign)?;
    step(json, "application signed by the card", t, &format!("card: {}", dev.reader));
    let t = Instant::now();
    let first = rt
        .block_on(sp.submit(&signed.cms, signed.evidence.as_deref()))
        .context("the SP-TSM refused the application")?;
    let reference = tsm_api::client::ApplicationRef::from_answer(&first)
        .ok_or_else(|| anyhow!("the SP-TSM answered the application without its id and resume token"))?;
    let application = reference.id.clone();
    phone.record.application = Some(reference.id);
    phone.record.resume_token = Some(reference.resume_token);
    phone.record.card_certificate = Some(serial_hex(&card_cert)?);
    phone.save()?;
    step(json, "SP-TSM: signature, card status, nonce, device checked", t, &format!("application {application}"));
    let t = Instant::now();
    let outcome = rt.block_on(sp.drive(first, &mut phone.app.relay()));
    let outcome = outcome.with_context(|| {
        format!(
            "provisioning was interrupted; continue it with `jpki phone resume --dir {}`",
            phone.dir.path().display()
        )
    })?;
    provisioned(&mut phone, &outcome.result)?;
    step(json, "SP-TSM: keys generated in the SE, certificates written", t, &format!("{} APDUs", outcome.apdus));
    let pins_set = !a.no_pins && set_pins_if_possible(&phone, json)?;
    report_provisioned(&phone, pins_set, json)
}

fn provisioned(phone: &mut Phone, result: &serde_json::Value) -> Result<()> {
    let certificates: Vec<IssuedCertificate> = serde_json::from_value(result["certificates"].clone())
        .context("the SP-TSM's answer does not list the certificates")?;
    phone.record.certificates = certificates;
    phone.record.keys_deleted = false;
    phone.save()
}

fn set_pins_if_possible(phone: &Phone, json: bool) -> Result<bool> {
    if !pins::new_pin_available("JPKI_NEW_AUTH_PIN") || !pins::new_pin_available("JPKI_NEW_SIGN_PIN") {
        return Ok(false);
    }
    set_pins(phone, json)?;
    Ok(true)
}

fn set_pins(phone: &Phone, json: bool) -> Result<()> {
    let auth = pins::get_new_from(PinId::Auth, None, "JPKI_NEW_AUTH_PIN")?;
    let auth = PinId::Auth.normalize(&auth).map_err(anyhow::Error::msg)?;
    let sign = pins::get_new_from(PinId::Sign, None, "JPKI_NEW_SIGN_PIN")?;
    let sign = PinId::Sign.normalize(&sign).map_err(anyhow::Error::msg)?;
    let t = Instant::now();
    phone.app.set_pins(&auth, &sign).context("the applet refused the PINs (are they set already?)")?;
    step(json, "PINs set in the applet", t, "");
    Ok(())
}

fn report_provisioned(phone: &Phone, pins_set: bool, json: bool) -> Result<()> {
    if json {
        return output::json(&serde_json::json!({
            "application": phone.record.application,
            "se_identifier": phone.app.se_identifier(),
            "certificates": phone.record.certificates,
            "pins_set": pins_set,
        }));
    }
    for c in &phone.record.certificates {
        output::line(format_args!("{:<5} certificate {} is in the SE.", c.kind.as_str(), c.serial))?;
    }
    if !pins_set {
        output::line(format_args!(
            "Set the phone's PINs next: jpki phone pin set --dir {}",
            phone.dir.path().display()
        ))?;
    }
    Ok(())
}

/// `jpki phone resume`
pub fn resume(a: &PhoneDirArgs, json: bool) -> Result<()> {
    let mut phone = Phone::open(a)?;
    let (Some(id), Some(resume_token)) = (phone.record.application.clone(), phone.record.resume_token.clone()) else {
        bail!("this phone has no application to resume; apply with `jpki phone apply`");
    };
    let application = tsm_api::client::ApplicationRef { id, resume_token };
    let t = Instant::now();
    let outcome = runtime()?.block_on(phone.app.resume(&phone.sp()?, &application))?;
    provisioned(&mut phone, &outcome.result)?;
    step(json, "SP-TSM: provisioning resumed and finished", t, &format!("{} APDUs", outcome.apdus));
    let pins_set = set_pins_if_possible(&phone, json)?;
    report_provisioned(&phone, pins_set, json)
}

/// `jpki phone pin set`
pub fn pin_set(a: &PhoneDirArgs, json: bool) -> Result<()> {
    let phone = Phone::open(a)?;
    set_pins(&phone, json)?;
    if !json {
        output::line("Both PINs are set.")?;
    }
    Ok(())
}

/// `jpki phone pin change`
pub fn pin_change(a: &PhonePinChangeArgs) -> Result<()> {
    let phone = Phone::open(&a.phone)?.with_keys()?;
    let pin = pin_of(cert_type(a.key));
    let old = pins::get(pin, &a.pins)?;
    let new = pins::get_new(pin, a.new_pin_file.as_deref())?;
    phone.app.change_pin(pin, &old, &new)?;
    output::line(format_args!("The phone's {} is changed.", pin.describe()))
}

/// `jpki phone sign`
pub fn sign(a: &PhoneSignArgs) -> Result<()> {
    let phone = Phone::open(&a.phone)?.with_keys()?;
    let t = cert_type(a.key);
    let data = output::read_in(&a.input)?;
    let pin = pins::get(pin_of(t), &a.pins)?;
    let answer = phone.app.sign(t, &pin, &data)?;
    if let Some(path) = &a.cert_out {
        let cert = pki::cert::parse_certificates(&answer.certificate)?.remove(0);
        std::fs::write(path, pki::cert::to_pem(&cert)?).with_context(|| format!("writing {}", path.display()))?;
    }
    output::write_out(a.out.as_deref(), &answer.signature)
}

/// `jpki phone cms sign`
pub fn cms_sign(a: &PhoneCmsSignArgs) -> Result<()> {
    let phone = Phone::open(&a.phone)?.with_keys()?;
    let t = cert_type(a.cms.key);
    let content = output::read_in(&a.cms.input)?;
    let pin = pins::get(pin_of(t), &a.pins)?;
    let der = phone.app.cms_sign(t, &pin, &content, a.cms.detached)?;
    crate::cmd::cms::write_cms(&der, &a.cms)
}

/// The JPKI applet of the phone in `dir` (networked or made offline) as a
/// token, through its JPKI app's OMAPI channel.
pub fn phone_token(dir: &std::path::Path) -> Result<jpki::JpkiCard<phone::JpkiApplet>> {
    let dir = PhoneDir::new(dir);
    let service = phone::SeService::new(dir.open_se()?);
    Ok(jpki::JpkiCard::new(phone::JpkiApplet::open(&service, &dir.app()?)?))
}

/// CMS SignedData (content attached) over `content` with the phone in
/// `dir`'s signature key, its PIN from `pins` (for `jpki rssp --phone`).
pub fn sign_cms_with_phone(dir: &std::path::Path, pins: &crate::args::PinArgs, content: &[u8]) -> Result<Vec<u8>> {
    let phone = Phone::open(&PhoneDirArgs { dir: dir.to_path_buf() })?.with_keys()?;
    let pin = pins::get(PinId::Sign, pins)?;
    Ok(phone.app.cms_sign(CertType::Sign, &pin, content, false)?)
}

/// `jpki phone revoke`
pub fn revoke(a: &PhoneRevokeArgs, json: bool) -> Result<()> {
    let mut phone = Phone::open(&a.phone)?;
    let pin = pins::get(PinId::Auth, &a.pins)?;
    let t = Instant::now();
    // The trusted UI's prompt (docs/device-trust.md): running this command
    // is the holder's confirmation; the prompt is shown so it is on record.
    let shown = |prompt: &str| {
        if !json {
            eprintln!("[trusted UI] {prompt} — confirmed");
        }
        true
    };
    let outcome = runtime()?.block_on(phone.app.confirmed_revoke(&phone.sp()?, &pin, shown))?;
    phone.record.keys_deleted = true;
    phone.save()?;
    step(json, "SP-TSM: revoked at the JPKI service, keys deleted", t, &format!("{} APDUs", outcome.apdus));
    if json {
        return output::json(&outcome.result);
    }
    output::line(format_args!(
        "This phone's certificates are revoked and its keys deleted; apply again with `jpki phone apply --dir {}`.",
        phone.dir.path().display()
    ))
}

/// The phone's TEE in `dir`, and its app.
fn tee_of(dir: &Path) -> Result<(PhoneDir, phone::tee::Tee, phone::App)> {
    let d = PhoneDir::new(dir);
    let tee = d.tee()?.ok_or_else(|| {
        anyhow!(
            "the phone in {} has no TEE (made before device trust): make it again with `jpki phone new`",
            dir.display()
        )
    })?;
    let app = d.app()?;
    Ok((d, tee, app))
}

/// The phone in `dir` makes a confirmation key for its JPKI app, attested
/// with `challenge`, and keeps it under `alias` (in `tee.json`).
pub fn keep_confirmation_key(dir: &Path, alias: &str, challenge: &[u8]) -> Result<phone::tee::ConfirmationKey> {
    let (d, tee, app) = tee_of(dir)?;
    let key = tee.keep_confirmation_key(alias, challenge, &app).map_err(|e| anyhow!(e))?;
    d.write_tee(&tee)?;
    Ok(key)
}

/// The phone's trusted UI shows `prompt`; running the command is the
/// holder's confirmation (the prompt is shown so it is on record), and the
/// key kept under `alias` signs `{prompt, extra}`.
pub fn confirm(dir: &Path, alias: &str, prompt: &str, extra: &[u8], json: bool) -> Result<phone::tee::Confirmed> {
    let (_, tee, _) = tee_of(dir)?;
    let key = tee.kept_confirmation_key(alias).ok_or_else(|| {
        anyhow!(
            "the phone in {} keeps no confirmation key for {alias}: register with `jpki rssp register --factor confirm --confirm-phone DIR`",
            dir.display()
        )
    })?;
    let shown = |p: &str| {
        if !json {
            eprintln!("[trusted UI] {}\n[trusted UI] — confirmed", p.trim_end().replace('\n', "\n[trusted UI] "));
        }
        true
    };
    tee.confirm(&key, prompt, extra, shown).map_err(|e| anyhow!(e))
}

#[derive(Serialize)]
struct CertificateStatus {
    #[serde(rename = "type")]
    kind: String,
    serial: String,
    #[serde(flatten)]
    status: Status,
}

/// `jpki phone status`
pub fn status(a: &PhoneDirArgs, json: bool) -> Result<()> {
    let phone = Phone::open(a)?;
    let cas = phone.services.jpki_cas().map_err(|e| anyhow!(e))?;
    let (auth_ca, sign_ca) = (&cas[0], &cas[1]);
    let rt = runtime()?;
    let http = jlis_api::status::client();
    let ask = |ca: &pki::Certificate, serial: &str| -> Result<Status> {
        let serial = hex::decode(serial).context("phone.json: a serial that is not hex")?;
        rt.block_on(jlis_api::status::ocsp_serial(&http, &phone.services.ocsp_url, ca, &serial))
            .map_err(|e| anyhow!("{e} (is the JPKI service running?)"))
    };
    let application = match &phone.record.application {
        Some(id) => Some(match rt.block_on(phone.sp()?.application(id)) {
            Ok(v) => v["state"].clone(),
            Err(e) => serde_json::Value::String(format!("not known ({e})")),
        }),
        None => None,
    };
    let card = match &phone.record.card_certificate {
        Some(serial) => {
            Some(CertificateStatus { kind: "card sign".into(), serial: serial.clone(), status: ask(sign_ca, serial)? })
        }
        None => None,
    };
    let mut certificates = Vec::new();
    for c in &phone.record.certificates {
        let ca = if c.kind == CertType::Auth { auth_ca } else { sign_ca };
        certificates.push(CertificateStatus {
            kind: c.kind.as_str().into(),
            serial: c.serial.clone(),
            status: ask(ca, &c.serial)?,
        });
    }
    if json {
        return output::json(&serde_json::json!({
            "se_identifier": phone.app.se_identifier(),
            "application": phone.record.application,
            "application_state": application,
            "card_certificate": card,
            "certificates": certificates,
            "keys_deleted": phone.record.keys_deleted,
        }));
    }
    output::line(format_args!("phone        {} (SE {})", phone.dir.path().display(), phone.app.se_identifier()))?;
    if let (Some(id), Some(state)) = (&phone.record.application, &application) {
        output::line(format_args!("application  {id}: {}", state.as_str().unwrap_or("unknown")))?;
    }
    if let Some(c) = &card {
        output::line(format_args!("card         signature certificate {}: {}", c.serial, describe(&c.status)))?;
    }
    if certificates.is_empty() {
        output::line("no phone certificates yet: apply with `jpki phone apply`")?;
    }
    if phone.record.keys_deleted {
        output::line("keys         deleted from the SE after the holder's revocation")?;
    }
    let card_revoked = matches!(card.as_ref().map(|c| &c.status), Some(Status::Revoked { .. }));
    for c in &certificates {
        let why = match &c.status {
            Status::Revoked { .. } if card_revoked => " — the card's certificate is revoked, and with it this phone's",
            Status::Revoked { reason: Some(r) } if r == "Superseded" => " — another phone applied with the same card",
            _ => "",
        };
        output::line(format_args!("{:<12} certificate {}: {}{why}", c.kind, c.serial, describe(&c.status)))?;
    }
    Ok(())
}

fn describe(s: &Status) -> String {
    match s {
        Status::Good => "good".into(),
        Status::OnHold => "on hold (一時保留)".into(),
        Status::Revoked { reason: Some(r) } => format!("revoked ({r})"),
        Status::Revoked { reason: None } => "revoked".into(),
        Status::Unknown => "unknown to the JPKI service".into(),
    }
}
