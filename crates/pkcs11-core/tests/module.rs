//! The module's core against an emulated My Number card: the token split,
//! objects, PIN rules and always-authenticate, each refusal with its
//! `CKR_*` and the card's counters afterwards.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use cryptoki_sys::*;
use pkcs11_core::config::Emulated;
use pkcs11_core::objects::Lookup;
use pkcs11_core::{Config, Module, Rv, Signed};
use std::sync::OnceLock;

const AUTH: CK_SLOT_ID = 0;
const SIGN: CK_SLOT_ID = 1;

/// A card state made once (key generation is slow); each test writes its
/// own copy to a file.
fn card_json() -> &'static (tempfile::TempDir, Vec<u8>) {
    static CARD: OnceLock<(tempfile::TempDir, Vec<u8>)> = OnceLock::new();
    CARD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let holder = pki::Holder::example();
        let pins = mynacard::personalize::InitialPins::test_card();
        let state = mynacard::personalize::new_card(&ca, &holder, "123456789018", pins).unwrap();
        (dir, state.to_json())
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    module: Module,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    std::fs::write(&path, &card_json().1).unwrap();
    let config =
        Config { readers: false, reader: None, hide_sign_token: false, emulated: vec![Emulated::Card(path.clone())] };
    Fixture { _dir: dir, path, module: Module::new(config) }
}

impl Fixture {
    fn session(&mut self, slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
        self.module.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION).unwrap()
    }

    fn find(&mut self, s: CK_SESSION_HANDLE, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<CK_OBJECT_HANDLE> {
        self.module.find_init(s, template).unwrap();
        let found = self.module.find(s, 100).unwrap();
        self.module.find_final(s).unwrap();
        found
    }

    fn private_key(&mut self, s: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
        let keys = self.find(s, &[class(CKO_PRIVATE_KEY)]);
        assert_eq!(keys.len(), 1, "one private key per token");
        keys[0]
    }

    fn bytes(&mut self, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
        match self.module.attributes(s, o, &[ty]).unwrap().remove(0) {
            Lookup::Found(b) => b,
            other => panic!("attribute {ty:#x}: {other:?}"),
        }
    }

    /// Signs `data` with SHA256-RSA-PKCS in one part.
    fn sign(&mut self, s: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, Rv> {
        self.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key)?;
        match self.module.sign(s, data, Some(256))? {
            Signed::Done(sig) => Ok(sig),
            other => panic!("{other:?}"),
        }
    }

    /// The card's tries left for a PIN, read from the file (what the card
    /// counts, not what the module believes).
    fn tries(&self, role: CK_SLOT_ID) -> u8 {
        let mut m = Module::new(Config {
            readers: false,
            reader: None,
            hide_sign_token: false,
            emulated: vec![Emulated::Card(self.path.clone())],
        });
        let flags = m.token_info(role).unwrap().flags;
        let max = if role == AUTH { 3 } else { 5 };
        if flags & CKF_USER_PIN_LOCKED != 0 {
            0
        } else if flags & CKF_USER_PIN_FINAL_TRY != 0 {
            1
        } else if flags & CKF_USER_PIN_COUNT_LOW != 0 {
            max - 1 // not exact below max−1; tests only need "one try used"
        } else {
            max
        }
    }
}

fn class(c: CK_OBJECT_CLASS) -> (CK_ATTRIBUTE_TYPE, Vec<u8>) {
    (CKA_CLASS, c.to_ne_bytes().to_vec())
}

fn verify(modulus: &[u8], exponent: &[u8], data: &[u8], sig: &[u8]) -> bool {
    RsaPublicKeyComponents { n: modulus, e: exponent }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, data, sig).is_ok()
}

