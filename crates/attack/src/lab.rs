//! The system under attack: a fresh deployment (the JPKI service, the
//! SEI-TSM and the SP-TSM on loopback HTTPS, SQLite stores in a temporary
//! directory) with two network hops the attacker holds — a [`Tap`] between
//! the phones and the SP-TSM, and one between the SP-TSM and the JPKI
//! service — and the parties the attacks need: My Number cards issued by
//! that JPKI service, phones whose SE was made with the deployment's ISD
//! master key, the JPKI app on them.

use crate::tap::Tap;
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use phone::app::JpkiApp;
use phone::App;
use svc::tls::Service;
use testbed::Databases;
use testbed::Deployment;
use tsm_api::client::TsmClient;
use tsm_api::PhoneCertType as CertType;

/// An emulated My Number card, in-process.
pub type Card = JpkiCard<transport::InProcess<mynacard::MynaCard>>;

/// The signature password of every lab card ([`InitialPins::test_card`]).
pub const CARD_SIGN_PASSWORD: &str = "ABC123";
/// The phone PINs the lab sets after provisioning (auth, sign).
pub const PHONE_PINS: (&str, &str) = ("2468", "PHONE1");
/// Both certificate types.
pub const BOTH: [CertType; 2] = [CertType::Auth, CertType::Sign];

/// A running deployment with the attacker's taps in place.
#[derive(Debug)]
pub struct Lab {
    /// The services (dropping the lab stops them).
    pub deployment: Deployment,
    /// Between every phone and the SP-TSM.
    pub phone_tap: Tap,
    /// Between the SP-TSM and the JPKI service.
    pub jlis_tap: Tap,
    dir: tempfile::TempDir,
}

/// The genuine JPKI app: the package name and signing certificate the SP
/// registered with the SEI-TSM (so the ARA-M rule names it).
pub fn jpki_app_identity() -> App {
    App::new("jp.go.jpki.app", b"J-LIS JPKI app signing certificate (openjpki lab)".to_vec())
}

/// An app the attacker installed on the same phone.
pub fn rogue_app(name: &str) -> App {
    App::new(name, format!("{name} signing certificate").into_bytes())
}

