//! Return values: the `CKR_*` code a failure becomes at the C boundary
//! (PKCS#11 v3.1 §5.1, "Return values"), and the mapping of the card's
//! status words and the client's errors onto them (fact sheet §2.6).

use cryptoki_sys::*;

/// A PKCS#11 return value other than `CKR_OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rv(pub CK_RV);

/// Result of a core operation.
pub type Result<T> = std::result::Result<T, Rv>;

impl Rv {
    /// `CKR_GENERAL_ERROR`.
    pub const GENERAL: Rv = Rv(CKR_GENERAL_ERROR);
    /// `CKR_ARGUMENTS_BAD`.
    pub const ARGUMENTS_BAD: Rv = Rv(CKR_ARGUMENTS_BAD);
    /// `CKR_SLOT_ID_INVALID`.
    pub const SLOT_ID_INVALID: Rv = Rv(CKR_SLOT_ID_INVALID);
    /// `CKR_SESSION_HANDLE_INVALID`.
    pub const SESSION_HANDLE_INVALID: Rv = Rv(CKR_SESSION_HANDLE_INVALID);
    /// `CKR_TOKEN_NOT_PRESENT`.
    pub const TOKEN_NOT_PRESENT: Rv = Rv(CKR_TOKEN_NOT_PRESENT);
    /// `CKR_DEVICE_REMOVED`.
    pub const DEVICE_REMOVED: Rv = Rv(CKR_DEVICE_REMOVED);
    /// `CKR_DEVICE_ERROR`.
    pub const DEVICE_ERROR: Rv = Rv(CKR_DEVICE_ERROR);
    /// `CKR_FUNCTION_NOT_SUPPORTED`.
    pub const FUNCTION_NOT_SUPPORTED: Rv = Rv(CKR_FUNCTION_NOT_SUPPORTED);
    /// `CKR_OPERATION_ACTIVE`.
    pub const OPERATION_ACTIVE: Rv = Rv(CKR_OPERATION_ACTIVE);
    /// `CKR_OPERATION_NOT_INITIALIZED`.
    pub const OPERATION_NOT_INITIALIZED: Rv = Rv(CKR_OPERATION_NOT_INITIALIZED);
    /// `CKR_USER_NOT_LOGGED_IN`.
    pub const USER_NOT_LOGGED_IN: Rv = Rv(CKR_USER_NOT_LOGGED_IN);
    /// `CKR_PIN_LOCKED`.
    pub const PIN_LOCKED: Rv = Rv(CKR_PIN_LOCKED);
    /// `CKR_BUFFER_TOO_SMALL`.
    pub const BUFFER_TOO_SMALL: Rv = Rv(CKR_BUFFER_TOO_SMALL);
    /// `CKR_CRYPTOKI_NOT_INITIALIZED`.
    pub const NOT_INITIALIZED: Rv = Rv(CKR_CRYPTOKI_NOT_INITIALIZED);
}

impl std::fmt::Display for Rv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:08X})", name(self.0), self.0)
    }
}

/// The `CKR_*` name of a return value, for logs and test messages.
pub fn name(rv: CK_RV) -> &'static str {
    match rv {
        CKR_OK => "CKR_OK",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_SLOT_ID_INVALID => "CKR_SLOT_ID_INVALID",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_DEVICE_REMOVED => "CKR_DEVICE_REMOVED",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_FUNCTION_NOT_SUPPORTED => "CKR_FUNCTION_NOT_SUPPORTED",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_OPERATION_NOT_INITIALIZED => "CKR_OPERATION_NOT_INITIALIZED",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_TYPE_INVALID => "CKR_USER_TYPE_INVALID",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_INVALID => "CKR_PIN_INVALID",
        CKR_PIN_LEN_RANGE => "CKR_PIN_LEN_RANGE",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        CKR_DATA_LEN_RANGE => "CKR_DATA_LEN_RANGE",
        CKR_DATA_INVALID => "CKR_DATA_INVALID",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_ATTRIBUTE_SENSITIVE => "CKR_ATTRIBUTE_SENSITIVE",
        CKR_ATTRIBUTE_TYPE_INVALID => "CKR_ATTRIBUTE_TYPE_INVALID",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_CRYPTOKI_NOT_INITIALIZED => "CKR_CRYPTOKI_NOT_INITIALIZED",
        CKR_CRYPTOKI_ALREADY_INITIALIZED => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        CKR_SESSION_PARALLEL_NOT_SUPPORTED => "CKR_SESSION_PARALLEL_NOT_SUPPORTED",
        CKR_SESSION_READ_ONLY_EXISTS => "CKR_SESSION_READ_ONLY_EXISTS",
        CKR_NO_EVENT => "CKR_NO_EVENT",
        _ => "CKR_(other)",
    }
}

/// What a failed card operation becomes. `removed` tells whether the
/// transport lost the card (the caller then forgets the token).
pub fn from_card(e: &jpki::Error) -> Rv {
    use apdu::StatusWord as Sw;
    match e {
        jpki::Error::Transport(_) => Rv::DEVICE_ERROR,
        jpki::Error::NotJpki(_) => Rv(CKR_TOKEN_NOT_RECOGNIZED),
        jpki::Error::WrongPin { .. } => Rv(CKR_PIN_INCORRECT),
        jpki::Error::PinBlocked { .. } => Rv::PIN_LOCKED,
        jpki::Error::PinFormat(_) => Rv(CKR_PIN_INVALID),
        jpki::Error::NeedsPin(_) => Rv::USER_NOT_LOGGED_IN,
        jpki::Error::Malformed(_) => Rv::DEVICE_ERROR,
        jpki::Error::Card { sw, .. } => match sw {
            Sw::SecurityStatusNotSatisfied => Rv::USER_NOT_LOGGED_IN,
            Sw::AuthenticationBlocked | Sw::ReferenceDataNotUsable => Rv::PIN_LOCKED,
            Sw::ConditionsNotSatisfied => Rv(CKR_FUNCTION_FAILED),
            Sw::WrongLength | Sw::WrongLe(_) => Rv(CKR_DATA_LEN_RANGE),
            Sw::IncorrectData => Rv(CKR_DATA_INVALID),
            Sw::FileNotFound => Rv(CKR_TOKEN_NOT_RECOGNIZED),
            _ => Rv::DEVICE_ERROR,
        },
    }
}
