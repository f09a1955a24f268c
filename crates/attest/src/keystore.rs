//! A KeyMint model (the TEE side of Android key attestation, device-trust.md
//! §2): keys generated inside, each attested by the device's attestation
//! key, which its vendor certified, with the device's state in the
//! KeyDescription. The emulated phone (`crates/phone`) keeps one.

use crate::android::{self, values, AttestationApplicationId, AuthorizationList, KeyDescription, PackageInfoRecord};
use crate::android::{RootOfTrust, SecurityLevel, VerifiedBootState};
use crate::ec::EcKey;
use crate::x509::{Authority, CertSpec, SubjectKey};
use der::asn1::{Null, SetOfVec};
use der::Encode;
use serde::{Deserialize, Serialize};

/// What the TEE knows of the device it runs in (a verifier reads it from
/// the RootOfTrust and patch levels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// The bootloader is locked.
    pub locked: bool,
    /// 0 Verified, 1 SelfSigned, 2 Unverified, 3 Failed.
    pub verified_boot_state: u8,
    /// SHA-256 of the key that verified boot (hex; zeros when unlocked).
    pub verified_boot_key: String,
    /// OS version MMmmss.
    pub os_version: i64,
    /// OS patch level YYYYMM.
    pub os_patch_level: i64,
    /// Vendor patch level YYYYMMDD.
    pub vendor_patch_level: i64,
    /// Boot patch level YYYYMMDD.
    pub boot_patch_level: i64,
    /// 1 TEE, 2 StrongBox (0 would be a software keystore).
    pub security_level: u8,
}

/// Device states to demonstrate with (`jpki phone new --state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Locked, verified boot with the vendor's key, current patches.
    Good,
    /// Bootloader unlocked (anything boots).
    Unlocked,
    /// Relocked on an OS image signed by the user's own key (rooted / custom ROM).
    Rooted,
    /// Patches from 2022.
    OldPatch,
    /// A software keystore (no TEE).
    Software,
}

impl Preset {
    /// By name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "good" => Preset::Good,
            "unlocked" => Preset::Unlocked,
            "rooted" => Preset::Rooted,
            "old-patch" => Preset::OldPatch,
            "software" => Preset::Software,
            _ => return None,
        })
    }

    /// The state it stands for, with `vendor_boot_key` the vendor's (hex).
    pub fn state(self, vendor_boot_key: &str) -> DeviceState {
        let good = DeviceState {
            locked: true,
            verified_boot_state: 0,
            verified_boot_key: vendor_boot_key.into(),
            os_version: 150000,
            os_patch_level: 202611,
            vendor_patch_level: 20261101,
            boot_patch_level: 20261101,
            security_level: 1,
        };
        match self {
            Preset::Good => good,
            Preset::Unlocked => {
                DeviceState { locked: false, verified_boot_state: 2, verified_boot_key: "00".repeat(32), ..good }
            }
            Preset::Rooted => DeviceState {
                verified_boot_state: 1,
                verified_boot_key: hex::encode(pki::HashAlg::Sha256.digest(b"a user's own boot signing key")),
                ..good
            },
            Preset::OldPatch => {
                DeviceState { os_patch_level: 202203, vendor_patch_level: 20220301, boot_patch_level: 20220301, ..good }
            }
            Preset::Software => DeviceState { security_level: 0, ..good },
        }
    }
}

/// The app asking for a key, as keystore2 names it (package, version,
/// SHA-256 of its signing certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdentity {
    /// Package name.
    pub package: String,
    /// Version code.
    pub version: i64,
    /// SHA-256 of each signing certificate.
    pub signing_digests: Vec<Vec<u8>>,
}

/// A device vendor: its attestation root, and the batch attestation keys it
/// certifies for its phones.
#[derive(Debug, Clone)]
pub struct Vendor {
    /// The root (verifiers pin it).
    pub root: Authority,
    /// SHA-256 of the key its OS images are signed with (hex).
    pub boot_key: String,
}

impl Vendor {
    /// A new vendor named `name`.
    pub fn new(name: &str) -> Result<Self, crate::Error> {
        let root = Authority::new_root(&format!("{name} Attestation Root"), 30)?;
        let boot_key = hex::encode(pki::HashAlg::Sha256.digest(format!("{name} OS signing key").as_bytes()));
        Ok(Self { root, boot_key })
    }

    /// A batch attestation key for a phone model.
    pub fn attestation_key(&self, model: &str) -> Result<Authority, crate::Error> {
        self.root.subordinate(
            &format!("{} {model} Attestation", self.root.name().trim_end_matches(" Attestation Root")),
            20,
            None,
        )
    }
}

/// The TEE's keystore.
#[derive(Debug, Clone)]
pub struct Keystore {
    /// The device's state as the TEE sees it.
    pub state: DeviceState,
    attestation: Authority,
    root: Vec<u8>,
}

impl Keystore {
    /// A keystore attesting with `attestation` (certified by `root`).
    pub fn new(state: DeviceState, attestation: Authority, root: Vec<u8>) -> Self {
        Self { state, attestation, root }
    }

    /// The attestation key (for persisting).
    pub fn attestation(&self) -> &Authority {
        &self.attestation
    }

    /// The vendor root (DER).
    pub fn root(&self) -> &[u8] {
        &self.root
    }

