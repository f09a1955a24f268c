//! The incremental update that adds a signature (ISO 32000-1 §12.8.1): a
//! signature dictionary, a signature field merged with its widget on the
//! page, the catalog's `/AcroForm` and the page's `/Annots` updated — the
//! earlier bytes of the file untouched.

use crate::{find, PadesError, Result};
use lopdf::{dictionary, Dictionary, Document, IncrementalDocument, Object, ObjectId, Stream, StringFormat};
use std::time::SystemTime;

/// Where and how the signature field shows.
#[derive(Debug, Clone)]
pub struct FieldOptions {
    /// The field's name (`/T`); must not exist yet.
    pub name: String,
    /// The claimed signing time (`/M`; PAdES puts no signingTime in the CMS).
    pub time: SystemTime,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// A visible field; `None`: invisible (a zero rectangle).
    pub appearance: Option<Appearance>,
    /// Bytes reserved for the CMS (hex-encoded, so twice that in the file).
    pub reserve: usize,
}

/// A visible signature: its page and rectangle, and the lines it shows.
#[derive(Debug, Clone)]
pub struct Appearance {
    /// 1-based page number.
    pub page: u32,
    /// `[x1 y1 x2 y2]` in points.
    pub rect: [f32; 4],
    /// Lines of text (ASCII: the appearance uses the standard Helvetica).
    pub lines: Vec<String>,
}

/// A PDF with the signature's place made, waiting for its CMS.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    byte_range: [usize; 4],
    reserve: usize,
}

/// A fixed-width placeholder number for `/ByteRange`.
const PLACEHOLDER: i64 = 9_999_999_999;

