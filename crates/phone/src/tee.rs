//! The phone's TEE (docs/device-trust.md): KeyMint with hardware-backed
//! keys and Android key attestation ([`attest::keystore`]), the device's
//! state as the TEE sees it, and the trusted confirmation UI
//! ([`attest::confirm`]). `tee.json` in a phone directory keeps it.

use crate::omapi::App;
use attest::assertion;
use attest::confirm::{self, ConfirmError};
use attest::ec::EcKey;
use attest::keystore::{AppIdentity, DeviceState, Keystore, Platform};
use attest::x509::Authority;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The TEE of one phone. Clones share the app key and its counter.
#[derive(Debug, Clone)]
pub struct Tee {
    keystore: Keystore,
    ueid: Vec<u8>,
    secret: [u8; 32],
    app_key: Arc<Mutex<Option<AppKey>>>,
    kept: Arc<Mutex<BTreeMap<String, ConfirmationKey>>>,
}

/// The app key (App Attest's attested key): the TEE key that signed the
/// last application's evidence, kept for per-request assertions
/// ([`attest::assertion`]) with its counter.
#[derive(Debug, Clone)]
struct AppKey {
    key: EcKey,
    rp_id_hash: [u8; 32],
    counter: u32,
}

/// A confirmation key made in the TEE (`[508]`), with its attestation.
#[derive(Debug, Clone)]
pub struct ConfirmationKey {
    key: EcKey,
    /// Its Android attestation chain, leaf first.
    pub chain: Vec<Vec<u8>>,
}

impl ConfirmationKey {
    /// Its SubjectPublicKeyInfo (DER), what the relying party registers.
    pub fn public_key(&self) -> Vec<u8> {
        self.key.spki()
    }
}

/// What the holder confirmed: the exact message and KeyMint's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// CBOR `{"prompt", "extra"}`.
    pub message: Vec<u8>,
    /// ES256 (ASN.1) by the confirmation key.
    pub signature: Vec<u8>,
}

/// The keystore's view of an app (package, SHA-256 of its signing certificate).
pub fn app_identity(app: &App) -> AppIdentity {
    AppIdentity {
        package: app.name.clone(),
        version: 1,
        signing_digests: vec![pki::HashAlg::Sha256.digest(&app.signing_certificate)],
    }
}

impl Tee {
    /// A TEE in `state`, attesting with `attestation` (certified by `root`).
    pub fn new(state: DeviceState, attestation: Authority, root: Vec<u8>) -> Self {
        let mut ueid = vec![0x01; 17];
        pki::fill_random(&mut ueid[1..]);
        Self {
            keystore: Keystore::new(state, attestation, root),
            ueid,
            secret: confirm::TEST_SECRET,
            app_key: Arc::default(),
            kept: Arc::default(),
        }
    }

    /// The device state it attests.
    pub fn state(&self) -> &DeviceState {
        &self.keystore.state
    }

    /// The device evidence for a verifier's `nonce`: an EAT signed by a key
    /// made now for `app` and attested with `nonce` as challenge. That key
    /// becomes the app key (counter 0) that signs the app's later requests.
    pub fn evidence(
        &self,
        nonce: &[u8],
        app: &App,
        se_identifier: &[u8],
        model: &str,
    ) -> Result<Vec<u8>, attest::Error> {
        let platform = Platform {
            ueid: self.ueid.clone(),
            model: model.into(),
            se_identifier: se_identifier.to_vec(),
            applet: "JPKI applet".into(),
        };
        let identity = app_identity(app);
        let (evidence, key) = self.keystore.evidence_and_key(nonce, &identity, &platform)?;
        let rp_id_hash = assertion::rp_id_hash(&identity);
        *self.app_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(AppKey { key, rp_id_hash, counter: 0 });
        Ok(evidence)
    }

    /// The app's assertion over a request (`method`, `path`, `body`) with
    /// the next counter; none before the app key exists (no application yet).
    pub fn assertion(&self, method: &str, path: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut slot = self.app_key.lock().unwrap_or_else(|e| e.into_inner());
        let app_key = slot.as_mut()?;
        app_key.counter = app_key.counter.checked_add(1)?;
        let request = assertion::client_data_hash(method, path, body);
        Some(assertion::assert(&app_key.key, &app_key.rp_id_hash, app_key.counter, &request))
    }

