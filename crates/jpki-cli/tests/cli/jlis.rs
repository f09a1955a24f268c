//! `jpki serve jlis` as relying parties, the municipal office and the SP-TSM
//! reach it: curl over HTTPS (with and without the SP-TSM's client
//! certificate), `openssl ocsp -url`, CRLs over HTTP, and `kill -9`.

use crate::*;
use base64::{engine::general_purpose::STANDARD, Engine};
use std::process::{Child, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Service {
    dir: tempfile::TempDir,
    https: u16,
    http: u16,
    child: Child,
}

impl Service {
    fn start(dir: tempfile::TempDir, https: u16, http: u16) -> Self {
        let child = jpki()
            .args(["serve", "jlis", "--config"])
            .arg(dir.path().join("jlis.toml"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Service { dir, https, http, child };
        for _ in 0..100 {
            if s.curl(&["-s", "-o", "/dev/null", &s.url("/healthz")]).0 {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("service did not start");
    }

    fn new() -> Self {
        let (dir, https, http) = Self::init();
        Self::start(dir, https, http)
    }

    /// `jpki serve jlis --init` in a new directory on free ports.
    fn init() -> (tempfile::TempDir, u16, u16) {
        let dir = tempfile::tempdir().unwrap();
        let (https, http) = (free_port(), free_port());
        let o = run(jpki().args(["serve", "jlis", "--init"]).arg(dir.path()).args([
            "--https-port",
            &https.to_string(),
            "--http-port",
            &http.to_string(),
        ]));
        assert!(o.status.success(), "{}", text(&o));
        (dir, https, http)
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https)
    }

    fn path(&self, p: &str) -> String {
        self.dir.path().join(p).to_string_lossy().into_owned()
    }

    fn curl(&self, args: &[&str]) -> (bool, String) {
        let o = std::process::Command::new("curl")
            .arg("--cacert")
            .arg(self.path("tls/ca.pem"))
            .args(args)
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// POST JSON; returns (HTTP status, body).
    fn post(&self, path: &str, body: &serde_json::Value, sp_tsm: bool, operator: bool) -> (u16, serde_json::Value) {
        let token = std::fs::read_to_string(self.path("operator.token")).unwrap();
        let mut args = vec![
            "-s".to_string(),
            "-w".into(),
            "\n%{http_code}".into(),
            "-X".into(),
            "POST".into(),
            "-H".into(),
            "content-type: application/json".into(),
            "-d".into(),
            body.to_string(),
        ];
        if sp_tsm {
            args.extend(["--cert".into(), self.path("tls/sp-tsm.pem"), "--key".into(), self.path("tls/sp-tsm.key")]);
        }
        if operator {
            args.extend(["-H".into(), format!("authorization: Bearer {}", token.trim())]);
        }
        args.push(self.url(path));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, out) = self.curl(&refs);
        let (body, code) = out.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(args: &[&str]) -> (bool, String) {
    let o = std::process::Command::new("openssl").args(args).output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn key_b64() -> String {
    STANDARD.encode(pki::RsaPrivateKey::generate_2048().unwrap().public_key_der())
}

fn pem_file(dir: &std::path::Path, name: &str, b64: &str) -> String {
    let der = STANDARD.decode(b64).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, pki::cert::to_pem(&pki::cert::parse_certificates(&der).unwrap()[0]).unwrap()).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn the_service_end_to_end_with_curl_and_openssl() {
    let s = Service::new();
    let holder = serde_json::json!({ "name": "窓口 次郎", "address": "京都府京都市", "birth": "19700707", "sex": "male", "prefecture": "Kyoto", "municipality": "Kyoto-shi" });
    let sign_key = pki::RsaPrivateKey::generate_2048().unwrap();
    let card = serde_json::json!({ "request_id": "card-1", "holder": holder, "auth_public_key": key_b64(), "sign_public_key": STANDARD.encode(sign_key.public_key_der()) });
    // The municipal office needs its token.
    assert_eq!(s.post("/v1/card-certificates", &card, false, false).0, 403);
    let (code, issued) = s.post("/v1/card-certificates", &card, false, true);
    assert_eq!(code, 200, "{issued}");
    let dir = s.dir.path().to_owned();
    let auth = pem_file(&dir, "auth.pem", issued["auth_certificate"].as_str().unwrap());
    let sign_der = issued["sign_certificate"].as_str().unwrap().to_string();
    let auth_ca = s.path("ca/auth-ca.pem");

    // The CA keys are encrypted at rest: OpenSSL opens them only with the passphrase.
    let key_file = s.path("ca/auth-ca.key.pem");
    assert!(std::fs::read_to_string(&key_file).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let pass = format!("file:{}", s.path("ca.passphrase"));
    assert!(openssl(&["pkey", "-in", &key_file, "-passin", &pass, "-noout"]).0);
    assert!(!openssl(&["pkey", "-in", &key_file, "-passin", "pass:wrong passphrase", "-noout"]).0);

    // A relying party asks OCSP over plain HTTP, with a nonce.
    let ocsp_url = format!("http://127.0.0.1:{}/ocsp", s.http);
    let ask = || {
        openssl(&[
            "ocsp", "-issuer", &auth_ca, "-cert", &auth, "-url", &ocsp_url, "-CAfile", &auth_ca, "-VAfile", &auth_ca,
        ])
    };
    let (ok, text) = ask();
    assert!(ok && text.contains("Response verify OK") && text.contains(": good"), "{text}");
    assert!(!text.contains("WARNING"), "nonce echoed: {text}");

    // The phone API refuses callers without the SP-TSM's certificate (⑩).
    let application = ::jlis::application::Application::example(&[::jlis::PhoneCertType::Sign])
        .sign_with(&sign_key, &STANDARD.decode(&sign_der).unwrap())
        .unwrap();
    let mut phone = serde_json::json!({ "request_id": "phone-1", "card_certificate": sign_der, "application": "", "phone_public_key": key_b64(), "se_id": "4F4A53450102030405", "cert_type": "sign" });
    let (code, body) = s.post("/v1/phone-certificates", &phone, false, true);
    assert_eq!((code, body["code"].as_str()), (403, Some("forbidden")));
    // The SP-TSM's word alone is not enough: the holder's card-signed application is checked.
    let (code, body) = s.post("/v1/phone-certificates", &phone, true, false);
    assert_eq!((code, body["code"].as_str()), (403, Some("bad_application")), "{body}");
    phone["application"] = "@@ not base64".into();
    let (code, body) = s.post("/v1/phone-certificates", &phone, true, false);
    assert_eq!((code, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    phone["request_id"] = "phone-2".into();
    phone["application"] = STANDARD.encode(&application).into();
    let (code, body) = s.post("/v1/phone-certificates", &phone, true, false);
    assert_eq!(code, 200, "{body}");
    let phone_serial = body["serial"].as_str().unwrap().to_string();
    // Sent again (the answer was lost): the same certificate; under the
    // same id with another key: a replay.
    let (code, again) = s.post("/v1/phone-certificates", &phone, true, false);
    assert_eq!((code, again["serial"].as_str()), (200, Some(phone_serial.as_str())), "{again}");
    phone["phone_public_key"] = key_b64().into();
    let (code, body) = s.post("/v1/phone-certificates", &phone, true, false);
    assert_eq!((code, body["code"].as_str()), (409, Some("replay")));
    let (code, body) = s.post("/v1/phone-certificates", &serde_json::json!({ "request_id": "x", "card_certificate": "@@", "phone_public_key": "", "se_id": "01", "cert_type": "sign" }), true, false);
    assert_eq!((code, body["code"].as_str()), (400, Some("invalid_request")), "{body}");

    // Revocation shows in OCSP and in the CRL.
    let auth_serial =
        ::jlis::service::serial_hex(&pki::cert::parse_certificates(&std::fs::read(&auth).unwrap()).unwrap()[0]);
    let (code, body) = s.post(
        "/v1/revocations",
        &serde_json::json!({ "request_id": "rev-1", "serial": auth_serial, "reason": "key-compromise" }),
        false,
        true,
    );
    assert_eq!(code, 200, "{body}");
    let (ok, text) = ask();
    assert!(ok && text.contains(": revoked") && text.contains("keyCompromise"), "{text}");
    let crl = dir.join("auth.crl");
    let o = std::process::Command::new("curl")
        .args(["-s", "-o"])
        .arg(&crl)
        .arg(format!("http://127.0.0.1:{}/crl/auth.crl", s.http))
        .status()
        .unwrap();
    assert!(o.success());
    let (ok, text) =
        openssl(&["crl", "-inform", "DER", "-in", crl.to_str().unwrap(), "-CAfile", &auth_ca, "-noout", "-text"]);
    assert!(ok && text.contains("verify OK") && text.contains(&auth_serial), "{text}");
    let (ok, spec) = s.curl(&["-s", &s.url("/openapi.json")]);
    assert!(
        ok && serde_json::from_str::<serde_json::Value>(&spec).unwrap()["paths"]["/v1/phone-certificates"].is_object()
    );

    // kill -9: the acknowledged phone certificate and its link survive.
    let https = s.https;
    let http = s.http;
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);
    let s = Service::start(dir, https, http);
    let token = std::fs::read_to_string(s.path("operator.token")).unwrap();
    let (ok, record) = s.curl(&[
        "-s",
        "-H",
        &format!("authorization: Bearer {}", token.trim()),
        &s.url(&format!("/v1/certificates/{phone_serial}")),
    ]);
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert!(ok && record["status"] == "good" && record["links"][0]["se_id"] == "4F4A53450102030405", "{record}");
    // The restarted service signs the log's head within its checkpoint interval.
    for _ in 0..50 {
        if std::path::Path::new(&s.path("audit.checkpoint")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let o = run(jpki().args(["audit", "verify", "--config"]).arg(s.path("jlis.toml")));
    let out = crate::text(&o);
    assert!(o.status.success() && out.contains("intact") && out.contains("anchored at entry"), "{out}");
    // Another key's word, or a file that is no checkpoint, is refused.
    let (other_key, bad_checkpoint) = (s.dir.path().join("other.pub"), s.dir.path().join("bad.checkpoint"));
    std::fs::write(&other_key, "42".repeat(32)).unwrap();
    std::fs::write(&bad_checkpoint, "{\"seq\": \"one\"}").unwrap();
    let verify = |extra: &[&std::ffi::OsStr]| {
        run(jpki().args(["audit", "verify", "--config"]).arg(s.path("jlis.toml")).args(extra))
    };
    let o = verify(&["--public-key".as_ref(), other_key.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::text(&o));
    assert!(crate::text(&o).contains("not signed by the service's audit key"), "{}", crate::text(&o));
    let o = verify(&["--checkpoint".as_ref(), bad_checkpoint.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", crate::text(&o));
    assert!(crate::text(&o).contains("not an audit checkpoint"), "{}", crate::text(&o));
}

#[test]
fn card_new_through_the_service_is_the_municipal_office_path() {
    let s = Service::new();
    let card = s.dir.path().join("card.json");
    let url = format!("https://localhost:{}", s.https);
    let new = |token: &str| {
        run(jpki().args(["card", "new", "--force", "--out"]).arg(&card).args([
            "--jlis",
            &url,
            "--tls-ca",
            &s.path("tls/ca.pem"),
            "--operator-token-file",
            token,
            "--json",
        ]))
    };
    // Without the right token the service refuses and no card is written.
    std::fs::write(s.dir.path().join("bad.token"), "not-the-token").unwrap();
    let o = new(&s.path("bad.token"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("forbidden") && !card.exists(), "{}", text(&o));

    let o = new(&s.path("operator.token"));
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["issuer"], url.as_str());

    // The card's certificate chains to the service's CA, and the service knows it.
    let o = run(jpki().args(["card", "cert", "-t", "auth", "--card"]).arg(&card));
    assert!(o.status.success(), "{}", text(&o));
    let cert = s.dir.path().join("card-auth.pem");
    std::fs::write(&cert, &o.stdout).unwrap();
    let (ok, out) = openssl(&["verify", "-x509_strict", "-CAfile", &s.path("ca/auth-ca.pem"), cert.to_str().unwrap()]);
    assert!(ok, "{out}");
    let serial = ::jlis::service::serial_hex(&pki::cert::parse_certificates(&o.stdout).unwrap()[0]);
    let token = std::fs::read_to_string(s.path("operator.token")).unwrap();
    let (ok, record) = s.curl(&[
        "-s",
        "-H",
        &format!("authorization: Bearer {}", token.trim()),
        &s.url(&format!("/v1/certificates/{serial}")),
    ]);
    assert!(ok && record.contains("\"status\":\"good\"") && record.contains("\"kind\":\"card\""), "{record}");
}

/// Regression (issue 13): `jpki audit verify` on a service that never ran
/// created an empty database and called the log intact.
#[test]
fn audit_verify_refuses_a_database_that_does_not_exist_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(jpki().args(["serve", "jlis", "--init"]).arg(dir.path()).args([
        "--https-port",
        &free_port().to_string(),
        "--http-port",
        &free_port().to_string(),
    ]));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(jpki().args(["audit", "verify", "--config"]).arg(dir.path().join("jlis.toml")));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no database at"), "{}", text(&o));
    assert!(!dir.path().join("jlis.sqlite").exists());
}

/// Dual control (issue 15) as operators meet it: the service refuses to
/// start with it on and one operator; with two, `jpki operator revoke
/// --reason key-compromise` by the first says the revocation awaits a
/// second operator and revokes nothing, the second revokes.
#[test]
fn dual_control_takes_two_operators_to_revoke_a_card_for_key_compromise() {
    let (dir, https, http) = Service::init();
    let config = dir.path().join("jlis.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("dual_control_key_compromise = true\n{original}")).unwrap();
    let o = run(jpki().args(["serve", "jlis", "--config"]).arg(&config));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("two operators"), "{}", text(&o));

    std::fs::write(dir.path().join("bob.token"), "bob-has-a-token-of-his-own").unwrap();
    let bob = "\n[[operators]]\nname = \"bob\"\nrole = \"operator\"\ntoken_file = \"bob.token\"\n";
    std::fs::write(&config, format!("dual_control_key_compromise = true\n{original}{bob}")).unwrap();
    let s = Service::start(dir, https, http);

    let card = s.dir.path().join("card.json");
    let url = format!("https://localhost:{}", s.https);
    let target = |token: &str| -> Vec<String> {
        vec![
            "--jlis".into(),
            url.clone(),
            "--tls-ca".into(),
            s.path("tls/ca.pem"),
            "--operator-token-file".into(),
            s.path(token),
        ]
    };
    let o = run(jpki().args(["card", "new", "--force", "--out"]).arg(&card).args(target("operator.token")));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(jpki().args(["card", "cert", "-t", "auth", "--card"]).arg(&card));
    let serial = ::jlis::service::serial_hex(&pki::cert::parse_certificates(&o.stdout).unwrap()[0]);
    let revoke = |token: &str| {
        run(jpki().args(["operator", "revoke", "--reason", "key-compromise"]).args(target(token)).arg(&serial))
    };
    let status = || {
        let token = std::fs::read_to_string(s.path("operator.token")).unwrap();
        s.curl(&[
            "-s",
            "-H",
            &format!("authorization: Bearer {}", token.trim()),
            &s.url(&format!("/v1/certificates/{serial}")),
        ])
        .1
    };

    let o = revoke("operator.token");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Approved by operator") && text(&o).contains("second operator"), "{}", text(&o));
    assert!(status().contains("\"status\":\"good\""), "{}", status());
    let o = revoke("operator.token");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("second operator"), "{}", text(&o));

    let o = revoke("bob.token");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("Revoked {serial}")), "{}", text(&o));
    assert!(status().contains("\"status\":\"revoked\""), "{}", status());
}
