//! A simulated WhatsApp: a [`Connector`] that behaves like the real service
//! and can be scripted per agent.
//!
//! It is a product feature: the app's demo mode runs on it (staff practise
//! with it), and so do the engine's tests and benchmarks. By default a fresh
//! attempt shows a QR that rotates like WhatsApp's (first code 60 s, then
//! every 20 s) and a resumed attempt opens at once. Scripts change that per
//! agent: scan the QR, drop with any close code, go silent, hang, refuse.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::connector::{
    Connection, Connector, ConnectorError, ConnectorEvent, EventSink, PairCodeRequest, StartRequest, UnlinkJob,
    UnlinkRequest,
};
use crate::lifecycle::{AgentId, CloseCode};

/// What a new attempt of an agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStart {
    /// Fresh: show rotating QR codes. Resume: open at once.
    #[default]
    Normal,
    /// Say nothing at all (the engine's connect timeout must catch it, R-6).
    Hang,
    /// Close at once with this code (a refused or failed connect).
    Refuse(CloseCode),
}

/// How long the first QR lives and how often codes rotate, as WhatsApp does.
pub const FIRST_QR_LIFETIME: Duration = Duration::from_secs(60);
/// How long each later QR lives before the next replaces it, as WhatsApp does.
pub const QR_ROTATION: Duration = Duration::from_secs(20);
/// How long a silent connection takes to be noticed (O-3).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// What the simulator noticed, for tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct SimStats {
    /// Every start: agent, tokio time, resume.
    pub starts: Vec<(AgentId, tokio::time::Instant, bool)>,
    /// The most connections one agent ever had open at once (must stay ≤ 1).
    pub max_live_per_agent: usize,
    /// How many closes unlinked the device (D-1), so tests can tell a logout from a plain close (P-4).
    pub logouts: usize,
    /// Every check of an open link (F-6): agent and tokio time.
    pub link_checks: Vec<(AgentId, tokio::time::Instant)>,
}

#[derive(Default)]
struct State {
    /// The device each agent's saved credentials belong to.
    credentials: HashMap<AgentId, u64>,
    /// The devices the phones list under "Linked devices". Deleting
    /// credentials without a logout leaves one listed: an orphan.
    listed: HashSet<u64>,
    /// Credentials set aside for an unlink job (D-1), by job.
    set_aside: HashMap<i64, u64>,
    next_device: u64,
    /// WhatsApp cannot be reached: unlink jobs fail (starts are scripted apart).
    unreachable: bool,
    /// This machine cannot reach WhatsApp at all ([`SimulatedWhatsApp::cut_off`]).
    cut_off: bool,
    /// Where the credentials and the phones' lists are kept, if anywhere
    /// ([`SimulatedWhatsApp::persistent`]).
    file: Option<std::path::PathBuf>,
    on_start: HashMap<AgentId, OnStart>,
    /// The open connection of each agent: its serial and its sink.
    live: HashMap<AgentId, Vec<(u64, EventSink)>>,
    /// Background work of each connection (QR rotation, keep-alive death).
    timers: HashMap<u64, JoinHandle<()>>,
    /// Connections that stopped answering ([`SimulatedWhatsApp::go_silent`]), by serial.
    silent: HashSet<u64>,
    qr_serial: u64,
    next_serial: u64,
    stats: SimStats,
}

/// The simulated service. Clone it to script it from a test while the engine uses it.
#[derive(Clone, Default)]
pub struct SimulatedWhatsApp {
    state: Arc<Mutex<State>>,
}

