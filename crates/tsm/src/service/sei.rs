//! The SEI-TSM service (`jpki serve sei-tsm`; DESIGN.md "Preparation").
//!
//! - `PUT /v1/apps` — the SP-TSM (client certificate) registers the JPKI
//!   app's signing-certificate hashes, which the ARA-M rule will name.
//! - `POST /v1/preparations` — a phone asks for its SE to be prepared; the
//!   answer is the first relay step. The flow reads the SE identifier,
//!   opens SCP03 with the ISD (keys KDF3(master, SE id)), removes any SP
//!   domain left by an interrupted earlier attempt, creates the domain with
//!   fresh initial keys, installs the JPKI applet into it, writes the ARA-M
//!   rules, and hands the initial keys to the SP-TSM over mutual TLS. Only
//!   then is the SE recorded as prepared; a prepared SE is not prepared
//!   again (409 `already_prepared`).
//! - `POST /v1/relay/{session}`, `GET /openapi.json`, `GET /healthz`.

use super::config::SeiConfig;
use super::{internal, invalid, now_secs, relay, step_response, ApiError, JsonBody};
use crate::remote::{FlowError, RelayHub, RemoteSe};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use gp::{AesKey, StaticKeys};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use store::{params, Store};
use svc::Peer;

const SCHEMA: &[store::Migration] = &[(
    "1-sei-tsm",
    "CREATE TABLE apps (hash TEXT PRIMARY KEY, registered_at BIGINT NOT NULL);
     CREATE TABLE secure_elements (se_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at BIGINT NOT NULL)",
)];

/// The SEI-TSM.
pub struct SeiTsm {
    store: Store,
    master: AesKey,
    handover: HttpsHandover,
    hub: RelayHub,
}

impl std::fmt::Debug for SeiTsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeiTsm").field("hub", &self.hub).finish_non_exhaustive()
    }
}

impl AsRef<RelayHub> for SeiTsm {
    fn as_ref(&self) -> &RelayHub {
        &self.hub
    }
}

impl SeiTsm {
    /// Opens the store (applying migrations).
    pub async fn open(
        database: &str,
        master: AesKey,
        handover: HttpsHandover,
        relay_timeout: Duration,
    ) -> Result<Self, String> {
        let store = Store::open(database, SCHEMA).await.map_err(|e| e.to_string())?;
        Ok(Self { store, master, handover, hub: RelayHub::new(relay_timeout) })
    }

    /// Replaces the app whitelist.
    pub async fn register_apps(&self, hashes: &[Vec<u8>]) -> Result<(), ApiError> {
        let hashes: Vec<String> = hashes.iter().map(hex::encode_upper).collect();
        self.store
            .write(move |tx| {
                tx.execute("DELETE FROM apps", &[])?;
                for hash in hashes {
                    tx.execute("INSERT INTO apps (hash, registered_at) VALUES ($1, $2)", params![hash, now_secs()])?;
                }
                Ok(())
            })
            .await
    }

    async fn apps(&self) -> Result<Vec<Vec<u8>>, ApiError> {
        let rows = self.store.read(|tx| tx.all("SELECT hash FROM apps ORDER BY hash", &[])).await?;
        rows.iter().map(|r| hex::decode(r.text("hash")?).map_err(internal)).collect()
    }

    async fn se_state(&self, se_id: &str) -> Result<Option<String>, ApiError> {
        let se_id = se_id.to_string();
        let row = self
            .store
            .read(move |tx| tx.optional("SELECT state FROM secure_elements WHERE se_id = $1", params![se_id]))
            .await?;
        Ok(row.map(|r| r.text("state")).transpose()?)
    }

    async fn set_se_state(&self, se_id: &str, state: &'static str) -> Result<(), ApiError> {
        let se_id = se_id.to_string();
        self.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO secure_elements (se_id, state, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (se_id) DO UPDATE SET state = $2, updated_at = $3",
                    params![se_id, state, now_secs()],
                )
            })
            .await?;
        Ok(())
    }

    /// The preparation flow over the relay (runs on a blocking thread).
    fn prepare(self: &Arc<Self>, se: &mut RemoteSe, apps: Vec<Vec<u8>>) -> Result<serde_json::Value, FlowError> {
        let rt = tokio::runtime::Handle::current();
        let api = |e: ApiError| e.0;
        let id = hex::encode_upper(crate::sei::se_identifier(se)?);
        match rt.block_on(self.se_state(&id)).map_err(api)?.as_deref() {
            Some("prepared") => {
                return Err(FlowError::new(409, "already_prepared", format!("SE {id} is already prepared for JPKI")))
            }
            _ => rt.block_on(self.set_se_state(&id, "preparing")).map_err(api)?,
        }
        let hashes: Vec<&[u8]> = apps.iter().map(Vec::as_slice).collect();
        let initial = crate::sei::prepare(se, &self.master, &hashes)?;
        rt.block_on(self.handover.hand_over(&id, &initial)).map_err(|e| {
            tracing::error!(se = %id, error = %e, "key hand-over to the SP-TSM failed");
            FlowError::new(502, "handover_failed", "the SP-TSM did not take the domain keys; prepare again later")
        })?;
        rt.block_on(self.set_se_state(&id, "prepared")).map_err(api)?;
        tracing::info!(se = %id, "SE prepared, domain keys handed over");
        Ok(serde_json::json!({ "se_id": id }))
    }
}

