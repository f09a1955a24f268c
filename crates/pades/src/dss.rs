//! Level B-LT (EN 319 142-1 §5.4): the validation data — certificates,
//! OCSP responses, CRLs — in the document security store (`/DSS`, ISO
//! 32000-2 §12.8.4.3), added as a further incremental update after the
//! signature, which it therefore does not disturb.

use crate::Result;
use lopdf::{dictionary, IncrementalDocument, Object, Stream};

/// Appends a `/DSS` with `certs` (DER), `ocsps` (DER OCSPResponse) and
/// `crls` (DER) to a signed PDF.
pub fn add_dss(pdf: &[u8], certs: &[Vec<u8>], ocsps: &[Vec<u8>], crls: &[Vec<u8>]) -> Result<Vec<u8>> {
    let doc = crate::load(pdf)?;
    let root = doc.trailer.get(b"Root").and_then(Object::as_reference)?;
    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), doc);
    let mut streams = |items: &[Vec<u8>]| -> Vec<Object> {
        items.iter().map(|b| inc.new_document.add_object(Stream::new(dictionary! {}, b.clone())).into()).collect()
    };
    let (certs, ocsps, crls) = (streams(certs), streams(ocsps), streams(crls));
    let mut dss = dictionary! { "Type" => "DSS", "Certs" => certs };
    if !ocsps.is_empty() {
        dss.set("OCSPs", ocsps);
    }
    if !crls.is_empty() {
        dss.set("CRLs", crls);
    }
    let dss_id = inc.new_document.add_object(dss);
    inc.opt_clone_object_to_new_document(root)?;
    inc.new_document.get_object_mut(root)?.as_dict_mut()?.set("DSS", dss_id);
    let mut out = Vec::with_capacity(pdf.len() + 16 * 1024);
    inc.save_to(&mut out).map_err(|e| crate::PadesError::Unusable(e.to_string()))?;
    Ok(out)
}
