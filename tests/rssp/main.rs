//! The remote signing service against its threats (JT2A Remote Signature
//! Guideline Part II §2, one test per threat in `threats`), its SAD
//! semantics (`sad`), its life cycle (`lifecycle`), and outside oracles
//! (OpenSSL here; pyHanko and the certomancer-csc-dummy peer in
//! tests/interop/pyhanko.sh). Each test runs a whole deployment (the JPKI
//! service answers the RSSP's OCSP requests) and a card it issued.
#![allow(missing_docs)]

mod bad_input;
mod config_seal;
mod confirm_factor;
mod lab;
mod lifecycle;
mod phone_factor;
mod sad;
mod softhsm;
mod threats;
