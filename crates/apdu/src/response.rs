//! Response APDUs: a data field followed by the trailer `SW1 SW2`
//! (ISO/IEC 7816-4:2020 §5.1).

use crate::StatusWord;

/// A response APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (possibly empty).
    pub data: Vec<u8>,
    /// Trailer.
    pub sw: StatusWord,
}

impl Response {
    /// A response with data and a status word.
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Self { data, sw }
    }

    /// A bare status word, no data.
    pub fn status(sw: StatusWord) -> Self {
        Self { data: Vec::new(), sw }
    }

    /// Splits raw response bytes into data and trailer; `None` if shorter than 2.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (data, sw) = bytes.split_at(bytes.len().checked_sub(2)?);
        Some(Self { data: data.to_vec(), sw: StatusWord::from_bytes(sw[0], sw[1]) })
    }

    /// Data followed by the trailer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

impl From<StatusWord> for Response {
    fn from(sw: StatusWord) -> Self {
        Self::status(sw)
    }
}

impl std::fmt::Debug for Response {
    /// Prints sizes only: response data may be a secret (a my number).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response {{ {} bytes, {} }}", self.data.len(), self.sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let r = Response::parse(&[1, 2, 0x90, 0]).unwrap();
        assert_eq!(r.data, vec![1, 2]);
        assert_eq!(r.sw, StatusWord::Ok);
        assert_eq!(r.to_bytes(), vec![1, 2, 0x90, 0]);
        assert!(Response::parse(&[0x90]).is_none());
        assert_eq!(Response::parse(&[0x6A, 0x82]).unwrap().sw, StatusWord::FileNotFound);
    }
}
