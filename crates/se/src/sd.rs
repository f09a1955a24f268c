//! A security domain's commands (GPCS ch. 11, Amd D ch. 7): the SCP03
//! handshake, then card content management inside the secure channel.
//!
//! Rules: without an open session only GET DATA (CPLC, key information,
//! sequence counter) is answered; content management needs C-MAC, key and
//! sensitive data also C-DEC; an SD manages only what is associated with it;
//! any secure messaging failure aborts the session (`69 82`).

use crate::runtime::{Applet, SecureElement};
use crate::state::{lcs, rom, Entry, KeySet, Kind, SeState};
use apdu::{tlv, Command, Response, StatusWord};
use gp::card::{CardConfig, CardSession};
use gp::level;

type Sw = StatusWord;

/// A security domain (the ISD and SSDs): the built-in SD module.
#[derive(Debug)]
pub(crate) struct SecurityDomain;

impl Applet for SecurityDomain {
    fn process(&self, se: &mut SecureElement, ch: usize, aid: &[u8], raw: &[u8], cmd: &Command) -> Response {
        handle(se, ch, aid, raw, cmd)
    }
}

fn handle(se: &mut SecureElement, ch: usize, sd_aid: &[u8], raw: &[u8], cmd: &Command) -> Response {
    match (cmd.cla & !0x03, cmd.ins) {
        (0x00, 0xA4) => return Sw::IncorrectP1P2.into(),
        (0x80, 0x50) => return initialize_update(se, ch, sd_aid, cmd),
        (0x84, 0x82) => {
            let chan = se.channel_mut(ch);
            return chan.scp.external_authenticate(raw);
        }
        _ => {}
    }
    let chan = se.channel_mut(ch);
    let (plain, level) = match &chan.scp {
        CardSession::Open(_) => match chan.scp.unwrap_command(raw) {
            Ok(plain) => {
                let level = chan.scp.level().unwrap_or(0);
                (plain, level)
            }
            Err(e) => {
                tracing::warn!(error = %e, "secure channel aborted");
                return Sw::SecurityStatusNotSatisfied.into();
            }
        },
        CardSession::Aborted => return Sw::SecurityStatusNotSatisfied.into(),
        _ => (cmd.clone(), 0),
    };
    let response = execute(se, ch, sd_aid, &plain, level);
    let wire = se.channel(ch).scp.wrap_response(&response);
    Response::parse(&wire).expect("a status word at least")
}

fn initialize_update(se: &mut SecureElement, ch: usize, sd_aid: &[u8], cmd: &Command) -> Response {
    let config = CardConfig { i: 0x70, kdd: se.state().se_identifier(), sd_aid: sd_aid.to_vec() };
    let kvn = cmd.p1;
    let key_set = se.state().entry(sd_aid).and_then(|e| e.key_set(kvn)).cloned();
    let Some(key_set) = key_set else {
        se.channel_mut(ch).scp.reset();
        return Sw::ReferencedDataNotFound.into();
    };
    let keys = key_set.static_keys();
    let mut sequence = key_set.sequence;
    let mut session = CardSession::default();
    let response = session.initialize_update(cmd, &config, Some(&keys), &mut sequence, || [0; 8]);
    if response.sw != Sw::Ok {
        return response;
    }
    // The counter is durable before the challenge that depends on it leaves.
    let committed = se.transact(|s| {
        let entry = s.entry_mut(sd_aid).ok_or(Sw::FileNotFound)?;
        let set = entry.key_sets.iter_mut().find(|k| k.kvn == keys.kvn).ok_or(Sw::ReferencedDataNotFound)?;
        set.sequence = sequence;
        Ok(())
    });
    let chan = se.channel_mut(ch);
    match committed {
        Ok(()) => {
            chan.scp = session;
            response
        }
        Err(sw) => {
            chan.scp.reset();
            sw.into()
        }
    }
}

fn require(level_now: u8, bits: u8) -> Result<(), Sw> {
    if level_now & bits == bits {
        Ok(())
    } else {
        Err(Sw::SecurityStatusNotSatisfied)
    }
}

