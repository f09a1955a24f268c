//! The SP-TSM service (`jpki serve sp-tsm`; DESIGN.md "Application" and
//! "Provisioning").
//!
//! - `POST /v1/nonces` — a single-use nonce for an application or a
//!   revocation request (5 minutes).
//! - `POST /v1/domain-keys` — the SEI-TSM (client certificate) hands over
//!   an SE's initial domain keys; they are sealed before they are stored.
//! - `POST /v1/applications` — a card-signed application: signature and
//!   chain, nonce, the app is the registered one, the card's status at the
//!   JPKI service (OCSP); then provisioning starts over the relay and the
//!   answer is its first step. `POST /v1/applications/{id}/provisioning`
//!   resumes an interrupted one; `GET /v1/applications/{id}` tells its state.
//! - `POST /v1/revocations` — the holder's revocation, signed on the phone
//!   with its phone key: the SE's phone certificates are revoked at the JPKI
//!   service, then the applet's keys are deleted over the relay.
//! - `POST /v1/relay/{session}`, `GET /openapi.json`, `GET /healthz`.
//!
//! Decision (docs/decisions/tsm-services.md): a certificate issued but not
//! written into the SE when a provisioning attempt ends is **revoked**
//! (cessationOfOperation), never re-delivered; the application stays
//! resumable for `resume_window_secs`, and a resumed attempt generates a new
//! key. Revocations the JPKI service cannot take at once are retried.

use super::config::SpConfig;
use super::{internal, invalid, now_secs, relay, ApiError, JsonBody};
use crate::application::{ApplicationError, NonceBook, NONCE_LIFETIME};
use crate::remote::{FlowError, RelayHub, RemoteSe, Step};
use crate::secret::Vault;
use crate::sp::CertType;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use der::{Decode, Encode};
use gp::StaticKeys;
use jlis::client::JlisClient;
use jlis_api::status::Status;
use pki::crl::Reason;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use store::{params, Store};
use svc::Peer;
use tokio::runtime::Handle;

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
];

/// The SP-TSM.
pub struct SpTsm {
    store: Store,
    vault: Vault,
    nonces: NonceBook,
    cas: Vec<pki::Certificate>,
    apps: Vec<String>,
    jlis: JlisClient,
    hub: RelayHub,
    resume_window: Duration,
}

impl std::fmt::Debug for SpTsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpTsm").field("hub", &self.hub).field("apps", &self.apps).finish_non_exhaustive()
    }
}

impl AsRef<RelayHub> for SpTsm {
    fn as_ref(&self) -> &RelayHub {
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

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError(FlowError::new(status, code, message))
}

impl From<ApplicationError> for ApiError {
    fn from(e: ApplicationError) -> Self {
        let status = match e {
            ApplicationError::Malformed(_) => 400,
            _ => 403,
        };
        refused(status, e.code(), e.to_string())
    }
}

/// One application's row.
#[derive(Debug, Clone)]
struct ApplicationRow {
    id: String,
    state: String,
    card_certificate: Vec<u8>,
    /// The card-signed application (CMS DER).
    application: Vec<u8>,
    commitment: Vec<u8>,
    cert_types: Vec<CertType>,
    attempts: i64,
    created_at: i64,
    /// SHA-256 (hex) of the token only the applying phone was given.
    resume_token: Option<String>,
}

impl SpTsm {
    /// From the configuration (the JPKI CA files must exist: start the JPKI
    /// service first).
    pub async fn open(config: &SpConfig) -> Result<Self, String> {
        let store = Store::open(&config.database, SCHEMA).await.map_err(|e| e.to_string())?;
        let vault = Vault::new(&crate::secret::key_file(&config.vault_key_file, false)?)?;
        let jlis = JlisClient::pinned(
            &config.jlis_url,
            &config.tls_ca,
            &config.jlis_server_name,
            Some((&config.client_certificate, &config.client_key)),
            None,
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            store,
            vault,
            nonces: NonceBook::new(NONCE_LIFETIME),
            cas: read_certificates(&config.jpki_ca_certificates)?,
            apps: config.app_certificate_sha256.iter().map(|h| h.to_uppercase()).collect(),
            jlis,
            hub: RelayHub::new(Duration::from_secs(config.relay_timeout_secs)),
            resume_window: Duration::from_secs(config.resume_window_secs),
        })
    }

    /// The JPKI app hashes this SP-TSM accepts (for the SEI-TSM whitelist).
    pub fn app_hashes(&self) -> &[String] {
        &self.apps
    }