impl SimulatedWhatsApp {
    /// A service with no credentials saved and every agent on [`OnStart::Normal`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A service whose saved credentials and phones' device lists live in
    /// `file`, as the real ones outlive the app: loaded from it if it
    /// exists, and written (whole, replacing it atomically) after every
    /// change, so a process killed at any moment leaves them as they were.
    /// The crash test resumes with what a killed run paired.
    pub fn persistent(file: &std::path::Path) -> std::io::Result<Self> {
        let sim = SimulatedWhatsApp::new();
        {
            let mut state = sim.lock();
            match std::fs::read_to_string(file) {
                Ok(text) => state.load(&text).map_err(std::io::Error::other)?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
            state.file = Some(file.to_owned());
        }
        Ok(sim)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock is a bug elsewhere; the state stays usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Scripts what the next attempts of `agent` do.
    pub fn set_on_start(&self, agent: AgentId, on_start: OnStart) {
        self.lock().on_start.insert(agent, on_start);
    }

    /// Gives `agent` saved credentials, as if it had been paired before.
    pub fn give_credentials(&self, agent: AgentId) {
        self.lock().link(agent);
    }

    /// Makes WhatsApp unreachable for unlink jobs (or reachable again).
    pub fn set_unreachable(&self, unreachable: bool) {
        self.lock().unreachable = unreachable;
    }

    /// Cuts this machine off from WhatsApp (or connects it again), as a
    /// network outage does (F-1): every live link drops (the link times
    /// out, 408), every new attempt fails before any handshake
    /// ([`ConnectorEvent::Unreachable`]), and unlink jobs fail.
    pub fn cut_off(&self, cut_off: bool) {
        let dropped: Vec<(AgentId, u64, EventSink)> = {
            let mut state = self.lock();
            state.cut_off = cut_off;
            if !cut_off {
                return;
            }
            state
                .live
                .iter()
                .flat_map(|(agent, list)| list.iter().map(|(serial, sink)| (*agent, *serial, sink.clone())))
                .collect()
        };
        for (agent, serial, sink) in dropped {
            sink.send(ConnectorEvent::Closed { code: CloseCode::TIMED_OUT, banned_for: None });
            self.end(agent, serial);
        }
    }

    /// Whether this machine is cut off from WhatsApp ([`SimulatedWhatsApp::cut_off`]).
    pub fn is_cut_off(&self) -> bool {
        self.lock().cut_off
    }

    /// How many devices the phones list that no saved or set-aside
    /// credentials can reach any more: each one a device nobody can unlink
    /// but the phone's owner, by hand. D-1 must never leave one.
    pub fn orphaned_devices(&self) -> usize {
        let state = self.lock();
        let reachable: HashSet<u64> = state.credentials.values().chain(state.set_aside.values()).copied().collect();
        state.listed.iter().filter(|device| !reachable.contains(device)).count()
    }

    /// How many unlink jobs hold credentials set aside and not yet unlinked.
    pub fn set_aside_count(&self) -> usize {
        self.lock().set_aside.len()
    }

    fn live_sink(&self, agent: AgentId) -> Option<(u64, EventSink)> {
        self.lock().live.get(&agent).and_then(|v| v.last().cloned())
    }

    fn end(&self, agent: AgentId, serial: u64) {
        let mut state = self.lock();
        if let Some(list) = state.live.get_mut(&agent) {
            list.retain(|(s, _)| *s != serial);
        }
        if let Some(timer) = state.timers.remove(&serial) {
            timer.abort();
        }
        state.silent.remove(&serial);
    }

    /// The phone scans the QR: credentials are saved, and — as WhatsApp does —
    /// the stream restarts with a 515 so the client reconnects to finish.
    /// Returns false when no QR attempt is open.
    pub fn scan(&self, agent: AgentId) -> bool {
        let Some((serial, sink)) = self.live_sink(agent) else { return false };
        self.lock().link(agent);
        sink.send(ConnectorEvent::Scanned);
        sink.send(ConnectorEvent::Closed { code: CloseCode::RESTART_REQUIRED, banned_for: None });
        self.end(agent, serial);
        true
    }

    /// WhatsApp asks the account to confirm the link with a passkey,
    /// as it does for some accounts after the scan. Nothing follows: like
    /// the real one, the attempt waits for an assertion no one can give.
    /// Returns false when no attempt is open.
    pub fn ask_passkey(&self, agent: AgentId) -> bool {
        let Some((_, sink)) = self.live_sink(agent) else { return false };
        sink.send(ConnectorEvent::PasskeyRequested)
    }

    /// Opens the live attempt of `agent` now (a shortcut past the 515 restart).
    pub fn open(&self, agent: AgentId) -> bool {
        let Some((serial, sink)) = self.live_sink(agent) else { return false };
        self.lock().link(agent);
        if let Some(timer) = self.lock().timers.remove(&serial) {
            timer.abort();
        }
        sink.send(ConnectorEvent::Opened { phone: Some(phone_of(agent)) })
    }

    /// The server ends the live connection of `agent` with `code`; a 403
    /// may come with the length of a temporary ban (L-3).
    pub fn drop_with(&self, agent: AgentId, code: CloseCode, banned_for: Option<Duration>) -> bool {
        let Some((serial, sink)) = self.live_sink(agent) else { return false };
        if crate::lifecycle::classify(code).clears_credentials {
            // WhatsApp itself dropped the device (logged out, replaced, banned).
            self.lock().unlink(agent);
        }
        sink.send(ConnectorEvent::Closed { code, banned_for });
        self.end(agent, serial);
        true
    }

    /// The live connection stops answering: nothing more is reported, an
    /// open link is declared dead after [`KEEPALIVE_TIMEOUT`] (O-3), and a
    /// check of the link reports it dead at once (F-6).
    pub fn go_silent(&self, agent: AgentId, connected: bool) -> bool {
        let Some((serial, sink)) = self.live_sink(agent) else { return false };
        let timer = connected.then(|| {
            tokio::spawn(async move {
                tokio::time::sleep(KEEPALIVE_TIMEOUT).await;
                sink.send(ConnectorEvent::KeepAliveLost);
            })
        });
        let mut state = self.lock();
        state.silent.insert(serial);
        if let Some(old) = state.timers.remove(&serial) {
            old.abort();
        }
        if let Some(timer) = timer {
            state.timers.insert(serial, timer);
        }
        true
    }

    /// Whether `agent` has saved credentials (same as [`Connector::has_credentials`]).
    pub fn has_credentials_of(&self, agent: AgentId) -> bool {
        self.lock().credentials.contains_key(&agent)
    }

    /// The event sink of the agent's open connection. A test keeps it to send
    /// events after the engine stopped that attempt (D-2).
    pub fn current_sink(&self, agent: AgentId) -> Option<EventSink> {
        self.live_sink(agent).map(|(_, sink)| sink)
    }

    /// Whether `agent` has a connection open, so tests can check that a stop really closed it.
    pub fn is_live(&self, agent: AgentId) -> bool {
        self.lock().live.get(&agent).is_some_and(|v| !v.is_empty())
    }

    /// A copy of what the simulator noticed so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }
}

/// A fake but well-formed phone number for a simulated agent.
pub fn phone_of(agent: AgentId) -> String {
    format!("+1555{:07}", agent.0.rem_euclid(10_000_000))
}

impl Connector for SimulatedWhatsApp {
    fn start(&self, request: StartRequest, events: EventSink) -> Result<Box<dyn Connection>, ConnectorError> {
        let agent = request.agent;
        let mut state = self.lock();
        state.next_serial += 1;
        let serial = state.next_serial;
        state.stats.starts.push((agent, tokio::time::Instant::now(), request.resume));
        let live = state.live.entry(agent).or_default();
        live.push((serial, events.clone()));
        let open_now = live.len();
        state.stats.max_live_per_agent = state.stats.max_live_per_agent.max(open_now);
        let resume = request.resume && state.credentials.contains_key(&agent);
        if state.cut_off {
            drop(state);
            events.send(ConnectorEvent::Unreachable { detail: "simulated: no route to WhatsApp".into() });
            self.end(agent, serial);
            return Ok(Box::new(SimConnection { sim: self.clone(), agent, serial }));
        }
        match state.on_start.get(&agent).copied().unwrap_or_default() {
            OnStart::Hang => {}
            OnStart::Refuse(code) => {
                if crate::lifecycle::classify(code).clears_credentials {
                    // WhatsApp refuses these credentials: it dropped the device.
                    state.unlink(agent);
                }
                drop(state);
                events.send(ConnectorEvent::Closed { code, banned_for: None });
                self.end(agent, serial);
            }
            OnStart::Normal if resume => {
                events.send(ConnectorEvent::Opened { phone: Some(phone_of(agent)) });
            }
            OnStart::Normal if request.resume => {
                // The credentials are gone: WhatsApp would ask for a new pairing.
                state.qr_serial += 1;
                events.send(ConnectorEvent::Qr(format!("sim-qr-{}-{}", agent, state.qr_serial)));
            }
            OnStart::Normal => {
                let sim = self.clone();
                let rotation = tokio::spawn(async move { sim.rotate_qr(agent, events).await });
                state.timers.insert(serial, rotation);
            }
        }
        Ok(Box::new(SimConnection { sim: self.clone(), agent, serial }))
    }

    fn has_credentials(&self, agent: AgentId) -> bool {
        self.lock().credentials.contains_key(&agent)
    }

    fn forget_credentials(&self, agent: AgentId) -> Result<(), ConnectorError> {
        // Only the files go: the phone keeps listing the device.
        let mut state = self.lock();
        if state.credentials.remove(&agent).is_some() {
            state.save();
        }
        Ok(())
    }

    fn set_aside_credentials(&self, job: UnlinkJob) -> Result<(), ConnectorError> {
        let mut state = self.lock();
        if !state.set_aside.contains_key(&job.id) {
            if let Some(device) = state.credentials.remove(&job.agent) {
                state.set_aside.insert(job.id, device);
                state.save();
            }
        }
        Ok(())
    }

    fn unlink(&self, job: UnlinkJob) -> UnlinkRequest {
        let mut state = self.lock();
        let answer = if state.unreachable || state.cut_off {
            Err("WhatsApp could not be reached".to_owned())
        } else {
            if let Some(device) = state.set_aside.remove(&job.id) {
                state.listed.remove(&device);
                state.stats.logouts += 1;
                state.save();
            }
            Ok(())
        };
        Box::pin(std::future::ready(answer))
    }
}

impl State {
    /// The agent's credentials, pairing a new device if it has none.
    fn link(&mut self, agent: AgentId) {
        if !self.credentials.contains_key(&agent) {
            self.next_device += 1;
            let device = self.next_device;
            self.credentials.insert(agent, device);
            self.listed.insert(device);
            self.save();
        }
    }

    /// The device is logged out: the phone no longer lists it, the credentials are void.
    fn unlink(&mut self, agent: AgentId) {
        if let Some(device) = self.credentials.remove(&agent) {
            self.listed.remove(&device);
            self.save();
        }
    }

    /// Writes what outlives the app to its file, if it has one: a new file
    /// renamed over the old, so a kill leaves one whole version.
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let mut text = format!("next {}\n", self.next_device);
        for (agent, device) in &self.credentials {
            let _ = writeln!(text, "credentials {} {device}", agent.0);
        }
        for device in &self.listed {
            let _ = writeln!(text, "listed {device}");
        }
        for (job, device) in &self.set_aside {
            let _ = writeln!(text, "aside {job} {device}");
        }
        let new = file.with_extension("new");
        if let Err(err) = std::fs::write(&new, text).and_then(|()| std::fs::rename(&new, file)) {
            tracing::error!("the simulated WhatsApp could not save its state: {err}");
        }
    }

    /// Reads what [`State::save`] wrote.
    fn load(&mut self, text: &str) -> Result<(), String> {
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let number = |i: usize| -> Result<i64, String> {
                fields.get(i).and_then(|f| f.parse().ok()).ok_or_else(|| format!("a damaged line: {line:?}"))
            };
            match fields[0] {
                "next" => self.next_device = number(1)? as u64,
                "credentials" => drop(self.credentials.insert(AgentId(number(1)?), number(2)? as u64)),
                "listed" => drop(self.listed.insert(number(1)? as u64)),
                "aside" => drop(self.set_aside.insert(number(1)?, number(2)? as u64)),
                _ => return Err(format!("an unknown line: {line:?}")),
            }
        }
        Ok(())
    }
}

