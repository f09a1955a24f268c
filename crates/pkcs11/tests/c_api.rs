//! The C boundary: the library loaded as an application loads it (cryptoki
//! over dlopen) and the exported functions called with the pointers C
//! callers pass — NULLs, short buffers, size queries, partial mutex
//! callbacks, interface versions. One test function: the library has one
//! global state per process.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use jpki_pkcs11::exports::*;
use jpki_pkcs11::lists::*;
use std::ptr::null_mut;

/// The cdylib cargo built with this test (target/<profile>/deps/, where
/// `cargo test` leaves it; `cargo build` also copies it one level up).
fn library() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = deps.join("libjpki_pkcs11.so");
    assert!(lib.exists(), "{} missing: cargo build -p jpki-pkcs11", lib.display());
    lib
}

fn card_file(dir: &std::path::Path) -> std::path::PathBuf {
    let ca = pki::ca::LocalCa::open_or_create(dir).unwrap();
    let pins = mynacard::personalize::InitialPins::test_card();
    let state = mynacard::personalize::new_card(&ca, &pki::Holder::example(), "123456789018", pins).unwrap();
    let path = dir.join("card.json");
    std::fs::write(&path, state.to_json()).unwrap();
    path
}

#[test]
fn the_c_boundary_follows_pkcs11s_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let card = card_file(dir.path());
    std::env::set_var("JPKI_PKCS11_CARDS", format!("card:{}", card.display()));
    std::env::set_var("JPKI_PKCS11_READERS", "0");
    std::env::set_var("XDG_CONFIG_HOME", dir.path());
    through_cryptoki();
    // SAFETY: the calls below pass valid pointers or deliberately NULL ones.
    unsafe { raw_calls() };
}

/// As an application: cryptoki 0.12 over dlopen.
fn through_cryptoki() {
    let p11 = Pkcs11::new(library()).unwrap();
    assert!(p11.get_slots_with_token().is_err(), "nothing before C_Initialize");
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let again = p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap_err();
    assert!(format!("{again}").contains("already been initialized"), "{again}");
    let info = p11.get_library_info().unwrap();
    assert_eq!(info.manufacturer_id(), "openjpki");

    let slots = p11.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 2);
    let (auth, sign) = (slots[0], slots[1]);
    assert_eq!(p11.get_token_info(auth).unwrap().label(), "JPKI (User Authentication PIN)");
    assert_eq!(p11.get_token_info(sign).unwrap().model(), "JPKIAPICCTOKEN2");

    let session = p11.open_rw_session(auth).unwrap();
    session.login(UserType::User, Some(&AuthPin::new("1234".into()))).unwrap();
    let key = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).unwrap()[0];
    let info = session
        .get_attribute_info(key, &[AttributeType::PrivateExponent, AttributeType::Modulus, AttributeType::Value])
        .unwrap();
    assert!(matches!(info[0], AttributeInfo::Sensitive));
    assert!(matches!(info[1], AttributeInfo::Available(256)));
    assert!(matches!(info[2], AttributeInfo::TypeInvalid));
    let cert = session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Id(vec![1])]).unwrap()[0];
    let Attribute::Value(cert_der) = session.get_attributes(cert, &[AttributeType::Value]).unwrap().remove(0) else {
        panic!("no value")
    };
    let spki = spki_of(&cert_der);
    let sig = session.sign(&Mechanism::Sha256RsaPkcs, key, b"ssh session id").unwrap();
    pki::rsa::verify(&spki, pki::HashAlg::Sha256, b"ssh session id", &sig).expect("auth signature verifies");

    // The signature key: one signature per password.
    let s2 = p11.open_rw_session(sign).unwrap();
    s2.login(UserType::User, Some(&AuthPin::new("ABC123".into()))).unwrap();
    let skey = s2.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).unwrap()[0];
    s2.sign(&Mechanism::Sha256RsaPkcs, skey, b"first").unwrap();
    let second = s2.sign(&Mechanism::Sha256RsaPkcs, skey, b"second").unwrap_err();
    assert!(format!("{second}").contains("not logged in"), "{second}");
    s2.sign_init(&Mechanism::Sha256RsaPkcs, skey).unwrap();
    s2.login(UserType::ContextSpecific, Some(&AuthPin::new("ABC123".into()))).unwrap();
    s2.sign_update(b"sec").unwrap();
    s2.sign_update(b"ond").unwrap();
    assert_eq!(s2.sign_final().unwrap().len(), 256);
    drop((session, s2));
    p11.finalize().unwrap();
}

