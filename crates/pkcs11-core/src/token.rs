//! A JPKI card or phone bound to a slot pair: its certificates, the PIN
//! state of its two tokens, and signing (fact sheet §2.3, decisions in
//! docs/pkcs11.md).
//!
//! The card keeps one VERIFY state for both PINs, lost when the JPKI AP is
//! selected again or the card reset. So the module keeps the login state
//! of each token itself; the 4-digit authentication PIN is kept (zeroized
//! on logout) to verify again after the AP is re-selected, the signature
//! password never is.

use crate::device::{is_removal, Link};
use crate::objects::{self, CertFacts, Kind, Object, Role};
use crate::rv::{self, Result, Rv};
use cryptoki_sys::*;
use jpki::{CertType, JpkiCard, PinId, TokenKind};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// A bound token.
pub struct Card {
    card: JpkiCard<Link>,
    /// What EF 0006 says it is.
    pub kind: TokenKind,
    certs: HashMap<CertType, CertFacts>,
    /// The authentication PIN while its token is logged in.
    auth_pin: Option<Zeroizing<String>>,
    sign_logged_in: bool,
    /// A fresh `CKU_USER` login of the signature token authorises one
    /// signature; each further one needs `CKU_CONTEXT_SPECIFIC`.
    sign_grant: bool,
    /// Set when the link failed in a way that ends the sessions.
    pub removed: bool,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card").field("kind", &self.kind).field("removed", &self.removed).finish_non_exhaustive()
    }
}

impl Card {
    /// Selects the JPKI AP and reads the token EF; a card without the AP
    /// is `CKR_TOKEN_NOT_RECOGNIZED`.
    pub fn bind(link: Link) -> Result<Self> {
        let mut card = JpkiCard::new(link);
        let kind = card.token().map_err(|e| rv::from_card(&e))?;
        Ok(Self {
            card,
            kind,
            certs: HashMap::new(),
            auth_pin: None,
            sign_logged_in: false,
            sign_grant: false,
            removed: false,
        })
    }

    /// Maps a card error, noting a lost card.
    fn fail(&mut self, e: jpki::Error) -> Rv {
        if let jpki::Error::Transport(t) = &e {
            if is_removal(t) {
                self.removed = true;
                return Rv::DEVICE_REMOVED;
            }
        }
        rv::from_card(&e)
    }

    /// The EF 0006 name for `CK_TOKEN_INFO.model`.
    pub fn model(&self) -> String {
        match &self.kind {
            TokenKind::Card => jpki::ap::TOKEN_CARD.into(),
            TokenKind::JukiCard => jpki::ap::TOKEN_JUKI.into(),
            TokenKind::PhoneSe => jpki::ap::TOKEN_GPSE.into(),
            TokenKind::PhoneIos => jpki::ap::TOKEN_IOS.into(),
            TokenKind::Unknown(t) => t.chars().take(16).collect(),
        }
    }

    /// Whether `role`'s token is logged in.
    pub fn logged_in(&self, role: Role) -> bool {
        match role {
            Role::Auth => self.auth_pin.is_some(),
            Role::Sign => self.sign_logged_in,
        }
    }

    /// Tries left for `role`'s PIN (empty VERIFY, no try used), `None` if
    /// the card would not say.
    pub fn tries_left(&mut self, role: Role) -> Result<Option<u8>> {
        match self.card.pin_tries_left(role.pin()) {
            Ok(n) => Ok(Some(n)),
            Err(e @ jpki::Error::Transport(_)) => Err(self.fail(e)),
            Err(_) => Ok(None),
        }
    }

    /// A certificate's facts, read once.
    fn facts(&mut self, which: CertType) -> Result<&CertFacts> {
        if !self.certs.contains_key(&which) {
            let der = self.card.read_certificate(which).map_err(|e| self.fail(e))?;
            let facts = CertFacts::parse(&der).map_err(|_| Rv::DEVICE_ERROR)?;
            self.certs.insert(which, facts);
        }
        Ok(&self.certs[&which])
    }

    /// Whether `kind` of `role` is hidden until login.
    fn private(&self, role: Role, kind: Kind) -> bool {
        match kind {
            Kind::PrivateKey => true,
            Kind::CaCertificate(_) => false,
            Kind::Certificate | Kind::PublicKey => role == Role::Sign || self.kind.auth_cert_needs_pin(),
        }
    }

    /// The objects of `role`'s token that the session may see now, with
    /// their index in [`objects::layout`]. An object whose certificate
    /// cannot be read yet is left out.
    pub fn objects(&mut self, role: Role) -> Result<Vec<(usize, Object)>> {
        let logged_in = self.logged_in(role);
        let mut out = Vec::new();
        for (index, kind) in objects::layout(role).iter().copied().enumerate() {
            let private = self.private(role, kind);
            if private && !logged_in {
                continue;
            }
            let cert = match kind {
                Kind::CaCertificate(which) => which,
                _ => role.key().cert(),
            };
            match self.facts(cert) {
                Ok(facts) => out.push((index, objects::build(role, kind, private, facts))),
                Err(Rv::DEVICE_REMOVED) => return Err(Rv::DEVICE_REMOVED),
                Err(_) => {}
            }
        }
        Ok(out)
    }

