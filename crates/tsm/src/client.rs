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
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
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
    /// provisioning relay. The application id comes back even when
    /// provisioning is interrupted, so it can be resumed.
    pub async fn apply(
        &self,
        cms: &[u8],
        se: &mut (dyn Transport + Send),
    ) -> (Option<String>, Result<Outcome, ClientError>) {
        let first = match self.submit(cms).await {
            Ok(v) => v,
            Err(e) => return (None, Err(e)),
        };
        let id = first["application"].as_str().map(str::to_string);
        (id, self.drive(first, se).await)
    }

    /// `POST /v1/applications` alone: the SP-TSM's first relay step (with
    /// the application id), to be given to [`TsmClient::drive`].
    pub async fn submit(&self, cms: &[u8]) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "application": STANDARD.encode(cms) });
        self.call(reqwest::Method::POST, "/v1/applications", Some(&body)).await
    }

    /// `POST /v1/applications/{id}/provisioning`: resumes an interrupted one.
    pub async fn resume(&self, application: &str, se: &mut (dyn Transport + Send)) -> Result<Outcome, ClientError> {
        let first =
            self.call(reqwest::Method::POST, &format!("/v1/applications/{application}/provisioning"), None).await?;
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
            let mut responses = Vec::with_capacity(commands.len());
            for c in commands {
                let apdu = hex::decode(c.as_str().unwrap_or_default())
                    .map_err(|_| ServiceError::transport(&self.base, "a command that is not hex"))?;
                let r = se.transmit_raw(&apdu).map_err(|e| ClientError::Se(e.to_string()))?;
                responses.push(hex::encode_upper(r));
                apdus += 1;
            }
            let body = serde_json::json!({ "responses": responses });
            step = self.call(reqwest::Method::POST, &format!("/v1/relay/{session}"), Some(&body)).await?;
        }
    }
}
