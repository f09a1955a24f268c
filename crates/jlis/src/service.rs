//! The service's rules, over the store and the CAs. Every state change and
//! its audit entries are committed in one transaction before the caller gets
//! an answer; a refused request changes nothing.

use crate::audit;
use crate::JlisError;
use der::{Decode, Encode};
use pki::crl::{CrlParams, Reason, Revoked};
use pki::ocsp::Status;
use pki::profile::{issue_end_entity, EndEntity};
use pki::{CaKind, Certificate, Hierarchy, Holder};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{params, Row, Store, Tx};

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
}

/// Pre-signed OCSP responses by serial (upper-case hex), then by the DER of
/// the CertID asked about, with the time each was signed. A change drops
/// the answers about the serials it touched, not the others.
type OcspCache = std::collections::HashMap<String, std::collections::HashMap<Vec<u8>, (std::time::Instant, Vec<u8>)>>;

/// How long a pre-signed OCSP response (a request without nonce) is served
/// before it is signed again; a change to a certificate drops the answers
/// about it.
pub const OCSP_CACHE_TTL: Duration = Duration::from_secs(300);

pub use jlis_api::types::{Link, PhoneCertType, PhoneCertificate, PhoneRequest, Record};

/// A link as stored.
fn link_from_row(r: &Row) -> Result<Link, JlisError> {
    Ok(Link {
        card_serial: r.text("card_serial")?,
        phone_serial: r.text("phone_serial")?,
        se_id: r.text("se_id")?,
        cert_type: r.text("cert_type")?,
    })
}

/// An SE identifier: 1 to 64 hex digits.
fn check_se_id(se_id: &str) -> Result<(), JlisError> {
    if se_id.is_empty() || se_id.len() > 64 || !se_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(JlisError::Invalid("se_id must be the SE identifier in hex".into()));
    }
    Ok(())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn to_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

/// Upper-case hex of a certificate's serial.
pub fn serial_hex(cert: &Certificate) -> String {
    hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes())
}

fn reason_str(r: Reason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "unspecified".into())
}

fn reason_from(s: &str) -> Reason {
    serde_json::from_value(serde_json::Value::String(s.into())).unwrap_or(Reason::Unspecified)
}

