//! An Open Mobile API model (android.se.omapi, API 28+; gp-scp03.md §5):
//! [`SeService`] → [`Reader`] → [`Session`] → [`Channel`], with the access
//! control enforcer deciding before any channel opens and checking each
//! APDU. Apps are identities: a name and a signing certificate.

use crate::ace::{Access, Enforcer};
use apdu::{Icc, Response, StatusWord};
use se::SecureElement;
use std::sync::{Arc, Mutex};

/// An installed app: its name and the DER signing certificate the OS
/// verified at installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Package name.
    pub name: String,
    /// DER of the signing certificate.
    pub signing_certificate: Vec<u8>,
}

impl App {
    /// An app identity.
    pub fn new(name: &str, signing_certificate: Vec<u8>) -> Self {
        Self { name: name.into(), signing_certificate }
    }

    /// SHA-1 and SHA-256 of the signing certificate, as the enforcer
    /// computes them.
    pub fn certificate_hashes(&self) -> Vec<Vec<u8>> {
        vec![
            pki::HashAlg::Sha1.digest(&self.signing_certificate),
            pki::HashAlg::Sha256.digest(&self.signing_certificate),
        ]
    }
}

/// What OMAPI throws.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OmapiError {
    /// `SecurityException`: the enforcer denied access.
    #[error("access denied: {0}")]
    Security(String),
    /// `NoSuchElementException`: no applet with that AID.
    #[error("no applet with that AID")]
    NoSuchElement,
    /// `IllegalArgumentException`.
    #[error("illegal argument: {0}")]
    IllegalArgument(String),
    /// `IllegalStateException`: closed session or channel.
    #[error("{0} is closed")]
    IllegalState(&'static str),
    /// `UnsupportedOperationException` (P2 not 00/04/08/0C).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// `IOException`: the SE failed.
    #[error("SE I/O: {0}")]
    Io(String),
}

#[derive(Debug)]
struct Shared {
    se: SecureElement,
    ace: Enforcer,
}

/// The SE service (one embedded SE, reader "eSE1").
#[derive(Debug, Clone)]
pub struct SeService {
    shared: Arc<Mutex<Shared>>,
}

impl SeService {
    /// Binds the service to the phone's SE; the enforcer reads the rules.
    pub fn new(mut se: SecureElement) -> Self {
        se.power_on();
        let mut ace = Enforcer::default();
        if let Err(e) = ace.refresh(&mut se) {
            tracing::warn!(error = %e, "access rules not loaded; everything is denied until they are");
        }
        Self { shared: Arc::new(Mutex::new(Shared { se, ace })) }
    }

    /// The readers: one, `eSE1`.
    pub fn readers(&self) -> Vec<Reader> {
        vec![Reader { name: "eSE1".into(), shared: self.shared.clone() }]
    }

    /// What `app` may send after relaying a SELECT of `aid`: anything, for a
    /// security domain (its commands need its SCP03 keys); for any other
    /// applet, what the enforcer decides for that app, as for an OMAPI
    /// channel.
    pub fn relay_access(&self, aid: &[u8], app: &App) -> Access {
        let Ok(mut guard) = self.shared.lock() else { return Access::Denied("SE lock".into()) };
        let shared = &mut *guard;
        let domain = shared.se.state().entry(aid).is_some_and(|e| e.kind == se::state::Kind::SecurityDomain);
        if domain {
            return Access::Always;
        }
        match shared.ace.refresh(&mut shared.se) {
            Ok(()) => shared.ace.decide(aid, &app.certificate_hashes()),
            Err(e) => Access::Denied(e.to_string()),
        }
    }

    /// Runs `f` on the SE itself (the phone's own, privileged view: NFC
    /// routing, the TSM relay).
    pub fn with_se<T>(&self, f: impl FnOnce(&mut SecureElement) -> T) -> T {
        let mut shared = self.shared.lock().expect("SE lock");
        f(&mut shared.se)
    }
}

/// A reader.
#[derive(Debug, Clone)]
pub struct Reader {
    name: String,
    shared: Arc<Mutex<Shared>>,
}

impl Reader {
    /// `eSE1`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a session for `app`.
    pub fn open_session(&self, app: &App) -> Session {
        Session { shared: self.shared.clone(), app: app.clone(), closed: false }
    }
}

