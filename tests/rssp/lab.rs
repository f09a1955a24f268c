//! A deployment with the RSSP, a card, and the signer's moves.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::client::CscClient;
use csc_api::types::AuthDatum;
use csc_api::CscError;
use mynacard::personalize::InitialPins;
use rssp::instruction::{Instruction, Purpose, FORMAT};
use rssp::records::Factor;
use std::time::SystemTime;

pub const PASSWORD: &str = "correct horse battery";

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub d: testbed::Deployment,
    /// The RSSP's store: a SQLite file, or a database on `JPKI_TEST_POSTGRES`.
    pub rssp_database: String,
}

pub struct Signer {
    pub card: mynacard::CardState,
    pub registered: serde_json::Value,
    pub csc: CscClient,
}

impl Signer {
    pub fn credential(&self) -> String {
        self.registered["credential_id"].as_str().unwrap().to_string()
    }
    pub fn id(&self) -> String {
        self.registered["signer_id"].as_str().unwrap().to_string()
    }
    pub fn certificate(&self) -> Vec<u8> {
        B64.decode(self.registered["certificate"].as_str().unwrap()).unwrap()
    }
}

pub fn pin(p: &str) -> Vec<AuthDatum> {
    vec![AuthDatum { id: "PIN".into(), value: p.into() }]
}

/// `credentials/getChallenge` for the auth object `object` (`PHONE`, `CONFIRM`).
pub async fn challenge(s: &CscClient, credential: &str, object: &str) -> String {
    let r: serde_json::Value = s
        .call("credentials/getChallenge", &serde_json::json!({ "credentialID": credential, "authObjectID": object }))
        .await
        .unwrap();
    r["challenge"].as_str().unwrap().to_string()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    pki::HashAlg::Sha256.digest(data)
}

impl Lab {
    /// SQLite files, or databases of their own on the PostgreSQL server
    /// `JPKI_TEST_POSTGRES` names (tests/interop/postgres.sh).
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let databases = match std::env::var("JPKI_TEST_POSTGRES") {
            Err(_) => testbed::Databases::default(),
            Ok(server) => testbed::Databases {
                jlis: testkit::database::postgres(&server, "jlis").await,
                sei: testkit::database::postgres(&server, "sei_tsm").await,
                sp: testkit::database::postgres(&server, "sp_tsm").await,
                rssp: testkit::database::postgres(&server, "rssp").await,
            },
        };
        let rssp_database = match databases.rssp.strip_prefix("sqlite://") {
            Some(file) => format!("sqlite://{}", dir.path().join(file).display()),
            None => databases.rssp.clone(),
        };
        let d =
            testbed::Deployment::create_with(dir.path(), &app_hash(), 30, databases).await.expect("deployment starts");
        Self { dir, d, rssp_database }
    }

    /// A deployment whose keys — the RSSP's crypto module and CA too — are
    /// in the PKCS#11 token `keys`.
    pub async fn in_token(keys: hsm::Pkcs11Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d =
            testbed::Deployment::create_in_token(dir.path(), &app_hash(), 30, keys).await.expect("deployment starts");
        let rssp_database = format!("sqlite://{}", dir.path().join("rssp.sqlite").display());
        Self { dir, d, rssp_database }
    }

    /// An unauthenticated client of the RSSP.
    pub fn csc(&self) -> CscClient {
        CscClient::rssp(&self.d.rssp_url, &self.d.tls_ca).unwrap()
    }

    /// A client with `token` as bearer.
    pub fn with_token(&self, token: &str) -> CscClient {
        self.csc().with_token(token)
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rssp-admin.token")).unwrap().trim().to_string()
    }

    pub fn auditor_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rssp-auditor.token")).unwrap().trim().to_string()
    }

    pub async fn card(&self, name: &str) -> mynacard::CardState {
        let mut holder = openjpki_tests::holder();
        holder.name = name.into();
        self.d.make_card(&holder, "123456789018", InitialPins::test_card()).await.expect("card issued")
    }

    pub async fn nonce(&self, purpose: &str) -> String {
        let r: serde_json::Value =
            self.csc().call_path("/rssp/v1/nonces", &serde_json::json!({ "purpose": purpose })).await.unwrap();
        r["nonce"].as_str().unwrap().to_string()
    }

    /// Registers a new card's holder with `factor`.
    pub async fn signer(&self, name: &str, factor: Factor) -> Signer {
        let card = self.card(name).await;
        let nonce = self.nonce("register").await;
        let ins = registration(&nonce, factor, PASSWORD);
        let cms = card_signs(&card, &ins.to_bytes());
        let registered = self.register(&cms, PASSWORD).await.expect("registered");
        let csc = self.csc().login(registered["signer_id"].as_str().unwrap(), PASSWORD).await.expect("login");
        Signer { card, registered, csc }
    }

    pub async fn register(&self, cms: &[u8], password: &str) -> Result<serde_json::Value, CscError> {
        self.csc()
            .call_path("/rssp/v1/register", &serde_json::json!({ "cms": B64.encode(cms), "password": password }))
            .await
    }

    /// The signer's card-signed state change.
    pub async fn instruct(
        &self,
        card: &mynacard::CardState,
        purpose: Purpose,
        credential: &str,
    ) -> Result<serde_json::Value, CscError> {
        let nonce = self.nonce(purpose.as_str()).await;
        let cms = card_signs(card, &instruction(purpose, &nonce, credential).to_bytes());
        self.send_instruction(&cms).await
    }

    pub async fn send_instruction(&self, cms: &[u8]) -> Result<serde_json::Value, CscError> {
        self.csc().call_path("/rssp/v1/instructions", &serde_json::json!({ "cms": B64.encode(cms) })).await
    }

    pub async fn admin(&self, token: &str, credential: &str, action: &str) -> Result<serde_json::Value, CscError> {
        self.with_token(token)
            .call_path(&format!("/rssp/v1/admin/credentials/{credential}/{action}"), &serde_json::json!({}))
            .await
    }

    /// The RSSP's store, read directly (what an insider with the database sees).
    pub async fn store(&self) -> store::Store {
        store::Store::open(&self.rssp_database, rssp::schema::MIGRATIONS).await.unwrap()
    }

    pub fn rssp_ca_pem(&self) -> std::path::PathBuf {
        self.dir.path().join("rssp-ca").join(rssp::ca::CERT_FILE)
    }
}