/// Records a request id; a second use of it is a replay.
fn claim(tx: &mut Tx<'_>, request_id: &str) -> Result<(), JlisError> {
    if request_id.is_empty() || request_id.len() > 128 {
        return Err(JlisError::Invalid("request_id must be 1 to 128 characters".into()));
    }
    if tx.optional("SELECT id FROM requests WHERE id = $1", params![request_id])?.is_some() {
        return Err(JlisError::Replay(request_id.into()));
    }
    tx.execute("INSERT INTO requests (id, at) VALUES ($1, $2)", params![request_id, now()]).map_err(|e| {
        if e.is_unique_violation() {
            JlisError::Replay(request_id.into())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// A certificate ready to be recorded: its serial and columns.
struct NewCertificate {
    serial: String,
    ca: CaKind,
    holder: String,
    kind: &'static str,
    der: Vec<u8>,
    not_after: i64,
}

impl NewCertificate {
    fn of(cert: &Certificate, ca: CaKind, kind: &'static str) -> Result<Self, JlisError> {
        Ok(Self {
            serial: serial_hex(cert),
            ca,
            holder: cert.tbs_certificate.subject.to_string(),
            kind,
            der: cert.to_der().map_err(|e| JlisError::Internal(e.to_string()))?,
            not_after: cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs() as i64,
        })
    }

    fn insert(&self, tx: &mut Tx<'_>) -> Result<(), JlisError> {
        let t = now();
        tx.execute(
            "INSERT INTO certificates (serial, ca, holder, kind, der, not_after, issued_at, status, reason, revoked_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'good', NULL, NULL, $7)",
            params![&self.serial, self.ca.as_str(), &self.holder, self.kind, &self.der, self.not_after, t],
        )?;
        Ok(())
    }
}

fn set_revoked(tx: &mut Tx<'_>, serial: &str, reason: Reason, t: i64) -> Result<(), JlisError> {
    tx.execute(
        "UPDATE certificates SET status = 'revoked', reason = $1, revoked_at = $2, changed_at = $2 WHERE serial = $3",
        params![reason_str(reason), t, serial],
    )?;
    Ok(())
}

/// A certificate's status and kind, locked for the transaction.
fn current(tx: &mut Tx<'_>, serial: &str) -> Result<(String, String), JlisError> {
    let sql = format!("SELECT status, kind FROM certificates WHERE serial = $1{}", tx.for_update());
    let row = tx.optional(&sql, params![serial])?.ok_or_else(|| JlisError::UnknownSerial(serial.into()))?;
    Ok((row.text("status")?, row.text("kind")?))
}

/// Active phone certificates linked to a card certificate (of one type, or all).
fn active_phones(tx: &mut Tx<'_>, card_serial: &str, cert_type: Option<&str>) -> Result<Vec<String>, JlisError> {
    let rows = match cert_type {
        Some(t) => tx.all(
            "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial \
             WHERE l.card_serial = $1 AND l.cert_type = $2 AND c.status <> 'revoked'",
            params![card_serial, t],
        )?,
        None => tx.all(
            "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial \
             WHERE l.card_serial = $1 AND c.status <> 'revoked'",
            params![card_serial],
        )?,
    };
    rows.iter().map(|r| Ok(r.text("phone_serial")?)).collect()
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
        })
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
                    NewCertificate::of(&cert, kind, "card")
                };
                Ok::<_, JlisError>((issue(CaKind::Auth, &keys.0)?, issue(CaKind::Sign, &keys.1)?))
            })
            .await??;
        let (request_id, by) = (request_id.to_string(), audit::by(request_id));
        let auth = self
            .store
            .write(move |tx| {
                claim(tx, &request_id)?;
                auth.insert(tx)?;
                sign.insert(tx)?;
                audit::append(
                    tx,
                    now(),
                    "card.issued",
                    &serde_json::json!({ "auth": auth.serial, "sign": sign.serial }),
                    &by,
                )?;
                Ok::<_, JlisError>(([auth.serial, sign.serial], (auth.der, sign.der)))
            })
            .await?;
        let (serials, (auth, sign)) = auth;
        self.state_changed(&serials);
        Ok((auth, sign))
    }

    /// Issues a phone certificate linked to the card certificate that signed
    /// the application: checks the card certificate (chain, validity, not
    /// revoked, not on hold), revokes any other active phone certificate of
    /// the same type linked to that card (superseded), gives the phone
    /// certificate the card certificate's notAfter, and records the link.
    pub async fn issue_phone(&self, req: &PhoneRequest) -> Result<PhoneCertificate, JlisError> {
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
                NewCertificate::of(&issue_end_entity(&ca.cert, ca.key(), &ee)?, kind, "phone")
            })
            .await??;
        let (request_id, se_id, cert_type) = (req.request_id.clone(), req.se_id.to_uppercase(), req.cert_type.as_str());
        let by = audit::by(&req.request_id);
        let (phone, superseded) = self
            .store
            .write(move |tx| {
                claim(tx, &request_id)?;
                let (status, card_kind) = current(tx, &card_serial)?;
                if card_kind != "card" {
                    return Err(JlisError::WrongCertificate(
                        "a phone certificate cannot apply for another phone certificate".into(),
                    ));
                }
                match status.as_str() {
                    "revoked" => return Err(JlisError::CardRevoked),
                    "hold" => return Err(JlisError::CardOnHold),
                    _ => {}
                }
                let active_for_application = tx.optional(
                    "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial
                     WHERE l.application = $1 AND l.cert_type = $2 AND c.status <> 'revoked' LIMIT 1",
                    params![&applied.digest, cert_type],
                )?;
                if active_for_application.is_some() {
                    return Err(JlisError::ApplicationUsed(cert_type));
                }
                let t = now();
                let superseded = active_phones(tx, &card_serial, Some(cert_type))?;
                for serial in &superseded {
                    set_revoked(tx, serial, Reason::Superseded, t)?;
                    let detail = serde_json::json!({ "serial": serial, "card": card_serial });
                    audit::append(tx, t, "phone.superseded", &detail, &by)?;
                }
                phone.insert(tx)?;
                tx.execute(
                    "INSERT INTO links (phone_serial, card_serial, se_id, cert_type, created_at, application)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    params![&phone.serial, &card_serial, &se_id, cert_type, t, &applied.digest],
                )?;
                let detail = serde_json::json!({ "serial": phone.serial, "card": card_serial, "se_id": se_id, "type": cert_type, "application": applied.digest });
                audit::append(tx, t, "phone.issued", &detail, &by)?;
                Ok::<_, JlisError>((phone, superseded))
            })
            .await?;
        self.state_changed(&superseded);
        self.state_changed(std::slice::from_ref(&phone.serial));
        Ok(PhoneCertificate {
            certificate: phone.der,
            serial: phone.serial,
            ca_certificate: ca.cert_der.clone(),
            superseded,
        })
    }

    /// Revokes a certificate; revoking a card certificate revokes every
    /// phone certificate linked to it, in the same transaction. Returns
    /// every serial revoked.
    pub async fn revoke(&self, request_id: &str, serial: &str, reason: Reason) -> Result<Vec<String>, JlisError> {
        if matches!(reason, Reason::CertificateHold | Reason::RemoveFromCrl) {
            return Err(JlisError::Invalid("use hold and release for 一時保留".into()));
        }
        let (request_id, serial, by) = (request_id.to_string(), serial.to_uppercase(), audit::by(request_id));
        let revoked = self
            .store
            .write(move |tx| {
                claim(tx, &request_id)?;
                let (status, kind) = current(tx, &serial)?;
                if status == "revoked" {
                    return Err(JlisError::Conflict(format!("{serial} is already revoked")));
                }
                let t = now();
                set_revoked(tx, &serial, reason, t)?;
                audit::append(
                    tx,
                    t,
                    "revoked",
                    &serde_json::json!({ "serial": serial, "reason": reason_str(reason) }),
                    &by,
                )?;
                let mut revoked = vec![serial.clone()];
                if kind == "card" {
                    for phone in active_phones(tx, &serial, None)? {
                        set_revoked(tx, &phone, reason, t)?;
                        let detail = serde_json::json!({ "serial": phone, "card": serial });
                        audit::append(tx, t, "phone.revoked.cascade", &detail, &by)?;
                        revoked.push(phone);
                    }
                }
                Ok(revoked)
            })
            .await?;
        self.state_changed(&revoked);
        Ok(revoked)
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
        self.store
            .write(move |tx| {
                claim(tx, &request_id)?;
                let (status, _) = current(tx, &serial)?;
                let t = now();
                match (hold, status.as_str()) {
                    (true, "good") => tx.execute(
                        "UPDATE certificates SET status = 'hold', reason = 'certificate-hold', revoked_at = $1, changed_at = $1 WHERE serial = $2",
                        params![t, &serial],
                    )?,
                    (false, "hold") => tx.execute(
                        "UPDATE certificates SET status = 'good', reason = NULL, revoked_at = NULL, changed_at = $1 WHERE serial = $2",
                        params![t, &serial],
                    )?,
                    (_, s) => {
                        return Err(JlisError::Conflict(format!(
                            "{serial} is {s}; cannot {}",
                            if hold { "hold it" } else { "release it" }
                        )))
                    }
                };
                audit::append(tx, t, if hold { "hold" } else { "release" }, &serde_json::json!({ "serial": serial }), &by)
            })
            .await?;
        self.state_changed(&[changed]);
        Ok(())
    }

    /// A certificate's record with its links.
    pub async fn record(&self, serial: &str) -> Result<Record, JlisError> {
        let serial = serial.to_uppercase();
        self.store
            .read(move |tx| {
                let row = tx
                    .optional(
                        "SELECT serial, ca, kind, holder, status, reason, not_after FROM certificates WHERE serial = $1",
                        params![&serial],
                    )?
                    .ok_or_else(|| JlisError::UnknownSerial(serial.clone()))?;
                let links = tx
                    .all(
                        "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE card_serial = $1 OR phone_serial = $1",
                        params![&serial],
                    )?
                    .iter()
                    .map(link_from_row)
                    .collect::<Result<Vec<_>, JlisError>>()?;
                Ok(Record {
                    ca: row.text("ca")?,
                    kind: row.text("kind")?,
                    subject: row.text("holder")?,
                    status: row.text("status")?,
                    reason: row.opt_text("reason")?,
                    not_after: row.int("not_after")?,
                    serial,
                    links,
                })
            })
            .await
    }

    /// The links recorded for a secure element (an operator asking "which
    /// card certificates has this phone held certificates for?").
    pub async fn links_of_se(&self, se_id: &str) -> Result<Vec<Link>, JlisError> {
        check_se_id(se_id)?;
        let se_id = se_id.to_uppercase();
        self.store
            .read(move |tx| {
                tx.all(
                    "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE se_id = $1 ORDER BY created_at",
                    params![se_id],
                )?
                .iter()
                .map(link_from_row)
                .collect()
            })
            .await
    }

    /// The status of `serial` under CA `kind`, as OCSP reports it.
    pub async fn status(&self, kind: CaKind, serial: &[u8]) -> Result<Status, JlisError> {
        let serial = hex::encode_upper(serial);
        let row = self
            .store
            .read(move |tx| {
                tx.optional(
                    "SELECT status, reason, revoked_at FROM certificates WHERE serial = $1 AND ca = $2",
                    params![serial, kind.as_str()],
                )
            })
            .await?;
        let Some(row) = row else { return Ok(Status::Unknown) };
        let at = to_time(row.opt_int("revoked_at")?.unwrap_or(0));
        Ok(match row.text("status")?.as_str() {
            "good" => Status::Good,
            "hold" => Status::Revoked { at, reason: Reason::CertificateHold },
            _ => Status::Revoked {
                at,
                reason: row.opt_text("reason")?.map(|r| reason_from(&r)).unwrap_or(Reason::Unspecified),
            },
        })
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
        let Ok(req) = pki::ocsp::parse_request(request) else {
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
                    return Ok(der);
                }
            }
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let der = self.sign_ocsp(&req).await?;
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
        Ok(self
            .signing
            .run(move || {
                let ca = cas.ca(responder);
                pki::ocsp::build_response(
                    &ca.cert,
                    ca.key(),
                    &entries,
                    now,
                    now + Duration::from_secs(3600),
                    nonce.as_deref(),
                )
            })
            .await??)
    }

    /// Produces the next CRL of CA `kind`: a full CRL (it becomes the base
    /// of later deltas) or a delta since the last full one. The number is
    /// taken and the entries read in one transaction; the signature is made
    /// after it, off the database writer (a number whose CRL failed to sign
    /// is skipped, which RFC 5280's increasing CRL numbers allow).
    pub async fn crl(&self, kind: CaKind, delta: bool) -> Result<Vec<u8>, JlisError> {
        let t = now();
        let (entries, params) = self.store.write(move |tx| crl_entries(tx, kind, delta, t)).await?;
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

/// Takes the next CRL number of CA `kind` and reads the entries of the CRL.
fn crl_entries(tx: &mut Tx<'_>, kind: CaKind, delta: bool, t: i64) -> Result<(Vec<Revoked>, CrlParams), JlisError> {
    let sql = format!("SELECT number, base_number, base_at FROM crl_state WHERE ca = $1{}", tx.for_update());
    let state = tx.optional(&sql, params![kind.as_str()])?;
    let (number, base_number, base_at) = match &state {
        Some(r) => (r.int("number")? + 1, r.int("base_number")?, r.int("base_at")?),
        None => (1, 0, 0),
    };
    let delta = delta && state.is_some();
    let rows = if delta {
        tx.all(
            "SELECT serial, status, reason, revoked_at, changed_at FROM certificates \
             WHERE ca = $1 AND changed_at >= $2 AND (status <> 'good' OR revoked_at IS NULL)",
            params![kind.as_str(), base_at],
        )?
    } else {
        tx.all(
            "SELECT serial, status, reason, revoked_at, changed_at FROM certificates WHERE ca = $1 AND status <> 'good'",
            params![kind.as_str()],
        )?
    };
    let mut entries = Vec::with_capacity(rows.len());
    for r in &rows {
        let status = r.text("status")?;
        if delta && status == "good" && r.int("changed_at")? < base_at {
            continue;
        }
        let reason = match status.as_str() {
            "hold" => Reason::CertificateHold,
            "good" => Reason::RemoveFromCrl, // released since the base
            _ => r.opt_text("reason")?.map(|s| reason_from(&s)).unwrap_or(Reason::Unspecified),
        };
        let revoked_at = r.opt_int("revoked_at")?.unwrap_or(r.int("changed_at")?);
        entries.push(Revoked {
            serial: hex::decode(r.text("serial")?).map_err(|e| JlisError::Internal(e.to_string()))?,
            revoked_at: to_time(revoked_at),
            reason,
            invalidity: None,
        });
    }
    let (base_number, base_at) = if delta { (base_number, base_at) } else { (number, t) };
    if state.is_some() {
        tx.execute(
            "UPDATE crl_state SET number = $1, base_number = $2, base_at = $3 WHERE ca = $4",
            params![number, base_number, base_at, kind.as_str()],
        )?;
    } else {
        tx.execute(
            "INSERT INTO crl_state (ca, number, base_number, base_at) VALUES ($1, $2, $3, $4)",
            params![kind.as_str(), number, base_number, base_at],
        )?;
    }
    let params = CrlParams {
        this_update: to_time(t),
        next_update: to_time(t + 86_400),
        number: number as u64,
        delta_base: delta.then_some(base_number as u64),
    };
    Ok((entries, params))
}
