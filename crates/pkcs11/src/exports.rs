//! The implemented `C_*` functions. Each checks its pointers, calls the
//! core, and writes the answer back; the PKCS#11 v3.1 section it follows is
//! named in its doc comment.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use crate::ffi::{self, array, bytes, capacity, get, guard, padded, put, with_module, write_bytes, write_list};
use cryptoki_sys::*;
use pkcs11_core::objects::Lookup;
use pkcs11_core::{Config, Module, Rv, Signed};

/// Library version reported by `C_GetInfo`.
const LIBRARY_VERSION: CK_VERSION = CK_VERSION { major: 0, minor: 1 };

/// §5.4 C_Initialize: one initialisation per process; the mutex callbacks
/// must be all NULL or all set (we use our own locks either way);
/// `pReserved` is ignored (fact sheet §6.5).
#[no_mangle]
pub unsafe extern "C" fn C_Initialize(init_args: *mut std::ffi::c_void) -> CK_RV {
    guard("C_Initialize", || {
        if !init_args.is_null() {
            // SAFETY: a non-NULL argument points to CK_C_INITIALIZE_ARGS.
            let args = unsafe { get(init_args as *const CK_C_INITIALIZE_ARGS)? };
            let set = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if set.iter().any(|s| *s) && !set.iter().all(|s| *s) {
                return Err(Rv::ARGUMENTS_BAD);
            }
        }
        let mut state = ffi::lock();
        if let Some(old) = state.take() {
            if old.pid == std::process::id() {
                *state = Some(old);
                return Err(Rv(CKR_CRYPTOKI_ALREADY_INITIALIZED));
            }
            // A forked child: the parent's PC/SC handles are the parent's;
            // leave them unclosed.
            std::mem::forget(old);
        }
        ffi::set_debug(std::env::var_os("JPKI_PKCS11_DEBUG").is_some());
        let mut config = Config::load().map_err(|e| {
            eprintln!("jpki-pkcs11: configuration: {e}");
            Rv::GENERAL
        })?;
        if pkcs11_core::config::host_is_browser() {
            config.hide_sign_token = true;
        }
        *state = Some(ffi::State { module: Module::new(config), pid: std::process::id() });
        Ok(())
    })
}

/// §5.4 C_Finalize.
#[no_mangle]
pub unsafe extern "C" fn C_Finalize(reserved: *mut std::ffi::c_void) -> CK_RV {
    guard("C_Finalize", || {
        if !reserved.is_null() {
            return Err(Rv::ARGUMENTS_BAD);
        }
        let mut state = ffi::lock();
        match state.take() {
            Some(s) if s.pid == std::process::id() => Ok(()),
            Some(s) => {
                std::mem::forget(s);
                Err(Rv::NOT_INITIALIZED)
            }
            None => Err(Rv::NOT_INITIALIZED),
        }
    })
}

/// §5.4 C_GetInfo.
#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    guard("C_GetInfo", || {
        with_module(|_| Ok(()))?;
        let value = CK_INFO {
            cryptokiVersion: crate::lists::reported_version(),
            manufacturerID: padded("openjpki"),
            flags: 0,
            libraryDescription: padded("openjpki JPKI PKCS#11 module"),
            libraryVersion: LIBRARY_VERSION,
        };
        // SAFETY: `info` is NULL or writable.
        unsafe { put(info, value) }
    })
}

/// §5.5 C_GetSlotList.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(token_present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG) -> CK_RV {
    guard("C_GetSlotList", || {
        let slots = with_module(|m| Ok(m.slot_list(token_present != 0)))?;
        // SAFETY: `count` readable/writable, `list` holds `*count` ids.
        unsafe { write_list(&slots, list, count) }
    })
}

/// §5.5 C_GetSlotInfo.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard("C_GetSlotInfo", || {
        let s = with_module(|m| m.slot_info(slot))?;
        let value = CK_SLOT_INFO {
            slotDescription: padded(&s.description),
            manufacturerID: padded("openjpki"),
            flags: s.flags,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major: 0, minor: 0 },
        };
        // SAFETY: `info` is NULL or writable.
        unsafe { put(info, value) }
    })
}

/// §5.5 C_GetTokenInfo: labels as OpenSC's, model = the EF 0006 name,
/// serial "00000000" (docs/pkcs11.md).
#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard("C_GetTokenInfo", || {
        let t = with_module(|m| m.token_info(slot))?;
        let value = CK_TOKEN_INFO {
            label: padded(&t.label),
            manufacturerID: padded("JPKI"),
            model: padded(&t.model),
            serialNumber: padded("00000000"),
            flags: t.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: t.sessions.0 as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: t.sessions.1 as CK_ULONG,
            ulMaxPinLen: t.pin_len.1 as CK_ULONG,
            ulMinPinLen: t.pin_len.0 as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major: 0, minor: 0 },
            utcTime: [b' '; 16],
        };
        // SAFETY: `info` is NULL or writable.
        unsafe { put(info, value) }
    })
}

