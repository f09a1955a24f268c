//! The SP-TSM's rules (DESIGN.md "Application" and "Provisioning"): which
//! applications are accepted, provisioning attempts over the relay (their
//! flows in [`flows`]), the holder's revocation, and revocation of
//! certificates issued but never written.
//!
//! Decision (docs/decisions/tsm-services.md): a certificate issued but not
//! written into the SE when a provisioning attempt ends is **revoked**
//! (cessationOfOperation), never re-delivered; the application stays
//! resumable for `resume_window_secs`, and a resumed attempt generates a new
//! key. Revocations the JPKI service cannot take at once are retried.

mod assertions;
mod confirmation;
pub mod flows;
mod verdicts;

pub use assertions::SignedRequest;

use crate::application::{NonceBook, NONCE_LIFETIME};
use crate::config::SpConfig;
use crate::records::{ApplicationRow, ApplicationState, CertificateState, Records};
use crate::vault::Vault;
use der::{Decode, Encode};
pub use flows::SpFlow;
use flows::{ProvisioningRun, WipeRun};
use gp::StaticKeys;
use jlis_api::client::JlisClient;
use jlis_api::status::Status;
use pki::crl::Reason;
use std::sync::Arc;
use std::time::Duration;
use tsm::http::now_secs;
use tsm::hub::{Answer, RelayHub};
use tsm::FlowError;
use tsm_api::types::RevocationRequest;
use tsm_api::Code;

/// The SP-TSM.
pub struct SpTsm {
    pub(crate) records: Records,
    nonces: NonceBook,
    pub(crate) cas: Vec<pki::Certificate>,
    apps: Vec<String>,
    pub(crate) jlis: JlisClient,
    hub: Arc<RelayHub<SpFlow>>,
    resume_window: Duration,
    metrics: Arc<tsm::metrics::Metrics>,
    /// The device-trust verifier, when device trust is on.
    pub(crate) device: Option<attest::appraisal::Verifier>,
    /// Verdicts given at application, for provisioning to complete.
    pub(crate) verdicts: verdicts::Verdicts,
}

impl std::fmt::Debug for SpTsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpTsm").field("hub", &self.hub).field("apps", &self.apps).finish_non_exhaustive()
    }
}

impl tsm::http::Relays for SpTsm {
    type Flow = SpFlow;
    fn hub(&self) -> &Arc<RelayHub<SpFlow>> {
        &self.hub
    }
}

fn read_certificates(paths: &[std::path::PathBuf]) -> Result<Vec<pki::Certificate>, String> {
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let parsed = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => der::DecodePem::from_pem(text).map_err(|e| e.to_string()),
                _ => pki::Certificate::from_der(&bytes).map_err(|e| e.to_string()),
            };
            parsed.map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

fn refused(code: Code, message: impl Into<String>) -> FlowError {
    FlowError::new(code, message)
}

/// 403 `device_not_trusted`; `message` begins with the reason code, which
/// is logged with `what` was refused.
fn untrusted(what: &'static str, reason: &str, message: impl Into<String>) -> FlowError {
    tracing::warn!(reason, "{what} refused");
    refused(Code::DeviceNotTrusted, message)
}

/// What the store keeps of a resume token: its SHA-256, hex.
fn token_digest(token: &str) -> String {
    hex::encode(pki::HashAlg::Sha256.digest(token.as_bytes()))
}

/// Refuses an appraisal that is not affirming, naming the worst reason.
pub(crate) fn device_verdict(appraised: &attest::appraisal::Appraised) -> Result<(), FlowError> {
    if appraised.status() == attest::ear::Status::Affirming {
        return Ok(());
    }
    let (code, why) = appraised.worst().map_or(("unknown", String::new()), |r| (r.code(), r.to_string()));
    tracing::warn!(reason = code, status = ?appraised.status(), "device not trusted");
    Err(refused(Code::DeviceNotTrusted, format!("the phone is not trusted ({code}): {why}")))
}

/// A new provisioning's relay session: its id, the first step, the
/// application, and (for the first attempt) the resume token.
#[derive(Debug)]
pub struct Started {
    /// The relay session.
    pub session: String,
    /// What the phone is told first.
    pub answer: Answer,
    /// The application.
    pub application: String,
    /// The token that alone resumes the application (first attempt only).
    pub resume_token: Option<zeroize::Zeroizing<String>>,
}

