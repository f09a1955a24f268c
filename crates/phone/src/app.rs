//! The JPKI smartphone app (DESIGN.md "The flows", the phone's side): it
//! asks the SEI-TSM to prepare the SE, applies with the My Number card
//! (commitment from the applet, the card's signature under the signature
//! password as the holder's consent), relays provisioning between the
//! SP-TSM and the SE without seeing any key, sets the PINs, signs, revokes,
//! and answers business apps' intents.
//!
//! The intent API (pattern ③ of the attack catalogue): a business app may
//! ask for a signature or an authentication — the user sees who asks and
//! what, and enters the PIN, or declines. Issuance and revocation are not
//! intents: a business app can never start them.

use crate::device::{JpkiApplet, Relay};
use crate::omapi::{App, SeService};
use apdu::Transport;
use jpki::{JpkiCard, KeyType, PinId};
use std::time::SystemTime;
use tsm_api::client::{ApplicationRef, ClientError, Outcome, TsmClient};
use tsm_api::PhoneCertType;
use zeroize::Zeroizing;

/// What went wrong in the app.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A TSM refused or could not be reached.
    #[error(transparent)]
    Tsm(#[from] ClientError),
    /// The card or the applet refused (wrong PIN, locked, …).
    #[error(transparent)]
    Card(#[from] jpki::Error),
    /// The phone's applet could not be reached.
    #[error(transparent)]
    Applet(#[from] crate::device::AppletError),
    /// Something else (names what).
    #[error("{0}")]
    Other(String),
}

/// What an accepted application produced.
#[derive(Debug)]
pub struct Applied {
    /// The SP-TSM's application id and resume token (for resuming).
    pub application: Option<ApplicationRef>,
    /// Provisioning's outcome.
    pub outcome: Result<Outcome, ClientError>,
}

/// An application ready to submit.
#[derive(Debug, Clone)]
pub struct SignedApplication {
    /// The card-signed CMS.
    pub cms: Vec<u8>,
    /// The SP-TSM's nonce it answers.
    pub nonce: Vec<u8>,
    /// The phone's device evidence for that nonce (none without a TEE).
    pub evidence: Option<Vec<u8>>,
}

/// The JPKI app on one phone.
#[derive(Debug, Clone)]
pub struct JpkiApp {
    se: SeService,
    identity: App,
    model: String,
    tee: Option<crate::tee::Tee>,
}

/// What a business app may ask the JPKI app for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Sign a document with the signature key (PKCS#1 v1.5 over SHA-256).
    Sign(Vec<u8>),
    /// Sign a login challenge with the authentication key.
    Authenticate(Vec<u8>),
    /// Apply for phone certificates — never allowed from a business app.
    Apply,
    /// Revoke the phone certificates — never allowed from a business app.
    Revoke,
}

/// What the user is shown before entering the PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The asking app's package name.
    pub caller: String,
    /// What it asks for, in words.
    pub action: &'static str,
    /// The PIN that will be used.
    pub pin: PinId,
}

/// An intent's answer: the signature and the certificate to check it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentAnswer {
    /// PKCS#1 v1.5 signature.
    pub signature: Vec<u8>,
    /// The phone certificate (DER).
    pub certificate: Vec<u8>,
}