fn app_hash() -> String {
    hex::encode_upper(pki::HashAlg::Sha256.digest(&openjpki_tests::jpki_app_identity().signing_certificate))
}

pub fn registration(nonce: &str, factor: Factor, password: &str) -> Instruction {
    Instruction {
        format: FORMAT.into(),
        service: "openjpki-rssp".into(),
        purpose: Purpose::Register,
        nonce: nonce.into(),
        credential: None,
        factor: Some(factor),
        password_binding: Some(rssp::instruction::password_binding(nonce, password)),
        confirmation_key: None,
    }
}

pub fn instruction(purpose: Purpose, nonce: &str, credential: &str) -> Instruction {
    Instruction {
        format: FORMAT.into(),
        service: "openjpki-rssp".into(),
        purpose,
        nonce: nonce.into(),
        credential: Some(credential.into()),
        factor: None,
        password_binding: None,
        confirmation_key: None,
    }
}

/// The card signs `content` (CMS, content attached) with its signature key.
pub fn card_signs(card: &mynacard::CardState, content: &[u8]) -> Vec<u8> {
    let emulated = mynacard::MynaCard::in_memory(card.clone()).unwrap();
    let mut c = jpki::JpkiCard::new(transport::InProcess::new(emulated));
    c.verify(jpki::PinId::Sign, "ABC123").unwrap();
    let options =
        pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
    jpki::sign_cms(&mut c, jpki::KeyType::Sign, content, &options).unwrap()
}

/// Authorises `hashes` with the password and signs them.
pub async fn sign(s: &Signer, hashes: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CscError> {
    let sad = s.csc.authorize(&s.credential(), hashes, pin(PASSWORD)).await?;
    s.csc.sign_hash(&s.credential(), &sad.sad, hashes).await
}

/// The public key of a certificate (DER SPKI).
pub fn spki(cert: &[u8]) -> Vec<u8> {
    pki::cert::public_key_der(&pki::cert::parse_certificates(cert).unwrap().remove(0)).unwrap()
}

/// `signature` is PKCS#1 v1.5 SHA-256 over `message` by `cert`'s key.
pub fn verifies(cert: &[u8], message: &[u8], signature: &[u8]) -> bool {
    pki::rsa::verify(&spki(cert), pki::HashAlg::Sha256, message, signature).is_ok()
}

/// Counts rows of `table` matching `where_`.
pub async fn count(store: &store::Store, sql: &'static str) -> i64 {
    store.read(move |tx| tx.optional(sql, &[])).await.unwrap().unwrap().int("n").unwrap()
}

/// The TOTP an authenticator app shows now for the key URI of a registration.
pub fn current_otp(totp_uri: &str) -> String {
    let secret = totp_uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    let (mut buffer, mut bits, mut seed) = (0u32, 0u32, vec![]);
    for c in secret.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {secret}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            seed.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    rssp::totp::hotp(&seed, rssp::totp::step_of(now), rssp::totp::DIGITS)
}