    /// Stores an SE's handed-over domain keys (sealed).
    pub async fn accept_handover(&self, se_id: &str, keys: &StaticKeys) -> Result<(), ApiError> {
        let (se, sealed) = (se_id.to_string(), self.vault.seal(se_id, keys));
        self.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO domains (se_id, state, sealed_keys, pending_keys, updated_at) VALUES ($1, 'handed_over', $2, NULL, $3)
                     ON CONFLICT (se_id) DO UPDATE SET state = 'handed_over', sealed_keys = $2, pending_keys = NULL, updated_at = $3",
                    params![se, sealed, now_secs()],
                )
            })
            .await?;
        tracing::info!(se = %se_id, "domain keys handed over by the SEI-TSM");
        Ok(())
    }

    async fn card_status(&self, card_certificate: &[u8]) -> Result<(), ApiError> {
        // Over the pinned, mutually authenticated channel to the JPKI
        // service (mechanism ⑩); the answer's signature and nonce are
        // checked all the same.
        let url = format!("{}/ocsp", self.jlis.base());
        match jlis_api::status::ocsp(self.jlis.http(), &url, card_certificate, &self.cas).await {
            Ok(Status::Good) => Ok(()),
            Ok(Status::OnHold) => Err(refused(403, "card_on_hold", "the card's certificate is on hold (一時保留)")),
            Ok(Status::Revoked { .. }) => Err(refused(403, "card_revoked", "the card's certificate is revoked")),
            Ok(Status::Unknown) => Err(refused(403, "card_unknown", "the JPKI service does not know this card")),
            Err(e) => {
                tracing::warn!(error = %e, "card status unavailable");
                Err(refused(503, "status_unavailable", "the JPKI service's status could not be checked; try again"))
            }
        }
    }

    async fn application(&self, id: &str) -> Result<ApplicationRow, ApiError> {
        let key = id.to_string();
        let row = self
            .store
            .read(move |tx| {
                tx.optional(
                    "SELECT id, state, card_certificate, application, commitment, cert_types, attempts, created_at,
                        resume_token FROM applications WHERE id = $1",
                    params![key],
                )
            })
            .await?
            .ok_or_else(|| refused(404, "unknown_application", format!("no application {id:?}")))?;
        Ok(ApplicationRow {
            id: row.text("id")?,
            state: row.text("state")?,
            card_certificate: row.blob("card_certificate")?,
            application: row.opt_blob("application")?.unwrap_or_default(),
            commitment: hex::decode(row.text("commitment")?).map_err(internal)?,
            cert_types: serde_json::from_str(&row.text("cert_types")?).map_err(internal)?,
            attempts: row.int("attempts")?,
            created_at: row.int("created_at")?,
            resume_token: row.opt_text("resume_token")?,
        })
    }

    async fn set_application_state(
        &self,
        id: &str,
        state: &'static str,
        detail: &str,
        domain: Option<TakenDomain>,
    ) -> Result<(), ApiError> {
        let (id, detail) = (id.to_string(), detail.to_string());
        self.store
            .write(move |tx| {
                TakenDomain::record(domain, tx)?;
                tx.execute(
                    "UPDATE applications SET state = $2, detail = $3, updated_at = $4 WHERE id = $1",
                    params![id, state, detail, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// Starts a provisioning attempt for `app` over a new relay session.
    async fn start_provisioning(self: &Arc<Self>, app: ApplicationRow) -> Result<Response, ApiError> {
        let id = app.id.clone();
        self.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE applications SET state = 'provisioning', attempts = attempts + 1, updated_at = $2 WHERE id = $1",
                    params![id, now_secs()],
                )
            })
            .await?;
        Ok(self.provisioning_session(app.clone(), app.attempts + 1, None).await)
    }

    /// Runs provisioning attempt `attempt` of `app` over a new relay
    /// session; the answer carries `resume_token` when given (the first).
    async fn provisioning_session(
        self: &Arc<Self>,
        app: ApplicationRow,
        attempt: i64,
        resume_token: Option<&str>,
    ) -> Response {
        let id = app.id.clone();
        let sp = self.clone();
        let (session, step) = self.hub.start(move |se| sp.provision(se, app, attempt)).await;
        answer(&session, step, &id, resume_token)
    }

    /// The provisioning flow (blocking thread); records the outcome.
    fn provision(&self, se: &mut RemoteSe, app: ApplicationRow, attempt: i64) -> Result<serde_json::Value, FlowError> {
        let rt = Handle::current();
        let mut taken = None;
        let result = self.provision_attempt(&rt, se, &app, attempt, &mut taken);
        // Success was recorded with the certificates' delivery.
        if let Err(e) = &result {
            rt.block_on(self.revoke_unwritten(&app.id));
            let state = if e.code == "commitment_mismatch" { "refused" } else { "interrupted" };
            tracing::warn!(application = %app.id, code = e.code, error = %e.message, "provisioning ended");
            rt.block_on(self.set_application_state(&app.id, state, &e.message, taken.take())).map_err(|e| e.0)?;
        }
        result
    }

    fn provision_attempt(
        &self,
        rt: &Handle,
        se: &mut RemoteSe,
        app: &ApplicationRow,
        attempt: i64,
        taken: &mut Option<TakenDomain>,
    ) -> Result<serde_json::Value, FlowError> {
        let se_id = hex::encode_upper(crate::sei::se_identifier(se)?);
        let keys = self.domain_keys(rt, se, &se_id, taken)?;
        let mut issued = Vec::new();
        let done = crate::sp::provision(se, keys, &app.commitment, &app.cert_types, |public_keys, inside| {
            if hex::encode_upper(inside) != se_id {
                return Err("the SE identifier inside the secure channel differs from CPLC".into());
            }
            // What the JPKI service issued is recorded, in one commit, before
            // anything is written into the SE — also what it issued before
            // refusing another type — so that an attempt that ends later
            // revokes it.
            let mut certificates = Vec::with_capacity(public_keys.len());
            let mut failure = None;
            for (t, spki) in public_keys {
                let request = jlis::PhoneRequest {
                    request_id: format!("{}-{attempt}-{}", app.id, t.as_str()),
                    card_certificate: app.card_certificate.clone(),
                    application: app.application.clone(),
                    phone_public_key: spki.to_vec(),
                    se_id: se_id.clone(),
                    cert_type: *t,
                };
                match rt.block_on(self.jlis.issue_phone(&request)) {
                    Ok(cert) => match check_issued(&self.cas, *t, spki, &cert, std::time::SystemTime::now()) {
                        Ok(()) => certificates.push((*t, cert)),
                        // Not recorded, so never revoked through a service
                        // that answered with someone else's serial.
                        Err(why) => {
                            tracing::error!(application = %app.id, serial = %cert.serial, why, "refused the JPKI service's certificate");
                            failure = Some(format!("refused the JPKI service's certificate: {why}"));
                            break;
                        }
                    },
                    Err(e) => {
                        failure = Some(e.to_string());
                        break;
                    }
                }
            }
            rt.block_on(self.record_issued(&app.id, &se_id, &certificates, taken.take())).map_err(|e| e.0.message)?;
            if let Some(e) = failure {
                return Err(e);
            }
            issued.extend(certificates.iter().map(|(_, c)| c.serial.clone()));
            Ok(certificates.into_iter().map(|(_, c)| (c.certificate, c.ca_certificate)).collect())
        })?;
        let (id, se, domain) = (app.id.clone(), se_id.clone(), taken.take());
        rt.block_on(self.store.write(move |tx| {
            TakenDomain::record(domain, tx)?;
            tx.execute(
                "UPDATE phone_certificates SET state = 'written', updated_at = $2 WHERE application_id = $1 AND state = 'issued'",
                params![&id, now_secs()],
            )?;
            tx.execute(
                "UPDATE applications SET state = 'done', se_id = $2, detail = NULL, updated_at = $3 WHERE id = $1",
                params![&id, se, now_secs()],
            )
        }))
        .map_err(|e| internal(e).0)?;
        tracing::info!(application = %app.id, se = %se_id, certificates = issued.len(), "phone provisioned");
        let certificates: Vec<_> = done
            .certificates
            .iter()
            .zip(&issued)
            .map(|((t, _), serial)| serde_json::json!({ "type": t, "serial": serial }))
            .collect();
        Ok(serde_json::json!({ "application": app.id, "se_id": se_id, "certificates": certificates }))
    }

    /// The SP domain's keys for `se_id`, replacing the handed-over ones on
    /// first contact. The new keys are stored (as pending) before the PUT
    /// KEY leaves, so a lost answer does not lose the domain. That the PUT
    /// KEY went through is left in `taken`, for the attempt's next write to
    /// record (the pending keys already cover a crash before it: the next
    /// attempt finds the handed-over keys refused and takes the pending ones).
    fn domain_keys(
        &self,
        rt: &Handle,
        se: &mut RemoteSe,
        se_id: &str,
        taken: &mut Option<TakenDomain>,
    ) -> Result<StaticKeys, FlowError> {
        let key = se_id.to_string();
        let row = rt
            .block_on(self.store.read(move |tx| {
                tx.optional("SELECT state, sealed_keys, pending_keys FROM domains WHERE se_id = $1", params![key])
            }))
            .map_err(|e| internal(e).0)?
            .ok_or_else(|| {
                FlowError::new(
                    409,
                    "not_prepared",
                    format!("SE {se_id} is not prepared: ask the SEI-TSM to prepare it first"),
                )
            })?;
        let open = |col: &str| -> Result<Option<StaticKeys>, FlowError> {
            let sealed = row.opt_blob(col).map_err(|e| internal(e).0)?;
            sealed.map(|s| self.vault.open(se_id, &s).map_err(|e| internal(e).0)).transpose()
        };
        let current = open("sealed_keys")?.ok_or_else(|| internal("no keys").0)?;
        if row.text("state").map_err(|e| internal(e).0)? == "own" {
            return Ok(current);
        }
        let earlier = open("pending_keys")?;
        let own = crate::sp::fresh_domain_keys();
        let (key, sealed) = (se_id.to_string(), self.vault.seal(se_id, &own));
        rt.block_on(self.store.write(move |tx| {
            tx.execute(
                "UPDATE domains SET pending_keys = $2, updated_at = $3 WHERE se_id = $1",
                params![key, sealed, now_secs()],
            )
        }))
        .map_err(|e| internal(e).0)?;
        let keys = match crate::sp::take_over_with(se, current, own.clone()) {
            Ok(()) => own,
            // The handed-over keys no longer open the domain: an earlier
            // attempt's PUT KEY went through and its answer was lost.
            Err(crate::TsmError::Scp03(_)) if earlier.is_some() => earlier.expect("checked"),
            Err(e) => return Err(e.into()),
        };
        *taken = Some(TakenDomain { se_id: se_id.to_string(), sealed: self.vault.seal(se_id, &keys) });
        tracing::info!(se = %se_id, "domain keys replaced (PUT KEY)");
        Ok(keys)
    }

    /// Records certificates the JPKI service issued for an attempt (and
    /// the ones they superseded), in one transaction.
    async fn record_issued(
        &self,
        application: &str,
        se_id: &str,
        certificates: &[(CertType, jlis_api::PhoneCertificate)],
        domain: Option<TakenDomain>,
    ) -> Result<(), ApiError> {
        let (application, se_id) = (application.to_string(), se_id.to_string());
        let rows: Vec<_> = certificates
            .iter()
            .map(|(t, c)| (t.as_str(), c.serial.clone(), c.certificate.clone(), c.superseded.clone()))
            .collect();
        self.store
            .write(move |tx| {
                TakenDomain::record(domain, tx)?;
                for (t, serial, certificate, superseded) in rows {
                    tx.execute(
                        "INSERT INTO phone_certificates (serial, application_id, se_id, cert_type, state, certificate, updated_at)
                         VALUES ($1, $2, $3, $4, 'issued', $5, $6)",
                        params![serial, &application, &se_id, t, certificate, now_secs()],
                    )?;
                    for old in superseded {
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

    /// Revokes the certificates an ended attempt issued but did not write.
    async fn revoke_unwritten(&self, application: &str) {
        let application = application.to_string();
        let rows = self
            .store
            .read(move |tx| {
                tx.all(
                    "SELECT serial FROM phone_certificates WHERE application_id = $1 AND state = 'issued'",
                    params![application],
                )
            })
            .await
            .unwrap_or_default();
        for row in rows {
            let Ok(serial) = row.text("serial") else { continue };
            self.revoke_serial(&serial, Reason::CessationOfOperation, "undelivered").await;
        }
    }

    /// Revokes at the JPKI service; a failure leaves `revoke_pending` for
    /// [`SpTsm::retry_pending_revocations`].
    async fn revoke_serial(&self, serial: &str, reason: Reason, why: &str) -> bool {
        let outcome = self.jlis.revoke(&format!("sp-tsm-{why}-{serial}"), serial, reason).await;
        let (state, ok) = match &outcome {
            Ok(_) => ("revoked", true),
            Err(e) if e.code() == Some("replay") || e.code() == Some("conflict") => ("revoked", true),
            Err(_) => ("revoke_pending", false),
        };
        if let Err(e) = &outcome {
            tracing::warn!(serial, error = %e, state, "revocation at the JPKI service");
        }
        let serial = serial.to_string();
        let recorded = self
            .store
            .write(move |tx| {
                tx.execute(
                    "UPDATE phone_certificates SET state = $2, updated_at = $3 WHERE serial = $1",
                    params![serial, state, now_secs()],
                )
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "recording a revocation's outcome");
        }
        ok
    }

    /// Retries revocations the JPKI service could not take; returns how
    /// many are still pending.
    pub async fn retry_pending_revocations(&self) -> usize {
        let rows = self
            .store
            .read(|tx| tx.all("SELECT serial FROM phone_certificates WHERE state = 'revoke_pending'", &[]))
            .await
            .unwrap_or_default();
        let mut pending = 0;
        for row in rows {
            let Ok(serial) = row.text("serial") else { continue };
            if !self.revoke_serial(&serial, Reason::CessationOfOperation, "undelivered").await {
                pending += 1;
            }
        }
        pending
    }

    /// Phone certificates by state (for tests and operators).
    pub async fn certificates(&self, se_id: &str) -> Result<Vec<(String, String, String)>, ApiError> {
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
        rows.iter().map(|r| Ok((r.text("serial")?, r.text("cert_type")?, r.text("state")?))).collect()
    }
}

/// Checks a certificate the JPKI service returned before it goes into the
/// SE (DESIGN.md: the SP-TSM checks the certificate it is given): it
/// certifies exactly `spki`, the key generated in the SE; its CA is one of
/// the configured JPKI CAs `cas` and signed it; it is valid at `now`; it is
/// of type `t`; its serial is the one announced.
fn check_issued(
    cas: &[pki::Certificate],
    t: CertType,
    spki: &[u8],
    issued: &jlis_api::PhoneCertificate,
    now: std::time::SystemTime,
) -> Result<(), String> {
    let cert = pki::Certificate::from_der(&issued.certificate).map_err(|_| "it is not a certificate".to_string())?;
    if pki::cert::public_key_der(&cert).map_err(|e| e.to_string())? != spki {
        return Err("it certifies another key than the one generated in the SE".into());
    }
    let ca = cas
        .iter()
        .find(|ca| ca.to_der().is_ok_and(|d| d == issued.ca_certificate))
        .ok_or("its CA is not one of the configured JPKI CAs")?;
    pki::chain::validate_path(&cert, &[], std::slice::from_ref(ca), now)
        .map_err(|e| format!("it does not chain to the JPKI CA: {e}"))?;
    let is_sign = pki::describe::holder_from_sign_certificate(&cert).is_some();
    if is_sign != (t == CertType::Sign) {
        return Err(format!("it is not a {} certificate", t.as_str()));
    }
    if jlis::service::serial_hex(&cert) != issued.serial.to_uppercase() {
        return Err("its serial is not the one the answer names".into());
    }
    Ok(())
}

/// An SP domain whose keys this attempt replaced (PUT KEY), sealed, not
/// yet recorded as the domain's own keys.
struct TakenDomain {
    se_id: String,
    sealed: Vec<u8>,
}

impl TakenDomain {
    /// Records the keys as the domain's own, inside the caller's transaction.
    fn record(domain: Option<TakenDomain>, tx: &mut store::Tx<'_>) -> Result<(), store::StoreError> {
        if let Some(d) = domain {
            tx.execute(
                "UPDATE domains SET state = 'own', sealed_keys = $2, pending_keys = NULL, updated_at = $3 WHERE se_id = $1",
                params![d.se_id, d.sealed, now_secs()],
            )?;
        }
        Ok(())
    }
}

/// A relay step with the application it belongs to (and its resume token,
/// in the answer to the application itself).
fn answer(session: &str, step: Step, application: &str, resume_token: Option<&str>) -> Response {
    let status = match &step {
        Step::Failed(e) => StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY),
        _ => StatusCode::OK,
    };
    let mut body = step.to_json(session);
    body["application"] = serde_json::json!(application);
    if let Some(token) = resume_token {
        body["resume_token"] = serde_json::json!(token);
    }
    (status, Json(body)).into_response()
}

/// The SP-TSM's router.
pub fn router(sp: Arc<SpTsm>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { ([("content-type", "application/json")], OPENAPI) }))
        .route("/v1/nonces", post(nonce))
        .route("/v1/domain-keys", post(domain_keys))
        .route("/v1/applications", post(application))
        .route("/v1/applications/{id}", get(application_state))
        .route("/v1/applications/{id}/provisioning", post(resume))
        .route("/v1/revocations", post(revocation))
        .route("/v1/relay/{session}", post(relay::<SpTsm>))
        .with_state(sp)
}

const OPENAPI: &str = include_str!("sp-openapi.json");

async fn nonce(State(sp): State<Arc<SpTsm>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "nonce": hex::encode(sp.nonces.issue()), "expires_in": NONCE_LIFETIME.as_secs() }))
}

