//! `libjpki_pkcs11.so`: openjpki's PKCS#11 module for JPKI tokens — the My
//! Number card in a PC/SC reader, and the phone's JPKI applet over NFC
//! (`JPKIAPGPSETOKEN`), whose authentication certificate behind its PIN
//! OpenSC cannot show.
//!
//! This crate is only the C boundary (the one place `unsafe` is allowed,
//! DESIGN.md): it checks pointers, turns C arrays into slices and
//! `pkcs11_core::Module` answers into `CK_RV`s. Every export runs inside
//! `catch_unwind`, so a bug answers `CKR_GENERAL_ERROR` instead of taking
//! the host (Firefox, ssh-agent) down. One lock guards the module
//! (`CKF_OS_LOCKING_OK`; supplied mutex callbacks are not used); no thread
//! is started; a forked child must call `C_Initialize` again.
//!
//! Interfaces: `C_GetFunctionList` (v2.40) and `C_GetInterfaceList` /
//! `C_GetInterface` ("PKCS 11" v3.0 and v2.40). Usage and decisions:
//! docs/pkcs11.md.

pub mod exports;
mod ffi;
pub mod lists;
