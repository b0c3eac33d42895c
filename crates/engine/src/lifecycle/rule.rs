//! The rules of `docs/RULES.md`, as a type.
//!
//! Every decision, history entry and log line names the rule that applied by
//! a [`Rule`], never by a string: adding a rule is adding a variant here (and
//! its section in `docs/RULES.md`, which a test checks), and the compiler
//! finds every `match` that must know it. The ID text ("A-3") is how a rule
//! is stored in the history table and shown to people.

use std::fmt;

macro_rules! rules {
    ($($variant:ident = $id:literal, $what:literal;)+) => {
        /// A rule of `docs/RULES.md`, by its ID.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $(#[doc = $what] $variant,)+
        }

        impl Rule {
            /// Every rule the product implements, in the order of `docs/RULES.md`.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)+];

            /// The ID as people read it and as the history table stores it ("A-3").
            #[must_use]
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$variant => $id,)+
                }
            }
        }
    };
}

rules! {
    L1 = "L-1", "One table classifies every close code.";
    L2 = "L-2", "An auth close starts the auth cooldown.";
    L3 = "L-3", "A fatal close stops retries and notifies.";
    L4 = "L-4", "A recoverable close schedules a retry and keeps credentials.";
    A1 = "A-1", "Connection lock: an attempt in flight or an open link refuses every connect.";
    A2 = "A-2", "A clean manual disconnect lets Connect bypass every cooldown.";
    A3 = "A-3", "A conflict waits out its auth cooldown.";
    A4 = "A-4", "Any other status respects a running auth cooldown or ban.";
    A5 = "A-5", "Two user attempts are at least the attempt cooldown apart.";
    A6 = "A-6", "Automatic connects only for agents waiting for a retry, never in an auth cooldown.";
    A7 = "A-7", "Every decision is logged and written to the history.";
    D1 = "D-1", "A manual disconnect unlinks, forgets credentials and leaves a clean state.";
    D2 = "D-2", "Nothing of a stopped attempt changes the agent.";
    D3 = "D-3", "Disconnect and connect work again and again with no cooldown.";
    R1 = "R-1", "Retry delays back off exponentially with jitter.";
    R2 = "R-2", "After max_retries failed attempts the agent gives up.";
    R3 = "R-3", "An open link resets the retry counter.";
    R4 = "R-4", "Retries resume from credentials and never show a QR.";
    R5 = "R-5", "Automatic starts share one rate limit.";
    R6 = "R-6", "An attempt that reaches neither a QR nor a link in time is a 408.";
    Q1 = "Q-1", "A QR code moves the agent to qr_pending with a fixed expiry.";
    Q2 = "Q-2", "An unscanned QR expires into a clean state.";
    Q3 = "Q-3", "A 515 keeps an unscanned QR, or restarts to finish a pairing.";
    Q4 = "Q-4", "Linking by phone number with a pairing code.";
    Q5 = "Q-5", "A link WhatsApp gates with a passkey is shown as such and ends with that reason, never a 408.";
    P1 = "P-1", "Every change is committed with its history before anyone is told.";
    P2 = "P-2", "Cooldowns and retry times survive restarts.";
    P3 = "P-3", "Start-up resumes linked agents and ends every attempt.";
    P4 = "P-4", "Shutdown closes without logging out.";
    P5 = "P-5", "A crash leaves legal statuses and consistent fields.";
    P6 = "P-6", "Credentials are private files, deleted on disconnect and fatal closes.";
    P7 = "P-7", "Credentials are encrypted at rest with a key from the keyring or a passphrase; never a silent fallback.";
    O1 = "O-1", "Structured, masked logs for every decision.";
    O2 = "O-2", "Every agent keeps a timeline.";
    O3 = "O-3", "A dead keep-alive is a 408.";
    F1 = "F-1", "Many linked agents dropping together, or WhatsApp unreachable, is an outage.";
    F2 = "F-2", "During an outage retries are held and one probe at a time tries.";
    F3 = "F-3", "An outage ends at the first connection; the held agents resume, paced.";
    F4 = "F-4", "Fatal notices close together are told as one.";
    F5 = "F-5", "Elapsed time counts suspend and ignores wall-clock steps; no wait outlasts its setting.";
    F6 = "F-6", "After a wake or a gap, connected links are checked at once and reconnects are paced.";
    F7 = "F-7", "One WhatsApp Web version for the whole fleet, fetched at most once a day and kept; a failed fetch fails no connection.";
    H1 = "H-1", "Each agent's health figures are computed from its history.";
    H2 = "H-2", "An agent that keeps dropping is marked flapping and retries after the longest delay.";
    H3 = "H-3", "New links and user connects within 24 hours above their settings warn of a ban risk.";
    H4 = "H-4", "The header sums up the fleet; needs attention is a filter and an order.";
    H5 = "H-5", "History older than history_days is pruned.";
    B1 = "B-1", "Bulk actions admit each agent by its own rules and start paced; one summary answers.";
    B2 = "B-2", "The scan queue walks a person through every selected agent that needs a QR.";
    B3 = "B-3", "Every operator action is kept in the audit log, with its user, agents and outcome.";
}

impl Rule {
    /// The rule with this ID; `None` for an ID this version does not know
    /// (a history row written by another version).
    #[must_use]
    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|rule| rule.id() == id)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_round_trips_through_its_id_and_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            assert_eq!(Rule::parse(rule.id()), Some(*rule));
            assert!(seen.insert(rule.id()), "{rule} twice");
        }
        assert_eq!(Rule::parse("Z-9"), None);
        assert_eq!(Rule::parse("a-1"), None);
    }
}
