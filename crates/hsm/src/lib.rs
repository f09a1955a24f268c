//! Keys in a PKCS#11 token — an HSM in production, SoftHSM2 in the tests —
//! through the `cryptoki` crate (issue 15, point 5). The private keys are
//! generated inside the token as sensitive, non-extractable token objects
//! and only ever used through it: signing with `CKM_RSA_PKCS` over the
//! DigestInfo (PKCS#11 v2.40 §2.1.6), so one mechanism serves every hash.
//!
//! - [`Pkcs11Config`]: which module, which token, the user PIN's file.
//! - [`Token`]: the token, logged in once, with a pool of sessions (a
//!   PKCS#11 session is used by one thread at a time).
//! - [`Pkcs11KeyStore`]: a [`pki::keystore::KeyStore`], so the CAs and
//!   their OCSP responders sign in the token without touching the profiles.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::Encode;
use pki::keystore::{KeyStore, KeyStoreError, Signer};
use pki::rsa::RsaError;
use pki::HashAlg;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where the keys are: `[pkcs11]` in a service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// File holding the token's user PIN.
    pub pin_file: PathBuf,
}

/// What went wrong with the token.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The module, the token or the PIN.
    #[error("PKCS#11 token {token:?} ({module}): {why}", module = .module.display())]
    Token {
        /// The module.
        module: PathBuf,
        /// The token's label.
        token: String,
        /// What failed.
        why: String,
    },
    /// An operation in the token failed.
    #[error("PKCS#11: {0}")]
    Operation(String),
}

fn op(what: &str) -> impl Fn(cryptoki::error::Error) -> HsmError + '_ {
    move |e| HsmError::Operation(format!("{what}: {e}"))
}

/// One loaded and initialized module per path: `C_Initialize` is once per
/// process, and `jpki serve all` runs three services in one.
fn module(path: &Path) -> Result<Pkcs11, String> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = MODULES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let m = Pkcs11::new(path).map_err(|e| format!("loading the module: {e}"))?;
    m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).map_err(|e| format!("C_Initialize: {e}"))?;
    modules.insert(path.to_owned(), m.clone());
    Ok(m)
}

/// A logged-in token.
pub struct Token {
    module: Pkcs11,
    slot: Slot,
    label: String,
    /// Idle sessions; the first one keeps the login alive.
    sessions: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("label", &self.label).field("slot", &self.slot).finish()
    }
}