fn execute(se: &mut SecureElement, ch: usize, sd_aid: &[u8], cmd: &Command, lvl: u8) -> Response {
    let result = match (cmd.cla & !0x07, cmd.ins) {
        (0x80, 0xCA) => get_data(se, sd_aid, cmd),
        _ if lvl & level::C_MAC == 0 => Err(Sw::SecurityStatusNotSatisfied),
        (0x80, 0xF2) => get_status(se, sd_aid, cmd),
        (0x80, 0xE6) => install(se, ch, sd_aid, cmd),
        (0x80, 0xE2) => require(lvl, level::C_DEC).and_then(|_| store_data(se, ch, sd_aid, cmd, lvl)),
        (0x80, 0xD8) => require(lvl, level::C_DEC).and_then(|_| put_key(se, sd_aid, cmd)),
        (0x80, 0xE4) => delete(se, sd_aid, cmd),
        (0x80, 0xF0) => set_status(se, sd_aid, cmd),
        _ => Err(Sw::InsNotSupported),
    };
    result.unwrap_or_else(Response::status)
}

fn get_data(se: &SecureElement, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    let entry = se.state().entry(sd_aid).ok_or(Sw::FileNotFound)?;
    let data = match u16::from_be_bytes([cmd.p1, cmd.p2]) {
        0x9F7F => tlv::encode(0x9F7F, &se.state().cplc),
        0x00E0 => {
            let info: Vec<u8> = entry
                .key_sets
                .iter()
                .flat_map(|k| {
                    let len = k.keys[0].expose().len() as u8;
                    (1u8..=3).flat_map(move |id| tlv::encode(0xC0, &[id, k.kvn, 0x88, len]))
                })
                .collect();
            tlv::encode(0xE0, &info)
        }
        0x00C1 => {
            let seq = entry.key_sets.first().map_or(0, |k| k.sequence);
            tlv::encode(0xC1, &seq.to_be_bytes()[1..])
        }
        0x0066 => tlv::encode(
            0x66,
            &tlv::encode(0x73, &tlv::encode(0x64, &[0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xFC, 0x6B, 0x04, 0x03, 0x70])),
        ),
        _ => return Err(Sw::ReferencedDataNotFound),
    };
    Ok(Response::new(data, Sw::Ok))
}

/// Whether `entry` is visible to / managed by the SD `sd_aid` (the ISD sees
/// everything).
fn managed_by(entry: &Entry, sd_aid: &[u8]) -> bool {
    sd_aid == rom::ISD_AID || entry.security_domain == sd_aid
}

fn get_status(se: &SecureElement, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    if cmd.p2 & 0x02 == 0 {
        return Err(Sw::IncorrectP1P2);
    }
    let filter = tlv::parse_exact(&cmd.data).ok().filter(|t| t.tag == 0x4F).ok_or(Sw::IncorrectData)?.value.to_vec();
    let entries: Vec<&Entry> = match cmd.p1 {
        0x80 => se.state().registry.iter().filter(|e| e.aid == rom::ISD_AID).collect(),
        0x40 => se.state().registry.iter().filter(|e| e.aid != rom::ISD_AID && managed_by(e, sd_aid)).collect(),
        0x20 | 0x10 => vec![],
        _ => return Err(Sw::IncorrectP1P2),
    };
    let data: Vec<u8> = entries
        .into_iter()
        .filter(|e| e.aid.starts_with(&filter))
        .flat_map(|e| {
            let lcs = if e.aid == rom::ISD_AID { se.state().card_life_cycle } else { e.life_cycle };
            gp::commands::encode_registry_entry(&gp::commands::RegistryEntry {
                aid: e.aid.clone(),
                life_cycle: lcs,
                privileges: e.privileges.clone(),
                security_domain: Some(e.security_domain.clone()),
            })
        })
        .collect();
    if data.is_empty() {
        return Err(Sw::ReferencedDataNotFound);
    }
    Ok(Response::new(data, Sw::Ok))
}

