//! The JPKI service's records: certificates, card ↔ phone links, request
//! ids, CRL numbers — the SQL, run inside the transactions the rules
//! (`crate::service`) open. Stored states are [`CertStatus`] and
//! [`CertKind`].

use crate::JlisError;
use der::Encode;
use jlis_api::types::{Link, Record};
use pki::crl::{CrlParams, Reason, Revoked};
use pki::ocsp::Status;
use pki::{CaKind, Certificate};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::{params, Row, Tx};

store::stored_state! {
    /// A certificate's state.
    CertStatus {
        /// Valid.
        Good = "good",
        /// Revoked for good.
        Revoked = "revoked",
        /// Suspended (一時保留).
        Hold = "hold",
    }
}

store::stored_state! {
    /// What a certificate was issued for.
    CertKind {
        /// A My Number card.
        Card = "card",
        /// A phone's SE.
        Phone = "phone",
    }
}

/// A link as stored.
fn link_from_row(r: &Row) -> Result<Link, JlisError> {
    Ok(Link {
        card_serial: r.text("card_serial")?,
        phone_serial: r.text("phone_serial")?,
        se_id: r.text("se_id")?,
        cert_type: r.text("cert_type")?,
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A stored time.
pub fn to_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

/// A reason as stored (its RFC 5280 name).
pub fn reason_str(r: Reason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "unspecified".into())
}

fn reason_from(s: &str) -> Reason {
    serde_json::from_value(serde_json::Value::String(s.into())).unwrap_or(Reason::Unspecified)
}

/// What an earlier request under the same id left.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The phone certificate it issued.
    pub serial: String,
    /// What that issuance superseded.
    pub superseded: Vec<String>,
}

/// The outcome of the request `request_id` if one with the same
/// `fingerprint` was carried out; a replay error if the id was used for
/// anything else; `None` if the id is new.
pub fn earlier(tx: &mut Tx<'_>, request_id: &str, fingerprint: &str) -> Result<Option<Outcome>, JlisError> {
    let Some(row) = tx.optional("SELECT fingerprint, outcome FROM requests WHERE id = $1", params![request_id])? else {
        return Ok(None);
    };
    match (row.opt_text("fingerprint")?, row.opt_text("outcome")?) {
        (Some(f), Some(outcome)) if f == fingerprint => {
            Ok(Some(serde_json::from_str(&outcome).map_err(|e| JlisError::Internal(format!("request outcome: {e}")))?))
        }
        _ => Err(JlisError::Replay(request_id.into())),
    }
}

/// Records a request id with the request's fingerprint and outcome (see
/// [`earlier`]); the id must be new.
pub fn claim_with_outcome(
    tx: &mut Tx<'_>,
    request_id: &str,
    fingerprint: &str,
    outcome: &Outcome,
) -> Result<(), JlisError> {
    claim(tx, request_id)?;
    let outcome = serde_json::to_string(outcome).map_err(|e| JlisError::Internal(e.to_string()))?;
    tx.execute(
        "UPDATE requests SET fingerprint = $1, outcome = $2 WHERE id = $3",
        params![fingerprint, outcome, request_id],
    )?;
    Ok(())
}

/// A phone certificate's DER.
pub fn certificate_der(tx: &mut Tx<'_>, serial: &str) -> Result<Vec<u8>, JlisError> {
    let row = tx.optional("SELECT der FROM certificates WHERE serial = $1", params![serial])?;
    Ok(row.ok_or_else(|| JlisError::UnknownSerial(serial.into()))?.blob("der")?)
}

/// A request id is 1 to 128 characters.
pub fn check_request_id(request_id: &str) -> Result<(), JlisError> {
    if request_id.is_empty() || request_id.len() > 128 {
        return Err(JlisError::Invalid("request_id must be 1 to 128 characters".into()));
    }
    Ok(())
}

/// What a phone-certificate request id stands for, for a cancellation.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestFate {
    /// Never seen.
    Unknown,
    /// Cancelled before it arrived.
    Cancelled,
    /// It issued this serial.
    Issued(String),
    /// The id was used by another kind of request.
    Other,
}