impl Token {
    /// Loads the module, finds the token by label and logs in with the PIN
    /// in `pin_file`.
    pub fn open(config: &Pkcs11Config) -> Result<Arc<Self>, HsmError> {
        let fail = |why: String| HsmError::Token { module: config.module.clone(), token: config.token.clone(), why };
        let pin = zeroize::Zeroizing::new(
            std::fs::read_to_string(&config.pin_file)
                .map_err(|e| fail(format!("reading the PIN file {}: {e}", config.pin_file.display())))?,
        );
        let module = module(&config.module).map_err(&fail)?;
        let slots = module.get_slots_with_token().map_err(|e| fail(format!("listing slots: {e}")))?;
        let slot = slots
            .into_iter()
            .find(|s| module.get_token_info(*s).is_ok_and(|i| i.label().trim_end() == config.token))
            .ok_or_else(|| fail("no token with this label (initialize it, e.g. softhsm2-util --init-token)".into()))?;
        let session = module.open_rw_session(slot).map_err(|e| fail(format!("opening a session: {e}")))?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.trim().to_string().into()))) {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(fail(format!("logging in: {e}"))),
        }
        Ok(Arc::new(Self { module, slot, label: config.token.clone(), sessions: Mutex::new(vec![session]) }))
    }

    /// Runs `f` on an idle session (a new one if all are busy).
    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T, HsmError>) -> Result<T, HsmError> {
        let idle = self.sessions.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let session = match idle {
            Some(s) => s,
            None => self.module.open_rw_session(self.slot).map_err(op("opening a session"))?,
        };
        let result = f(&session);
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).push(session);
        result
    }

    /// The object of `class` called `label`, if the token holds one.
    fn find(&self, session: &Session, class: ObjectClass, label: &str) -> Result<Option<ObjectHandle>, HsmError> {
        let found = session
            .find_objects(&[Attribute::Class(class), Attribute::Label(label.as_bytes().to_vec())])
            .map_err(op("C_FindObjects"))?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            n => Err(HsmError::Operation(format!("{n} objects labelled {label:?} in token {:?}", self.label))),
        }
    }

    /// The RSA key pair called `label`.
    pub fn rsa_key(self: &Arc<Self>, label: &str) -> Result<Option<RsaKey>, HsmError> {
        self.with_session(|s| {
            let (Some(private), Some(public)) =
                (self.find(s, ObjectClass::PRIVATE_KEY, label)?, self.find(s, ObjectClass::PUBLIC_KEY, label)?)
            else {
                return Ok(None);
            };
            let public_der = public_key_der(s, public)?;
            Ok(Some(RsaKey { token: self.clone(), private, public_der, label: label.to_string() }))
        })
    }

    /// Generates an RSA-2048 key pair called `label` in the token: the
    /// private key sensitive, never extractable, for signing only.
    pub fn generate_rsa(self: &Arc<Self>, label: &str) -> Result<RsaKey, HsmError> {
        self.with_session(|s| {
            if self.find(s, ObjectClass::PRIVATE_KEY, label)?.is_some() {
                return Err(HsmError::Operation(format!("token {:?} already holds a key {label:?}", self.label)));
            }
            let name = Attribute::Label(label.as_bytes().to_vec());
            let public = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                name.clone(),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Decrypt(false),
                Attribute::Unwrap(false),
                name,
            ];
            let (public, private) = s
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                .map_err(op("C_GenerateKeyPair"))?;
            let public_der = public_key_der(s, public)?;
            tracing::info!(label, token = %self.label, "RSA key generated in the token");
            Ok(RsaKey { token: self.clone(), private, public_der, label: label.to_string() })
        })
    }

    /// The AES key called `label`.
    pub fn aes_key(self: &Arc<Self>, label: &str) -> Result<Option<AesKeyRef>, HsmError> {
        self.with_session(|s| {
            Ok(self.find(s, ObjectClass::SECRET_KEY, label)?.map(|handle| AesKeyRef { token: self.clone(), handle }))
        })
    }

    /// Imports `value` as the AES key `label` (the key ceremony for a key
    /// shared with another party, such as the ISD master key the SE
    /// manufacturer holds too): sensitive, not extractable afterwards.
    pub fn import_aes(self: &Arc<Self>, label: &str, value: &[u8]) -> Result<AesKeyRef, HsmError> {
        self.with_session(|s| {
            if self.find(s, ObjectClass::SECRET_KEY, label)?.is_some() {
                return Err(HsmError::Operation(format!("token {:?} already holds a key {label:?}", self.label)));
            }
            let handle = s
                .create_object(
                    &[
                        vec![Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES)],
                        aes_template(label),
                        vec![Attribute::Value(value.to_vec())],
                    ]
                    .concat(),
                )
                .map_err(op("C_CreateObject"))?;
            Ok(AesKeyRef { token: self.clone(), handle })
        })
    }
}

impl Token {
    /// Generates an AES-256 key called `label` inside the token (sensitive,
    /// never extractable; CMAC and GCM only).
    pub fn generate_aes(self: &Arc<Self>, label: &str) -> Result<AesKeyRef, HsmError> {
        self.with_session(|s| {
            if self.find(s, ObjectClass::SECRET_KEY, label)?.is_some() {
                return Err(HsmError::Operation(format!("token {:?} already holds a key {label:?}", self.label)));
            }
            let handle = s
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[aes_template(label), vec![Attribute::ValueLen(32.into())]].concat(),
                )
                .map_err(op("C_GenerateKey"))?;
            Ok(AesKeyRef { token: self.clone(), handle })
        })
    }

    /// Destroys the RSA key pair called `label` (`C_DestroyObject` on both
    /// halves); `false` if the token held none.
    pub fn destroy_rsa(self: &Arc<Self>, label: &str) -> Result<bool, HsmError> {
        self.with_session(|s| {
            let mut found = false;
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                if let Some(handle) = self.find(s, class, label)? {
                    s.destroy_object(handle).map_err(op("C_DestroyObject"))?;
                    found = true;
                }
            }
            Ok(found)
        })
    }

    /// `n` bytes from the token's random number generator (`C_GenerateRandom`).
    pub fn random(&self, n: usize) -> Result<Vec<u8>, HsmError> {
        self.with_session(|s| {
            let mut out = vec![0u8; n];
            s.generate_random_slice(&mut out).map_err(op("C_GenerateRandom"))?;
            Ok(out)
        })
    }
}

