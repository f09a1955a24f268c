//! Clients of the TSMs: the JPKI app's (nonces, preparation, application,
//! resume, revocation — each flow driven through the relay with the
//! phone's SE as the [`Transport`]) and the SP-TSM's own call to the
//! SEI-TSM (app registration, with its client certificate).

use apdu::Transport;
use base64::{engine::general_purpose::STANDARD, Engine};
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

/// An application at the SP-TSM as its applicant holds it: the id, and the
/// token that alone lets the applying phone resume it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplicationRef {
    /// The SP-TSM's application id.
    pub id: String,
    /// The resume token (secret: shown only to the applying phone).
    pub resume_token: String,
}

impl std::fmt::Debug for ApplicationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationRef").field("id", &self.id).field("resume_token", &"REDACTED").finish()
    }
}

impl ApplicationRef {
    /// From the SP-TSM's answer to `POST /v1/applications`.
    pub fn from_answer(first: &Value) -> Option<Self> {
        Some(Self {
            id: first["application"].as_str()?.to_string(),
            resume_token: first["resume_token"].as_str()?.to_string(),
        })
    }
}

/// One TSM's HTTPS API.
#[derive(Debug, Clone)]
pub struct TsmClient {
    base: String,
    http: reqwest::Client,
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
        let http = svc::client::https_client(tls_ca, service.server_name(), identity).map_err(ServiceError::Config)?;
        Ok(Self { base: base.trim_end_matches('/').to_string(), http })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        self.call_with(method, path, body, None).await
    }

    async fn call_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        header: Option<(&str, &str)>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Ok(svc::client::call_json(&self.base, req).await?)
    }

    /// `POST /v1/nonces` (SP-TSM): a fresh nonce (32 bytes).
    pub async fn nonce(&self) -> Result<[u8; 32], ClientError> {
        let v = self.call(reqwest::Method::POST, "/v1/nonces", None).await?;
        let mut nonce = [0u8; 32];
        hex::decode_to_slice(v["nonce"].as_str().unwrap_or_default(), &mut nonce)
            .map_err(|_| ServiceError::transport(&self.base, "nonce is not 32 bytes of hex"))?;
        Ok(nonce)
    }

    /// `PUT /v1/apps` (SEI-TSM, with the SP-TSM's identity).
    pub async fn register_apps(&self, hashes: &[String]) -> Result<(), ClientError> {
        let body = serde_json::json!({ "app_certificate_sha256": hashes });
        self.call(reqwest::Method::PUT, "/v1/apps", Some(&body)).await.map(|_| ())
    }

    /// `POST /v1/preparations` (SEI-TSM), then the relay until done.
    pub async fn prepare(&self, se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let first = self.call(reqwest::Method::POST, "/v1/preparations", None).await?;
        self.drive(first, se).await
    }

    /// `POST /v1/applications` (SP-TSM) with the card-signed CMS, then the
    /// provisioning relay. The application (id and resume token) comes
    /// back even when provisioning is interrupted, so it can be resumed.
    pub async fn apply(
        &self,
        cms: &[u8],
        se: &mut (dyn Transport + Send),
    ) -> (Option<ApplicationRef>, Result<Outcome, ClientError>) {
        let first = match self.submit(cms).await {
            Ok(v) => v,
            Err(e) => return (None, Err(e)),
        };
        (ApplicationRef::from_answer(&first), self.drive(first, se).await)
    }

    /// `POST /v1/applications` alone: the SP-TSM's first relay step (with
    /// the application id), to be given to [`TsmClient::drive`].
    pub async fn submit(&self, cms: &[u8]) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "application": STANDARD.encode(cms) });
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
        let token = (crate::service::sp::RESUME_TOKEN_HEADER, application.resume_token.as_str());
        let first = self.call_with(reqwest::Method::POST, &path, None, Some(token)).await?;
        self.drive(first, se).await
    }

    /// `GET /v1/applications/{id}`.
    pub async fn application(&self, application: &str) -> Result<Value, ClientError> {
        self.call(reqwest::Method::GET, &format!("/v1/applications/{application}"), None).await
    }

    /// `POST /v1/revocations` with the phone-signed CMS, then the wipe relay.
    pub async fn revoke(&self, cms: &[u8], se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let body = serde_json::json!({ "request": STANDARD.encode(cms) });
        let first = self.call(reqwest::Method::POST, "/v1/revocations", Some(&body)).await?;
        self.drive(first, se).await
    }

    /// Forwards each command to the SE unchanged and posts the responses,
    /// until the TSM says done.
    pub async fn drive(&self, mut step: Value, se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let mut apdus = 0;
        loop {
            if !step["done"].is_null() {
                return Ok(Outcome { result: step["done"].take(), apdus });
            }
            let session = step["session"].as_str().unwrap_or_default().to_string();
            let commands = step["commands"]
                .as_array()
                .ok_or_else(|| ServiceError::transport(&self.base, "a relay step without commands"))?;
            let script = commands
                .iter()
                .map(|c| hex::decode(c.as_str().unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ServiceError::transport(&self.base, "a command that is not hex"))?;
            // The step's commands go to the SE as one script (GP Amd B).
            let answers = se.transmit_script(&script).map_err(|e| ClientError::Se(e.to_string()))?;
            apdus += answers.len();
            let responses: Vec<String> = answers.iter().map(hex::encode_upper).collect();
            let body = serde_json::json!({ "responses": responses });
            step = self.call(reqwest::Method::POST, &format!("/v1/relay/{session}"), Some(&body)).await?;
        }
    }
}
