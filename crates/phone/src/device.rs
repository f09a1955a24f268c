//! The phone as the JPKI flows use it: the privileged relay the TSMs talk
//! through, the JPKI app's own calls to its applet, and NFC card emulation
//! towards an external reader.

use crate::ace::Access;
use crate::omapi::{App, Channel, OmapiError, SeService};
use apdu::{Icc, Transport, TransportError};

/// AID of the JPKI applet (= the JPKI AP's).
pub const JPKI_AID: &[u8] = &jpki::ap::AID_JPKI;

/// The TSM relay of one app: forwards opaque APDUs (SCP03-wrapped) to the
/// SE's basic channel, as GP remote application management over HTTP does.
/// It sees only ciphertext and MACs.
///
/// Every APDU passes the access control enforcer with the relaying app's
/// identity (mechanism ⑦): a SELECT of a security domain is let through
/// for any app — an SD answers nothing but SCP03 without its keys
/// (mechanism ⑨) — and a SELECT of any other applet (the JPKI applet, the
/// ARA-M) only as the ARA-M rules allow that app, with their APDU filters
/// on every later command. MANAGE CHANNEL and logical channels are refused:
/// apps get those only through OMAPI.
#[derive(Debug, Clone)]
pub struct Relay {
    service: SeService,
    app: App,
    /// The applet this relay last selected on the basic channel and what
    /// the app may send to it (none yet).
    selected: Option<(Vec<u8>, Access)>,
}

impl Relay {
    /// `app`'s relay to the phone's SE.
    pub fn new(service: &SeService, app: &App) -> Self {
        Self { service: service.clone(), app: app.clone(), selected: None }
    }

    fn denied(&self, why: impl std::fmt::Display) -> TransportError {
        TransportError::backend(
            "OMAPI",
            OmapiError::Security(format!("{} may not relay this APDU: {why}", self.app.name)),
        )
    }
}

impl Transport for Relay {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Ok(cmd) = apdu::Command::parse(command) else { return Ok(vec![0x67, 0x00]) };
        if cmd.cla & 0x03 != 0 || cmd.ins == 0x70 {
            return Err(self.denied("the relay uses the basic channel only"));
        }
        if cmd.ins == 0xA4 && cmd.p1 == 0x04 {
            let access = self.service.relay_access(&cmd.data, &self.app);
            if let Access::Denied(why) = &access {
                self.selected = None;
                return Err(self.denied(why));
            }
            self.selected = Some((cmd.data.clone(), access));
            return Ok(self.service.with_se(|se| se.process(command)));
        }
        let Some((aid, access)) = &self.selected else {
            return Err(self.denied("nothing was selected through this relay"));
        };
        if !access.allows(command) {
            return Err(self.denied("not allowed by the access rule"));
        }
        // The basic channel is the SE's, not the relay's: the command goes
        // only to the applet this relay's app was admitted to.
        self.service
            .with_se(|se| (se.selected_on(0) == Some(aid.as_slice())).then(|| se.process(command)))
            .ok_or_else(|| self.denied("the basic channel was selected by someone else since; select again"))
    }
}

/// The JPKI app's channel to its applet (through OMAPI and the enforcer).
#[derive(Debug)]
pub struct JpkiApplet {
    channel: Channel,
}

/// A JPKI applet call failed.
#[derive(Debug, thiserror::Error)]
pub enum AppletError {
    /// OMAPI refused.
    #[error(transparent)]
    Omapi(#[from] OmapiError),
    /// The applet answered an error status word.
    #[error("the JPKI applet answered {0}")]
    Status(apdu::StatusWord),
}

impl JpkiApplet {
    /// Opens the app's channel to the JPKI applet.
    pub fn open(service: &SeService, app: &App) -> Result<Self, AppletError> {
        let reader = &service.readers()[0];
        Ok(Self { channel: reader.open_session(app).open_logical_channel(JPKI_AID, 0x00)? })
    }

