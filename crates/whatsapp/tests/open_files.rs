//! A passing fault in opening the credentials store is not a corrupted
//! session (issue 11, item 3): the process runs out of file descriptors while
//! a linked agent's retry opens its store. The credentials must survive and
//! the agent must come back to WhatsApp once descriptors are free again.
//!
//! A test binary of its own: the open-file limit is the whole process's.

mod common;

use std::time::Duration;

use common::*;
use rlimit::Resource;
use switchboard_engine::lifecycle::{Rule, Status};

/// L-4 (and not L-3's 500): with no descriptor left, the retry ends with
/// "too many open files", the credentials and their files stay, and the
/// agent retries by R-1; once descriptors are free the next retry reaches
/// the (refusing) server as usual: WhatsApp cannot be reached (F-1), and the
/// agent waits for the outage to end with its credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l4_running_out_of_file_descriptors_keeps_the_credentials_and_retries() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_retrying_in(&url, Duration::from_secs(2)).await;
    let files = s.connector.files().files(s.agent).unwrap();
    assert!(!files.is_empty());

    // The next descriptor the process would get is the lowest free one: a
    // limit at that number makes every open fail with EMFILE.
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    let lowest_free = {
        use std::os::fd::AsRawFd;
        let probe = std::fs::File::open("/dev/null").unwrap();
        probe.as_raw_fd() as u64
    };
    Resource::NOFILE.set(lowest_free, hard).unwrap();
    let view = wait_for(&s.sup, s.agent, "the failed open", |v| v.record.retry_attempt == 2).await;
    Resource::NOFILE.set(soft, hard).unwrap();

    assert_eq!(view.record.status, Status::Reconnecting);
    assert!(view.record.reason.contains("too many open files"), "{}", view.record.reason);
    assert!(!view.record.reason.contains("corrupted"), "{}", view.record.reason);
    assert_eq!(view.record.last_code, None);
    assert!(view.record.has_credentials, "a passing fault keeps the credentials");
    assert_eq!(s.connector.files().files(s.agent).unwrap(), files, "the store's files are untouched");
    let history = s.sup.history(s.agent, 10).await.unwrap();
    assert_eq!(history[0].rule, Some(Rule::L4), "{history:?}");

    let view = wait_for_held_after(&s.sup, s.agent, 2).await;
    assert_unreachable_and_held(&s.sup, &view).await;
    // The retry opened the store (SQLite may add its -wal and -shm beside it): still there.
    assert!(s.connector.files().files(s.agent).unwrap().contains(&files[0]), "the store is kept");
    s.stop().await;
}
