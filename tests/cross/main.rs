//! The client library against the emulated card, and OpenSSL as the oracle
//! for what they produce together.
#![allow(missing_docs)]

mod application;
mod client;
mod confirmation;
mod device_trust;
mod lost_answers;
mod openssl_oracle;
mod phone_flow;
mod status;
