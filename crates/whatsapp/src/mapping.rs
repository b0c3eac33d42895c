//! The one table from whatsapp-rust's events to what the engine sees.
//!
//! The library's `run()` returns at every end of a connection without saying
//! why (its own reconnect is off), so an [`Observer`] watches the events of
//! one attempt as they are dispatched: it passes pairing and link events on at
//! once, remembers the last word on why the connection is ending, and at the
//! end turns that into exactly one closing event for the engine
//! ([`Observer::finish`]). The engine's RULES.md §2 table then decides what the
//! close means; nothing here retries or waits.
//!
//! | whatsapp-rust event                          | the engine sees                         |
//! |----------------------------------------------|-----------------------------------------|
//! | `PairingQrCode`                              | `Qr`                              |
//! | `PairingCode`                                | `PairCode`                        |
//! | `PairPasskeyRequest`                         | `PasskeyRequested`                |
//! | `PairPasskeyConfirmation`                    | `PasskeyCode` with its code       |
//! | `PairPasskeyError`                           | `PasskeyFailed` with its words; the attempt is ended from our side (Q-5) |
//! | `PairSuccess`                                | `Scanned`; an end with no word → 515 (Q-3) |
//! | `Connected`                                  | `Opened` with the linked number         |
//! | `LoggedOut` (logged out, unknown logout)     | close 401                               |
//! | `LoggedOut` (account locked)                 | close 403                               |
//! | `StreamReplaced`                             | close 440                               |
//! | `TemporaryBan`                               | close 403 with the ban's length         |
//! | `ConnectFailure`                             | by reason, see [`failure_code`]         |
//! | `ClientOutdated`                             | close 405: fatal, "update Switchboard"  |
//! | `PairError`                                  | close 500 (pairing failed: scan again)  |
//! | `PairingQrCodesExhausted` (socket closed)    | `QrExhausted`                     |
//! | `Disconnected`, clean stream end             | close 428                               |
//! | `Disconnected`, transport error              | close 408                               |
//! | `StreamError` (connection kept)              | close 428 if the connection then ends   |
//! | none; the dial failed: DNS, TCP, TLS, upgrade | `Unreachable` with its words (F-1)      |
//! | no event: handshake, keep-alive              | close 408 (O-3)                         |
//!
//! A `Disconnected` or `StreamError` only says how the socket went down, so
//! it never replaces a more specific word that came before it (a 503 failure
//! is followed by a `Disconnected`, and the 503 is the reason).
//!
//! The dial itself sends no event: [`crate::transport::WatchedDial`] tells the
//! observer when it failed ([`Observer::network_failed`]).

use std::time::Duration;

use switchboard_engine::connector::ConnectorEvent;
use switchboard_engine::lifecycle::CloseCode;
use whatsapp_rust::types::events::{ConnectFailureReason, Event};

/// Why the connection is ending, as far as the events have said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    Closed { code: CloseCode, banned_for: Option<Duration> },
    QrExhausted,
}

/// Watches one attempt's events. Pure: no I/O, no clock.
#[derive(Debug, Default)]
pub struct Observer {
    /// The last event that names the reason for the end.
    specific: Option<Ending>,
    /// The last word on how the socket went down, used when nothing specific was said.
    transport: Option<CloseCode>,
    /// The phone paired during this attempt (its credentials are saved).
    paired: bool,
    /// The linked number from `PairSuccess`, for the `Opened` that follows.
    phone: Option<String>,
    /// A pairing failure ends the attempt from our side.
    must_end: bool,
    /// The dial to WhatsApp's server failed, in plain words: the way there, not WhatsApp.
    network: Option<String>,
}

impl Observer {
    pub fn new() -> Self {
        Observer::default()
    }

