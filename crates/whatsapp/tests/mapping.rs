//! Every whatsapp-rust event of the mapping table, built synthetically, is
//! classified as the table in `mapping.rs` says (RULES.md §2 L-1..L-4, Q-1..Q-4, O-3).

use std::time::Duration;

use switchboard_engine::connector::ConnectorEvent;
use switchboard_engine::lifecycle::{CloseClass, CloseCode, classify};
use switchboard_whatsapp::mapping::{Observer, failure_code};
use whatsapp_rust::chrono;
use whatsapp_rust::types::events::{
    ClientOutdated, ConnectFailure, ConnectFailureReason, Connected, Disconnected, Event, LoggedOut, PairError,
    PairPasskeyConfirmation, PairPasskeyError, PairPasskeyRequest, PairSuccess, PairingCode, PairingQrCode,
    PairingQrCodesExhausted, StreamError, StreamReplaced, TempBanReason, TemporaryBan,
};
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::{Jid, Server};

fn no_number() -> Option<String> {
    None
}

/// Feeds `events` to a fresh observer; returns what it reported on the way and at the end.
fn run(events: &[Event]) -> (Vec<ConnectorEvent>, ConnectorEvent) {
    let mut observer = Observer::new();
    let reported = events.iter().filter_map(|e| observer.observe(e, no_number)).collect();
    (reported, observer.finish())
}

fn closed(code: u16) -> ConnectorEvent {
    ConnectorEvent::Closed { code: CloseCode(code), banned_for: None }
}

fn logged_out(reason: ConnectFailureReason) -> Event {
    Event::LoggedOut(LoggedOut::builder().on_connect(true).reason(reason).build())
}

fn connect_failure(reason: ConnectFailureReason) -> Event {
    Event::ConnectFailure(ConnectFailure::builder().reason(reason).build())
}

fn disconnected(reason: DisconnectReason) -> Event {
    Event::Disconnected(Disconnected::builder().reason(reason).build())
}

fn pair_success(user: &str) -> Event {
    Event::PairSuccess(
        PairSuccess::builder()
            .id(Jid::pn(user))
            .lid(Jid::new("123456789", Server::Lid))
            .business_name(String::new())
            .platform("android".into())
            .build(),
    )
}

#[test]
fn l2_logged_out_is_401_and_replaced_is_440_both_auth_closes() {
    for reason in [ConnectFailureReason::LoggedOut, ConnectFailureReason::UnknownLogout] {
        assert_eq!(run(&[logged_out(reason)]).1, closed(401), "{reason:?}");
    }
    assert_eq!(run(&[Event::StreamReplaced(StreamReplaced::builder().build())]).1, closed(440));
    assert_eq!(classify(CloseCode(401)).class, CloseClass::Auth);
    assert_eq!(classify(CloseCode(440)).class, CloseClass::Auth);
}

#[test]
fn l3_f5_a_temporary_ban_is_403_with_its_length_and_a_locked_account_is_403() {
    let ban =
        TemporaryBan::builder().code(TempBanReason::SentToTooManyPeople).expire(chrono::Duration::hours(2)).build();
    let (_, end) = run(&[Event::TemporaryBan(ban)]);
    let banned_for = Some(Duration::from_secs(2 * 3600));
    assert_eq!(end, ConnectorEvent::Closed { code: CloseCode(403), banned_for });
    assert_eq!(run(&[logged_out(ConnectFailureReason::AccountLocked)]).1, closed(403));
    // A ban stanza without a usable end arrives as a ConnectFailure.
    assert_eq!(run(&[connect_failure(ConnectFailureReason::TempBanned)]).1, closed(403));
    assert_eq!(classify(CloseCode(403)).class, CloseClass::Fatal);
}

#[test]
fn l3_client_outdated_is_405_fatal_asking_for_an_update() {
    assert_eq!(run(&[Event::ClientOutdated(ClientOutdated::builder().build())]).1, closed(405));
    assert_eq!(run(&[connect_failure(ConnectFailureReason::ClientOutdated)]).1, closed(405));
    assert_eq!(run(&[connect_failure(ConnectFailureReason::BadUserAgent)]).1, closed(405));
    let row = classify(CloseCode(405));
    assert_eq!(row.class, CloseClass::Fatal);
    assert!(row.advice.contains("update Switchboard"));
    assert!(!row.clears_credentials);
}

