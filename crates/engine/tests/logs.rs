//! What the engine logs, read back from a subscriber installed for the test.
//!
//! Its own test binary: tracing caches per log site whether anybody listens,
//! and tests running beside this one on other threads, with no subscriber,
//! would make it miss lines.

mod common;

use std::time::Duration;

use common::{World, break_saving};
use switchboard_engine::lifecycle::{CloseCode, Rule};

/// A log line that tracing writes into a shared buffer, for the tests that read logs.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// O-1, P-1: a change is logged only once it is saved. While the database
/// refuses writes, the close that cannot be saved leaves no log line (the
/// log never tells of a change that did not happen); once it is saved, its
/// line appears exactly once.
#[tokio::test(start_paused = true)]
async fn o1_a_change_is_logged_after_its_commit_never_before() {
    let logs = LogBuffer::default();
    let sink = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).without_time().finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let w = World::new().await;
    let a = w.add("a").await;
    w.link(a).await;
    break_saving(&w.db, true);
    assert!(w.sim.drop_with(a, CloseCode(428), None));
    w.sup.settle().await;
    w.pass(Duration::from_secs(5)).await;
    let retry_line = "connection closed (428) — retry 1 of 5";
    assert!(!logs.text().contains(retry_line), "an unsaved change was logged:\n{}", logs.text());

    break_saving(&w.db, false);
    w.pass(Duration::from_secs(30)).await;
    assert_eq!(logs.text().matches(retry_line).count(), 1, "{}", logs.text());
    assert!(logs.text().contains(&format!("rule=\"{}\"", Rule::L4)), "{}", logs.text());
}
