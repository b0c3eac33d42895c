//! QR strings to PNG images, for the UI's QR panel.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::{EcLevel, QrCode};
use thiserror::Error;

/// Pixels per QR module: large enough for a phone camera at arm's length on a
/// laptop screen, small enough that a WhatsApp code stays under ~400 px.
pub const MODULE_PIXELS: u32 = 6;

#[derive(Debug, Error)]
pub enum QrError {
    #[error("the QR data does not fit a QR code: {0}")]
    TooLong(#[from] qrcode::types::QrError),
    #[error("could not encode the QR image: {0}")]
    Encode(#[from] image::ImageError),
}

/// Renders `data` as a black-on-white PNG with the standard quiet zone.
pub fn png(data: &str) -> Result<Vec<u8>, QrError> {
    // Medium error correction, as WhatsApp's own codes use: robust to glare
    // without growing the code.
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)?;
    let image = code.render::<Luma<u8>>().quiet_zone(true).module_dimensions(MODULE_PIXELS, MODULE_PIXELS).build();
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> String {
        let image = image::load_from_memory(png_bytes).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code in the image");
        grids[0].decode().unwrap().1
    }

    ///
    #[test]
    fn q1_a_png_decodes_back_to_the_same_string() {
        // The shape of a real WhatsApp pairing string: ref, keys and id, comma-separated.
        let whatsapp_like = "2@Jm4GrxmzQ0aVV3l8bGLQ0gkqw9vW2v7mYGQyqZ+Xb0v1Vx3X7E1pJTrP8d0=,\
            6uYQm6RCSx5kqzvJ7cT8vW4yHQ0PB8a9LPxhZ8b7XmE=,Bq8x7S5x3YtY3u2k9e7GZo5Qf3cX2T8b7y6h4L1mZ0w=,\
            ZfB2cO4t1e8m2wWq5l7Z9dY3o6v1aT4k0xH8pJ2sN5u=";
        for data in ["sim-qr-1-1", whatsapp_like, "ünïcödé ✓"] {
            let bytes = png(data).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(decode(&bytes), data);
        }
    }

    #[test]
    fn data_too_long_for_any_qr_is_a_typed_error() {
        let err = png(&"x".repeat(5_000)).unwrap_err();
        assert!(matches!(err, QrError::TooLong(_)), "{err}");
    }
}
