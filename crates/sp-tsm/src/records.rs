//! The SP-TSM's store: SP domains (keys sealed by the vault), applications
//! and the phone certificates issued for them. SQL lives here only; stored
//! states are the enums below.

use crate::vault::Vault;
use gp::StaticKeys;
use jlis_api::PhoneCertificate;
use store::{params, Store, StoreError, Tx};
use tsm::http::now_secs;
use tsm_api::PhoneCertType;

const SCHEMA: &[store::Migration] = &[
    (
        "1-sp-tsm",
        "CREATE TABLE domains (se_id TEXT PRIMARY KEY, state TEXT NOT NULL, sealed_keys BYTEA NOT NULL,
        pending_keys BYTEA, updated_at BIGINT NOT NULL);
     CREATE TABLE applications (id TEXT PRIMARY KEY, state TEXT NOT NULL, card_certificate BYTEA NOT NULL,
        commitment TEXT NOT NULL, cert_types TEXT NOT NULL, model TEXT NOT NULL, se_id TEXT,
        attempts BIGINT NOT NULL, detail TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
     CREATE TABLE phone_certificates (serial TEXT PRIMARY KEY, application_id TEXT NOT NULL, se_id TEXT NOT NULL,
        cert_type TEXT NOT NULL, state TEXT NOT NULL, certificate BYTEA NOT NULL, updated_at BIGINT NOT NULL);
     CREATE INDEX phone_certificates_se ON phone_certificates (se_id);
     CREATE INDEX phone_certificates_application ON phone_certificates (application_id)",
    ),
    // The card-signed CMS, which the JPKI service checks itself behind every
    // certificate, and SHA-256 of the applicant's resume token.
    (
        "2-application-cms-and-resume-token",
        "ALTER TABLE applications ADD COLUMN application BYTEA;
         ALTER TABLE applications ADD COLUMN resume_token TEXT",
    ),
    // Phone-certificate requests of an attempt that ended without their
    // answers recorded (killed, or the answer lost), to cancel at the JPKI
    // service: what they issued is revoked there, and an id that never
    // arrived is spent.
    ("3-pending-cancels", "CREATE TABLE pending_cancels (request_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)"),
    // Device trust: the phone's evidence and the nonce it was made for,
    // appraised again with the SE's key attestations in provisioning.
    (
        "4-device-evidence",
        "ALTER TABLE applications ADD COLUMN evidence BYTEA;
         ALTER TABLE applications ADD COLUMN evidence_nonce TEXT",
    ),
    // Per-request app assertions: the highest counter seen from the app
    // key that signed the evidence (docs/device-trust.md).
    ("5-app-assertion-counter", "ALTER TABLE applications ADD COLUMN assertion_counter BIGINT NOT NULL DEFAULT 0"),
];

store::stored_state! {
    /// Who holds an SP domain's keys.
    DomainState {
        /// The SEI-TSM's initial keys (it knows them too).
        HandedOver = "handed_over",
        /// Keys only the SP-TSM knows (PUT KEY done).
        Own = "own",
    }
}

store::stored_state! {
    /// Where an application stands.
    ApplicationState {
        /// Accepted, no attempt begun.
        Accepted = "accepted",
        /// An attempt is running over the relay.
        Provisioning = "provisioning",
        /// Certificates written into the SE.
        Done = "done",
        /// An attempt ended; it may be resumed within the window.
        Interrupted = "interrupted",
        /// Refused for good (the commitment names another SE).
        Refused = "refused",
    }
}

store::stored_state! {
    /// Where a phone certificate stands.
    CertificateState {
        /// Issued by the JPKI service, not yet written into the SE.
        Issued = "issued",
        /// Written into the SE: the active one.
        Written = "written",
        /// Revoked by the JPKI service because a newer one replaced it.
        Superseded = "superseded",
        /// Revoked at the JPKI service.
        Revoked = "revoked",
        /// To be revoked; the JPKI service could not be reached yet.
        RevokePending = "revoke_pending",
    }
}

/// A phone's device evidence (EAT) and the nonce it was made for.
pub type StoredEvidence = (Vec<u8>, Vec<u8>);

