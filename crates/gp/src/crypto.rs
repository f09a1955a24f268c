//! The AES primitives of SCP03: key handling, block encryption, CBC without
//! padding, `80 00…` padding, AES-CMAC (NIST SP 800-38B), the SP 800-108
//! counter-mode KDF (Amd D §4.1.5), key check values (Amd D §6.2.8) and the
//! "KDF3" static-key diversification used by GlobalPlatformPro.

use aes::{Aes128, Aes192, Aes256};
use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use zeroize::Zeroizing;

/// An AES key of 16, 24 or 32 bytes; zeroized on drop, printed REDACTED.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey(Zeroizing<Vec<u8>>);

/// A key of a length AES does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AES keys are 16, 24 or 32 bytes, not {0}")]
pub struct KeyLengthError(pub usize);

impl AesKey {
    /// Wraps key bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyLengthError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(Self(Zeroizing::new(bytes.to_vec()))),
            n => Err(KeyLengthError(n)),
        }
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an AES key has 16 to 32 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The key bytes; handle with care.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Key check value: the first 3 bytes of AES-ECB(key, 16 × `01`)
    /// (Amd D §6.2.8).
    pub fn kcv(&self) -> [u8; 3] {
        let out = BlockCipher::new(self).encrypt_block([0x01; 16]);
        [out[0], out[1], out[2]]
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey(AES-{}, REDACTED)", self.len() * 8)
    }
}

/// An expanded AES key for block operations.
#[derive(Clone)]
pub enum BlockCipher {
    /// AES-128.
    A128(Aes128),
    /// AES-192.
    A192(Aes192),
    /// AES-256.
    A256(Aes256),
}

impl BlockCipher {
    /// Expands `key`.
    pub fn new(key: &AesKey) -> Self {
        let k = key.expose();
        match k.len() {
            16 => Self::A128(Aes128::new_from_slice(k).expect("16 bytes")),
            24 => Self::A192(Aes192::new_from_slice(k).expect("24 bytes")),
            _ => Self::A256(Aes256::new_from_slice(k).expect("32 bytes")),
        }
    }

    /// AES-ECB of one block.
    pub fn encrypt_block(&self, block: [u8; 16]) -> [u8; 16] {
        let mut b = block.into();
        match self {
            Self::A128(c) => c.encrypt_block(&mut b),
            Self::A192(c) => c.encrypt_block(&mut b),
            Self::A256(c) => c.encrypt_block(&mut b),
        }
        b.into()
    }

    fn decrypt_block(&self, block: [u8; 16]) -> [u8; 16] {
        let mut b = block.into();
        match self {
            Self::A128(c) => c.decrypt_block(&mut b),
            Self::A192(c) => c.decrypt_block(&mut b),
            Self::A256(c) => c.decrypt_block(&mut b),
        }
        b.into()
    }

    /// AES-CBC encryption of whole blocks (no padding is added).
    pub fn cbc_encrypt(&self, iv: [u8; 16], data: &[u8]) -> Vec<u8> {
        debug_assert!(data.len().is_multiple_of(16));
        let mut out = Vec::with_capacity(data.len());
        let mut prev = iv;
        for chunk in data.chunks_exact(16) {
            let mut block = [0u8; 16];
            for (b, (d, p)) in block.iter_mut().zip(chunk.iter().zip(prev)) {
                *b = d ^ p;
            }
            prev = self.encrypt_block(block);
            out.extend_from_slice(&prev);
        }
        out
    }

    /// AES-CBC decryption; `None` unless the input is whole blocks.
    pub fn cbc_decrypt(&self, iv: [u8; 16], data: &[u8]) -> Option<Vec<u8>> {
        if !data.len().is_multiple_of(16) {
            return None;
        }
        let mut out = Vec::with_capacity(data.len());
        let mut prev = iv;
        for chunk in data.chunks_exact(16) {
            let block: [u8; 16] = chunk.try_into().expect("16 bytes");
            let plain = self.decrypt_block(block);
            out.extend(plain.iter().zip(prev).map(|(a, b)| a ^ b));
            prev = block;
        }
        Some(out)
    }
}

/// A keyed AES-CMAC, cloned for each computation.
#[derive(Clone)]
pub enum CmacKey {
    /// AES-128.
    A128(Cmac<Aes128>),
    /// AES-192.
    A192(Cmac<Aes192>),
    /// AES-256.
    A256(Cmac<Aes256>),
}

impl CmacKey {
    /// Keys a CMAC with `key`.
    pub fn new(key: &AesKey) -> Self {
        let k = key.expose();
        match k.len() {
            16 => Self::A128(<Cmac<Aes128> as KeyInit>::new_from_slice(k).expect("16 bytes")),
            24 => Self::A192(<Cmac<Aes192> as KeyInit>::new_from_slice(k).expect("24 bytes")),
            _ => Self::A256(<Cmac<Aes256> as KeyInit>::new_from_slice(k).expect("32 bytes")),
        }
    }

    /// AES-CMAC over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 16] {
        fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]]) -> [u8; 16] {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            let out = m.finalize().into_bytes();
            let mut r = [0u8; 16];
            r.copy_from_slice(&out);
            r
        }
        match self {
            Self::A128(m) => run(m, parts),
            Self::A192(m) => run(m, parts),
            Self::A256(m) => run(m, parts),
        }
    }
}

/// AES-CMAC of `data` under `key`.
pub fn cmac(key: &AesKey, data: &[u8]) -> [u8; 16] {
    CmacKey::new(key).mac(&[data])
}