impl SpTsm {
    /// From the configuration (the JPKI CA files must exist: start the JPKI
    /// service first).
    pub async fn open(config: &SpConfig) -> Result<Self, String> {
        let vault = match (&config.pkcs11, &config.vault_key_file) {
            (Some(token), _) => {
                let token = hsm::Token::open(token).map_err(|e| e.to_string())?;
                let key = token.aes_key(crate::vault::TOKEN_LABEL).map_err(|e| e.to_string())?.ok_or_else(|| {
                    format!(
                        "the PKCS#11 token holds no key {:?} (jpki serve all --init makes it)",
                        crate::vault::TOKEN_LABEL
                    )
                })?;
                Vault::in_token(key)
            }
            (None, Some(file)) => Vault::new(&tsm::keys::key_file(file, false)?)?,
            (None, None) => return Err("no vault key configured".into()),
        };
        let records = Records::open(&config.database, vault).await.map_err(|e| e.to_string())?;
        let jlis = JlisClient::pinned(
            &config.jlis_url,
            &config.tls_ca,
            &config.jlis_server_name,
            Some((&config.client_certificate, &config.client_key)),
            None,
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            records,
            nonces: NonceBook::new(NONCE_LIFETIME),
            cas: read_certificates(&config.jpki_ca_certificates)?,
            apps: config.app_certificate_sha256.iter().map(|h| h.to_uppercase()).collect(),
            jlis,
            hub: RelayHub::new(Duration::from_secs(config.relay_timeout_secs)),
            resume_window: Duration::from_secs(config.resume_window_secs),
            metrics: Arc::new(tsm::metrics::Metrics::new(
                "sp_tsm",
                tsm::metrics::token_from(config.metrics_token_file.as_deref())?,
            )),
            device: config.device_trust.as_ref().map(|d| d.verifier()).transpose()?,
            verdicts: verdicts::Verdicts::default(),
        })
    }

    /// Its metrics (`GET /metrics`).
    pub fn metrics(&self) -> &Arc<tsm::metrics::Metrics> {
        &self.metrics
    }

    /// Its records.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The JPKI app hashes this SP-TSM accepts (for the SEI-TSM whitelist).
    pub fn app_hashes(&self) -> &[String] {
        &self.apps
    }

    /// A single-use nonce (32 bytes) for an application or a revocation.
    pub fn nonce(&self) -> [u8; 32] {
        self.nonces.issue()
    }

    /// Stores an SE's handed-over domain keys (sealed).
    pub async fn accept_handover(&self, se_id: &str, keys: &StaticKeys) -> Result<(), FlowError> {
        self.records.hand_over(se_id, keys).await?;
        tracing::info!(se = %se_id, "domain keys handed over by the SEI-TSM");
        Ok(())
    }

    /// The card's status at the JPKI service, over the pinned, mutually
    /// authenticated channel (mechanism ⑩); the answer's signature and
    /// nonce are checked all the same.
    async fn card_status(&self, card_certificate: &[u8]) -> Result<(), FlowError> {
        let url = format!("{}/ocsp", self.jlis.base());
        match jlis_api::status::ocsp(self.jlis.http(), &url, card_certificate, &self.cas).await {
            Ok(Status::Good) => Ok(()),
            Ok(Status::OnHold) => Err(refused(Code::CardOnHold, "the card's certificate is on hold (一時保留)")),
            Ok(Status::Revoked { .. }) => Err(refused(Code::CardRevoked, "the card's certificate is revoked")),
            Ok(Status::Unknown) => Err(refused(Code::CardUnknown, "the JPKI service does not know this card")),
            Err(e) => {
                tracing::warn!(error = %e, "card status unavailable");
                Err(refused(Code::StatusUnavailable, "the JPKI service's status could not be checked; try again"))
            }
        }
    }

    /// A card-signed application (CMS DER) with the phone's device
    /// `evidence`: signature and chain, nonce, the app is the registered
    /// one, the card's status, the device's evidence (when device trust is
    /// on); then its first provisioning attempt begins over the relay.
    pub async fn apply(self: &Arc<Self>, cms: &[u8], evidence: Option<&[u8]>) -> Result<Started, FlowError> {
        let verified = crate::application::verify(cms, &self.nonces, &self.cas, std::time::SystemTime::now())?;
        let app = &verified.application;
        if !self.apps.contains(&app.device.app_certificate_hash.to_uppercase()) {
            return Err(refused(Code::AppNotRegistered, "the application was made by an app this SP does not know"));
        }
        let (evidence, verdict) = self.appraise_device(&app.nonce, evidence)?.unzip();
        self.card_status(&verified.card_certificate).await?;
        let mut id = [0u8; 16];
        pki::fill_random(&mut id);
        let mut token = zeroize::Zeroizing::new([0u8; 32]);
        pki::fill_random(&mut token[..]);
        let token = zeroize::Zeroizing::new(hex::encode(&token[..]));
        let row = ApplicationRow {
            id: hex::encode(id),
            state: ApplicationState::Provisioning,
            card_certificate: verified.card_certificate.clone(),
            application: cms.to_vec(),
            commitment: verified.commitment.to_vec(),
            cert_types: app.cert_types.clone(),
            model: app.device.model.clone(),
            attempts: 1,
            created_at: now_secs(),
            resume_token: Some(token_digest(&token)),
            evidence,
        };
        // Accepted and its first provisioning attempt begun in one transaction.
        self.records.accept(&row).await?;
        if let Some(verdict) = verdict {
            self.verdicts.keep(&row.id, verdict);
        }
        tracing::info!(application = %row.id, types = ?app.cert_types, "application accepted");
        // Only the applying phone learns the token that lets it resume.
        let mut started = self.provisioning(row, 1).await;
        started.resume_token = Some(token);
        Ok(started)
    }

    /// Device trust at application (background-check model, RFC 9334
    /// §5.2): the phone's `evidence` for the application's `nonce` (hex)
    /// must be affirmed; refused before anything is stored or generated.
    /// Returns what to keep for provisioning: evidence and nonce, and the
    /// verdict.
    fn appraise_device(
        &self,
        nonce: &str,
        evidence: Option<&[u8]>,
    ) -> Result<Option<(crate::records::StoredEvidence, attest::appraisal::Appraised)>, FlowError> {
        let Some(verifier) = &self.device else { return Ok(None) };
        let evidence = evidence.ok_or_else(|| {
            refused(
                Code::DeviceNotTrusted,
                "the application carries no device evidence (evidence_missing): update the JPKI app",
            )
        })?;
        let nonce = hex::decode(nonce).map_err(|_| FlowError::invalid("the application's nonce is not hex"))?;
        let appraised = verifier.appraise(evidence, &nonce, std::time::SystemTime::now());
        device_verdict(&appraised)?;
        Ok(Some(((evidence.to_vec(), nonce), appraised)))
    }

    /// Resumes application `id` for the phone presenting `token` (the one
    /// that applied), within the resume window.
    /// The phone's `request` must carry its app assertion when the
    /// application has an app key (a cloned app with the token is refused).
    pub async fn resume(
        self: &Arc<Self>,
        id: &str,
        token: Option<&str>,
        request: &SignedRequest<'_>,
    ) -> Result<Started, FlowError> {
        let app = self
            .records
            .application(id)
            .await?
            .ok_or_else(|| refused(Code::UnknownApplication, format!("no application {id:?}")))?;
        let genuine = match (token.map(token_digest), &app.resume_token) {
            (Some(p), Some(stored)) => secret::ct_eq(p.as_bytes(), stored.as_bytes()),
            _ => false,
        };
        if !genuine {
            return Err(refused(
                Code::NotApplicant,
                format!(
                    "application {id} can be resumed only by the phone that made it (resume token missing or wrong)"
                ),
            ));
        }
        self.check_app_assertion(id, request).await?;
        if !matches!(app.state, ApplicationState::Accepted | ApplicationState::Interrupted) {
            return Err(refused(
                Code::NotResumable,
                format!("application {id} is {}; apply again", app.state.as_str()),
            ));
        }
        if now_secs() - app.created_at > self.resume_window.as_secs() as i64 {
            return Err(refused(Code::Expired, format!("application {id} is too old to resume; apply again")));
        }
        self.records.begin_attempt(id).await?;
        let attempt = app.attempts + 1;
        Ok(self.provisioning(app, attempt).await)
    }

    /// Attempt `attempt` of `app` over a new relay session.
    async fn provisioning(self: &Arc<Self>, app: ApplicationRow, attempt: i64) -> Started {
        let application = app.id.clone();
        let first = ProvisioningRun::start(self.clone(), app, attempt);
        let (session, answer) = self.hub.open(first);
        Started { session, answer, application, resume_token: None }
    }

    /// An application as its applicant sees it (read-only: no app
    /// assertion needed, docs/device-trust.md).
    pub async fn application_view(&self, id: &str) -> Result<serde_json::Value, FlowError> {
        self.records
            .application_view(id)
            .await?
            .ok_or_else(|| refused(Code::UnknownApplication, format!("no application {id:?}")))
    }

    /// The phone's relay post to `session`: checked against the app key of
    /// the session's application, then given to the flow.
    pub async fn relay_step(
        &self,
        session: &str,
        request: &SignedRequest<'_>,
        responses: Vec<Vec<u8>>,
    ) -> Result<Answer, FlowError> {
        if let Some(Some(application)) = self.hub.peek(session, |flow| flow.application().map(str::to_string)) {
            self.check_app_assertion(&application, request).await?;
        }
        Ok(self.hub.exchange(session, responses).await)
    }

    /// The holder's revocation, signed on the phone with a phone key of the
    /// SE (CMS DER): the SE's phone certificates are revoked at the JPKI
    /// service, then the applet's keys are deleted over the relay.
    /// The phone's `request` must carry the app assertion of the
    /// application the signing certificate was issued for.
    /// With device trust, the holder's trusted `confirmation` too.
    pub async fn revoke_for_holder(
        &self,
        cms: &[u8],
        confirmation: Option<&tsm_api::types::RevocationConfirmation>,
        request: &SignedRequest<'_>,
    ) -> Result<(String, Answer), FlowError> {
        let options = pki::cms::VerifyOptions {
            anchors: &self.cas,
            detached_content: None,
            at: Some(std::time::SystemTime::now()),
        };
        let checked = pki::cms::verify(cms, &options).map_err(|e| refused(Code::BadSignature, e.to_string()))?;
        let (nonce, se_id) = parse_revocation(&checked.content)?;
        let signer = checked.signer.to_der().map_err(FlowError::internal)?;
        let (active, keys) = self.records.active(&se_id).await?;
        let Some((signer_serial, _)) = active.iter().find(|(_, certificate)| *certificate == signer) else {
            return Err(refused(
                Code::NotActivePhoneCertificate,
                "the request must be signed with an active phone certificate of that SE",
            ));
        };
        let application = self.records.application_of(signer_serial).await?;
        if let Some(id) = &application {
            if self.check_app_assertion(id, request).await? {
                self.check_revocation_confirmation(&nonce, &se_id, confirmation)?;
            }
        }
        self.nonces.consume(&nonce)?;
        let mut revoked = Vec::new();
        for (serial, _) in &active {
            if self.revoke_serial(serial, Reason::CessationOfOperation, "holder").await {
                revoked.push(serial.clone());
            }
        }
        tracing::info!(se = %se_id, revoked = revoked.len(), "holder revoked the phone certificates");
        let keys = keys.ok_or_else(|| {
            FlowError::internal(format!("SE {se_id} has written certificates but no own domain keys"))
        })?;
        let result = serde_json::json!({ "revoked": revoked, "wiped": true });
        Ok(self.hub.open(WipeRun::start(keys, result, application)))
    }

    /// Revokes the certificates an ended attempt issued but did not write.
    pub(crate) async fn revoke_unwritten(&self, application: &str) {
        for serial in self.records.serials_of(application, CertificateState::Issued).await.unwrap_or_default() {
            self.revoke_serial(&serial, Reason::CessationOfOperation, "undelivered").await;
        }
    }

    /// Revokes at the JPKI service; a failure leaves `revoke_pending` for
    /// [`SpTsm::retry_pending_revocations`].
    async fn revoke_serial(&self, serial: &str, reason: Reason, why: &str) -> bool {
        let outcome = self.jlis.revoke(&format!("sp-tsm-{why}-{serial}"), serial, reason).await;
        let (state, ok) = match &outcome {
            Ok(_) => (CertificateState::Revoked, true),
            Err(e) if e.code() == Some("replay") || e.code() == Some("conflict") => (CertificateState::Revoked, true),
            Err(_) => (CertificateState::RevokePending, false),
        };
        if let Err(e) = &outcome {
            tracing::warn!(serial, error = %e, state = state.as_str(), "revocation at the JPKI service");
        }
        if let Err(e) = self.records.set_certificate_state(serial, state).await {
            tracing::error!(error = %e, "recording a revocation's outcome");
        }
        ok
    }

    /// At start: attempts a previous run left in `provisioning` (it stopped
    /// or was killed mid-flow; the flow's state lived in memory) end as an
    /// interruption would — what they issued but did not record as written
    /// is revoked, and the application may be resumed. Returns how many.
    /// (One SP-TSM process per store: another one's running attempts would
    /// look the same.)
    pub async fn recover_interrupted(&self) -> Result<usize, String> {
        let left = self.records.applications_in(ApplicationState::Provisioning).await.map_err(|e| e.to_string())?;
        for id in &left {
            let Some(app) = self.records.application(id).await.map_err(|e| e.to_string())? else { continue };
            self.cancel_requests(&app, app.attempts).await.map_err(|e| e.to_string())?;
            self.revoke_unwritten(id).await;
            let why = "the SP-TSM stopped during the attempt; resume it";
            self.records.end_attempt(id, ApplicationState::Interrupted, why, None).await.map_err(|e| e.to_string())?;
            tracing::warn!(application = %id, "an attempt left by the previous run ended as interrupted");
        }
        Ok(left.len())
    }

    /// An attempt ended without its answers from the JPKI service all
    /// recorded (this process was killed between the service's commit and
    /// its own, or an answer was lost on the way): each of its
    /// phone-certificate requests is cancelled there — what it issued is
    /// revoked, an id that never arrived is spent. Recorded as pending
    /// first, so a cancellation the service cannot take yet is retried.
    pub(crate) async fn cancel_requests(&self, app: &ApplicationRow, attempt: i64) -> Result<(), store::StoreError> {
        let ids = app.cert_types.iter().map(|t| flows::request_id(&app.id, attempt, *t)).collect();
        self.records.add_pending_cancels(ids).await?;
        self.retry_pending_cancels().await;
        Ok(())
    }

    /// Sends the pending cancellations; returns how many are still pending.
    async fn retry_pending_cancels(&self) -> usize {
        let mut pending = 0;
        for id in self.records.pending_cancels().await.unwrap_or_default() {
            match self.jlis.cancel_phone_request(&id).await {
                Ok(answer) => {
                    if let Some(serial) = &answer.issued {
                        tracing::warn!(request = %id, serial, "revoked a certificate whose issuance was never recorded");
                    }
                    if let Err(e) = self.records.cancelled(&id, answer.issued).await {
                        tracing::error!(error = %e, "recording a cancellation");
                        pending += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(request = %id, error = %e, "cancelling a phone-certificate request at the JPKI service");
                    pending += 1;
                }
            }
        }
        pending
    }

    /// Retries revocations and cancellations the JPKI service could not
    /// take; returns how many are still pending.
    pub async fn retry_pending_revocations(&self) -> usize {
        let mut pending = self.retry_pending_cancels().await;
        for serial in self.records.serials_in(CertificateState::RevokePending).await.unwrap_or_default() {
            if !self.revoke_serial(&serial, Reason::CessationOfOperation, "undelivered").await {
                pending += 1;
            }
        }
        pending
    }

    /// An SE's phone certificates — serial, type, state — in the order they
    /// changed (for tests and operators).
    pub async fn certificates(&self, se_id: &str) -> Result<Vec<(String, String, String)>, tsm::http::ApiError> {
        let rows = self.records.certificates(se_id).await?;
        Ok(rows.into_iter().map(|(serial, cert_type, state)| (serial, cert_type, state.as_str().to_string())).collect())
    }
}