/// The body of `POST /v1/domain-keys`: the SEI-TSM hands over the SP
/// domain's initial keys for one SE.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    se_id: String,
    kvn: u8,
    enc: String,
    mac: String,
    dek: String,
}

impl std::fmt::Debug for HandoverBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoverBody").field("se_id", &self.se_id).field("kvn", &self.kvn).finish_non_exhaustive()
    }
}

impl HandoverBody {
    /// The SE identifier (upper-case hex) and the keys, checked: AES keys
    /// in hex, a 10-byte SE identifier.
    pub fn into_keys(self) -> Result<(String, StaticKeys), ApiError> {
        let key = |s: &str| zeroize::Zeroizing::new(hex::decode(s).unwrap_or_default());
        let (enc, mac, dek) = (key(&self.enc), key(&self.mac), key(&self.dek));
        let keys = StaticKeys::new(self.kvn, &enc, &mac, &dek)
            .map_err(|_| invalid("enc, mac and dek must be AES keys in hex"))?;
        Ok((se_identifier(&self.se_id)?, keys))
    }
}

/// A 10-byte SE identifier in hex, upper-cased.
fn se_identifier(text: &str) -> Result<String, ApiError> {
    let se_id = text.to_uppercase();
    if se_id.len() != 20 || hex::decode(&se_id).is_err() {
        return Err(invalid("se_id must be the 10-byte SE identifier in hex"));
    }
    Ok(se_id)
}