    /// A confirmation key for `app`, attested with `challenge`.
    pub fn confirmation_key(&self, challenge: &[u8], app: &App) -> Result<ConfirmationKey, attest::Error> {
        let (key, chain) = self.keystore.generate_attested(challenge, &app_identity(app), true)?;
        Ok(ConfirmationKey { key, chain })
    }

    /// A confirmation key for `app` kept under `alias` (a relying party it
    /// is registered with), attested with `challenge`; it replaces the key
    /// kept there before.
    pub fn keep_confirmation_key(
        &self,
        alias: &str,
        challenge: &[u8],
        app: &App,
    ) -> Result<ConfirmationKey, attest::Error> {
        let key = self.confirmation_key(challenge, app)?;
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).insert(alias.into(), key.clone());
        Ok(key)
    }

    /// The confirmation key kept under `alias`.
    pub fn kept_confirmation_key(&self, alias: &str) -> Option<ConfirmationKey> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).get(alias).cloned()
    }

    /// The trusted UI shows `prompt`; `holder` sees the text and confirms or
    /// declines. Only on confirmation does the UI's token let KeyMint sign
    /// `{"prompt", "extra"}` with `key`.
    pub fn confirm(
        &self,
        key: &ConfirmationKey,
        prompt: &str,
        extra: &[u8],
        holder: impl FnOnce(&str) -> bool,
    ) -> Result<Confirmed, ConfirmError> {
        let message = confirm::message(prompt, extra);
        if message.len() > confirm::MAX_MESSAGE {
            return Err(ConfirmError::Malformed("the prompt is too long for the trusted UI".into()));
        }
        if !holder(prompt) {
            return Err(ConfirmError::Declined);
        }
        let token = confirm::token(&self.secret, &message);
        let signature = confirm::sign_confirmed(&key.key, &self.secret, &message, &token)?;
        Ok(Confirmed { message, signature })
    }

    /// KeyMint asked to sign with a confirmation key without the trusted
    /// UI's token (what an app on a compromised OS would try).
    pub fn sign_unconfirmed(&self, key: &ConfirmationKey, message: &[u8]) -> Result<Vec<u8>, ConfirmError> {
        confirm::sign_confirmed(&key.key, &self.secret, message, &[0; 32])
    }
}

/// The JPKI app's requests to the TSMs, signed with the app key.
impl tsm_api::client::Asserter for Tee {
    fn assertion(&self, method: &str, path: &str, body: &[u8]) -> Option<Vec<u8>> {
        Tee::assertion(self, method, path, body)
    }
}

/// `tee.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeeFile {
    /// The device state.
    pub state: DeviceState,
    /// The attestation key's name (its certificate's subject CN).
    pub attestation_name: String,
    /// The attestation key (PKCS#8, base64).
    pub attestation_key: String,
    /// Its certificate (DER, base64).
    pub attestation_certificate: String,
    /// The vendor root (DER, base64).
    pub vendor_root: String,
    /// The device instance id (hex).
    pub ueid: String,
    /// The app key (PKCS#8, base64), once the app has applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    /// Its rpIdHash (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_rp_id_hash: Option<String>,
    /// Its counter: the last assertion's.
    #[serde(default)]
    pub app_counter: u32,
    /// Confirmation keys kept for relying parties, by alias.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub confirmation_keys: BTreeMap<String, KeptKeyFile>,
}

/// A kept confirmation key in `tee.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptKeyFile {
    /// The key (PKCS#8, base64).
    pub key: String,
    /// Its attestation chain (DER, base64), leaf first.
    pub chain: Vec<String>,
}