impl RsaKey {
    /// RSASSA-PKCS1-v1_5 over a DigestInfo the caller built
    /// (`CKM_RSA_PKCS`, PKCS#11 v2.40 §2.1.6).
    pub fn sign_digest_info(&self, digest_info: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.token.with_session(|s| s.sign(&Mechanism::RsaPkcs, self.private, digest_info).map_err(op("C_Sign")))
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// An AES key in the token, imported or generated: sensitive, never
/// extractable afterwards, for CMAC (sign) and GCM (encrypt, decrypt).
fn aes_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// `SubjectPublicKeyInfo` (RFC 3279 §2.3.1) from the public key object's
/// modulus and exponent.
fn public_key_der(s: &Session, public: ObjectHandle) -> Result<Vec<u8>, HsmError> {
    let attributes = s
        .get_attributes(public, &[AttributeType::Modulus, AttributeType::PublicExponent])
        .map_err(op("C_GetAttributeValue"))?;
    let (mut n, mut e) = (None, None);
    for a in attributes {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            _ => {}
        }
    }
    let (Some(n), Some(e)) = (n, e) else {
        return Err(HsmError::Operation("the public key has no modulus or exponent".into()));
    };
    let malformed = |e: der::Error| HsmError::Operation(format!("encoding the public key: {e}"));
    let rsa = RsaPublicKey {
        modulus: der::asn1::UintRef::new(&n).map_err(malformed)?,
        public_exponent: der::asn1::UintRef::new(&e).map_err(malformed)?,
    };
    let spki = spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: const_oid_rsa_encryption(),
            parameters: Some(der::asn1::Null.into()),
        },
        subject_public_key: der::asn1::BitString::from_bytes(&rsa.to_der().map_err(malformed)?).map_err(malformed)?,
    };
    spki.to_der().map_err(malformed)
}

/// rsaEncryption (RFC 8017 Appendix C).
fn const_oid_rsa_encryption() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1")
}

/// `RSAPublicKey` (RFC 8017 Appendix A.1.1).
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

/// An RSA private key in the token.
pub struct RsaKey {
    token: Arc<Token>,
    private: ObjectHandle,
    public_der: Vec<u8>,
    label: String,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("label", &self.label).field("token", &self.token.label).finish()
    }
}

impl Signer for RsaKey {
    fn public_key_der(&self) -> Vec<u8> {
        self.public_der.clone()
    }

    fn sign(&self, hash: HashAlg, msg: &[u8]) -> Result<Vec<u8>, RsaError> {
        let digest_info = hash.digest_info(&hash.digest(msg));
        self.token
            .with_session(|s| s.sign(&Mechanism::RsaPkcs, self.private, &digest_info).map_err(op("C_Sign")))
            .map_err(|e| RsaError::Token(e.to_string()))
    }
}

/// An AES key in the token.
pub struct AesKeyRef {
    token: Arc<Token>,
    handle: ObjectHandle,
}

impl std::fmt::Debug for AesKeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesKeyRef").field("token", &self.token.label).finish()
    }
}

impl AesKeyRef {
    /// AES-CMAC (NIST SP 800-38B) of `data` under the key.
    pub fn cmac(&self, data: &[u8]) -> Result<[u8; 16], HsmError> {
        let mac = self.token.with_session(|s| s.sign(&Mechanism::AesCMac, self.handle, data).map_err(op("C_Sign")))?;
        mac.try_into().map_err(|m: Vec<u8>| HsmError::Operation(format!("a CMAC of {} bytes", m.len())))
    }

    /// AES-GCM with a 12-byte `nonce` and `aad`: ciphertext ‖ 16-byte tag.
    pub fn gcm_seal(&self, nonce: &[u8; 12], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut iv = *nonce;
        let params =
            cryptoki::mechanism::aead::GcmParams::new(&mut iv, aad, 128.into()).map_err(op("GCM parameters"))?;
        let mechanism = Mechanism::AesGcm(params);
        self.token.with_session(|s| s.encrypt(&mechanism, self.handle, plain).map_err(op("C_Encrypt")))
    }