async fn domain_keys(
    State(sp): State<Arc<SpTsm>>,
    Extension(peer): Extension<Peer>,
    JsonBody(body): JsonBody<HandoverBody>,
) -> Result<Response, ApiError> {
    if !peer.authenticated() {
        return Err(refused(403, "forbidden", "domain keys are accepted only from the SEI-TSM (client certificate)"));
    }
    let (se_id, keys) = body.into_keys()?;
    sp.accept_handover(&se_id, &keys).await?;
    Ok(Json(serde_json::json!({ "se_id": se_id })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationBody {
    /// CMS SignedData (base64).
    application: String,
}

async fn application(
    State(sp): State<Arc<SpTsm>>,
    JsonBody(body): JsonBody<ApplicationBody>,
) -> Result<Response, ApiError> {
    let cms = STANDARD.decode(&body.application).map_err(|_| invalid("application must be base64 CMS"))?;
    let verified = crate::application::verify(&cms, &sp.nonces, &sp.cas, std::time::SystemTime::now())?;
    let app = &verified.application;
    if !sp.apps.contains(&app.device.app_certificate_hash.to_uppercase()) {
        return Err(refused(403, "app_not_registered", "the application was made by an app this SP does not know"));
    }
    sp.card_status(&verified.card_certificate).await?;
    let mut id = [0u8; 16];
    pki::fill_random(&mut id);
    let mut token = zeroize::Zeroizing::new([0u8; 32]);
    pki::fill_random(&mut token[..]);
    let token = zeroize::Zeroizing::new(hex::encode(&token[..]));
    let row = ApplicationRow {
        id: hex::encode(id),
        state: "accepted".into(),
        card_certificate: verified.card_certificate.clone(),
        application: cms.clone(),
        commitment: verified.commitment.to_vec(),
        cert_types: app.cert_types.clone(),
        attempts: 0,
        created_at: now_secs(),
        resume_token: Some(token_digest(&token)),
    };
    // Accepted and its first provisioning attempt begun in one transaction.
    let record = params![
        &row.id,
        &row.card_certificate,
        hex::encode(verified.commitment),
        serde_json::to_string(&app.cert_types).map_err(internal)?,
        &app.device.model,
        row.created_at,
        &row.application,
        row.resume_token.clone(),
    ]
    .to_vec();
    sp.store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO applications (id, state, card_certificate, commitment, cert_types, model, se_id, attempts, detail,
                    created_at, updated_at, application, resume_token)
                 VALUES ($1, 'provisioning', $2, $3, $4, $5, NULL, 1, NULL, $6, $6, $7, $8)",
                &record,
            )
        })
        .await?;
    tracing::info!(application = %row.id, types = ?app.cert_types, "application accepted");
    // Only the applying phone learns the token that lets it resume.
    Ok(sp.provisioning_session(row, 1, Some(&token)).await)
}

