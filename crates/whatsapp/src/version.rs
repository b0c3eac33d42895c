//! One WhatsApp Web version for the whole fleet (F-7).
//!
//! Every connection announces the version of WhatsApp Web it speaks. Left
//! alone, whatsapp-rust fetches it for each agent's store (once a day each)
//! and fails the connect when that fetch fails or takes 20 s: after an
//! outage, 1,000 agents would make 1,000 requests at once and each could
//! fail on its own. Here one [`FleetVersion`] fetches it for everyone, at
//! most once a day, keeps it in the app database with its date, and always
//! hands the client a version, so no connect waits on or fails by a fetch:
//!
//! - a version fetched within a day is used as it is;
//! - an older one is used at once while one fetch, in the background,
//!   renews it for the next connects;
//! - with none at all (a first start), the first connect waits for the
//!   fetch, at most [`FETCH_TIMEOUT`]; if it fails, the version built into
//!   whatsapp-rust is used;
//! - after a failed fetch the next try waits [`RETRY_AFTER`], however many
//!   agents connect meanwhile.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::clock::{Clock, Timestamp};
use switchboard_engine::store::client_version::{self, CachedVersion};
use whatsapp_rust::http::{HttpClient, HttpRequest};
use whatsapp_rust::version::parse_sw_js;

/// Where WhatsApp Web states its current version (`client_revision`), the
/// address whatsapp-rust itself asks.
pub const WHATSAPP_WEB_VERSION_URL: &str = "https://web.whatsapp.com/sw.js";
/// A fetched version is used for this long before it is fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// After a failed fetch, how long until the next try.
pub const RETRY_AFTER: Duration = Duration::from_secs(60 * 60);
/// The longest a fetch may take; the library gives its own 20 s.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// A page larger than this is not WhatsApp's service worker.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the window may tell staff about the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStatus {
    /// The version connections announce now.
    pub version: (u32, u32, u32),
    /// When it was fetched; `None`: never, the library's built-in one is used.
    pub fetched_at: Option<Timestamp>,
    /// Why the last fetch failed, if it did (the version above is then older than a day, or built in).
    pub last_error: Option<String>,
}

/// The fleet's version source. Cheap to share (`Arc`).
pub struct FleetVersion {
    url: String,
    http: Arc<dyn HttpClient>,
    /// The app database, where the version is kept; `None` keeps it in memory only.
    database: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    loaded: bool,
    known: Option<CachedVersion>,
    /// When the last fetch began (engine-free wall time), to space out tries.
    last_try: Option<Timestamp>,
    last_error: Option<String>,
    refreshing: bool,
}

impl FleetVersion {
    pub fn new(
        url: impl Into<String>,
        http: Arc<dyn HttpClient>,
        database: Option<PathBuf>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(FleetVersion { url: url.into(), http, database, clock, state: tokio::sync::Mutex::default() })
    }

    /// The version a connection announces now. Never fails: see the module docs.
    pub async fn current(self: &Arc<Self>) -> (u32, u32, u32) {
        let mut state = self.state.lock().await;
        self.load_once(&mut state);
        let now = self.clock.wall();
        let stale = state.known.is_none_or(|known| known.fetched_at.plus(FRESH_FOR) <= now);
        let may_try = state.last_try.is_none_or(|at| at.plus(RETRY_AFTER) <= now) && !state.refreshing;
        if stale && may_try {
            if state.known.is_some() {
                // Connects go on with the version they have; one fetch renews it.
                state.refreshing = true;
                state.last_try = Some(now);
                let fleet = self.clone();
                tokio::spawn(async move {
                    let outcome = fleet.fetch().await;
                    let mut state = fleet.state.lock().await;
                    fleet.record(&mut state, outcome);
                    state.refreshing = false;
                });
            } else {
                // Nothing to announce yet: this connect (and those behind the lock) wait for the one fetch.
                state.last_try = Some(now);
                let outcome = self.fetch().await;
                self.record(&mut state, outcome);
            }
        }
        state.known.map_or_else(built_in_version, |known| known.version)
    }

    /// What the window shows about the version.
    pub async fn status(&self) -> VersionStatus {
        let mut state = self.state.lock().await;
        self.load_once(&mut state);
        VersionStatus {
            version: state.known.map_or_else(built_in_version, |known| known.version),
            fetched_at: state.known.map(|known| known.fetched_at),
            last_error: state.last_error.clone(),
        }
    }

    fn load_once(&self, state: &mut State) {
        if state.loaded {
            return;
        }
        state.loaded = true;
        let Some(database) = &self.database else { return };
        match client_version::load(database) {
            Ok(known) => state.known = known,
            Err(err) => tracing::warn!("{err}; the version is fetched again"),
        }
    }

