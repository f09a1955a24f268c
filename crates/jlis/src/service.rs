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
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::Store;

/// The JPKI service.
#[derive(Debug)]
pub struct Jlis {
    store: Store,
    ca: pki::ca::LocalCa,
    ocsp_cache: std::sync::RwLock<OcspCache>,
    /// Bumped by every state change, so a response signed before a change
    /// is never cached after it.
    generation: std::sync::atomic::AtomicU64,
}

/// Pre-signed OCSP responses by the DER of the CertID asked about, with the
/// time each was signed.
type OcspCache = std::collections::HashMap<Vec<u8>, (std::time::Instant, Vec<u8>)>;

/// How long a pre-signed OCSP response (a request without nonce) is served
/// before it is signed again; any state change drops them all.
pub const OCSP_CACHE_TTL: Duration = Duration::from_secs(300);

/// Which certificate a phone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneCertType {
    /// スマホ用利用者証明用電子証明書.
    Auth,
    /// スマホ用署名用電子証明書.
    Sign,
}

impl PhoneCertType {
    fn ca(self) -> CaKind {
        match self {
            PhoneCertType::Auth => CaKind::Auth,
            PhoneCertType::Sign => CaKind::Sign,
        }
    }
    /// `auth` or `sign`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneCertType::Auth => "auth",
            PhoneCertType::Sign => "sign",
        }
    }
}

/// A phone certificate request from the SP-TSM.
#[derive(Debug, Clone)]
pub struct PhoneRequest {
    /// Unique per request (replay protection).
    pub request_id: String,
    /// The card's signature certificate that signed the application (DER).
    pub card_certificate: Vec<u8>,
    /// The key generated in the SE (DER SubjectPublicKeyInfo).
    pub phone_public_key: Vec<u8>,
    /// The SE identifier (hex).
    pub se_id: String,
    /// Auth or sign.
    pub cert_type: PhoneCertType,
}

/// A phone certificate issued.
#[derive(Debug, Clone, Serialize)]
pub struct PhoneIssued {
    /// The certificate (DER).
    #[serde(skip)]
    pub certificate: Vec<u8>,
    /// Its serial (hex).
    pub serial: String,
    /// The CA certificate (DER).
    #[serde(skip)]
    pub ca_certificate: Vec<u8>,
    /// Phone certificates revoked because this one supersedes them.
    pub superseded: Vec<String>,
}

/// A certificate record, for operators.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Serial (hex).
    pub serial: String,
    /// `auth` or `sign`.
    pub ca: String,
    /// `card` or `phone`.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// `good`, `revoked` or `hold`.
    pub status: String,
    /// Revocation reason.
    pub reason: Option<String>,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// For a phone certificate: the card certificate and SE it is linked to;
    /// for a card certificate: the linked phone certificates.
    pub links: Vec<Link>,
}

/// A card ↔ phone link.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Card certificate serial.
    pub card_serial: String,
    /// Phone certificate serial.
    pub phone_serial: String,
    /// SE identifier.
    pub se_id: String,
    /// auth or sign.
    pub cert_type: String,
}

impl Link {
    fn from_row(r: &store::sqlx::any::AnyRow) -> Result<Self, JlisError> {
        Ok(Link {
            card_serial: store::text(r, "card_serial")?,
            phone_serial: store::text(r, "phone_serial")?,
            se_id: store::text(r, "se_id")?,
            cert_type: store::text(r, "cert_type")?,
        })
    }
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

type Tx = store::sqlx::Transaction<'static, store::sqlx::Any>;

/// Runs a private-key operation on the blocking pool, so that the async
/// workers are free to drive database round trips meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, JlisError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| JlisError::Internal(e.to_string()))
}

impl Jlis {
    /// Opens the service over a database (migrated here) and the CAs.
    pub async fn open(db_url: &str, ca: pki::ca::LocalCa) -> Result<Self, JlisError> {
        let store = Store::open(db_url, crate::schema::MIGRATIONS).await?;
        Ok(Self { store, ca, ocsp_cache: Default::default(), generation: Default::default() })
    }

