//! ECDSA P-256 with SHA-256 (ES256), the algorithm of every attestation key,
//! confirmation key and verifier key here (device-trust.md §10.7: no RSA
//! private keys outside the JPKI keys). aws-lc-rs does the arithmetic in
//! constant time.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

/// An ES256 key pair, kept as PKCS#8.
pub struct EcKey {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey").field("public", &hex::encode(self.public_point())).finish_non_exhaustive()
    }
}

impl Clone for EcKey {
    fn clone(&self) -> Self {
        Self::from_pkcs8(&self.pkcs8).expect("it was valid")
    }
}

impl EcKey {
    /// A fresh P-256 key.
    pub fn generate() -> Self {
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
            .expect("P-256 key generation");
        Self::from_pkcs8(doc.as_ref()).expect("a key just made")
    }

    /// From PKCS#8 DER.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, crate::Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|_| crate::Error::Malformed("not a P-256 PKCS#8 key".into()))?;
        Ok(Self { pkcs8: Zeroizing::new(pkcs8.to_vec()), pair })
    }

    /// From PKCS#8 PEM (`PRIVATE KEY`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, crate::Error> {
        let (label, der) =
            der07::pem::decode_vec(pem.as_bytes()).map_err(|e| crate::Error::Malformed(e.to_string()))?;
        if label != "PRIVATE KEY" {
            return Err(crate::Error::Malformed(format!("a {label} where a PRIVATE KEY belongs")));
        }
        Self::from_pkcs8(&der)
    }

    /// As PKCS#8 PEM (secret).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(der07::pem::encode_string("PRIVATE KEY", der07::pem::LineEnding::LF, &self.pkcs8).expect("PEM"))
    }

    /// Its PKCS#8 DER (secret).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public point, uncompressed (`04 ‖ X ‖ Y`).
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The SubjectPublicKeyInfo (DER).
    pub fn spki(&self) -> Vec<u8> {
        spki_of_point(self.public_point())
    }

    /// An ASN.1 DER signature (X.509, Android's signatures).
    pub fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(&SystemRandom::new(), message).expect("ECDSA signing").as_ref().to_vec()
    }

    /// A fixed-size `r ‖ s` signature (COSE, JWS).
    pub fn sign_fixed(&self, message: &[u8]) -> Vec<u8> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8).expect("it was valid");
        pair.sign(&SystemRandom::new(), message).expect("ECDSA signing").as_ref().to_vec()
    }

    /// As an rcgen signing key (certificates are built with rcgen).
    pub(crate) fn rcgen(&self) -> rcgen::KeyPair {
        rcgen::KeyPair::try_from(&self.pkcs8[..]).expect("a P-256 key")
    }
}

/// `SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 }` around a point.
pub fn spki_of_point(point: &[u8]) -> Vec<u8> {
    // 30 59 30 13 06 07 2a8648ce3d0201 06 08 2a8648ce3d030107 03 42 00 ‖ point(65)
    let mut out = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("constant");
    out.extend_from_slice(point);
    out
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo, or `None`.
pub fn point_of_spki(spki: &[u8]) -> Option<&[u8]> {
    let prefix = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("constant");
    spki.strip_prefix(prefix.as_slice()).filter(|p| p.len() == 65 && p[0] == 4)
}

/// A SubjectPublicKeyInfo as PEM (`PUBLIC KEY`).
pub fn spki_to_pem(spki: &[u8]) -> String {
    der07::pem::encode_string("PUBLIC KEY", der07::pem::LineEnding::LF, spki).expect("PEM")
}

/// A P-256 SubjectPublicKeyInfo from PEM (`PUBLIC KEY`).
pub fn spki_from_pem(pem: &str) -> Result<Vec<u8>, crate::Error> {
    let (label, der) = der07::pem::decode_vec(pem.as_bytes()).map_err(|e| crate::Error::Malformed(e.to_string()))?;
    if label != "PUBLIC KEY" || point_of_spki(&der).is_none() {
        return Err(crate::Error::Malformed("not a P-256 PUBLIC KEY".into()));
    }
    Ok(der)
}

/// Checks an ASN.1 DER ES256 signature under a P-256 SubjectPublicKeyInfo.
pub fn verify_der(spki: &[u8], message: &[u8], signature: &[u8]) -> bool {
    point_of_spki(spki).is_some_and(|p| {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, p).verify(message, signature).is_ok()
    })
}

/// Checks a fixed-size `r ‖ s` ES256 signature under a P-256 SubjectPublicKeyInfo.
pub fn verify_fixed(spki: &[u8], message: &[u8], signature: &[u8]) -> bool {
    point_of_spki(spki).is_some_and(|p| {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).verify(message, signature).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_under_their_key_only() {
        let (k, other) = (EcKey::generate(), EcKey::generate());
        let back = EcKey::from_pkcs8(k.pkcs8()).unwrap();
        assert_eq!(back.spki(), k.spki());
        assert!(verify_der(&k.spki(), b"m", &k.sign_der(b"m")));
        assert!(verify_fixed(&k.spki(), b"m", &k.sign_fixed(b"m")));
        assert!(!verify_der(&other.spki(), b"m", &k.sign_der(b"m")));
        assert!(!verify_fixed(&k.spki(), b"n", &k.sign_fixed(b"m")));
        assert!(!verify_der(b"not a key", b"m", &k.sign_der(b"m")));
        assert!(EcKey::from_pkcs8(b"junk").is_err());
        assert_eq!(EcKey::from_pkcs8_pem(&k.to_pkcs8_pem()).unwrap().spki(), k.spki());
        assert_eq!(spki_from_pem(&spki_to_pem(&k.spki())).unwrap(), k.spki());
        assert!(spki_from_pem(&k.to_pkcs8_pem()).is_err());
    }
}