fn install(se: &mut SecureElement, ch: usize, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    let d = gp::commands::parse_install(&cmd.data).map_err(|_| Sw::IncorrectData)?;
    if !d.token.is_empty() {
        return Err(Sw::IncorrectData); // no delegated management here: a token must not be sent
    }
    let done = Response::new(vec![0x00], Sw::Ok);
    match cmd.p1 & 0x7F {
        0x04 | 0x0C => {
            let selectable = cmd.p1 & 0x08 != 0;
            let kind = match (d.elf_aid.as_slice(), d.module_aid.as_slice()) {
                (rom::SD_PACKAGE, rom::SD_MODULE) => Kind::SecurityDomain,
                (rom::JPKI_PACKAGE, rom::JPKI_MODULE) => Kind::Applet,
                _ => return Err(Sw::ReferencedDataNotFound),
            };
            if !(5..=16).contains(&d.instance_aid.len()) || !matches!(d.privileges.len(), 1 | 3) {
                return Err(Sw::IncorrectData);
            }
            let mut privileges = d.privileges.clone();
            privileges.resize(3, 0);
            if kind == Kind::SecurityDomain && privileges[0] & 0x80 == 0 {
                return Err(Sw::IncorrectData);
            }
            se.transact(|s| {
                if s.entry(&d.instance_aid).is_some() {
                    return Err(Sw::IncorrectData);
                }
                s.registry.push(Entry {
                    aid: d.instance_aid.clone(),
                    kind: kind.clone(),
                    life_cycle: if selectable { lcs::SELECTABLE } else { lcs::INSTALLED },
                    privileges,
                    security_domain: sd_aid.to_vec(),
                    key_sets: vec![],
                    jpki: (kind == Kind::Applet).then(crate::state::PhoneJpki::new),
                });
                Ok(())
            })?;
            Ok(done)
        }
        0x08 => {
            se.transact(|s| {
                let e = s.entry_mut(&d.instance_aid).ok_or(Sw::ReferencedDataNotFound)?;
                if !managed_by(e, sd_aid) || e.life_cycle != lcs::INSTALLED {
                    return Err(Sw::ConditionsNotSatisfied);
                }
                e.life_cycle = lcs::SELECTABLE;
                Ok(())
            })?;
            Ok(done)
        }
        0x10 => {
            // Extradition (GPCS §11.5.2.3.5): LV(target SD) 00 LV(application) …
            let target_sd = d.elf_aid;
            if se.state().entry(&target_sd).map(|e| e.kind.clone()) != Some(Kind::SecurityDomain) {
                return Err(Sw::ReferencedDataNotFound);
            }
            se.transact(|s| {
                let e = s.entry_mut(&d.instance_aid).ok_or(Sw::ReferencedDataNotFound)?;
                if !managed_by(e, sd_aid) || e.kind != Kind::Applet {
                    return Err(Sw::ConditionsNotSatisfied);
                }
                e.security_domain = target_sd.clone();
                Ok(())
            })?;
            Ok(done)
        }
        0x20 => {
            let target = se.state().entry(&d.instance_aid).ok_or(Sw::ReferencedDataNotFound)?;
            // An applet is personalized only by its own security domain: after
            // extradition the ISD's owner cannot reach the JPKI applet.
            let own = target.kind == Kind::Applet && target.security_domain == sd_aid;
            if !(own || target.kind != Kind::Applet && managed_by(target, sd_aid)) || target.aid == sd_aid {
                return Err(Sw::ConditionsNotSatisfied);
            }
            se.channel_mut(ch).perso_target = Some(d.instance_aid);
            Ok(done)
        }
        _ => Err(Sw::IncorrectP1P2),
    }
}

/// STORE DATA after INSTALL [for personalization]: for an SSD, its initial
/// key set in PUT KEY format encrypted under this SD's Key-DEK
/// (docs/decisions/se-provisioning.md); for another application, forwarded
/// to it (the ARA-M's rules, the JPKI applet's provisioning).
fn store_data(se: &mut SecureElement, ch: usize, sd_aid: &[u8], cmd: &Command, lvl: u8) -> Result<Response, Sw> {
    let target = se.channel(ch).perso_target.clone().ok_or(Sw::ConditionsNotSatisfied)?;
    let kind = se.state().entry(&target).ok_or(Sw::ReferencedDataNotFound)?.kind.clone();
    match kind {
        Kind::SecurityDomain => {
            let dek = current_dek(se, ch, sd_aid)?;
            let (keys, kcvs) = gp::commands::parse_put_key(&cmd.data, &dek).map_err(|e| match e {
                gp::commands::GpError::KeyCheckValue => Sw::SecurityStatusNotSatisfied,
                _ => Sw::IncorrectData,
            })?;
            se.transact(|s| {
                let e = s.entry_mut(&target).ok_or(Sw::ReferencedDataNotFound)?;
                e.key_sets = vec![KeySet::new(&keys)];
                if e.life_cycle == lcs::INSTALLED {
                    e.life_cycle = lcs::SELECTABLE;
                }
                Ok(())
            })?;
            Ok(Response::new(kcvs, Sw::Ok))
        }
        Kind::AraM | Kind::Applet => se.personalize(&target, &cmd.data, lvl),
    }
}