/// §5.5 C_GetMechanismList.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetMechanismList", || {
        let mechanisms = with_module(|m| m.mechanisms(slot))?;
        // SAFETY: as C_GetSlotList.
        unsafe { write_list(&mechanisms, list, count) }
    })
}

/// §5.5 C_GetMechanismInfo.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    ty: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard("C_GetMechanismInfo", || {
        let (min, max, flags) = with_module(|m| m.mechanism_info(slot, ty))?;
        // SAFETY: `info` is NULL or writable.
        unsafe { put(info, CK_MECHANISM_INFO { ulMinKeySize: min, ulMaxKeySize: max, flags }) }
    })
}

/// §5.5 C_WaitForSlotEvent: `CKF_DONT_BLOCK` answers at once; otherwise
/// polls (on the caller's thread, every 200 ms) until a token comes or
/// goes or the module is finalised.
#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut std::ffi::c_void,
) -> CK_RV {
    guard("C_WaitForSlotEvent", || {
        if !reserved.is_null() || slot.is_null() {
            return Err(Rv::ARGUMENTS_BAD);
        }
        loop {
            if let Some(id) = with_module(|m| Ok(m.slot_event()))? {
                // SAFETY: checked non-NULL above; the caller's out-pointer.
                return unsafe { put(slot, id) };
            }
            if flags & CKF_DONT_BLOCK != 0 {
                return Err(Rv(CKR_NO_EVENT));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    })
}

/// §5.6 C_OpenSession (notification callbacks are not used).
#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut std::ffi::c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard("C_OpenSession", || {
        if session.is_null() {
            return Err(Rv::ARGUMENTS_BAD);
        }
        let h = with_module(|m| m.open_session(slot, flags))?;
        // SAFETY: checked non-NULL.
        unsafe { put(session, h) }
    })
}

/// §5.6 C_CloseSession.
#[no_mangle]
pub extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_CloseSession", || with_module(|m| m.close_session(session)))
}

/// §5.6 C_CloseAllSessions.
#[no_mangle]
pub extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard("C_CloseAllSessions", || with_module(|m| m.close_all_sessions(slot)))
}

/// §5.6 C_GetSessionInfo.
#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(session: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) -> CK_RV {
    guard("C_GetSessionInfo", || {
        let s = with_module(|m| m.session_info(session))?;
        let value = CK_SESSION_INFO { slotID: s.slot, state: s.state, flags: s.flags, ulDeviceError: 0 };
        // SAFETY: `info` is NULL or writable.
        unsafe { put(info, value) }
    })
}

/// §5.6 C_Login: `CKU_USER`, or `CKU_CONTEXT_SPECIFIC` during a signature
/// with the signature key.
#[no_mangle]
pub unsafe extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_Login", || {
        // SAFETY: `pin` holds `pin_len` bytes when not NULL.
        let pin = if pin.is_null() { None } else { Some(unsafe { bytes(pin, pin_len)? }) };
        with_module(|m| m.login(session, user, pin))
    })
}

/// §5.6 C_Logout.
#[no_mangle]
pub extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_Logout", || with_module(|m| m.logout(session)))
}

/// §5.7 C_GetAttributeValue: every entry is processed; the return value
/// tells the worst case met (sensitive, unknown type, buffer too small).
#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard("C_GetAttributeValue", || {
        if template.is_null() {
            return Err(Rv::ARGUMENTS_BAD);
        }
        let n = usize::try_from(count).map_err(|_| Rv::ARGUMENTS_BAD)?;
        // SAFETY: the caller's template has `count` entries, writable.
        let entries = unsafe { std::slice::from_raw_parts_mut(template, n) };
        let types: Vec<CK_ATTRIBUTE_TYPE> = entries.iter().map(|a| a.type_).collect();
        let answers = with_module(|m| m.attributes(session, object, &types))?;
        let mut result = Ok(());
        for (entry, answer) in entries.iter_mut().zip(answers) {
            let rv = match answer {
                Lookup::Found(value) => {
                    if entry.pValue.is_null() {
                        entry.ulValueLen = value.len() as CK_ULONG;
                        continue;
                    }
                    if (entry.ulValueLen as usize) < value.len() {
                        Rv::BUFFER_TOO_SMALL
                    } else {
                        // SAFETY: pValue holds ulValueLen ≥ value.len() bytes.
                        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), entry.pValue as *mut u8, value.len()) };
                        entry.ulValueLen = value.len() as CK_ULONG;
                        continue;
                    }
                }
                Lookup::Sensitive => Rv(CKR_ATTRIBUTE_SENSITIVE),
                Lookup::Invalid => Rv(CKR_ATTRIBUTE_TYPE_INVALID),
            };
            entry.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if result.is_ok() {
                result = Err(rv);
            }
        }
        result
    })
}