/// The fingerprint of a request id spent by a cancellation.
const CANCELLED: &str = "cancelled";

/// See [`RequestFate`].
pub fn request_fate(tx: &mut Tx<'_>, request_id: &str) -> Result<RequestFate, JlisError> {
    let Some(row) = tx.optional("SELECT fingerprint, outcome FROM requests WHERE id = $1", params![request_id])? else {
        return Ok(RequestFate::Unknown);
    };
    Ok(match (row.opt_text("fingerprint")?.as_deref(), row.opt_text("outcome")?) {
        (Some(CANCELLED), None) => RequestFate::Cancelled,
        (Some(_), Some(outcome)) => {
            let outcome: Outcome =
                serde_json::from_str(&outcome).map_err(|e| JlisError::Internal(format!("request outcome: {e}")))?;
            RequestFate::Issued(outcome.serial)
        }
        _ => RequestFate::Other,
    })
}

/// Spends `request_id` so that the request, arriving late, is a replay.
pub fn claim_cancelled(tx: &mut Tx<'_>, request_id: &str) -> Result<(), JlisError> {
    claim(tx, request_id)?;
    tx.execute("UPDATE requests SET fingerprint = $2 WHERE id = $1", params![request_id, CANCELLED])?;
    Ok(())
}

/// Records a request id; a second use of it is a replay.
pub fn claim(tx: &mut Tx<'_>, request_id: &str) -> Result<(), JlisError> {
    check_request_id(request_id)?;
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
#[derive(Debug)]
pub struct NewCertificate {
    /// Serial (upper-case hex).
    pub serial: String,
    ca: CaKind,
    holder: String,
    kind: CertKind,
    /// DER.
    pub der: Vec<u8>,
    not_after: i64,
}

impl NewCertificate {
    /// The record of `cert`, issued by CA `ca` for a `kind`.
    pub fn of(cert: &Certificate, ca: CaKind, kind: CertKind) -> Result<Self, JlisError> {
        Ok(Self {
            serial: hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes()),
            ca,
            holder: cert.tbs_certificate.subject.to_string(),
            kind,
            der: cert.to_der().map_err(|e| JlisError::Internal(e.to_string()))?,
            not_after: cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs() as i64,
        })
    }

    /// Inserts it, good.
    pub fn insert(&self, tx: &mut Tx<'_>) -> Result<(), JlisError> {
        let t = now();
        tx.execute(
            "INSERT INTO certificates (serial, ca, holder, kind, der, not_after, issued_at, status, reason, revoked_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'good', NULL, NULL, $7)",
            params![&self.serial, self.ca.as_str(), &self.holder, self.kind.as_str(), &self.der, self.not_after, t],
        )?;
        Ok(())
    }
}

/// Marks a certificate revoked for `reason` at `t`.
pub fn set_revoked(tx: &mut Tx<'_>, serial: &str, reason: Reason, t: i64) -> Result<(), JlisError> {
    let seq = next_change(tx, serial)?;
    tx.execute(
        "UPDATE certificates SET status = 'revoked', reason = $1, revoked_at = $2, changed_at = $2, change_seq = $4 \
         WHERE serial = $3",
        params![reason_str(reason), t, serial, seq],
    )?;
    Ok(())
}

/// The next number of the change counter of `serial`'s CA. Taking it locks
/// the CA's CRL row until the transaction ends, so a CRL is made either
/// before this change or after it, never beside it.
fn next_change(tx: &mut Tx<'_>, serial: &str) -> Result<i64, JlisError> {
    crate::audit::serialize_changes(tx)?;
    let row = tx.optional(
        "UPDATE crl_state SET changes = changes + 1 \
         WHERE ca = (SELECT ca FROM certificates WHERE serial = $1) RETURNING changes",
        params![serial],
    )?;
    let row = row.ok_or_else(|| JlisError::UnknownSerial(serial.to_string()))?;
    Ok(row.int("changes")?)
}