/// The request header that presents an application's resume token (given
/// once, as `resume_token`, in the answer to the application).
pub const RESUME_TOKEN_HEADER: &str = "x-resume-token";

/// What the store keeps of a resume token: its SHA-256, hex.
fn token_digest(token: &str) -> String {
    hex::encode(pki::HashAlg::Sha256.digest(token.as_bytes()))
}

async fn resume(
    State(sp): State<Arc<SpTsm>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let app = sp.application(&id).await?;
    let presented = headers.get(RESUME_TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(token_digest);
    let genuine = match (&presented, &app.resume_token) {
        (Some(p), Some(stored)) => secret::ct_eq(p.as_bytes(), stored.as_bytes()),
        _ => false,
    };
    if !genuine {
        return Err(refused(
            403,
            "not_applicant",
            format!("application {id} can be resumed only by the phone that made it (resume token missing or wrong)"),
        ));
    }
    if !matches!(app.state.as_str(), "accepted" | "interrupted") {
        return Err(refused(409, "not_resumable", format!("application {id} is {}; apply again", app.state)));
    }
    if now_secs() - app.created_at > sp.resume_window.as_secs() as i64 {
        return Err(refused(409, "expired", format!("application {id} is too old to resume; apply again")));
    }
    sp.start_provisioning(app).await
}

async fn application_state(State(sp): State<Arc<SpTsm>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let key = id.clone();
    let (row, certs) = sp
        .store
        .read(move |tx| {
            let row =
                tx.optional("SELECT state, se_id, detail, attempts FROM applications WHERE id = $1", params![&key])?;
            let certs = tx.all(
                "SELECT serial, cert_type, state FROM phone_certificates WHERE application_id = $1 ORDER BY serial",
                params![&key],
            )?;
            Ok::<_, store::StoreError>((row, certs))
        })
        .await?;
    let row = row.ok_or_else(|| refused(404, "unknown_application", format!("no application {id:?}")))?;
    let certificates = certs
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "serial": r.text("serial")?,
                "type": r.text("cert_type")?,
                "state": r.text("state")?,
            }))
        })
        .collect::<Result<Vec<_>, store::StoreError>>()?;
    Ok(Json(serde_json::json!({
        "application": id,
        "state": row.text("state")?,
        "se_id": row.opt_text("se_id")?,
        "detail": row.opt_text("detail")?,
        "attempts": row.int("attempts")?,
        "certificates": certificates,
    }))
    .into_response())
}

