//! PAdES B-B and B-LT with an emulated card's signature key: what `verify`
//! accepts, what it refuses (a changed byte anywhere signed, a shifted
//! byte range, another anchor), and the file checked by qpdf.

use std::sync::OnceLock;

struct Card {
    _dir: tempfile::TempDir,
    state: mynacard::CardState,
    sign_ca: pki::Certificate,
    auth_ca: pki::Certificate,
}

fn card() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let pins = mynacard::personalize::InitialPins::test_card();
        let state = mynacard::personalize::new_card(&ca, &pki::Holder::example(), "123456789018", pins).unwrap();
        let parse = |der: &[u8]| pki::cert::parse_certificates(der).unwrap().remove(0);
        let sign_ca = parse(&state.jpki.sign_ca_cert);
        let auth_ca = parse(&state.jpki.auth_ca_cert);
        Card { _dir: dir, state, sign_ca, auth_ca }
    })
}

fn options(appearance: Option<pades::Appearance>) -> pades::FieldOptions {
    pades::FieldOptions {
        name: "Signature1".into(),
        time: std::time::SystemTime::now(),
        reason: Some("contract (test)".into()),
        location: Some("Tokyo".into()),
        appearance,
        reserve: 8192,
    }
}

/// Signs `pdf` with the card's signature key, as `jpki pdf sign` does.
fn sign(pdf: &[u8], field: &pades::FieldOptions) -> Vec<u8> {
    let fixture = card();
    let mut card =
        jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(fixture.state.clone()).unwrap()));
    card.verify(jpki::PinId::Sign, "ABC123").unwrap();
    let signer =
        pki::cert::parse_certificates(&card.read_certificate(jpki::CertType::Sign).unwrap()).unwrap().remove(0);
    let prepared = pades::prepare(pdf, field).unwrap();
    let cms = pki::cms::sign_cades_detached(
        &prepared.signed_bytes(),
        &signer,
        std::slice::from_ref(&fixture.sign_ca),
        pki::HashAlg::Sha256,
        |di| card.sign(jpki::KeyType::Sign, di),
    )
    .unwrap();
    prepared.finish(&cms).unwrap()
}

fn qpdf_check(pdf: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("qpdf").arg("--check").arg(&path).output().expect("qpdf (scripts/deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("No syntax or stream encoding errors"), "qpdf: {text}");
}

#[test]
fn an_invisible_b_b_signature_verifies_and_keeps_the_original_bytes() {
    let original = pades::sample("Contract between A and B");
    let signed = sign(&original, &options(None));
    assert!(signed.starts_with(&original), "an incremental update: the original bytes unchanged");
    let reports = pades::verify(&signed, std::slice::from_ref(&card().sign_ca)).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!((r.field.as_str(), r.subfilter.as_str(), r.later_bytes), ("Signature1", "ETSI.CAdES.detached", 0));
    assert_eq!(r.byte_range[3] + r.byte_range[2], signed.len());
    qpdf_check(&signed);

    // Another trust anchor: refused.
    let err = pades::verify(&signed, std::slice::from_ref(&card().auth_ca)).unwrap_err().to_string();
    assert!(err.contains("Signature1"), "{err}");
}

#[test]
fn a_visible_signature_on_a_page_and_a_second_signature_after_it() {
    let original = pades::sample("Two signatures");
    let look = pades::Appearance {
        page: 1,
        rect: [350.0, 60.0, 560.0, 120.0],
        lines: vec!["Digitally signed (JPKI)".into(), "Reason: contract (test)".into()],
    };
    let once = sign(&original, &options(Some(look)));
    qpdf_check(&once);
    let twice = sign(&once, &pades::FieldOptions { name: "Signature2".into(), ..options(None) });
    let reports = pades::verify(&twice, std::slice::from_ref(&card().sign_ca)).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports[0].later_bytes > 0, "the first covers its revision only");
    assert_eq!(reports[1].later_bytes, 0);
    // The same field name twice is refused before anything is signed.
    let again = pades::prepare(&twice, &options(None)).unwrap_err().to_string();
    assert!(again.contains("exists already"), "{again}");
}

#[test]
fn any_changed_byte_in_the_signed_range_or_a_moved_range_is_refused() {
    let signed = sign(&pades::sample("Pay 100 yen"), &options(None));
    let anchors = std::slice::from_ref(&card().sign_ca);
    // "100" → "900" in the page content (first range).
    let at = signed.windows(7).position(|w| w == b"Pay 100").unwrap();
    let mut changed = signed.clone();
    changed[at + 4] = b'9';
    let err = pades::verify(&changed, anchors).unwrap_err().to_string();
    assert!(err.contains("Signature1"), "{err}");
    // A byte in the second range (the xref after the signature).
    let mut tail = signed.clone();
    let n = tail.len();
    tail[n - 10] ^= 0x01;
    assert!(pades::verify(&tail, anchors).is_err());
    // A ByteRange widened to hide an insertion: the gap is no longer just
    // the /Contents string.
    let find =
        |needle: &[u8], from: usize| from + signed[from..].windows(needle.len()).position(|w| w == needle).unwrap();
    let start = find(b"/ByteRange", 0);
    let open = find(b"[", start);
    let close = find(b"]", open);
    let text = String::from_utf8(signed[open..=close].to_vec()).unwrap();
    let (open_t, close_t) = (0, text.len() - 1);
    let numbers: Vec<usize> = text[open_t + 1..close_t].split_whitespace().map(|n| n.parse().unwrap()).collect();
    let moved = format!("[0 {} {} {}]", numbers[1] - 2, numbers[2], numbers[3]);
    let mut shifted = signed.clone();
    let mut patch = moved.into_bytes();
    patch.pop();
    patch.resize(close + 1 - open, b' ');
    *patch.last_mut().unwrap() = b']';
    shifted[open..=close].copy_from_slice(&patch);
    let err = pades::verify(&shifted, anchors).unwrap_err().to_string();
    assert!(err.contains("not just the /Contents"), "{err}");
}

#[test]
fn b_lt_adds_the_validation_data_in_a_later_update() {
    let signed = sign(&pades::sample("Long-term"), &options(None));
    let certs = vec![card().state.jpki.sign_ca_cert.clone()];
    let with_dss = pades::add_dss(&signed, &certs, &[vec![0x30, 0x03, 0x0A, 0x01, 0x00]], &[]).unwrap();
    assert!(with_dss.starts_with(&signed));
    let reports = pades::verify(&with_dss, std::slice::from_ref(&card().sign_ca)).unwrap();
    assert!(reports[0].dss && reports[0].later_bytes > 0);
    qpdf_check(&with_dss);
}
