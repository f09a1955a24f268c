//! The function lists and interfaces handed to applications, and the
//! functions a signing-only token does not support (each answers
//! `CKR_FUNCTION_NOT_SUPPORTED`, or `CKR_CRYPTOKI_NOT_INITIALIZED` before
//! `C_Initialize`). P11 §5.4 "C_GetFunctionList", "C_GetInterfaceList",
//! "C_GetInterface".
#![allow(non_snake_case, clippy::missing_safety_doc)]

use crate::exports::*;
use crate::ffi::{get, guard, put, with_module};
use cryptoki_sys::*;
use pkcs11_core::Rv;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

macro_rules! unsupported {
    ($($name:ident($($arg:ty),*);)*) => {$(
        #[doc = concat!("Not supported by a JPKI token: `", stringify!($name), "`.")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($(_: $arg),*) -> CK_RV {
            guard(stringify!($name), || with_module(|_| Err(Rv::FUNCTION_NOT_SUPPORTED)))
        }
    )*};
}

type S = CK_SESSION_HANDLE;
type O = CK_OBJECT_HANDLE;
type B = *mut CK_BYTE;
type L = CK_ULONG;
type PL = *mut CK_ULONG;
type M = *mut CK_MECHANISM;
type A = *mut CK_ATTRIBUTE;
type PO = *mut CK_OBJECT_HANDLE;
type P = *mut c_void;

unsupported! {
    C_InitToken(CK_SLOT_ID, B, L, B);
    C_InitPIN(S, B, L);
    C_SetPIN(S, B, L, B, L);
    C_GetOperationState(S, B, PL);
    C_SetOperationState(S, B, L, O, O);
    C_CreateObject(S, A, L, PO);
    C_CopyObject(S, O, A, L, PO);
    C_DestroyObject(S, O);
    C_SetAttributeValue(S, O, A, L);
    C_EncryptInit(S, M, O);
    C_Encrypt(S, B, L, B, PL);
    C_EncryptUpdate(S, B, L, B, PL);
    C_EncryptFinal(S, B, PL);
    C_DecryptInit(S, M, O);
    C_Decrypt(S, B, L, B, PL);
    C_DecryptUpdate(S, B, L, B, PL);
    C_DecryptFinal(S, B, PL);
    C_DigestInit(S, M);
    C_Digest(S, B, L, B, PL);
    C_DigestUpdate(S, B, L);
    C_DigestKey(S, O);
    C_DigestFinal(S, B, PL);
    C_SignRecoverInit(S, M, O);
    C_SignRecover(S, B, L, B, PL);
    C_VerifyInit(S, M, O);
    C_Verify(S, B, L, B, L);
    C_VerifyUpdate(S, B, L);
    C_VerifyFinal(S, B, L);
    C_VerifyRecoverInit(S, M, O);
    C_VerifyRecover(S, B, L, B, PL);
    C_DigestEncryptUpdate(S, B, L, B, PL);
    C_DecryptDigestUpdate(S, B, L, B, PL);
    C_SignEncryptUpdate(S, B, L, B, PL);
    C_DecryptVerifyUpdate(S, B, L, B, PL);
    C_GenerateKey(S, M, A, L, PO);
    C_GenerateKeyPair(S, M, A, L, A, L, PO, PO);
    C_WrapKey(S, M, O, O, B, PL);
    C_UnwrapKey(S, M, O, B, L, A, L, PO);
    C_DeriveKey(S, M, O, A, L, PO);
    C_SessionCancel(S, CK_FLAGS);
    C_MessageEncryptInit(S, M, O);
    C_EncryptMessage(S, P, L, B, L, B, L, B, PL);
    C_EncryptMessageBegin(S, P, L, B, L);
    C_EncryptMessageNext(S, P, L, B, L, B, PL, CK_FLAGS);
    C_MessageEncryptFinal(S);
    C_MessageDecryptInit(S, M, O);
    C_DecryptMessage(S, P, L, B, L, B, L, B, PL);
    C_DecryptMessageBegin(S, P, L, B, L);
    C_DecryptMessageNext(S, P, L, B, L, B, PL, CK_FLAGS);
    C_MessageDecryptFinal(S);
    C_MessageSignInit(S, M, O);
    C_SignMessage(S, P, L, B, L, B, PL);
    C_SignMessageBegin(S, P, L);
    C_SignMessageNext(S, P, L, B, L, B, PL);
    C_MessageSignFinal(S);
    C_MessageVerifyInit(S, M, O);
    C_VerifyMessage(S, P, L, B, L, B, L);
    C_VerifyMessageBegin(S, P, L);
    C_VerifyMessageNext(S, P, L, B, L, B, L);
    C_MessageVerifyFinal(S);
}

