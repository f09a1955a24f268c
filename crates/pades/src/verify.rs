//! Checking a signed PDF: for every signature field, the byte range covers
//! the whole revision except exactly its `/Contents` string, the CMS
//! verifies over those bytes up to a trust anchor, and its
//! signingCertificateV2 names the signer's certificate.

use crate::{PadesError, Result};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};
use lopdf::{Document, Object};

/// One verified signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureReport {
    /// The field name.
    pub field: String,
    /// `/SubFilter`.
    pub subfilter: String,
    /// `/ByteRange`.
    pub byte_range: [usize; 4],
    /// Bytes appended after the signed revision (a later incremental
    /// update, e.g. the B-LT DSS); 0 when the signature covers the file.
    pub later_bytes: usize,
    /// The signer's subject.
    pub signer: String,
    /// The signer certificate's serial number (hex).
    pub serial: String,
    /// `/M`, as written.
    pub claimed_time: Option<String>,
    /// Whether the document has a DSS (B-LT).
    pub dss: bool,
}

/// Verifies every signature in `pdf` against `anchors`; an error names the
/// field and what failed.
pub fn verify(pdf: &[u8], anchors: &[pki::Certificate]) -> Result<Vec<SignatureReport>> {
    let doc = crate::load(pdf).map_err(|e| PadesError::Invalid(format!("not a readable PDF: {e}")))?;
    let catalog = doc.catalog().map_err(|e| PadesError::Invalid(format!("no catalog: {e}")))?;
    let dss = catalog.get(b"DSS").is_ok();
    let mut reports = Vec::new();
    for (name, sig) in &signature_fields(&doc) {
        let fail = |what: String| PadesError::Invalid(format!("signature {name}: {what}"));
        let subfilter =
            sig.get(b"SubFilter").and_then(Object::as_name).map(|n| String::from_utf8_lossy(n).into_owned());
        let subfilter = subfilter.map_err(|_| fail("no /SubFilter".into()))?;
        if subfilter != "ETSI.CAdES.detached" && subfilter != "adbe.pkcs7.detached" {
            return Err(fail(format!("/SubFilter {subfilter} is not a detached CMS signature")));
        }
        let range = byte_range(sig).map_err(fail)?;
        let [a, b, c, d] = range;
        if a != 0 || b == 0 || c <= b || c.checked_add(d).is_none_or(|end| end > pdf.len()) {
            return Err(fail(format!("/ByteRange {range:?} does not fit the file of {} bytes", pdf.len())));
        }
        // The gap must be exactly the hex string <…>: nothing else unsigned.
        let gap = &pdf[b..c];
        if gap.first() != Some(&b'<')
            || gap.last() != Some(&b'>')
            || !gap[1..gap.len() - 1].iter().all(u8::is_ascii_hexdigit)
        {
            return Err(fail("the bytes outside /ByteRange are not just the /Contents string".into()));
        }
        let contents = sig.get(b"Contents").and_then(Object::as_str).map_err(|_| fail("no /Contents".into()))?;
        let cms = strip_padding(contents).map_err(|e| fail(format!("/Contents is not DER: {e}")))?;
        let signed = [&pdf[a..a + b], &pdf[c..c + d]].concat();
        let options = pki::cms::VerifyOptions { anchors, detached_content: Some(&signed), at: None };
        let verified = pki::cms::verify(&cms, &options).map_err(|e| fail(e.to_string()))?;
        check_signing_certificate(&cms, &verified.signer).map_err(fail)?;
        let tbs = &verified.signer.tbs_certificate;
        reports.push(SignatureReport {
            field: name.clone(),
            subfilter,
            byte_range: range,
            later_bytes: pdf.len() - (c + d),
            signer: tbs.subject.to_string(),
            serial: hex_upper(tbs.serial_number.as_bytes()),
            claimed_time: sig.get(b"M").and_then(Object::as_str).ok().map(|m| String::from_utf8_lossy(m).into_owned()),
            dss,
        });
    }
    if reports.is_empty() {
        return Err(PadesError::Invalid("the PDF has no signature".into()));
    }
    Ok(reports)
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// The signature fields (`/FT /Sig` with a `/V`) and their dictionaries.
fn signature_fields(doc: &Document) -> Vec<(String, lopdf::Dictionary)> {
    let deref = |o: &Object| doc.dereference(o).ok().map(|(_, o)| o.clone());
    let Some(form) = doc.catalog().ok().and_then(|c| c.get(b"AcroForm").ok()).and_then(deref) else {
        return Vec::new();
    };
    let fields = form.as_dict().ok().and_then(|f| f.get(b"Fields").ok()).and_then(deref);
    let mut out = Vec::new();
    for field in fields.as_ref().and_then(|f| f.as_array().ok()).into_iter().flatten() {
        let Some(Object::Dictionary(field)) = deref(field) else { continue };
        if field.get(b"FT").and_then(Object::as_name).ok() != Some(b"Sig".as_slice()) {
            continue;
        }
        let Some(Object::Dictionary(sig)) = field.get(b"V").ok().and_then(deref) else { continue };
        let name = field.get(b"T").and_then(Object::as_str).map(|t| String::from_utf8_lossy(t).into_owned());
        out.push((name.unwrap_or_else(|_| "(unnamed)".into()), sig));
    }
    out
}

fn byte_range(sig: &lopdf::Dictionary) -> std::result::Result<[usize; 4], String> {
    let items = sig.get(b"ByteRange").and_then(Object::as_array).map_err(|_| "no /ByteRange".to_string())?;
    let numbers: Vec<usize> = items
        .iter()
        .map(|o| o.as_i64().ok().and_then(|n| usize::try_from(n).ok()))
        .collect::<Option<_>>()
        .ok_or("/ByteRange holds something other than non-negative integers")?;
    numbers.try_into().map_err(|_| "/ByteRange is not four numbers".to_string())
}

/// The DER object at the start of `/Contents` (the rest is zero padding).
fn strip_padding(contents: &[u8]) -> std::result::Result<Vec<u8>, der::Error> {
    let mut reader = der::SliceReader::new(contents)?;
    let any = der::Any::decode(&mut reader)?;
    any.to_der()
}

/// The signed attributes' signingCertificateV2 must hash to the signer's
/// certificate (EN 319 122-1 §5.2.2.3); PAdES requires the attribute.
fn check_signing_certificate(cms: &[u8], signer: &pki::Certificate) -> std::result::Result<(), String> {
    let ci = ContentInfo::from_der(cms).map_err(|e| e.to_string())?;
    let sd: SignedData = ci.content.decode_as().map_err(|e| e.to_string())?;
    let si = sd.signer_infos.0.iter().next().ok_or("no signer")?;
    let attrs = si.signed_attrs.as_ref().ok_or("no signed attributes")?;
    let named = pki::cms::signing_certificate_v2_hash(attrs).map_err(|e| e.to_string())?;
    let named = named.ok_or("no signingCertificateV2 attribute (PAdES needs it)")?;
    let actual = pki::HashAlg::Sha256.digest(&signer.to_der().map_err(|e| e.to_string())?);
    if named != actual {
        return Err("signingCertificateV2 names another certificate than the signer's".into());
    }
    Ok(())
}