/// An intent refused.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    /// Issuance and revocation are only started by the user in the JPKI app.
    #[error("{0} can only be started by the user in the JPKI app, not by another app")]
    NotAllowed(&'static str),
    /// The user declined.
    #[error("the user declined")]
    Declined,
    /// The applet refused (wrong PIN, no certificate).
    #[error(transparent)]
    Card(#[from] jpki::Error),
    /// The applet could not be reached.
    #[error(transparent)]
    Applet(#[from] crate::device::AppletError),
}

fn key_for(t: PhoneCertType) -> KeyType {
    match t {
        PhoneCertType::Auth => KeyType::Auth,
        PhoneCertType::Sign => KeyType::Sign,
    }
}

impl JpkiApp {
    /// The app (identity = package name and signing certificate) on the
    /// phone whose SE is `se`.
    pub fn new(se: SeService, identity: App, model: &str) -> Self {
        Self { se, identity, model: model.into(), tee: None }
    }

    /// The same app on a phone with `tee`: its applications carry device
    /// evidence (docs/device-trust.md).
    pub fn with_tee(self, tee: crate::tee::Tee) -> Self {
        Self { tee: Some(tee), ..self }
    }

    /// The phone's TEE, if it has one.
    pub fn tee(&self) -> Option<&crate::tee::Tee> {
        self.tee.as_ref()
    }

    /// The device evidence for the SP-TSM's `nonce` (none without a TEE).
    pub fn evidence(&self, nonce: &[u8]) -> Result<Option<Vec<u8>>, AppError> {
        let Some(tee) = &self.tee else { return Ok(None) };
        let se = self.se.with_se(|s| s.state().se_identifier());
        tee.evidence(nonce, &self.identity, &se, &self.model).map(Some).map_err(|e| AppError::Other(e.to_string()))
    }

    /// SHA-256 of the app's signing certificate (hex), as the ARA-M rule
    /// and the SP-TSM name it.
    pub fn certificate_hash(&self) -> String {
        hex::encode_upper(pki::HashAlg::Sha256.digest(&self.identity.signing_certificate))
    }

    /// The phone's SE service (what other apps on this phone see).
    pub fn se_service(&self) -> SeService {
        self.se.clone()
    }

    /// The SE identifier (hex).
    pub fn se_identifier(&self) -> String {
        hex::encode_upper(self.se.with_se(|s| s.state().se_identifier()))
    }

    /// The phone's privileged relay towards a TSM.
    pub fn relay(&self) -> Relay {
        Relay::new(&self.se, &self.identity)
    }

    /// Preparation by the SEI-TSM (once per SE).
    pub async fn prepare(&self, sei: &TsmClient) -> Result<Outcome, AppError> {
        Ok(sei.prepare(&mut self.relay()).await?)
    }

    /// The application: a nonce from the SP-TSM, the commitment from the
    /// applet, the card's signature (signature password), the TEE's device
    /// evidence for the same nonce, submission; then provisioning through
    /// the relay.
    pub async fn apply<T: Transport>(
        &self,
        sp: &TsmClient,
        card: &mut JpkiCard<T>,
        sign_password: &str,
        types: &[PhoneCertType],
    ) -> Result<Applied, AppError> {
        let nonce = sp.nonce().await?;
        let cms = self.sign_application(&nonce, card, sign_password, types)?;
        let evidence = self.evidence(&nonce)?;
        let sp = self.attesting(sp);
        let (application, outcome) = sp.apply(&cms, evidence.as_deref(), &mut self.relay()).await;
        if application.is_none() {
            return Err(outcome.expect_err("no application id only on refusal").into());
        }
        Ok(Applied { application, outcome })
    }

    /// The card-signed application (CMS) and this phone's device evidence
    /// for its nonce, without submitting them.
    pub async fn signed_application<T: Transport>(
        &self,
        sp: &TsmClient,
        card: &mut JpkiCard<T>,
        sign_password: &str,
        types: &[PhoneCertType],
    ) -> Result<SignedApplication, AppError> {
        let nonce = sp.nonce().await?;
        let cms = self.sign_application(&nonce, card, sign_password, types)?;
        let evidence = self.evidence(&nonce)?;
        Ok(SignedApplication { cms, nonce: nonce.to_vec(), evidence })
    }

    /// The application for `nonce` (from the SP-TSM): commitment from the
    /// applet, signed by the card under the signature password.
    pub fn sign_application<T: Transport>(
        &self,
        nonce: &[u8],
        card: &mut JpkiCard<T>,
        sign_password: &str,
        types: &[PhoneCertType],
    ) -> Result<Vec<u8>, AppError> {
        let commitment = self.commitment()?;
        let application = tsm_api::Application {
            nonce: hex::encode(nonce),
            commitment: hex::encode(commitment),
            cert_types: types.to_vec(),
            device: tsm_api::Device { model: self.model.clone(), app_certificate_hash: self.certificate_hash() },
        };
        card.verify(PinId::Sign, sign_password)?;
        Ok(jpki::sign_cms(card, KeyType::Sign, &application.to_content(), &sign_options())?)
    }

    /// Has the applet draw a new R and returns S = SHA-256(R).
    pub fn commitment(&self) -> Result<Vec<u8>, AppError> {
        Ok(JpkiApplet::open(&self.se, &self.identity)?.commitment()?)
    }

    /// Resumes an interrupted provisioning.
    pub async fn resume(&self, sp: &TsmClient, application: &ApplicationRef) -> Result<Outcome, AppError> {
        Ok(self.attesting(sp).resume(application, &mut self.relay()).await?)
    }

    /// `sp` with each request signed by the TEE's app key (the key that
    /// signed the last application's evidence): the SP-TSM refuses calls
    /// about that application without it (docs/device-trust.md
    /// "Per-request app assertions"). Unchanged on a phone without a TEE.
    pub fn attesting(&self, sp: &TsmClient) -> TsmClient {
        match &self.tee {
            Some(tee) => sp.with_asserter(std::sync::Arc::new(tee.clone())),
            None => sp.clone(),
        }
    }

    /// Sets the two PINs, offline, once after provisioning.
    pub fn set_pins(&self, auth: &[u8], sign: &[u8]) -> Result<(), AppError> {
        let mut applet = JpkiApplet::open(&self.se, &self.identity)?;
        applet.set_pin(PinId::Auth, auth)?;
        applet.set_pin(PinId::Sign, sign)?;
        Ok(())
    }

    fn card(&self) -> Result<JpkiCard<JpkiApplet>, AppError> {
        Ok(JpkiCard::new(JpkiApplet::open(&self.se, &self.identity)?))
    }

    /// Changes a PIN.
    pub fn change_pin(&self, pin: PinId, old: &str, new: &str) -> Result<(), AppError> {
        Ok(self.card()?.change_pin(pin, old, new)?)
    }

    /// The phone certificate of type `t` (DER); the auth certificate needs
    /// no PIN, the sign certificate needs the sign PIN.
    pub fn certificate(&self, t: PhoneCertType, pin: Option<&str>) -> Result<Vec<u8>, AppError> {
        let mut card = self.card()?;
        if let Some(p) = pin {
            card.verify(key_for(t).pin(), p)?;
        }
        Ok(card.read_certificate(key_for(t).cert())?)
    }

    /// Signs `data` (PKCS#1 v1.5, SHA-256) with the phone key of type `t`.
    pub fn sign(&self, t: PhoneCertType, pin: &str, data: &[u8]) -> Result<IntentAnswer, AppError> {
        let mut card = self.card()?;
        card.verify(key_for(t).pin(), pin)?;
        let h = pki::HashAlg::Sha256;
        let signature = card.sign(key_for(t), &h.digest_info(&h.digest(data)))?;
        let certificate = card.read_certificate(key_for(t).cert())?;
        Ok(IntentAnswer { signature, certificate })
    }

    /// CMS SignedData over `content` with the phone key of type `t`.
    pub fn cms_sign(&self, t: PhoneCertType, pin: &str, content: &[u8], detached: bool) -> Result<Vec<u8>, AppError> {
        let mut card = self.card()?;
        card.verify(key_for(t).pin(), pin)?;
        let options = pki::cms::SignOptions { detached, ..sign_options() };
        Ok(jpki::sign_cms(&mut card, key_for(t), content, &options)?)
    }

    /// The holder's revocation, started by the holder in the JPKI app (who
    /// confirms the trusted UI's prompt). See [`JpkiApp::confirmed_revoke`].
    pub async fn revoke(&self, sp: &TsmClient, auth_pin: &str) -> Result<Outcome, AppError> {
        self.confirmed_revoke(sp, auth_pin, |_| true).await
    }

    /// The holder's revocation: on a phone with a TEE the trusted UI first
    /// shows [`tsm_api::types::revocation_prompt`] and `holder` confirms or
    /// declines (nothing is sent then); a confirmation key made for the
    /// SP-TSM's nonce signs the prompt and the nonce. The request is signed
    /// with the phone's auth key (auth PIN); the SP-TSM checks both,
    /// revokes at the JPKI service and deletes the applet's keys through
    /// the relay.
    pub async fn confirmed_revoke(
        &self,
        sp: &TsmClient,
        auth_pin: &str,
        holder: impl FnOnce(&str) -> bool,
    ) -> Result<Outcome, AppError> {
        let nonce = sp.nonce().await?;
        let confirmation = self.revocation_confirmation(&nonce, holder)?;
        let request = tsm_api::types::RevocationRequest {
            nonce: hex::encode(nonce),
            action: "revoke".into(),
            se_id: self.se_identifier(),
        };
        let content = serde_json::to_vec(&request).map_err(|e| AppError::Other(e.to_string()))?;
        let cms = self.cms_sign(PhoneCertType::Auth, auth_pin, &content, false)?;
        Ok(self.attesting(sp).revoke(&cms, confirmation, &mut self.relay()).await?)
    }

    /// The trusted UI's confirmation of revoking this phone's certificates
    /// for the SP-TSM's `nonce` (none without a TEE); `holder` sees the
    /// prompt and confirms or declines.
    pub fn revocation_confirmation(
        &self,
        nonce: &[u8],
        holder: impl FnOnce(&str) -> bool,
    ) -> Result<Option<tsm_api::types::RevocationConfirmation>, AppError> {
        use base64::{engine::general_purpose::STANDARD, Engine};
        let Some(tee) = &self.tee else { return Ok(None) };
        let key = tee.confirmation_key(nonce, &self.identity).map_err(|e| AppError::Other(e.to_string()))?;
        let prompt = tsm_api::types::revocation_prompt(&self.se_identifier());
        let confirmed = tee.confirm(&key, &prompt, nonce, holder).map_err(|e| AppError::Other(e.to_string()))?;
        Ok(Some(tsm_api::types::RevocationConfirmation {
            key_chain: key.chain.iter().map(|c| STANDARD.encode(c)).collect(),
            message: STANDARD.encode(&confirmed.message),
            signature: STANDARD.encode(&confirmed.signature),
        }))
    }

    /// A business app's signature request confirmed on the trusted UI
    /// (docs/device-trust.md, Protected Confirmation): the holder sees
    /// [`confirmation_prompt`] for `document` and `data`, and confirms by
    /// entering the signature PIN (`holder` returns it) or declines (`None`).
    /// Only on confirmation does the TEE sign `{prompt, nonce}` with the
    /// registered confirmation `key`, and the SE sign `data`. The relying
    /// party then gets what the holder saw, signed.
    pub fn confirmed_sign(
        &self,
        caller: &App,
        key: &crate::tee::ConfirmationKey,
        document: &str,
        data: &[u8],
        nonce: &[u8],
        holder: impl FnOnce(&str) -> Option<Zeroizing<String>>,
    ) -> Result<(IntentAnswer, crate::tee::Confirmed), IntentError> {
        let tee = self.tee.as_ref().ok_or(IntentError::NotAllowed("a confirmed signature without a TEE"))?;
        let prompt = confirmation_prompt(&caller.name, document, data);
        let mut pin = None;
        let confirmed = tee
            .confirm(key, &prompt, nonce, |shown| {
                pin = holder(shown);
                pin.is_some()
            })
            .map_err(|_| IntentError::Declined)?;
        let pin = pin.ok_or(IntentError::Declined)?;
        let answer = self.sign(PhoneCertType::Sign, &pin, data).map_err(|e| match e {
            AppError::Card(c) => IntentError::Card(c),
            AppError::Applet(a) => IntentError::Applet(a),
            other => IntentError::Card(jpki::Error::Malformed(other.to_string())),
        })?;
        Ok((answer, confirmed))
    }

    /// A business app's intent. `consent` shows the prompt and returns the
    /// PIN the user entered, or `None` to decline.
    pub fn handle_intent(
        &self,
        caller: &App,
        intent: Intent,
        consent: impl FnOnce(&Prompt) -> Option<Zeroizing<String>>,
    ) -> Result<IntentAnswer, IntentError> {
        let (t, action, data) = match intent {
            Intent::Apply => return Err(IntentError::NotAllowed("applying for phone certificates")),
            Intent::Revoke => return Err(IntentError::NotAllowed("revoking phone certificates")),
            Intent::Sign(d) => (PhoneCertType::Sign, "sign a document with your signature certificate", d),
            Intent::Authenticate(d) => (PhoneCertType::Auth, "log in with your user-authentication certificate", d),
        };
        let prompt = Prompt { caller: caller.name.clone(), action, pin: key_for(t).pin() };
        let pin = consent(&prompt).ok_or(IntentError::Declined)?;
        self.sign(t, &pin, &data).map_err(|e| match e {
            AppError::Card(c) => IntentError::Card(c),
            AppError::Applet(a) => IntentError::Applet(a),
            other => IntentError::Card(jpki::Error::Malformed(other.to_string())),
        })
    }
}

/// The text the trusted UI shows for a confirmed signature: who asks, the
/// document's name and its SHA-256 — what the relying party expects back.
pub fn confirmation_prompt(caller: &str, document: &str, data: &[u8]) -> String {
    let digest = hex::encode(pki::HashAlg::Sha256.digest(data));
    format!("{caller} asks you to sign {document} (SHA-256 {digest}) with your signature certificate")
}

fn sign_options() -> pki::cms::SignOptions {
    pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() }
}
