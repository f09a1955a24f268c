//! The ARA-M applet (GPD_SPE_013): answers the phone's access control
//! enforcer without a secure channel (GET DATA ALL / NEXT / refresh tag);
//! its rules change only through STORE DATA forwarded by the ISD inside the
//! SEI-TSM's secure channel (docs/decisions/se-provisioning.md).

use crate::runtime::{Applet, SecureElement};
use crate::state::{HexBytesExt, SeState};
use apdu::{tlv, Command, Response, StatusWord};
use gp::ara::Rule;

/// Most data returned per GET DATA.
const CHUNK: usize = 255;

/// The ARA-M.
#[derive(Debug)]
pub(crate) struct AraM;

impl Applet for AraM {
    fn process(&self, se: &mut SecureElement, ch: usize, _aid: &[u8], _raw: &[u8], cmd: &Command) -> Response {
        handle(se, ch, cmd)
    }

    /// A rule command DO, from the ISD's secure channel.
    fn personalize(
        &self,
        se: &mut SecureElement,
        _aid: &[u8],
        data: &[u8],
        _level: u8,
    ) -> Result<Response, StatusWord> {
        se.transact(|s| apply_command(s, data))?;
        Ok(Response::status(StatusWord::Ok))
    }
}

fn handle(se: &mut SecureElement, ch: usize, cmd: &Command) -> Response {
    if cmd.cla & !0x03 != 0x80 || cmd.ins != 0xCA {
        return if cmd.ins == 0xE2 { StatusWord::SecurityStatusNotSatisfied } else { StatusWord::InsNotSupported }
            .into();
    }
    match (cmd.p1, cmd.p2) {
        (0xFF, 0x40) => {
            if se.state().ara_rules.is_empty() {
                return StatusWord::ReferencedDataNotFound.into();
            }
            let rules: Vec<u8> = se.state().ara_rules.iter().flat_map(|r| r.0.clone()).collect();
            let chan = se.channel_mut(ch);
            chan.pending = tlv::encode(0xFF40, &rules);
            next_chunk(&mut chan.pending, cmd.ne.unwrap_or(CHUNK))
        }
        (0xFF, 0x60) => {
            let chan = se.channel_mut(ch);
            if chan.pending.is_empty() {
                return StatusWord::ConditionsNotSatisfied.into();
            }
            next_chunk(&mut chan.pending, cmd.ne.unwrap_or(CHUNK))
        }
        (0xDF, 0x20) => Response::new(tlv::encode(0xDF20, &se.state().refresh_tag), StatusWord::Ok),
        _ => StatusWord::ReferencedDataNotFound.into(),
    }
}

fn next_chunk(pending: &mut Vec<u8>, ne: usize) -> Response {
    let n = pending.len().min(ne.min(CHUNK));
    let chunk: Vec<u8> = pending.drain(..n).collect();
    Response::new(chunk, StatusWord::Ok)
}

/// Applies a rule command DO (`F0` store, `F1` delete) and changes the
/// refresh tag so that phones re-read the rules.
fn apply_command(s: &mut SeState, data: &[u8]) -> Result<(), StatusWord> {
    let t = tlv::parse_exact(data).map_err(|_| StatusWord::IncorrectData)?;
    match t.tag {
        0xF0 => {
            let rule = Rule::parse(t.value).map_err(|_| StatusWord::IncorrectData)?;
            let encoded = rule.encode();
            s.ara_rules.retain(|r| {
                Rule::parse(&r.0)
                    .map(|old| (old.aid, old.hash) != (rule.aid.clone(), rule.hash.clone()))
                    .unwrap_or(true)
            });
            s.ara_rules.push(encoded.into_hex());
        }
        0xF1 if t.value.is_empty() => s.ara_rules.clear(),
        _ => return Err(StatusWord::IncorrectData),
    }
    let tag = u64::from_be_bytes(s.refresh_tag.clone().try_into().unwrap_or([0; 8])).wrapping_add(1);
    s.refresh_tag = tag.to_be_bytes().to_vec();
    Ok(())
}
