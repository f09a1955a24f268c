//! `jpki phone ...` against `jpki serve all` running as its own process, as
//! a phone user drives it: a card issued by the JPKI service, a phone made
//! for the deployment, apply, PINs, signatures checked by OpenSSL, a second
//! phone superseding the first, the holder's revocation, and the card's
//! revocation shown as a cascade.

use crate::*;
use std::process::{Child, Stdio};

pub(crate) struct Services {
    pub(crate) dir: tempfile::TempDir,
    child: Child,
    endpoints: serde_json::Value,
}

impl Services {
    pub(crate) fn start() -> Self {
        Self::start_with(&[], None)
    }

    /// With more `serve all --init` arguments, and `SOFTHSM2_CONF`.
    fn start_with(extra: &[&std::ffi::OsStr], softhsm_conf: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let mut command = jpki();
        if let Some(conf) = softhsm_conf {
            command.env("SOFTHSM2_CONF", conf);
        }
        let mut child = command
            .args(["-v", "--json", "serve", "all", "--init", "--dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let endpoints = serde_json::Deserializer::from_reader(stdout).into_iter().next().unwrap().unwrap();
        Self { dir, child, endpoints }
    }

    /// The municipal office: `jpki card new --services SYS`, a card file in `dir`.
    pub(crate) fn new_card(&self, dir: &Path) -> PathBuf {
        let card = dir.join("card.json");
        ok(jpki().args(["card", "new", "-o"]).arg(&card).arg("--services").arg(self.dir.path()));
        card
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn url(&self, which: &str) -> String {
        self.endpoints[which].as_str().unwrap().to_string()
    }

    /// The operator revokes `serial` at the JPKI service (curl, bearer token).
    fn revoke(&self, serial: &str) -> serde_json::Value {
        let token = std::fs::read_to_string(self.path("operator.token")).unwrap();
        let body =
            serde_json::json!({ "request_id": "cli-test-revocation", "serial": serial, "reason": "key-compromise" });
        let o = std::process::Command::new("curl")
            .arg("-s")
            .arg("--cacert")
            .arg(self.path("tls/ca.pem"))
            .args(["-H", "content-type: application/json", "-H", &format!("authorization: Bearer {}", token.trim())])
            .args(["-H", "x-request-id: operator-revocation-1"])
            .args(["-d", &body.to_string()])
            .arg(format!("{}/v1/revocations", self.url("jlis_url")))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn ok(c: &mut std::process::Command) -> Output {
    let o = run(c);
    assert!(o.status.success(), "{}", text(&o));
    o
}

pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn phone(dir: &Path) -> std::process::Command {
    let mut c = jpki();
    c.env_remove("JPKI_NEW_AUTH_PIN").env_remove("JPKI_NEW_SIGN_PIN").env("JPKI_PHONE", dir);
    c
}

/// `openssl cms -verify` of `p7s` (DER) against the CA in `ca` succeeds.
pub(crate) fn assert_cms_verifies(p7s: &Path, ca: &Path) {
    let (verified, out) = openssl(&[
        "cms".as_ref(),
        "-verify".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        p7s.as_os_str(),
        "-CAfile".as_ref(),
        ca.as_os_str(),
        "-purpose".as_ref(),
        "any".as_ref(),
    ]);
    assert!(verified && out.contains("Verification successful"), "{out}");
}

fn openssl(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let o = std::process::Command::new("openssl").args(args).output().unwrap();
    (o.status.success(), text(&o))
}

#[test]
fn a_phone_applies_signs_is_superseded_revoked_and_shows_the_cascade() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());

    // Phone 1: made for the deployment, prepared, applied for, PINs set.
    let (p1, p2) = (work.path().join("phone1"), work.path().join("phone2"));
    let made =
        json(&ok(phone(&p1).args(["--json", "phone", "new", "--dir"]).arg(&p1).arg("--services").arg(s.dir.path())));
    assert_eq!(made["prepared"], true);
    let applied = json(&ok(phone(&p1)
        .args(["--json", "phone", "apply", "--card"])
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123")
        .env("JPKI_NEW_AUTH_PIN", "2468")
        .env("JPKI_NEW_SIGN_PIN", "phone1")));
    assert_eq!(applied["pins_set"], true, "{applied}");
    assert_eq!(applied["certificates"].as_array().unwrap().len(), 2);

    // Signatures a relying party checks with OpenSSL alone.
    let doc = work.path().join("doc.txt");
    std::fs::write(&doc, b"a document signed on the phone").unwrap();
    let (p7s, sig, cert) = (work.path().join("doc.p7s"), work.path().join("doc.sig"), work.path().join("auth.pem"));
    ok(phone(&p1).args(["phone", "cms", "sign"]).arg(&doc).arg("-o").arg(&p7s).env("JPKI_SIGN_PIN", "PHONE1"));
    assert_cms_verifies(&p7s, &s.path("ca/sign-ca.pem"));
    ok(phone(&p1)
        .args(["phone", "sign", "-t", "auth"])
        .arg(&doc)
        .arg("-o")
        .arg(&sig)
        .arg("--cert-out")
        .arg(&cert)
        .env("JPKI_AUTH_PIN", "2468"));
    let public = work.path().join("auth.pub");
    let (_, key) = openssl(&["x509".as_ref(), "-in".as_ref(), cert.as_os_str(), "-pubkey".as_ref(), "-noout".as_ref()]);
    std::fs::write(&public, key).unwrap();
    let (verified, out) = openssl(&[
        "dgst".as_ref(),
        "-sha256".as_ref(),
        "-verify".as_ref(),
        public.as_os_str(),
        "-signature".as_ref(),
        sig.as_os_str(),
        doc.as_os_str(),
    ]);
    assert!(verified, "{out}");

    // A wrong PIN: exit 2, a one-line message with the tries left.
    let o = run(phone(&p1)
        .args(["phone", "sign", "-t", "auth"])
        .arg(&doc)
        .arg("-o")
        .arg(&sig)
        .env("JPKI_AUTH_PIN", "0000"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("tries left"), "{}", text(&o));

    let status = json(&ok(phone(&p1).args(["--json", "phone", "status"])));
    assert!(status["certificates"].as_array().unwrap().iter().all(|c| c["status"] == "good"), "{status}");
    assert_eq!(status["card_certificate"]["status"], "good");

    // Phone 2 with the same card: phone 1 is superseded (device change).
    ok(phone(&p2).args(["phone", "new", "--dir"]).arg(&p2).arg("--services").arg(s.dir.path()));
    ok(phone(&p2).args(["phone", "apply", "--card"]).arg(&card).env("JPKI_SIGN_PIN", "ABC123"));
    let o = ok(phone(&p1).args(["phone", "status"]));
    assert_eq!(text(&o).matches("revoked (Superseded) — another phone applied").count(), 2, "{}", text(&o));
    ok(phone(&p2).args(["phone", "pin", "set"]).env("JPKI_NEW_AUTH_PIN", "1357").env("JPKI_NEW_SIGN_PIN", "PHONE2"));

    // The card is revoked: phone 2's certificates go with it.
    let card_serial = json(&ok(phone(&p2).args(["--json", "phone", "status"])))["card_certificate"]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = s.revoke(&card_serial);
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 3, "{revoked}");
    let o = ok(phone(&p2).args(["phone", "status"]));
    assert_eq!(
        text(&o).matches("the card's certificate is revoked, and with it this phone's").count(),
        2,
        "{}",
        text(&o)
    );
    // The operator's request id is in the service's structured log.
    let log = std::fs::read_to_string(s.path("serve.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("request_id=operator-revocation-1")
            && l.contains("path=/v1/revocations")
            && l.contains("status=200")),
        "{log}"
    );

    // The holder still deletes the dead keys from the phone.
    ok(phone(&p2).args(["phone", "revoke"]).env("JPKI_AUTH_PIN", "1357"));
    let o = run(phone(&p2).args(["phone", "sign", "-o", "/dev/null"]).arg(&doc).env("JPKI_SIGN_PIN", "PHONE2"));
    assert_eq!(o.status.code(), Some(2), "the key is gone from the SE: {}", text(&o));
    assert!(text(&o).contains("apply again"), "{}", text(&o));
}

#[test]
fn the_holder_revokes_a_phone_and_its_keys_are_deleted() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let p = work.path().join("phone");
    ok(phone(&p).args(["phone", "new", "--dir"]).arg(&p).arg("--services").arg(s.dir.path()));
    ok(phone(&p)
        .args(["phone", "apply", "--type", "auth", "--card"])
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123")
        .env("JPKI_NEW_AUTH_PIN", "2468")
        .env("JPKI_NEW_SIGN_PIN", "PHONE1"));
    let status = json(&ok(phone(&p).args(["--json", "phone", "status"])));
    assert_eq!(status["certificates"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["certificates"][0]["type"], "auth");

    let o = run(phone(&p).args(["phone", "revoke"]).env("JPKI_AUTH_PIN", "1111"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(json(&ok(phone(&p).args(["--json", "phone", "status"])))["certificates"][0]["status"], "good");

    ok(phone(&p).args(["phone", "revoke"]).env("JPKI_AUTH_PIN", "2468"));
    let status = json(&ok(phone(&p).args(["--json", "phone", "status"])));
    assert_eq!(status["certificates"][0]["status"], "revoked", "{status}");
    assert_eq!(status["keys_deleted"], true, "{status}");
    let o = run(phone(&p).args(["phone", "sign", "-t", "auth", "-o", "/dev/null", "-"]).env("JPKI_AUTH_PIN", "2468"));
    assert_eq!(o.status.code(), Some(2), "the key is gone from the SE: {}", text(&o));

    // No deployment there: a clear message naming the command to run.
    let o = run(jpki().args(["card", "new", "-o"]).arg(work.path().join("c.json")).arg("--services").arg(work.path()));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("jpki serve all --init"), "{}", text(&o));
    assert!(!work.path().join("c.json").exists());

    // No phone directory: a clear message naming the command to run.
    let o = run(jpki().args(["phone", "status", "--dir"]).arg(work.path().join("nothing")));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("jpki phone new"), "{}", text(&o));
}

#[test]
fn operators_hold_release_revoke_and_look_up_from_the_command_line() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = work.path().join("card.json");
    let made = json(&ok(jpki().args(["--json", "card", "new", "-o"]).arg(&card).arg("--services").arg(s.dir.path())));
    let serial = made["sign_cert"]["serial"].as_str().unwrap().to_string();
    let operator = |args: &[&str]| {
        let mut c = jpki();
        c.args(["operator"]).args(args).arg("--services").arg(s.dir.path());
        run(&mut c)
    };
    let status = |serial: &str| {
        let o = operator(&["show", serial]);
        assert!(o.status.success(), "{}", text(&o));
        let mut c = jpki();
        c.args(["--json", "operator", "show", serial]).arg("--services").arg(s.dir.path());
        json(&ok(&mut c))["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status(&serial), "good");

    let o = operator(&["hold", &serial]);
    assert!(o.status.success() && text(&o).contains("is on hold"), "{}", text(&o));
    assert_eq!(status(&serial), "hold");
    // A second hold is refused with the service's reason, and changes nothing.
    let o = operator(&["hold", &serial]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot hold it"), "{}", text(&o));
    assert!(operator(&["release", &serial]).status.success());
    assert_eq!(status(&serial), "good");

    let o = operator(&["revoke", &serial, "--reason", "key-compromise"]);
    assert!(o.status.success() && text(&o).contains("key-compromise"), "{}", text(&o));
    assert_eq!(status(&serial), "revoked");
    let o = operator(&["hold", &serial]);
    assert_eq!(o.status.code(), Some(2), "a revoked certificate cannot be held: {}", text(&o));
    // A request id used twice is a replay: the second command changes nothing.
    let auth = made["auth_cert"]["serial"].as_str().unwrap().to_string();
    assert!(operator(&["hold", &auth, "--request-id", "desk-7-0001"]).status.success());
    let o = operator(&["release", &auth, "--request-id", "desk-7-0001"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("replay"), "{}", text(&o));
    assert_eq!(status(&auth), "hold");

    // Bad input: one line, exit 2, nothing sent.
    let o = operator(&["show", "not-a-serial"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a serial number"), "{}", text(&o));
    let o = operator(&["show", "0123"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).to_lowercase().contains("unknown"), "{}", text(&o));
    let o = operator(&["links", "00112233445566778899"]);
    assert!(o.status.success() && text(&o).contains("No certificates"), "{}", text(&o));

    // A wrong token is refused by the service.
    let wrong = work.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-operator-token").unwrap();
    let o = run(jpki()
        .args(["operator", "show", &serial, "--jlis", &s.url("jlis_url"), "--tls-ca"])
        .arg(s.path("tls/ca.pem"))
        .arg("--operator-token-file")
        .arg(&wrong));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("403") || text(&o).contains("forbidden"), "{}", text(&o));
}

/// Attack pattern 8 through the command a holder runs: someone else's card
/// and guessed signature passwords. Each `jpki phone apply` spends exactly
/// one try (the app never retries silently) until the password blocks;
/// then even the right one is refused, and no application reached the
/// SP-TSM.
#[test]
fn guessed_passwords_through_phone_apply_are_counted_once_each_until_the_card_locks() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let p = work.path().join("phone");
    ok(phone(&p).args(["phone", "new", "--dir"]).arg(&p).arg("--services").arg(s.dir.path()));
    let sign_tries = || {
        let status = json(&ok(jpki().args(["--json", "card", "status", "--card"]).arg(&card)));
        status["pins"][1]["tries_left"].as_u64().unwrap()
    };
    let apply =
        |password: &str| run(phone(&p).args(["phone", "apply", "--card"]).arg(&card).env("JPKI_SIGN_PIN", password));
    let mut tries = sign_tries();
    assert_eq!(tries, 5);
    while tries > 0 {
        let o = apply("WRONG123");
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let expected = if tries > 1 { format!("{} tries left", tries - 1) } else { "is blocked".to_string() };
        assert!(text(&o).contains(&expected), "{expected}: {}", text(&o));
        assert_eq!(sign_tries(), tries - 1, "one wrong password, one try");
        tries -= 1;
    }
    let o = apply("ABC123");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is blocked"), "{}", text(&o));
    let status = json(&ok(phone(&p).args(["--json", "phone", "status"])));
    assert!(status["application"].is_null(), "{status}");
}

/// SIGTERM (a service manager stopping `jpki serve all`) ends the process
/// cleanly: exit status 0, and each store closed, its write-ahead log
/// folded into the database file. Before, SIGTERM killed it where it
/// stood.
#[test]
fn sigterm_stops_the_services_cleanly_and_closes_their_stores() {
    let mut services = Services::start();
    let cards = tempfile::tempdir().unwrap();
    services.new_card(cards.path());
    let pid = services.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = services.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running 30 s after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(services.path("serve.log")).unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("Stopped: requests in flight answered, stores closed."), "{log}");
    for store in ["jlis.sqlite", "sei-tsm.sqlite", "sp-tsm.sqlite"] {
        assert!(services.path(store).exists(), "{store}");
        let wal = services.path(&format!("{store}-wal"));
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(size, 0, "{} still holds {size} bytes", wal.display());
    }
}

/// Keys in an HSM (issue 15, point 5): `jpki serve all --init` with a
/// SoftHSM2 token keeps the CA and OCSP responder keys, the ISD master key
/// and the vault key in the token — no key file is written — and the whole
/// phone flow runs on them: preparation (ISD keys derived by the token's
/// CMAC), the SP-TSM's sealed domain keys (the token's AES-GCM),
/// certificates signed by the token's CA keys and verified by OpenSSL, and
/// OCSP answers signed by the responder key in the token. OpenSC's
/// pkcs11-tool sees the keys there, and none can be read out.
#[test]
fn the_whole_phone_flow_runs_with_every_key_in_a_softhsm2_token() {
    let hsm_dir = tempfile::tempdir().unwrap();
    let (keys, conf) = hsm::softhsm::init_token(hsm_dir.path(), "openjpki-cli", "246810").unwrap();
    let s = Services::start_with(
        &[
            "--pkcs11-module".as_ref(),
            keys.module.as_os_str(),
            "--pkcs11-token".as_ref(),
            "openjpki-cli".as_ref(),
            "--pkcs11-pin-file".as_ref(),
            keys.pin_file.as_os_str(),
        ],
        Some(&conf),
    );
    for file in ["ca/auth-ca.key.pem", "ca/sign-ca.key.pem", "ca/auth-ocsp.key.pem", "sp-vault.key", "ca.passphrase"] {
        assert!(!s.path(file).exists(), "{file} written beside a token");
    }
    let listed = std::process::Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--module"])
        .arg(&keys.module)
        .args(["--token-label", "openjpki-cli", "--login", "--pin", "246810", "--list-objects"])
        .output()
        .unwrap();
    let listed = text(&listed);
    for label in [
        "auth-ca",
        "sign-ca",
        "auth-ocsp",
        "sign-ocsp",
        "isd-master",
        "sp-vault",
        "rssp-ca",
        "rssp-record-mac",
        "rssp-seal",
    ] {
        assert!(listed.contains(&format!("label:      {label}")), "{label}: {listed}");
    }
    // Generated in the token (local), never extractable, for signing only.
    let private: Vec<&str> = listed.split("Private Key Object").skip(1).collect();
    assert_eq!(private.len(), 5, "the JPKI service's four and the RSSP CA's: {listed}");
    for key in private {
        assert!(key.contains("Usage:      sign\n"), "{key}");
        assert!(key.contains("Access:     sensitive, always sensitive, never extractable, local"), "{key}");
    }

    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let p1 = work.path().join("phone1");
    ok(phone(&p1).args(["phone", "new", "--dir"]).arg(&p1).arg("--services").arg(s.dir.path()));
    let applied = json(&ok(phone(&p1)
        .args(["--json", "phone", "apply", "--card"])
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123")
        .env("JPKI_NEW_AUTH_PIN", "2468")
        .env("JPKI_NEW_SIGN_PIN", "phone1")));
    assert_eq!(applied["certificates"].as_array().unwrap().len(), 2, "{applied}");
    let doc = work.path().join("doc.txt");
    std::fs::write(&doc, b"signed with a phone whose certificate an HSM-held CA key signed").unwrap();
    let p7s = work.path().join("doc.p7s");
    ok(phone(&p1).args(["phone", "cms", "sign"]).arg(&doc).arg("-o").arg(&p7s).env("JPKI_SIGN_PIN", "PHONE1"));
    assert_cms_verifies(&p7s, &s.path("ca/sign-ca.pem"));
    // OCSP: answered by the delegated responder whose key is in the token.
    let status = json(&ok(phone(&p1).args(["--json", "phone", "status"])));
    assert!(status["certificates"].as_array().unwrap().iter().all(|c| c["status"] == "good"), "{status}");
    assert_eq!(status["card_certificate"]["status"], "good");
}

/// `jpki load` against a running deployment (issue 15, point 9): a small
/// launch day completes with no error, each kind of operation happens and
/// has its latency figures; a rate of 0 is refused (exit 2).
#[test]
fn jpki_load_runs_a_small_launch_day_with_no_error() {
    let s = Services::start();
    let o = ok(jpki().args(["--json", "load", "--services"]).arg(s.dir.path()).args([
        "--phones",
        "8",
        "--rate",
        "4",
        "--seconds",
        "4",
    ]));
    let report = json(&o);
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["skipped_all_cards_busy"], 0, "{report:#}");
    let ok_of = |kind: &str| report["kinds"][kind]["ok"].as_u64().unwrap_or(0);
    assert!(ok_of("use") + ok_of("application") + ok_of("revocation") >= 14, "{report:#}");
    assert!(ok_of("use") > 0, "{report:#}");
    let histogram: u64 =
        report["kinds"]["use"]["histogram"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(histogram, ok_of("use"), "every use in one bucket: {report:#}");
    assert!(report["kinds"]["use"]["p99_ms"].as_f64().unwrap() > 0.0, "{report:#}");
    let o = run(jpki().args(["load", "--services"]).arg(s.dir.path()).args(["--rate", "0"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Device trust from the command line (issue 18): `jpki phone new --state`
/// makes a phone whose TEE attests that state, `jpki phone attest` prints
/// its evidence decoded and the deployment's appraisal, and the SP-TSM
/// refuses the unlocked phone's application while the good one's goes on.
#[test]
fn phone_attest_shows_the_evidence_and_an_unlocked_phone_is_refused() {
    let s = Services::start();
    let work = tempfile::tempdir().unwrap();
    let card = s.new_card(work.path());
    let (good, unlocked) = (work.path().join("good"), work.path().join("unlocked"));
    ok(phone(&good).args(["phone", "new", "--dir"]).arg(&good).arg("--services").arg(s.dir.path()));
    ok(phone(&unlocked)
        .args(["phone", "new", "--state", "unlocked", "--dir"])
        .arg(&unlocked)
        .arg("--services")
        .arg(s.dir.path()));

    let evidence = work.path().join("evidence.cbor");
    let nonce = "00112233445566778899aabbccddeeff";
    let report = json(&ok(phone(&good).args(["--json", "phone", "attest", "--nonce", nonce, "--out"]).arg(&evidence)));
    assert_eq!(report["appraisal"]["status"], "affirming", "{report}");
    assert_eq!(report["evidence"]["nonce"], nonce);
    assert_eq!(report["key_attestation"]["device_locked"], true);
    assert_eq!(report["key_attestation"]["verified_boot_state"], "Verified");
    assert_eq!(report["app"]["package"], "jp.go.jpki.app");
    assert_eq!(std::fs::metadata(&evidence).unwrap().len(), report["evidence"]["bytes"].as_u64().unwrap());
    let text_report = text(&ok(phone(&good).args(["phone", "attest"])));
    assert!(
        text_report.contains("Appraisal by the deployment's verifier") && text_report.contains("Affirming"),
        "{text_report}"
    );

    let report = json(&ok(phone(&unlocked).args(["--json", "phone", "attest"])));
    assert_eq!(report["appraisal"]["status"], "contraindicated", "{report}");
    assert_eq!(report["appraisal"]["reasons"][0]["code"], "bootloader_unlocked", "{report}");
    let o = run(phone(&unlocked).args(["phone", "apply", "--card"]).arg(&card).env("JPKI_SIGN_PIN", "ABC123"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("device_not_trusted") && text(&o).contains("bootloader_unlocked"), "{}", text(&o));

    // Bad input: a nonce that is not hex or too short; a state that does not exist.
    for bad in ["zz", "0011"] {
        let o = run(phone(&good).args(["phone", "attest", "--nonce", bad]));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    let o = run(phone(&work.path().join("x"))
        .args(["phone", "new", "--state", "jailbroken", "--dir"])
        .arg(work.path().join("x"))
        .arg("--services")
        .arg(s.dir.path()));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!work.path().join("x").exists());

    ok(phone(&good)
        .args(["phone", "apply", "--card"])
        .arg(&card)
        .env("JPKI_SIGN_PIN", "ABC123")
        .env("JPKI_NEW_AUTH_PIN", "2468")
        .env("JPKI_NEW_SIGN_PIN", "PHONE1"));
}
