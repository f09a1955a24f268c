//! A lenient BER-TLV reader (ISO/IEC 7816-4:2020 §6.3; ITU-T X.690 §8.1).
//!
//! The My Number card writes tags in the multi-byte form even when the tag
//! number would fit one byte (`FF 10`, `FF 20`, `DF 21`), and lengths with
//! leading zero octets (`82 00 9F`). Strict DER readers refuse both; this one
//! accepts them, and still refuses anything that runs past its input or uses
//! the indefinite length. Tags are kept as their raw bytes in a `u32`
//! (`FF 10` → `0xFF10`), which is how the card documentation names them.

use thiserror::Error;

/// Why bytes are not a TLV.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlvError {
    /// The input ends inside the header or the value; `needed` more bytes
    /// would complete it (when known).
    #[error("TLV truncated: {needed:?} more bytes needed")]
    Incomplete {
        /// Bytes still missing, when the header is complete.
        needed: Option<usize>,
    },
    /// A tag longer than four bytes.
    #[error("tag longer than 4 bytes")]
    TagTooLong,
    /// Indefinite length (`80`) or a length field of more than four bytes.
    #[error("unsupported length encoding 0x{0:02X}")]
    BadLength(u8),
    /// Bytes left over where exactly one TLV was expected.
    #[error("{0} trailing bytes after the TLV")]
    TrailingBytes(usize),
}

/// The tag and length of a TLV, and the header's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Raw tag bytes, big-endian in a `u32`.
    pub tag: u32,
    /// Whether the tag's constructed bit (b6 of its first byte) is set.
    pub constructed: bool,
    /// Length of the value.
    pub len: usize,
    /// Bytes taken by tag and length.
    pub header_len: usize,
}

impl Header {
    /// Header plus value: the size of the whole TLV.
    pub fn total_len(&self) -> usize {
        self.header_len + self.len
    }
}