/// A certificate's status and kind, locked for the transaction.
pub fn current(tx: &mut Tx<'_>, serial: &str) -> Result<(CertStatus, CertKind), JlisError> {
    let sql = format!("SELECT status, kind FROM certificates WHERE serial = $1{}", tx.for_update());
    let row = tx.optional(&sql, params![serial])?.ok_or_else(|| JlisError::UnknownSerial(serial.into()))?;
    Ok((CertStatus::parse(&row.text("status")?)?, CertKind::parse(&row.text("kind")?)?))
}

/// Active phone certificates linked to a card certificate (of one type, or all).
pub fn active_phones(tx: &mut Tx<'_>, card_serial: &str, cert_type: Option<&str>) -> Result<Vec<String>, JlisError> {
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

/// Whether an application (SHA-256 of its content) already has an active
/// certificate of `cert_type`.
pub fn application_has_active(tx: &mut Tx<'_>, application: &str, cert_type: &str) -> Result<bool, JlisError> {
    let row = tx.optional(
        "SELECT l.phone_serial FROM links l JOIN certificates c ON c.serial = l.phone_serial
         WHERE l.application = $1 AND l.cert_type = $2 AND c.status <> 'revoked' LIMIT 1",
        params![application, cert_type],
    )?;
    Ok(row.is_some())
}

/// A link of a phone certificate to the card certificate and SE, with the
/// application behind it and the SP-TSM that asked.
pub struct NewLink<'a> {
    /// The phone certificate.
    pub phone_serial: &'a str,
    /// The card's signature certificate that signed the application.
    pub card_serial: &'a str,
    /// The SE holding the phone key.
    pub se_id: &'a str,
    /// `auth` or `sign`.
    pub cert_type: &'a str,
    /// SHA-256 of the application's signed content.
    pub application: &'a str,
    /// SHA-256 of the client certificate of the SP-TSM that asked.
    pub sp_tsm: Option<&'a str>,
    /// When.
    pub at: i64,
}

impl NewLink<'_> {
    /// Records it.
    pub fn insert(&self, tx: &mut Tx<'_>) -> Result<(), JlisError> {
        tx.execute(
            "INSERT INTO links (phone_serial, card_serial, se_id, cert_type, created_at, application, sp_tsm)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            params![
                self.phone_serial,
                self.card_serial,
                self.se_id,
                self.cert_type,
                self.at,
                self.application,
                self.sp_tsm
            ],
        )?;
        Ok(())
    }
}

/// The SP-TSM that asked for phone certificate `serial` (`None`: none did,
/// or the certificate is no phone certificate).
pub fn requesting_sp_tsm(tx: &mut Tx<'_>, serial: &str) -> Result<Option<String>, JlisError> {
    let row = tx.optional("SELECT sp_tsm FROM links WHERE phone_serial = $1", params![serial])?;
    Ok(match row {
        Some(row) => row.opt_text("sp_tsm")?,
        None => None,
    })
}

/// How long a first approval waits for the second (dual control); a
/// later request starts over.
pub const APPROVAL_TTL: Duration = Duration::from_secs(24 * 3600);

/// The operator who first approved revoking `serial` for key compromise,
/// while the second approval is awaited (dual control). An approval older
/// than [`APPROVAL_TTL`] at `t` is dropped.
pub fn first_approval(tx: &mut Tx<'_>, serial: &str, t: i64) -> Result<Option<String>, JlisError> {
    let row =
        tx.optional("SELECT operator, approved_at FROM revocation_approvals WHERE serial = $1", params![serial])?;
    let Some(row) = row else { return Ok(None) };
    if t - row.int("approved_at")? > APPROVAL_TTL.as_secs() as i64 {
        clear_approval(tx, serial)?;
        return Ok(None);
    }
    Ok(Some(row.text("operator")?))
}