    /// Opens what [`AesKeyRef::gcm_seal`] sealed; `None` if it does not
    /// open (another key, other associated data, a changed byte).
    pub fn gcm_open(&self, nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Result<Option<Vec<u8>>, HsmError> {
        let mut iv = *nonce;
        let params =
            cryptoki::mechanism::aead::GcmParams::new(&mut iv, aad, 128.into()).map_err(op("GCM parameters"))?;
        let mechanism = Mechanism::AesGcm(params);
        self.token.with_session(|s| Ok(s.decrypt(&mechanism, self.handle, sealed).ok()))
    }
}

/// The CA keys in a token, as a [`KeyStore`]: `open` finds a key pair by
/// label, `generate` makes one in the token (only `--init` does).
#[derive(Debug, Clone)]
pub struct Pkcs11KeyStore(Arc<Token>);

impl Pkcs11KeyStore {
    /// Opens the token of `config`.
    pub fn open(config: &Pkcs11Config) -> Result<Self, HsmError> {
        Ok(Self(Token::open(config)?))
    }

    /// The token.
    pub fn token(&self) -> &Arc<Token> {
        &self.0
    }
}

fn store_error(label: &str, e: HsmError) -> KeyStoreError {
    KeyStoreError::Damaged(PathBuf::from(format!("pkcs11:{label}")), e.to_string())
}

impl KeyStore for Pkcs11KeyStore {
    fn open(&self, label: &str) -> Result<Option<Arc<dyn Signer>>, KeyStoreError> {
        Ok(self.0.rsa_key(label).map_err(|e| store_error(label, e))?.map(|k| Arc::new(k) as Arc<dyn Signer>))
    }

    fn generate(&self, label: &str) -> Result<Arc<dyn Signer>, KeyStoreError> {
        Ok(Arc::new(self.0.generate_rsa(label).map_err(|e| store_error(label, e))?))
    }
}

/// SoftHSM2 (the Debian package `softhsm2`) for tests and demonstrations: a
/// token in a directory of its own.
pub mod softhsm {
    use super::Pkcs11Config;
    use std::path::{Path, PathBuf};

    /// Where Debian installs the module.
    pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