#[test]
fn a_card_is_two_tokens_labelled_as_opensc_labels_them() {
    let mut f = fixture();
    assert_eq!(f.module.slot_list(true), vec![AUTH, SIGN]);
    let auth = f.module.token_info(AUTH).unwrap();
    let sign = f.module.token_info(SIGN).unwrap();
    assert_eq!(auth.label, "JPKI (User Authentication PIN)");
    assert_eq!(sign.label, "JPKI (Digital Signature PIN)");
    assert_eq!(auth.model, "JPKIAPICCTOKEN2");
    assert_eq!((auth.pin_len, sign.pin_len), ((4, 4), (6, 16)));
    let required = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
    assert_eq!(auth.flags, required, "no PIN warning on a fresh card");
    assert_eq!(f.module.slot_info(7).unwrap_err(), Rv::SLOT_ID_INVALID);

    // Before login: the auth certificate and public key, and both CA
    // certificates; no private key; nothing of the signature key.
    let s = f.session(AUTH);
    let labels = |f: &mut Fixture, s, handles: Vec<CK_OBJECT_HANDLE>| -> Vec<String> {
        handles.into_iter().map(|h| String::from_utf8(f.bytes(s, h, CKA_LABEL)).unwrap()).collect()
    };
    let all = f.find(s, &[]);
    assert_eq!(
        labels(&mut f, s, all),
        [
            "User Authentication Certificate",
            "User Authentication Public Key",
            "User Authentication Certificate CA",
            "Digital Signature Certificate CA"
        ]
    );
    let ss = f.session(SIGN);
    let sign_objects = f.find(ss, &[]);
    assert_eq!(labels(&mut f, ss, sign_objects), ["Digital Signature Certificate CA"]);
    assert!(f.find(ss, &[class(CKO_CERTIFICATE), (CKA_ID, vec![2])]).is_empty(), "sign cert needs the password");

    // After login: the private key, with the certificate's modulus and the
    // same CKA_ID; key material sensitive.
    f.module.login(s, CKU_USER, Some(b"1234")).unwrap();
    let key = f.private_key(s);
    assert_eq!(f.bytes(s, key, CKA_ID), vec![1]);
    let cert = f.find(s, &[class(CKO_CERTIFICATE), (CKA_ID, vec![1])])[0];
    let pubkey = f.find(s, &[class(CKO_PUBLIC_KEY)])[0];
    assert_eq!(f.bytes(s, key, CKA_MODULUS), f.bytes(s, pubkey, CKA_MODULUS));
    assert_eq!(f.bytes(s, key, CKA_SUBJECT), f.bytes(s, cert, CKA_SUBJECT));
    let answers = f.module.attributes(s, key, &[CKA_PRIVATE_EXPONENT, CKA_SENSITIVE, 0x7FFF_0000]).unwrap();
    assert_eq!(answers, vec![Lookup::Sensitive, Lookup::Found(vec![1]), Lookup::Invalid]);
    assert_eq!(f.bytes(s, key, CKA_ALWAYS_AUTHENTICATE), vec![0], "the auth key signs without re-authentication");
    let ca = f.find(s, &[class(CKO_CERTIFICATE), (CKA_ID, vec![3])])[0];
    assert_eq!(f.bytes(s, ca, CKA_TRUSTED), vec![1]);
}

