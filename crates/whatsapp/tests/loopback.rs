//! The real whatsapp-rust client against servers on 127.0.0.1 that this test
//! starts: one that refuses, one that accepts and drops, one that accepts and
//! never answers. No test here reaches any network beyond loopback: the
//! client dials the local address and uses a fixed WhatsApp Web version, so it
//! fetches nothing over HTTP.
//!
//! The library's own reconnect is off: every failure comes back to the
//! engine, which retries on ITS backoff. A server that cannot be reached (a
//! refused connection, a link dropped before the WebSocket upgrade) is
//! `Unreachable`: an outage begins at once and one probe at a time tries on
//! R-1's delays (F-1, F-2). A server that takes the link and never answers
//! is a 408 after the engine's connect timeout. Each TCP connection the
//! server sees is one attempt the engine made; the library would have retried
//! after 1 s (Fibonacci), the engine waits `backoff_base`.
//!
//! These tests run on real time: the OS completes loopback connects while
//! tokio's paused clock would jump its timeouts forward. They wait for
//! states, never for fixed periods, and compare the gaps the server measured.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::{CloseCode, Rule, Status, Trigger};
use switchboard_engine::supervisor::{Options, Supervisor};

/// F-1, F-2, R-1: a refused connection is the way to WhatsApp failing, not a
/// close by WhatsApp: an outage begins at once with the plain-words cause,
/// the agent is held (its retries do not count), and probes come on the
/// engine's backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_f2_a_refused_connection_begins_an_outage_probed_on_the_engines_backoff() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_resuming_against(&url).await;
    let view = wait_for_held_after(&s.sup, s.agent, 1).await;
    assert_unreachable_and_held(&s.sup, &view).await;
    let words = unreachable_words(&s.sup, s.agent).await.unwrap();
    assert!(words.contains("the connection was refused"), "{words}");
    let outage = s.sup.outage().expect("an outage began at the first unreachable server");
    assert!(
        outage.cause.starts_with("WhatsApp cannot be reached from this machine (the connection was refused"),
        "{}",
        outage.cause
    );

    let view = wait_for_held_after(&s.sup, s.agent, 3).await;
    assert_unreachable_and_held(&s.sup, &view).await;
    let attempts = engine_attempts(&s.sup, s.agent).await;
    assert!(attempts.iter().all(|a| a.trigger == Trigger::Auto), "{attempts:?}");
    // The probes came when the engine scheduled them, not the library's 1 s.
    for pair in attempts.windows(2) {
        let gap = pair[1].at.0 - pair[0].at.0;
        assert!(gap >= BACKOFF.as_millis() as i64, "attempts {gap} ms apart");
    }
    assert!(s.sup.outage().is_some(), "the outage lasts while the server refuses");
    s.stop().await;
}

/// F-1, R-1: the server accepts and drops before the WebSocket upgrade: the
/// way to WhatsApp failed too. Each TCP connection is one engine attempt: the
/// library does not retry by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_a_link_dropped_before_the_upgrade_is_unreachable_and_the_library_does_not_retry_by_itself() {
    let (url, accepted) = start_server(Server::AcceptAndDrop).await;
    let s = linked_agent_resuming_against(&url).await;
    let view = wait_for_held_after(&s.sup, s.agent, 2).await;
    assert_unreachable_and_held(&s.sup, &view).await;
    // The next probe waits R-1's delay: stopping now leaves exactly two attempts.
    let attempts = engine_attempts(&s.sup, s.agent).await;
    s.stop().await;

    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(accepted.len(), attempts.len(), "one TCP connection per engine attempt");
    let gap = accepted[1] - accepted[0];
    assert!(
        gap >= BACKOFF.saturating_sub(Duration::from_millis(50)),
        "connections {gap:?} apart: the library retried by itself"
    );
}

/// the server accepts and never answers; the engine's connect timeout
/// closes the attempt as a 408 and the library has not dialled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6_a_silent_server_is_a_408_after_the_engines_connect_timeout() {
    let (url, accepted) = start_server(Server::AcceptAndHang).await;
    let s = linked_agent_resuming_against(&url).await;
    let view = wait_for_retry(&s.sup, s.agent, 1).await;
    assert_recoverable_timeout(&view);
    let history = s.sup.history(s.agent, 100).await.unwrap();
    assert!(history.iter().any(|h| h.rule == Some(Rule::R6) && h.code == Some(CloseCode::TIMED_OUT)), "{history:?}");
    assert_eq!(accepted.lock().unwrap().len(), 1);
    s.stop().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// P-6, P-4, D-1: the store is 0600 files in a 0700 directory, kept on a