    /// The CAs.
    pub fn ca(&self) -> &pki::ca::LocalCa {
        &self.ca
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn claim(&self, tx: &mut Tx, request_id: &str) -> Result<(), JlisError> {
        if request_id.is_empty() || request_id.len() > 128 {
            return Err(JlisError::Invalid("request_id must be 1 to 128 characters".into()));
        }
        let seen = store::sqlx::query("SELECT id FROM requests WHERE id = $1")
            .bind(request_id)
            .fetch_optional(&mut **tx)
            .await?;
        if seen.is_some() {
            return Err(JlisError::Replay(request_id.into()));
        }
        store::sqlx::query("INSERT INTO requests (id, at) VALUES ($1, $2)")
            .bind(request_id)
            .bind(now())
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
                    JlisError::Replay(request_id.into())
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn insert(&self, tx: &mut Tx, cert: &Certificate, ca: CaKind, kind: &str) -> Result<String, JlisError> {
        let serial = serial_hex(cert);
        let t = now();
        store::sqlx::query(
            "INSERT INTO certificates (serial, ca, holder, kind, der, not_after, issued_at, status, reason, revoked_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'good', NULL, NULL, $8)",
        )
        .bind(&serial)
        .bind(ca.as_str())
        .bind(cert.tbs_certificate.subject.to_string())
        .bind(kind)
        .bind(cert.to_der().map_err(|e| JlisError::Internal(e.to_string()))?)
        .bind(cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs() as i64)
        .bind(t)
        .bind(t)
        .execute(&mut **tx)
        .await?;
        Ok(serial)
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
        let issue =
            |kind| self.ca.issue_card_certificate(kind, if kind == CaKind::Auth { auth_key } else { sign_key }, holder);
        let auth = issue(CaKind::Auth).map_err(|e| JlisError::Internal(e.to_string()))?;
        let sign = issue(CaKind::Sign).map_err(|e| JlisError::Internal(e.to_string()))?;
        let mut tx = self.store.pool().begin().await?;
        self.claim(&mut tx, request_id).await?;
        let a = self.insert(&mut tx, &auth, CaKind::Auth, "card").await?;
        let s = self.insert(&mut tx, &sign, CaKind::Sign, "card").await?;
        audit::append(&mut tx, now(), "card.issued", &serde_json::json!({ "auth": a, "sign": s })).await?;
        tx.commit().await?;
        self.state_changed();
        let der = |c: &Certificate| c.to_der().map_err(|e| JlisError::Internal(e.to_string()));
        Ok((der(&auth)?, der(&sign)?))
    }

    /// Issues a phone certificate linked to the card certificate that signed
    /// the application: checks the card certificate (chain, validity, not
    /// revoked, not on hold), revokes any other active phone certificate of
    /// the same type linked to that card (superseded), gives the phone
    /// certificate the card certificate's notAfter, and records the link.
    pub async fn issue_phone(&self, req: &PhoneRequest) -> Result<PhoneIssued, JlisError> {
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
        let card_serial = serial_hex(&card);
        let kind = req.cert_type.ca();
        let ca = self.ca.ca(kind);
        let (ca_cert, signer, spki) = (ca.cert.clone(), ca.signer(), req.phone_public_key.clone());
        let not_after = card.tbs_certificate.validity.not_after.to_system_time();
        // Signed before the transaction (discarded if a check below refuses),
        // off the async workers so they keep serving the database.
        let phone = blocking(move || {
            let ee = EndEntity {
                kind,
                public_key_der: &spki,
                holder: &holder,
                not_before: at,
                not_after,
                hierarchy: Hierarchy::Test,
            };
            issue_end_entity(&ca_cert, &*signer, &ee)
        })
        .await??;

        let mut tx = self.store.pool().begin().await?;
        self.claim(&mut tx, &req.request_id).await?;
        let sql = format!("SELECT status, kind FROM certificates WHERE serial = $1{}", self.store.for_update());
        let row = store::sqlx::query(&sql)
            .bind(&card_serial)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(JlisError::UnknownSerial(card_serial.clone()))?;
        if store::text(&row, "kind")? != "card" {
            return Err(JlisError::WrongCertificate(
                "a phone certificate cannot apply for another phone certificate".into(),
            ));
        }
        match store::text(&row, "status")?.as_str() {
            "revoked" => return Err(JlisError::CardRevoked),
            "hold" => return Err(JlisError::CardOnHold),
            _ => {}
        }
        let t = now();
        let previous = store::sqlx::query(
            "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial \
             WHERE l.card_serial = $1 AND l.cert_type = $2 AND c.status <> 'revoked'",
        )
        .bind(&card_serial)
        .bind(req.cert_type.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut superseded = Vec::new();
        for row in previous {
            let serial = store::text(&row, "phone_serial")?;
            self.set_revoked(&mut tx, &serial, Reason::Superseded, t).await?;
            audit::append(
                &mut tx,
                t,
                "phone.superseded",
                &serde_json::json!({ "serial": serial, "card": card_serial }),
            )
            .await?;
            superseded.push(serial);
        }
        let serial = self.insert(&mut tx, &phone, kind, "phone").await?;
        store::sqlx::query(
            "INSERT INTO links (phone_serial, card_serial, se_id, cert_type, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&serial)
        .bind(&card_serial)
        .bind(req.se_id.to_uppercase())
        .bind(req.cert_type.as_str())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            t,
            "phone.issued",
            &serde_json::json!({ "serial": serial, "card": card_serial, "se_id": req.se_id.to_uppercase(), "type": req.cert_type.as_str() }),
        )
        .await?;
        tx.commit().await?;
        self.state_changed();
        Ok(PhoneIssued {
            certificate: phone.to_der().map_err(|e| JlisError::Internal(e.to_string()))?,
            serial,
            ca_certificate: ca.cert_der.clone(),
            superseded,
        })
    }

    async fn set_revoked(&self, tx: &mut Tx, serial: &str, reason: Reason, t: i64) -> Result<(), JlisError> {
        store::sqlx::query("UPDATE certificates SET status = 'revoked', reason = $1, revoked_at = $2, changed_at = $3 WHERE serial = $4")
            .bind(reason_str(reason))
            .bind(t)
            .bind(t)
            .bind(serial)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn current(&self, tx: &mut Tx, serial: &str) -> Result<(String, String), JlisError> {
        let sql = format!("SELECT status, kind FROM certificates WHERE serial = $1{}", self.store.for_update());
        let row = store::sqlx::query(&sql)
            .bind(serial)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| JlisError::UnknownSerial(serial.into()))?;
        Ok((store::text(&row, "status")?, store::text(&row, "kind")?))
    }

    /// Revokes a certificate; revoking a card certificate revokes every
    /// phone certificate linked to it, in the same transaction. Returns
    /// every serial revoked.
    pub async fn revoke(&self, request_id: &str, serial: &str, reason: Reason) -> Result<Vec<String>, JlisError> {
        if matches!(reason, Reason::CertificateHold | Reason::RemoveFromCrl) {
            return Err(JlisError::Invalid("use hold and release for 一時保留".into()));
        }
        let serial = serial.to_uppercase();
        let mut tx = self.store.pool().begin().await?;
        self.claim(&mut tx, request_id).await?;
        let (status, kind) = self.current(&mut tx, &serial).await?;
        if status == "revoked" {
            return Err(JlisError::Conflict(format!("{serial} is already revoked")));
        }
        let t = now();
        self.set_revoked(&mut tx, &serial, reason, t).await?;
        audit::append(&mut tx, t, "revoked", &serde_json::json!({ "serial": serial, "reason": reason_str(reason) }))
            .await?;
        let mut revoked = vec![serial.clone()];
        if kind == "card" {
            let linked = store::sqlx::query(
                "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial WHERE l.card_serial = $1 AND c.status <> 'revoked'",
            )
            .bind(&serial)
            .fetch_all(&mut *tx)
            .await?;
            for row in linked {
                let phone = store::text(&row, "phone_serial")?;
                self.set_revoked(&mut tx, &phone, reason, t).await?;
                audit::append(
                    &mut tx,
                    t,
                    "phone.revoked.cascade",
                    &serde_json::json!({ "serial": phone, "card": serial }),
                )
                .await?;
                revoked.push(phone);
            }
        }
        tx.commit().await?;
        self.state_changed();
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
        let serial = serial.to_uppercase();
        let mut tx = self.store.pool().begin().await?;
        self.claim(&mut tx, request_id).await?;
        let (status, _) = self.current(&mut tx, &serial).await?;
        let t = now();
        match (hold, status.as_str()) {
            (true, "good") => {
                store::sqlx::query("UPDATE certificates SET status = 'hold', reason = 'certificate-hold', revoked_at = $1, changed_at = $2 WHERE serial = $3")
                    .bind(t)
                    .bind(t)
                    .bind(&serial)
                    .execute(&mut *tx)
                    .await?;
            }
            (false, "hold") => {
                store::sqlx::query("UPDATE certificates SET status = 'good', reason = NULL, revoked_at = NULL, changed_at = $1 WHERE serial = $2")
                    .bind(t)
                    .bind(&serial)
                    .execute(&mut *tx)
                    .await?;
            }
            (_, s) => {
                return Err(JlisError::Conflict(format!(
                    "{serial} is {s}; cannot {}",
                    if hold { "hold it" } else { "release it" }
                )))
            }
        }
        audit::append(&mut tx, t, if hold { "hold" } else { "release" }, &serde_json::json!({ "serial": serial }))
            .await?;
        tx.commit().await?;
        self.state_changed();
        Ok(())
    }

    /// A certificate's record with its links.
    pub async fn record(&self, serial: &str) -> Result<Record, JlisError> {
        let serial = serial.to_uppercase();
        let row = store::sqlx::query(
            "SELECT serial, ca, kind, holder, status, reason, not_after FROM certificates WHERE serial = $1",
        )
        .bind(&serial)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| JlisError::UnknownSerial(serial.clone()))?;
        let links = store::sqlx::query(
            "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE card_serial = $1 OR phone_serial = $2",
        )
        .bind(&serial)
        .bind(&serial)
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(Link::from_row)
        .collect::<Result<Vec<_>, JlisError>>()?;
        Ok(Record {
            serial,
            ca: store::text(&row, "ca")?,
            kind: store::text(&row, "kind")?,
            subject: store::text(&row, "holder")?,
            status: store::text(&row, "status")?,
            reason: row.try_get_unchecked_reason(),
            not_after: store::int(&row, "not_after")?,
            links,
        })
    }

    /// The links recorded for a secure element (an operator asking "which
    /// card certificates has this phone held certificates for?").
    pub async fn links_of_se(&self, se_id: &str) -> Result<Vec<Link>, JlisError> {
        check_se_id(se_id)?;
        store::sqlx::query(
            "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE se_id = $1 ORDER BY created_at",
        )
        .bind(se_id.to_uppercase())
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(Link::from_row)
        .collect()
    }

    /// The status of `serial` under CA `kind`, as OCSP reports it.
    pub async fn status(&self, kind: CaKind, serial: &[u8]) -> Result<Status, JlisError> {
        let row =
            store::sqlx::query("SELECT status, reason, revoked_at FROM certificates WHERE serial = $1 AND ca = $2")
                .bind(hex::encode_upper(serial))
                .bind(kind.as_str())
                .fetch_optional(self.store.pool())
                .await?;
        let Some(row) = row else { return Ok(Status::Unknown) };
        let at = to_time(store::opt_int(&row, "revoked_at")?.unwrap_or(0));
        Ok(match store::text(&row, "status")?.as_str() {
            "good" => Status::Good,
            "hold" => Status::Revoked { at, reason: Reason::CertificateHold },
            _ => Status::Revoked {
                at,
                reason: row.try_get_unchecked_reason().map(|r| reason_from(&r)).unwrap_or(Reason::Unspecified),
            },
        })
    }

    /// Drops pre-signed OCSP responses (after any state change).
    fn state_changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut cache) = self.ocsp_cache.write() {
            cache.clear();
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
            (None, [id]) => id.to_der().ok(),
            _ => None,
        };
        if let Some(key) = &cache_key {
            if let Some((at, der)) = self.ocsp_cache.read().ok().and_then(|c| c.get(key).cloned()) {
                if at.elapsed() < OCSP_CACHE_TTL {
                    return Ok(der);
                }
            }
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let der = self.sign_ocsp(&req).await?;
        if let (Some(key), Ok(mut cache)) = (cache_key, self.ocsp_cache.write()) {
            if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
                return Ok(der);
            }
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(key, (std::time::Instant::now(), der.clone()));
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
        let (ca_cert, signer, nonce) = (ca.cert.clone(), ca.signer(), req.nonce.clone());
        Ok(blocking(move || {
            pki::ocsp::build_response(
                &ca_cert,
                &*signer,
                &entries,
                now,
                now + Duration::from_secs(3600),
                nonce.as_deref(),
            )
        })
        .await??)
    }

    /// Produces the next CRL of CA `kind`: a full CRL (it becomes the base
    /// of later deltas) or a delta since the last full one.
    pub async fn crl(&self, kind: CaKind, delta: bool) -> Result<Vec<u8>, JlisError> {
        let t = now();
        let mut tx = self.store.pool().begin().await?;
        let sql =
            format!("SELECT number, base_number, base_at FROM crl_state WHERE ca = $1{}", self.store.for_update());
        let state = store::sqlx::query(&sql).bind(kind.as_str()).fetch_optional(&mut *tx).await?;
        let (number, base_number, base_at) = match &state {
            Some(r) => (store::int(r, "number")? + 1, store::int(r, "base_number")?, store::int(r, "base_at")?),
            None => (1, 0, 0),
        };
        let delta = delta && state.is_some();
        let rows = if delta {
            store::sqlx::query("SELECT serial, status, reason, revoked_at, changed_at FROM certificates WHERE ca = $1 AND changed_at >= $2 AND (status <> 'good' OR revoked_at IS NULL)")
                .bind(kind.as_str())
                .bind(base_at)
                .fetch_all(&mut *tx)
                .await?
        } else {
            store::sqlx::query("SELECT serial, status, reason, revoked_at, changed_at FROM certificates WHERE ca = $1 AND status <> 'good'")
                .bind(kind.as_str())
                .fetch_all(&mut *tx)
                .await?
        };
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            let status = store::text(r, "status")?;
            if delta && status == "good" && store::int(r, "changed_at")? < base_at {
                continue;
            }
            let reason = match status.as_str() {
                "hold" => Reason::CertificateHold,
                "good" => Reason::RemoveFromCrl, // released since the base
                _ => r.try_get_unchecked_reason().map(|s| reason_from(&s)).unwrap_or(Reason::Unspecified),
            };
            let revoked_at = store::opt_int(r, "revoked_at")?.unwrap_or(store::int(r, "changed_at")?);
            entries.push(Revoked {
                serial: hex::decode(store::text(r, "serial")?).map_err(|e| JlisError::Internal(e.to_string()))?,
                revoked_at: to_time(revoked_at),
                reason,
                invalidity: None,
            });
        }
        let (base_number, base_at) = if delta { (base_number, base_at) } else { (number, t) };
        if state.is_some() {
            store::sqlx::query("UPDATE crl_state SET number = $1, base_number = $2, base_at = $3 WHERE ca = $4")
                .bind(number)
                .bind(base_number)
                .bind(base_at)
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            store::sqlx::query("INSERT INTO crl_state (ca, number, base_number, base_at) VALUES ($1, $2, $3, $4)")
                .bind(kind.as_str())
                .bind(number)
                .bind(base_number)
                .bind(base_at)
                .execute(&mut *tx)
                .await?;
        }
        let ca = self.ca.ca(kind);
        let params = CrlParams {
            this_update: to_time(t),
            next_update: to_time(t + 86_400),
            number: number as u64,
            delta_base: delta.then_some(base_number as u64),
        };
        let der = pki::crl::build(&ca.cert, ca.key(), &entries, &params)?;
        tx.commit().await?;
        Ok(der)
    }
}

/// Reading the nullable reason column.
trait ReasonColumn {
    fn try_get_unchecked_reason(&self) -> Option<String>;
}

impl ReasonColumn for store::sqlx::any::AnyRow {
    fn try_get_unchecked_reason(&self) -> Option<String> {
        use store::sqlx::Row;
        self.try_get::<Option<String>, _>("reason").ok().flatten()
    }
}
