//! `jpki demo card`: the card half of the system, end to end, each step
//! timed and checked.

use crate::demo::DemoArgs;
use crate::output;
use anyhow::{ensure, Context, Result};
use der::Decode;
use jpki::{CertType, JpkiCard, KeyType, PinId};
use mynacard::personalize::{new_card, InitialPins};
use serde::Serialize;
use std::time::{Instant, SystemTime};
use transport::InProcess;

#[derive(Serialize)]
pub(super) struct Step {
    step: String,
    ok: bool,
    pub(super) millis: f64,
    detail: String,
}

pub(super) struct Runner {
    pub(super) json: bool,
    pub(super) steps: Vec<Step>,
}

impl Runner {
    pub(super) fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        let start = Instant::now();
        let result = f();
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        let (ok, detail) = match &result {
            Ok((_, d)) => (true, d.clone()),
            Err(e) => (false, format!("{e:#}")),
        };
        if !self.json {
            let mark = if ok { "ok  " } else { "FAIL" };
            eprintln!("[{mark}] {name:<44} {millis:>9.1} ms  {detail}");
        }
        self.steps.push(Step { step: name.into(), ok, millis, detail });
        result.map(|(v, _)| v).with_context(|| format!("demo step {name:?} failed"))
    }
}

fn cert(der: &[u8]) -> Result<pki::Certificate> {
    pki::Certificate::from_der(der).context("certificate is not DER")
}

/// `jpki demo card`
pub fn card(a: &DemoArgs, json: bool) -> Result<()> {
    run_in_dir(a, json, steps)
}

/// Runs `steps` in `--dir` or a temporary directory and reports them (one
/// line per step, or one JSON document).
pub(super) fn run_in_dir(
    a: &DemoArgs,
    json: bool,
    steps: impl FnOnce(&mut Runner, &std::path::Path) -> Result<()>,
) -> Result<()> {
    let temp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    let mut r = Runner { json, steps: Vec::new() };
    let total = Instant::now();
    let result = steps(&mut r, &dir);
    if json {
        output::json(&serde_json::json!({ "dir": dir, "ok": result.is_ok(), "steps": r.steps }))?;
    } else if result.is_ok() {
        eprintln!(
            "All {} steps passed in {:.1} s (files in {}).",
            r.steps.len(),
            total.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    result
}

fn steps(r: &mut Runner, dir: &std::path::Path) -> Result<()> {
    let ca = r.run("create the local test JPKI CAs", || {
        let ca = pki::ca::LocalCa::open_or_create(&dir.join("ca"))?;
        let subject = ca.ca(pki::CaKind::Sign).cert.tbs_certificate.subject.to_string();
        Ok((ca, subject))
    })?;
    let card_path = dir.join("card.json");
    r.run("personalize a My Number card", || {
        let holder = pki::Holder::example();
        let state = new_card(&ca, &holder, "123456789018", InitialPins::test_card())?;
        pki::fs::write_atomically(&card_path, &state.to_json())?;
        Ok(((), format!("2 RSA-2048 keys, 2 certificates, {}", card_path.display())))
    })?;
    let mut card = JpkiCard::new(InProcess::new(mynacard::MynaCard::open(&card_path)?));
    r.run("card status (token, PIN tries)", || {
        let token = card.token()?;
        ensure!(token == jpki::TokenKind::Card, "unexpected token {token:?}");
        let tries: Vec<String> = PinId::ALL
            .into_iter()
            .map(|p| card.pin_tries_left(p).map(|n| format!("{p:?} {n}")))
            .collect::<jpki::Result<_>>()?;
        Ok(((), format!("{}; tries {}", token.describe(), tries.join(", "))))
    })?;
    let anchors = vec![ca.ca(pki::CaKind::Auth).cert.clone(), ca.ca(pki::CaKind::Sign).cert.clone()];
    r.run("read and validate the auth certificate", || {
        let auth = cert(&card.read_certificate(CertType::Auth)?)?;
        let ca_cert = cert(&card.read_certificate(CertType::AuthCa)?)?;
        pki::chain::validate_path(&auth, &[], &[ca_cert], SystemTime::now())?;
        Ok(((), format!("{} (no personal data)", auth.tbs_certificate.subject)))
    })?;
    r.run("wrong auth PIN is counted, right PIN resets", || {
        let err = card.verify(PinId::Auth, "0000").expect_err("wrong PIN accepted");
        ensure!(matches!(err, jpki::Error::WrongPin { tries_left: 2, .. }), "unexpected answer: {err}");
        card.verify(PinId::Auth, "1234")?;
        ensure!(card.pin_tries_left(PinId::Auth)? == 3, "counter not reset");
        Ok(((), err.to_string()))
    })?;
    r.run("auth key signs a login challenge", || {
        let challenge = b"login challenge from a relying party";
        let h = pki::HashAlg::Sha256;
        card.reselect()?;
        card.verify(PinId::Auth, "1234")?;
        let sig = card.sign(KeyType::Auth, &h.digest_info(&h.digest(challenge)))?;
        let auth = cert(&card.read_certificate(CertType::Auth)?)?;
        pki::rsa::verify(&pki::cert::public_key_der(&auth)?, h, challenge, &sig)?;
        Ok(((), format!("{}-byte signature verified", sig.len())))
    })?;
    let content = "公的個人認証 demo document\n".as_bytes();
    let cms = r.run("CMS signature with the sign key", || {
        card.verify(PinId::Sign, "abc123")?;
        let options =
            pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
        let der = jpki::sign_cms(&mut card, KeyType::Sign, content, &options)?;
        std::fs::write(dir.join("document.p7m"), &der)?;
        let len = der.len();
        Ok((der, format!("{len} bytes, document.p7m")))
    })?;
    r.run("verify the CMS signature as a relying party", || {
        let v =
            pki::cms::verify(&cms, &pki::cms::VerifyOptions { anchors: &anchors, detached_content: None, at: None })?;
        ensure!(v.content == content, "content differs");
        let holder = pki::describe::holder_attributes(&v.signer).context("no holder attributes")?;
        Ok(((), format!("chain of {}, signed by {} ({})", v.path.len(), holder.name, holder.birth)))
    })?;
    r.run("tampered content is rejected", || {
        let mut bad = cms.clone();
        let at = bad.windows(content.len()).position(|w| w == content).context("content not embedded")?;
        bad[at] ^= 1;
        let err =
            pki::cms::verify(&bad, &pki::cms::VerifyOptions { anchors: &anchors, detached_content: None, at: None })
                .expect_err("tampered CMS accepted");
        Ok(((), err.to_string()))
    })?;
    Ok(())
}
