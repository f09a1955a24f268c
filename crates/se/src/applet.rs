//! The phone's JPKI applet: the card's JPKI AP (reused from `mynacard`, with
//! token `JPKIAPGPSETOKEN` and the auth certificate behind the auth PIN),
//! plus what only the phone has:
//!
//! - over OMAPI (no secure channel): `80 C0 00 00 20` draws R (32 bytes),
//!   keeps it and returns SHA-256(R), the commitment; `80 C2 P1 80 Lc PIN`
//!   sets the auth (P1 `01`) or sign (P1 `02`) PIN once, while unset;
//! - through its security domain's secure channel at level 33 (STORE DATA
//!   after INSTALL [for personalization], see [`provision`]): read the SE
//!   identifier and R, generate a key pair on chip, write certificates,
//!   delete everything (revocation).
//!
//! PIN tries are committed to the SE file before the comparison, as on the
//! card: the JPKI AP commits through an [`mynacard::Nvm`] that writes the SE
//! file.

use crate::runtime::{Applet, SecureElement, SharedNvm};
use crate::secret::SecretBytes;
use crate::state::SeState;
use apdu::{tlv, Command, Icc, Response, StatusWord};
use jpki::phone_applet;
use pki::{HashAlg, RsaPrivateKey};
use std::sync::{Arc, Mutex};

type Sw = StatusWord;

/// Commits a JPKI AP state change by writing the whole SE file.
struct AppletNvm {
    aid: Vec<u8>,
    base: SeState,
    nvm: SharedNvm,
    out: Arc<Mutex<Option<SeState>>>,
}

impl mynacard::Nvm for AppletNvm {
    fn commit(&mut self, card: &mynacard::CardState) -> std::io::Result<()> {
        let mut out = self.out.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let mut next = out.clone().unwrap_or_else(|| self.base.clone());
        let entry = next
            .entry_mut(&self.aid)
            .and_then(|e| e.jpki.as_mut())
            .ok_or_else(|| std::io::Error::other("applet gone"))?;
        entry.card = card.clone();
        self.nvm.lock().map_err(|_| std::io::Error::other("poisoned"))?.commit(&next)?;
        *out = Some(next);
        Ok(())
    }
}

fn instance<'a>(se: &'a mut SecureElement, aid: &[u8]) -> Result<&'a mut mynacard::MynaCard, Sw> {
    if se.context_mut::<mynacard::MynaCard>(aid).is_none() {
        let card = se.state().entry(aid).and_then(|e| e.jpki.as_ref()).ok_or(Sw::FileNotFound)?.card.clone();
        let mut running = mynacard::MynaCard::in_memory(card).map_err(|_| Sw::NoPreciseDiagnosis)?;
        running.power_on();
        // Only reached while selected: a rebuilt instance starts with its AP
        // selected and no PIN verified.
        let select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec()).to_bytes().expect("short");
        running.process(&select);
        se.set_context(aid, running);
    }
    Ok(se.context_mut(aid).expect("set"))
}

/// The applet was selected on a channel: its JPKI AP is selected afresh,
/// which clears the verified PINs.
fn selected(se: &mut SecureElement, aid: &[u8]) {
    let mut select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec());
    select.ne = None;
    let _ = run_jpki_ap(se, aid, &select.to_bytes().expect("short"));
}

fn run_jpki_ap(se: &mut SecureElement, aid: &[u8], raw: &[u8]) -> Response {
    let out = Arc::new(Mutex::new(None));
    let nvm = AppletNvm { aid: aid.to_vec(), base: se.state().clone(), nvm: se.shared_nvm(), out: out.clone() };
    let response = match instance(se, aid) {
        Ok(card) => {
            card.set_nvm(Box::new(nvm));
            Response::parse(&card.process(raw)).unwrap_or_else(|| Sw::NoPreciseDiagnosis.into())
        }
        Err(sw) => sw.into(),
    };
    if let Some(next) = out.lock().ok().and_then(|mut o| o.take()) {
        se.adopt(next);
    }
    response
}

/// The JPKI applet: the card's JPKI AP, the commitment, offline PIN
/// setting, and provisioning under level 33.
#[derive(Debug)]
pub struct JpkiApplet;

impl Applet for JpkiApplet {
    fn process(&self, se: &mut SecureElement, _ch: usize, aid: &[u8], raw: &[u8], cmd: &Command) -> Response {
        handle(se, aid, raw, cmd)
    }

