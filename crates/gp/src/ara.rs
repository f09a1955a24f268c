//! GlobalPlatform Secure Element Access Control (GPD_SPE_013) data objects
//! as the ARA-M stores and returns them (gp-scp03.md §4.2): REF-AR-DO rules
//! made of a REF-DO (which applet, which app) and an AR-DO (what is allowed).

use apdu::tlv;

/// AID of the ARA-M applet.
pub const ARA_M_AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x41, 0x43, 0x4C, 0x00];

/// A rule's target applet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AidRef {
    /// `4F <aid>`: one applet.
    Specific(Vec<u8>),
    /// `4F 00`: every applet.
    All,
    /// `C0 00`: the default-selected applet.
    Implicit,
}

/// A rule's device application (signing-certificate hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HashRef {
    /// `C1 14|20 <hash>`: SHA-1 or SHA-256 of the app's DER signing certificate.
    Specific(Vec<u8>),
    /// `C1 00`: every app.
    All,
}

/// APDU access (`D0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApduRule {
    /// `00`.
    Never,
    /// `01`.
    Always,
    /// Header/mask pairs: a command passes when `(header & mask) == filter`.
    Filters(Vec<([u8; 4], [u8; 4])>),
}

/// One access rule (`E2` REF-AR-DO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which applet.
    pub aid: AidRef,
    /// Which app.
    pub hash: HashRef,
    /// Android PKG-REF-DO (`CA`), if any.
    pub package: Option<String>,
    /// APDU access; `None` = no APDU-AR-DO (denied).
    pub apdu: Option<ApduRule>,
    /// NFC event access; `None` = follows APDU access.
    pub nfc: Option<bool>,
}

