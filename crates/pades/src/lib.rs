//! PAdES signatures on PDF files (ETSI EN 319 142-1), the parts no PDF
//! crate does: the signature field and dictionary added as an incremental
//! update (ISO 32000-1 §7.5.6, §12.8), the `/ByteRange` and the `/Contents`
//! placeholder patched after signing, the `/DSS` of level B-LT, and the
//! checks of `verify`. lopdf parses the file and writes the update's
//! objects and cross-reference section (in the file's own form, table or
//! stream); the CMS comes from `pki::cms::sign_cades_detached`.
//!
//! - [`prepare`] → [`Prepared::signed_bytes`] (what the CMS signs) →
//!   [`Prepared::finish`] with the CMS: level B-B.
//! - [`add_dss`]: certificates, OCSP responses and CRLs in a second update:
//!   level B-LT.
//! - [`verify`]: every signature's byte range, digest, CMS, signer.

mod dss;
mod update;
mod verify;

pub use dss::add_dss;
pub use update::{prepare, Appearance, FieldOptions, Prepared};
pub use verify::{verify, SignatureReport};

/// What went wrong, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum PadesError {
    /// The input is not a PDF lopdf can read, or lacks what a signature
    /// needs (a catalog, the page).
    #[error("the PDF cannot be signed: {0}")]
    Unusable(String),
    /// The CMS is larger than the space reserved for it.
    #[error("the signature ({0} bytes) does not fit the {1} bytes reserved; sign again with a larger reserve")]
    TooLarge(usize, usize),
    /// Verification failed; the message says where.
    #[error("{0}")]
    Invalid(String),
}

impl From<lopdf::Error> for PadesError {
    fn from(e: lopdf::Error) -> Self {
        PadesError::Unusable(e.to_string())
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, PadesError>;

/// Parses a PDF. lopdf is not hardened against hostile input: a panic
/// inside it is turned into an error, so a crafted file cannot crash a
/// verifier.
fn load(pdf: &[u8]) -> Result<lopdf::Document> {
    match std::panic::catch_unwind(|| lopdf::Document::load_mem(pdf)) {
        Ok(Ok(doc)) => Ok(doc),
        Ok(Err(e)) => Err(PadesError::Unusable(e.to_string())),
        Err(_) => Err(PadesError::Unusable("the PDF is malformed (the parser gave up)".into())),
    }
}

/// Finds `needle` in `haystack` (first occurrence at or after `from`).
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// A one-page PDF saying `text` (Helvetica), for tests and demonstrations.
pub fn sample(text: &str) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let escaped = text.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
    let content = format!("BT /F1 14 Tf 72 770 Td ({escaped}) Tj ET");
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let font = dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" };
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("writing to memory");
    out
}