fn lab_err(what: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Lab {
    /// Starts a fresh deployment with both taps (needs a multi-threaded
    /// tokio runtime: the TSMs' flows run on blocking threads).
    pub async fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let jlis_tap = Tap::bind().await?;
        let phone_tap = Tap::bind().await?;
        let hash = hex::encode_upper(pki::HashAlg::Sha256.digest(&jpki_app_identity().signing_certificate));
        let deployment =
            Deployment::create_routed(dir.path(), &hash, 10, Databases::default(), Some(jlis_tap.url())).await?;
        jlis_tap.set_upstream(socket(&deployment.jlis_url)?).await;
        phone_tap.set_upstream(socket(&deployment.sp_url)?).await;
        Ok(Self { deployment, phone_tap, jlis_tap, dir })
    }

    /// The deployment's directory (its TLS material, keys and stores).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The SP-TSM as the phones reach it: through the phone tap, pinned.
    pub fn sp(&self) -> Result<TsmClient, String> {
        TsmClient::new(&self.phone_tap.url(), &self.deployment.tls_ca, Service::SpTsm, None).map_err(|e| e.to_string())
    }

    /// The SEI-TSM, pinned.
    pub fn sei(&self) -> Result<TsmClient, String> {
        self.deployment.sei()
    }

    /// A new card issued by the lab's JPKI service (municipal office).
    pub async fn card(&self) -> Result<Card, String> {
        let state = self
            .deployment
            .make_card(&holder(), "123456789018", InitialPins::test_card())
            .await
            .map_err(lab_err("card"))?;
        let card = mynacard::MynaCard::in_memory(state).map_err(|e| format!("card: {e}"))?;
        Ok(JpkiCard::new(transport::InProcess::new(card)))
    }

    /// A new phone (SE made with the deployment's ISD master key, its
    /// attestation key certified by the SE issuer; a TEE in a good state)
    /// with the genuine JPKI app, not yet prepared.
    pub fn phone(&self) -> Result<JpkiApp, String> {
        self.phone_in(testbed::devices::PhoneState::Good)
    }

    /// [`Lab::phone`] whose TEE attests device `state`.
    pub fn phone_in(&self, state: testbed::devices::PhoneState) -> Result<JpkiApp, String> {
        testbed::devices::Factory::open(self.dir())?.phone(jpki_app_identity(), state, "openjpki attack lab phone")
    }

    /// A phone prepared by the SEI-TSM (security domain, applet, ARA-M rule).
    pub async fn prepared_phone(&self) -> Result<JpkiApp, String> {
        let app = self.phone()?;
        app.prepare(&self.sei()?).await.map_err(|e| format!("preparation: {e}"))?;
        Ok(app)
    }

    /// A phone holding both certificates of `card`'s holder, PINs set.
    pub async fn provisioned_phone(&self, card: &mut Card) -> Result<JpkiApp, String> {
        let app = self.prepared_phone().await?;
        let applied =
            app.apply(&self.sp()?, card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(|e| format!("application: {e}"))?;
        applied.outcome.map_err(|e| format!("provisioning: {e}"))?;
        app.set_pins(PHONE_PINS.0.as_bytes(), PHONE_PINS.1.as_bytes()).map_err(|e| format!("PINs: {e}"))?;
        Ok(app)
    }

    /// A victim's phone, provisioned with a new card, and a snapshot of its
    /// SE before anything is attempted.
    pub async fn victim(&self) -> Result<(JpkiApp, String), String> {
        let mut card = self.card().await?;
        let victim = self.provisioned_phone(&mut card).await?;
        let before = se_snapshot(&victim);
        Ok((victim, before))
    }

    /// The JPKI service's links for an SE (certificates issued to it).
    pub async fn links(&self, se_id: &str) -> Result<serde_json::Value, String> {
        let operator = self.deployment.operator()?;
        operator.links_of_se(se_id).await.map_err(|e| format!("links: {e}"))
    }

    /// How many phone certificates the JPKI service has linked to `se_id`.
    pub async fn issued_to(&self, se_id: &str) -> Result<usize, String> {
        let links = self.links(se_id).await?;
        Ok(links["links"].as_array().map_or(0, Vec::len))
    }

    /// What a card-signed application says, and the card certificate that
    /// signed it (DER), as the attacker who saw it in clear would read it.
    pub fn application_of(&self, cms: &[u8]) -> Result<(jlis::application::Application, Vec<u8>), String> {
        let anchors = self.deployment.jpki_cas()?;
        let options = pki::cms::VerifyOptions { anchors: &anchors, detached_content: None, at: None };
        let checked = pki::cms::verify(cms, &options).map_err(|e| e.to_string())?;
        let card = der::Encode::to_der(&checked.signer).map_err(|e| e.to_string())?;
        Ok((jlis::application::Application::parse(&checked.content)?, card))
    }

    /// The SP-TSM's record of an application (`GET /v1/applications/{id}`).
    pub async fn application(&self, id: &str) -> Result<serde_json::Value, String> {
        self.deployment.sp()?.application(id).await.map_err(|e| e.to_string())
    }
}

/// The SE's state, to compare before and after an attempt: registry, keys,
/// the applet's files, R, PINs and their counters, ARA-M rules — all but
/// the SCP03 sequence counters, which every INITIALIZE UPDATE advances by
/// design (GP Amd D §6.2.2.1), keys or not.
pub fn se_snapshot(app: &JpkiApp) -> String {
    let mut state = app.se_service().with_se(|se| serde_json::to_value(se.state()).unwrap_or_default());
    if let Some(registry) = state["registry"].as_array_mut() {
        for entry in registry {
            for set in entry["key_sets"].as_array_mut().into_iter().flatten() {
                set["sequence"] = serde_json::Value::Null;
            }
        }
    }
    state.to_string()
}

/// The holder of every lab card.
pub fn holder() -> pki::Holder {
    pki::Holder {
        name: "攻撃 試験".into(),
        address: "東京都千代田区霞が関2-1-2".into(),
        birth: "19900101".into(),
        sex: pki::Sex::Male,
        prefecture: "Tokyo".into(),
        municipality: "Chiyoda-ku".into(),
    }
}

fn socket(url: &str) -> Result<std::net::SocketAddr, String> {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{url}: {e}"))
}