#[test]
fn the_auth_key_signs_what_openssl_style_verification_accepts_in_every_form() {
    let mut f = fixture();
    let s = f.session(AUTH);
    f.module.login(s, CKU_USER, Some(b"1234")).unwrap();
    let key = f.private_key(s);
    let (n, e) = (f.bytes(s, key, CKA_MODULUS), f.bytes(s, key, CKA_PUBLIC_EXPONENT));
    let data = b"a login challenge";

    // Size query: no signature, the operation goes on; too small: the
    // same; then the signature.
    f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key).unwrap();
    assert_eq!(f.module.sign(s, data, None).unwrap(), Signed::Length(256));
    assert_eq!(f.module.sign(s, data, Some(10)).unwrap(), Signed::TooSmall(256));
    let Signed::Done(one) = f.module.sign(s, data, Some(256)).unwrap() else { panic!() };
    assert!(verify(&n, &e, data, &one));
    assert_eq!(f.module.sign(s, data, Some(256)).unwrap_err(), Rv::OPERATION_NOT_INITIALIZED, "the operation ended");

    // Multi-part gives the same signature (PKCS#1 v1.5 is deterministic).
    f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key).unwrap();
    f.module.sign_update(s, b"a login ").unwrap();
    f.module.sign_update(s, b"challenge").unwrap();
    assert_eq!(f.module.sign_final(s, Some(256)).unwrap(), Signed::Done(one.clone()));

    // CKM_RSA_PKCS over the caller's DigestInfo: the same again.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let prefix = pkcs11_core::mechanism::Hash::Sha256.digest_info_prefix();
    let digest_info = [prefix, digest.as_ref()].concat();
    f.module.sign_init(s, CKM_RSA_PKCS, &[], key).unwrap();
    assert_eq!(f.module.sign(s, &digest_info, Some(256)).unwrap(), Signed::Done(one));

    // Refusals: too long for PKCS#1 v1.5 (k − 11), a mechanism the card
    // does not have, a parameter, a certificate as key, two operations.
    f.module.sign_init(s, CKM_RSA_PKCS, &[], key).unwrap();
    assert_eq!(f.module.sign(s, &[0; 246], Some(256)).unwrap_err(), Rv(CKR_DATA_LEN_RANGE));
    assert_eq!(f.module.sign_init(s, CKM_SHA256_RSA_PKCS_PSS, &[], key).unwrap_err(), Rv(CKR_MECHANISM_INVALID));
    assert_eq!(f.module.sign_init(s, CKM_RSA_PKCS, &[0], key).unwrap_err(), Rv(CKR_MECHANISM_PARAM_INVALID));
    let cert = f.find(s, &[class(CKO_CERTIFICATE), (CKA_ID, vec![1])])[0];
    assert_eq!(f.module.sign_init(s, CKM_RSA_PKCS, &[], cert).unwrap_err(), Rv(CKR_KEY_HANDLE_INVALID));
    f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key).unwrap();
    assert_eq!(f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key).unwrap_err(), Rv::OPERATION_ACTIVE);
}

#[test]
fn each_signature_key_signature_needs_the_password_again() {
    let mut f = fixture();
    let s = f.session(SIGN);
    assert_eq!(f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], 0x201).unwrap_err(), Rv::USER_NOT_LOGGED_IN);
    f.module.login(s, CKU_USER, Some(b"abc123")).unwrap(); // upper-cased, as the card's leaflet allows
    let key = f.private_key(s);
    assert_eq!(f.bytes(s, key, CKA_ALWAYS_AUTHENTICATE), vec![1]);
    let (n, e) = (f.bytes(s, key, CKA_MODULUS), f.bytes(s, key, CKA_PUBLIC_EXPONENT));

    // The fresh login authorises one signature (what OpenSSH relies on).
    let first = f.sign(s, key, b"contract v1").unwrap();
    assert!(verify(&n, &e, b"contract v1", &first));

    // The second, without the password: refused, and the card itself no
    // longer holds the VERIFY (the module cleared it).
    assert_eq!(f.sign(s, key, b"contract v2").unwrap_err(), Rv::USER_NOT_LOGGED_IN);

    // Context-specific login: a wrong password is counted and refused, the
    // operation goes on; the right one signs.
    f.module.sign_init(s, CKM_SHA256_RSA_PKCS, &[], key).unwrap();
    assert_eq!(f.module.login(s, CKU_CONTEXT_SPECIFIC, Some(b"WRONG1")).unwrap_err(), Rv(CKR_PIN_INCORRECT));
    assert_eq!(f.tries(SIGN), 4, "the wrong password was counted on the card");
    f.module.login(s, CKU_CONTEXT_SPECIFIC, Some(b"ABC123")).unwrap();
    let Signed::Done(second) = f.module.sign(s, b"contract v2", Some(256)).unwrap() else { panic!() };
    assert!(verify(&n, &e, b"contract v2", &second));
    assert_eq!(f.tries(SIGN), 5, "the right password reset the counter");

    // Context-specific login with no operation, or on the auth key.
    assert_eq!(f.module.login(s, CKU_CONTEXT_SPECIFIC, Some(b"ABC123")).unwrap_err(), Rv::OPERATION_NOT_INITIALIZED);
    let a = f.session(AUTH);
    f.module.login(a, CKU_USER, Some(b"1234")).unwrap();
    let auth_key = f.private_key(a);
    f.module.sign_init(a, CKM_SHA256_RSA_PKCS, &[], auth_key).unwrap();
    assert_eq!(f.module.login(a, CKU_CONTEXT_SPECIFIC, Some(b"1234")).unwrap_err(), Rv::OPERATION_NOT_INITIALIZED);
    // The auth token's login survived the signature key's PIN clearing.
    assert!(matches!(f.module.sign(a, b"x", Some(256)).unwrap(), Signed::Done(_)));
}

