//! Android key attestation's `KeyDescription` (OID 1.3.6.1.4.1.11129.2.1.17;
//! device-trust.md §2.2–2.3, AOSP KeyMint v4 `KeyCreationResult.aidl` and
//! `Tag.aidl`): what a TEE (or StrongBox) says about a key it generated,
//! the device it runs on and the app that asked for the key.
//!
//! Every KeyMint v4 tag a list may carry is declared, so a real device's
//! extension parses (a derived SEQUENCE refuses undeclared tags); strict DER.

use der::asn1::{Null, OctetString, SetOfVec};
use der::{Decode, Encode, Enumerated, Sequence};

/// The extension's OID.
pub const OID: &str = "1.3.6.1.4.1.11129.2.1.17";
/// The same, as arcs (for rcgen).
pub const OID_ARCS: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 1, 17];

/// KeyMint 4 writes 400 in both version fields.
pub const KEYMINT_V4: i64 = 400;

/// `SecurityLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enumerated)]
#[repr(u8)]
pub enum SecurityLevel {
    /// Android's software keystore.
    Software = 0,
    /// KeyMint in the TEE.
    TrustedEnvironment = 1,
    /// KeyMint in a discrete secure chip.
    StrongBox = 2,
}

/// `VerifiedBootState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enumerated)]
#[repr(u8)]
pub enum VerifiedBootState {
    /// Booted an image signed by the OEM's key.
    Verified = 0,
    /// Booted an image signed by a user-installed key.
    SelfSigned = 1,
    /// Bootloader unlocked: anything booted.
    Unverified = 2,
    /// Verification failed.
    Failed = 3,
}

/// `RootOfTrust`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct RootOfTrust {
    /// SHA-256 of the key that verified the boot image (32 zero bytes when unlocked).
    pub verified_boot_key: OctetString,
    /// The bootloader is locked.
    pub device_locked: bool,
    /// The boot state.
    pub verified_boot_state: VerifiedBootState,
    /// SHA-256 over the verified-boot images.
    pub verified_boot_hash: OctetString,
}

/// `PackageInfoRecord`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Sequence)]
pub struct PackageInfoRecord {
    /// The package name (UTF-8 bytes).
    pub package_name: OctetString,
    /// Its version code.
    pub version: i64,
}

impl der::DerOrd for PackageInfoRecord {
    fn der_cmp(&self, other: &Self) -> der::Result<std::cmp::Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

/// `AttestationApplicationId` (DER, carried in `[709]` as an OCTET STRING).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct AttestationApplicationId {
    /// The packages sharing the calling UID.
    pub package_infos: SetOfVec<PackageInfoRecord>,
    /// SHA-256 of each signing certificate.
    pub signature_digests: SetOfVec<OctetString>,
}