/// Records `operator`'s approval of revoking `serial` (the first of two).
pub fn approve_revocation(
    tx: &mut Tx<'_>,
    serial: &str,
    operator: &str,
    request_id: &str,
    t: i64,
) -> Result<(), JlisError> {
    tx.execute(
        "INSERT INTO revocation_approvals (serial, operator, request_id, approved_at) VALUES ($1, $2, $3, $4)",
        params![serial, operator, request_id, t],
    )?;
    Ok(())
}

/// Drops the pending approval for `serial` (the revocation happened).
pub fn clear_approval(tx: &mut Tx<'_>, serial: &str) -> Result<(), JlisError> {
    tx.execute("DELETE FROM revocation_approvals WHERE serial = $1", params![serial])?;
    Ok(())
}

/// Puts a certificate on hold, or releases it, at `t`.
pub fn set_hold(tx: &mut Tx<'_>, serial: &str, hold: bool, t: i64) -> Result<(), JlisError> {
    let seq = next_change(tx, serial)?;
    let sql = if hold {
        "UPDATE certificates SET status = 'hold', reason = 'certificate-hold', revoked_at = $1, changed_at = $1, \
         change_seq = $3 WHERE serial = $2"
    } else {
        "UPDATE certificates SET status = 'good', reason = NULL, revoked_at = NULL, changed_at = $1, change_seq = $3 \
         WHERE serial = $2"
    };
    tx.execute(sql, params![t, serial, seq])?;
    Ok(())
}

/// A certificate's record with its links.
pub fn record(tx: &mut Tx<'_>, serial: &str) -> Result<Record, JlisError> {
    let row = tx
        .optional(
            "SELECT serial, ca, kind, holder, status, reason, not_after FROM certificates WHERE serial = $1",
            params![serial],
        )?
        .ok_or_else(|| JlisError::UnknownSerial(serial.into()))?;
    let links = tx
        .all(
            "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE card_serial = $1 OR phone_serial = $1",
            params![serial],
        )?
        .iter()
        .map(link_from_row)
        .collect::<Result<Vec<_>, JlisError>>()?;
    Ok(Record {
        ca: row.text("ca")?,
        kind: CertKind::parse(&row.text("kind")?)?.as_str().into(),
        subject: row.text("holder")?,
        status: CertStatus::parse(&row.text("status")?)?.as_str().into(),
        reason: row.opt_text("reason")?,
        not_after: row.int("not_after")?,
        serial: serial.into(),
        links,
    })
}

/// The links recorded for an SE, oldest first.
pub fn links_of_se(tx: &mut Tx<'_>, se_id: &str) -> Result<Vec<Link>, JlisError> {
    tx.all(
        "SELECT card_serial, phone_serial, se_id, cert_type FROM links WHERE se_id = $1 ORDER BY created_at",
        params![se_id],
    )?
    .iter()
    .map(link_from_row)
    .collect()
}

/// The status of `serial` under CA `kind`, as OCSP reports it.
pub fn status(tx: &mut Tx<'_>, kind: CaKind, serial: &str) -> Result<Status, JlisError> {
    let row = tx.optional(
        "SELECT status, reason, revoked_at FROM certificates WHERE serial = $1 AND ca = $2",
        params![serial, kind.as_str()],
    )?;
    let Some(row) = row else { return Ok(Status::Unknown) };
    let at = to_time(row.opt_int("revoked_at")?.unwrap_or(0));
    Ok(match CertStatus::parse(&row.text("status")?)? {
        CertStatus::Good => Status::Good,
        CertStatus::Hold => Status::Revoked { at, reason: Reason::CertificateHold },
        CertStatus::Revoked => Status::Revoked {
            at,
            reason: row.opt_text("reason")?.map(|r| reason_from(&r)).unwrap_or(Reason::Unspecified),
        },
    })
}

