//! Clients of the TSMs: the JPKI app's (nonces, preparation, application,
//! resume, revocation — each flow driven through the relay with the
//! phone's SE as the [`Transport`]), the SP-TSM's call to the SEI-TSM (app
//! registration) and the SEI-TSM's to the SP-TSM (key hand-over), both
//! with their client certificates.

use crate::relay::{RelayResponses, RelayStep};
use crate::types::{
    ApplicationBody, AppsBody, DomainKeys, NonceAnswer, RevocationBody, RevocationConfirmation, RESUME_TOKEN_HEADER,
};
use apdu::Transport;
use serde_json::Value;
use std::path::Path;
use svc::client::ServiceError;

/// What went wrong talking to a TSM.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TSM refused, could not be reached, or the local TLS files are wrong.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The phone's SE could not be reached.
    #[error("the phone's SE: {0}")]
    Se(String),
}

impl ClientError {
    /// The TSM's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Service(e) => e.code(),
            ClientError::Se(_) => None,
        }
    }
}

/// A flow's outcome as the phone saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The flow's result (`done`).
    pub result: Value,
    /// APDUs relayed.
    pub apdus: usize,
}

pub use crate::types::ApplicationRef;

/// What signs the app's requests (docs/device-trust.md "Per-request app
/// assertions"): given a request's method, path and body, the assertion
/// to send in [`APP_ASSERTION_HEADER`], or none before there is an app key.
pub trait Asserter: Send + Sync + std::fmt::Debug {
    /// The assertion over this request (raw bytes; sent base64).
    fn assertion(&self, method: &str, path: &str, body: &[u8]) -> Option<Vec<u8>>;
}

/// The header carrying a per-request app assertion (base64).
pub const APP_ASSERTION_HEADER: &str = "x-app-assertion";

/// One TSM's HTTPS API.
#[derive(Debug, Clone)]
pub struct TsmClient {
    base: String,
    http: reqwest::Client,
    asserter: Option<std::sync::Arc<dyn Asserter>>,
}