/// The card's generator is not offered (no `CKF_RNG`): `CKR_RANDOM_NO_RNG`.
#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(_: S, _: B, _: L) -> CK_RV {
    guard("C_SeedRandom", || with_module(|_| Err(Rv(CKR_RANDOM_NO_RNG))))
}

/// The card's generator is not offered (no `CKF_RNG`): `CKR_RANDOM_NO_RNG`.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(_: S, _: B, _: L) -> CK_RV {
    guard("C_GenerateRandom", || with_module(|_| Err(Rv(CKR_RANDOM_NO_RNG))))
}

/// Legacy parallel-function calls (P11 §5.16): always this answer.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionStatus(_: S) -> CK_RV {
    guard("C_GetFunctionStatus", || with_module(|_| Err(Rv(CKR_FUNCTION_NOT_PARALLEL))))
}

/// Legacy parallel-function calls (P11 §5.16): always this answer.
#[no_mangle]
pub unsafe extern "C" fn C_CancelFunction(_: S) -> CK_RV {
    guard("C_CancelFunction", || with_module(|_| Err(Rv(CKR_FUNCTION_NOT_PARALLEL))))
}

/// v3.0 C_LoginUser: JPKI PINs have no user name; the name is ignored and
/// the call is `C_Login`.
#[no_mangle]
pub unsafe extern "C" fn C_LoginUser(
    session: S,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    pin_len: L,
    _name: *mut CK_UTF8CHAR,
    _name_len: L,
) -> CK_RV {
    // SAFETY: the same contract as C_Login's.
    unsafe { C_Login(session, user, pin, pin_len) }
}

/// Whether the last list handed out was the v3.0 one (C_GetInfo reports
/// the version of the interface in use).
static V3: AtomicBool = AtomicBool::new(false);

/// `cryptokiVersion` for C_GetInfo.
pub fn reported_version() -> CK_VERSION {
    if V3.load(Ordering::Relaxed) {
        CK_VERSION { major: 3, minor: 0 }
    } else {
        CK_VERSION { major: 2, minor: 40 }
    }
}

macro_rules! function_list {
    ($ty:ident, $major:expr, $minor:expr $(, $extra:ident)*) => {
        $ty {
            version: CK_VERSION { major: $major, minor: $minor },
            C_Initialize: Some(C_Initialize),
            C_Finalize: Some(C_Finalize),
            C_GetInfo: Some(C_GetInfo),
            C_GetFunctionList: Some(C_GetFunctionList),
            C_GetSlotList: Some(C_GetSlotList),
            C_GetSlotInfo: Some(C_GetSlotInfo),
            C_GetTokenInfo: Some(C_GetTokenInfo),
            C_GetMechanismList: Some(C_GetMechanismList),
            C_GetMechanismInfo: Some(C_GetMechanismInfo),
            C_InitToken: Some(C_InitToken),
            C_InitPIN: Some(C_InitPIN),
            C_SetPIN: Some(C_SetPIN),
            C_OpenSession: Some(C_OpenSession),
            C_CloseSession: Some(C_CloseSession),
            C_CloseAllSessions: Some(C_CloseAllSessions),
            C_GetSessionInfo: Some(C_GetSessionInfo),
            C_GetOperationState: Some(C_GetOperationState),
            C_SetOperationState: Some(C_SetOperationState),
            C_Login: Some(C_Login),
            C_Logout: Some(C_Logout),
            C_CreateObject: Some(C_CreateObject),
            C_CopyObject: Some(C_CopyObject),
            C_DestroyObject: Some(C_DestroyObject),
            C_GetObjectSize: Some(C_GetObjectSize),
            C_GetAttributeValue: Some(C_GetAttributeValue),
            C_SetAttributeValue: Some(C_SetAttributeValue),
            C_FindObjectsInit: Some(C_FindObjectsInit),
            C_FindObjects: Some(C_FindObjects),
            C_FindObjectsFinal: Some(C_FindObjectsFinal),
            C_EncryptInit: Some(C_EncryptInit),
            C_Encrypt: Some(C_Encrypt),
            C_EncryptUpdate: Some(C_EncryptUpdate),
            C_EncryptFinal: Some(C_EncryptFinal),
            C_DecryptInit: Some(C_DecryptInit),
            C_Decrypt: Some(C_Decrypt),
            C_DecryptUpdate: Some(C_DecryptUpdate),
            C_DecryptFinal: Some(C_DecryptFinal),
            C_DigestInit: Some(C_DigestInit),
            C_Digest: Some(C_Digest),
            C_DigestUpdate: Some(C_DigestUpdate),
            C_DigestKey: Some(C_DigestKey),
            C_DigestFinal: Some(C_DigestFinal),
            C_SignInit: Some(C_SignInit),
            C_Sign: Some(C_Sign),
            C_SignUpdate: Some(C_SignUpdate),
            C_SignFinal: Some(C_SignFinal),
            C_SignRecoverInit: Some(C_SignRecoverInit),
            C_SignRecover: Some(C_SignRecover),
            C_VerifyInit: Some(C_VerifyInit),
            C_Verify: Some(C_Verify),
            C_VerifyUpdate: Some(C_VerifyUpdate),
            C_VerifyFinal: Some(C_VerifyFinal),
            C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
            C_VerifyRecover: Some(C_VerifyRecover),
            C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
            C_GenerateKey: Some(C_GenerateKey),
            C_GenerateKeyPair: Some(C_GenerateKeyPair),
            C_WrapKey: Some(C_WrapKey),
            C_UnwrapKey: Some(C_UnwrapKey),
            C_DeriveKey: Some(C_DeriveKey),
            C_SeedRandom: Some(C_SeedRandom),
            C_GenerateRandom: Some(C_GenerateRandom),
            C_GetFunctionStatus: Some(C_GetFunctionStatus),
            C_CancelFunction: Some(C_CancelFunction),
            C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
            $($extra: Some($extra),)*
        }
    };
}