/// Parses a revocation request's signed content: action `revoke`, a 32-byte
/// hex nonce and a 10-byte SE identifier; returns the nonce and the SE
/// identifier.
pub fn parse_revocation(content: &[u8]) -> Result<([u8; 32], String), FlowError> {
    let request: RevocationRequest =
        serde_json::from_slice(content).map_err(|e| FlowError::invalid(format!("revocation request: {e}")))?;
    let mut nonce = [0u8; 32];
    if request.action != "revoke" || hex::decode_to_slice(&request.nonce, &mut nonce).is_err() {
        return Err(FlowError::invalid("a revocation request has action \"revoke\" and a 32-byte hex nonce"));
    }
    Ok((nonce, se_identifier(&request.se_id)?))
}

/// A 10-byte SE identifier in hex, upper-cased.
pub fn se_identifier(text: &str) -> Result<String, FlowError> {
    let se_id = text.to_uppercase();
    if se_id.len() != 20 || hex::decode(&se_id).is_err() {
        return Err(FlowError::invalid("se_id must be the 10-byte SE identifier in hex"));
    }
    Ok(se_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_requests_are_checked() {
        let nonce = "00".repeat(32);
        let ok = serde_json::json!({ "nonce": nonce, "action": "revoke", "se_id": "00112233445566778899" });
        let (n, se) = parse_revocation(ok.to_string().as_bytes()).unwrap();
        assert_eq!((n, se.as_str()), ([0; 32], "00112233445566778899"));
        for (field, bad) in [("action", "delete"), ("nonce", "00"), ("se_id", "00")] {
            let mut body = ok.clone();
            body[field] = bad.into();
            let e = parse_revocation(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.code, Code::InvalidRequest, "{field} = {bad}");
        }
        assert!(parse_revocation(b"{\"nonce\":1}").is_err());
    }
}
