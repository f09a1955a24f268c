//! GlobalPlatform card content management commands (GPCS v2.3.1 ch. 11),
//! one pure constructor each, and the parsers for their data fields.

use crate::crypto::{AesKey, BlockCipher};
use crate::keys::StaticKeys;
use apdu::{tlv, Command};

/// A GP command failed to parse or to build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpError {
    /// Malformed data; the text says what.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A key check value did not match (PUT KEY, GPCS §11.8.2.3 → `69 82`).
    #[error("key check value mismatch")]
    KeyCheckValue,
    /// An AID outside 5–16 bytes.
    #[error("AIDs are 5 to 16 bytes, not {0}")]
    AidLength(usize),
}

fn lv(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(data.len() as u8);
    out.extend_from_slice(data);
    out
}

fn check_aid(aid: &[u8]) -> Result<(), GpError> {
    if (5..=16).contains(&aid.len()) {
        Ok(())
    } else {
        Err(GpError::AidLength(aid.len()))
    }
}

/// SELECT by AID `00 A4 04 00 Lc AID 00` (GPCS §11.9); an empty AID selects
/// the ISD.
pub fn select(aid: &[u8]) -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x00).with_data(aid.to_vec()).with_ne(256)
}

/// GET DATA `80 CA P1 P2 00` (GPCS §11.3): `0x9F7F` CPLC, `0x0066` card
/// data, `0x00E0` key information, `0x00C1` sequence counter.
pub fn get_data(tag: u16) -> Command {
    let [p1, p2] = tag.to_be_bytes();
    Command::new(0x80, 0xCA, p1, p2).with_ne(256)
}

/// INSTALL [for install (and make selectable)] (GPCS §11.5.2.3.2):
/// `LV(ELF) LV(module) LV(instance) LV(privileges) LV(C9 params) LV(token)`.
pub fn install_for_install(
    elf_aid: &[u8],
    module_aid: &[u8],
    instance_aid: &[u8],
    privileges: [u8; 3],
    app_params: &[u8],
    make_selectable: bool,
) -> Result<Command, GpError> {
    for aid in [elf_aid, module_aid, instance_aid] {
        check_aid(aid)?;
    }
    let params = tlv::encode(0xC9, app_params);
    let data = [lv(elf_aid), lv(module_aid), lv(instance_aid), lv(&privileges), lv(&params), lv(&[])].concat();
    let p1 = if make_selectable { 0x0C } else { 0x04 };
    Ok(Command::new(0x80, 0xE6, p1, 0x00).with_data(data).with_ne(256))
}

/// INSTALL [for make selectable] (GPCS §11.5.2.3.3).
pub fn install_for_make_selectable(aid: &[u8], privileges: [u8; 3]) -> Result<Command, GpError> {
    check_aid(aid)?;
    let data = [vec![0, 0], lv(aid), lv(&privileges), lv(&[]), lv(&[])].concat();
    Ok(Command::new(0x80, 0xE6, 0x08, 0x00).with_data(data).with_ne(256))
}

/// INSTALL [for personalization] (GPCS §11.5.2.3.6): following STORE DATA
/// commands go to `aid`.
pub fn install_for_personalization(aid: &[u8]) -> Result<Command, GpError> {
    check_aid(aid)?;
    let data = [vec![0, 0], lv(aid), vec![0, 0, 0]].concat();
    Ok(Command::new(0x80, 0xE6, 0x20, 0x00).with_data(data).with_ne(256))
}

/// The parts of an INSTALL command's data field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallData {
    /// Executable load file AID (empty for make selectable/personalization).
    pub elf_aid: Vec<u8>,
    /// Executable module AID.
    pub module_aid: Vec<u8>,
    /// Application instance AID.
    pub instance_aid: Vec<u8>,
    /// Privileges (1 or 3 bytes).
    pub privileges: Vec<u8>,
    /// Install parameters.
    pub params: Vec<u8>,
    /// Token.
    pub token: Vec<u8>,
}