static LIST_2_40: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST, 2, 40);

static LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(
    CK_FUNCTION_LIST_3_0,
    3,
    0,
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal
);

/// The interface name of every PKCS#11 interface.
static NAME: &[u8; 8] = b"PKCS 11\0";

/// The two interfaces: v3.0 first (the default), then v2.40. No flags: we
/// do not claim `CKF_INTERFACE_FORK_SAFE` (a child initialises again).
fn interfaces() -> [CK_INTERFACE; 2] {
    [
        CK_INTERFACE {
            pInterfaceName: NAME.as_ptr() as *mut CK_UTF8CHAR,
            pFunctionList: &LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut c_void,
            flags: 0,
        },
        CK_INTERFACE {
            pInterfaceName: NAME.as_ptr() as *mut CK_UTF8CHAR,
            pFunctionList: &LIST_2_40 as *const CK_FUNCTION_LIST as *mut c_void,
            flags: 0,
        },
    ]
}

/// §5.4 C_GetFunctionList: the v2.40 list (callable before C_Initialize).
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard("C_GetFunctionList", || {
        V3.store(false, Ordering::Relaxed);
        // SAFETY: `list` is NULL or writable; the list is static and never
        // written through.
        unsafe { put(list, &LIST_2_40 as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST) }
    })
}

/// §5.4 C_GetInterfaceList.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(list: *mut CK_INTERFACE, count: *mut CK_ULONG) -> CK_RV {
    guard("C_GetInterfaceList", || {
        // SAFETY: `count` writable, `list` holds `*count` entries.
        unsafe { crate::ffi::write_list(&interfaces(), list, count) }
    })
}

/// §5.4 C_GetInterface: by name ("PKCS 11" or NULL), version (3.0, 2.40 or
/// NULL for the default 3.0) and flags (which must all be ours: none).
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard("C_GetInterface", || {
        if interface.is_null() {
            return Err(Rv::ARGUMENTS_BAD);
        }
        if !name.is_null() {
            // SAFETY: a non-NULL name is a NUL-terminated string.
            let given = unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) };
            if given.to_bytes_with_nul() != NAME {
                return Err(Rv::ARGUMENTS_BAD);
            }
        }
        if flags != 0 {
            return Err(Rv::ARGUMENTS_BAD);
        }
        let wanted = if version.is_null() {
            CK_VERSION { major: 3, minor: 0 }
        } else {
            // SAFETY: non-NULL, readable.
            unsafe { get(version as *const CK_VERSION)? }
        };
        let index = match (wanted.major, wanted.minor) {
            (3, 0) => 0,
            (2, 40) => 1,
            _ => return Err(Rv::ARGUMENTS_BAD),
        };
        V3.store(index == 0, Ordering::Relaxed);
        static CHOSEN: [Interface; 2] = [Interface(0), Interface(1)];
        // SAFETY: writable out-pointer; the interface lives in a static.
        unsafe { put(interface, CHOSEN[index].get()) }
    })
}

/// A static `CK_INTERFACE` (its raw pointers point to statics).
struct Interface(usize);

impl Interface {
    fn get(&self) -> *mut CK_INTERFACE {
        static ALL: std::sync::OnceLock<SyncInterfaces> = std::sync::OnceLock::new();
        let all = ALL.get_or_init(|| SyncInterfaces(interfaces()));
        &all.0[self.0] as *const CK_INTERFACE as *mut CK_INTERFACE
    }
}

struct SyncInterfaces([CK_INTERFACE; 2]);
// SAFETY: the interfaces only hold pointers to immutable statics.
unsafe impl Sync for SyncInterfaces {}
// SAFETY: as above.
unsafe impl Send for SyncInterfaces {}
