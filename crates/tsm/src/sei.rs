//! The SEI-TSM's preparation of an SE (DESIGN.md "Preparation").

use gp::aids::{ISD, SD_MODULE, SD_PACKAGE};
use jpki::ap::{JPKI_PACKAGE, SP_DOMAIN};
const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;
use crate::relay::SecureSession;
use crate::TsmError;
use apdu::{StatusWord, Transport};
use gp::ara::{AidRef, ApduRule, HashRef, Rule};
use gp::commands;
use gp::{AesKey, StaticKeys};

/// KVN of the ISD key set the factory loads.
pub const ISD_KVN: u8 = 0x01;
/// KVN of the SP domain's key sets.
pub const SP_KVN: u8 = 0x30;

/// Reads the SE identifier from CPLC (GET DATA `9F7F`, no secure channel).
pub fn se_identifier<T: Transport>(transport: &mut T) -> Result<[u8; 10], TsmError> {
    let r = transport.send(&commands::select(ISD))?;
    if r.sw != StatusWord::Ok {
        return Err(TsmError::Refused { step: "selecting the ISD", sw: r.sw });
    }
    let r = transport.send(&commands::get_data(0x9F7F))?;
    if r.sw != StatusWord::Ok {
        return Err(TsmError::Refused { step: "reading CPLC", sw: r.sw });
    }
    Ok(commands::Cplc::parse(&r.data).map_err(|_| TsmError::Malformed("CPLC"))?.se_identifier())
}

/// Prepares the SE for JPKI: SP domain with fresh initial keys, the JPKI
/// applet in it, and ARA-M rules letting only the apps whose signing
/// certificates hash to `app_cert_sha256` (SHA-256) reach the applet.
/// An SP domain left by an interrupted earlier preparation is deleted first
/// (with its applet). Returns the SP domain's initial keys, for hand-over to
/// the SP-TSM.
pub fn prepare<T: Transport>(
    transport: &mut T,
    master: &AesKey,
    app_cert_sha256: &[&[u8]],
) -> Result<StaticKeys, TsmError> {
    let id = se_identifier(transport)?;
    let isd_keys = StaticKeys::diversify_kdf3(ISD_KVN, master, &id);
    let dek = isd_keys.dek.clone();
    let key = || {
        let mut k = [0u8; 16];
        pki::fill_random(&mut k);
        k
    };
    let initial = StaticKeys::new(SP_KVN, &key(), &key(), &key()).expect("16-byte keys");
    let mut isd = SecureSession::open(transport, ISD, isd_keys, 0x33)?;
    // What an interrupted preparation left goes first, in one round trip.
    let delete = [SP_DOMAIN, JPKI_APPLET].map(|aid| commands::delete(aid, true).expect("AID"));
    for removed in isd.exchange_script(&[&delete[0], &delete[1]])? {
        if !matches!(removed.sw, StatusWord::Ok | StatusWord::FileNotFound | StatusWord::ReferencedDataNotFound) {
            return Err(TsmError::Refused { step: "removing what an interrupted preparation left", sw: removed.sw });
        }
    }
    let extradite = apdu::Command::new(0x80, 0xE6, 0x10, 0x00)
        .with_data(
            [&[SP_DOMAIN.len() as u8][..], SP_DOMAIN, &[0, JPKI_APPLET.len() as u8], JPKI_APPLET, &[0, 0, 0]].concat(),
        )
        .with_ne(256);
    // The rest does not depend on any answer: one script, one round trip.
    let mut script = vec![
        (
            "creating the SP domain",
            commands::install_for_install(SD_PACKAGE, SD_MODULE, SP_DOMAIN, [0x80, 0, 0], &[], true).expect("AIDs"),
        ),
        ("personalizing the SP domain", commands::install_for_personalization(SP_DOMAIN).expect("AID")),
        (
            "loading the SP domain's initial keys",
            commands::store_data(0x80, 0, &commands::put_key(0, &initial, &dek).data),
        ),
        (
            "installing the JPKI applet",
            commands::install_for_install(JPKI_PACKAGE, JPKI_APPLET, JPKI_APPLET, [0, 0, 0], &[], true).expect("AIDs"),
        ),
        ("moving the JPKI applet to the SP domain", extradite),
        ("selecting the ARA-M for rules", commands::install_for_personalization(&gp::ara::ARA_M_AID).expect("AID")),
    ];
    for hash in app_cert_sha256 {
        let rule = Rule {
            aid: AidRef::Specific(JPKI_APPLET.to_vec()),
            hash: HashRef::Specific(hash.to_vec()),
            package: None,
            apdu: Some(ApduRule::Always),
            nfc: Some(true),
        };
        script.push(("writing the ARA-M rule", commands::store_data(0x90, 0, &gp::ara::store_rule(&rule))));
    }
    isd.run_script(&script)?;
    Ok(initial)
}