/// Parses the LV fields of an INSTALL data field (any role); trailing bytes
/// or truncated fields are errors.
pub fn parse_install(data: &[u8]) -> Result<InstallData, GpError> {
    let mut rest = data;
    let mut take = || -> Result<Vec<u8>, GpError> {
        let (&len, tail) = rest.split_first().ok_or(GpError::Malformed("INSTALL field"))?;
        let len = usize::from(len);
        let field = tail.get(..len).ok_or(GpError::Malformed("INSTALL field length"))?.to_vec();
        rest = &tail[len..];
        Ok(field)
    };
    let out = InstallData {
        elf_aid: take()?,
        module_aid: take()?,
        instance_aid: take()?,
        privileges: take()?,
        params: take()?,
        token: take()?,
    };
    if !rest.is_empty() {
        return Err(GpError::Malformed("INSTALL trailing bytes"));
    }
    Ok(out)
}

/// STORE DATA `80 E2 P1 block# Lc data` (GPCS §11.11).
pub fn store_data(p1: u8, block: u8, data: &[u8]) -> Command {
    Command::new(0x80, 0xE2, p1, block).with_data(data.to_vec())
}

/// DELETE `80 E4 00 P2 Lc 4F AID 00` (GPCS §11.2); `related` also deletes
/// what depends on it (P2 = `80`).
pub fn delete(aid: &[u8], related: bool) -> Result<Command, GpError> {
    check_aid(aid)?;
    Ok(Command::new(0x80, 0xE4, 0x00, if related { 0x80 } else { 0x00 }).with_data(tlv::encode(0x4F, aid)).with_ne(256))
}

/// SET STATUS `80 F0 P1 P2 Lc AID` (GPCS §11.10).
pub fn set_status(p1: u8, state: u8, aid: &[u8]) -> Command {
    Command::new(0x80, 0xF0, p1, state).with_data(aid.to_vec())
}

/// GET STATUS `80 F2 P1 02 Lc 4F <aid> 00` (GPCS §11.4), new TLV format.
pub fn get_status(p1: u8, aid_prefix: &[u8]) -> Command {
    Command::new(0x80, 0xF2, p1, 0x02).with_data(tlv::encode(0x4F, aid_prefix)).with_ne(256)
}

/// One GET STATUS entry (`E3` template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// AID.
    pub aid: Vec<u8>,
    /// Life cycle state.
    pub life_cycle: u8,
    /// Privileges (1 or 3 bytes).
    pub privileges: Vec<u8>,
    /// Associated security domain, if listed.
    pub security_domain: Option<Vec<u8>>,
}

/// Parses a GET STATUS response (repeated `E3` templates).
pub fn parse_get_status(data: &[u8]) -> Result<Vec<RegistryEntry>, GpError> {
    let mut out = Vec::new();
    for e3 in tlv::Reader::new(data) {
        let e3 = e3.map_err(|_| GpError::Malformed("GET STATUS TLV"))?;
        if e3.tag != 0xE3 {
            return Err(GpError::Malformed("GET STATUS entry is not E3"));
        }
        let field = |tag| e3.find(tag).map_err(|_| GpError::Malformed("GET STATUS TLV"));
        let aid = field(0x4F)?.ok_or(GpError::Malformed("GET STATUS entry without AID"))?.value.to_vec();
        let life_cycle = match field(0x9F70)? {
            Some(t) if t.value.len() == 1 => t.value[0],
            _ => return Err(GpError::Malformed("GET STATUS life cycle")),
        };
        let privileges = field(0xC5)?.map(|t| t.value.to_vec()).unwrap_or_default();
        let security_domain = field(0xCC)?.map(|t| t.value.to_vec());
        out.push(RegistryEntry { aid, life_cycle, privileges, security_domain });
    }
    Ok(out)
}

/// Encodes one registry entry as GET STATUS returns it.
pub fn encode_registry_entry(e: &RegistryEntry) -> Vec<u8> {
    let mut inner =
        [tlv::encode(0x4F, &e.aid), tlv::encode(0x9F70, &[e.life_cycle]), tlv::encode(0xC5, &e.privileges)].concat();
    if let Some(sd) = &e.security_domain {
        inner.extend_from_slice(&tlv::encode(0xCC, sd));
    }
    tlv::encode(0xE3, &inner)
}

