//! Fixtures shared by the cross-party tests: a local CA and a card made once.

use mynacard::personalize::{new_card, InitialPins};
use std::sync::OnceLock;

/// A local CA directory and one card state issued by it, made once.
pub struct Fixture {
    /// Keeps the CA directory alive.
    pub dir: tempfile::TempDir,
    /// The CA.
    pub ca: pki::ca::LocalCa,
    /// A personalized card.
    pub card: mynacard::CardState,
}

/// The holder used by the fixtures.
pub fn holder() -> pki::Holder {
    pki::Holder {
        name: "試験 花子".into(),
        address: "大阪府大阪市北区中之島1-3-20".into(),
        birth: "19920229".into(),
        sex: pki::Sex::Female,
        prefecture: "Osaka".into(),
        municipality: "Osaka-shi".into(),
    }
}

/// The shared fixture.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).expect("CA");
        let card = new_card(&ca, &holder(), "123456789018", InitialPins::test_card()).expect("card");
        Fixture { dir, ca, card }
    })
}

/// A fresh in-process client over a copy of the fixture card.
pub fn client() -> jpki::JpkiCard<transport::InProcess<mynacard::MynaCard>> {
    let card = mynacard::MynaCard::in_memory(fixture().card.clone()).expect("card");
    jpki::JpkiCard::new(transport::InProcess::new(card))
}

/// Runs `openssl` with `args`; returns (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl").args(args).output().expect("openssl is installed (scripts/deps)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Writes a DER certificate as PEM to `dir/name` (for OpenSSL); returns the path.
pub fn write_pem(dir: &std::path::Path, name: &str, der: &[u8]) -> String {
    let cert = pki::cert::parse_certificates(der).expect("certificate").remove(0);
    let path = dir.join(name);
    std::fs::write(&path, pki::cert::to_pem(&cert).expect("PEM")).expect("write");
    path.to_string_lossy().into_owned()
}

/// The JPKI app as the phones of the tests install it.
pub fn jpki_app_identity() -> phone::App {
    phone::App::new("jp.go.jpki.app", b"the JPKI app's signing certificate".to_vec())
}

/// A new phone whose SE was made with the deployment's ISD master key,
/// running the app `identity`.
pub fn new_phone(d: &testbed::Deployment, identity: phone::App) -> phone::app::JpkiApp {
    let factory = testbed::devices::Factory::open(&d.dir).expect("the deployment's device factory");
    factory.phone(identity, testbed::devices::PhoneState::Good, "openjpki test phone").expect("a phone")
}
