//! `jpki pdf sign|verify`: PAdES signatures (ETSI EN 319 142-1) with the
//! card's or the phone's signature key — B-B, and B-LT with the signer's
//! OCSP answer from the JPKI service embedded (crate `pades`).

use crate::args::{DeviceArgs, PinArgs};
use crate::output;
use anyhow::{bail, Context, Result};
use apdu::Transport;
use clap::{Args, Subcommand};
use jpki::{CertType, JpkiCard, KeyType, PinId};
use std::path::PathBuf;

/// `jpki pdf …`
#[derive(Debug, Subcommand)]
pub enum PdfCommand {
    /// Sign a PDF with the signature key (署名用電子証明書) as PAdES
    /// baseline B-B: a CAdES detached signature in a new signature field,
    /// added as an incremental update (the original bytes stay as they
    /// are). With --ocsp-url, level B-LT: the signer's OCSP answer and the
    /// CA certificate go into the document security store.
    Sign(Box<PdfSignArgs>),
    /// Check every signature of a PDF: the byte range covers the file
    /// except the signature itself, the document is unchanged since, the
    /// signer's certificate chains to a --ca. Exit 1 if any check fails.
    Verify(PdfVerifyArgs),
    /// Write a one-page PDF to try signing with.
    Sample(PdfSampleArgs),
}

/// `jpki pdf sample`
#[derive(Debug, Args)]
pub struct PdfSampleArgs {
    /// Where to write it.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The text on the page (ASCII).
    #[arg(long, default_value = "Contract: signed with a JPKI signature certificate")]
    pub text: String,
}

/// `jpki pdf sign`
#[derive(Debug, Args)]
pub struct PdfSignArgs {
    /// The PDF to sign.
    pub input: PathBuf,
    /// Where to write the signed PDF.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Sign with the JPKI phone in DIR (its signature key) instead of a card.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["card", "reader"])]
    pub phone: Option<PathBuf>,
    #[command(flatten)]
    pub pins: PinArgs,
    /// The signature field's name.
    #[arg(long, default_value = "Signature1")]
    pub field: String,
    /// A visible signature: PAGE,X1,Y1,X2,Y2 (points from the lower left);
    /// default: invisible.
    #[arg(long, value_name = "PAGE,X1,Y1,X2,Y2", value_parser = parse_visible)]
    pub visible: Option<(u32, [f32; 4])>,
    /// `/Reason` (ASCII).
    #[arg(long)]
    pub reason: Option<String>,
    /// `/Location` (ASCII).
    #[arg(long)]
    pub location: Option<String>,
    /// Level B-LT: ask this OCSP responder (the JPKI service's) for the
    /// signer's status and embed the answer; refused unless "good".
    #[arg(long, value_name = "URL")]
    pub ocsp_url: Option<String>,
    /// Also embed the CRL at URL (the JPKI service's `/crl/sign.crl`); with
    /// --ocsp-url.
    #[arg(long, value_name = "URL", requires = "ocsp_url")]
    pub crl_url: Vec<String>,
    /// Bytes reserved for the signature.
    #[arg(long, default_value_t = 16384)]
    pub reserve: usize,
}

/// `jpki pdf verify`
#[derive(Debug, Args)]
pub struct PdfVerifyArgs {
    /// The signed PDF.
    pub input: PathBuf,
    /// Trust anchor (PEM or DER): the JPKI signature CA; repeatable.
    #[arg(long, required = true)]
    pub ca: Vec<PathBuf>,
}

fn parse_visible(text: &str) -> Result<(u32, [f32; 4]), String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [page, x1, y1, x2, y2] = parts[..] else { return Err("expected PAGE,X1,Y1,X2,Y2".into()) };
    let page: u32 = page.parse().map_err(|_| format!("page {page:?} is not a number"))?;
    let mut rect = [0f32; 4];
    for (slot, v) in rect.iter_mut().zip([x1, y1, x2, y2]) {
        *slot = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    }
    if page == 0 || rect[2] <= rect[0] || rect[3] <= rect[1] {
        return Err("the page counts from 1 and X2 > X1, Y2 > Y1".into());
    }
    Ok((page, rect))
}

/// Runs `jpki pdf`.
pub fn run(c: PdfCommand, json: bool) -> Result<()> {
    match c {
        PdfCommand::Sign(a) => sign(&a, json),
        PdfCommand::Verify(a) => verify(&a, json),
        PdfCommand::Sample(a) => output::write_out(Some(&a.out), &pades::sample(&a.text)),
    }
}