fn encrypt_key(dek: &AesKey, key: &AesKey) -> Vec<u8> {
    let mut block = key.expose().to_vec();
    if block.len() == 24 {
        block.resize(32, 0); // Amd D §6.2.8: 8 arbitrary pad bytes
    }
    BlockCipher::new(dek).cbc_encrypt([0; 16], &block)
}

/// PUT KEY `80 D8 P1 81 Lc <new KVN> {88 L keylen cgram 03 KCV}×3 00`
/// (GPCS §11.8, Amd D §7.2): the three keys of `new` encrypted under the
/// static `dek`; `replace` = the KVN replaced, or 0 to add a key set.
pub fn put_key(replace: u8, new: &StaticKeys, dek: &AesKey) -> Command {
    let mut data = vec![new.kvn];
    for key in [&new.enc, &new.mac, &new.dek] {
        let cgram = encrypt_key(dek, key);
        data.push(0x88);
        data.push((cgram.len() + 1) as u8);
        data.push(key.len() as u8);
        data.extend_from_slice(&cgram);
        data.push(0x03);
        data.extend_from_slice(&key.kcv());
    }
    Command::new(0x80, 0xD8, replace, 0x81).with_data(data).with_ne(256)
}

/// Card side of PUT KEY: decrypts and checks the three keys, returns them and
/// the response data (`KVN ‖ KCV ‖ KCV ‖ KCV`).
pub fn parse_put_key(data: &[u8], dek: &AesKey) -> Result<(StaticKeys, Vec<u8>), GpError> {
    let bad = GpError::Malformed("PUT KEY data");
    let (&kvn, mut rest) = data.split_first().ok_or(bad.clone())?;
    let mut keys = Vec::new();
    let mut response = vec![kvn];
    for _ in 0..3 {
        let [0x88, len, key_len, tail @ ..] = rest else { return Err(bad) };
        let (len, key_len) = (usize::from(*len), usize::from(*key_len));
        let cgram_len = len.checked_sub(1).ok_or(bad.clone())?;
        let cgram = tail.get(..cgram_len).ok_or(bad.clone())?;
        let [0x03, k1, k2, k3, after @ ..] = &tail[cgram_len..] else { return Err(bad) };
        let plain = BlockCipher::new(dek).cbc_decrypt([0; 16], cgram).ok_or(bad.clone())?;
        let key = AesKey::new(plain.get(..key_len).ok_or(bad.clone())?).map_err(|_| bad.clone())?;
        if key.kcv() != [*k1, *k2, *k3] {
            return Err(GpError::KeyCheckValue);
        }
        response.extend_from_slice(&[*k1, *k2, *k3]);
        keys.push(key);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(bad);
    }
    let [enc, mac, dek_new]: [AesKey; 3] = keys.try_into().map_err(|_| bad.clone())?;
    if enc.len() != mac.len() || mac.len() != dek_new.len() {
        return Err(bad);
    }
    Ok((StaticKeys { kvn, enc, mac, dek: dek_new }, response))
}

/// Card production life cycle data (GET DATA `9F7F`, 42 bytes; GPCS
/// §H.4). Only the fields openjpki uses are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cplc {
    /// The raw 42 bytes.
    pub raw: [u8; 42],
}

impl Cplc {
    /// Builds CPLC with the IC fabricator, IC type and a 4-byte IC serial
    /// number and 2-byte batch identifier; other fields zero.
    pub fn new(fabricator: [u8; 2], ic_type: [u8; 2], serial: [u8; 4], batch: [u8; 2]) -> Self {
        let mut raw = [0u8; 42];
        raw[0..2].copy_from_slice(&fabricator);
        raw[2..4].copy_from_slice(&ic_type);
        raw[12..16].copy_from_slice(&serial);
        raw[16..18].copy_from_slice(&batch);
        Self { raw }
    }

