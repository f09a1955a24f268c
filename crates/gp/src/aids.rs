//! GlobalPlatform's own AIDs (GPC 2.3.1 §H.1, Amd C for the ARA-M), the one
//! place every crate takes them from.

/// The issuer security domain.
pub const ISD: &[u8] = &[0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00];
/// The security-domain executable load file (GPPro's naming).
pub const SD_PACKAGE: &[u8] = &[0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50];
/// The security-domain module.
pub const SD_MODULE: &[u8] = &[0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50, 0x41];
/// The access-rule application master (GPD SEAC §3.1).
pub const ARA_M: &[u8] = &crate::ara::ARA_M_AID;