fn spki_of(cert_der: &[u8]) -> Vec<u8> {
    let cert = pki::cert::parse_certificates(cert_der).unwrap().remove(0);
    der::Encode::to_der(&cert.tbs_certificate.subject_public_key_info).unwrap()
}

/// As C: the statically linked copy of the exports (its own state).
unsafe fn raw_calls() {
    unsafe {
        // Interfaces, before C_Initialize.
        assert_eq!(C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
        let mut list: *mut CK_FUNCTION_LIST = null_mut();
        assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
        assert_eq!(((*list).version.major, (*list).version.minor), (2, 40));
        let mut iface: *mut CK_INTERFACE = null_mut();
        assert_eq!(C_GetInterface(null_mut(), null_mut(), &mut iface, 0), CKR_OK);
        let v3 = (*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0;
        assert_eq!(((*v3).version.major, (*v3).version.minor), (3, 0));
        assert!((*v3).C_LoginUser.is_some() && (*v3).C_MessageSignInit.is_some(), "every 3.0 entry filled");
        let mut v240 = CK_VERSION { major: 2, minor: 40 };
        assert_eq!(C_GetInterface(null_mut(), &mut v240, &mut iface, 0), CKR_OK);
        assert_eq!((*((*iface).pFunctionList as *const CK_FUNCTION_LIST)).version.minor, 40);
        let mut v31 = CK_VERSION { major: 3, minor: 1 };
        assert_eq!(C_GetInterface(null_mut(), &mut v31, &mut iface, 0), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetInterface(null_mut(), null_mut(), &mut iface, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
        let mut other = *b"PKCS 12\0";
        assert_eq!(C_GetInterface(other.as_mut_ptr(), null_mut(), &mut iface, 0), CKR_ARGUMENTS_BAD);
        let mut n: CK_ULONG = 0;
        assert_eq!(C_GetInterfaceList(null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 2);

        let mut count: CK_ULONG = 0;
        assert_eq!(C_GetSlotList(0, null_mut(), &mut count), CKR_CRYPTOKI_NOT_INITIALIZED);

        // C_Initialize: mutex callbacks all or none; pReserved ignored.
        let mut partial: CK_C_INITIALIZE_ARGS = std::mem::zeroed();
        partial.CreateMutex = Some(fake_create_mutex);
        assert_eq!(C_Initialize(&mut partial as *mut _ as *mut _), CKR_ARGUMENTS_BAD);
        let mut args: CK_C_INITIALIZE_ARGS = std::mem::zeroed();
        args.flags = CKF_OS_LOCKING_OK;
        assert_eq!(C_Initialize(&mut args as *mut _ as *mut _), CKR_OK);

        // Lists: size query, too small, right.
        assert_eq!(C_GetSlotList(1, null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 2);
        let mut one = [0 as CK_SLOT_ID; 1];
        let mut small: CK_ULONG = 1;
        assert_eq!(C_GetSlotList(1, one.as_mut_ptr(), &mut small), CKR_BUFFER_TOO_SMALL);
        assert_eq!(small, 2, "the needed count");
        assert_eq!(C_GetSlotList(1, null_mut(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetTokenInfo(0, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetTokenInfo(99, &mut std::mem::zeroed()), CKR_SLOT_ID_INVALID);

        let mut session: CK_SESSION_HANDLE = 0;
        assert_eq!(C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut session), CKR_OK);
        let mut pin = *b"1234";
        assert_eq!(C_Login(session, CKU_USER, pin.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(C_Login(session, CKU_USER, null_mut(), 4), CKR_ARGUMENTS_BAD, "no protected path");

        // Find the private key.
        let mut class = CKO_PRIVATE_KEY;
        let mut template = [CK_ATTRIBUTE {
            type_: CKA_CLASS,
            pValue: &mut class as *mut _ as *mut _,
            ulValueLen: std::mem::size_of::<CK_OBJECT_CLASS>() as CK_ULONG,
        }];
        assert_eq!(C_FindObjectsInit(session, template.as_mut_ptr(), 1), CKR_OK);
        let mut key: CK_OBJECT_HANDLE = 0;
        let mut found: CK_ULONG = 0;
        assert_eq!(C_FindObjects(session, &mut key, 1, &mut found), CKR_OK);
        assert_eq!(found, 1);
        assert_eq!(C_FindObjects(session, null_mut(), 1, &mut found), CKR_ARGUMENTS_BAD);
        assert_eq!(C_FindObjectsFinal(session), CKR_OK);

        // C_GetAttributeValue: every entry processed, the worst case told.
        let mut modulus_small = [0u8; 8];
        let mut attrs = [
            CK_ATTRIBUTE { type_: CKA_LABEL, pValue: null_mut(), ulValueLen: 0 },
            CK_ATTRIBUTE { type_: CKA_PRIVATE_EXPONENT, pValue: null_mut(), ulValueLen: 0 },
            CK_ATTRIBUTE { type_: CKA_MODULUS, pValue: modulus_small.as_mut_ptr() as *mut _, ulValueLen: 8 },
            CK_ATTRIBUTE { type_: 0x7FFF_0001, pValue: null_mut(), ulValueLen: 0 },
        ];
        let rv = C_GetAttributeValue(session, key, attrs.as_mut_ptr(), 4);
        assert!([CKR_ATTRIBUTE_SENSITIVE, CKR_BUFFER_TOO_SMALL, CKR_ATTRIBUTE_TYPE_INVALID].contains(&rv), "{rv:#x}");
        assert_eq!(attrs[0].ulValueLen, "User Authentication Key".len() as CK_ULONG);
        assert_eq!(attrs[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(attrs[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(attrs[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(C_GetAttributeValue(session, key, null_mut(), 1), CKR_ARGUMENTS_BAD);

        // C_Sign: size query and short buffer keep the operation.
        let mut mechanism = CK_MECHANISM { mechanism: CKM_SHA256_RSA_PKCS, pParameter: null_mut(), ulParameterLen: 0 };
        assert_eq!(C_SignInit(session, &mut mechanism, key), CKR_OK);
        let mut data = *b"challenge";
        let mut len: CK_ULONG = 0;
        assert_eq!(C_Sign(session, data.as_mut_ptr(), 9, null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 256);
        let mut short = [0u8; 16];
        let mut short_len: CK_ULONG = 16;
        assert_eq!(C_Sign(session, data.as_mut_ptr(), 9, short.as_mut_ptr(), &mut short_len), CKR_BUFFER_TOO_SMALL);
        assert_eq!(short_len, 256);
        let mut sig = [0u8; 300];
        let mut sig_len: CK_ULONG = 300;
        assert_eq!(C_Sign(session, data.as_mut_ptr(), 9, sig.as_mut_ptr(), &mut sig_len), CKR_OK);
        assert_eq!(sig_len, 256);
        assert_eq!(
            C_Sign(session, data.as_mut_ptr(), 9, sig.as_mut_ptr(), &mut sig_len),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(C_SignInit(session, null_mut(), key), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Sign(session, null_mut(), 9, sig.as_mut_ptr(), &mut sig_len), CKR_ARGUMENTS_BAD);

        // Unsupported functions, and a token without an RNG.
        assert_eq!(C_EncryptInit(session, &mut mechanism, key), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(C_GenerateRandom(session, sig.as_mut_ptr(), 8), CKR_RANDOM_NO_RNG);
        let mut slot: CK_SLOT_ID = 0;
        assert_eq!(C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut()), CKR_NO_EVENT, "emulated: always present");

        // C_Finalize: pReserved must be NULL; then everything is closed.
        assert_eq!(C_Finalize(std::ptr::dangling_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_Finalize(null_mut()), CKR_OK);
        assert_eq!(C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_CloseSession(session), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
}

extern "C" fn fake_create_mutex(_: *mut *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}