    /// Parses `9F7F 2A <42 bytes>` or the bare 42 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, GpError> {
        let body = match tlv::parse_exact(data) {
            Ok(t) if t.tag == 0x9F7F => t.value,
            _ => data,
        };
        Ok(Self { raw: body.try_into().map_err(|_| GpError::Malformed("CPLC length"))? })
    }

    /// `9F7F 2A <42 bytes>`.
    pub fn encode(&self) -> Vec<u8> {
        tlv::encode(0x9F7F, &self.raw)
    }

    /// IC fabricator ‖ IC type ‖ IC serial ‖ IC batch: the SE identifier
    /// openjpki's TSMs key their records on (10 bytes, also the KDD).
    pub fn se_identifier(&self) -> [u8; 10] {
        let mut id = [0u8; 10];
        id[0..4].copy_from_slice(&self.raw[0..4]);
        id[4..10].copy_from_slice(&self.raw[12..18]);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_key_matches_the_constructed_example() {
        // gp-scp03.md §2.2: new keys 16×11, 16×22, 16×33 as KVN 2A under the pySim DEK.
        let dek = AesKey::new(&hex::decode("202122232425262728292a2b2c2d2e2f").unwrap()).unwrap();
        let new = StaticKeys::new(0x2A, &[0x11; 16], &[0x22; 16], &[0x33; 16]).unwrap();
        let cmd = put_key(0x00, &new, &dek);
        let expected =
            "80D80081462A88111069EF0C06CA2299DE5E0EE0B9654C35D7030985428811107DB08C82905D0FE08EE48E9247A89CDC03C65591\
                        8811103676D9722B8DACAC4B8FF1AA0377054F035F8AF9";
        let bytes = cmd.to_bytes().unwrap();
        assert_eq!(hex::encode_upper(&bytes[..bytes.len() - 1]), expected);
        let (keys, response) = parse_put_key(&cmd.data, &dek).unwrap();
        assert_eq!(keys, new);
        assert_eq!(hex::encode_upper(response), "2A098542C655915F8AF9");
        let mut bad = cmd.data.clone();
        bad[5] ^= 1;
        assert_eq!(parse_put_key(&bad, &dek), Err(GpError::KeyCheckValue));
        assert!(parse_put_key(&cmd.data[..20], &dek).is_err());
    }

    #[test]
    fn get_status_vector_from_globalplatformpro() {
        let data = hex::decode("E3144F07A00000015100009F700107C50180EA028000").unwrap();
        let entries = parse_get_status(&data).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].aid, hex::decode("A0000001510000").unwrap());
        assert_eq!(entries[0].life_cycle, 0x07);
        assert_eq!(entries[0].privileges, vec![0x80]);
        let e = RegistryEntry {
            aid: vec![1; 8],
            life_cycle: 7,
            privileges: vec![0x80, 0, 0],
            security_domain: Some(vec![2; 8]),
        };
        assert_eq!(parse_get_status(&encode_registry_entry(&e)).unwrap(), vec![e]);
        assert!(parse_get_status(&[0xE3, 0x02, 0x4F, 0x00]).is_err());
    }

    #[test]
    fn install_round_trip_and_aid_checks() {
        let cmd = install_for_install(
            &[0xA0, 0, 0, 1, 2],
            &[0xA0, 0, 0, 1, 2, 1],
            &[0xA0, 0, 0, 1, 2, 1, 1],
            [0, 0, 0],
            &[],
            true,
        )
        .unwrap();
        assert_eq!((cmd.p1, cmd.p2), (0x0C, 0x00));
        let d = parse_install(&cmd.data).unwrap();
        assert_eq!(d.instance_aid, vec![0xA0, 0, 0, 1, 2, 1, 1]);
        assert_eq!(d.params, vec![0xC9, 0x00]);
        assert!(parse_install(&[5, 1, 2]).is_err());
        assert!(install_for_make_selectable(&[1, 2], [0; 3]).is_err());
        let p = parse_install(&install_for_personalization(&[0xA0; 9]).unwrap().data).unwrap();
        assert_eq!(p.instance_aid, vec![0xA0; 9]);
    }

    #[test]
    fn cplc_identifier() {
        let c = Cplc::new([0x47, 0x90], [0xD3, 0x21], [1, 2, 3, 4], [5, 6]);
        let enc = c.encode();
        assert_eq!(&enc[..3], &[0x9F, 0x7F, 0x2A]);
        assert_eq!(Cplc::parse(&enc).unwrap(), c);
        assert_eq!(c.se_identifier(), [0x47, 0x90, 0xD3, 0x21, 1, 2, 3, 4, 5, 6]);
        assert!(Cplc::parse(&[0; 10]).is_err());
    }
}
