//! F-4: fatal notices at fleet scale. A person must act on each failed
//! agent (L-3, R-2), but forty agents failing at once are one thing to act
//! on, not forty notifications and forty banners.
//!
//! Agent tasks hand their notices here. The first one opens a window of
//! `notice_window`; every notice until it closes joins it. Then one
//! notification goes out: the agent's own when it was alone, or one for the
//! group, counting the agents by what happened ("37 agents need attention:
//! 30 logged out (401), 7 banned by WhatsApp (403)") and naming exactly
//! those agents, so the window can show them. A window of zero tells each
//! notice alone, at once. Each agent's timeline keeps its own entry anyway.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::view::EngineEvent;
use crate::lifecycle::{AgentId, Rule};

/// One agent's fatal notice, as the machine made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    pub(super) agent: AgentId,
    /// What happened, in a few words: the group's counts are by this.
    pub(super) kind: String,
    pub(super) title: String,
    pub(super) body: String,
}

/// Where agent tasks hand their notices.
pub(super) struct Notices {
    queue: mpsc::UnboundedSender<Notice>,
}

impl Notices {
    pub(super) fn new(queue: mpsc::UnboundedSender<Notice>) -> Self {
        Notices { queue }
    }

    pub(super) fn tell(&self, notice: Notice) {
        let _ = self.queue.send(notice);
    }
}

/// Gathers notices into windows until the engine stops.
pub(super) async fn run(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Notice>, stop: CancellationToken) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            notice = queue.recv() => match notice {
                Some(notice) => notice,
                None => return,
            },
        };
        let mut window = vec![first];
        let closes = tokio::time::Instant::now() + shared.settings.borrow().notice_window;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(closes) => break,
                notice = queue.recv() => match notice {
                    Some(notice) => window.push(notice),
                    None => break,
                },
            }
        }
        // Whatever arrived by the end is in this window too.
        while let Ok(notice) = queue.try_recv() {
            window.push(notice);
        }
        let _ = shared.events.send(tell(window));
    }
}

/// The one event for a window's notices.
fn tell(mut window: Vec<Notice>) -> EngineEvent {
    if window.len() == 1 {
        let Notice { agent, title, body, .. } = window.remove(0);
        return EngineEvent::Notification { agent, title, body };
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for notice in &window {
        *by_kind.entry(notice.kind.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = by_kind.into_iter().collect();
    // The largest group first; equal ones by name, so the words are stable.
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let body = counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect::<Vec<_>>().join(", ");
    let mut agents: Vec<AgentId> = window.iter().map(|n| n.agent).collect();
    agents.sort_unstable();
    agents.dedup();
    let title = format!("{} agents need attention", agents.len());
    tracing::warn!(rule = %Rule::F4, agents = agents.len(), "{title}: {body}");
    EngineEvent::GroupedNotification { title, body, agents }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(agent: i64, kind: &str) -> Notice {
        Notice {
            agent: AgentId(agent),
            kind: kind.into(),
            title: format!("a{agent}"),
            body: format!("a{agent}: {kind}"),
        }
    }

    /// F-4: a lone notice is the agent's own; several are counted by kind, largest first.
    #[test]
    fn f4_a_window_of_notices_is_told_once_with_counts_by_kind() {
        assert_eq!(
            tell(vec![notice(1, "banned by WhatsApp (403)")]),
            EngineEvent::Notification {
                agent: AgentId(1),
                title: "a1".into(),
                body: "a1: banned by WhatsApp (403)".into()
            }
        );
        let mut window = vec![notice(3, "banned by WhatsApp (403)")];
        window.extend((4..7).map(|n| notice(n, "session not found (404)")));
        window.push(notice(2, "gave up retrying"));
        let EngineEvent::GroupedNotification { title, body, agents } = tell(window) else { panic!("not grouped") };
        assert_eq!(title, "5 agents need attention");
        assert_eq!(body, "3 session not found (404), 1 banned by WhatsApp (403), 1 gave up retrying");
        assert_eq!(agents, [2, 3, 4, 5, 6].map(AgentId));
    }
}