    fn selected(&self, se: &mut SecureElement, aid: &[u8]) {
        selected(se, aid)
    }

    /// Provisioning: only at level 33 (mechanism ⑨).
    fn personalize(&self, se: &mut SecureElement, aid: &[u8], data: &[u8], level: u8) -> Result<Response, StatusWord> {
        if level != 0x33 {
            return Err(Sw::SecurityStatusNotSatisfied);
        }
        store_data(se, aid, data)
    }
}

fn handle(se: &mut SecureElement, aid: &[u8], raw: &[u8], cmd: &Command) -> Response {
    match (cmd.cla & !0x03, cmd.ins) {
        (phone_applet::CLA, phone_applet::INS_COMMITMENT) => commitment(se, aid, cmd).unwrap_or_else(Response::status),
        (phone_applet::CLA, phone_applet::INS_SET_PIN) => {
            set_pin(se, aid, cmd).map(|_| Response::status(Sw::Ok)).unwrap_or_else(Response::status)
        }
        _ => {
            // The JPKI AP sees the command with the channel bits cleared.
            let mut plain = raw.to_vec();
            plain[0] &= !0x03;
            run_jpki_ap(se, aid, &plain)
        }
    }
}

fn commitment(se: &mut SecureElement, aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    if (cmd.p1, cmd.p2) != (0, 0) {
        return Err(Sw::IncorrectP1P2);
    }
    if !cmd.data.is_empty() {
        return Err(Sw::WrongLength);
    }
    let mut r = zeroize::Zeroizing::new([0u8; 32]);
    pki::fill_random(&mut r[..]);
    let s = HashAlg::Sha256.digest(&r[..]);
    se.transact_applet(aid, |a| {
        a.commitment = SecretBytes::new(&r[..]);
        Ok(())
    })?;
    Ok(Response::new(s, Sw::Ok))
}

fn set_pin(se: &mut SecureElement, aid: &[u8], cmd: &Command) -> Result<(), Sw> {
    let pin = phone_applet::set_pin_target(cmd.p1, cmd.p2).ok_or(Sw::IncorrectP1P2)?;
    let text = std::str::from_utf8(&cmd.data).map_err(|_| Sw::IncorrectData)?;
    let value = pin.normalize(text).map_err(|_| Sw::IncorrectData)?;
    if value.as_slice() != cmd.data.as_slice() {
        return Err(Sw::IncorrectData);
    }
    se.transact_applet(aid, |a| {
        let stored = a.card.pin_mut(pin).ok_or(Sw::ReferencedDataNotFound)?;
        if stored.is_set() {
            return Err(Sw::ConditionsNotSatisfied); // set once; change it with the old one
        }
        *stored = mynacard::PinState::new(pin, mynacard::Secret::new(value.to_vec()));
        Ok(())
    })
}

/// Provisioning data objects in STORE DATA (docs/decisions/se-provisioning.md).
pub use jpki::phone_applet::provision;

/// Attests the key generated in the slot (`auth` or sign): a certificate for
/// it signed by the SE's attestation key, binding it to this SE, the applet,
/// the slot and the commitment S = SHA-256(R). `6A 88` without a key there,
/// `69 85` without R or without an attestation key.
fn attest_generated_key(se: &mut SecureElement, aid: &[u8], auth: bool) -> Result<Response, Sw> {
    let state = se.state();
    let id = state.se_identifier();
    let ak = state.attestation.as_ref().ok_or(Sw::ConditionsNotSatisfied)?;
    let applet = state.entry(aid).and_then(|e| e.jpki.as_ref()).ok_or(Sw::FileNotFound)?;
    let j = &applet.card.jpki;
    let key = if auth { &j.auth_key } else { &j.sign_key };
    if key.expose().is_empty() {
        return Err(Sw::ReferencedDataNotFound);
    }
    let r = applet.commitment.expose();
    if r.is_empty() {
        return Err(Sw::ConditionsNotSatisfied);
    }
    let spki = RsaPrivateKey::from_pkcs8_der(key.expose()).map_err(|_| Sw::NoPreciseDiagnosis)?.public_key_der();
    let signer = attest::ec::EcKey::from_pkcs8(ak.key.expose()).map_err(|_| Sw::NoPreciseDiagnosis)?;
    let name = format!("openjpki SE attestation {}", hex::encode_upper(id));
    let authority = attest::x509::Authority::from_parts(&name, signer, ak.certificate.0.clone());
    let attesting = attest::se_key::SeAttestationKey { authority, issuer_root: ak.issuer_root.0.clone() };
    let slot = if auth { attest::se_key::KeySlot::Auth } else { attest::se_key::KeySlot::Sign };
    let chain =
        attesting.attest(&spki, &id, aid, slot, &HashAlg::Sha256.digest(r)).map_err(|_| Sw::NoPreciseDiagnosis)?;
    Ok(Response::new(chain.concat(), Sw::Ok))
}