/// What a holder's revocation request says (the CMS content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// A nonce from `POST /v1/nonces` (hex).
    pub nonce: String,
    /// Always `revoke`.
    pub action: String,
    /// The SE whose phone certificates go (hex).
    pub se_id: String,
}

impl RevocationRequest {
    /// Parses the signed content: action `revoke`, a 32-byte hex nonce and
    /// a 10-byte SE identifier; returns the nonce and the SE identifier.
    pub fn parse(content: &[u8]) -> Result<([u8; 32], String), ApiError> {
        let request: RevocationRequest =
            serde_json::from_slice(content).map_err(|e| invalid(format!("revocation request: {e}")))?;
        let mut nonce = [0u8; 32];
        if request.action != "revoke" || hex::decode_to_slice(&request.nonce, &mut nonce).is_err() {
            return Err(invalid("a revocation request has action \"revoke\" and a 32-byte hex nonce"));
        }
        Ok((nonce, se_identifier(&request.se_id)?))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationBody {
    /// CMS SignedData (base64) over a [`RevocationRequest`], signed with a
    /// phone key of that SE.
    request: String,
}

async fn revocation(
    State(sp): State<Arc<SpTsm>>,
    JsonBody(body): JsonBody<RevocationBody>,
) -> Result<Response, ApiError> {
    let cms = STANDARD.decode(&body.request).map_err(|_| invalid("request must be base64 CMS"))?;
    let options =
        pki::cms::VerifyOptions { anchors: &sp.cas, detached_content: None, at: Some(std::time::SystemTime::now()) };
    let checked = pki::cms::verify(&cms, &options).map_err(|e| refused(403, "bad_signature", e.to_string()))?;
    let (nonce, se_id) = RevocationRequest::parse(&checked.content)?;
    let signer = checked.signer.to_der().map_err(internal)?;
    let key = se_id.clone();
    let (active, domain) = sp
        .store
        .read(move |tx| {
            let active = tx.all(
                "SELECT serial, certificate FROM phone_certificates WHERE se_id = $1 AND state = 'written'",
                params![&key],
            )?;
            let domain =
                tx.optional("SELECT sealed_keys FROM domains WHERE se_id = $1 AND state = 'own'", params![&key])?;
            Ok::<_, store::StoreError>((active, domain))
        })
        .await?;
    let mut serials = Vec::new();
    let mut signed_by_active = false;
    for row in &active {
        serials.push(row.text("serial")?);
        signed_by_active |= row.blob("certificate")? == signer;
    }
    if !signed_by_active {
        return Err(refused(
            403,
            "not_active_phone_certificate",
            "the request must be signed with an active phone certificate of that SE",
        ));
    }
    sp.nonces.consume(&nonce)?;
    let mut revoked = Vec::new();
    for serial in &serials {
        if sp.revoke_serial(serial, Reason::CessationOfOperation, "holder").await {
            revoked.push(serial.clone());
        }
    }
    tracing::info!(se = %se_id, revoked = revoked.len(), "holder revoked the phone certificates");
    let domain =
        domain.ok_or_else(|| internal(format!("SE {se_id} has written certificates but no own domain keys")))?;
    let keys = sp.vault.open(&se_id, &domain.blob("sealed_keys")?).map_err(internal)?;
    let result = serde_json::json!({ "revoked": revoked, "wiped": true });
    let (session, step) = sp
        .hub
        .start(move |se| {
            crate::sp::wipe(se, keys)?;
            Ok(result)
        })
        .await;
    Ok(super::step_response(&session, step))
}

/// Runs the SP-TSM until the process ends.
pub async fn run(config: SpConfig) -> Result<(), String> {
    let sp = Arc::new(SpTsm::open(&config).await?);
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(&config, sp, listener).await
}

/// Runs an opened SP-TSM on a listener the caller bound; pending
/// revocations are retried every minute.
pub async fn serve(config: &SpConfig, sp: Arc<SpTsm>, listener: tokio::net::TcpListener) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sei_tsm_client_ca)?;
    let retry = sp.clone();
    tokio::spawn(async move {
        loop {
            retry.retry_pending_revocations().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    tracing::info!(https = %config.https_listen, "SP-TSM listening");
    svc::server::serve_https(listener, tls, router(sp)).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handover(json: serde_json::Value) -> Result<(String, StaticKeys), ApiError> {
        serde_json::from_value::<HandoverBody>(json).expect("shape").into_keys()
    }

    #[test]
    fn handover_bodies_are_checked() {
        let key = "000102030405060708090A0B0C0D0E0F";
        let ok = serde_json::json!({ "se_id": "00112233445566778899", "kvn": 48, "enc": key, "mac": key, "dek": key });
        assert_eq!(handover(ok.clone()).unwrap().0, "00112233445566778899");
        for (field, bad) in [("se_id", "0011"), ("se_id", "zz112233445566778899"), ("enc", "0001"), ("mac", "not hex")]
        {
            let mut body = ok.clone();
            body[field] = bad.into();
            assert_eq!(handover(body).unwrap_err().0.code, "invalid_request", "{field} = {bad}");
        }
        assert!(serde_json::from_value::<HandoverBody>(serde_json::json!({ "se_id": "", "extra": 1 })).is_err());
    }

    #[test]
    fn revocation_requests_are_checked() {
        let nonce = "00".repeat(32);
        let ok = serde_json::json!({ "nonce": nonce, "action": "revoke", "se_id": "00112233445566778899" });
        let (n, se) = RevocationRequest::parse(ok.to_string().as_bytes()).unwrap();
        assert_eq!((n, se.as_str()), ([0; 32], "00112233445566778899"));
        for (field, bad) in [("action", "delete"), ("nonce", "00"), ("se_id", "00")] {
            let mut body = ok.clone();
            body[field] = bad.into();
            let e = RevocationRequest::parse(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.0.code, "invalid_request", "{field} = {bad}");
        }
        assert!(RevocationRequest::parse(b"{\"nonce\":1}").is_err());
    }

    /// Every refusal of `check_issued` (attack pattern 5 drives the
    /// "another key" one end to end).
    #[test]
    fn certificates_from_the_jpki_service_are_checked_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let other = pki::ca::LocalCa::open_or_create(&dir.path().join("other")).unwrap();
        let key = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        let holder = pki::Holder::example();
        let issue = |ca: &pki::ca::LocalCa, kind: pki::CaKind| {
            let cert = ca.issue_card_certificate(kind, &key, &holder).unwrap();
            jlis_api::PhoneCertificate {
                serial: jlis::service::serial_hex(&cert),
                certificate: cert.to_der().unwrap(),
                ca_certificate: ca.ca(kind).cert_der.clone(),
                superseded: vec![],
            }
        };
        let cas = [ca.ca(pki::CaKind::Auth).cert.clone(), ca.ca(pki::CaKind::Sign).cert.clone()];
        let now = std::time::SystemTime::now();
        let sign = issue(&ca, pki::CaKind::Sign);
        assert_eq!(check_issued(&cas, CertType::Sign, &key, &sign, now), Ok(()));
        assert_eq!(check_issued(&cas, CertType::Auth, &key, &issue(&ca, pki::CaKind::Auth), now), Ok(()));
        let refused = |t, spki: &[u8], issued: &jlis_api::PhoneCertificate, at| {
            check_issued(&cas, t, spki, issued, at).unwrap_err()
        };
        let another = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        assert!(refused(CertType::Sign, &another, &sign, now).contains("another key"));
        assert!(refused(CertType::Auth, &key, &sign, now).contains("not a auth certificate"));
        assert!(
            refused(CertType::Sign, &key, &issue(&other, pki::CaKind::Sign), now).contains("not one of the configured")
        );
        let mut forged_ca = issue(&other, pki::CaKind::Sign);
        forged_ca.ca_certificate = sign.ca_certificate.clone();
        assert!(refused(CertType::Sign, &key, &forged_ca, now).contains("does not chain"));
        let far = now + std::time::Duration::from_secs(20 * 365 * 86_400);
        assert!(refused(CertType::Sign, &key, &sign, far).contains("does not chain"));
        let mut renamed = sign.clone();
        renamed.serial = "01".into();
        assert!(refused(CertType::Sign, &key, &renamed, now).contains("serial"));
        let mut garbage = sign.clone();
        garbage.certificate = b"not DER".to_vec();
        assert!(refused(CertType::Sign, &key, &garbage, now).contains("not a certificate"));
    }

    #[test]
    fn relay_bodies_are_checked() {
        let parse =
            |j: serde_json::Value| serde_json::from_value::<crate::service::RelayBody>(j).unwrap().into_responses();
        assert_eq!(parse(serde_json::json!({ "responses": ["9000", "01029000"] })).unwrap().len(), 2);
        for bad in ["90", "zz00", ""] {
            assert!(parse(serde_json::json!({ "responses": [bad] })).is_err(), "{bad}");
        }
    }
}