    /// Checks a PIN's format before any APDU (`CKR_PIN_LEN_RANGE`,
    /// `CKR_PIN_INVALID`) and returns it as text.
    fn check_format(role: Role, pin: &[u8]) -> Result<Zeroizing<String>> {
        let (min, max) = role.pin_len();
        if pin.len() < min || pin.len() > max {
            return Err(Rv(CKR_PIN_LEN_RANGE));
        }
        let text = Zeroizing::new(std::str::from_utf8(pin).map_err(|_| Rv(CKR_PIN_INVALID))?.to_string());
        role.pin().normalize(&text).map_err(|_| Rv(CKR_PIN_INVALID))?;
        Ok(text)
    }

    fn verify(&mut self, pin: PinId, text: &str) -> Result<()> {
        match self.card.verify(pin, text) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// `C_Login(CKU_USER)` on `role`'s token.
    pub fn login(&mut self, role: Role, pin: &[u8]) -> Result<()> {
        if self.logged_in(role) {
            return Err(Rv(CKR_USER_ALREADY_LOGGED_IN));
        }
        let text = Self::check_format(role, pin)?;
        self.verify(role.pin(), &text)?;
        match role {
            Role::Auth => self.auth_pin = Some(text),
            Role::Sign => {
                // The certificate needs the password: read it while the card
                // holds the VERIFY.
                self.facts(CertType::Sign)?;
                self.sign_logged_in = true;
                self.sign_grant = true;
            }
        }
        Ok(())
    }

    /// `C_Login(CKU_CONTEXT_SPECIFIC)` during a signature with the
    /// signature key: verifies the password for that one signature.
    pub fn context_login(&mut self, pin: &[u8]) -> Result<()> {
        let text = Self::check_format(Role::Sign, pin)?;
        match self.verify(PinId::Sign, &text) {
            Err(Rv::PIN_LOCKED) => {
                self.logout(Role::Sign)?;
                Err(Rv::PIN_LOCKED)
            }
            other => other,
        }
    }

    /// Takes the one signature a fresh `CKU_USER` login allows.
    pub fn take_sign_grant(&mut self) -> bool {
        std::mem::take(&mut self.sign_grant)
    }

    /// Clears the card's PIN state (re-SELECT of the AP) and verifies the
    /// authentication PIN again if its token stays logged in.
    fn clear_card_pins(&mut self) -> Result<()> {
        self.sign_grant = false;
        self.card.reselect().map_err(|e| self.fail(e))?;
        if let Some(pin) = self.auth_pin.clone() {
            if let Err(e) = self.verify(PinId::Auth, &pin) {
                // The PIN was changed or blocked meanwhile by someone else.
                self.auth_pin = None;
                return Err(e);
            }
        }
        Ok(())
    }

    /// `C_Logout` of `role`'s token; the other token keeps its login.
    pub fn logout(&mut self, role: Role) -> Result<()> {
        if !self.logged_in(role) {
            return Err(Rv::USER_NOT_LOGGED_IN);
        }
        match role {
            Role::Auth => self.auth_pin = None,
            Role::Sign => self.sign_logged_in = false,
        }
        self.clear_card_pins()
    }

    /// Forgets both logins without talking to the card (the last session
    /// closed, or the card went away).
    pub fn forget_logins(&mut self, role: Role) {
        match role {
            Role::Auth => self.auth_pin = None,
            Role::Sign => {
                self.sign_logged_in = false;
                self.sign_grant = false;
            }
        }
    }

    /// The signature length of `role`'s key.
    pub fn signature_len(&mut self, role: Role) -> Result<usize> {
        Ok(self.facts(role.key().cert())?.modulus_len())
    }

    /// The card signs `digest_info` with `role`'s key. After a signature
    /// with the signature key the card's PIN state is cleared, so the
    /// password it was given is spent on the card too.
    ///
    /// The signature is checked with the certificate's public key before it
    /// is returned: a card fault, or another program selecting another key
    /// file between our SELECT EF and our command, gives
    /// `CKR_DEVICE_ERROR`, never a signature by the wrong key.
    pub fn sign(&mut self, role: Role, digest_info: &[u8]) -> Result<Vec<u8>> {
        let key = self.facts(role.key().cert())?.key.clone();
        let result = self.card.sign(role.key(), digest_info).map_err(|e| self.fail(e));
        if role == Role::Sign && !self.removed {
            self.clear_card_pins()?;
        }
        let signature = result?;
        match key.recover(&signature) {
            Ok(signed) if signed == digest_info => Ok(signature),
            _ => Err(Rv::DEVICE_ERROR),
        }
    }
}