#[test]
fn wrong_pins_are_counted_flagged_and_a_blocked_pin_is_locked() {
    let mut f = fixture();
    let s = f.session(AUTH);
    // Format errors send nothing: no try is used.
    assert_eq!(f.module.login(s, CKU_USER, Some(b"12345")).unwrap_err(), Rv(CKR_PIN_LEN_RANGE));
    assert_eq!(f.module.login(s, CKU_USER, Some(b"12a4")).unwrap_err(), Rv(CKR_PIN_INVALID));
    assert_eq!(f.module.login(s, CKU_USER, None).unwrap_err(), Rv::ARGUMENTS_BAD);
    assert_eq!(f.module.login(s, CKU_SO, Some(b"1234")).unwrap_err(), Rv(CKR_USER_TYPE_INVALID));
    assert_eq!(f.tries(AUTH), 3);

    assert_eq!(f.module.login(s, CKU_USER, Some(b"9999")).unwrap_err(), Rv(CKR_PIN_INCORRECT));
    let flags = f.module.token_info(AUTH).unwrap().flags;
    assert!(flags & CKF_USER_PIN_COUNT_LOW != 0 && flags & CKF_USER_PIN_FINAL_TRY == 0);
    assert_eq!(f.module.login(s, CKU_USER, Some(b"9999")).unwrap_err(), Rv(CKR_PIN_INCORRECT));
    assert!(f.module.token_info(AUTH).unwrap().flags & CKF_USER_PIN_FINAL_TRY != 0);
    assert_eq!(f.module.login(s, CKU_USER, Some(b"9999")).unwrap_err(), Rv::PIN_LOCKED);
    assert!(f.module.token_info(AUTH).unwrap().flags & CKF_USER_PIN_LOCKED != 0);
    // Even the right PIN now: locked, and nothing visible behind it.
    assert_eq!(f.module.login(s, CKU_USER, Some(b"1234")).unwrap_err(), Rv::PIN_LOCKED);
    assert!(f.find(s, &[class(CKO_PRIVATE_KEY)]).is_empty());
    assert_eq!(f.tries(AUTH), 0);
    // The signature token is another PIN: untouched.
    assert_eq!(f.tries(SIGN), 5);
}

