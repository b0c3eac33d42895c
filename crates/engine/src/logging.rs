//! Structured logs (O-1), with phone numbers and JIDs masked.
//!
//! Masking happens on the formatted line, at the writer, so no call site can
//! forget it: every run of 7 or more digits (a phone number, the user part of
//! a JID) keeps its first two and last two digits and loses the rest.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::lifecycle::{AgentId, HistoryEntry, Rule};

/// Masks every run of 7+ digits: `+4915112345678` → `+49•••••••••78`.
pub fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str(&run[..2]);
            out.extend(std::iter::repeat_n('•', run.len() - 4));
            out.push_str(&run[run.len() - 2..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Logs one committed history entry: the one log line of every decision and
/// change (O-1, A-7), with the agent and the rule. Called only after the
/// entry's COMMIT, so the log never tells of a change that was not saved.
pub fn log_history(agent: AgentId, entry: &HistoryEntry) {
    let rule = entry.rule.map_or("?", Rule::id);
    let code = entry.code.map(|c| c.0);
    let trigger = entry.trigger.as_str();
    let (from, to) = (entry.from, entry.to);
    if from == to {
        tracing::info!(%agent, rule, %from, code, trigger, "refused or kept: {}", entry.reason);
    } else {
        tracing::info!(%agent, rule, %from, %to, code, trigger, "{}", entry.reason);
    }
}

/// Wraps a writer so that every log line is masked before it is written.
#[derive(Clone)]
pub struct Masked<M>(pub M);

/// The writer [`Masked`] makes: masks, then writes to the inner writer.
pub struct MaskedWriter<W: Write>(W);

impl<W: Write> Write for MaskedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask_digits(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masked<M> {
    type Writer = MaskedWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedWriter(self.0.make_writer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Status, Trigger};
    use std::sync::{Arc, Mutex};

    /// O-1.
    #[test]
    fn o1_phone_numbers_and_jids_are_masked() {
        assert_eq!(mask_digits("+4915112345678"), "+49•••••••••78");
        assert_eq!(mask_digits("4915112345678@s.whatsapp.net"), "49•••••••••78@s.whatsapp.net");
        assert_eq!(mask_digits("agent 12 closed 401 at 2026-11-22"), "agent 12 closed 401 at 2026-11-22");
        assert_eq!(mask_digits("123456"), "123456");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// O-1.
    #[test]
    fn o1_log_lines_carry_agent_and_rule_and_are_masked() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Masked(move || sink.clone()))
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let entry = HistoryEntry {
                at: crate::clock::Timestamp(1),
                from: Status::Connecting,
                to: Status::Connected,
                code: None,
                reason: "connected as 4915112345678@s.whatsapp.net".into(),
                trigger: Trigger::Connector,
                rule: Some(Rule::R3),
            };
            log_history(AgentId(3), &entry);
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("agent=3") && text.contains(&format!("rule=\"{}\"", Rule::R3)), "{text}");
        assert!(!text.contains("5112345"), "{text}");
        assert!(text.contains("49•••••••••78@s.whatsapp.net"), "{text}");
    }
}
