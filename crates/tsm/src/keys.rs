//! Key files the TSMs hold (hex, 0600): the SEI-TSM's ISD master key, the
//! SP-TSM's vault key.

use gp::AesKey;
use std::path::Path;
use zeroize::Zeroizing;

/// Reads an AES key written as hex on the first line of `path`; with
/// `create`, writes a random 32-byte key first when the file is missing.
pub fn key_file(path: &Path, create: bool) -> Result<AesKey, String> {
    if create && !path.exists() {
        let mut key = Zeroizing::new([0u8; 32]);
        pki::fill_random(&mut key[..]);
        let text = Zeroizing::new(format!("{}\n", hex::encode(&key[..])));
        pki::fs::write_atomically(path, text.as_bytes()).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("reading key {}: {e}", path.display()))?);
    let line = text.lines().next().unwrap_or("").trim();
    let bytes = Zeroizing::new(
        hex::decode(line).map_err(|_| format!("{}: the first line must be the key in hex", path.display()))?,
    );
    AesKey::new(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