#[test]
fn logins_belong_to_the_token_and_end_with_its_last_session() {
    let mut f = fixture();
    let (s1, s2) = (f.session(AUTH), f.session(AUTH));
    f.module.login(s1, CKU_USER, Some(b"1234")).unwrap();
    assert_eq!(f.module.login(s2, CKU_USER, Some(b"1234")).unwrap_err(), Rv(CKR_USER_ALREADY_LOGGED_IN));
    assert_eq!(f.module.session_info(s2).unwrap().state, CKS_RW_USER_FUNCTIONS, "shared by the sessions");
    let ss = f.session(SIGN);
    assert_eq!(f.module.session_info(ss).unwrap().state, CKS_RW_PUBLIC_SESSION, "the other token is not");
    f.module.close_session(s1).unwrap();
    assert_eq!(f.module.session_info(s2).unwrap().state, CKS_RW_USER_FUNCTIONS);
    f.module.close_session(s2).unwrap();
    assert_eq!(f.module.session_info(s2).unwrap_err(), Rv::SESSION_HANDLE_INVALID);
    let s3 = f.session(AUTH);
    assert_eq!(f.module.session_info(s3).unwrap().state, CKS_RW_PUBLIC_SESSION, "the last close logged out");
    assert_eq!(f.module.open_session(AUTH, CKF_RW_SESSION).unwrap_err(), Rv(CKR_SESSION_PARALLEL_NOT_SUPPORTED));
    assert_eq!(f.module.logout(s3).unwrap_err(), Rv::USER_NOT_LOGGED_IN);
    // A handle from another token's slot is not an object of this session.
    f.module.login(s3, CKU_USER, Some(b"1234")).unwrap();
    let key = f.private_key(s3);
    assert_eq!(f.module.attributes(ss, key, &[CKA_LABEL]).unwrap_err(), Rv(CKR_OBJECT_HANDLE_INVALID));
    assert_eq!(f.module.sign_init(ss, CKM_RSA_PKCS, &[], key).unwrap_err(), Rv::USER_NOT_LOGGED_IN);
}

#[test]
fn the_sign_token_can_be_hidden_as_for_browsers() {
    let f = fixture();
    let mut m = Module::new(Config {
        readers: false,
        reader: None,
        hide_sign_token: true,
        emulated: vec![Emulated::Card(f.path)],
    });
    assert_eq!(m.slot_list(false), vec![AUTH]);
    assert_eq!(m.token_info(AUTH).unwrap().label, "JPKI");
    assert_eq!(m.open_session(SIGN, CKF_SERIAL_SESSION).unwrap_err(), Rv::SLOT_ID_INVALID);
}

/// A link that, like another program sharing the reader, selects the
/// signature key's EF whenever we select the authentication key's, or that
/// corrupts the card's signature.
struct Meddler {
    card: transport::InProcess<mynacard::MynaCard>,
    swap_key: bool,
}

impl apdu::Transport for Meddler {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, apdu::TransportError> {
        let mut command = command.to_vec();
        if self.swap_key && command.starts_with(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17]) {
            command[6] = 0x1A;
        }
        let mut response = self.card.transmit_raw(&command)?;
        if !self.swap_key && command.get(1) == Some(&0x2A) && response.len() > 2 {
            response[10] ^= 1;
        }
        Ok(response)
    }
}

#[test]
fn a_signature_by_the_wrong_key_or_a_faulty_card_is_never_returned() {
    for swap_key in [true, false] {
        let state = mynacard::CardState::load(&fixture().path).unwrap();
        let card = transport::InProcess::new(mynacard::MynaCard::in_memory(state).unwrap());
        let mut token = pkcs11_core::token::Card::bind(Box::new(Meddler { card, swap_key })).unwrap();
        // Both PINs verified: the card would sign with either key.
        token.login(pkcs11_core::objects::Role::Sign, b"ABC123").unwrap();
        token.login(pkcs11_core::objects::Role::Auth, b"1234").unwrap();
        let digest_info = [pkcs11_core::mechanism::Hash::Sha256.digest_info_prefix(), &[7u8; 32]].concat();
        let refused = token.sign(pkcs11_core::objects::Role::Auth, &digest_info).unwrap_err();
        assert_eq!(refused, Rv::DEVICE_ERROR, "swap_key={swap_key}");
    }
}