/// graceful shutdown, and deleted by a manual disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_store_files_are_private_kept_on_shutdown_and_deleted_on_disconnect() {
    let (url, _) = start_server(Server::AcceptAndDrop).await;
    let s = linked_agent_resuming_against(&url).await;
    wait_for_held_after(&s.sup, s.agent, 1).await;
    s.stop().await;

    // The client wrote its device into the store; everything in it is private.
    let files = s.connector.files();
    let written = files.files(s.agent).unwrap();
    assert!(written.iter().any(|f| f.ends_with("session.db")), "{written:?}");
    assert!(std::fs::metadata(files.database(s.agent)).unwrap().len() > 0, "the client wrote nothing");
    for file in &written {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&files.dir(s.agent)), 0o700);
    assert_eq!(mode(files.root()), 0o700);

    // P-4: a graceful shutdown kept the store, so the next start resumes (P-3).
    let db = s.dir.path().join("switchboard.db");
    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(s.connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    assert!(sup.view(s.agent).unwrap().record.has_credentials);

    // D-1: a manual disconnect deletes it (after the client has let go of it).
    sup.disconnect(s.agent).await.unwrap();
    assert!(s.connector.wait_closed(Duration::from_secs(30)).await);
    assert!(!files.dir(s.agent).exists(), "the store survived a manual disconnect");
    assert!(!sup.view(s.agent).unwrap().record.has_credentials);
    sup.shutdown().await;
}

/// Faults in the credentials stores: one agent's store is garbage, another's
/// cannot be read at all (a directory where the file should be). Each of
/// them fails on its own with the plain-words reason of a corrupted session
/// (RULES.md §2, 500: scan a new QR) at its first attempt, not after retries;
/// the agent beside them with a sound store goes on as usual (here: the
/// server refuses, so the outage it began, saved, goes on after the restart,
/// and its probes are the attempts, F-1, F-2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l3_a_corrupted_or_unreadable_store_fails_only_its_own_agent() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_resuming_against(&url).await;
    wait_for_held_after(&s.sup, s.agent, 1).await;
    let sound = s.agent;
    let garbage = s.sup.add("Support 2").await.unwrap().record.id;
    let unreadable = s.sup.add("Support 3").await.unwrap().record.id;
    s.stop().await;

    let db = s.dir.path().join("switchboard.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    for agent in [garbage, unreadable] {
        conn.execute("UPDATE agents SET status = 'connected', has_credentials = 1 WHERE id = ?1", [agent.0]).unwrap();
    }
    drop(conn);
    let files = s.connector.files();
    std::fs::write(files.prepare(garbage).unwrap(), b"this is not a SQLite database ".repeat(200)).unwrap();
    let path = files.prepare(unreadable).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();

    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(s.connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    for agent in [garbage, unreadable] {
        let view = wait_for(&sup, agent, "the store fault", |v| v.record.status == Status::Failed).await;
        assert_eq!(view.record.last_code, Some(CloseCode::BAD_SESSION));
        assert!(view.record.reason.contains("session corrupted: scan a new QR"), "{}", view.record.reason);
        assert!(!view.record.has_credentials);
        assert_eq!(engine_attempts(&sup, agent).await.len(), 1, "it failed at its first attempt");
    }
    assert!(sup.outage().is_some(), "the outage was saved and goes on");
    let view = wait_for_held_after(&sup, sound, 2).await;
    assert_unreachable_and_held(&sup, &view).await;
    sup.shutdown().await;
    assert!(s.connector.wait_closed(Duration::from_secs(30)).await);
}

/// D-1 without a live link, on the real connector: a disconnect while the
/// agent waits, held in an outage, sets the credentials aside for an unlink job
/// (the agent's own store is gone, so Connect pairs afresh), the job keeps
/// its store while WhatsApp cannot be reached, and a restart finds it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d1_a_disconnect_without_a_link_keeps_the_credentials_for_the_unlink_job() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_resuming_against(&url).await;
    wait_for_held_after(&s.sup, s.agent, 1).await;
    let files = s.connector.files();
    let aside = files.set_aside_dir(1);

    s.sup.disconnect(s.agent).await.unwrap();
    let view = s.sup.view(s.agent).unwrap();
    assert_eq!(view.record.status, Status::Disconnected);
    assert!(view.unlinking);
    // A probe's client may have the store open at this moment (the agent is
    // held in an outage and probes): the store then moves once that client
    // stops, which the refused dial makes quick.
    let limit = std::time::Instant::now() + Duration::from_secs(30);
    while files.dir(s.agent).exists() || !aside.join("session.db").exists() {
        assert!(std::time::Instant::now() < limit, "the agent's store was never set aside for the job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The refusing server fails the job's first try; it is kept for the next.
    let db = s.dir.path().join("switchboard.db");
    let failed_tries = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("SELECT attempt, last_error FROM unlinks WHERE id = 1", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .unwrap()
    };
    let limit = std::time::Instant::now() + Duration::from_secs(60);
    while failed_tries().0 == 0 {
        assert!(std::time::Instant::now() < limit, "the unlink job never tried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, why) = failed_tries();
    assert!(why.as_deref().is_some_and(|w| w.contains("could not reach WhatsApp")), "{why:?}");
    s.stop().await;
    assert!(aside.join("session.db").exists(), "kept while WhatsApp cannot be reached");

    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(s.connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    assert!(sup.view(s.agent).unwrap().unlinking, "the job survived the restart");
    assert!(!sup.view(s.agent).unwrap().record.has_credentials);
    sup.shutdown().await;
    assert!(s.connector.wait_closed(Duration::from_secs(30)).await);
}