    /// Writes `dir/softhsm2.conf` (tokens in `dir/tokens`), initializes a
    /// token `label` with user PIN `pin` (written to `dir/hsm.pin`) with
    /// `softhsm2-util`, and returns its configuration and the conf file,
    /// which the process that loads the module must find in
    /// `SOFTHSM2_CONF`.
    pub fn init_token(dir: &Path, label: &str, pin: &str) -> Result<(Pkcs11Config, PathBuf), String> {
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(|e| format!("{}: {e}", tokens.display()))?;
        let conf = dir.join("softhsm2.conf");
        let text =
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display());
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        let out = std::process::Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .map_err(|e| format!("softhsm2-util (Debian package softhsm2): {e}"))?;
        if !out.status.success() {
            return Err(format!("softhsm2-util --init-token: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        let pin_file = dir.join("hsm.pin");
        std::fs::write(&pin_file, pin).map_err(|e| format!("{}: {e}", pin_file.display()))?;
        Ok((Pkcs11Config { module: MODULE.into(), token: label.into(), pin_file }, conf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per test process (nextest runs each test in its own), so
    /// `SOFTHSM2_CONF` is set before the module is first loaded.
    fn token(dir: &Path) -> (Pkcs11Config, Arc<Token>) {
        let (config, conf) = softhsm::init_token(dir, "openjpki-test", "1234").unwrap();
        std::env::set_var("SOFTHSM2_CONF", conf);
        let token = Token::open(&config).unwrap();
        (config, token)
    }

    /// A CA key generated in the token signs what `pki` verifies, is found
    /// again by label, cannot be generated twice, and its private value
    /// cannot be read out.
    #[test]
    fn rsa_keys_are_made_in_the_token_sign_and_never_leave_it() {
        let dir = tempfile::tempdir().unwrap();
        let (config, token) = token(dir.path());
        let store = Pkcs11KeyStore(token.clone());
        assert!(store.open("auth-ca").unwrap().is_none());
        let key = store.generate("auth-ca").unwrap();
        let signature = key.sign(HashAlg::Sha256, b"tbsCertificate").unwrap();
        pki::rsa::verify(&key.public_key_der(), HashAlg::Sha256, b"tbsCertificate", &signature).unwrap();
        assert!(pki::rsa::verify(&key.public_key_der(), HashAlg::Sha256, b"other", &signature).is_err());
        assert_eq!(pki::rsa::public_key_bits(&key.public_key_der()).unwrap(), 2048);
        let again = Pkcs11KeyStore::open(&config).unwrap().open("auth-ca").unwrap().expect("found by label");
        assert_eq!(again.public_key_der(), key.public_key_der());
        assert!(store.generate("auth-ca").is_err(), "one key per label");

        let private = token.rsa_key("auth-ca").unwrap().unwrap().private;
        let read = token.with_session(|s| {
            Ok(s.get_attributes(
                private,
                &[AttributeType::PrivateExponent, AttributeType::Sensitive, AttributeType::Extractable],
            ))
        });
        match read.unwrap() {
            Ok(attributes) => {
                assert!(!attributes.iter().any(|a| matches!(a, Attribute::PrivateExponent(_))), "{attributes:?}");
                assert!(attributes.iter().any(|a| matches!(a, Attribute::Sensitive(true))));
                assert!(attributes.iter().any(|a| matches!(a, Attribute::Extractable(false))));
            }
            Err(e) => assert!(e.to_string().contains("Sensitive"), "{e}"),
        }
    }

    /// An unknown token is refused with a message that says what to do.
    #[test]
    fn an_unknown_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (config, _) = token(dir.path());
        let unknown = Pkcs11Config { token: "no-such-token".into(), ..config };
        let e = Token::open(&unknown).unwrap_err().to_string();
        assert!(e.contains("no token with this label") && e.contains("--init-token"), "{e}");
    }

    /// A wrong PIN is refused at login and nothing is usable; the right one
    /// then opens the token. (Login is per token and process: this test's
    /// token is logged into by nothing else.)
    #[test]
    fn a_wrong_pin_is_refused_and_opens_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (config, conf) = softhsm::init_token(dir.path(), "openjpki-pin", "1234").unwrap();
        std::env::set_var("SOFTHSM2_CONF", conf);
        std::fs::write(dir.path().join("wrong.pin"), "9999").unwrap();
        let wrong = Pkcs11Config { pin_file: dir.path().join("wrong.pin"), ..config.clone() };
        let e = Token::open(&wrong).unwrap_err().to_string();
        assert!(e.contains("logging in") && e.contains("openjpki-pin"), "{e}");
        let missing = Pkcs11Config { pin_file: dir.path().join("no.pin"), ..config.clone() };
        assert!(Token::open(&missing).unwrap_err().to_string().contains("reading the PIN file"));
        let token = Token::open(&config).unwrap();
        assert!(token.rsa_key("auth-ca").unwrap().is_none(), "the wrong PIN made nothing");
    }

    /// The ISD master key imported into the token derives what the software
    /// key derives (AES-CMAC, the KDF3 building block), and the vault key
    /// seals and opens with AES-GCM, refusing other associated data.
    #[test]
    fn aes_keys_in_the_token_cmac_and_seal() {
        let dir = tempfile::tempdir().unwrap();
        let (_, token) = token(dir.path());
        let value = [0x42u8; 32];
        let key = token.import_aes("isd-master", &value).unwrap();
        let kdd = [0x4F, 0x4A, 0x53, 0x45, 1, 2, 3, 4, 0x20, 0x26];
        let software = gp::crypto::kdf3(&gp::AesKey::new(&value).unwrap(), gp::crypto::KeyType::Enc, &kdd);
        let block = |i: u8| key.cmac(&[&[i, 0, 0, 0, 1, 0][..], &kdd].concat()).unwrap();
        assert_eq!([block(1), block(2)].concat(), software.expose());
        assert!(token.import_aes("isd-master", &value).is_err(), "one key per label");

        let vault = token.import_aes("sp-vault", &[7u8; 32]).unwrap();
        let nonce = [9u8; 12];
        let sealed = vault.gcm_seal(&nonce, b"SE-1", b"domain keys").unwrap();
        assert_eq!(vault.gcm_open(&nonce, b"SE-1", &sealed).unwrap().as_deref(), Some(&b"domain keys"[..]));
        assert_eq!(vault.gcm_open(&nonce, b"SE-2", &sealed).unwrap(), None, "another SE's row");
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert_eq!(vault.gcm_open(&nonce, b"SE-1", &tampered).unwrap(), None);
    }
}