/// One application's row.
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    /// Its id (hex).
    pub id: String,
    /// Its state.
    pub state: ApplicationState,
    /// The card's signature certificate (DER).
    pub card_certificate: Vec<u8>,
    /// The card-signed application (CMS DER).
    pub application: Vec<u8>,
    /// SHA-256(R) the card signed.
    pub commitment: Vec<u8>,
    /// What was applied for.
    pub cert_types: Vec<PhoneCertType>,
    /// The phone model.
    pub model: String,
    /// Attempts begun.
    pub attempts: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// SHA-256 (hex) of the token only the applying phone was given.
    pub resume_token: Option<String>,
    /// The phone's device evidence (EAT) and the nonce it was made for
    /// (the application's), when device trust is on.
    pub evidence: Option<StoredEvidence>,
}

/// An SP domain's keys as stored.
#[derive(Debug)]
pub struct Domain {
    /// Who holds them.
    pub state: DomainState,
    /// The current keys.
    pub keys: StaticKeys,
    /// Keys a take-over stored before its PUT KEY left (its answer may
    /// have been lost).
    pub pending: Option<StaticKeys>,
}

/// An SP domain whose keys an attempt replaced (PUT KEY), sealed, not yet
/// recorded as the domain's own: the attempt's next write records it.
#[derive(Debug, Clone)]
pub struct TakenDomain {
    se_id: String,
    sealed: Vec<u8>,
}

impl TakenDomain {
    /// Records the keys as the domain's own, inside the caller's transaction.
    fn record(domain: Option<TakenDomain>, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        if let Some(d) = domain {
            tx.execute(
                "UPDATE domains SET state = 'own', sealed_keys = $2, pending_keys = NULL, updated_at = $3 WHERE se_id = $1",
                params![d.se_id, d.sealed, now_secs()],
            )?;
        }
        Ok(())
    }
}

/// The SP-TSM's records.
pub struct Records {
    store: Store,
    vault: Vault,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}

fn decode_hex(text: &str, what: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(text).map_err(|e| StoreError::Decode(format!("{what}: {e}")))
}

impl Records {
    /// The store, for health checks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Opens the store at `url`, applying migrations; domain keys are
    /// sealed with `vault`.
    pub async fn open(url: &str, vault: Vault) -> Result<Self, StoreError> {
        Ok(Self { store: Store::open(url, SCHEMA).await?, vault })
    }

