//! The SP-TSM's vault, which seals each SE's domain keys with AES-256-GCM before they reach the
//! database (the SE identifier is the associated data, so a sealed key set
//! cannot be moved to another SE's row).

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
}

impl From<VaultError> for String {
    fn from(e: VaultError) -> String {
        e.to_string()
    }
}

/// Seals and opens SCP03 key sets at rest.
pub struct Vault {
    key: LessSafeKey,
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
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// nonce ‖ AES-256-GCM(kvn ‖ enc ‖ mac ‖ dek), bound to `se_id`.
    pub fn seal(&self, se_id: &str, keys: &StaticKeys) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        pki::fill_random(&mut nonce);
        let mut data =
            Zeroizing::new([&[keys.kvn][..], keys.enc.expose(), keys.mac.expose(), keys.dek.expose()].concat());
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(se_id.as_bytes()), &mut *data)
            .expect("AES-GCM sealing of a short buffer");
        [&nonce[..], &data[..]].concat()
    }

    /// The key set sealed for `se_id`; fails on any other SE or any change.
    pub fn open(&self, se_id: &str, sealed: &[u8]) -> Result<StaticKeys, VaultError> {
        let malformed = || VaultError::Malformed(se_id.to_string());
        if sealed.len() < NONCE_LEN {
            return Err(malformed());
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| malformed())?;
        let mut data = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(se_id.as_bytes()), &mut data[..])
            .map_err(|_| VaultError::DoNotOpen(se_id.to_string()))?;
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
        let sealed = vault.seal("AA", &keys);
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
}
