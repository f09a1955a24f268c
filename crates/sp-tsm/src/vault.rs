//! The SP-TSM's vault, which seals each SE's domain keys with AES-256-GCM before they reach the
//! database (the SE identifier is the associated data, so a sealed key set
//! cannot be moved to another SE's row). The vault key is in a file, or in
//! a PKCS#11 token (label `sp-vault`) that seals and opens without letting
//! it out; the sealed format is the same (nonce ‖ ciphertext ‖ tag).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use gp::{AesKey, StaticKeys};
use zeroize::Zeroizing;

/// Why sealed keys do not open, or the vault cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The vault key is not 32 bytes.
    #[error("the vault key must be 32 bytes")]
    KeyLength,
    /// The sealed bytes are shorter than a nonce, or open to a key set of
    /// another length.
    #[error("sealed keys of SE {0} are malformed")]
    Malformed(String),
    /// Another vault key, another SE's row, or a change to the bytes.
    #[error("the sealed keys of SE {0} do not open (wrong vault key or tampered row)")]
    DoNotOpen(String),
    /// The token holding the vault key failed.
    #[error("the vault key's token: {0}")]
    Token(String),
}

/// The label of the vault key in a token.
pub const TOKEN_LABEL: &str = "sp-vault";

impl From<VaultError> for String {
    fn from(e: VaultError) -> String {
        e.to_string()
    }
}

/// Seals and opens SCP03 key sets at rest.
pub struct Vault {
    key: VaultKey,
}

enum VaultKey {
    Software(LessSafeKey),
    Token(hsm::AesKeyRef),
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

impl Vault {
    /// A vault under a 32-byte key.
    pub fn new(key: &AesKey) -> Result<Self, VaultError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key.expose()).map_err(|_| VaultError::KeyLength)?;
        Ok(Self { key: VaultKey::Software(LessSafeKey::new(unbound)) })
    }

    /// A vault whose key (AES-256) is in a PKCS#11 token.
    pub fn in_token(key: hsm::AesKeyRef) -> Self {
        Self { key: VaultKey::Token(key) }
    }

    /// nonce ‖ AES-256-GCM(kvn ‖ enc ‖ mac ‖ dek), bound to `se_id`.
    pub fn seal(&self, se_id: &str, keys: &StaticKeys) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        pki::fill_random(&mut nonce);
        let mut data =
            Zeroizing::new([&[keys.kvn][..], keys.enc.expose(), keys.mac.expose(), keys.dek.expose()].concat());
        match &self.key {
            VaultKey::Software(key) => {
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(se_id.as_bytes()),
                    &mut *data,
                )
                .map_err(|_| VaultError::Token("AES-GCM sealing failed".into()))?;
                Ok([&nonce[..], &data[..]].concat())
            }
            VaultKey::Token(key) => {
                let sealed =
                    key.gcm_seal(&nonce, se_id.as_bytes(), &data).map_err(|e| VaultError::Token(e.to_string()))?;
                Ok([&nonce[..], &sealed[..]].concat())
            }
        }
    }

    /// The key set sealed for `se_id`; fails on any other SE or any change.
    pub fn open(&self, se_id: &str, sealed: &[u8]) -> Result<StaticKeys, VaultError> {
        let malformed = || VaultError::Malformed(se_id.to_string());
        if sealed.len() < NONCE_LEN {
            return Err(malformed());
        }
        let mut data = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
        let opened;
        let plain: &[u8] = match &self.key {
            VaultKey::Software(key) => {
                let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| malformed())?;
                key.open_in_place(nonce, Aad::from(se_id.as_bytes()), &mut data[..])
                    .map_err(|_| VaultError::DoNotOpen(se_id.to_string()))?
            }
            VaultKey::Token(key) => {
                let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().map_err(|_| malformed())?;
                opened = Zeroizing::new(
                    key.gcm_open(&nonce, se_id.as_bytes(), &data)
                        .map_err(|e| VaultError::Token(e.to_string()))?
                        .ok_or_else(|| VaultError::DoNotOpen(se_id.to_string()))?,
                );
                &opened[..]
            }
        };
        let n = plain.len().saturating_sub(1) / 3;
        if plain.len() != 1 + 3 * n || ![16, 24, 32].contains(&n) {
            return Err(malformed());
        }
        StaticKeys::new(plain[0], &plain[1..1 + n], &plain[1 + n..1 + 2 * n], &plain[1 + 2 * n..])
            .map_err(|_| malformed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsm::keys::key_file;

    #[test]
    fn sealed_keys_open_only_for_their_se_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::new(&key_file(&dir.path().join("vault.key"), true).unwrap()).unwrap();
        let keys = StaticKeys::new(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();
        let sealed = vault.seal("AA", &keys).unwrap();
        let back = vault.open("AA", &sealed).unwrap();
        assert_eq!((back.kvn, back.enc.expose(), back.dek.expose()), (0x30, &[1u8; 16][..], &[3u8; 16][..]));
        assert!(vault.open("BB", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(vault.open("AA", &tampered).is_err());
        assert!(!format!("{vault:?}").contains("01"));
        let other = Vault::new(&key_file(&dir.path().join("other.key"), true).unwrap()).unwrap();
        assert!(other.open("AA", &sealed).is_err());
        std::fs::write(dir.path().join("bad.key"), "zz\n").unwrap();
        assert!(key_file(&dir.path().join("bad.key"), false).unwrap_err().contains("hex"));
    }

    /// The vault key in a PKCS#11 token (SoftHSM2) seals in the same format:
    /// what the token sealed opens with the same key in software and the
    /// other way round, and the token refuses another SE's row or a change.
    #[test]
    fn a_vault_key_in_a_token_seals_the_same_format() {
        let dir = tempfile::tempdir().unwrap();
        let (config, conf) = hsm::softhsm::init_token(dir.path(), "sp-tsm", "4321").unwrap();
        std::env::set_var("SOFTHSM2_CONF", conf);
        let value = [0x5Au8; 32];
        let token = hsm::Token::open(&config).unwrap();
        let in_token = Vault::in_token(token.import_aes(TOKEN_LABEL, &value).unwrap());
        let software = Vault::new(&AesKey::new(&value).unwrap()).unwrap();
        let keys = StaticKeys::new(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();

        let sealed = in_token.seal("AA", &keys).unwrap();
        assert_eq!(software.open("AA", &sealed).unwrap().mac.expose(), &[2u8; 16][..]);
        let sealed = software.seal("AA", &keys).unwrap();
        assert_eq!(in_token.open("AA", &sealed).unwrap().dek.expose(), &[3u8; 16][..]);
        assert!(matches!(in_token.open("BB", &sealed), Err(VaultError::DoNotOpen(_))));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(matches!(in_token.open("AA", &tampered), Err(VaultError::DoNotOpen(_))));
    }
}