    /// Stores an SE's handed-over domain keys (sealed), replacing any.
    pub async fn hand_over(&self, se_id: &str, keys: &StaticKeys) -> Result<(), StoreError> {
        let (se, sealed) =
            (se_id.to_string(), self.vault.seal(se_id, keys).map_err(|e| StoreError::Decode(e.to_string()))?);
        self.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO domains (se_id, state, sealed_keys, pending_keys, updated_at) VALUES ($1, 'handed_over', $2, NULL, $3)
                     ON CONFLICT (se_id) DO UPDATE SET state = 'handed_over', sealed_keys = $2, pending_keys = NULL, updated_at = $3",
                    params![se, sealed, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// An SE's domain keys, opened.
    pub async fn domain(&self, se_id: &str) -> Result<Option<Domain>, StoreError> {
        let key = se_id.to_string();
        let row = self
            .store
            .read(move |tx| {
                tx.optional("SELECT state, sealed_keys, pending_keys FROM domains WHERE se_id = $1", params![key])
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let open = |sealed: Vec<u8>| self.vault.open(se_id, &sealed).map_err(|e| StoreError::Decode(e.to_string()));
        Ok(Some(Domain {
            state: DomainState::parse(&row.text("state")?)?,
            keys: open(row.blob("sealed_keys")?)?,
            pending: row.opt_blob("pending_keys")?.map(open).transpose()?,
        }))
    }

    /// Stores keys a take-over is about to put (before the PUT KEY leaves).
    pub async fn set_pending_keys(&self, se_id: &str, keys: &StaticKeys) -> Result<(), StoreError> {
        let (key, sealed) =
            (se_id.to_string(), self.vault.seal(se_id, keys).map_err(|e| StoreError::Decode(e.to_string()))?);
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE domains SET pending_keys = $2, updated_at = $3 WHERE se_id = $1",
                    params![key, sealed, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// The domain's keys after a take-over, for the next write to record.
    pub fn taken(&self, se_id: &str, keys: &StaticKeys) -> Result<TakenDomain, StoreError> {
        Ok(TakenDomain {
            se_id: se_id.to_string(),
            sealed: self.vault.seal(se_id, keys).map_err(|e| StoreError::Decode(e.to_string()))?,
        })
    }

    /// Records an accepted application whose first attempt begins, in one
    /// transaction.
    pub async fn accept(&self, row: &ApplicationRow) -> Result<(), StoreError> {
        let types = serde_json::to_string(&row.cert_types).map_err(|e| StoreError::Decode(e.to_string()))?;
        let record = params![
            &row.id,
            &row.card_certificate,
            hex::encode(&row.commitment),
            types,
            &row.model,
            row.created_at,
            &row.application,
            row.resume_token.clone(),
            row.evidence.as_ref().map(|(e, _)| e.clone()),
            row.evidence.as_ref().map(|(_, n)| hex::encode(n)),
        ]
        .to_vec();
        self.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO applications (id, state, card_certificate, commitment, cert_types, model, se_id, attempts, detail,
                        created_at, updated_at, application, resume_token, evidence, evidence_nonce)
                     VALUES ($1, 'provisioning', $2, $3, $4, $5, NULL, 1, NULL, $6, $6, $7, $8, $9, $10)",
                    &record,
                )
            })
            .await?;
        Ok(())
    }

    /// An application.
    pub async fn application(&self, id: &str) -> Result<Option<ApplicationRow>, StoreError> {
        let key = id.to_string();
        let row = self
            .store
            .read(move |tx| {
                tx.optional(
                    "SELECT id, state, card_certificate, application, commitment, cert_types, model, attempts, created_at,
                        resume_token, evidence, evidence_nonce FROM applications WHERE id = $1",
                    params![key],
                )
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApplicationRow {
            id: row.text("id")?,
            state: ApplicationState::parse(&row.text("state")?)?,
            card_certificate: row.blob("card_certificate")?,
            application: row.opt_blob("application")?.unwrap_or_default(),
            commitment: decode_hex(&row.text("commitment")?, "commitment")?,
            cert_types: serde_json::from_str(&row.text("cert_types")?)
                .map_err(|e| StoreError::Decode(format!("cert_types: {e}")))?,
            model: row.text("model")?,
            attempts: row.int("attempts")?,
            created_at: row.int("created_at")?,
            resume_token: row.opt_text("resume_token")?,
            evidence: match (row.opt_blob("evidence")?, row.opt_text("evidence_nonce")?) {
                (Some(e), Some(n)) => Some((e, decode_hex(&n, "evidence_nonce")?)),
                _ => None,
            },
        }))
    }

    /// Application `id`'s evidence (whose signing key is the app key) and
    /// the highest assertion counter seen, if it has evidence.
    pub async fn app_key_state(&self, id: &str) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
        let key = id.to_string();
        let row = self
            .store
            .read(move |tx| {
                tx.optional("SELECT evidence, assertion_counter FROM applications WHERE id = $1", params![key])
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let Some(evidence) = row.opt_blob("evidence")? else { return Ok(None) };
        let counter = u32::try_from(row.int("assertion_counter")?)
            .map_err(|_| StoreError::Decode("assertion_counter out of range".into()))?;
        Ok(Some((evidence, counter)))
    }

    /// Raises application `id`'s assertion counter to `counter`, durably,
    /// if it is still below it; false when another request got there first
    /// (the assertion is then a replay).
    pub async fn advance_assertion_counter(&self, id: &str, counter: u32) -> Result<bool, StoreError> {
        let record = params![id.to_string(), i64::from(counter)].to_vec();
        let changed = self
            .store
            .write(move |tx| {
                tx.execute(
                    "UPDATE applications SET assertion_counter = $2 WHERE id = $1 AND assertion_counter < $2",
                    &record,
                )
            })
            .await?;
        Ok(changed == 1)
    }

    /// The application that certificate `serial` was issued for.
    pub async fn application_of(&self, serial: &str) -> Result<Option<String>, StoreError> {
        let key = serial.to_string();
        let row = self
            .store
            .read(move |tx| {
                tx.optional("SELECT application_id FROM phone_certificates WHERE serial = $1", params![key])
            })
            .await?;
        row.map(|r| r.text("application_id")).transpose()
    }

    /// An application as its applicant sees it: state, SE, detail,
    /// attempts and certificates.
    pub async fn application_view(&self, id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let key = id.to_string();
        let (row, certs) = self
            .store
            .read(move |tx| {
                let row = tx
                    .optional("SELECT state, se_id, detail, attempts FROM applications WHERE id = $1", params![&key])?;
                let certs = tx.all(
                    "SELECT serial, cert_type, state FROM phone_certificates WHERE application_id = $1 ORDER BY serial",
                    params![&key],
                )?;
                Ok::<_, StoreError>((row, certs))
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let certificates = certs
            .iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "serial": r.text("serial")?,
                    "type": r.text("cert_type")?,
                    "state": CertificateState::parse(&r.text("state")?)?.as_str(),
                }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(serde_json::json!({
            "application": id,
            "state": ApplicationState::parse(&row.text("state")?)?.as_str(),
            "se_id": row.opt_text("se_id")?,
            "detail": row.opt_text("detail")?,
            "attempts": row.int("attempts")?,
            "certificates": certificates,
        })))
    }

    /// A new attempt of an application begins.
    pub async fn begin_attempt(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE applications SET state = 'provisioning', attempts = attempts + 1, updated_at = $2 WHERE id = $1",
                    params![id, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// An attempt ended without certificates written: the application's
    /// state and why, and the domain's keys if the attempt took it over.
    pub async fn end_attempt(
        &self,
        id: &str,
        state: ApplicationState,
        detail: &str,
        domain: Option<TakenDomain>,
    ) -> Result<(), StoreError> {
        let (id, detail) = (id.to_string(), detail.to_string());
        self.store
            .write(move |tx| {
                TakenDomain::record(domain, tx)?;
                tx.execute(
                    "UPDATE applications SET state = $2, detail = $3, updated_at = $4 WHERE id = $1",
                    params![id, state.as_str(), detail, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// Records certificates the JPKI service issued for an attempt (and the
    /// ones they superseded), in one transaction.
    pub async fn record_issued(
        &self,
        application: &str,
        se_id: &str,
        issued: &[(PhoneCertType, PhoneCertificate)],
        domain: Option<TakenDomain>,
    ) -> Result<(), StoreError> {
        let (application, se_id) = (application.to_string(), se_id.to_string());
        let issued = issued.to_vec();
        self.store
            .write(move |tx| {
                TakenDomain::record(domain, tx)?;
                for (cert_type, issued) in issued {
                    tx.execute(
                        "INSERT INTO phone_certificates (serial, application_id, se_id, cert_type, state, certificate, updated_at)
                         VALUES ($1, $2, $3, $4, 'issued', $5, $6)",
                        params![issued.serial, &application, &se_id, cert_type.as_str(), issued.certificate, now_secs()],
                    )?;
                    for old in issued.superseded {
                        tx.execute(
                            "UPDATE phone_certificates SET state = 'superseded', updated_at = $2 WHERE serial = $1",
                            params![old, now_secs()],
                        )?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// The certificates are in the SE: they and the application are done.
    pub async fn finish(&self, id: &str, se_id: &str, domain: Option<TakenDomain>) -> Result<(), StoreError> {
        let (id, se) = (id.to_string(), se_id.to_string());
        self.store
            .write(move |tx| {
                TakenDomain::record(domain, tx)?;
                tx.execute(
                    "UPDATE phone_certificates SET state = 'written', updated_at = $2 WHERE application_id = $1 AND state = 'issued'",
                    params![&id, now_secs()],
                )?;
                tx.execute(
                    "UPDATE applications SET state = 'done', se_id = $2, detail = NULL, updated_at = $3 WHERE id = $1",
                    params![&id, se, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// The applications in `state`.
    pub async fn applications_in(&self, state: ApplicationState) -> Result<Vec<String>, StoreError> {
        let rows = self
            .store
            .read(move |tx| tx.all("SELECT id FROM applications WHERE state = $1", params![state.as_str()]))
            .await?;
        rows.iter().map(|r| r.text("id")).collect()
    }

    /// Serials of an application's certificates in `state`.
    pub async fn serials_of(&self, application: &str, state: CertificateState) -> Result<Vec<String>, StoreError> {
        let application = application.to_string();
        let rows = self
            .store
            .read(move |tx| {
                tx.all(
                    "SELECT serial FROM phone_certificates WHERE application_id = $1 AND state = $2",
                    params![application, state.as_str()],
                )
            })
            .await?;
        rows.iter().map(|r| r.text("serial")).collect()
    }

    /// Serials of every certificate in `state`.
    pub async fn serials_in(&self, state: CertificateState) -> Result<Vec<String>, StoreError> {
        let rows = self
            .store
            .read(move |tx| tx.all("SELECT serial FROM phone_certificates WHERE state = $1", params![state.as_str()]))
            .await?;
        rows.iter().map(|r| r.text("serial")).collect()
    }

    /// Adds requests to cancel at the JPKI service (already pending ones
    /// stay as they are).
    pub async fn add_pending_cancels(&self, request_ids: Vec<String>) -> Result<(), StoreError> {
        self.store
            .write(move |tx| {
                for id in &request_ids {
                    tx.execute(
                        "INSERT INTO pending_cancels (request_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        params![id, now_secs()],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// The requests still to cancel, oldest first.
    pub async fn pending_cancels(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .store
            .read(|tx| tx.all("SELECT request_id FROM pending_cancels ORDER BY created_at, request_id", &[]))
            .await?;
        rows.iter().map(|r| r.text("request_id")).collect()
    }

    /// The JPKI service took the cancellation of `request_id`; `revoked`
    /// (what it had issued) is recorded revoked, in the same commit.
    pub async fn cancelled(&self, request_id: &str, revoked: Option<String>) -> Result<(), StoreError> {
        let id = request_id.to_string();
        self.store
            .write(move |tx| {
                if let Some(serial) = &revoked {
                    tx.execute(
                        "UPDATE phone_certificates SET state = 'revoked', updated_at = $2 WHERE serial = $1",
                        params![serial, now_secs()],
                    )?;
                }
                tx.execute("DELETE FROM pending_cancels WHERE request_id = $1", params![id])
            })
            .await?;
        Ok(())
    }

    /// Sets a certificate's state.
    pub async fn set_certificate_state(&self, serial: &str, state: CertificateState) -> Result<(), StoreError> {
        let serial = serial.to_string();
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE phone_certificates SET state = $2, updated_at = $3 WHERE serial = $1",
                    params![serial, state.as_str(), now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// An SE's active (written) certificates, serial and DER, and its own
    /// domain keys if the SP-TSM holds them.
    pub async fn active(&self, se_id: &str) -> Result<(Vec<(String, Vec<u8>)>, Option<StaticKeys>), StoreError> {
        let key = se_id.to_string();
        let (rows, domain) = self
            .store
            .read(move |tx| {
                let active = tx.all(
                    "SELECT serial, certificate FROM phone_certificates WHERE se_id = $1 AND state = 'written'",
                    params![&key],
                )?;
                let domain =
                    tx.optional("SELECT sealed_keys FROM domains WHERE se_id = $1 AND state = 'own'", params![&key])?;
                Ok::<_, StoreError>((active, domain))
            })
            .await?;
        let active =
            rows.iter().map(|r| Ok((r.text("serial")?, r.blob("certificate")?))).collect::<Result<_, StoreError>>()?;
        let keys = domain
            .map(|d| self.vault.open(se_id, &d.blob("sealed_keys")?).map_err(|e| StoreError::Decode(e.to_string())))
            .transpose()?;
        Ok((active, keys))
    }

    /// An SE's phone certificates — serial, type, state — in the order they
    /// changed.
    pub async fn certificates(&self, se_id: &str) -> Result<Vec<(String, String, CertificateState)>, StoreError> {
        let se_id = se_id.to_string();
        let rows = self
            .store
            .read(move |tx| {
                tx.all(
                    "SELECT serial, cert_type, state FROM phone_certificates WHERE se_id = $1 ORDER BY updated_at, serial",
                    params![se_id],
                )
            })
            .await?;
        rows.iter()
            .map(|r| Ok((r.text("serial")?, r.text("cert_type")?, CertificateState::parse(&r.text("state")?)?)))
            .collect()
    }
}