fn sign(a: &PdfSignArgs, json: bool) -> Result<()> {
    let input = output::read_in(&a.input)?;
    let time = std::time::SystemTime::now();
    let mut lines = vec!["Digitally signed with a JPKI".to_string(), "signature certificate".to_string()];
    let stamp = time::OffsetDateTime::from(time);
    lines.push(format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute()
    ));
    if let Some(r) = &a.reason {
        lines.push(format!("Reason: {r}"));
    }
    let field = pades::FieldOptions {
        name: a.field.clone(),
        time,
        reason: a.reason.clone(),
        location: a.location.clone(),
        appearance: a.visible.map(|(page, rect)| pades::Appearance { page, rect, lines }),
        reserve: a.reserve,
    };
    let prepared = pades::prepare(&input, &field)?;
    let (signed, signer, ca) = match &a.phone {
        Some(dir) => sign_with(&mut crate::cmd::phone::app::phone_token(dir)?, &a.pins, prepared)?,
        None => sign_with(&mut crate::device::open(&a.device)?.card, &a.pins, prepared)?,
    };
    let (signed, level) = match &a.ocsp_url {
        Some(url) => {
            let ocsp = fetch_ocsp(url, &signer, &ca)?;
            let crls = a.crl_url.iter().map(|u| fetch(u)).collect::<Result<Vec<_>>>()?;
            (pades::add_dss(&signed, &[ca.clone(), signer.clone()], &[ocsp], &crls)?, "B-B + DSS")
        }
        None => (signed, "B-B"),
    };
    output::write_out(Some(&a.out), &signed)?;
    if json {
        return output::json(&serde_json::json!({ "out": a.out, "level": level, "field": a.field }));
    }
    output::line(format_args!("{} signed (PAdES {level}, field {}): {}", a.input.display(), a.field, a.out.display()))
}

/// Verifies the signature password, signs the prepared PDF; returns it with
/// the signer's and the CA's certificates (DER).
fn sign_with<T: Transport>(
    card: &mut JpkiCard<T>,
    pins: &PinArgs,
    prepared: pades::Prepared,
) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    crate::pins::verify(card, PinId::Sign, pins)?;
    let signer_der = card.read_certificate(CertType::Sign)?;
    let ca_der = card.read_certificate(CertType::SignCa)?;
    let parse = |der: &[u8]| pki::cert::parse_certificates(der).map(|mut v| v.remove(0));
    let (signer, ca) = (parse(&signer_der)?, parse(&ca_der)?);
    let cms = pki::cms::sign_cades_detached(&prepared.signed_bytes(), &signer, &[ca], pki::HashAlg::Sha256, |di| {
        card.sign(KeyType::Sign, di)
    })?;
    Ok((prepared.finish(&cms)?, signer_der, ca_der))
}

/// GET `url` (a CRL).
fn fetch(url: &str) -> Result<Vec<u8>> {
    let http = jlis_api::status::client();
    crate::cmd::runtime()?.block_on(async {
        let response = http.get(url).send().await.with_context(|| format!("fetching {url}"))?;
        anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
        Ok(response.bytes().await?.to_vec())
    })
}

/// The signer's OCSP answer (DER), checked to say "good".
fn fetch_ocsp(url: &str, signer: &[u8], ca: &[u8]) -> Result<Vec<u8>> {
    let ca_cert = pki::cert::parse_certificates(ca)?.remove(0);
    let cert = pki::cert::parse_certificates(signer)?.remove(0);
    let id = pki::ocsp::cert_id(&ca_cert, cert.tbs_certificate.serial_number.as_bytes(), pki::HashAlg::Sha1)?;
    let request = pki::ocsp::build_request(std::slice::from_ref(&id), None)?;
    let rt = crate::cmd::runtime()?;
    let http = jlis_api::status::client();
    let answer = rt.block_on(async {
        let response = http
            .post(url)
            .header("content-type", "application/ocsp-request")
            .body(request)
            .send()
            .await
            .with_context(|| format!("asking {url} for the signer's status"))?;
        anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
        Ok::<_, anyhow::Error>(response.bytes().await?.to_vec())
    })?;
    let status = rt.block_on(jlis_api::status::ocsp(&http, url, signer, &[ca_cert]))?;
    if !matches!(status, jlis_api::status::Status::Good) {
        bail!("the signer's certificate is not good at {url} ({status:?}); not signing long-term");
    }
    Ok(answer)
}

fn verify(a: &PdfVerifyArgs, json: bool) -> Result<()> {
    let pdf = output::read_in(&a.input)?;
    let mut anchors = Vec::new();
    for path in &a.ca {
        let bytes = output::read_in(path)?;
        anchors.extend(pki::cert::parse_certificates(&bytes).with_context(|| format!("{}", path.display()))?);
    }
    let reports = match pades::verify(&pdf, &anchors) {
        Ok(r) => r,
        Err(e) => {
            // A signature that does not hold is an answer, not a usage error.
            eprintln!("jpki: {}: INVALID: {e}", a.input.display());
            std::process::exit(1);
        }
    };
    if json {
        return output::json(&reports);
    }
    for r in &reports {
        let coverage = if r.later_bytes == 0 {
            "covers the whole file".to_string()
        } else {
            format!("covers its revision; {} bytes were appended later", r.later_bytes)
        };
        output::line(format_args!(
            "{}: VALID ({}), signer {} serial {}, {coverage}{}",
            r.field,
            r.subfilter,
            r.signer,
            r.serial,
            if r.dss { ", validation data embedded (DSS)" } else { "" }
        ))?;
    }
    Ok(())
}
