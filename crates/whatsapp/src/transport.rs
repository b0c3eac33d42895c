//! The way to WhatsApp, watched: tells the [`Observer`] when the network
//! failed before any WhatsApp handshake (F-1).
//!
//! whatsapp-rust's `run()` logs a failed connect and returns without an
//! event, so a refused connection, a failed name lookup, a broken TLS
//! session and a server that closed the link all looked alike (408). The
//! library dials through a transport factory, though: [`WatchedDial`] wraps
//! its WebSocket factory and reports the dial's own failure. Everything the
//! factory does comes before WhatsApp's noise handshake (name resolution,
//! TCP, TLS, the WebSocket upgrade), so a failure there is the way to
//! WhatsApp, not WhatsApp's answer.

use std::sync::{Arc, Mutex};

use whatsapp_rust::anyhow;
use whatsapp_rust::async_channel::Receiver;
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};

use crate::mapping::Observer;

/// A transport factory that tells the attempt's observer how its dial went.
pub struct WatchedDial<F> {
    inner: F,
    observer: Arc<Mutex<Observer>>,
}

impl<F> WatchedDial<F> {
    pub fn new(inner: F, observer: Arc<Mutex<Observer>>) -> Self {
        WatchedDial { inner, observer }
    }
}

#[whatsapp_rust::async_trait]
impl<F: TransportFactory> TransportFactory for WatchedDial<F> {
    async fn create_transport(&self) -> Result<(Arc<dyn Transport>, Receiver<TransportEvent>), anyhow::Error> {
        // The library gives up on a dial after 20 s by dropping this future:
        // a dial that never finished is a failure too.
        let mut unfinished = Unfinished { observer: &self.observer, armed: true };
        let dialled = self.inner.create_transport().await;
        unfinished.armed = false;
        if let Err(err) = &dialled {
            let words = network_words(&format!("{err:#}"));
            tracing::warn!("WhatsApp's server could not be reached: {words}");
            lock(&self.observer).network_failed(words);
        }
        dialled
    }
}

/// Reports a dial dropped before it finished.
struct Unfinished<'a> {
    observer: &'a Mutex<Observer>,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(self.observer).network_failed("no answer from WhatsApp's server in time".to_owned());
        }
    }
}

fn lock(observer: &Mutex<Observer>) -> std::sync::MutexGuard<'_, Observer> {
    observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Plain words for a failed dial. The WebSocket library's error arrives as
/// text only ("WebSocket connect failed: Connection refused (os error 111)").
pub fn network_words(error: &str) -> String {
    let words = error.trim_start_matches("WebSocket connect failed: ");
    // The OS's error number says nothing to the people reading this.
    let words = match words.find(" (os error ") {
        Some(at) if words.ends_with(')') => &words[..at],
        _ => words,
    };
    match words {
        "client DNS lookup failed" => "name resolution failed".to_owned(),
        "Connection refused" => "the connection was refused".to_owned(),
        other => {
            let mut chars = other.chars();
            chars.next().map_or_else(String::new, |first| first.to_lowercase().chain(chars).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::network_words;

    /// F-1: the library's texts for a failed dial read as plain words.
    #[test]
    fn f1_a_failed_dial_reads_in_plain_words() {
        assert_eq!(network_words("WebSocket connect failed: client DNS lookup failed"), "name resolution failed");
        assert_eq!(
            network_words("WebSocket connect failed: Connection refused (os error 111)"),
            "the connection was refused"
        );
        assert_eq!(
            network_words("WebSocket connect failed: Network is unreachable (os error 101)"),
            "network is unreachable"
        );
        assert_eq!(network_words("invalid peer certificate: Expired"), "invalid peer certificate: Expired");
    }
}
