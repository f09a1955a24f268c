//! The SEI-TSM's preparation of an SE (DESIGN.md "Preparation"), as a
//! machine without I/O ([`tsm::flow`]): once the SE identifier is known
//! (read from CPLC by [`tsm::flow::ReadSeIdentifier`]), open SCP03 with the
//! ISD (keys KDF3(master, SE id)), remove what an interrupted preparation
//! left, create the SP domain with fresh initial keys, install the JPKI
//! applet and move it to that domain, and write the ARA-M rules for the
//! JPKI app's signing-certificate hashes. The result is the SP domain's
//! initial keys, for hand-over to the SP-TSM.

use apdu::{Command, StatusWord, Transport};
use gp::aids::{ISD, SD_MODULE, SD_PACKAGE};
use gp::ara::{AidRef, ApduRule, HashRef, Rule};
use gp::commands;
use gp::session::SecureSession;
use gp::{AesKey, StaticKeys};
use jpki::ap::{JPKI_PACKAGE, SP_DOMAIN};
use tsm::flow::{drive, Awaiting, Machine, OpenSession, ReadSeIdentifier, Step};
use tsm::TsmError;

const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;

/// KVN of the ISD key set the factory loads.
pub const ISD_KVN: u8 = 0x01;

/// A preparation in progress.
#[derive(Debug)]
pub struct Preparation {
    plan: Plan,
    state: State,
}

/// What the preparation writes.
#[derive(Debug)]
struct Plan {
    initial: StaticKeys,
    /// The ISD's DEK, which encrypts the initial keys.
    dek: AesKey,
    apps: Vec<Vec<u8>>,
}

#[derive(Debug)]
enum State {
    Opening(OpenSession),
    /// The DELETEs of what an interrupted preparation left.
    Clearing(Awaiting),
    /// Domain, applet, keys and rules in one script.
    Installing(Awaiting),
}

impl Preparation {
    /// Starts preparing the SE `se_identifier` whose ISD keys derive from
    /// `master`, for the apps whose signing certificates hash to
    /// `app_cert_sha256` (SHA-256).
    pub fn start(
        se_identifier: &[u8; 10],
        master: &crate::master::IsdMaster,
        app_cert_sha256: &[&[u8]],
    ) -> Result<Step<Self>, TsmError> {
        let isd_keys = master.isd_keys(ISD_KVN, se_identifier)?;
        let key = || {
            let mut k = zeroize::Zeroizing::new([0u8; 16]);
            pki::fill_random(&mut k[..]);
            k
        };
        let plan = Plan {
            initial: StaticKeys::new(tsm_api::SP_DOMAIN_KVN, &key()[..], &key()[..], &key()[..]).expect("16-byte keys"),
            dek: isd_keys.dek.clone(),
            apps: app_cert_sha256.iter().map(|h| h.to_vec()).collect(),
        };
        match OpenSession::start(ISD, isd_keys, 0x33)? {
            Step::Send(script, o) => Ok(Step::Send(script, Preparation { plan, state: State::Opening(o) })),
            Step::Done(_) => Err(TsmError::Malformed("a session opened without a round trip")),
        }
    }
}

impl Plan {
    /// What an interrupted preparation left goes first, in one round trip.
    fn clearing(self, session: Box<SecureSession>) -> Result<Step<Preparation>, TsmError> {
        let script =
            [SP_DOMAIN, JPKI_APPLET].map(|aid| ("removing what was left", commands::delete(aid, true).expect("AID")));
        let (wire, awaiting) = Awaiting::wrap(session, &script)?;
        Ok(Step::Send(wire, Preparation { plan: self, state: State::Clearing(awaiting) }))
    }

    /// The rest does not depend on any answer: one script, one round trip.
    fn installing(self, session: Box<SecureSession>) -> Result<Step<Preparation>, TsmError> {
        let (wire, awaiting) = Awaiting::wrap(session, &self.installation())?;
        Ok(Step::Send(wire, Preparation { plan: self, state: State::Installing(awaiting) }))
    }

    fn installation(&self) -> Vec<(&'static str, Command)> {
        let extradite = Command::new(0x80, 0xE6, 0x10, 0x00)
            .with_data(
                [&[SP_DOMAIN.len() as u8][..], SP_DOMAIN, &[0, JPKI_APPLET.len() as u8], JPKI_APPLET, &[0, 0, 0]]
                    .concat(),
            )
            .with_ne(256);
        let mut script = vec![
            (
                "creating the SP domain",
                commands::install_for_install(SD_PACKAGE, SD_MODULE, SP_DOMAIN, [0x80, 0, 0], &[], true).expect("AIDs"),
            ),
            ("personalizing the SP domain", commands::install_for_personalization(SP_DOMAIN).expect("AID")),
            (
                "loading the SP domain's initial keys",
                commands::store_data(0x80, 0, &commands::put_key(0, &self.initial, &self.dek).data),
            ),
            (
                "installing the JPKI applet",
                commands::install_for_install(JPKI_PACKAGE, JPKI_APPLET, JPKI_APPLET, [0, 0, 0], &[], true)
                    .expect("AIDs"),
            ),
            ("moving the JPKI applet to the SP domain", extradite),
            ("selecting the ARA-M for rules", commands::install_for_personalization(gp::aids::ARA_M).expect("AID")),
        ];
        for hash in &self.apps {
            let rule = Rule {
                aid: AidRef::Specific(JPKI_APPLET.to_vec()),
                hash: HashRef::Specific(hash.clone()),
                package: None,
                apdu: Some(ApduRule::Always),
                nfc: Some(true),
            };
            script.push(("writing the ARA-M rule", commands::store_data(0x90, 0, &gp::ara::store_rule(&rule))));
        }
        script
    }
}

impl Machine for Preparation {
    type Output = StaticKeys;

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        let Preparation { plan, state } = self;
        match state {
            State::Opening(o) => match o.answered(responses)? {
                Step::Send(script, o) => Ok(Step::Send(script, Preparation { plan, state: State::Opening(o) })),
                Step::Done(session) => plan.clearing(session),
            },
            State::Clearing(awaiting) => {
                let (removed, session) = awaiting.unwrap(responses)?;
                for r in removed {
                    if !matches!(r.sw, StatusWord::Ok | StatusWord::FileNotFound | StatusWord::ReferencedDataNotFound) {
                        return Err(TsmError::Refused {
                            step: "removing what an interrupted preparation left",
                            sw: r.sw,
                        });
                    }
                }
                plan.installing(session)
            }
            State::Installing(awaiting) => {
                awaiting.unwrap_ok(responses)?;
                Ok(Step::Done(plan.initial))
            }
        }
    }
}

/// Reads the SE identifier from CPLC over `transport` (no secure channel).
pub fn se_identifier<T: Transport + ?Sized>(transport: &mut T) -> Result<[u8; 10], TsmError> {
    drive(ReadSeIdentifier::start(), transport)
}

/// The whole preparation over `transport` (tools and tests): reads the SE
/// identifier and prepares the SE; returns the SP domain's initial keys.
pub fn prepare<T: Transport + ?Sized>(
    transport: &mut T,
    master: &AesKey,
    app_cert_sha256: &[&[u8]],
) -> Result<StaticKeys, TsmError> {
    let id = se_identifier(transport)?;
    let master = crate::master::IsdMaster::Software(master.clone());
    drive(Preparation::start(&id, &master, app_cert_sha256)?, transport)
}