    fn record(&self, state: &mut State, outcome: Result<(u32, u32, u32), String>) {
        match outcome {
            Ok(version) => {
                let cached = CachedVersion { version, fetched_at: self.clock.wall() };
                tracing::info!("WhatsApp Web version {}.{}.{} fetched for the fleet", version.0, version.1, version.2);
                if let Some(database) = &self.database
                    && let Err(err) = client_version::save(database, cached)
                {
                    tracing::warn!("{err}");
                }
                state.known = Some(cached);
                state.last_error = None;
            }
            Err(err) => {
                tracing::warn!("could not fetch the WhatsApp Web version: {err}; using the one kept");
                state.last_error = Some(err);
            }
        }
    }

    /// One request for the current version.
    async fn fetch(&self) -> Result<(u32, u32, u32), String> {
        // The same request WhatsApp Web's own page makes.
        let request = HttpRequest::get(&self.url).with_header("sec-fetch-site", "none").with_header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.http.execute(request))
            .await
            .map_err(|_| format!("{} did not answer within {} s", self.url, FETCH_TIMEOUT.as_secs()))?
            .map_err(|err| format!("cannot reach {}: {err}", self.url))?;
        if !(200..300).contains(&response.status_code) {
            return Err(format!("{} answered with status {}", self.url, response.status_code));
        }
        if response.body.len() > MAX_BODY_BYTES {
            return Err(format!("{} answered with {} bytes, not WhatsApp Web's page", self.url, response.body.len()));
        }
        let body = String::from_utf8_lossy(&response.body);
        parse_sw_js(&body).ok_or_else(|| format!("{} names no WhatsApp Web version", self.url))
    }
}