macro_rules! authorization_list {
    ($( $(#[$doc:meta])* $tag:literal $name:ident : $ty:ty ),* $(,)?) => {
        /// `AuthorizationList`: every member `[n] EXPLICIT … OPTIONAL`.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Sequence)]
        pub struct AuthorizationList {
            $(
                $(#[$doc])*
                #[asn1(context_specific = $tag, tag_mode = "EXPLICIT", optional = "true")]
                pub $name: Option<$ty>,
            )*
        }
    };
}

authorization_list! {
    /// Purposes (SIGN 2, ATTEST_KEY 7, …).
    "1" purpose: SetOfVec<i64>,
    /// Algorithm (RSA 1, EC 3, …).
    "2" algorithm: i64,
    /// Key size in bits.
    "3" key_size: i64,
    /// Digests (SHA-256 = 4).
    "5" digest: SetOfVec<i64>,
    /// Paddings.
    "6" padding: SetOfVec<i64>,
    /// EC curve (P-256 = 1).
    "10" ec_curve: i64,
    /// RSA public exponent.
    "200" rsa_public_exponent: i64,
    /// MGF digests.
    "203" mgf_digest: SetOfVec<i64>,
    /// Rollback resistance.
    "303" rollback_resistance: Null,
    /// Usable only during early boot.
    "305" early_boot_only: Null,
    /// Active from (ms).
    "400" active_date_time: i64,
    /// Origination expiry (ms).
    "401" origination_expire_date_time: i64,
    /// Usage expiry (ms).
    "402" usage_expire_date_time: i64,
    /// Usage count limit.
    "405" usage_count_limit: i64,
    /// No user authentication needed.
    "503" no_auth_required: Null,
    /// User authentication types.
    "504" user_auth_type: i64,
    /// Authentication timeout (s).
    "505" auth_timeout: i64,
    /// Allowed while on body.
    "506" allow_while_on_body: Null,
    /// Trusted user presence required.
    "507" trusted_user_presence_required: Null,
    /// Signing needs the holder's trusted confirmation (§3).
    "508" trusted_confirmation_required: Null,
    /// Usable only while the device is unlocked.
    "509" unlocked_device_required: Null,
    /// Creation time (ms since the epoch; software-enforced).
    "701" creation_date_time: i64,
    /// Origin (GENERATED 0).
    "702" origin: i64,
    /// The root of trust (attestation only).
    "704" root_of_trust: RootOfTrust,
    /// OS version MMmmss.
    "705" os_version: i64,
    /// OS patch level YYYYMM.
    "706" os_patch_level: i64,
    /// DER `AttestationApplicationId` (software-enforced).
    "709" attestation_application_id: OctetString,
    /// ID attestation: brand.
    "710" attestation_id_brand: OctetString,
    /// ID attestation: device.
    "711" attestation_id_device: OctetString,
    /// ID attestation: product.
    "712" attestation_id_product: OctetString,
    /// ID attestation: serial.
    "713" attestation_id_serial: OctetString,
    /// ID attestation: IMEI.
    "714" attestation_id_imei: OctetString,
    /// ID attestation: MEID.
    "715" attestation_id_meid: OctetString,
    /// ID attestation: manufacturer.
    "716" attestation_id_manufacturer: OctetString,
    /// ID attestation: model.
    "717" attestation_id_model: OctetString,
    /// Vendor patch level YYYYMMDD.
    "718" vendor_patch_level: i64,
    /// Boot patch level YYYYMMDD.
    "719" boot_patch_level: i64,
    /// Device-unique attestation (StrongBox).
    "720" device_unique_attestation: Null,
    /// ID attestation: second IMEI.
    "723" attestation_id_second_imei: OctetString,
    /// SHA-256 of the DER `Modules` (v400).
    "724" module_hash: OctetString,
}

/// `KeyDescription`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct KeyDescription {
    /// 400 for KeyMint 4.
    pub attestation_version: i64,
    /// Where the attestation was made.
    pub attestation_security_level: SecurityLevel,
    /// 400 for KeyMint 4.
    pub key_mint_version: i64,
    /// Where the key lives.
    pub key_mint_security_level: SecurityLevel,
    /// The caller's challenge (≤ 128 bytes).
    pub attestation_challenge: OctetString,
    /// Empty unless asked for.
    pub unique_id: OctetString,
    /// What the OS enforces (not TEE-backed).
    pub software_enforced: AuthorizationList,
    /// What the TEE enforces.
    pub hardware_enforced: AuthorizationList,
}

impl KeyDescription {
    /// Strict DER decoding: what does not re-encode to the same bytes (an
    /// unsorted SET OF, which the decoder sorts) is refused too.
    pub fn from_der(der: &[u8]) -> Result<Self, crate::Error> {
        let kd =
            <Self as Decode>::from_der(der).map_err(|e| crate::Error::Malformed(format!("KeyDescription: {e}")))?;
        if kd.to_der() != der {
            return Err(crate::Error::Malformed("KeyDescription: not in DER (an unsorted SET OF?)".into()));
        }
        Ok(kd)
    }

    /// DER.
    pub fn to_der(&self) -> Vec<u8> {
        Encode::to_der(self).expect("a KeyDescription encodes")
    }

    /// The attestation application id, decoded.
    pub fn application_id(&self) -> Option<AttestationApplicationId> {
        let raw = self.software_enforced.attestation_application_id.as_ref()?;
        AttestationApplicationId::from_der(raw.as_bytes()).ok()
    }
}

/// Helpers to build the values.
pub fn octets(b: &[u8]) -> OctetString {
    OctetString::new(b.to_vec()).expect("short enough")
}

/// A SET OF INTEGER.
pub fn int_set(values: &[i64]) -> SetOfVec<i64> {
    SetOfVec::try_from(values.to_vec()).expect("distinct values")
}

/// Key purposes, algorithms, curves, digests, origins (Tag.aidl enums).
pub mod values {
    /// KeyPurpose SIGN.
    pub const PURPOSE_SIGN: i64 = 2;
    /// KeyPurpose ATTEST_KEY.
    pub const PURPOSE_ATTEST_KEY: i64 = 7;
    /// Algorithm EC.
    pub const ALGORITHM_EC: i64 = 3;
    /// EcCurve P-256.
    pub const CURVE_P256: i64 = 1;
    /// Digest SHA-2 256.
    pub const DIGEST_SHA256: i64 = 4;
    /// KeyOrigin GENERATED.
    pub const ORIGIN_GENERATED: i64 = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_tags_encode_as_android_does_and_parse_back() {
        let list = AuthorizationList {
            trusted_confirmation_required: Some(Null),
            os_patch_level: Some(202_611),
            ..Default::default()
        };
        let der = der::Encode::to_der(&list).unwrap();
        // [508] EXPLICIT NULL = bf 83 7c 02 05 00 (device-trust.md §2.6).
        assert!(hex::encode(&der).contains("bf837c020500"), "{}", hex::encode(&der));
        assert_eq!(<AuthorizationList as Decode>::from_der(&der).unwrap(), list);
        let kd = KeyDescription {
            attestation_version: KEYMINT_V4,
            attestation_security_level: SecurityLevel::TrustedEnvironment,
            key_mint_version: KEYMINT_V4,
            key_mint_security_level: SecurityLevel::TrustedEnvironment,
            attestation_challenge: octets(b"nonce"),
            unique_id: octets(b""),
            software_enforced: AuthorizationList::default(),
            hardware_enforced: list,
        };
        assert_eq!(KeyDescription::from_der(&kd.to_der()).unwrap(), kd);
        let mut trailing = kd.to_der();
        trailing.push(0);
        assert!(KeyDescription::from_der(&trailing).is_err());
        // A SET OF purposes in the wrong order: BER, not DER.
        let sorted = KeyDescription {
            hardware_enforced: AuthorizationList { purpose: Some(int_set(&[2, 3])), ..Default::default() },
            ..kd.clone()
        }
        .to_der();
        let at = sorted.windows(6).position(|w| w == [0x31, 0x06, 0x02, 0x01, 0x02, 0x02]).expect("the SET");
        let mut unsorted = sorted.clone();
        unsorted[at + 4] = 3;
        unsorted[at + 7] = 2;
        assert!(KeyDescription::from_der(&unsorted).is_err());
        assert!(KeyDescription::from_der(&sorted).is_ok());
    }
}