/// The static Key-DEK of the key set this channel's session was opened with
/// (GP: sensitive data is encrypted under the static DEK).
fn current_dek(se: &SecureElement, _ch: usize, sd_aid: &[u8]) -> Result<gp::AesKey, Sw> {
    let entry = se.state().entry(sd_aid).ok_or(Sw::FileNotFound)?;
    let set = entry.key_sets.first().ok_or(Sw::ReferencedDataNotFound)?;
    Ok(set.static_keys().dek)
}

/// PUT KEY (GPCS §11.8): P1 = KVN replaced or 0 to add; P2 = 81 (key 1,
/// several keys). Applied atomically; the response is KVN ‖ KCVs.
fn put_key(se: &mut SecureElement, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    if cmd.p2 != 0x81 {
        return Err(Sw::IncorrectP1P2);
    }
    let replace = cmd.p1 & 0x7F;
    let entry = se.state().entry(sd_aid).ok_or(Sw::FileNotFound)?;
    let dek = entry.key_sets.first().ok_or(Sw::ReferencedDataNotFound)?.static_keys().dek;
    let (keys, response) = gp::commands::parse_put_key(&cmd.data, &dek).map_err(|e| match e {
        gp::commands::GpError::KeyCheckValue => Sw::SecurityStatusNotSatisfied,
        _ => Sw::IncorrectData,
    })?;
    se.transact(|s: &mut SeState| {
        let e = s.entry_mut(sd_aid).ok_or(Sw::FileNotFound)?;
        if e.key_sets.first().is_some_and(|k| k.keys[0].expose().len() != keys.key_len()) {
            return Err(Sw::IncorrectData); // a replacement keeps type and size
        }
        if replace == 0 {
            if e.key_sets.iter().any(|k| k.kvn == keys.kvn) {
                return Err(Sw::IncorrectData);
            }
            e.key_sets.push(KeySet::new(&keys));
        } else {
            let i = e.key_sets.iter().position(|k| k.kvn == replace).ok_or(Sw::ReferencedDataNotFound)?;
            e.key_sets[i] = KeySet::new(&keys);
        }
        Ok(())
    })?;
    Ok(Response::new(response, Sw::Ok))
}

fn delete(se: &mut SecureElement, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    let t = tlv::parse_exact(&cmd.data).map_err(|_| Sw::IncorrectData)?;
    if t.tag != 0x4F {
        return Err(Sw::IncorrectData);
    }
    let aid = t.value.to_vec();
    se.transact(|s| {
        let e = s.entry(&aid).ok_or(Sw::FileNotFound)?;
        if aid == rom::ISD_AID || aid == sd_aid || e.kind == Kind::AraM || !managed_by(e, sd_aid) {
            return Err(Sw::ConditionsNotSatisfied);
        }
        let dependants = s.registry.iter().any(|d| d.security_domain == aid && d.aid != aid);
        if dependants && cmd.p2 != 0x80 {
            return Err(Sw::ConditionsNotSatisfied);
        }
        s.registry.retain(|d| d.aid != aid && d.security_domain != aid);
        Ok(())
    })?;
    Ok(Response::new(vec![0x00], Sw::Ok))
}

fn set_status(se: &mut SecureElement, sd_aid: &[u8], cmd: &Command) -> Result<Response, Sw> {
    se.transact(|s| {
        match cmd.p1 {
            0x80 => {
                if sd_aid != rom::ISD_AID {
                    return Err(Sw::ConditionsNotSatisfied);
                }
                let (from, to) = (s.card_life_cycle, cmd.p2);
                let allowed = matches!(
                    (from, to),
                    (lcs::SECURED, lcs::CARD_LOCKED) | (lcs::CARD_LOCKED, lcs::SECURED) | (_, lcs::TERMINATED)
                ) && from != to;
                if !allowed {
                    return Err(Sw::IncorrectData);
                }
                s.card_life_cycle = to;
            }
            0x40 | 0x60 => {
                let e = s.entry_mut(&cmd.data).ok_or(Sw::ReferencedDataNotFound)?;
                if !managed_by(e, sd_aid) || e.aid == rom::ISD_AID {
                    return Err(Sw::ConditionsNotSatisfied);
                }
                let next = match cmd.p2 {
                    0x80 => e.life_cycle | lcs::LOCKED_BIT,
                    0x00 => e.life_cycle & !lcs::LOCKED_BIT,
                    _ => return Err(Sw::IncorrectData),
                };
                if next == e.life_cycle {
                    return Err(Sw::IncorrectData);
                }
                e.life_cycle = next;
            }
            _ => return Err(Sw::IncorrectP1P2),
        }
        Ok(())
    })?;
    Ok(Response::status(Sw::Ok))
}