impl Tee {
    /// As stored.
    pub fn to_file(&self) -> TeeFile {
        let a = self.keystore.attestation();
        let app_key = self.app_key.lock().unwrap_or_else(|e| e.into_inner()).clone();
        TeeFile {
            state: self.keystore.state.clone(),
            attestation_name: a.name().into(),
            attestation_key: STANDARD.encode(a.key().pkcs8()),
            attestation_certificate: STANDARD.encode(&a.certificate),
            vendor_root: STANDARD.encode(self.keystore.root()),
            ueid: hex::encode(&self.ueid),
            app_key: app_key.as_ref().map(|k| STANDARD.encode(k.key.pkcs8())),
            app_rp_id_hash: app_key.as_ref().map(|k| hex::encode(k.rp_id_hash)),
            app_counter: app_key.map_or(0, |k| k.counter),
            confirmation_keys: self
                .kept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(alias, k)| {
                    let chain = k.chain.iter().map(|c| STANDARD.encode(c)).collect();
                    (alias.clone(), KeptKeyFile { key: STANDARD.encode(k.key.pkcs8()), chain })
                })
                .collect(),
        }
    }

    /// From storage.
    pub fn from_file(f: &TeeFile) -> Result<Self, String> {
        let b = |s: &str, what: &str| STANDARD.decode(s).map_err(|_| format!("{what} is not base64"));
        let key = EcKey::from_pkcs8(&b(&f.attestation_key, "attestation_key")?).map_err(|e| e.to_string())?;
        let authority =
            Authority::from_parts(&f.attestation_name, key, b(&f.attestation_certificate, "attestation_certificate")?);
        let app_key = match (&f.app_key, &f.app_rp_id_hash) {
            (Some(k), Some(h)) => {
                let mut rp_id_hash = [0u8; 32];
                hex::decode_to_slice(h, &mut rp_id_hash).map_err(|_| "app_rp_id_hash is not 32 bytes of hex")?;
                let key = EcKey::from_pkcs8(&b(k, "app_key")?).map_err(|e| e.to_string())?;
                Some(AppKey { key, rp_id_hash, counter: f.app_counter })
            }
            (None, None) => None,
            _ => return Err("app_key and app_rp_id_hash go together".into()),
        };
        let mut kept = BTreeMap::new();
        for (alias, k) in &f.confirmation_keys {
            let key = EcKey::from_pkcs8(&b(&k.key, "confirmation_keys")?).map_err(|e| e.to_string())?;
            let chain = k.chain.iter().map(|c| b(c, "confirmation_keys")).collect::<Result<_, _>>()?;
            kept.insert(alias.clone(), ConfirmationKey { key, chain });
        }
        Ok(Self {
            keystore: Keystore::new(f.state.clone(), authority, b(&f.vendor_root, "vendor_root")?),
            ueid: hex::decode(&f.ueid).map_err(|_| "ueid is not hex".to_string())?,
            secret: confirm::TEST_SECRET,
            app_key: Arc::new(Mutex::new(app_key)),
            kept: Arc::new(Mutex::new(kept)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest::keystore::{Preset, Vendor};

    #[test]
    fn a_kept_confirmation_key_survives_tee_json_and_still_confirms() {
        let vendor = Vendor::new("Test Phones").unwrap();
        let tee = Tee::new(
            Preset::Good.state(&vendor.boot_key),
            vendor.attestation_key("T1").unwrap(),
            vendor.root.certificate.clone(),
        );
        let app = App::new("jp.go.jpki.app", b"signing certificate".to_vec());
        let kept = tee.keep_confirmation_key("rssp:test", b"nonce", &app).unwrap();
        assert!(tee.kept_confirmation_key("rssp:other").is_none());
        let json = serde_json::to_string(&tee.to_file()).unwrap();
        let again = Tee::from_file(&serde_json::from_str(&json).unwrap()).unwrap();
        let key = again.kept_confirmation_key("rssp:test").expect("kept");
        assert_eq!((key.public_key(), &key.chain), (kept.public_key(), &kept.chain));
        let confirmed = again.confirm(&key, "sign?", b"challenge", |_| true).unwrap();
        let verified = confirm::verify(&confirmed.message, &confirmed.signature, &kept.public_key(), "sign?", |e| {
            e == b"challenge"
        });
        assert_eq!(verified, Ok(()));
    }
}