/// A session of one app.
#[derive(Debug)]
pub struct Session {
    shared: Arc<Mutex<Shared>>,
    app: App,
    closed: bool,
}

impl Session {
    /// Opens a logical channel to `aid` (`openLogicalChannel(aid, p2)`):
    /// the enforcer re-reads the rules if their refresh tag changed, decides,
    /// then the channel is opened and the applet selected.
    pub fn open_logical_channel(&self, aid: &[u8], p2: u8) -> Result<Channel, OmapiError> {
        if self.closed {
            return Err(OmapiError::IllegalState("session"));
        }
        if !(5..=16).contains(&aid.len()) {
            return Err(OmapiError::IllegalArgument("AIDs are 5 to 16 bytes".into()));
        }
        if !matches!(p2, 0x00 | 0x04 | 0x08 | 0x0C) {
            return Err(OmapiError::Unsupported(format!("P2 {p2:02X}")));
        }
        let mut guard = self.shared.lock().map_err(|_| OmapiError::Io("SE lock".into()))?;
        let shared = &mut *guard;
        let access = match shared.ace.refresh(&mut shared.se) {
            Ok(()) => shared.ace.decide(aid, &self.app.certificate_hashes()),
            Err(e) => Access::Denied(e.to_string()),
        };
        if let Access::Denied(why) = &access {
            return Err(OmapiError::Security(format!("{} may not reach applet {}: {why}", self.app.name, hex(aid))));
        }
        let se = &mut shared.se;
        let open =
            Response::parse(&se.process(&[0x00, 0x70, 0x00, 0x00, 0x01])).ok_or(OmapiError::Io("short".into()))?;
        let number = match (open.sw, open.data.as_slice()) {
            (StatusWord::Ok, [n]) => *n,
            _ => return Err(OmapiError::Io("no logical channel available".into())),
        };
        let select = [&[number, 0xA4, 0x04, p2, aid.len() as u8][..], aid, &[0x00]].concat();
        let response = se.process(&select);
        match Response::parse(&response).map(|r| r.sw) {
            Some(StatusWord::Ok) => {
                Ok(Channel { shared: self.shared.clone(), number, access, select_response: response, open: true })
            }
            _ => {
                let _ = se.process(&[0x00, 0x70, 0x80, number]);
                Err(OmapiError::NoSuchElement)
            }
        }
    }

    /// Closes the session.
    pub fn close(&mut self) {
        self.closed = true;
    }
}

/// A logical channel to an applet.
#[derive(Debug)]
pub struct Channel {
    shared: Arc<Mutex<Shared>>,
    number: u8,
    access: Access,
    select_response: Vec<u8>,
    open: bool,
}

impl Channel {
    /// The SELECT response (FCI ‖ SW).
    pub fn select_response(&self) -> &[u8] {
        &self.select_response
    }

    /// Sends an APDU (`Channel.transmit`): MANAGE CHANNEL and SELECT by DF
    /// name are refused, the enforcer's filters apply to the APDU as the app
    /// wrote it, then the service puts the channel number into CLA.
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, OmapiError> {
        if !self.open {
            return Err(OmapiError::IllegalState("channel"));
        }
        if apdu.len() < 4 {
            return Err(OmapiError::IllegalArgument("an APDU has at least 4 bytes".into()));
        }
        if apdu[1] == 0x70 || (apdu[1] == 0xA4 && apdu[2] == 0x04) {
            return Err(OmapiError::Security(
                "MANAGE CHANNEL and SELECT by DF name are reserved to the service".into(),
            ));
        }
        if !self.access.allows(apdu) {
            return Err(OmapiError::Security(format!(
                "APDU {:02X} {:02X} is not allowed by the access rule",
                apdu[0], apdu[1]
            )));
        }
        let mut cmd = apdu.to_vec();
        cmd[0] = (cmd[0] & 0xBC) | self.number;
        let mut shared = self.shared.lock().map_err(|_| OmapiError::Io("SE lock".into()))?;
        Ok(shared.se.process(&cmd))
    }

    /// Closes the channel.
    pub fn close(&mut self) {
        if self.open {
            self.open = false;
            if let Ok(mut shared) = self.shared.lock() {
                let _ = shared.se.process(&[0x00, 0x70, 0x80, self.number]);
            }
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.close();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
