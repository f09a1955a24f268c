//! The service's rules, over the store (SQL in [`crate::records`]) and the
//! CAs. Every state change and its audit entries are committed in one
//! transaction before the caller gets an answer; a refused request changes
//! nothing.

use crate::audit;
use crate::records::{self, CertKind, CertStatus, NewCertificate};
use crate::JlisError;
use der::{Decode, Encode};
use pki::crl::Reason;
use pki::ocsp::Status;
use pki::profile::{issue_end_entity, EndEntity};
use pki::{CaKind, Certificate, Hierarchy, Holder};
use std::time::{Duration, SystemTime};
use store::Store;

/// The JPKI service.
#[derive(Debug)]
pub struct Jlis {
    store: Store,
    ca: std::sync::Arc<pki::ca::LocalCa>,
    signing: crate::signing::SigningPool,
    ocsp_cache: std::sync::RwLock<OcspCache>,
    /// Bumped by every state change, so a response signed before a change
    /// is never cached after it.
    generation: std::sync::atomic::AtomicU64,
    metrics: crate::metrics::Metrics,
    /// Whether revoking a card certificate for key compromise needs two
    /// operators ([`Jlis::require_dual_control`]).
    dual_control: bool,
    /// Device trust: what a phone request must prove ([`Jlis::require_device_trust`]).
    device_trust: Option<crate::device::DeviceTrust>,
}

/// Pre-signed OCSP responses by serial (upper-case hex), then by the DER of
/// the CertID asked about, with the time each was signed. A change drops
/// the answers about the serials it touched, not the others.
type OcspCache = std::collections::HashMap<String, std::collections::HashMap<Vec<u8>, (std::time::Instant, Vec<u8>)>>;

/// How long a pre-signed OCSP response (a request without nonce) is served
/// before it is signed again; a change to a certificate drops the answers
/// about it.
pub const OCSP_CACHE_TTL: Duration = Duration::from_secs(300);

pub use jlis_api::types::{Cancelled, Link, PhoneCertType, PhoneCertificate, PhoneRequest, Record, Revoked};

/// Who asks for a change, as the HTTP layer authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// An operator (bearer token), by name ([`crate::operators`]).
    Operator {
        /// The operator's name.
        name: String,
    },
    /// An SP-TSM, by the SHA-256 (hex) of its verified client certificate.
    SpTsm {
        /// SHA-256 of the client certificate's DER, hex.
        certificate_sha256: String,
    },
    /// A caller in this process (tests, tools): the operator's rights.
    InProcess,
}

/// What identifies a phone-certificate request apart from its id: SHA-256
/// of its JSON with the id left out and the SE identifier in upper case.
fn fingerprint(req: &PhoneRequest) -> Result<String, JlisError> {
    let same = PhoneRequest { request_id: String::new(), se_id: req.se_id.to_uppercase(), ..req.clone() };
    let json = serde_json::to_vec(&same).map_err(|e| JlisError::Internal(e.to_string()))?;
    Ok(hex::encode(pki::HashAlg::Sha256.digest(&json)))
}

/// An SE identifier: 1 to 64 hex digits.
fn check_se_id(se_id: &str) -> Result<(), JlisError> {
    if se_id.is_empty() || se_id.len() > 64 || !se_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(JlisError::Invalid("se_id must be the SE identifier in hex".into()));
    }
    Ok(())
}

/// Upper-case hex of a certificate's serial.
pub fn serial_hex(cert: &Certificate) -> String {
    hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes())
}

impl Jlis {
    /// Opens the service over a database (migrated here) and the CAs.
    pub async fn open(db_url: &str, ca: pki::ca::LocalCa) -> Result<Self, JlisError> {
        let store = Store::open(db_url, crate::schema::MIGRATIONS).await?;
        Ok(Self {
            store,
            ca: std::sync::Arc::new(ca),
            signing: crate::signing::SigningPool::per_core()?,
            ocsp_cache: Default::default(),
            generation: Default::default(),
            metrics: Default::default(),
            dual_control: false,
            device_trust: None,
        })
    }