impl TsmClient {
    /// A client of the TSM at `base` trusting `tls_ca` and pinning the TSM
    /// `service` by its TLS name, presenting `identity` (certificate and
    /// key PEM) when given.
    pub fn new(
        base: &str,
        tls_ca: &Path,
        service: svc::tls::Service,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Self, ClientError> {
        Self::pinned(base, tls_ca, service.server_name(), identity)
    }

    /// [`TsmClient::new`] expecting the TLS server name `server_name`.
    pub fn pinned(
        base: &str,
        tls_ca: &Path,
        server_name: &str,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Self, ClientError> {
        let http = svc::client::https_client(tls_ca, server_name, identity).map_err(ServiceError::Config)?;
        Ok(Self { base: base.trim_end_matches('/').to_string(), http, asserter: None })
    }

    /// The same client, each request signed by `asserter` (the JPKI app's
    /// TEE app key).
    pub fn with_asserter(&self, asserter: std::sync::Arc<dyn Asserter>) -> Self {
        Self { asserter: Some(asserter), ..self.clone() }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<Value, ClientError> {
        self.call_with(method, path, body, None).await
    }

    async fn call_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl serde::Serialize>,
        header: Option<(&str, &str)>,
    ) -> Result<Value, ClientError> {
        use base64::Engine;
        let url = format!("{}{path}", self.base);
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ServiceError::transport(&self.base, e.to_string()))?),
            None => None,
        };
        let assertion = self
            .asserter
            .as_ref()
            .and_then(|a| a.assertion(method.as_str(), path, bytes.as_deref().unwrap_or_default()));
        let mut req = self.http.request(method, &url);
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        if let Some(a) = assertion {
            req = req.header(APP_ASSERTION_HEADER, base64::engine::general_purpose::STANDARD.encode(a));
        }
        if let Some(b) = bytes {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b);
        }
        Ok(svc::client::call_json(&self.base, req).await?)
    }

    /// `POST /v1/nonces` (SP-TSM): a fresh nonce (32 bytes).
    pub async fn nonce(&self) -> Result<[u8; 32], ClientError> {
        let v = self.call(reqwest::Method::POST, "/v1/nonces", None::<&()>).await?;
        let answer: NonceAnswer = serde_json::from_value(v)
            .map_err(|_| ServiceError::transport(&self.base, "a nonce answer without a nonce"))?;
        let mut nonce = [0u8; 32];
        hex::decode_to_slice(&answer.nonce, &mut nonce)
            .map_err(|_| ServiceError::transport(&self.base, "nonce is not 32 bytes of hex"))?;
        Ok(nonce)
    }

    /// `PUT /v1/apps` (SEI-TSM, with the SP-TSM's identity).
    pub async fn register_apps(&self, hashes: &[String]) -> Result<(), ClientError> {
        let body = AppsBody { app_certificate_sha256: hashes.to_vec() };
        self.call(reqwest::Method::PUT, "/v1/apps", Some(&body)).await.map(|_| ())
    }

    /// `POST /v1/domain-keys` (SP-TSM, with the SEI-TSM's identity): hands
    /// over an SE's initial SP domain keys.
    pub async fn hand_over(&self, keys: &DomainKeys) -> Result<(), ClientError> {
        self.call(reqwest::Method::POST, "/v1/domain-keys", Some(keys)).await.map(|_| ())
    }

    /// `POST /v1/preparations` (SEI-TSM), then the relay until done.
    pub async fn prepare(&self, se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let first = self.call(reqwest::Method::POST, "/v1/preparations", None::<&()>).await?;
        self.drive(first, se).await
    }

    /// `POST /v1/applications` (SP-TSM) with the card-signed CMS and the
    /// phone's device evidence, then the provisioning relay. The
    /// application (id and resume token) comes back even when provisioning
    /// is interrupted, so it can be resumed.
    pub async fn apply(
        &self,
        cms: &[u8],
        evidence: Option<&[u8]>,
        se: &mut (dyn Transport + Send),
    ) -> (Option<ApplicationRef>, Result<Outcome, ClientError>) {
        let first = match self.submit(cms, evidence).await {
            Ok(v) => v,
            Err(e) => return (None, Err(e)),
        };
        (ApplicationRef::from_answer(&first), self.drive(first, se).await)
    }

    /// `POST /v1/applications` alone: the SP-TSM's first relay step (with
    /// the application id), to be given to [`TsmClient::drive`].
    pub async fn submit(&self, cms: &[u8], evidence: Option<&[u8]>) -> Result<Value, ClientError> {
        let body = ApplicationBody { application: secret_b64(cms), evidence: evidence.map(secret_b64) };
        self.call(reqwest::Method::POST, "/v1/applications", Some(&body)).await
    }

    /// `POST /v1/applications/{id}/provisioning` with the resume token:
    /// resumes an interrupted one.
    pub async fn resume(
        &self,
        application: &ApplicationRef,
        se: &mut (dyn Transport + Send),
    ) -> Result<Outcome, ClientError> {
        let path = format!("/v1/applications/{}/provisioning", application.id);
        let token = (RESUME_TOKEN_HEADER, application.resume_token.as_str());
        let first = self.call_with(reqwest::Method::POST, &path, None::<&()>, Some(token)).await?;
        self.drive(first, se).await
    }

    /// `GET /v1/applications/{id}`.
    pub async fn application(&self, application: &str) -> Result<Value, ClientError> {
        self.call(reqwest::Method::GET, &format!("/v1/applications/{application}"), None::<&()>).await
    }

    /// `POST /v1/revocations` with the phone-signed CMS and the holder's
    /// trusted confirmation, then the wipe relay.
    pub async fn revoke(
        &self,
        cms: &[u8],
        confirmation: Option<RevocationConfirmation>,
        se: &mut (dyn Transport + Send),
    ) -> Result<Outcome, ClientError> {
        let body = RevocationBody { request: secret_b64(cms), confirmation };
        let first = self.call(reqwest::Method::POST, "/v1/revocations", Some(&body)).await?;
        self.drive(first, se).await
    }

    /// Forwards each command to the SE unchanged and posts the responses,
    /// until the TSM says done.
    pub async fn drive(&self, step: Value, se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let nonsense = |what: &str| ServiceError::transport(&self.base, what.to_string());
        let mut step: RelayStep =
            serde_json::from_value(step).map_err(|_| nonsense("a relay step of another shape"))?;
        let mut apdus = 0;
        loop {
            if let Some(result) = step.done.take() {
                return Ok(Outcome { result, apdus });
            }
            let script = match &step.commands {
                Some(_) => step.command_bytes().ok_or_else(|| nonsense("a command that is not hex"))?,
                None => return Err(nonsense("a relay step without commands").into()),
            };
            // The step's commands go to the SE as one script (GP Amd B).
            let answers = se.transmit_script(&script).map_err(|e| ClientError::Se(e.to_string()))?;
            apdus += answers.len();
            let path = format!("/v1/relay/{}", step.session);
            let next = self.call(reqwest::Method::POST, &path, Some(&RelayResponses::new(&answers))).await?;
            step = serde_json::from_value(next).map_err(|_| nonsense("a relay step of another shape"))?;
        }
    }
}

/// CMS as base64 for a request body.
fn secret_b64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}
