//! Helm's release encoding: JSON, gzip, base64 — with limits a hostile Secret cannot beat.
//!
//! Helm (`pkg/storage/driver/util.go`) writes `base64(gzip(json(release)))` with gzip's best
//! compression, and on read only gunzips when the bytes start with gzip's magic, because
//! releases written before compression was introduced are plain JSON. The Secret driver
//! stores the resulting text in `data.release`, so on the wire it is base64 twice.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::release::Release;

/// The largest decoded release accepted by [`decode`]: 64 MiB of JSON. A Secret holds at
/// most 1 MiB, but gzip compresses a run of zeros about a thousandfold, so without a cap a
/// 1 MiB Secret could expand to a gigabyte in memory.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// The largest encoded text accepted by [`decode`] (base64 of a 1 MiB Secret plus slack);
/// anything longer cannot have come from a real release Secret.
pub const MAX_ENCODED_BYTES: usize = 4 * 1024 * 1024;

/// gzip's magic number and the deflate method byte, as Helm checks them.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Why a release could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The text is longer than any release Secret can hold.
    #[error("encoded release is {len} bytes, more than the {limit} a release Secret can hold")]
    EncodedTooLarge {
        /// The text's length.
        len: usize,
        /// [`MAX_ENCODED_BYTES`].
        limit: usize,
    },
    /// The text is not standard base64.
    #[error("release data is not valid base64")]
    Base64(#[source] base64::DecodeError),
    /// The gzip stream is corrupt or truncated.
    #[error("release data is not a valid gzip stream")]
    Gunzip(#[source] std::io::Error),
    /// Decompression would exceed the cap (a gzip bomb, or a release too big to be real).
    #[error("decompressed release exceeds {limit} bytes; refusing to inflate further")]
    DecodedTooLarge {
        /// The cap that was hit.
        limit: u64,
    },
    /// The decoded bytes are not a Helm release in JSON.
    #[error("release data is not a Helm release in JSON")]
    Json(#[source] serde_json::Error),
}

/// Encodes a release as Helm does: JSON, gzip (best compression), standard base64.
pub fn encode(release: &Release) -> String {
    // Serializing cannot fail: every map in the model has string keys and every value is
    // plain JSON, and writing to a Vec cannot fail either.
    let json = serde_json::to_vec(release).expect("a release always serializes to JSON");
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::best());
    gz.write_all(&json).expect("writing to a Vec cannot fail");
    let compressed = gz.finish().expect("writing to a Vec cannot fail");
    STANDARD.encode(compressed)
}

/// Decodes a release as Helm does, capping the decompressed size at [`MAX_DECODED_BYTES`].
///
/// # Errors
/// [`CodecError`] says which layer was wrong: too long, not base64, corrupt gzip, too large
/// once inflated, or not a release.
pub fn decode(data: &str) -> Result<Release, CodecError> {
    decode_with_limit(data, MAX_DECODED_BYTES)
}

/// [`decode`] with a chosen cap on the decompressed size.
///
/// # Errors
/// As [`decode`].
pub fn decode_with_limit(data: &str, limit: u64) -> Result<Release, CodecError> {
    if data.len() > MAX_ENCODED_BYTES {
        return Err(CodecError::EncodedTooLarge {
            len: data.len(),
            limit: MAX_ENCODED_BYTES,
        });
    }
    let raw = STANDARD.decode(data.trim()).map_err(CodecError::Base64)?;
    let json = if raw.starts_with(&GZIP_MAGIC) {
        inflate(&raw, limit)?
    } else {
        // Releases stored before Helm compressed them are plain JSON.
        if raw.len() as u64 > limit {
            return Err(CodecError::DecodedTooLarge { limit });
        }
        raw
    };
    serde_json::from_slice(&json).map_err(CodecError::Json)
}

/// Gunzips at most `limit` bytes, in chunks, checking before each append so the buffer never
/// grows past the cap (`read_to_end` would double it to twice the cap first).
fn inflate(raw: &[u8], limit: u64) -> Result<Vec<u8>, CodecError> {
    // Go's gzip reader reads concatenated members too, hence the multi-member decoder.
    let mut gz = MultiGzDecoder::new(raw);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match gz.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CodecError::Gunzip(e)),
        };
        if (out.len() + n) as u64 > limit {
            return Err(CodecError::DecodedTooLarge { limit });
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Status, Time};
    use serde_json::json;

    fn sample() -> Release {
        let mut r: Release = serde_json::from_value(json!({
            "name": "app", "version": 1, "namespace": "apps",
            "info": {"status": "deployed", "description": "Install complete"},
            "chart": {"metadata": {"name": "demo", "version": "1.0.0"}},
            "config": {"replicas": 2}, "manifest": "---\nkind: ConfigMap\n"
        }))
        .unwrap();
        r.info.first_deployed = Time::now();
        r
    }

    #[test]
    fn encode_then_decode_is_the_identity() {
        let r = sample();
        let text = encode(&r);
        let raw = STANDARD.decode(&text).unwrap();
        assert_eq!(&raw[..3], &GZIP_MAGIC, "gzip inside base64, as Helm writes");
        let back = decode(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.info.status, Status::Deployed);
    }

    #[test]
    fn uncompressed_json_is_read_as_helm_reads_pre_compression_releases() {
        let r = sample();
        let text = STANDARD.encode(serde_json::to_vec(&r).unwrap());
        assert_eq!(decode(&text).unwrap(), r);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap_with_a_clear_error() {
        // 16 MiB of zeros compress to ~16 KiB; a 1 MiB cap must refuse it.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..16 {
            gz.write_all(&zeros).unwrap();
        }
        let text = STANDARD.encode(gz.finish().unwrap());
        let err = decode_with_limit(&text, 1024 * 1024).unwrap_err();
        assert!(matches!(err, CodecError::DecodedTooLarge { limit } if limit == 1024 * 1024));
        assert!(err.to_string().contains("exceeds 1048576 bytes"), "{err}");
    }

    #[test]
    fn the_cap_is_inclusive() {
        let r = sample();
        let len = serde_json::to_vec(&r).unwrap().len() as u64;
        let text = encode(&r);
        assert_eq!(decode_with_limit(&text, len).unwrap(), r);
        assert!(matches!(
            decode_with_limit(&text, len - 1),
            Err(CodecError::DecodedTooLarge { .. })
        ));
        let plain = STANDARD.encode(serde_json::to_vec(&r).unwrap());
        assert!(decode_with_limit(&plain, len).is_ok());
        assert!(decode_with_limit(&plain, len - 1).is_err());
    }

    #[test]
    fn garbage_is_reported_by_the_layer_that_is_wrong() {
        assert!(matches!(
            decode("!!! not base64 !!!"),
            Err(CodecError::Base64(_))
        ));
        let bad_gzip = STANDARD.encode([0x1f, 0x8b, 0x08, 0, 0, 1, 2, 3]);
        assert!(matches!(decode(&bad_gzip), Err(CodecError::Gunzip(_))));
        assert!(matches!(
            decode(&STANDARD.encode(b"[1,2]")),
            Err(CodecError::Json(_))
        ));
        // Helm slices b[0:3] without a length check; two bytes must not panic here.
        assert!(matches!(decode("H4s="), Err(CodecError::Json(_))));
        assert!(matches!(decode(""), Err(CodecError::Json(_))));
        let huge = "A".repeat(MAX_ENCODED_BYTES + 4);
        assert!(matches!(
            decode(&huge),
            Err(CodecError::EncodedTooLarge { .. })
        ));
    }
}
