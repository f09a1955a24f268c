//! Attestation results as EAR (draft-ietf-rats-ear-04 §3; AR4SI tiers and
//! trustworthiness claims, device-trust.md §4.3–4.4) in a JWT signed ES256
//! by the verifier. Never the dotted names of -02.

use crate::ec::{self, EcKey};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The EAR profile pinned here.
pub const PROFILE: &str = "tag:ietf.org,2026:rats/ear#04";

/// An AR4SI tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No claim.
    None,
    /// Trustworthy.
    Affirming,
    /// Trustworthy with a caveat.
    Warning,
    /// Not trustworthy.
    Contraindicated,
}

impl Status {
    /// The tier of an AR4SI value (affirming 2–31, warning 32–95,
    /// contraindicated 96–127; 0 no claim; others are treated as the worst).
    pub fn of(value: i8) -> Status {
        match value {
            0 => Status::None,
            2..=31 => Status::Affirming,
            32..=95 => Status::Warning,
            _ => Status::Contraindicated,
        }
    }
}

/// The trustworthiness vector (AR4SI claims; absent = no claim).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Vector {
    /// Is this the attester it says it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_identity: Option<i8>,
    /// Configuration (patch levels, boot state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<i8>,
    /// The code that runs (app, OS image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executables: Option<i8>,
    /// Genuine hardware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<i8>,
    /// Runtime isolated (TEE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_opaque: Option<i8>,
    /// Keys never leave the secure hardware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_opaque: Option<i8>,
}

impl Vector {
    fn values(&self) -> impl Iterator<Item = i8> + '_ {
        [
            self.instance_identity,
            self.configuration,
            self.executables,
            self.hardware,
            self.runtime_opaque,
            self.storage_opaque,
        ]
        .into_iter()
        .flatten()
    }

    /// The worst tier among the claims.
    pub fn status(&self) -> Status {
        self.values().map(Status::of).max().unwrap_or(Status::None)
    }
}

/// One submodule's appraisal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appraisal {
    /// The tier.
    pub ear_status: Status,
    /// The claims.
    pub ear_trustworthiness_vector: Vector,
    /// The policies applied, in order.
    pub ear_appraisal_policy_ids: Vec<String>,
    /// Why, in codes (private claim; consumers ignore unknown claims).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openjpki_reasons: Vec<String>,
}

/// The verifier's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierId {
    /// Who built it.
    pub developer: String,
    /// Which build.
    pub build: String,
}

/// An EAR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ear {
    /// [`PROFILE`].
    pub eat_profile: String,
    /// Issued at.
    pub iat: i64,
    /// Expires.
    pub exp: i64,
    /// The verifier.
    pub ear_verifier_id: VerifierId,
    /// The evidence's nonce (base64url, unpadded).
    pub eat_nonce: String,
    /// The overall tier, no better than the worst submodule.
    pub ear_status: Status,
    /// Per submodule: "tee", "app", "se".
    pub submods: BTreeMap<String, Appraisal>,
    /// The SE the evidence names (hex; private claim).
    pub openjpki_se_identifier: String,
}

impl Ear {
    /// An EAR affirming "tee", "app" and "se" for `nonce` and SE
    /// `se_identifier`, valid `lifetime_secs` from `now` (seconds): what
    /// harnesses and attack tests that play the verifier sign.
    pub fn affirming(nonce: &[u8], se_identifier: &[u8], now: i64, lifetime_secs: i64, build: &str) -> Self {
        let sub = Appraisal {
            ear_status: Status::Affirming,
            ear_trustworthiness_vector: Vector { instance_identity: Some(2), hardware: Some(2), ..Default::default() },
            ear_appraisal_policy_ids: vec![build.into()],
            openjpki_reasons: vec![],
        };
        Ear {
            eat_profile: PROFILE.into(),
            iat: now,
            exp: now + lifetime_secs,
            ear_verifier_id: VerifierId { developer: "openjpki".into(), build: build.into() },
            eat_nonce: encode_nonce(nonce),
            ear_status: Status::Affirming,
            submods: ["tee", "app", "se"].into_iter().map(|n| (n.to_string(), sub.clone())).collect(),
            openjpki_se_identifier: hex::encode_upper(se_identifier),
        }
    }