/// §5.7 C_GetObjectSize.
#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    size: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetObjectSize", || {
        let n = with_module(|m| m.object_size(session, object))?;
        // SAFETY: `size` is NULL or writable.
        unsafe { put(size, n) }
    })
}

/// §5.7 C_FindObjectsInit.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard("C_FindObjectsInit", || {
        // SAFETY: `template` holds `count` entries.
        let entries = unsafe { array(template, count)? };
        let mut wanted = Vec::with_capacity(entries.len());
        for a in entries {
            // SAFETY: each entry's pValue holds ulValueLen bytes.
            let value = unsafe { bytes(a.pValue as *const u8, a.ulValueLen)? };
            wanted.push((a.type_, value.to_vec()));
        }
        with_module(|m| m.find_init(session, &wanted))
    })
}

/// §5.7 C_FindObjects.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_FindObjects", || {
        if count.is_null() || (objects.is_null() && max > 0) {
            return Err(Rv::ARGUMENTS_BAD);
        }
        let found = with_module(|m| m.find(session, usize::try_from(max).unwrap_or(usize::MAX)))?;
        if !found.is_empty() {
            // SAFETY: `objects` holds `max` ≥ found.len() handles.
            unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), objects, found.len()) };
        }
        // SAFETY: checked non-NULL.
        unsafe { put(count, found.len() as CK_ULONG) }
    })
}

/// §5.7 C_FindObjectsFinal.
#[no_mangle]
pub extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_FindObjectsFinal", || with_module(|m| m.find_final(session)))
}

/// §5.13 C_SignInit.
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_SignInit", || {
        // SAFETY: `mechanism` is NULL or readable.
        let m = unsafe { get(mechanism as *const CK_MECHANISM)? };
        // SAFETY: the parameter holds ulParameterLen bytes.
        let params = unsafe { bytes(m.pParameter as *const u8, m.ulParameterLen)? };
        if PSS.contains(&m.mechanism) {
            explain_no_pss();
        }
        with_module(|module| module.sign_init(session, m.mechanism, params, key))
    })
}

/// The RSA-PSS mechanisms a TLS stack asks for.
const PSS: [CK_MECHANISM_TYPE; 5] = [
    CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
];

/// A TLS client asking for RSA-PSS gets `CKR_MECHANISM_INVALID`, which its
/// error message does not explain; the module says once, on stderr, what
/// the user can do (fact sheet §2.5: TLS 1.3 has no PKCS#1 v1.5 handshake
/// signatures).
fn explain_no_pss() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "jpki-pkcs11: a JPKI card signs with PKCS#1 v1.5 only, and RSA-PSS was asked for. TLS 1.3 client \
             authentication needs RSA-PSS, so it cannot work with a JPKI card: use TLS 1.2 (curl --tls-max 1.2) \
             with PKCS#1 signature algorithms (OpenSSL: ClientSignatureAlgorithms = RSA+SHA256:RSA+SHA384:RSA+SHA512)."
        );
    });
}

/// Writes a signature answer (P11 §5.2 conventions).
///
/// # Safety
/// As [`ffi::write_bytes`].
unsafe fn answer(signed: Signed, out: *mut u8, len: *mut CK_ULONG) -> Result<(), Rv> {
    match signed {
        // SAFETY: `len` is writable (checked by `capacity`).
        Signed::Length(n) => unsafe { put(len, n as CK_ULONG) },
        Signed::TooSmall(n) => {
            // SAFETY: as above.
            unsafe { put(len, n as CK_ULONG)? };
            Err(Rv::BUFFER_TOO_SMALL)
        }
        // SAFETY: `out` holds at least the signature's length (checked).
        Signed::Done(sig) => unsafe { write_bytes(&sig, out, len) },
    }
}

/// §5.13 C_Sign.
#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Sign", || {
        // SAFETY: `data` holds `data_len` bytes; `signature_len` readable.
        let (data, cap) = unsafe { (bytes(data, data_len)?, capacity(signature, signature_len)?) };
        let signed = with_module(|m| m.sign(session, data, cap))?;
        // SAFETY: `signature` holds `cap` bytes.
        unsafe { answer(signed, signature, signature_len) }
    })
}

/// §5.13 C_SignUpdate.
#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG) -> CK_RV {
    guard("C_SignUpdate", || {
        // SAFETY: `part` holds `part_len` bytes.
        let part = unsafe { bytes(part, part_len)? };
        with_module(|m| m.sign_update(session, part))
    })
}

/// §5.13 C_SignFinal.
#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_SignFinal", || {
        // SAFETY: `signature_len` readable.
        let cap = unsafe { capacity(signature, signature_len)? };
        let signed = with_module(|m| m.sign_final(session, cap))?;
        // SAFETY: `signature` holds `cap` bytes.
        unsafe { answer(signed, signature, signature_len) }
    })
}
