//! SCP03 key sets: the static keys of a security domain and the session keys
//! derived from them (Amd D §4.1.5, §6.2.1).

use crate::crypto::{constant, kdf, kdf3, kdf3_with, AesKey, BlockCipher, CmacKey, KeyLengthError, KeyType};

/// A static key set: Key-ENC, Key-MAC, Key-DEK of one length, and its key
/// version number.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    /// Key version number (`01`–`7F`; `FF` is often the factory set).
    pub kvn: u8,
    /// Key-ENC.
    pub enc: AesKey,
    /// Key-MAC.
    pub mac: AesKey,
    /// Key-DEK.
    pub dek: AesKey,
}

impl StaticKeys {
    /// A key set from three keys of equal length.
    pub fn new(kvn: u8, enc: &[u8], mac: &[u8], dek: &[u8]) -> Result<Self, KeyLengthError> {
        let (enc, mac, dek) = (AesKey::new(enc)?, AesKey::new(mac)?, AesKey::new(dek)?);
        if enc.len() != mac.len() || mac.len() != dek.len() {
            return Err(KeyLengthError(mac.len()));
        }
        Ok(Self { kvn, enc, mac, dek })
    }

    /// The keys "KDF3" derives from `master` for a card's KDD.
    pub fn diversify_kdf3(kvn: u8, master: &AesKey, kdd: &[u8]) -> Self {
        Self {
            kvn,
            enc: kdf3(master, KeyType::Enc, kdd),
            mac: kdf3(master, KeyType::Mac, kdd),
            dek: kdf3(master, KeyType::Dek, kdd),
        }
    }

    /// [`StaticKeys::diversify_kdf3`] with the master key's CMAC computed
    /// where the key is (an HSM): `cmac` is AES-CMAC under a master key of
    /// `master_len` bytes.
    pub fn diversify_kdf3_with<E>(
        kvn: u8,
        master_len: usize,
        kdd: &[u8],
        cmac: impl Fn(&[u8]) -> Result<[u8; 16], E>,
    ) -> Result<Self, E> {
        Ok(Self {
            kvn,
            enc: kdf3_with(master_len, KeyType::Enc, kdd, &cmac)?,
            mac: kdf3_with(master_len, KeyType::Mac, kdd, &cmac)?,
            dek: kdf3_with(master_len, KeyType::Dek, kdd, &cmac)?,
        })
    }

    /// Key length in bytes.
    pub fn key_len(&self) -> usize {
        self.enc.len()
    }

    /// Derives the session keys for a context (host challenge ‖ card
    /// challenge).
    pub fn session_keys(&self, context: &[u8]) -> SessionKeys {
        let bits = (self.key_len() * 8) as u16;
        let key = |k: &AesKey, c| AesKey::new(&kdf(k, c, context, bits)).expect("same length");
        SessionKeys::new(
            key(&self.enc, constant::S_ENC),
            key(&self.mac, constant::S_MAC),
            key(&self.mac, constant::S_RMAC),
        )
    }
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticKeys {{ kvn: {:02X}, AES-{}, REDACTED }}", self.kvn, self.key_len() * 8)
    }
}

/// The session keys of one secure channel, expanded once.
#[derive(Clone)]
pub struct SessionKeys {
    /// S-ENC.
    pub s_enc: AesKey,
    /// S-MAC.
    pub s_mac: AesKey,
    /// S-RMAC.
    pub s_rmac: AesKey,
    pub(crate) enc: BlockCipher,
    pub(crate) mac: CmacKey,
    pub(crate) rmac: CmacKey,
}

impl SessionKeys {
    /// Session keys from their values.
    pub fn new(s_enc: AesKey, s_mac: AesKey, s_rmac: AesKey) -> Self {
        let (enc, mac, rmac) = (BlockCipher::new(&s_enc), CmacKey::new(&s_mac), CmacKey::new(&s_rmac));
        Self { s_enc, s_mac, s_rmac, enc, mac, rmac }
    }
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(REDACTED)")
    }
}
