//! F-7 on loopback: the real connector, 30 agents connecting against a local
//! WhatsApp stand-in, and a local web server answering the version request.
//! One request is made for all of them, the version is kept in the app
//! database, and a restart the same day makes none.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, start_server};
use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::Status;
use switchboard_engine::store::client_version;
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const AGENTS: usize = 30;
const REVISION: u32 = 1_031_234_567;

/// A web server that answers every request with a page naming `REVISION`,
/// counting the requests; returns its URL.
async fn start_version_server(requests: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                assert!(seen.starts_with(b"GET /sw.js "), "{}", String::from_utf8_lossy(&seen));
                requests.fetch_add(1, Ordering::SeqCst);
                let body = format!("self.__swData={{\"client_revision\":{REVISION},\"server_revision\":1}};");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/sw.js")
}

/// Starts the app on `dir` with the real connector; connects every agent (adding them first if asked).
async fn start_and_connect_all(
    dir: &std::path::Path,
    ws: &str,
    web: &str,
    add: bool,
) -> (Supervisor, WhatsAppConnector) {
    let db = dir.join("switchboard.db");
    let connector = WhatsAppConnector::with_server(
        dir.join("whatsapp"),
        ServerOptions {
            url: Some(ws.to_owned()),
            version: None,
            version_url: Some(web.to_owned()),
            database: Some(db.clone()),
        },
    );
    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    if add {
        for n in 0..AGENTS {
            sup.add(&format!("Agent {n}")).await.unwrap();
        }
    }
    for view in sup.list() {
        sup.connect(view.record.id).await.unwrap();
    }
    (sup, connector)
}

/// Waits (real time, bounded) until every agent's attempt has ended: each client announced a version.
async fn wait_all_attempts_ended(sup: &Supervisor) {
    let limit = Instant::now() + Duration::from_secs(60);
    while sup.list().iter().any(|v| v.record.status == Status::Connecting) {
        assert!(
            Instant::now() < limit,
            "attempts still running: {:?}",
            sup.list().iter().map(|v| v.record.status).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f7_thirty_agents_one_version_request_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let web = start_version_server(requests.clone()).await;
    let (ws, accepted) = start_server(Server::AcceptAndDrop).await;

    let (sup, connector) = start_and_connect_all(dir.path(), &ws, &web, true).await;
    wait_all_attempts_ended(&sup).await;
    assert!(accepted.lock().unwrap().len() >= AGENTS, "every agent dialled");
    assert_eq!(requests.load(Ordering::SeqCst), 1, "one version request for {AGENTS} agents");
    let status = connector.version_status().await;
    assert_eq!(status.version, (2, 3000, REVISION));
    assert!(status.last_error.is_none(), "{status:?}");
    sup.shutdown().await;
    assert!(connector.wait_closed(Duration::from_secs(30)).await);
    let kept = client_version::load(&dir.path().join("switchboard.db")).unwrap().unwrap();
    assert_eq!(kept.version, (2, 3000, REVISION), "kept in the app database");

    // A restart the same day: every agent connects again, no request.
    let (sup, connector) = start_and_connect_all(dir.path(), &ws, &web, false).await;
    wait_all_attempts_ended(&sup).await;
    assert_eq!(requests.load(Ordering::SeqCst), 1, "the kept version is a day's");
    assert_eq!(connector.version_status().await.version, (2, 3000, REVISION));
    sup.shutdown().await;
    assert!(connector.wait_closed(Duration::from_secs(30)).await);
}
