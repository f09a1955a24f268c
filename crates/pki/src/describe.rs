//! A readable summary of a JPKI certificate, for people and for `--json`.

use crate::cert::find_extension;
use crate::profile::san;
use der::asn1::Utf8StringRef;
use der::Encode;
use serde::Serialize;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{CertificatePolicies, KeyUsage, SubjectAltName};
use x509_cert::Certificate;

/// What a certificate says.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Subject, RFC 4514.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
    /// RSA modulus size.
    pub key_bits: usize,
    /// keyUsage bits.
    pub key_usage: Vec<String>,
    /// certificatePolicies OIDs.
    pub policies: Vec<String>,
    /// SHA-256 of the DER.
    pub sha256_fingerprint: String,
    /// The basic four attributes of a signature certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<HolderAttributes>,
}

/// The subjectAltName otherNames under 1.2.392.200149.8.5.5.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HolderAttributes {
    /// 氏名.
    pub name: String,
    /// 生年月日 `EYYYYMMDD`.
    pub birth: String,
    /// 性別.
    pub sex: String,
    /// 住所.
    pub address: String,
}

/// Reads the holder attributes from a signature certificate.
pub fn holder_attributes(cert: &Certificate) -> Option<HolderAttributes> {
    let (_, SubjectAltName(names)) = find_extension::<SubjectAltName>(cert).ok()??;
    let mut out = HolderAttributes::default();
    let mut found = false;
    for n in names {
        let GeneralName::OtherName(o) = n else { continue };
        let Ok(v) = o.value.decode_as::<Utf8StringRef<'_>>() else { continue };
        let slot = match o.type_id {
            san::NAME => &mut out.name,
            san::BIRTH => &mut out.birth,
            san::SEX => &mut out.sex,
            san::ADDRESS => &mut out.address,
            _ => continue,
        };
        *slot = v.as_str().to_string();
        found = true;
    }
    found.then_some(out)
}

/// Summarizes a certificate.
pub fn summarize(cert: &Certificate) -> Summary {
    let tbs = &cert.tbs_certificate;
    let der = cert.to_der().unwrap_or_default();
    let spki = tbs.subject_public_key_info.to_der().unwrap_or_default();
    let key_usage = match find_extension::<KeyUsage>(cert) {
        Ok(Some((_, ku))) => ku.0.into_iter().map(|f| format!("{f:?}")).collect(),
        _ => vec![],
    };
    let policies = match find_extension::<CertificatePolicies>(cert) {
        Ok(Some((_, p))) => p.0.iter().map(|i| i.policy_identifier.to_string()).collect(),
        _ => vec![],
    };
    Summary {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        serial: tbs.serial_number.as_bytes().iter().map(|b| format!("{b:02X}")).collect(),
        not_before: tbs.validity.not_before.to_string(),
        not_after: tbs.validity.not_after.to_string(),
        key_bits: crate::rsa::public_key_bits(&spki).unwrap_or(0),
        key_usage,
        policies,
        sha256_fingerprint: crate::HashAlg::Sha256.digest(&der).iter().map(|b| format!("{b:02x}")).collect(),
        holder: holder_attributes(cert),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Subject:     {}", self.subject)?;
        writeln!(f, "Issuer:      {}", self.issuer)?;
        writeln!(f, "Serial:      {}", self.serial)?;
        writeln!(f, "Valid:       {} .. {}", self.not_before, self.not_after)?;
        writeln!(f, "Key:         RSA {} bits", self.key_bits)?;
        writeln!(f, "Key usage:   {}", self.key_usage.join(", "))?;
        writeln!(f, "Policies:    {}", self.policies.join(", "))?;
        writeln!(f, "SHA-256:     {}", self.sha256_fingerprint)?;
        if let Some(h) = &self.holder {
            writeln!(f, "Name:        {}", h.name)?;
            writeln!(f, "Birth:       {}", h.birth)?;
            writeln!(f, "Sex:         {}", h.sex)?;
            writeln!(f, "Address:     {}", h.address)?;
        }
        Ok(())
    }
}

/// Rebuilds the holder from a signature certificate: the basic four
/// attributes from subjectAltName and the romanised localities from the
/// subject's `L` attributes (prefecture first). Used when a phone
/// certificate must carry the same attributes as the card's.
pub fn holder_from_sign_certificate(cert: &Certificate) -> Option<crate::Holder> {
    let attrs = holder_attributes(cert)?;
    let mut localities = Vec::new();
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == const_oid::db::rfc4519::L {
                let v = atv
                    .value
                    .decode_as::<der::asn1::PrintableStringRef<'_>>()
                    .map(|s| s.as_str().to_string())
                    .or_else(|_| atv.value.decode_as::<Utf8StringRef<'_>>().map(|s| s.as_str().to_string()))
                    .ok()?;
                localities.push(v);
            }
        }
    }
    let [prefecture, municipality] = <[String; 2]>::try_from(localities).ok()?;
    let birth = attrs.birth.get(1..)?.to_string();
    let sex = crate::Sex::parse(&attrs.sex).ok()?;
    Some(crate::Holder { name: attrs.name, address: attrs.address, birth, sex, prefecture, municipality })
}