fn date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Text for a PDF literal string: printable ASCII, `( ) \` escaped by
/// lopdf; anything else replaced.
fn ascii(text: &str) -> Vec<u8> {
    text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c as u8 } else { b'?' }).collect()
}

/// Makes the incremental update with an empty signature of `options.reserve`
/// bytes; the result says which bytes the signature covers.
pub fn prepare(pdf: &[u8], options: &FieldOptions) -> Result<Prepared> {
    let doc = crate::load(pdf)?;
    if doc.is_encrypted() {
        return Err(PadesError::Unusable("the PDF is encrypted".into()));
    }
    let root = doc.trailer.get(b"Root").and_then(Object::as_reference)?;
    let pages = doc.get_pages();
    let page_number = options.appearance.as_ref().map_or(1, |a| a.page);
    let page = *pages.get(&page_number).ok_or_else(|| {
        PadesError::Unusable(format!("no page {page_number} (the document has {} pages)", pages.len()))
    })?;
    if field_names(&doc).iter().any(|n| n.as_slice() == options.name.as_bytes()) {
        return Err(PadesError::Unusable(format!("a field named {:?} exists already", options.name)));
    }
    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), doc);

    let mut sig = dictionary! {
        "Type" => "Sig",
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "ETSI.CAdES.detached",
        "ByteRange" => vec![Object::Integer(0), PLACEHOLDER.into(), PLACEHOLDER.into(), PLACEHOLDER.into()],
        "Contents" => Object::String(vec![0; options.reserve], StringFormat::Hexadecimal),
        "M" => Object::string_literal(date(options.time)),
    };
    if let Some(reason) = &options.reason {
        sig.set("Reason", Object::String(ascii(reason), StringFormat::Literal));
    }
    if let Some(location) = &options.location {
        sig.set("Location", Object::String(ascii(location), StringFormat::Literal));
    }
    let sig_id = inc.new_document.add_object(sig);

    let rect = options.appearance.as_ref().map_or([0.0; 4], |a| a.rect);
    let mut field = dictionary! {
        "FT" => "Sig",
        "T" => Object::String(ascii(&options.name), StringFormat::Literal),
        "V" => sig_id,
        "Type" => "Annot",
        "Subtype" => "Widget",
        "Rect" => rect.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
        "F" => 132, // Print | Locked
        "P" => page,
    };
    if let Some(a) = &options.appearance {
        let stream_id = inc.new_document.add_object(appearance_stream(a));
        field.set("AP", dictionary! { "N" => stream_id });
    }
    let field_id = inc.new_document.add_object(field);

    add_to_acroform(&mut inc, root, field_id)?;
    add_to_annots(&mut inc, page, field_id)?;

    let mut out = Vec::with_capacity(pdf.len() + 2 * options.reserve + 4096);
    inc.save_to(&mut out).map_err(|e| PadesError::Unusable(e.to_string()))?;
    locate(out, pdf.len(), options.reserve)
}

/// `/T` of every field in the catalog's AcroForm.
fn field_names(doc: &Document) -> Vec<Vec<u8>> {
    let fields = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|a| doc.dereference(a).ok())
        .and_then(|(_, a)| a.as_dict().ok())
        .and_then(|a| a.get(b"Fields").ok())
        .and_then(|f| doc.dereference(f).ok())
        .and_then(|(_, f)| f.as_array().ok().cloned())
        .unwrap_or_default();
    fields
        .iter()
        .filter_map(|f| doc.dereference(f).ok())
        .filter_map(|(_, f)| f.as_dict().ok())
        .filter_map(|f| f.get(b"T").ok().and_then(|t| t.as_str().ok()).map(<[u8]>::to_vec))
        .collect()
}

/// A dictionary that may be an indirect object (cloned into the update) or
/// a direct value inside `holder` under `key`.
fn with_array(
    inc: &mut IncrementalDocument,
    holder: ObjectId,
    key: &[u8],
    f: impl FnOnce(&mut Vec<Object>),
) -> Result<()> {
    inc.opt_clone_object_to_new_document(holder)?;
    let current = inc.new_document.get_object(holder)?.as_dict()?.get(key).ok().cloned();
    match current {
        Some(Object::Reference(id)) => {
            inc.opt_clone_object_to_new_document(id)?;
            f(inc.new_document.get_object_mut(id)?.as_array_mut()?);
        }
        Some(Object::Array(mut items)) => {
            f(&mut items);
            inc.new_document.get_object_mut(holder)?.as_dict_mut()?.set(key, items);
        }
        _ => {
            let mut items = Vec::new();
            f(&mut items);
            inc.new_document.get_object_mut(holder)?.as_dict_mut()?.set(key, items);
        }
    }
    Ok(())
}

fn add_to_acroform(inc: &mut IncrementalDocument, root: ObjectId, field: ObjectId) -> Result<()> {
    inc.opt_clone_object_to_new_document(root)?;
    let acroform = inc.new_document.get_object(root)?.as_dict()?.get(b"AcroForm").ok().cloned();
    let form_id = match acroform {
        Some(Object::Reference(id)) => id,
        Some(Object::Dictionary(d)) => {
            // Move an inline AcroForm into an object of its own.
            let id = inc.new_document.add_object(d);
            inc.new_document.get_object_mut(root)?.as_dict_mut()?.set("AcroForm", id);
            id
        }
        _ => {
            let id = inc.new_document.add_object(Dictionary::new());
            inc.new_document.get_object_mut(root)?.as_dict_mut()?.set("AcroForm", id);
            id
        }
    };
    with_array(inc, form_id, b"Fields", |fields| fields.push(field.into()))?;
    // SignaturesExist | AppendOnly (§12.7.2, table 219).
    inc.new_document.get_object_mut(form_id)?.as_dict_mut()?.set("SigFlags", 3);
    Ok(())
}

fn add_to_annots(inc: &mut IncrementalDocument, page: ObjectId, field: ObjectId) -> Result<()> {
    with_array(inc, page, b"Annots", |annots| annots.push(field.into()))
}

/// The visible field's look: a framed box with the lines, Helvetica 8 pt.
fn appearance_stream(a: &Appearance) -> Stream {
    let (w, h) = ((a.rect[2] - a.rect[0]).abs(), (a.rect[3] - a.rect[1]).abs());
    let mut ops = format!(
        "q 0.94 0.96 1 rg 0 0 {w:.2} {h:.2} re f 0.2 0.3 0.6 RG 1 w 0.5 0.5 {:.2} {:.2} re S Q\n",
        w - 1.0,
        h - 1.0
    );
    ops.push_str("BT 0 0 0 rg /F1 8 Tf 10 TL\n");
    ops.push_str(&format!("4 {:.2} Td\n", h - 12.0));
    for line in &a.lines {
        let escaped: String =
            String::from_utf8_lossy(&ascii(line)).replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        ops.push_str(&format!("({escaped}) Tj T*\n"));
    }
    ops.push_str("ET\n");
    let dict = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), Object::Real(w), Object::Real(h)],
        "Resources" => dictionary! {
            "Font" => dictionary! {
                "F1" => dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
            },
        },
    };
    Stream::new(dict, ops.into_bytes())
}

/// Finds the placeholders in the written update and fills `/ByteRange`.
fn locate(mut bytes: Vec<u8>, original_len: usize, reserve: usize) -> Result<Prepared> {
    let placeholder = format!("[0 {PLACEHOLDER} {PLACEHOLDER} {PLACEHOLDER}]");
    let range_at = find(&bytes, placeholder.as_bytes(), original_len)
        .ok_or_else(|| PadesError::Unusable("the /ByteRange placeholder was not written as expected".into()))?;
    let mut hex = vec![b'<'];
    hex.extend(std::iter::repeat_n(b'0', 2 * reserve));
    hex.push(b'>');
    let contents_at = find(&bytes, &hex, original_len)
        .ok_or_else(|| PadesError::Unusable("the /Contents placeholder was not written as expected".into()))?;
    let after = contents_at + hex.len();
    let byte_range = [0, contents_at, after, bytes.len() - after];
    let mut text = format!("[0 {} {} {}]", byte_range[1], byte_range[2], byte_range[3]).into_bytes();
    if text.len() > placeholder.len() {
        return Err(PadesError::Unusable("the file is too large for the /ByteRange".into()));
    }
    // Same width: pad inside the brackets.
    text.pop();
    text.resize(placeholder.len() - 1, b' ');
    text.push(b']');
    bytes[range_at..range_at + placeholder.len()].copy_from_slice(&text);
    Ok(Prepared { bytes, byte_range, reserve })
}

impl Prepared {
    /// The bytes the signature covers: the file without the `/Contents`
    /// string (its brackets included).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let [a, b, c, d] = self.byte_range;
        [&self.bytes[a..a + b], &self.bytes[c..c + d]].concat()
    }

    /// `/ByteRange`.
    pub fn byte_range(&self) -> [usize; 4] {
        self.byte_range
    }

    /// Writes the DER CMS into `/Contents` (zero-padded): the signed PDF.
    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>> {
        if cms.len() > self.reserve {
            return Err(PadesError::TooLarge(cms.len(), self.reserve));
        }
        let hex: Vec<u8> = cms.iter().flat_map(|b| format!("{b:02X}").into_bytes()).collect();
        let start = self.byte_range[1] + 1;
        self.bytes[start..start + hex.len()].copy_from_slice(&hex);
        Ok(self.bytes)
    }
}
