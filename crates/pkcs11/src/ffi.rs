//! The module's global state and the helpers every export uses: the lock,
//! the fork check, panics, pointers, and the PKCS#11 output conventions
//! (P11 §5.2 "Conventions for functions returning output in a
//! variable-length buffer").

use cryptoki_sys::*;
use pkcs11_core::{Module, Rv};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// The module between `C_Initialize` and `C_Finalize`, with the process
/// that initialised it.
pub struct State {
    pub module: Module,
    pub pid: u32,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Whether `JPKI_PKCS11_DEBUG` asked for a line per call on stderr.
static DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn lock() -> MutexGuard<'static, Option<State>> {
    // A panic while holding the lock was answered CKR_GENERAL_ERROR; the
    // state is still consistent enough to go on or finalize.
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn set_debug(on: bool) {
    DEBUG.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn log(name: &str, rv: CK_RV) {
    if DEBUG.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("jpki-pkcs11: {name} -> {}", pkcs11_core::rv::name(rv));
    }
}

/// Runs an export's body: panics become `CKR_GENERAL_ERROR`.
pub fn guard(name: &str, body: impl FnOnce() -> Result<(), Rv>) -> CK_RV {
    let rv = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv.0,
        Err(_) => CKR_GENERAL_ERROR,
    };
    log(name, rv);
    rv
}

/// Runs `f` on the initialised module of this process.
pub fn with_module<T>(f: impl FnOnce(&mut Module) -> Result<T, Rv>) -> Result<T, Rv> {
    let mut state = lock();
    match state.as_mut() {
        Some(s) if s.pid == std::process::id() => f(&mut s.module),
        _ => Err(Rv::NOT_INITIALIZED),
    }
}

/// A C byte array as a slice; NULL is allowed only for an empty one.
///
/// # Safety
/// `p` must point to `len` readable bytes when not NULL.
pub unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8], Rv> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Rv::ARGUMENTS_BAD) };
    }
    let len = usize::try_from(len).map_err(|_| Rv::ARGUMENTS_BAD)?;
    // SAFETY: the caller promises `len` readable bytes at `p`.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A C array of `T` as a slice, as [`bytes`].
///
/// # Safety
/// `p` must point to `len` readable `T`s when not NULL.
pub unsafe fn array<'a, T>(p: *const T, len: CK_ULONG) -> Result<&'a [T], Rv> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Rv::ARGUMENTS_BAD) };
    }
    let len = usize::try_from(len).map_err(|_| Rv::ARGUMENTS_BAD)?;
    // SAFETY: the caller promises `len` readable items at `p`.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes through an out-pointer, refusing NULL.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
pub unsafe fn put<T>(p: *mut T, value: T) -> Result<(), Rv> {
    if p.is_null() {
        return Err(Rv::ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and valid for writes by the caller's contract.
    unsafe { p.write(value) };
    Ok(())
}

/// Reads through an in-pointer, refusing NULL.
///
/// # Safety
/// `p` must be NULL or valid for a read of `T`.
pub unsafe fn get<T: Copy>(p: *const T) -> Result<T, Rv> {
    if p.is_null() {
        return Err(Rv::ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL and readable by the caller's contract.
    Ok(unsafe { p.read() })
}

/// The "list" convention: `out` NULL → count only; too small →
/// `CKR_BUFFER_TOO_SMALL` with the count; else copy.
///
/// # Safety
/// `count` must be valid for read/write; `out`, when not NULL, for
/// `*count` writes of `T`.
pub unsafe fn write_list<T: Copy>(items: &[T], out: *mut T, count: *mut CK_ULONG) -> Result<(), Rv> {
    // SAFETY: per the function contract.
    let capacity = unsafe { get(count)? };
    let n = items.len() as CK_ULONG;
    // SAFETY: per the function contract.
    unsafe { put(count, n)? };
    if out.is_null() {
        return Ok(());
    }
    if capacity < n {
        return Err(Rv::BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` holds at least `capacity` ≥ `n` items.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), out, items.len()) };
    Ok(())
}

/// The capacity of a variable-length output buffer: `None` for a size
/// query (`out` NULL).
///
/// # Safety
/// `len` must be valid for reads.
pub unsafe fn capacity(out: *const u8, len: *const CK_ULONG) -> Result<Option<usize>, Rv> {
    // SAFETY: per the function contract.
    let len = unsafe { get(len)? };
    Ok((!out.is_null()).then(|| usize::try_from(len).unwrap_or(usize::MAX)))
}

/// Copies `value` to `out` (which the caller sized, see [`capacity`]) and
/// sets `*len`.
///
/// # Safety
/// `out`, when not NULL, must hold `*len` ≥ `value.len()` bytes; `len`
/// must be valid for writes.
pub unsafe fn write_bytes(value: &[u8], out: *mut u8, len: *mut CK_ULONG) -> Result<(), Rv> {
    if !out.is_null() {
        // SAFETY: the caller checked the capacity.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), out, value.len()) };
    }
    // SAFETY: per the function contract.
    unsafe { put(len, value.len() as CK_ULONG) }
}

/// Blank-padded, truncated copy of `text` (the CK_*_INFO string fields).
pub fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = text.len().min(N);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&text.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_strings_cut_on_a_character_boundary() {
        assert_eq!(&padded::<8>("JPKI"), b"JPKI    ");
        assert_eq!(&padded::<4>("JPKIAPGPSETOKEN"), b"JPKI");
        // "署" is 3 bytes: cutting at 4 keeps one whole character.
        assert_eq!(&padded::<4>("署名"), "署 ".as_bytes());
    }

    #[test]
    fn a_panic_is_a_general_error() {
        assert_eq!(guard("test", || panic!("bug")), CKR_GENERAL_ERROR);
        assert_eq!(guard("test", || Err(Rv::ARGUMENTS_BAD)), CKR_ARGUMENTS_BAD);
    }
}
