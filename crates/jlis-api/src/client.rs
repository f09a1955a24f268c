//! A client of the JPKI service's HTTPS API, for the municipal office
//! (`jpki card new --jlis`), the SP-TSM (phone certificates over mutual TLS)
//! and operators. Errors keep the service's machine-readable code.

use crate::types::{
    CancelPhoneRequest, Cancelled, CardCertificates, CardRequest, PhoneCertificate, PhoneRequest, RevokeRequest,
    Revoked, SerialRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// What went wrong talking to the service (its machine-readable codes:
/// `replay`, `card_revoked`, `forbidden`, …).
pub type ClientError = svc::client::ServiceError;

/// The HTTPS API of one JPKI service.
#[derive(Debug, Clone)]
pub struct JlisClient {
    base: String,
    /// "the JPKI service at URL", as errors name it.
    service: String,
    http: reqwest::Client,
    operator_token: Option<String>,
}

impl JlisClient {
    /// A client of the service at `base` (`https://host:port`), trusting the
    /// TLS CA in `tls_ca` and pinning the JPKI service's TLS name
    /// ([`svc::tls::Service::Jlis`]); `identity` is the SP-TSM's client
    /// certificate and key (PEM files); `operator_token` authorizes operator
    /// calls.
    pub fn new(
        base: &str,
        tls_ca: &Path,
        identity: Option<(&Path, &Path)>,
        operator_token: Option<String>,
    ) -> Result<Self, ClientError> {
        Self::pinned(base, tls_ca, svc::tls::Service::Jlis.server_name(), identity, operator_token)
    }

    /// [`JlisClient::new`] expecting the TLS server name `server_name`.
    pub fn pinned(
        base: &str,
        tls_ca: &Path,
        server_name: &str,
        identity: Option<(&Path, &Path)>,
        operator_token: Option<String>,
    ) -> Result<Self, ClientError> {
        let http = svc::client::https_client(tls_ca, server_name, identity).map_err(ClientError::Config)?;
        let base = base.trim_end_matches('/').to_string();
        Ok(Self { service: format!("the JPKI service at {base}"), base, http, operator_token })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The pinned HTTPS client (for the OCSP responder behind the same API).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ClientError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = &self.operator_token {
            req = req.bearer_auth(token);
        }
        let v = svc::client::call_json(&self.service, req).await?;
        serde_json::from_value(v).map_err(|e| ClientError::transport(&self.service, e.to_string()))
    }

    async fn get(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.operator_token {
            req = req.bearer_auth(token);
        }
        svc::client::call_json(&self.service, req).await
    }

    /// The municipal office: a new emulated My Number card whose keys are
    /// generated for it and whose certificates this service issues (one
    /// request id per card). Blocks on `runtime`: call it from a thread
    /// that is not running async tasks, with a multi-thread runtime (a
    /// current-thread runtime's handle cannot drive the I/O).
    pub fn new_card(
        &self,
        runtime: &tokio::runtime::Handle,
        holder: &pki::Holder,
        my_number: &str,
        pins: mynacard::personalize::InitialPins,
    ) -> Result<mynacard::CardState, mynacard::personalize::PersonalizeError> {
        let mut id = [0u8; 16];
        pki::fill_random(&mut id);
        let request_id = format!("card-{}", hex::encode(id));
        mynacard::personalize::new_card_issued_by(holder, my_number, pins, |auth, sign| {
            runtime
                .block_on(self.issue_card(&request_id, holder, auth, sign))
                .map_err(|e| mynacard::personalize::PersonalizeError::Issuer(e.to_string()))
        })
    }

    /// `POST /v1/card-certificates` (operator): certificates for a card's
    /// two public keys (DER SubjectPublicKeyInfo).
    pub async fn issue_card(
        &self,
        request_id: &str,
        holder: &pki::Holder,
        auth_key: &[u8],
        sign_key: &[u8],
    ) -> Result<mynacard::personalize::IssuedCertificates, ClientError> {
        let request = CardRequest {
            request_id: request_id.to_string(),
            holder: holder.clone(),
            auth_public_key: auth_key.to_vec(),
            sign_public_key: sign_key.to_vec(),
        };
        let issued: CardCertificates = self.post("/v1/card-certificates", &request).await?;
        Ok(mynacard::personalize::IssuedCertificates {
            auth_cert: issued.auth_certificate,
            auth_ca_cert: issued.auth_ca_certificate,
            sign_cert: issued.sign_certificate,
            sign_ca_cert: issued.sign_ca_certificate,
        })
    }

    /// `POST /v1/phone-certificates` (SP-TSM, mutual TLS).
    pub async fn issue_phone(&self, req: &PhoneRequest) -> Result<PhoneCertificate, ClientError> {
        self.post("/v1/phone-certificates", req).await
    }

    /// `POST /v1/revocations` (operator or SP-TSM): every serial revoked,
    /// or, under dual control, the first operator's recorded approval.
    pub async fn revoke(
        &self,
        request_id: &str,
        serial: &str,
        reason: pki::crl::Reason,
    ) -> Result<Revoked, ClientError> {
        let request = RevokeRequest { request_id: request_id.to_string(), serial: serial.to_string(), reason };
        self.post("/v1/revocations", &request).await
    }

    /// `POST /v1/phone-requests/cancel` (the SP-TSM): revokes what phone
    /// request `request_id` issued, or spends the id if it issued nothing.
    pub async fn cancel_phone_request(&self, request_id: &str) -> Result<Cancelled, ClientError> {
        self.post("/v1/phone-requests/cancel", &CancelPhoneRequest { request_id: request_id.to_string() }).await
    }

    /// `POST /v1/holds` (operator): puts a certificate on hold (一時保留).
    pub async fn hold(&self, request_id: &str, serial: &str) -> Result<serde_json::Value, ClientError> {
        self.post("/v1/holds", &SerialRequest { request_id: request_id.into(), serial: serial.into() }).await
    }

    /// `POST /v1/releases` (operator): releases a hold.
    pub async fn release(&self, request_id: &str, serial: &str) -> Result<serde_json::Value, ClientError> {
        self.post("/v1/releases", &SerialRequest { request_id: request_id.into(), serial: serial.into() }).await
    }

    /// `GET /v1/certificates/{serial}` (operator): the record and its links.
    pub async fn record(&self, serial: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/certificates/{}", url_segment(serial)?)).await
    }

    /// `GET /v1/secure-elements/{se_id}/links` (operator).
    pub async fn links_of_se(&self, se_id: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/secure-elements/{}/links", url_segment(se_id)?)).await
    }
}

/// A serial or SE identifier as a path segment: hex digits only, so nothing
/// in it can change the path.
fn url_segment(id: &str) -> Result<&str, ClientError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ClientError::Config(format!("{id:?} is not hex (serials and SE identifiers are hex)")));
    }
    Ok(id)
}