    /// Takes one event. Returns what to tell the engine now, if anything.
    /// `own_number` is the linked number the client knows (asked only for
    /// `Connected`).
    pub fn observe(&mut self, event: &Event, own_number: impl FnOnce() -> Option<String>) -> Option<ConnectorEvent> {
        match event {
            Event::PairingQrCode(qr) => return Some(ConnectorEvent::Qr(qr.code.clone())),
            Event::PairingCode(code) => return Some(ConnectorEvent::PairCode(code.code.clone())),
            // no passkey authenticator is registered (a desktop app cannot
            // sign for WhatsApp's web origin), so a request waits for nothing;
            // the engine shows it and ends it with its reason.
            Event::PairPasskeyRequest(_) => return Some(ConnectorEvent::PasskeyRequested),
            Event::PairPasskeyConfirmation(confirmation) => {
                return Some(ConnectorEvent::PasskeyCode(confirmation.code.clone()));
            }
            Event::PairPasskeyError(error) => {
                self.must_end = true;
                return Some(ConnectorEvent::PasskeyFailed { detail: error.error.clone() });
            }
            Event::PairSuccess(success) => {
                self.paired = true;
                self.phone = phone_of(&success.id.user);
                return Some(ConnectorEvent::Scanned);
            }
            Event::Connected(_) => {
                let phone = own_number().or_else(|| self.phone.clone());
                return Some(ConnectorEvent::Opened { phone });
            }
            Event::LoggedOut(logged_out) => self.end(failure_code(logged_out.reason), None),
            Event::StreamReplaced(_) => self.end(CloseCode::REPLACED, None),
            Event::TemporaryBan(ban) => {
                // WhatsApp says how long the ban lasts; the engine dates its end (F-5).
                let banned_for = Duration::from_millis(ban.expire.num_milliseconds().max(0) as u64);
                self.end(CloseCode::FORBIDDEN, Some(banned_for));
            }
            Event::ConnectFailure(failure) => self.end(failure_code(failure.reason), None),
            Event::ClientOutdated(_) => self.end(CloseCode::CLIENT_OUTDATED, None),
            Event::PairError(_) => {
                self.end(CloseCode::BAD_SESSION, None);
                self.must_end = true;
            }
            Event::PairingQrCodesExhausted(exhausted) if exhausted.disconnected => {
                self.specific = Some(Ending::QrExhausted);
            }
            Event::Disconnected(disconnected) => {
                let clean = disconnected.reason.is_clean_shutdown();
                self.transport = Some(if clean { CloseCode::CONNECTION_CLOSED } else { CloseCode::TIMED_OUT });
            }
            Event::StreamError(_) => self.transport = Some(CloseCode::CONNECTION_CLOSED),
            _ => {}
        }
        None
    }

    fn end(&mut self, code: CloseCode, banned_for: Option<Duration>) {
        self.specific = Some(Ending::Closed { code, banned_for });
    }

    /// The dial to WhatsApp's server failed before any WhatsApp handshake
    /// (name resolution, TCP, TLS, the WebSocket upgrade): `detail` says how.
    pub fn network_failed(&mut self, detail: String) {
        self.network = Some(detail);
    }

    /// Whether the attempt must be ended from our side (the library keeps a
    /// socket open after a failed pairing that can no longer complete).
    pub fn must_end(&self) -> bool {
        self.must_end
    }

    /// The one closing event for the engine once `run()` has returned.
    pub fn finish(&self) -> ConnectorEvent {
        match &self.specific {
            Some(Ending::QrExhausted) => ConnectorEvent::QrExhausted,
            Some(Ending::Closed { code, banned_for }) => {
                ConnectorEvent::Closed { code: *code, banned_for: *banned_for }
            }
            None => {
                let code = match (self.transport, &self.network) {
                    (Some(code), _) => code,
                    // The restart WhatsApp asks for right after pairing carries no event.
                    (None, _) if self.paired => CloseCode::RESTART_REQUIRED,
                    // The way to WhatsApp failed: every agent meets it (F-1).
                    (None, Some(detail)) => return ConnectorEvent::Unreachable { detail: detail.clone() },
                    // Handshake failures and a dead keep-alive emit nothing (O-3).
                    (None, None) => CloseCode::TIMED_OUT,
                };
                ConnectorEvent::Closed { code, banned_for: None }
            }
        }
    }
}

/// The close code for a `<failure>` reason (also the reason a `LoggedOut` carries).
pub fn failure_code(reason: ConnectFailureReason) -> CloseCode {
    use ConnectFailureReason as R;
    match reason {
        R::LoggedOut | R::UnknownLogout => CloseCode::LOGGED_OUT,
        // Locked by WhatsApp, or banned without a stated end.
        R::AccountLocked | R::TempBanned => CloseCode::FORBIDDEN,
        R::ClientOutdated | R::BadUserAgent => CloseCode::CLIENT_OUTDATED,
        R::NotFound | R::ClientUnknown => CloseCode::NOT_FOUND,
        // WhatsApp's own trouble, not a bad session (RULES.md's 500 means corrupted keys).
        R::InternalServerError | R::Experimental | R::ServiceUnavailable => CloseCode::UNAVAILABLE,
        // An expired or invalid client token is fetched anew on the next connection.
        R::CatExpired | R::CatInvalid | R::Generic | R::Unknown(_) => CloseCode::CONNECTION_CLOSED,
    }
}

/// `+` and the digits of a phone-number JID user, or nothing if it is not one.
fn phone_of(user: &str) -> Option<String> {
    (!user.is_empty() && user.bytes().all(|b| b.is_ascii_digit())).then(|| format!("+{user}"))
}