    fn call(&mut self, apdu: &[u8]) -> Result<Vec<u8>, AppletError> {
        let raw = self.channel.transmit(apdu)?;
        let r = apdu::Response::parse(&raw).ok_or(AppletError::Status(apdu::StatusWord::NoPreciseDiagnosis))?;
        if r.sw != apdu::StatusWord::Ok {
            return Err(AppletError::Status(r.sw));
        }
        Ok(r.data)
    }

    /// Draws R in the SE and returns the commitment S = SHA-256(R).
    pub fn commitment(&mut self) -> Result<Vec<u8>, AppletError> {
        self.call(&jpki::phone_applet::commitment().to_bytes().expect("a short APDU"))
    }

    /// Sets a PIN once, offline (`jpki::PinId::Auth` or `Sign`).
    pub fn set_pin(&mut self, pin: jpki::PinId, value: &[u8]) -> Result<(), AppletError> {
        let command = jpki::phone_applet::set_pin(pin, value)
            .ok_or(AppletError::Status(apdu::StatusWord::IncorrectP1P2))?
            .to_bytes()
            .map_err(|_| AppletError::Status(apdu::StatusWord::WrongLength))?;
        self.call(&command).map(|_| ())
    }

    /// The channel, for the JPKI AP's own commands (VERIFY, READ, sign).
    pub fn channel(&mut self) -> &mut Channel {
        &mut self.channel
    }
}

impl Transport for JpkiApplet {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // The JPKI client selects the AP by AID; on an OMAPI channel the
        // applet is already selected, and apps may not SELECT by name.
        if command.len() >= 4 && command[1] == 0xA4 && command[2] == 0x04 && command.get(5..) == Some(JPKI_AID) {
            return Ok(vec![0x90, 0x00]);
        }
        self.channel.transmit(command).map_err(|e| TransportError::backend("OMAPI", e))
    }
}

/// NFC card emulation: an external reader talks to the phone, and SELECTs
/// of routed AIDs (the JPKI applet's) reach the SE; everything else — the
/// ISD, the ARA-M, unknown AIDs — answers `6A 82` as if absent. Only the
/// JPKI AP's own commands are routed (SELECT EF, READ BINARY, VERIFY,
/// CHANGE REFERENCE DATA, COMPUTE DIGITAL SIGNATURE: [`NFC_ROUTED_INS`]);
/// the phone-only commands — commitment, PIN setting — and any card
/// management answer `6D 00`: a reader held to the phone can neither draw
/// a new R nor set the PINs.
#[derive(Debug)]
pub struct NfcEmulation {
    service: SeService,
    routed_selected: bool,
}

/// The instructions NFC routes to the JPKI applet (jpki-card.md: the JPKI
/// AP's command set).
pub const NFC_ROUTED_INS: [u8; 5] = [0xA4, 0xB0, 0x20, 0x24, 0x2A];

/// The ATR a PC/SC reader synthesizes for an ISO 14443-4 card without
/// historical bytes (PC/SC part 3, 3.1.3.2.3).
pub const CONTACTLESS_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

impl NfcEmulation {
    /// Card emulation of the phone's SE, routing the JPKI AID.
    pub fn new(service: &SeService) -> Self {
        Self { service: service.clone(), routed_selected: false }
    }
}

impl Icc for NfcEmulation {
    fn atr(&self) -> Vec<u8> {
        CONTACTLESS_ATR.to_vec()
    }
    fn power_on(&mut self) {
        self.routed_selected = false;
        self.service.with_se(|se| se.reset());
    }
    fn power_off(&mut self) {
        self.power_on();
    }
    fn reset(&mut self) {
        self.power_on();
    }
    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let Ok(cmd) = apdu::Command::parse(command) else { return vec![0x67, 0x00] };
        if cmd.cla & 0x03 != 0 {
            return vec![0x68, 0x81]; // one basic channel over NFC
        }
        if cmd.ins == 0xA4 && cmd.p1 == 0x04 {
            self.routed_selected = cmd.data == JPKI_AID;
            if !self.routed_selected {
                return vec![0x6A, 0x82];
            }
        } else if !self.routed_selected {
            return vec![0x69, 0x86];
        } else if !NFC_ROUTED_INS.contains(&cmd.ins) {
            return vec![0x6D, 0x00];
        }
        self.service.with_se(|se| se.process(command))
    }
}
