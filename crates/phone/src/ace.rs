//! The access control enforcer, as Android's (AOSP `AccessRuleCache`,
//! `AccessControlEnforcer`; gp-scp03.md §4.3–4.4): reads the ARA-M's rules,
//! keeps them while the refresh tag does not change, and decides for an app
//! (its signing-certificate hashes) and a target applet.

use apdu::{Command, Icc, Response, StatusWord};
use gp::ara::{AidRef, ApduRule, HashRef, Rule};
use se::SecureElement;

/// What an app may do on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No APDU may be sent (no channel is opened).
    Denied(String),
    /// Any APDU.
    Always,
    /// Only APDUs whose header matches one of these (header, mask) filters.
    Filtered(Vec<([u8; 4], [u8; 4])>),
}

impl Access {
    /// Whether `apdu` (as the app sent it) passes.
    pub fn allows(&self, apdu: &[u8]) -> bool {
        let Some(header) = apdu.get(..4) else { return false };
        match self {
            Access::Always => true,
            Access::Filtered(f) => {
                f.iter().any(|(h, m)| header.iter().zip(m).map(|(a, b)| a & b).eq(h.iter().copied()))
            }
            Access::Denied(_) => false,
        }
    }
}

/// The rule cache.
#[derive(Debug, Default)]
pub struct Enforcer {
    rules: Vec<Rule>,
    refresh_tag: Option<Vec<u8>>,
}

/// Errors reading the ARA-M: access is then blocked for everyone.
#[derive(Debug, thiserror::Error)]
#[error("ARA-M unreadable: {0}")]
pub struct AraUnavailable(pub String);

fn exchange(se: &mut SecureElement, cmd: &Command) -> Result<Response, AraUnavailable> {
    let raw = cmd.to_bytes().map_err(|e| AraUnavailable(e.to_string()))?;
    Response::parse(&se.process(&raw)).ok_or_else(|| AraUnavailable("short response".into()))
}

impl Enforcer {
    /// Reads the refresh tag and, if it changed, all rules (GET DATA `DF20`,
    /// then `FF40` and `FF60` until complete) on a logical channel of its own.
    pub fn refresh(&mut self, se: &mut SecureElement) -> Result<(), AraUnavailable> {
        let open = exchange(se, &Command::new(0x00, 0x70, 0x00, 0x00).with_ne(1))?;
        let ch = match (open.sw, open.data.as_slice()) {
            (StatusWord::Ok, [ch]) => *ch,
            _ => return Err(AraUnavailable(format!("no logical channel ({})", open.sw))),
        };
        let result = self.read_rules(se, ch);
        let _ = exchange(se, &Command::new(0x00, 0x70, 0x80, ch));
        result
    }

    fn read_rules(&mut self, se: &mut SecureElement, ch: u8) -> Result<(), AraUnavailable> {
        let select =
            exchange(se, &Command::new(ch, 0xA4, 0x04, 0x00).with_data(gp::ara::ARA_M_AID.to_vec()).with_ne(256))?;
        if select.sw != StatusWord::Ok {
            return Err(AraUnavailable(format!("SELECT ARA-M: {}", select.sw)));
        }
        let tag = exchange(se, &Command::new(0x80 | ch, 0xCA, 0xDF, 0x20).with_ne(256))?;
        let tag = match apdu::tlv::parse_exact(&tag.data) {
            Ok(t) if t.tag == 0xDF20 && t.value.len() == 8 => t.value.to_vec(),
            _ => return Err(AraUnavailable("refresh tag".into())),
        };
        if self.refresh_tag.as_ref() == Some(&tag) {
            return Ok(());
        }
        let first = exchange(se, &Command::new(0x80 | ch, 0xCA, 0xFF, 0x40).with_ne(256))?;
        let rules = match first.sw {
            StatusWord::ReferencedDataNotFound => vec![],
            StatusWord::Ok => {
                let mut all = first.data;
                let total = apdu::tlv::header(&all).map_err(|e| AraUnavailable(e.to_string()))?.total_len();
                while all.len() < total {
                    let next = exchange(se, &Command::new(0x80 | ch, 0xCA, 0xFF, 0x60).with_ne(256))?;
                    if next.sw != StatusWord::Ok || next.data.is_empty() {
                        return Err(AraUnavailable(format!("GET DATA NEXT: {}", next.sw)));
                    }
                    all.extend_from_slice(&next.data);
                }
                gp::ara::parse_all(&all).map_err(|e| AraUnavailable(e.to_string()))?
            }
            sw => return Err(AraUnavailable(format!("GET DATA ALL: {sw}"))),
        };
        tracing::debug!(rules = rules.len(), "access rules reloaded");
        self.rules = rules;
        self.refresh_tag = Some(tag);
        Ok(())
    }

    /// The rules in force.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decides APDU access for an app (its certificate hashes) to `aid`,
    /// in AOSP's order: (AID, hash), conflict → deny, (AID, all apps),
    /// (all AIDs, hash), conflict → deny, (all, all), else deny.
    pub fn decide(&self, aid: &[u8], hashes: &[Vec<u8>]) -> Access {
        let target = AidRef::Specific(aid.to_vec());
        let ours = |h: &HashRef| matches!(h, HashRef::Specific(v) if hashes.contains(v));
        let other = |h: &HashRef| matches!(h, HashRef::Specific(v) if !hashes.contains(v));
        for aid_ref in [target, AidRef::All] {
            let here: Vec<&Rule> = self.rules.iter().filter(|r| r.aid == aid_ref).collect();
            let mine: Vec<&Rule> = here.iter().copied().filter(|r| ours(&r.hash)).collect();
            if !mine.is_empty() {
                return merge(&mine);
            }
            if here.iter().any(|r| other(&r.hash)) {
                return Access::Denied("another app's certificate is registered for this applet".into());
            }
            let everyone: Vec<&Rule> = here.iter().copied().filter(|r| r.hash == HashRef::All).collect();
            if !everyone.is_empty() {
                return merge(&everyone);
            }
        }
        Access::Denied("no access rule for this app and applet".into())
    }
}

/// Rules under one REF-DO: a deny wins, filters add up, a missing APDU-AR-DO
/// denies.
fn merge(rules: &[&Rule]) -> Access {
    let mut filters = Vec::new();
    let mut always = false;
    for r in rules {
        match &r.apdu {
            None | Some(ApduRule::Never) => return Access::Denied("the access rule denies APDUs".into()),
            Some(ApduRule::Always) => always = true,
            Some(ApduRule::Filters(f)) => filters.extend(f.iter().copied()),
        }
    }
    if always {
        Access::Always
    } else {
        Access::Filtered(filters)
    }
}