impl SimulatedWhatsApp {
    async fn rotate_qr(&self, agent: AgentId, events: EventSink) {
        let mut wait = FIRST_QR_LIFETIME;
        loop {
            let code = {
                let mut state = self.lock();
                state.qr_serial += 1;
                format!("sim-qr-{}-{}", agent, state.qr_serial)
            };
            if !events.send(ConnectorEvent::Qr(code)) {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = QR_ROTATION;
        }
    }
}

struct SimConnection {
    sim: SimulatedWhatsApp,
    agent: AgentId,
    serial: u64,
}

impl Connection for SimConnection {
    fn request_pair_code(&mut self, phone: &str) -> PairCodeRequest {
        // Eight characters from WhatsApp's alphabet, derived from the number so a test can predict it.
        const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
        let Some((_, sink)) = self.sim.live_sink(self.agent) else {
            return Box::pin(std::future::ready(Err(ConnectorError::PairCodeUnavailable(
                "the attempt has ended".into(),
            ))));
        };
        let mut n = phone.bytes().fold(self.serial, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
        let code: String = (0..8)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect();
        sink.send(ConnectorEvent::PairCode(code));
        Box::pin(std::future::ready(Ok(())))
    }

    fn check_alive(&mut self) {
        let mut state = self.sim.lock();
        state.stats.link_checks.push((self.agent, tokio::time::Instant::now()));
        if !state.silent.contains(&self.serial) {
            return; // It answers.
        }
        // A silent link leaves the ping unanswered: dead (F-6, O-3).
        let sink = state.live.get(&self.agent).and_then(|v| v.iter().find(|(s, _)| *s == self.serial).cloned());
        drop(state);
        if let Some((_, sink)) = sink {
            sink.send(ConnectorEvent::KeepAliveLost);
        }
    }

    fn close(self: Box<Self>, logout: bool) {
        if logout {
            let mut state = self.sim.lock();
            state.unlink(self.agent);
            state.stats.logouts += 1;
        }
        // Drop does the rest.
    }
}

impl Drop for SimConnection {
    fn drop(&mut self) {
        self.sim.end(self.agent, self.serial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What outlives the app in the real world (credentials, the phones'
    /// lists, set-aside credentials) outlives a persistent simulator too.
    #[test]
    fn a_persistent_simulator_keeps_credentials_and_phone_lists_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("world");
        let sim = SimulatedWhatsApp::persistent(&file).unwrap();
        sim.give_credentials(AgentId(1));
        sim.give_credentials(AgentId(2));
        sim.give_credentials(AgentId(3));
        sim.set_aside_credentials(UnlinkJob { id: 9, agent: AgentId(2) }).unwrap();
        sim.forget_credentials(AgentId(3)).unwrap();
        drop(sim);

        let again = SimulatedWhatsApp::persistent(&file).unwrap();
        assert!(again.has_credentials_of(AgentId(1)));
        assert!(!again.has_credentials_of(AgentId(2)));
        assert_eq!(again.set_aside_count(), 1);
        assert_eq!(again.orphaned_devices(), 1, "agent 3's device is still listed");
        again.give_credentials(AgentId(4));
        let devices: HashSet<u64> = again.lock().credentials.values().copied().collect();
        assert_eq!(devices.len(), 2, "a new device never reuses a number");

        std::fs::write(&file, "listed x\n").unwrap();
        assert!(SimulatedWhatsApp::persistent(&file).is_err(), "a damaged file is an error, not an empty world");
    }
}