/// The version whatsapp-rust was released with: announced only when no
/// version was ever fetched. WhatsApp may refuse it once it is old (405,
/// "update Switchboard").
pub fn built_in_version() -> (u32, u32, u32) {
    // A new device makes its keys: read its version once.
    static BUILT_IN: std::sync::OnceLock<(u32, u32, u32)> = std::sync::OnceLock::new();
    *BUILT_IN.get_or_init(|| {
        let device = whatsapp_rust::wacore::store::Device::new();
        (device.app_version_primary, device.app_version_secondary, device.app_version_tertiary)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use switchboard_engine::clock::TokioClock;
    use whatsapp_rust::http::HttpResponse;

    use super::*;

    /// One scripted answer of WhatsApp Web's page.
    #[derive(Clone, Copy)]
    enum Answer {
        /// A page naming this revision.
        Version(u32),
        /// The request fails (refused).
        Fails,
        /// No answer, ever.
        Silent,
        /// A page with this status and body.
        Page(u16, &'static str),
    }

    /// WhatsApp Web's answers, scripted: each request takes the next one
    /// (the last repeats). Each takes a moment, so connects can pile up.
    struct ScriptedWeb {
        requests: AtomicUsize,
        answers: Mutex<Vec<Answer>>,
    }

    impl ScriptedWeb {
        fn new(answers: Vec<Answer>) -> Arc<Self> {
            Arc::new(ScriptedWeb { requests: AtomicUsize::new(0), answers: Mutex::new(answers) })
        }
        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    #[whatsapp_rust::async_trait]
    impl HttpClient for ScriptedWeb {
        async fn execute(&self, _request: HttpRequest) -> whatsapp_rust::anyhow::Result<HttpResponse> {
            let n = self.requests.fetch_add(1, Ordering::SeqCst);
            let answer = {
                let answers = self.answers.lock().unwrap();
                answers[n.min(answers.len() - 1)]
            };
            tokio::time::sleep(Duration::from_millis(300)).await;
            let page = |status_code, body: String| Ok(HttpResponse { status_code, body: body.into_bytes() });
            match answer {
                Answer::Fails => Err(whatsapp_rust::anyhow::anyhow!("connection refused")),
                Answer::Silent => std::future::pending().await,
                Answer::Version(revision) => page(200, format!("self.x={{\"client_revision\":{revision},\"y\":1}}")),
                Answer::Page(status, body) => page(status, body.to_owned()),
            }
        }
    }

    fn fleet(web: &Arc<ScriptedWeb>, database: Option<PathBuf>) -> Arc<FleetVersion> {
        let clock = Arc::new(TokioClock::starting_at(Timestamp(1_700_000_000_000)));
        FleetVersion::new("http://127.0.0.1:9/sw.js", web.clone(), database, clock)
    }

    /// A migrated app database.
    fn database(dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join("switchboard.db");
        drop(switchboard_engine::store::Store::open(&path).unwrap());
        path
    }

    /// F-7: 500 connects at once, with nothing known yet, make one request,
    /// and every one of them announces its answer.
    #[tokio::test(start_paused = true)]
    async fn f7_many_connects_make_one_fetch() {
        let web = ScriptedWeb::new(vec![Answer::Version(1_030_000_001)]);
        let fleet = fleet(&web, None);
        let connects: Vec<_> = (0..500)
            .map(|_| {
                tokio::spawn({
                    let fleet = fleet.clone();
                    async move { fleet.current().await }
                })
            })
            .collect();
        for connect in connects {
            assert_eq!(connect.await.unwrap(), (2, 3000, 1_030_000_001));
        }
        assert_eq!(web.requests(), 1);
    }

    /// F-7: a version is fetched again only once it is a day old; the old one
    /// is announced meanwhile, without waiting for the new fetch.
    #[tokio::test(start_paused = true)]
    async fn f7_a_version_is_fetched_at_most_once_a_day() {
        let web = ScriptedWeb::new(vec![Answer::Version(1), Answer::Version(2)]);
        let fleet = fleet(&web, None);
        assert_eq!(fleet.current().await.2, 1);
        tokio::time::advance(FRESH_FOR.saturating_sub(Duration::from_secs(60))).await;
        for _ in 0..100 {
            assert_eq!(fleet.current().await.2, 1);
        }
        assert_eq!(web.requests(), 1, "fresh for a day");

        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(fleet.current().await.2, 1, "the day-old one, at once");
        assert_eq!(fleet.current().await.2, 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(fleet.current().await.2, 2, "the renewed one");
        assert_eq!(web.requests(), 2);
    }

    /// F-7: a failed fetch fails no connect. The version kept in the
    /// database is announced (also after a restart), the failure is told,
    /// and the next try waits an hour however many agents connect.
    #[tokio::test(start_paused = true)]
    async fn f7_a_failed_fetch_announces_the_kept_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir);
        let ok = ScriptedWeb::new(vec![Answer::Version(7)]);
        assert_eq!(fleet(&ok, Some(db.clone())).current().await.2, 7);

        // A restart two days later, and WhatsApp Web cannot be reached.
        let down = ScriptedWeb::new(vec![Answer::Fails]);
        let restarted = fleet(&down, Some(db.clone()));
        tokio::time::advance(2 * FRESH_FOR).await;
        for _ in 0..50 {
            assert_eq!(restarted.current().await.2, 7);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = restarted.status().await;
        assert_eq!(status.version.2, 7);
        assert!(status.last_error.as_deref().is_some_and(|e| e.contains("connection refused")), "{status:?}");
        assert_eq!(down.requests(), 1);
        tokio::time::advance(RETRY_AFTER).await;
        assert_eq!(restarted.current().await.2, 7);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(down.requests(), 2, "tried again after an hour");
        let kept = client_version::load(&db).unwrap().unwrap();
        assert_eq!(kept.version, (2, 3000, 7), "a failure keeps the version");
    }

    /// F-7: with no version known and WhatsApp Web silent, the connect waits
    /// at most FETCH_TIMEOUT and announces the library's built-in version.
    #[tokio::test(start_paused = true)]
    async fn f7_with_nothing_known_a_silent_fetch_falls_back_to_the_built_in_version() {
        let web = ScriptedWeb::new(vec![Answer::Silent]);
        let fleet = fleet(&web, None);
        let started = tokio::time::Instant::now();
        assert_eq!(fleet.current().await, built_in_version());
        assert_eq!(started.elapsed(), FETCH_TIMEOUT);
        let status = fleet.status().await;
        assert_eq!(status.fetched_at, None);
        assert!(status.last_error.is_some_and(|e| e.contains("did not answer")));
        assert_eq!(fleet.current().await, built_in_version(), "no second wait within the hour");
        assert_eq!(started.elapsed(), FETCH_TIMEOUT);
    }

    /// F-7: answers that are not WhatsApp Web's page are failures, not versions.
    #[tokio::test(start_paused = true)]
    async fn f7_a_page_without_a_version_is_a_failure() {
        let web = ScriptedWeb::new(vec![
            Answer::Version(5),
            Answer::Page(404, "client_revision: 9"),
            Answer::Page(200, "<html>captive portal</html>"),
        ]);
        let fleet = fleet(&web, None);
        assert_eq!(fleet.fetch().await, Ok((2, 3000, 5)));
        assert!(fleet.fetch().await.is_err_and(|e| e.contains("status 404")));
        assert!(fleet.fetch().await.is_err_and(|e| e.contains("names no WhatsApp Web version")));
    }
}
