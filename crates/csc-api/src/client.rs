//! A client of a CSC service (and of the openjpki RSSP's own routes):
//! JSON in, the answer's status and JSON out, the CSC error body turned
//! into a [`CscError`]. Used by `jpki rssp`, the benchmarks and the tests.

use crate::error::{Code, CscError, ErrorBody};
use crate::types::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A CSC service at `base` (`https://host:port`), speaking v2 paths.
#[derive(Debug, Clone)]
pub struct CscClient {
    http: reqwest::Client,
    base: String,
    version: &'static str,
    token: Option<String>,
}

impl CscClient {
    /// A client of `base` over `http`.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_string(), version: "v2", token: None }
    }

    /// A client of the openjpki RSSP at `base`, trusting `tls_ca` (PEM) and
    /// pinning the RSSP's TLS name.
    pub fn rssp(base: &str, tls_ca: &std::path::Path) -> Result<Self, String> {
        Ok(Self::new(svc::client::https_client(tls_ca, "rssp.openjpki.internal", None)?, base))
    }

    /// The same client on `/csc/v1/`.
    pub fn v1(mut self) -> Self {
        self.version = "v1";
        self
    }

    /// The same client sending `token` as its bearer.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The bearer it sends.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// POSTs `body` to `path` (relative to the service); the status and the JSON answer.
    pub async fn post_raw(&self, path: &str, body: &serde_json::Value) -> Result<(u16, serde_json::Value), String> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let answer = request.send().await.map_err(|e| svc::client::with_causes(&e))?;
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
        };
        Ok((status, json))
    }

    /// GETs `path`; the status and the JSON answer.
    pub async fn get_raw(&self, path: &str) -> Result<(u16, serde_json::Value), String> {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let answer = request.send().await.map_err(|e| svc::client::with_causes(&e))?;
        let status = answer.status().as_u16();
        Ok((status, answer.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// A CSC method: `POST /csc/{version}/{method}`.
    pub async fn call<B: Serialize, R: DeserializeOwned>(&self, method: &str, body: &B) -> Result<R, CscError> {
        let body = serde_json::to_value(body).map_err(|e| CscError::invalid_request(e.to_string()))?;
        self.call_path(&format!("/csc/{}/{method}", self.version), &body).await
    }

    /// Any route of the service, with CSC error handling.
    pub async fn call_path<R: DeserializeOwned>(&self, path: &str, body: &serde_json::Value) -> Result<R, CscError> {
        let (status, json) = self.post_raw(path, body).await.map_err(|e| CscError::new(Code::Unavailable, e))?;
        if (200..300).contains(&status) {
            let json = if json.is_null() { serde_json::json!({}) } else { json };
            return serde_json::from_value(json)
                .map_err(|e| CscError::new(Code::ServerError, format!("unexpected answer: {e}")));
        }
        Err(match serde_json::from_value::<ErrorBody>(json) {
            Ok(b) => CscError::new(code_of(&b.error, status), b.error_description),
            Err(_) => CscError::new(code_of("", status), format!("HTTP {status}")),
        })
    }

    /// `auth/login` with HTTP Basic; keeps the token.
    pub async fn login(mut self, user: &str, password: &str) -> Result<Self, CscError> {
        let basic = B64.encode(format!("{user}:{password}"));
        let answer = self
            .http
            .post(format!("{}/csc/{}/auth/login", self.base, self.version))
            .header("authorization", format!("Basic {basic}"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| CscError::new(Code::Unavailable, svc::client::with_causes(&e)))?;
        let status = answer.status().as_u16();
        let json: serde_json::Value = answer.json().await.unwrap_or(serde_json::Value::Null);
        if status != 200 {
            let b: ErrorBody = serde_json::from_value(json)
                .unwrap_or(ErrorBody { error: String::new(), error_description: format!("HTTP {status}") });
            return Err(CscError::new(code_of(&b.error, status), b.error_description));
        }
        let login: LoginResponse =
            serde_json::from_value(json).map_err(|e| CscError::new(Code::ServerError, e.to_string()))?;
        self.token = Some(login.access_token);
        Ok(self)
    }

    /// `credentials/list` with infos.
    pub async fn list(&self) -> Result<ListResponse, CscError> {
        self.call(
            "credentials/list",
            &serde_json::json!({ "credentialInfo": true, "certificates": "chain", "certInfo": true }),
        )
        .await
    }

    /// `credentials/info` with the chain.
    pub async fn info(&self, credential_id: &str) -> Result<CredentialInfo, CscError> {
        self.call(
            "credentials/info",
            &serde_json::json!({ "credentialID": credential_id, "certificates": "chain", "certInfo": true }),
        )
        .await
    }

    /// `credentials/authorize` for `hashes` (SHA-256) with `auth_data`.
    pub async fn authorize(
        &self,
        credential_id: &str,
        hashes: &[Vec<u8>],
        auth_data: Vec<AuthDatum>,
    ) -> Result<SadResponse, CscError> {
        let body = AuthorizeRequest {
            credential_id: credential_id.into(),
            num_signatures: hashes.len() as u32,
            hashes: Some(hashes.iter().map(|h| B64.encode(h)).collect()),
            hash_algorithm_oid: Some(crate::oid::SHA256.into()),
            auth_data: Some(auth_data),
            ..Default::default()
        };
        self.call("credentials/authorize", &body).await
    }

    /// `signatures/signHash` (sha256WithRSAEncryption).
    pub async fn sign_hash(
        &self,
        credential_id: &str,
        sad: &str,
        hashes: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, CscError> {
        let body = SignHashRequest {
            credential_id: credential_id.into(),
            sad: Some(sad.into()),
            hashes: Some(hashes.iter().map(|h| B64.encode(h)).collect()),
            hash_algorithm_oid: Some(crate::oid::SHA256.into()),
            sign_algo: Some(crate::oid::SHA256_WITH_RSA.into()),
            ..Default::default()
        };
        let r: SignHashResponse = self.call("signatures/signHash", &body).await?;
        r.signatures
            .iter()
            .map(|s| B64.decode(s).map_err(|_| CscError::new(Code::ServerError, "a signature is not base64")))
            .collect()
    }
}

/// The code of an error body (or of the status, when the body has none).
fn code_of(error: &str, status: u16) -> Code {
    match (error, status) {
        ("invalid_token", _) => Code::InvalidToken,
        ("expired_token", _) => Code::ExpiredToken,
        ("authentication_error", _) => Code::AuthenticationError,
        ("invalid_authentication_data", _) => Code::InvalidAuthenticationData,
        ("invalid_pin", _) => Code::InvalidPin,
        ("invalid_otp", _) => Code::InvalidOtp,
        ("access_denied", _) => Code::AccessDenied,
        ("invalid_hash", _) => Code::InvalidHash,
        ("invalid_grant", _) => Code::InvalidGrant,
        (_, 401) => Code::InvalidToken,
        (_, 403) => Code::AccessDenied,
        (_, 413) => Code::TooLarge,
        (_, 429) => Code::TooManyRequests,
        (_, 501) => Code::NotImplemented,
        (_, 503) => Code::Unavailable,
        (_, 500) => Code::ServerError,
        _ => Code::InvalidRequest,
    }
}