#[test]
fn l1_connect_failures_map_by_reason() {
    use ConnectFailureReason as R;
    let table = [
        (R::Generic, 428, CloseClass::Recoverable),
        (R::LoggedOut, 401, CloseClass::Auth),
        (R::UnknownLogout, 401, CloseClass::Auth),
        (R::AccountLocked, 403, CloseClass::Fatal),
        (R::TempBanned, 403, CloseClass::Fatal),
        (R::ClientOutdated, 405, CloseClass::Fatal),
        (R::BadUserAgent, 405, CloseClass::Fatal),
        (R::CatExpired, 428, CloseClass::Recoverable),
        (R::CatInvalid, 428, CloseClass::Recoverable),
        (R::NotFound, 404, CloseClass::Fatal),
        (R::ClientUnknown, 404, CloseClass::Fatal),
        // WhatsApp's own server trouble is not RULES.md's 500 (corrupted keys).
        (R::InternalServerError, 503, CloseClass::Recoverable),
        (R::Experimental, 503, CloseClass::Recoverable),
        (R::ServiceUnavailable, 503, CloseClass::Recoverable),
        (R::Unknown(499), 428, CloseClass::Recoverable),
    ];
    for (reason, code, class) in table {
        assert_eq!(failure_code(reason), CloseCode(code), "{reason:?}");
        assert_eq!(run(&[connect_failure(reason)]).1, closed(code), "{reason:?}");
        assert_eq!(classify(CloseCode(code)).class, class, "{reason:?}");
    }
}

#[test]
fn l4_a_clean_disconnect_is_428_and_a_transport_failure_408() {
    let clean =
        [DisconnectReason::StreamEnded, DisconnectReason::ServerClose { code: Some(1000), reason: String::new() }];
    for reason in clean {
        assert_eq!(run(&[disconnected(reason.clone())]).1, closed(428), "{reason}");
    }
    let broken = [
        DisconnectReason::ReadError("connection reset".into()),
        DisconnectReason::ServerClose { code: Some(1011), reason: "internal".into() },
        DisconnectReason::Unknown,
    ];
    for reason in broken {
        assert_eq!(run(&[disconnected(reason.clone())]).1, closed(408), "{reason}");
    }
    // A stream error keeps the connection; if it then ends, it ended as a closed connection.
    let stream_error = Event::StreamError(StreamError::builder().code("999".into()).build());
    assert_eq!(run(&[stream_error]).1, closed(428));
}

#[test]
fn o3_an_end_without_any_event_is_a_408_timeout() {
    // Handshake failures and a dead keep-alive emit no event at all (and no failed dial).
    assert_eq!(run(&[]).1, closed(408));
    let qr =
        Event::PairingQrCode(PairingQrCode::builder().code("2@abc".into()).timeout(Duration::from_secs(60)).build());
    assert_eq!(run(&[qr]).1, closed(408));
}

/// F-1: a failed dial (no event from the library) is `Unreachable` with its
/// words; a word from WhatsApp, or the socket's own end, still says more.
#[test]
fn f1_a_failed_dial_is_unreachable_and_any_word_from_whatsapp_says_more() {
    let failed_dial = |events: &[Event]| {
        let mut observer = Observer::new();
        for event in events {
            observer.observe(event, no_number);
        }
        observer.network_failed("name resolution failed".into());
        observer.finish()
    };
    assert_eq!(failed_dial(&[]), ConnectorEvent::Unreachable { detail: "name resolution failed".into() });
    assert_eq!(failed_dial(&[connect_failure(ConnectFailureReason::ServiceUnavailable)]), closed(503));
    assert_eq!(failed_dial(&[disconnected(DisconnectReason::StreamEnded)]), closed(428));
    assert_eq!(failed_dial(&[pair_success("4915112345678")]), closed(515));
}

#[test]
fn specific_reasons_are_not_replaced_by_the_socket_going_down() {
    let events =
        [connect_failure(ConnectFailureReason::ServiceUnavailable), disconnected(DisconnectReason::StreamEnded)];
    assert_eq!(run(&events).1, closed(503));
    let events = [logged_out(ConnectFailureReason::LoggedOut), disconnected(DisconnectReason::Unknown)];
    assert_eq!(run(&events).1, closed(401));
}

