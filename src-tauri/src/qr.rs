//! QR strings to PNG images, for the UI's QR panel.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

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

/// Names a QR string without carrying it: a hash of its text. Stable for
/// the life of the process (the hasher's keys are fixed), which is all the
/// window needs to tell that an agent's QR changed.
pub fn key(data: &str) -> String {
    let mut hasher = DefaultHasher::new();
    data.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// A QR string as a PNG `data:` URL, which the CSP allows for images.
pub fn data_url(data: &str) -> Result<String, QrError> {
    Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png(data)?)))
}

/// The image last rendered for each agent's QR: a QR string is rendered once
/// however often it is asked for (the detail panel, a reload of the window).
#[derive(Default)]
pub struct QrImages {
    last: Mutex<HashMap<i64, (String, String)>>,
    renders: AtomicU64,
}

impl QrImages {
    /// The image of `qr`, the live QR of `agent`.
    pub fn data_url(&self, agent: i64, qr: &str) -> Result<String, QrError> {
        if let Some((text, url)) = self.lock().get(&agent)
            && text == qr
        {
            return Ok(url.clone());
        }
        // Rendered outside the lock: a PNG takes a few milliseconds.
        let url = data_url(qr)?;
        self.renders.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(agent, (qr.to_owned(), url.clone()));
        Ok(url)
    }

    /// The agent shows no QR any more: its last image is dropped.
    pub fn forget(&self, agent: i64) {
        self.lock().remove(&agent);
    }

    /// How many images were rendered since the start.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (String, String)>> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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

    /// the image follows the agent's QR, and each QR is rendered once.
    #[test]
    fn q1_each_qr_string_is_rendered_once_and_its_key_follows_it() {
        let images = QrImages::default();
        let first = images.data_url(1, "sim-qr-1-1").unwrap();
        assert_eq!(images.data_url(1, "sim-qr-1-1").unwrap(), first);
        assert_eq!(images.renders(), 1);
        let rotated = images.data_url(1, "sim-qr-1-2").unwrap();
        assert_ne!(rotated, first);
        assert_eq!(images.renders(), 2);
        let png_bytes = base64::engine::general_purpose::STANDARD
            .decode(rotated.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        assert_eq!(decode(&png_bytes), "sim-qr-1-2");
        assert_eq!(key("sim-qr-1-2"), key("sim-qr-1-2"));
        assert_ne!(key("sim-qr-1-1"), key("sim-qr-1-2"));
        images.forget(1);
        images.data_url(1, "sim-qr-1-2").unwrap();
        assert_eq!(images.renders(), 3);
    }

    #[test]
    fn data_too_long_for_any_qr_is_a_typed_error() {
        let err = png(&"x".repeat(5_000)).unwrap_err();
        assert!(matches!(err, QrError::TooLong(_)), "{err}");
    }
}