    fn description(&self, challenge: &[u8], app: &AppIdentity, confirmation: bool) -> KeyDescription {
        let s = &self.state;
        let level = match s.security_level {
            2 => SecurityLevel::StrongBox,
            1 => SecurityLevel::TrustedEnvironment,
            _ => SecurityLevel::Software,
        };
        let boot_state = match s.verified_boot_state {
            0 => VerifiedBootState::Verified,
            1 => VerifiedBootState::SelfSigned,
            2 => VerifiedBootState::Unverified,
            _ => VerifiedBootState::Failed,
        };
        let app_id = AttestationApplicationId {
            package_infos: SetOfVec::try_from(vec![PackageInfoRecord {
                package_name: android::octets(app.package.as_bytes()),
                version: app.version,
            }])
            .expect("one"),
            signature_digests: SetOfVec::try_from(
                app.signing_digests.iter().map(|d| android::octets(d)).collect::<Vec<_>>(),
            )
            .expect("distinct digests"),
        };
        let hardware = AuthorizationList {
            purpose: Some(android::int_set(&[values::PURPOSE_SIGN])),
            algorithm: Some(values::ALGORITHM_EC),
            key_size: Some(256),
            digest: Some(android::int_set(&[values::DIGEST_SHA256])),
            ec_curve: Some(values::CURVE_P256),
            no_auth_required: Some(Null),
            trusted_confirmation_required: confirmation.then_some(Null),
            origin: Some(values::ORIGIN_GENERATED),
            root_of_trust: Some(RootOfTrust {
                verified_boot_key: android::octets(&hex::decode(&s.verified_boot_key).unwrap_or_default()),
                device_locked: s.locked,
                verified_boot_state: boot_state,
                verified_boot_hash: android::octets(&pki::HashAlg::Sha256.digest(s.verified_boot_key.as_bytes())),
            }),
            os_version: Some(s.os_version),
            os_patch_level: Some(s.os_patch_level),
            vendor_patch_level: Some(s.vendor_patch_level),
            boot_patch_level: Some(s.boot_patch_level),
            ..Default::default()
        };
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let software = AuthorizationList {
            creation_date_time: Some(now_ms as i64),
            attestation_application_id: Some(android::octets(&app_id.to_der().expect("encodes"))),
            ..Default::default()
        };
        KeyDescription {
            attestation_version: android::KEYMINT_V4,
            attestation_security_level: level,
            key_mint_version: android::KEYMINT_V4,
            key_mint_security_level: level,
            attestation_challenge: android::octets(challenge),
            unique_id: android::octets(b""),
            software_enforced: software,
            hardware_enforced: hardware,
        }
    }

    /// Generates a P-256 signing key for `app` and attests it with
    /// `challenge` (≤ 128 bytes); `confirmation` makes it a confirmation key
    /// (`[508]`, §3). Returns the key and its chain, leaf first, root last.
    pub fn generate_attested(
        &self,
        challenge: &[u8],
        app: &AppIdentity,
        confirmation: bool,
    ) -> Result<(EcKey, Vec<Vec<u8>>), crate::Error> {
        if challenge.len() > 128 {
            return Err(crate::Error::Malformed("INVALID_INPUT_LENGTH: the challenge exceeds 128 bytes".into()));
        }
        let key = EcKey::generate();
        let mut spec = CertSpec::new("Android Keystore Key", 10, false);
        spec.serial = vec![1];
        spec.extensions.push((android::OID_ARCS.to_vec(), self.description(challenge, app, confirmation).to_der()));
        let leaf = self.attestation.issue(&spec, SubjectKey::Ec(&key))?;
        Ok((key, vec![leaf, self.attestation.certificate.clone(), self.root.clone()]))
    }
}

/// What the phone says about itself besides the TEE's attestation.
#[derive(Debug, Clone)]
pub struct Platform {
    /// The device instance id (UEID: `01` ‖ 16 random bytes).
    pub ueid: Vec<u8>,
    /// The model.
    pub model: String,
    /// The SE identifier the app read.
    pub se_identifier: Vec<u8>,
    /// The applet's name.
    pub applet: String,
}

impl Keystore {
    /// The phone's evidence for the verifier's `nonce`: a fresh TEE key
    /// attested with the nonce as challenge signs an EAT with the platform's
    /// claims (device-trust.md §10.1).
    pub fn evidence(&self, nonce: &[u8], app: &AppIdentity, platform: &Platform) -> Result<Vec<u8>, crate::Error> {
        self.evidence_and_key(nonce, app, platform).map(|(evidence, _)| evidence)
    }

    /// [`Keystore::evidence`] and the key that signed it: the app key the
    /// app keeps for its per-request assertions ([`crate::assertion`]).
    pub fn evidence_and_key(
        &self,
        nonce: &[u8],
        app: &AppIdentity,
        platform: &Platform,
    ) -> Result<(Vec<u8>, EcKey), crate::Error> {
        let (key, chain) = self.generate_attested(nonce, app, false)?;
        let verified = self.state.locked && self.state.verified_boot_state == 0;
        let claims = crate::eat::PhoneClaims {
            nonce: nonce.to_vec(),
            issued_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            ueid: platform.ueid.clone(),
            hwmodel: platform.model.clone(),
            dbgstat: if verified { 1 } else { 0 },
            se_identifier: platform.se_identifier.clone(),
            applet: platform.applet.clone(),
            app_package: app.package.clone(),
            app_signing_digests: app.signing_digests.clone(),
        };
        Ok((crate::eat::sign(&claims, &chain, &key), key))
    }
}