/// Appends `80` and then `00`s up to a multiple of 16 (ISO/IEC 9797-1
/// method 2); the padding is always added.
pub fn pad80(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(data);
    out.push(0x80);
    while !out.len().is_multiple_of(16) {
        out.push(0);
    }
    out
}

/// Removes `80 00…` padding; `None` if it is not there.
pub fn unpad80(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().rposition(|b| *b != 0)?;
    (data[end] == 0x80 && data.len() - end <= 16).then(|| &data[..end])
}

/// SCP03 derivation constants (Amd D Table 4-1).
pub mod constant {
    /// Card cryptogram.
    pub const CARD_CRYPTOGRAM: u8 = 0x00;
    /// Host cryptogram.
    pub const HOST_CRYPTOGRAM: u8 = 0x01;
    /// Pseudo-random card challenge.
    pub const CARD_CHALLENGE: u8 = 0x02;
    /// S-ENC.
    pub const S_ENC: u8 = 0x04;
    /// S-MAC.
    pub const S_MAC: u8 = 0x06;
    /// S-RMAC.
    pub const S_RMAC: u8 = 0x07;
}

/// The SP 800-108 counter-mode KDF with AES-CMAC as Amd D §4.1.5 lays it
/// out: `11 × 00 ‖ constant ‖ 00 ‖ L (bits, 2 bytes) ‖ i ‖ context`, one
/// CMAC per 128 bits of output, truncated to `bits`.
pub fn kdf(key: &AesKey, constant: u8, context: &[u8], bits: u16) -> Vec<u8> {
    let mac = CmacKey::new(key);
    let mut prefix = [0u8; 16];
    prefix[11] = constant;
    prefix[13..15].copy_from_slice(&bits.to_be_bytes());
    let len = usize::from(bits / 8);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 1u8;
    while out.len() < len {
        prefix[15] = i;
        out.extend_from_slice(&mac.mac(&[&prefix, context]));
        i += 1;
    }
    out.truncate(len);
    out
}

/// Which static key "KDF3" derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Key-ENC (`01`).
    Enc = 1,
    /// Key-MAC (`02`).
    Mac = 2,
    /// Key-DEK (`03`).
    Dek = 3,
}

/// GlobalPlatformPro's "KDF3" diversification of a master key with the
/// card's 10-byte key diversification data (gp-scp03.md §2.3; vendor
/// practice, not Amd D): `CMAC(master, i ‖ 000000 ‖ keyType ‖ 00 ‖ KDD)`
/// for i = 1, 2 … truncated to the master key's length.
pub fn kdf3(master: &AesKey, key_type: KeyType, kdd: &[u8]) -> AesKey {
    let mac = CmacKey::new(master);
    let derived: Result<AesKey, std::convert::Infallible> =
        kdf3_with(master.len(), key_type, kdd, |block| Ok(mac.mac(&[block])));
    match derived {
        Ok(key) => key,
        Err(never) => match never {},
    }
}

/// [`kdf3`] with the master key's AES-CMAC computed elsewhere — in the HSM
/// that holds the key (`cmac` is CMAC under the master key, whose length is
/// `master_len`).
pub fn kdf3_with<E>(
    master_len: usize,
    key_type: KeyType,
    kdd: &[u8],
    cmac: impl Fn(&[u8]) -> Result<[u8; 16], E>,
) -> Result<AesKey, E> {
    let mut out = Zeroizing::new(Vec::with_capacity(32));
    let mut i = 1u8;
    while out.len() < master_len {
        let block = Zeroizing::new([&[i, 0, 0, 0, key_type as u8, 0][..], kdd].concat());
        out.extend_from_slice(&cmac(&block)?);
        i += 1;
    }
    out.truncate(master_len);
    Ok(AesKey::new(&out).expect("an AES key length, as the master key's"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding() {
        assert_eq!(pad80(&[]), [&[0x80][..], &[0; 15]].concat());
        assert_eq!(pad80(&[1; 16]).len(), 32);
        assert_eq!(unpad80(&pad80(&[1, 2, 0])), Some(&[1, 2, 0][..]));
        assert_eq!(unpad80(&[0; 16]), None);
        assert_eq!(unpad80(&[1; 16]), None);
    }

    #[test]
    fn cbc_round_trip() {
        let k = AesKey::new(&[7; 24]).unwrap();
        let c = BlockCipher::new(&k);
        let data = [3u8; 48];
        let enc = c.cbc_encrypt([9; 16], &data);
        assert_eq!(c.cbc_decrypt([9; 16], &enc).unwrap(), data);
        assert!(c.cbc_decrypt([9; 16], &enc[..47]).is_none());
        assert!(AesKey::new(&[0; 15]).is_err());
        assert_eq!(format!("{k:?}"), "AesKey(AES-192, REDACTED)");
    }

    #[test]
    fn kdf_block_layout_matches_the_worked_example() {
        // gp-scp03.md §1.3: S-ENC block for AES-128 and these challenges.
        let ctx = hex::decode("b13e5f938fc108c43eb51047495b249f").unwrap();
        let key = AesKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap();
        let block = hex::decode("00000000000000000000000400008001b13e5f938fc108c43eb51047495b249f").unwrap();
        assert_eq!(kdf(&key, constant::S_ENC, &ctx, 128), cmac(&key, &block).to_vec());
        // §2.2 derived S-ENC.
        assert_eq!(hex::encode(kdf(&key, constant::S_ENC, &ctx, 128)), "c4e87149f2114da66bb015a567d751f9");
    }
}