    /// Its metrics, in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        self.metrics.render(self.signing.waiting())
    }

    /// Its metrics, for the HTTP layer to count requests.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// A store write, timed for the metrics.
    async fn write<T, F>(&self, f: F) -> Result<T, JlisError>
    where
        F: FnOnce(&mut store::Tx<'_>) -> Result<T, JlisError> + Send + 'static,
        T: Send + 'static,
    {
        let started = std::time::Instant::now();
        let written = self.store.write(f).await;
        self.metrics.store_write(started.elapsed());
        written
    }

    /// The CAs.
    pub fn ca(&self) -> &pki::ca::LocalCa {
        &self.ca
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn check_key(spki: &[u8]) -> Result<(), JlisError> {
        match pki::rsa::public_key_bits(spki) {
            Ok(2048) => Ok(()),
            Ok(bits) => Err(JlisError::WrongKeySize(format!("{bits} bits"))),
            Err(_) => Err(JlisError::MalformedDer("public key")),
        }
    }

    /// Issues a card's two certificates (the municipal-office path).
    pub async fn issue_card(
        &self,
        request_id: &str,
        holder: &Holder,
        auth_key: &[u8],
        sign_key: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), JlisError> {
        holder.validate().map_err(JlisError::Invalid)?;
        Self::check_key(auth_key)?;
        Self::check_key(sign_key)?;
        let (ca, holder, keys) = (self.ca.clone(), holder.clone(), (auth_key.to_vec(), sign_key.to_vec()));
        let (auth, sign) = self
            .signing
            .run(move || {
                let issue = |kind, key: &[u8]| {
                    let cert = ca
                        .issue_card_certificate(kind, key, &holder)
                        .map_err(|e| JlisError::Internal(e.to_string()))?;
                    NewCertificate::of(&cert, kind, CertKind::Card)
                };
                Ok::<_, JlisError>((issue(CaKind::Auth, &keys.0)?, issue(CaKind::Sign, &keys.1)?))
            })
            .await??;
        let (request_id, by) = (request_id.to_string(), audit::by(request_id));
        let auth = self
            .write(move |tx| {
                records::claim(tx, &request_id)?;
                auth.insert(tx)?;
                sign.insert(tx)?;
                audit::append(
                    tx,
                    records::now(),
                    "card.issued",
                    &serde_json::json!({ "auth": auth.serial, "sign": sign.serial }),
                    &by,
                )?;
                Ok::<_, JlisError>(([auth.serial, sign.serial], (auth.der, sign.der)))
            })
            .await?;
        let (serials, (auth, sign)) = auth;
        self.metrics.issued("card", 2);
        self.state_changed(&serials);
        Ok((auth, sign))
    }

    /// Issues a phone certificate linked to the card certificate that signed
    /// the application: checks the card certificate (chain, validity, not
    /// revoked, not on hold), revokes any other active phone certificate of
    /// the same type linked to that card (superseded), gives the phone
    /// certificate the card certificate's notAfter, and records the link.
    ///
    /// Idempotent: the same request sent again under the same
    /// `request_id` (its answer was lost) gets the same certificate back,
    /// and changes nothing; another request under a used id is a replay.
    pub async fn issue_phone(&self, req: &PhoneRequest) -> Result<PhoneCertificate, JlisError> {
        self.issue_phone_for(req, &Requester::InProcess).await
    }

    /// [`Jlis::issue_phone`] for `requester`; an SP-TSM that asks is
    /// recorded with the link, and only it may revoke the certificate.
    pub async fn issue_phone_for(
        &self,
        req: &PhoneRequest,
        requester: &Requester,
    ) -> Result<PhoneCertificate, JlisError> {
        let sp_tsm = match requester {
            Requester::SpTsm { certificate_sha256 } => Some(certificate_sha256.clone()),
            Requester::Operator { .. } | Requester::InProcess => None,
        };
        // Checked before anything is looked up or signed.
        records::check_request_id(&req.request_id)?;
        let fingerprint = fingerprint(req)?;
        let (id, f) = (req.request_id.clone(), fingerprint.clone());
        if let Some(done) = self.store.read(move |tx| records::earlier(tx, &id, &f)).await? {
            return self.answer_again(req.cert_type.ca(), done).await;
        }
        Self::check_key(&req.phone_public_key)?;
        check_se_id(&req.se_id)?;
        let card =
            Certificate::from_der(&req.card_certificate).map_err(|_| JlisError::MalformedDer("card certificate"))?;
        let sign_ca = &self.ca.ca(CaKind::Sign).cert;
        let at = SystemTime::now();
        match pki::chain::validate_path(&card, &[], std::slice::from_ref(sign_ca), at) {
            Ok(_) => {}
            Err(pki::chain::ChainError::NotValidAt { .. }) => return Err(JlisError::CardExpired),
            Err(_) => return Err(JlisError::ForeignCa),
        }
        let holder = pki::describe::holder_from_sign_certificate(&card).ok_or_else(|| {
            JlisError::WrongCertificate("the application must be signed with the card's signature certificate".into())
        })?;
        let applied = crate::application::check(&req.application, &req.card_certificate, sign_ca, req.cert_type, at)?;
        if let Some(trust) = &self.device_trust {
            trust.check(req, &applied.application, at)?;
        }
        let card_serial = serial_hex(&card);
        let kind = req.cert_type.ca();
        let ca = self.ca.ca(kind);
        let (cas, spki) = (self.ca.clone(), req.phone_public_key.clone());
        let not_after = card.tbs_certificate.validity.not_after.to_system_time();
        // Signed before the transaction (discarded if a check below refuses),
        // off the async workers and off the database writer.
        let phone = self
            .signing
            .run(move || {
                let ee = EndEntity {
                    kind,
                    public_key_der: &spki,
                    holder: &holder,
                    not_before: at,
                    not_after,
                    hierarchy: Hierarchy::Test,
                };
                let ca = cas.ca(kind);
                NewCertificate::of(&issue_end_entity(&ca.cert, ca.key(), &ee)?, kind, CertKind::Phone)
            })
            .await??;
        let (request_id, se_id, cert_type) = (req.request_id.clone(), req.se_id.to_uppercase(), req.cert_type.as_str());
        let by = audit::by(&req.request_id);
        let done = self
            .write(move |tx| {
                // The same request may have won a race with this one.
                if let Some(done) = records::earlier(tx, &request_id, &fingerprint)? {
                    return Ok(Err(done));
                }
                let (status, card_kind) = records::current(tx, &card_serial)?;
                if card_kind != CertKind::Card {
                    return Err(JlisError::WrongCertificate(
                        "a phone certificate cannot apply for another phone certificate".into(),
                    ));
                }
                match status {
                    CertStatus::Revoked => return Err(JlisError::CardRevoked),
                    CertStatus::Hold => return Err(JlisError::CardOnHold),
                    CertStatus::Good => {}
                }
                if records::application_has_active(tx, &applied.digest, cert_type)? {
                    return Err(JlisError::ApplicationUsed(cert_type));
                }
                let t = records::now();
                let superseded = records::active_phones(tx, &card_serial, Some(cert_type))?;
                for serial in &superseded {
                    records::set_revoked(tx, serial, Reason::Superseded, t)?;
                    let detail = serde_json::json!({ "serial": serial, "card": card_serial });
                    audit::append(tx, t, "phone.superseded", &detail, &by)?;
                }
                phone.insert(tx)?;
                let link = records::NewLink {
                    phone_serial: &phone.serial,
                    card_serial: &card_serial,
                    se_id: &se_id,
                    cert_type,
                    application: &applied.digest,
                    sp_tsm: sp_tsm.as_deref(),
                    at: t,
                };
                link.insert(tx)?;
                let outcome = records::Outcome { serial: phone.serial.clone(), superseded: superseded.clone() };
                records::claim_with_outcome(tx, &request_id, &fingerprint, &outcome)?;
                let detail = serde_json::json!({ "serial": phone.serial, "card": card_serial, "se_id": se_id, "type": cert_type, "application": applied.digest });
                audit::append(tx, t, "phone.issued", &detail, &by)?;
                Ok::<_, JlisError>(Ok((phone, superseded)))
            })
            .await?;
        let (phone, superseded) = match done {
            Ok(issued) => issued,
            // The certificate signed for this call is dropped unrecorded:
            // the earlier call's is the answer.
            Err(earlier) => return self.answer_again(kind, earlier).await,
        };
        self.metrics.issued("phone", 1);
        self.metrics.revoked(superseded.len() as u64);
        self.state_changed(&superseded);
        self.state_changed(std::slice::from_ref(&phone.serial));
        Ok(PhoneCertificate {
            certificate: phone.der,
            serial: phone.serial,
            ca_certificate: ca.cert_der.clone(),
            superseded,
        })
    }

    /// The answer an earlier call of [`Jlis::issue_phone`] gave.
    async fn answer_again(&self, kind: CaKind, done: records::Outcome) -> Result<PhoneCertificate, JlisError> {
        let serial = done.serial.clone();
        let certificate = self.store.read(move |tx| records::certificate_der(tx, &serial)).await?;
        tracing::info!(serial = %done.serial, "a phone-certificate request sent again: the same answer");
        Ok(PhoneCertificate {
            certificate,
            serial: done.serial,
            ca_certificate: self.ca.ca(kind).cert_der.clone(),
            superseded: done.superseded,
        })
    }

    /// Revokes a certificate; revoking a card certificate revokes every
    /// phone certificate linked to it, in the same transaction. Returns
    /// every serial revoked.
    pub async fn revoke(&self, request_id: &str, serial: &str, reason: Reason) -> Result<Vec<String>, JlisError> {
        Ok(self.revoke_for(&Requester::InProcess, request_id, serial, reason).await?.revoked)
    }

    /// Dual control (issue 15, `dual_control_key_compromise`): from now on
    /// an operator's revocation of a card certificate for key compromise
    /// takes two different operators; the first approval is recorded and
    /// the second revokes. (A caller in this process is not an operator
    /// and is not held to it.)
    pub fn require_dual_control(&mut self, on: bool) {
        self.dual_control = on;
    }

    /// Device trust (docs/device-trust.md): from now on a phone certificate
    /// is issued only for a request carrying an affirming attestation result
    /// of the pinned verifier for this application and SE, and the SE's
    /// attestation of the very key, bound to the application's commitment.
    pub fn require_device_trust(&mut self, trust: crate::device::DeviceTrust) {
        self.device_trust = Some(trust);
    }

    /// [`Jlis::revoke`] for `requester`: an SP-TSM may revoke only the phone
    /// certificates it asked for (the holder's request, an undelivered
    /// certificate); card certificates only an operator (issue 15). Under
    /// dual control the first operator's approval of a card's revocation for
    /// key compromise revokes nothing and is answered with their name.
    pub async fn revoke_for(
        &self,
        requester: &Requester,
        request_id: &str,
        serial: &str,
        reason: Reason,
    ) -> Result<Revoked, JlisError> {
        let dual_control = self.dual_control;
        let requester = requester.clone();
        if matches!(reason, Reason::CertificateHold | Reason::RemoveFromCrl) {
            return Err(JlisError::Invalid("use hold and release for 一時保留".into()));
        }
        let (request_id, serial, by) = (request_id.to_string(), serial.to_uppercase(), audit::by(request_id));
        let revoked = self
            .write(move |tx| {
                records::claim(tx, &request_id)?;
                let (status, kind) = records::current(tx, &serial)?;
                if let Requester::SpTsm { certificate_sha256 } = &requester {
                    if kind != CertKind::Phone {
                        return Err(JlisError::Forbidden(
                            "an SP-TSM revokes phone certificates only; a card certificate is revoked by an operator",
                        ));
                    }
                    if records::requesting_sp_tsm(tx, &serial)?.as_deref() != Some(certificate_sha256) {
                        return Err(JlisError::Forbidden(
                            "an SP-TSM revokes only the phone certificates it asked for; an operator revokes others",
                        ));
                    }
                }
                if status == CertStatus::Revoked {
                    return Err(JlisError::Conflict(format!("{serial} is already revoked")));
                }
                let t = records::now();
                let mut approved_by = None;
                if let Requester::Operator { name } = &requester {
                    if dual_control && kind == CertKind::Card && reason == Reason::KeyCompromise {
                        match records::first_approval(tx, &serial, t)? {
                            None => {
                                records::approve_revocation(tx, &serial, name, &request_id, t)?;
                                let detail = serde_json::json!({ "serial": serial, "reason": "key-compromise" });
                                audit::append(tx, t, "revocation.approved", &detail, &by)?;
                                return Ok(Revoked { revoked: vec![], awaiting_second_operator: Some(name.clone()) });
                            }
                            Some(first) if first == *name => {
                                return Err(JlisError::Forbidden(
                                    "dual control: this revocation is approved by you already; a second operator must ask for it",
                                ));
                            }
                            Some(first) => {
                                records::clear_approval(tx, &serial)?;
                                approved_by = Some([first, name.clone()]);
                            }
                        }
                    }
                }
                records::set_revoked(tx, &serial, reason, t)?;
                audit::append(
                    tx,
                    t,
                    "revoked",
                    &serde_json::json!({
                        "serial": serial,
                        "reason": records::reason_str(reason),
                        "approved_by": approved_by,
                    }),
                    &by,
                )?;
                let mut revoked = vec![serial.clone()];
                if kind == CertKind::Card {
                    for phone in records::active_phones(tx, &serial, None)? {
                        records::set_revoked(tx, &phone, reason, t)?;
                        let detail = serde_json::json!({ "serial": phone, "card": serial });
                        audit::append(tx, t, "phone.revoked.cascade", &detail, &by)?;
                        revoked.push(phone);
                    }
                }
                Ok(Revoked { revoked, awaiting_second_operator: None })
            })
            .await?;
        self.metrics.revoked(revoked.revoked.len() as u64);
        self.state_changed(&revoked.revoked);
        Ok(revoked)
    }

    /// Cancels the phone-certificate request `request_id` for the SP-TSM
    /// that sent it, whose attempt ended without the answer recorded (it was
    /// killed between the service's commit and its own, or the answer was
    /// lost): what the request issued is revoked (cessationOfOperation);
    /// a request that never arrived has its id spent, so a late copy issues
    /// nothing. Idempotent.
    pub async fn cancel_phone_request(&self, requester: &Requester, request_id: &str) -> Result<Cancelled, JlisError> {
        records::check_request_id(request_id)?;
        let (requester, id, by) = (requester.clone(), request_id.to_string(), audit::by(request_id));
        let cancelled = self
            .write(move |tx| {
                audit::serialize_changes(tx)?;
                let t = records::now();
                match records::request_fate(tx, &id)? {
                    records::RequestFate::Unknown => {
                        records::claim_cancelled(tx, &id)?;
                        audit::append(tx, t, "phone.request.cancelled", &serde_json::json!({ "request": id }), &by)?;
                        Ok(Cancelled { issued: None, revoked: vec![] })
                    }
                    records::RequestFate::Cancelled => Ok(Cancelled { issued: None, revoked: vec![] }),
                    records::RequestFate::Other => Err(JlisError::Replay(id)),
                    records::RequestFate::Issued(serial) => {
                        if let Requester::SpTsm { certificate_sha256 } = &requester {
                            if records::requesting_sp_tsm(tx, &serial)?.as_deref() != Some(certificate_sha256) {
                                return Err(JlisError::Forbidden("an SP-TSM cancels only the requests it sent"));
                            }
                        }
                        let (status, _) = records::current(tx, &serial)?;
                        if status == CertStatus::Revoked {
                            return Ok(Cancelled { issued: Some(serial), revoked: vec![] });
                        }
                        records::set_revoked(tx, &serial, Reason::CessationOfOperation, t)?;
                        let detail =
                            serde_json::json!({ "serial": serial, "request": id, "reason": "cessation-of-operation" });
                        audit::append(tx, t, "phone.request.cancelled", &detail, &by)?;
                        Ok(Cancelled { issued: Some(serial.clone()), revoked: vec![serial] })
                    }
                }
            })
            .await?;
        self.metrics.revoked(cancelled.revoked.len() as u64);
        self.state_changed(&cancelled.revoked);
        Ok(cancelled)
    }

    /// Puts a certificate on hold (一時保留).
    pub async fn hold(&self, request_id: &str, serial: &str) -> Result<(), JlisError> {
        self.change_hold(request_id, serial, true).await
    }

    /// Releases a hold.
    pub async fn release(&self, request_id: &str, serial: &str) -> Result<(), JlisError> {
        self.change_hold(request_id, serial, false).await
    }

    async fn change_hold(&self, request_id: &str, serial: &str, hold: bool) -> Result<(), JlisError> {
        let (request_id, serial, by) = (request_id.to_string(), serial.to_uppercase(), audit::by(request_id));
        let changed = serial.clone();
        self.write(move |tx| {
            records::claim(tx, &request_id)?;
            let (status, _) = records::current(tx, &serial)?;
            let t = records::now();
            match (hold, status) {
                (true, CertStatus::Good) => records::set_hold(tx, &serial, true, t)?,
                (false, CertStatus::Hold) => records::set_hold(tx, &serial, false, t)?,
                (_, s) => {
                    return Err(JlisError::Conflict(format!(
                        "{serial} is {}; cannot {}",
                        s.as_str(),
                        if hold { "hold it" } else { "release it" }
                    )))
                }
            };
            audit::append(tx, t, if hold { "hold" } else { "release" }, &serde_json::json!({ "serial": serial }), &by)?;
            Ok(())
        })
        .await?;
        self.state_changed(&[changed]);
        Ok(())
    }

    /// A certificate's record with its links.
    pub async fn record(&self, serial: &str) -> Result<Record, JlisError> {
        let serial = serial.to_uppercase();
        self.store.read(move |tx| records::record(tx, &serial)).await
    }

    /// The links recorded for a secure element (an operator asking "which
    /// card certificates has this phone held certificates for?").
    pub async fn links_of_se(&self, se_id: &str) -> Result<Vec<Link>, JlisError> {
        check_se_id(se_id)?;
        let se_id = se_id.to_uppercase();
        self.store.read(move |tx| records::links_of_se(tx, &se_id)).await
    }

    /// The status of `serial` under CA `kind`, as OCSP reports it.
    pub async fn status(&self, kind: CaKind, serial: &[u8]) -> Result<Status, JlisError> {
        let serial = hex::encode_upper(serial);
        self.store.read(move |tx| records::status(tx, kind, &serial)).await
    }

    /// Drops the pre-signed OCSP responses about `serials` (after a change
    /// to them). Every change also moves the generation on, so an answer
    /// being signed meanwhile — about any serial — is not cached.
    fn state_changed(&self, serials: &[String]) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut cache) = self.ocsp_cache.write() {
            for serial in serials {
                cache.remove(serial);
            }
        }
    }

    /// Answers an OCSP request (DER). Malformed requests get
    /// `malformedRequest`; certificates of neither CA are `unknown`.
    /// Requests without a nonce are answered from pre-signed responses
    /// (RFC 5019's practice); a nonce is signed on demand.
    pub async fn ocsp(&self, request: &[u8]) -> Result<Vec<u8>, JlisError> {
        use crate::metrics::OcspAnswer;
        let Ok(req) = pki::ocsp::parse_request(request) else {
            self.metrics.ocsp(OcspAnswer::Refused);
            return Ok(pki::ocsp::error_response(pki::ocsp::ResponseStatus::MalformedRequest));
        };
        let cache_key = match (&req.nonce, req.cert_ids.as_slice()) {
            (None, [id]) => id.to_der().ok().map(|der| (hex::encode_upper(id.serial_number.as_bytes()), der)),
            _ => None,
        };
        if let Some((serial, key)) = &cache_key {
            let cached = self.ocsp_cache.read().ok().and_then(|c| c.get(serial).and_then(|s| s.get(key)).cloned());
            if let Some((at, der)) = cached {
                if at.elapsed() < OCSP_CACHE_TTL {
                    self.metrics.ocsp(OcspAnswer::Cached);
                    return Ok(der);
                }
            }
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let der = match self.sign_ocsp(&req).await {
            // Shed, not queued without end: the relying party asks again.
            Err(JlisError::Busy(why)) => {
                self.metrics.ocsp(OcspAnswer::Shed);
                tracing::debug!(why, "OCSP answered tryLater");
                return Ok(pki::ocsp::error_response(pki::ocsp::ResponseStatus::TryLater));
            }
            answer => answer?,
        };
        if let (Some((serial, key)), Ok(mut cache)) = (cache_key, self.ocsp_cache.write()) {
            if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
                return Ok(der);
            }
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.entry(serial).or_default().insert(key, (std::time::Instant::now(), der.clone()));
        }
        Ok(der)
    }

    async fn sign_ocsp(&self, req: &pki::ocsp::Request) -> Result<Vec<u8>, JlisError> {
        let responder = [CaKind::Auth, CaKind::Sign]
            .into_iter()
            .find(|k| pki::ocsp::issued_by(&req.cert_ids[0], &self.ca.ca(*k).cert));
        let Some(responder) = responder else {
            self.metrics.ocsp(crate::metrics::OcspAnswer::Refused);
            return Ok(pki::ocsp::error_response(pki::ocsp::ResponseStatus::Unauthorized));
        };
        let ca = self.ca.ca(responder);
        let mut entries = Vec::with_capacity(req.cert_ids.len());
        for id in &req.cert_ids {
            let status = if pki::ocsp::issued_by(id, &ca.cert) {
                self.status(responder, id.serial_number.as_bytes()).await?
            } else {
                Status::Unknown
            };
            entries.push((id.clone(), status));
        }
        let now = SystemTime::now();
        let (cas, nonce) = (self.ca.clone(), req.nonce.clone());
        let der = self
            .signing
            .run_as(crate::signing::Priority::Answer, move || {
                // Signed by the CA's delegated responder, not the CA key.
                pki::ocsp::build_delegated_response(
                    &cas.ca(responder).responder,
                    &entries,
                    now,
                    now + Duration::from_secs(3600),
                    nonce.as_deref(),
                )
            })
            .await??;
        self.metrics.ocsp(crate::metrics::OcspAnswer::Signed);
        Ok(der)
    }

    /// Produces the next CRL of CA `kind`: a full CRL (it becomes the base
    /// of later deltas) or a delta since the last full one. The number is
    /// taken and the entries read in one transaction; the signature is made
    /// after it, off the database writer (a number whose CRL failed to sign
    /// is skipped, which RFC 5280's increasing CRL numbers allow).
    pub async fn crl(&self, kind: CaKind, delta: bool) -> Result<Vec<u8>, JlisError> {
        let t = records::now();
        let (entries, params) = self.write(move |tx| records::crl_entries(tx, kind, delta, t)).await?;
        let cas = self.ca.clone();
        Ok(self
            .signing
            .run(move || {
                let ca = cas.ca(kind);
                pki::crl::build(&ca.cert, ca.key(), &entries, &params)
            })
            .await??)
    }
}