/// Handles one provisioning STORE DATA for the applet `aid`.
fn store_data(se: &mut SecureElement, aid: &[u8], data: &[u8]) -> Result<Response, Sw> {
    use provision::*;
    let t = tlv::parse_exact(data).map_err(|_| Sw::IncorrectData)?;
    let typed = |v: &[u8]| -> Result<(bool, Vec<u8>), Sw> {
        match v.split_first() {
            Some((&TYPE_AUTH, rest)) => Ok((true, rest.to_vec())),
            Some((&TYPE_SIGN, rest)) => Ok((false, rest.to_vec())),
            _ => Err(Sw::IncorrectData),
        }
    };
    match t.tag {
        READ_IDENTITY => {
            let id = se.state().se_identifier();
            let applet = se.state().entry(aid).and_then(|e| e.jpki.as_ref()).ok_or(Sw::FileNotFound)?;
            if applet.commitment.expose().is_empty() {
                return Err(Sw::ConditionsNotSatisfied);
            }
            Ok(Response::new([&id[..], applet.commitment.expose()].concat(), Sw::Ok))
        }
        GENERATE_KEY => {
            let (auth, rest) = typed(t.value)?;
            if !rest.is_empty() {
                return Err(Sw::IncorrectData);
            }
            let key = RsaPrivateKey::generate_2048().map_err(|_| Sw::NoPreciseDiagnosis)?;
            let spki = key.public_key_der();
            let pkcs8 = mynacard::Secret::new(key.to_pkcs8_der().to_vec());
            se.transact_applet(aid, |a| {
                let j = &mut a.card.jpki;
                if auth {
                    (j.auth_key, j.auth_cert) = (pkcs8, vec![]);
                } else {
                    (j.sign_key, j.sign_cert) = (pkcs8, vec![]);
                }
                Ok(())
            })?;
            Ok(Response::new(spki, Sw::Ok))
        }
        WRITE_CERT | WRITE_CA_CERT => {
            let (auth, der) = typed(t.value)?;
            let cert = pki::cert::parse_certificates(&der).map_err(|_| Sw::IncorrectData)?;
            if der.first() != Some(&0x30) || cert.len() != 1 {
                return Err(Sw::IncorrectData);
            }
            let public = pki::cert::public_key_der(&cert[0]).map_err(|_| Sw::IncorrectData)?;
            se.transact_applet(aid, |a| {
                let j = &mut a.card.jpki;
                let key = if auth { &j.auth_key } else { &j.sign_key };
                if t.tag == WRITE_CERT {
                    // The certificate must certify the key generated here.
                    let ours = RsaPrivateKey::from_pkcs8_der(key.expose()).map_err(|_| Sw::ConditionsNotSatisfied)?;
                    if ours.public_key_der() != public {
                        return Err(Sw::IncorrectData);
                    }
                    if auth {
                        j.auth_cert = der.clone()
                    } else {
                        j.sign_cert = der.clone()
                    }
                } else if auth {
                    j.auth_ca_cert = der.clone();
                } else {
                    j.sign_ca_cert = der.clone();
                }
                Ok(())
            })?;
            Ok(Response::status(Sw::Ok))
        }
        ATTEST_KEY => {
            let (auth, rest) = typed(t.value)?;
            if !rest.is_empty() {
                return Err(Sw::IncorrectData);
            }
            attest_generated_key(se, aid, auth)
        }
        DELETE_ALL if t.value.is_empty() => {
            se.transact_applet(aid, |a| {
                *a = crate::state::PhoneJpki::new();
                Ok(())
            })?;
            Ok(Response::status(Sw::Ok))
        }
        _ => Err(Sw::IncorrectData),
    }
}
