//! [`error_codes!`](crate::error_codes): how each service's API crate
//! declares its error codes — the code on the wire, its HTTP status, and
//! parsing back what a client received — so every service answers errors
//! the same way (`{"code": …, "message": …}`).

/// Declares an API's error codes: `Name = "wire_text", status;` each with
/// its doc comment. The enum gets `ALL`, `as_str`, `http_status`, `parse`,
/// `Display` and comparison with the wire text (`code == "replay"`).
#[macro_export]
macro_rules! error_codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$doc:meta])* $variant:ident = $text:literal, $status:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The code on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The HTTP status the code is answered with.
            pub fn http_status(self) -> u16 {
                match self {
                    $($name::$variant => $status,)*
                }
            }

            /// The code a client received, if it is one of this API's.
            pub fn parse(code: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|c| c.as_str() == code)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::error_codes! {
        /// Codes of a test API.
        enum Code {
            /// Malformed.
            Invalid = "invalid_request", 400;
            /// Replayed.
            Replay = "replay", 409;
        }
    }

    #[test]
    fn every_code_parses_back_and_has_an_error_status() {
        for &c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!((400..600).contains(&c.http_status()), "{c}");
        }
        assert_eq!(Code::parse("nope"), None);
        assert_eq!(Code::Replay, "replay");
        assert_eq!(Code::Invalid.to_string(), "invalid_request");
    }
}

/// The body of every error answer (OpenAPI schema `ErrorBody`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code (the API's table of codes).
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}