/// The SEI-TSM's router.
pub fn router(sei: Arc<SeiTsm>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { ([("content-type", "application/json")], OPENAPI) }))
        .route("/v1/apps", put(register_apps))
        .route("/v1/preparations", post(preparation))
        .route("/v1/relay/{session}", post(relay::<SeiTsm>))
        .with_state(sei)
}

const OPENAPI: &str = include_str!("sei-openapi.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsBody {
    app_certificate_sha256: Vec<String>,
}

async fn register_apps(
    State(sei): State<Arc<SeiTsm>>,
    Extension(peer): Extension<Peer>,
    JsonBody(body): JsonBody<AppsBody>,
) -> Result<Response, ApiError> {
    if !peer.authenticated() {
        return Err(ApiError(FlowError::new(403, "forbidden", "only the SP-TSM (client certificate) registers apps")));
    }
    let hashes = body
        .app_certificate_sha256
        .iter()
        .map(|h| hex::decode(h).ok().filter(|h| h.len() == 32))
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("app_certificate_sha256 must list SHA-256 hashes in hex"))?;
    sei.register_apps(&hashes).await?;
    Ok(Json(serde_json::json!({ "registered": hashes.len() })).into_response())
}

async fn preparation(State(sei): State<Arc<SeiTsm>>) -> Result<Response, ApiError> {
    let apps = sei.apps().await?;
    if apps.is_empty() {
        return Err(ApiError(FlowError::new(
            409,
            "no_apps",
            "the SP has not registered its app yet (PUT /v1/apps); preparation would lock every app out",
        )));
    }
    let flow_sei = sei.clone();
    let (session, step) = sei.hub.start(move |se| flow_sei.prepare(se, apps)).await;
    Ok(step_response(&session, step))
}

/// Hands keys to the SP-TSM's `POST /v1/domain-keys` over mutual TLS.
#[derive(Debug)]
pub struct HttpsHandover {
    url: String,
    http: reqwest::Client,
}

impl HttpsHandover {
    /// From the configuration's SP-TSM URL, trust anchor and identity.
    pub fn new(c: &SeiConfig) -> Result<Self, String> {
        let http =
            svc::client::https_client(&c.tls_ca, &c.sp_tsm_server_name, Some((&c.client_certificate, &c.client_key)))?;
        Ok(Self { url: format!("{}/v1/domain-keys", c.sp_tsm_url.trim_end_matches('/')), http })
    }
}

impl HttpsHandover {
    /// Delivers the SP domain's initial keys for `se_id` to the SP-TSM.
    pub async fn hand_over(&self, se_id: &str, keys: &StaticKeys) -> Result<(), String> {
        let body = zeroize::Zeroizing::new(
            serde_json::json!({
                "se_id": se_id,
                "kvn": keys.kvn,
                "enc": hex::encode(keys.enc.expose()),
                "mac": hex::encode(keys.mac.expose()),
                "dek": hex::encode(keys.dek.expose()),
            })
            .to_string(),
        );
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match r.status().as_u16() {
            200 => Ok(()),
            s => Err(format!("{} answered {s}: {}", self.url, r.text().await.unwrap_or_default())),
        }
    }
}

/// Runs the SEI-TSM until the process ends.
pub async fn run(config: SeiConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(config, listener).await
}

/// Runs the SEI-TSM on a listener the caller bound.
pub async fn serve(config: SeiConfig, listener: tokio::net::TcpListener) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sp_tsm_client_ca)?;
    let master = crate::secret::key_file(&config.isd_master_key_file, false)?;
    let handover = HttpsHandover::new(&config)?;
    let sei = SeiTsm::open(&config.database, master, handover, Duration::from_secs(config.relay_timeout_secs)).await?;
    tracing::info!(https = %config.https_listen, "SEI-TSM listening");
    svc::server::serve_https(listener, tls, router(Arc::new(sei))).await.map_err(|e| e.to_string())
}
