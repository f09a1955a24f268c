//! The relay protocol, as GlobalPlatform's remote application management
//! over HTTP (GPC Amd B) does it: every answer of a flow is a step; while
//! it carries `commands`, the phone forwards them to its SE unchanged, as
//! one script, and posts the R-APDUs to `POST /v1/relay/{session}`, until a
//! step says `done`. A failed step is an error answer (`code`, `message`).

use serde::{Deserialize, Serialize};

/// One step of a flow, as the TSM answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelayStep {
    /// The relay session (64 hex digits: 256 random bits).
    pub session: String,
    /// C-APDUs (hex) to send to the SE, in order, as one script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    /// The flow's result, when it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub done: Option<serde_json::Value>,
    /// Why the flow failed (with an error status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What happened and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The SP-TSM's application this flow provisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The resume token, in the answer to the application only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
}

impl RelayStep {
    /// A step that hands `commands` to the phone.
    pub fn commands(session: &str, commands: &[Vec<u8>]) -> Self {
        Self {
            session: session.into(),
            commands: Some(commands.iter().map(hex::encode_upper).collect()),
            ..Self::default()
        }
    }

    /// The last step of a flow that finished.
    pub fn done(session: &str, result: serde_json::Value) -> Self {
        Self { session: session.into(), done: Some(result), ..Self::default() }
    }

    /// The last step of a flow that failed.
    pub fn failed(session: &str, code: crate::Code, message: &str) -> Self {
        Self {
            session: session.into(),
            code: Some(code.as_str().into()),
            message: Some(message.into()),
            ..Self::default()
        }
    }

    /// The commands as bytes; `None` if one is not hex.
    pub fn command_bytes(&self) -> Option<Vec<Vec<u8>>> {
        self.commands.as_ref()?.iter().map(|c| hex::decode(c).ok()).collect()
    }
}

/// The body of `POST /v1/relay/{session}`: the SE's responses, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayResponses {
    /// R-APDUs in hex (data and status word).
    pub responses: Vec<String>,
}

impl RelayResponses {
    /// The responses to post.
    pub fn new(responses: &[Vec<u8>]) -> Self {
        Self { responses: responses.iter().map(hex::encode_upper).collect() }
    }

    /// The R-APDUs, each hex with data and a 2-byte status word (at most
    /// 65 538 bytes, ISO 7816-4 extended length); `None` if one is not.
    pub fn into_bytes(self) -> Option<Vec<Vec<u8>>> {
        self.responses.iter().map(|r| hex::decode(r).ok().filter(|r| r.len() >= 2 && r.len() <= 65_538)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_responses_round_trip_and_bad_hex_is_refused() {
        let step = RelayStep::commands("ab", &[vec![0x00, 0xA4], vec![0x80]]);
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json, serde_json::json!({ "session": "ab", "commands": ["00A4", "80"] }));
        assert_eq!(serde_json::from_value::<RelayStep>(json).unwrap().command_bytes().unwrap()[1], vec![0x80]);
        let parse = |j: serde_json::Value| serde_json::from_value::<RelayResponses>(j).unwrap().into_bytes();
        assert_eq!(parse(serde_json::json!({ "responses": ["9000", "01029000"] })).unwrap().len(), 2);
        for bad in ["90", "zz00", ""] {
            assert!(parse(serde_json::json!({ "responses": [bad] })).is_none(), "{bad}");
        }
    }
}