    /// The nonce, decoded.
    pub fn nonce(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.eat_nonce).ok()
    }
}

/// Encodes a nonce for `eat_nonce`.
pub fn encode_nonce(nonce: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce)
}

/// Signs `ear` as a JWT (ES256).
pub fn sign(ear: &Ear, key: &EcKey) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    jsonwebtoken::encode(&header, ear, &jsonwebtoken::EncodingKey::from_ec_der(key.pkcs8())).expect("ES256 signing")
}

/// Why a result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EarError {
    /// Not a JWT signed by the pinned verifier, or expired.
    #[error("the attestation result is not valid: {0}")]
    Invalid(String),
    /// Another profile.
    #[error("the attestation result has profile {0:?}, not {PROFILE}")]
    Profile(String),
}

/// Checks a JWT EAR's signature under the verifier's key `verifier_spki`,
/// its expiry at `now` (seconds) and its profile.
pub fn verify(token: &str, verifier_spki: &[u8], now: i64) -> Result<Ear, EarError> {
    let point = ec::point_of_spki(verifier_spki).ok_or_else(|| EarError::Invalid("bad verifier key".into()))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_required_spec_claims(&["exp", "iat"]);
    validation.leeway = 0;
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Ear>(token, &jsonwebtoken::DecodingKey::from_ec_der(point), &validation)
        .map_err(|e| EarError::Invalid(e.to_string()))?;
    let ear = data.claims;
    if ear.exp <= now || ear.iat > now + 60 {
        return Err(EarError::Invalid("expired or not yet valid".into()));
    }
    if ear.eat_profile != PROFILE {
        return Err(EarError::Profile(ear.eat_profile));
    }
    Ok(ear)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(now: i64) -> Ear {
        let tee = Appraisal {
            ear_status: Status::Affirming,
            ear_trustworthiness_vector: Vector { hardware: Some(2), configuration: Some(2), ..Default::default() },
            ear_appraisal_policy_ids: vec!["p".into()],
            openjpki_reasons: vec![],
        };
        Ear {
            eat_profile: PROFILE.into(),
            iat: now,
            exp: now + 300,
            ear_verifier_id: VerifierId { developer: "openjpki".into(), build: "test".into() },
            eat_nonce: encode_nonce(&[1; 32]),
            ear_status: Status::Affirming,
            submods: [("tee".to_string(), tee)].into(),
            openjpki_se_identifier: "01".into(),
        }
    }

    #[test]
    fn results_verify_under_the_pinned_verifier_only() {
        let (key, other) = (EcKey::generate(), EcKey::generate());
        let now = 1_800_000_000;
        let token = sign(&sample(now), &key);
        assert_eq!(verify(&token, &key.spki(), now).unwrap(), sample(now));
        assert!(matches!(verify(&token, &other.spki(), now), Err(EarError::Invalid(_))));
        assert!(matches!(verify(&token, &key.spki(), now + 300), Err(EarError::Invalid(_))));
        let mut old = sample(now);
        old.eat_profile = "tag:ietf.org,2023:rats/ear#02".into();
        assert!(matches!(verify(&sign(&old, &key), &key.spki(), now), Err(EarError::Profile(_))));
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Ear { ear_status: Status::Affirming, exp: now + 9999, ..sample(now) }).unwrap(),
        );
        assert!(matches!(verify(&parts.join("."), &key.spki(), now), Err(EarError::Invalid(_))));
        assert_eq!(Status::of(2), Status::Affirming);
        assert_eq!(Status::of(33), Status::Warning);
        assert_eq!(Status::of(96), Status::Contraindicated);
        assert_eq!(Status::of(-1), Status::Contraindicated);
    }
}