#[test]
fn q1_q4_qr_codes_and_pairing_codes_are_passed_on_at_once() {
    let qr = |c: &str| {
        Event::PairingQrCode(PairingQrCode::builder().code(c.into()).timeout(Duration::from_secs(20)).build())
    };
    let code =
        Event::PairingCode(PairingCode::builder().code("ABCD1234".into()).timeout(Duration::from_secs(180)).build());
    let (reported, _) = run(&[qr("2@first"), qr("2@second"), code]);
    assert_eq!(
        reported,
        [
            ConnectorEvent::Qr("2@first".into()),
            ConnectorEvent::Qr("2@second".into()),
            ConnectorEvent::PairCode("ABCD1234".into())
        ]
    );
}

/// Q-5: each passkey event of the library, built synthetically, becomes
/// its engine event; an error also ends the attempt from our side.
#[test]
fn q5_passkey_events_are_passed_on_and_an_error_ends_the_attempt() {
    let request = Event::PairPasskeyRequest(
        PairPasskeyRequest::builder()
            .request_options_json(r#"{"challenge":"AAAA","rpId":"web.whatsapp.com"}"#.into())
            .build(),
    );
    let confirmation = Event::PairPasskeyConfirmation(
        PairPasskeyConfirmation::builder().code("ABCD-EFGH".into()).skip_handoff_ux(false).build(),
    );
    let mut observer = Observer::new();
    assert_eq!(observer.observe(&request, no_number), Some(ConnectorEvent::PasskeyRequested));
    assert_eq!(observer.observe(&confirmation, no_number), Some(ConnectorEvent::PasskeyCode("ABCD-EFGH".into())));
    assert!(!observer.must_end());
    let error = Event::PairPasskeyError(
        PairPasskeyError::builder().error("assertion rejected".into()).continuation(true).build(),
    );
    assert_eq!(
        observer.observe(&error, no_number),
        Some(ConnectorEvent::PasskeyFailed { detail: "assertion rejected".into() })
    );
    assert!(observer.must_end(), "the library keeps the socket open after a failed link");
}

#[test]
fn q3_pair_success_is_a_scan_and_the_silent_restart_after_it_is_515() {
    let connected = Event::Connected(Connected::builder().build());
    let mut observer = Observer::new();
    assert_eq!(observer.observe(&pair_success("4915112345678"), no_number), Some(ConnectorEvent::Scanned));
    // WhatsApp's restart after pairing arrives as a stream error 515 the library acts on without an event.
    assert_eq!(observer.finish(), closed(515));
    assert_eq!(classify(CloseCode(515)).class, CloseClass::RestartRequired);
    // Connected opens the link with the paired number, or the one the client knows.
    assert_eq!(
        observer.observe(&connected, no_number),
        Some(ConnectorEvent::Opened { phone: Some("+4915112345678".into()) })
    );
    let mut resumed = Observer::new();
    assert_eq!(
        resumed.observe(&connected, || Some("+15551234567".into())),
        Some(ConnectorEvent::Opened { phone: Some("+15551234567".into()) })
    );
}

#[test]
fn q2_qr_codes_exhausted_ends_as_a_qr_expiry_only_when_the_socket_closed() {
    let exhausted = |disconnected| {
        Event::PairingQrCodesExhausted(PairingQrCodesExhausted::builder().disconnected(disconnected).build())
    };
    assert_eq!(run(&[exhausted(true)]).1, ConnectorEvent::QrExhausted);
    // With a pairing-code flow outstanding the socket stays up: the code may still be entered.
    assert_eq!(run(&[exhausted(false)]).1, closed(408));
}

#[test]
fn l3_a_failed_pairing_ends_the_attempt_as_a_corrupted_session() {
    let error = PairError::builder()
        .id(Jid::pn("4915112345678"))
        .lid(Jid::new("123456789", Server::Lid))
        .business_name(String::new())
        .platform("android".into())
        .error("bad signature".into())
        .build();
    let mut observer = Observer::new();
    assert_eq!(observer.observe(&Event::PairError(error), no_number), None);
    assert!(observer.must_end());
    assert_eq!(observer.finish(), closed(500));
    assert!(classify(CloseCode(500)).advice.contains("scan a new QR"));
}