/// A malformed access-control data object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed access rule: {0}")]
pub struct AraError(pub &'static str);

impl Rule {
    /// Encodes `E2 { E1 {4F|C0, C1 [, CA]}, E3 {D0, D1} }`.
    pub fn encode(&self) -> Vec<u8> {
        let aid = match &self.aid {
            AidRef::Specific(a) => tlv::encode(0x4F, a),
            AidRef::All => tlv::encode(0x4F, &[]),
            AidRef::Implicit => tlv::encode(0xC0, &[]),
        };
        let hash = match &self.hash {
            HashRef::Specific(h) => tlv::encode(0xC1, h),
            HashRef::All => tlv::encode(0xC1, &[]),
        };
        let mut ref_do = [aid, hash].concat();
        if let Some(p) = &self.package {
            ref_do.extend_from_slice(&tlv::encode(0xCA, p.as_bytes()));
        }
        let mut ar = Vec::new();
        if let Some(apdu) = &self.apdu {
            let v = match apdu {
                ApduRule::Never => vec![0],
                ApduRule::Always => vec![1],
                ApduRule::Filters(f) => f.iter().flat_map(|(h, m)| h.iter().chain(m).copied()).collect(),
            };
            ar.extend_from_slice(&tlv::encode(0xD0, &v));
        }
        if let Some(nfc) = self.nfc {
            ar.extend_from_slice(&tlv::encode(0xD1, &[u8::from(nfc)]));
        }
        tlv::encode(0xE2, &[tlv::encode(0xE1, &ref_do), tlv::encode(0xE3, &ar)].concat())
    }

    /// Parses one `E2` object's value.
    fn parse_value(value: &[u8]) -> Result<Self, AraError> {
        let mut rule = Rule { aid: AidRef::All, hash: HashRef::All, package: None, apdu: None, nfc: None };
        let (mut have_aid, mut have_hash, mut have_ar) = (false, false, false);
        for part in tlv::Reader::new(value) {
            let part = part.map_err(|_| AraError("TLV"))?;
            match part.tag {
                0xE1 => {
                    for r in part.children() {
                        let r = r.map_err(|_| AraError("REF-DO TLV"))?;
                        match (r.tag, r.value.len()) {
                            (0x4F, 0) => rule.aid = AidRef::All,
                            (0x4F, 5..=16) => rule.aid = AidRef::Specific(r.value.to_vec()),
                            (0xC0, 0) => rule.aid = AidRef::Implicit,
                            (0xC1, 0) => rule.hash = HashRef::All,
                            (0xC1, 20 | 32) => rule.hash = HashRef::Specific(r.value.to_vec()),
                            (0xCA, 1..=128) => {
                                rule.package =
                                    Some(String::from_utf8(r.value.to_vec()).map_err(|_| AraError("package name"))?)
                            }
                            (0x4F | 0xC0, _) => return Err(AraError("AID-REF-DO length")),
                            (0xC1, _) => return Err(AraError("hash length (20 or 32 bytes)")),
                            _ => return Err(AraError("unknown REF-DO member")),
                        }
                        have_aid |= matches!(r.tag, 0x4F | 0xC0);
                        have_hash |= r.tag == 0xC1;
                    }
                }
                0xE3 => {
                    have_ar = true;
                    for r in part.children() {
                        let r = r.map_err(|_| AraError("AR-DO TLV"))?;
                        match (r.tag, r.value) {
                            (0xD0, [0]) => rule.apdu = Some(ApduRule::Never),
                            (0xD0, [1]) => rule.apdu = Some(ApduRule::Always),
                            (0xD0, v) if !v.is_empty() && v.len() % 8 == 0 => {
                                let f = v
                                    .chunks_exact(8)
                                    .map(|c| (c[..4].try_into().expect("4"), c[4..].try_into().expect("4")))
                                    .collect();
                                rule.apdu = Some(ApduRule::Filters(f));
                            }
                            (0xD1, [n]) if *n <= 1 => rule.nfc = Some(*n == 1),
                            (0xD0 | 0xD1, _) => return Err(AraError("access value")),
                            // PERM-AR-DO and future members are kept out of the decision.
                            _ => {}
                        }
                    }
                }
                _ => return Err(AraError("unknown REF-AR-DO member")),
            }
        }
        if !(have_aid && have_hash && have_ar) {
            return Err(AraError("REF-AR-DO needs an AID, a hash and an AR-DO"));
        }
        Ok(rule)
    }

    /// Parses a whole `E2` REF-AR-DO.
    pub fn parse(data: &[u8]) -> Result<Self, AraError> {
        let e2 = tlv::parse_exact(data).map_err(|_| AraError("TLV"))?;
        if e2.tag != 0xE2 {
            return Err(AraError("not a REF-AR-DO (E2)"));
        }
        Self::parse_value(e2.value)
    }

    /// Whether an APDU header passes this rule's APDU access.
    pub fn allows_apdu(&self, header: [u8; 4]) -> bool {
        match &self.apdu {
            Some(ApduRule::Always) => true,
            Some(ApduRule::Filters(f)) => {
                f.iter().any(|(h, m)| header.iter().zip(m).map(|(a, b)| a & b).eq(h.iter().copied()))
            }
            Some(ApduRule::Never) | None => false,
        }
    }
}

/// Parses the `FF40` response to GET DATA ALL into rules.
pub fn parse_all(data: &[u8]) -> Result<Vec<Rule>, AraError> {
    let ff40 = tlv::parse_exact(data).map_err(|_| AraError("FF40 TLV"))?;
    if ff40.tag != 0xFF40 {
        return Err(AraError("not a Response-ALL-REF-AR-DO (FF40)"));
    }
    ff40.children()
        .map(|e2| {
            let e2 = e2.map_err(|_| AraError("E2 TLV"))?;
            if e2.tag != 0xE2 {
                return Err(AraError("FF40 member is not E2"));
            }
            Rule::parse_value(e2.value)
        })
        .collect()
}

/// Encodes rules as the `FF40` response.
pub fn encode_all(rules: &[Rule]) -> Vec<u8> {
    tlv::encode(0xFF40, &rules.iter().flat_map(Rule::encode).collect::<Vec<_>>())
}

/// STORE DATA command data to store a rule: `F0 { E2 … }`.
pub fn store_rule(rule: &Rule) -> Vec<u8> {
    tlv::encode(0xF0, &rule.encode())
}

/// STORE DATA command data to delete rules: `F1 {}` deletes all.
pub fn delete_all_rules() -> Vec<u8> {
    tlv::encode(0xF1, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constructed ALL response of gp-scp03.md §4.2.
    fn example() -> Vec<u8> {
        let mut hex = String::from("FF403E");
        hex += "E228E11E4F06F00102030405C114";
        hex += &"AA".repeat(20);
        hex += "E306D00101D10101";
        hex += "E212E1044F00C100E30AD00880CA0000FFFF0000";
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn sheet_example_parses_and_re_encodes() {
        let rules = parse_all(&example()).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].aid, AidRef::Specific(vec![0xF0, 1, 2, 3, 4, 5]));
        assert_eq!(rules[0].hash, HashRef::Specific(vec![0xAA; 20]));
        assert_eq!((rules[0].apdu.clone(), rules[0].nfc), (Some(ApduRule::Always), Some(true)));
        assert_eq!(rules[1].aid, AidRef::All);
        assert!(rules[1].allows_apdu([0x80, 0xCA, 0x9F, 0x7F]));
        assert!(!rules[1].allows_apdu([0x80, 0xE2, 0x00, 0x00]));
        assert_eq!(encode_all(&rules), example());
        let store = store_rule(&rules[0]);
        assert_eq!(&store[..2], &[0xF0, 0x2A]);
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            vec![0xE2, 0x02, 0xE3, 0x00],                                           // no REF-DO
            vec![0xE2, 0x06, 0xE1, 0x02, 0xC1, 0x00, 0xE3, 0x00],                   // no AID
            vec![0xE2, 0x09, 0xE1, 0x05, 0x4F, 0x00, 0xC1, 0x01, 0x00, 0xE3, 0x00], // bad hash length
            vec![0xE1, 0x00],
        ] {
            assert!(Rule::parse(&bad).is_err(), "{bad:02X?}");
        }
        assert!(parse_all(&[0xFF, 0x40, 0x02, 0xE1, 0x00]).is_err());
    }
}