/// One data object borrowed from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Raw tag bytes, big-endian in a `u32`.
    pub tag: u32,
    /// Whether the value holds nested data objects.
    pub constructed: bool,
    /// The value field.
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The nested data objects of a constructed value.
    pub fn children(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    /// The first child with `tag`, if any (errors in siblings before it count).
    pub fn find(&self, tag: u32) -> Result<Option<Tlv<'a>>, TlvError> {
        for child in self.children() {
            let child = child?;
            if child.tag == tag {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }
}

/// Reads the header at the start of `input`.
pub fn header(input: &[u8]) -> Result<Header, TlvError> {
    let incomplete = TlvError::Incomplete { needed: None };
    let first = *input.first().ok_or(incomplete.clone())?;
    let mut tag = u32::from(first);
    let mut pos = 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *input.get(pos).ok_or(incomplete.clone())?;
            pos += 1;
            if pos > 4 {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l0 = *input.get(pos).ok_or(incomplete.clone())?;
    pos += 1;
    let len = match l0 {
        0x00..=0x7F => usize::from(l0),
        0x81..=0x84 => {
            let n = usize::from(l0 & 0x7F);
            let bytes = input.get(pos..pos + n).ok_or(incomplete)?;
            pos += n;
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(TlvError::BadLength(l0)),
    };
    Ok(Header { tag, constructed: first & 0x20 != 0, len, header_len: pos })
}

/// Reads one TLV from the start of `input`; returns it and the rest.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let h = header(input)?;
    let Some(value) = input.get(h.header_len..h.total_len()) else {
        return Err(TlvError::Incomplete { needed: Some(h.total_len() - input.len()) });
    };
    Ok((Tlv { tag: h.tag, constructed: h.constructed, value }, &input[h.total_len()..]))
}

/// Reads exactly one TLV; trailing bytes are an error.
pub fn parse_exact(input: &[u8]) -> Result<Tlv<'_>, TlvError> {
    let (tlv, rest) = parse_one(input)?;
    if !rest.is_empty() {
        return Err(TlvError::TrailingBytes(rest.len()));
    }
    Ok(tlv)
}

/// Iterates over consecutive TLVs; stops after the first error.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { rest: input, failed: false }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match parse_one(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Encodes a TLV with a minimal length (tags are written as given).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tag_bytes[skip..]);
    let len = value.len();
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => {
            out.push(0x83);
            out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn my_number_ef_as_dumped_from_a_real_card() {
        // Text AP EF 0001: FF 10 0C + 12 digits + FF FF (jpki-card.md §5.2).
        let mut ef = vec![0xFF, 0x10, 0x0C];
        ef.extend_from_slice(b"123456789018");
        ef.extend_from_slice(&[0xFF, 0xFF]);
        let (tlv, rest) = parse_one(&ef).unwrap();
        assert_eq!(tlv.tag, 0xFF10);
        assert!(tlv.constructed);
        assert_eq!(tlv.value, b"123456789018");
        assert_eq!(rest, &[0xFF, 0xFF]);
        assert_eq!(parse_exact(&ef), Err(TlvError::TrailingBytes(2)));
    }

    #[test]
    fn basic_four_attributes_nested() {
        let inner = [
            encode(0xDF21, &[0; 8]),
            encode(0xDF22, "山田太郎".as_bytes()),
            encode(0xDF23, "東京都".as_bytes()),
            encode(0xDF24, b"19800101"),
            encode(0xDF25, b"1"),
        ]
        .concat();
        let outer = encode(0xFF20, &inner);
        let tlv = parse_exact(&outer).unwrap();
        assert_eq!(tlv.tag, 0xFF20);
        assert_eq!(tlv.find(0xDF22).unwrap().unwrap().value, "山田太郎".as_bytes());
        assert_eq!(tlv.find(0xDF25).unwrap().unwrap().value, b"1");
        assert_eq!(tlv.find(0xDF29).unwrap(), None);
        assert_eq!(tlv.children().count(), 5);
    }

    #[test]
    fn non_minimal_long_length() {
        // myna ber.rs case: DF 27 82 00 9F … (length 0x9F in three bytes).
        let mut obj = vec![0xDF, 0x27, 0x82, 0x00, 0x9F];
        obj.extend(std::iter::repeat_n(7u8, 0x9F));
        let h = header(&obj).unwrap();
        assert_eq!((h.tag, h.len, h.header_len), (0xDF27, 0x9F, 5));
        assert_eq!(parse_exact(&obj).unwrap().value.len(), 0x9F);
    }

    #[test]
    fn certificate_header_gives_total_length() {
        let h = header(&[0x30, 0x82, 0x06, 0x1F, 0x30]).unwrap();
        assert_eq!(h.total_len(), 0x061F + 4);
        assert!(header(&[0x30, 0x82, 0x06, 0x1F]).unwrap().constructed);
    }

    #[test]
    fn truncated_and_unsupported_inputs() {
        assert_eq!(header(&[]), Err(TlvError::Incomplete { needed: None }));
        assert_eq!(header(&[0xDF]), Err(TlvError::Incomplete { needed: None }));
        assert_eq!(header(&[0x30, 0x82, 0x01]), Err(TlvError::Incomplete { needed: None }));
        assert_eq!(parse_one(&[0x04, 0x03, 1]).unwrap_err(), TlvError::Incomplete { needed: Some(2) });
        assert_eq!(header(&[0x30, 0x80]), Err(TlvError::BadLength(0x80)));
        assert_eq!(header(&[0x30, 0x85, 0, 0, 0, 0, 1]), Err(TlvError::BadLength(0x85)));
        assert_eq!(header(&[0x1F, 0x81, 0x81, 0x81, 0x01, 0x00]), Err(TlvError::TagTooLong));
        let errs: Vec<_> = Reader::new(&[0x04, 0x01, 0xAA, 0x04, 0x05]).collect();
        assert_eq!(errs.len(), 2);
        assert!(errs[1].is_err());
    }

    #[test]
    fn encode_lengths() {
        assert_eq!(encode(0x04, &[0; 3])[..2], [0x04, 0x03]);
        assert_eq!(encode(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(encode(0x30, &[0; 300])[..4], [0x30, 0x82, 0x01, 0x2C]);
        assert_eq!(encode(0xFF10, b"x")[..3], [0xFF, 0x10, 0x01]);
    }
}