/// Takes the next CRL number of CA `kind` and reads the entries of the CRL.
///
/// A full CRL lists every certificate revoked or on hold, and becomes the
/// base of later deltas (the change counter it saw and its holds are
/// recorded). A delta lists exactly what changed since its base (RFC 5280
/// §5.2.4): certificates revoked or put on hold since, and `removeFromCRL`
/// for certificates the base listed on hold and that have been released
/// since. A delta asked for before any full CRL is a full CRL.
pub fn crl_entries(tx: &mut Tx<'_>, kind: CaKind, delta: bool, t: i64) -> Result<(Vec<Revoked>, CrlParams), JlisError> {
    let sql = format!("SELECT number, base_number, changes, base_seq FROM crl_state WHERE ca = $1{}", tx.for_update());
    let state = tx.optional(&sql, params![kind.as_str()])?.ok_or_else(|| {
        JlisError::Internal(format!("no CRL state for the {} CA (migration 0004 makes it)", kind.as_str()))
    })?;
    let (number, base_number) = (state.int("number")? + 1, state.int("base_number")?);
    let (changes, base_seq) = (state.int("changes")?, state.int("base_seq")?);
    let delta = delta && base_number > 0;
    let columns = "c.serial, c.status, c.reason, c.revoked_at, c.changed_at";
    let rows = if delta {
        let mut changed = tx.all(
            &format!(
                "SELECT {columns} FROM certificates c WHERE c.ca = $1 AND c.status <> 'good' AND c.change_seq > $2"
            ),
            params![kind.as_str(), base_seq],
        )?;
        changed.extend(tx.all(
            &format!(
                "SELECT {columns} FROM certificates c JOIN crl_base_holds h ON h.ca = c.ca AND h.serial = c.serial \
                 WHERE c.ca = $1 AND c.status = 'good'"
            ),
            params![kind.as_str()],
        )?);
        changed
    } else {
        tx.all(
            &format!("SELECT {columns} FROM certificates c WHERE c.ca = $1 AND c.status <> 'good'"),
            params![kind.as_str()],
        )?
    };
    let mut entries = Vec::with_capacity(rows.len());
    let mut holds = Vec::new();
    for r in &rows {
        let status = CertStatus::parse(&r.text("status")?)?;
        let reason = match status {
            CertStatus::Hold => Reason::CertificateHold,
            CertStatus::Good => Reason::RemoveFromCrl, // on hold in the base, released since
            CertStatus::Revoked => r.opt_text("reason")?.map(|s| reason_from(&s)).unwrap_or(Reason::Unspecified),
        };
        if status == CertStatus::Hold {
            holds.push(r.text("serial")?);
        }
        let revoked_at = r.opt_int("revoked_at")?.unwrap_or(r.int("changed_at")?);
        entries.push(Revoked {
            serial: hex::decode(r.text("serial")?).map_err(|e| JlisError::Internal(e.to_string()))?,
            revoked_at: to_time(revoked_at),
            reason,
            invalidity: None,
        });
    }
    if delta {
        tx.execute("UPDATE crl_state SET number = $1 WHERE ca = $2", params![number, kind.as_str()])?;
    } else {
        tx.execute(
            "UPDATE crl_state SET number = $1, base_number = $1, base_at = $2, base_seq = $3 WHERE ca = $4",
            params![number, t, changes, kind.as_str()],
        )?;
        tx.execute("DELETE FROM crl_base_holds WHERE ca = $1", params![kind.as_str()])?;
        for serial in &holds {
            tx.execute("INSERT INTO crl_base_holds (ca, serial) VALUES ($1, $2)", params![kind.as_str(), serial])?;
        }
    }
    let params = CrlParams {
        this_update: to_time(t),
        next_update: to_time(t + 86_400),
        number: number as u64,
        delta_base: delta.then_some(base_number as u64),
    };
    Ok((entries, params))
}
