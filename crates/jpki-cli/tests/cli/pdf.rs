//! `jpki pdf` with bad input: a clear one-line error, the right exit
//! status, and no output file or card state changed.

use crate::{copy_card, jpki, run, text};

#[test]
fn pdf_commands_refuse_bad_input_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let not_pdf = dir.path().join("not.pdf");
    std::fs::write(&not_pdf, b"this is not a PDF").unwrap();
    let out = dir.path().join("out.pdf");

    let o = run(jpki()
        .args(["pdf", "sign"])
        .arg(&not_pdf)
        .arg("-o")
        .arg(&out)
        .arg("--card")
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot be signed"), "{}", text(&o));
    assert!(!out.exists(), "nothing written");

    // A readable PDF, the wrong password: refused, counted, nothing written.
    let sample = dir.path().join("sample.pdf");
    assert!(run(jpki().args(["pdf", "sample", "-o"]).arg(&sample)).status.success());
    let o = run(jpki()
        .args(["pdf", "sign"])
        .arg(&sample)
        .arg("-o")
        .arg(&out)
        .arg("--card")
        .arg(&card)
        .env("JPKI_SIGN_PIN", "WRONG1"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("4 tries left"), "{}", text(&o));
    assert!(!out.exists(), "nothing written");

    // verify: not a PDF, and a PDF without a signature, are INVALID (exit 1).
    let ca = crate::ca_dir().join("sign-ca.pem");
    for file in [&not_pdf, &sample] {
        let o = run(jpki().args(["pdf", "verify"]).arg(file).arg("--ca").arg(&ca));
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("INVALID"), "{}", text(&o));
    }
    // A visible field on a page the document does not have.
    let o = run(jpki()
        .args(["pdf", "sign"])
        .arg(&sample)
        .arg("-o")
        .arg(&out)
        .arg("--card")
        .arg(&card)
        .args(["--visible", "7,10,10,100,50"])
        .env("JPKI_SIGN_PIN", "ABC123"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no page 7"), "{}", text(&o));
    assert!(!out.exists(), "nothing written");
}
