import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { BlockKindDto } from "../src/bindings";
import {
  blockedText,
  connectedPercent,
  countdownOf,
  formatClock,
  formatCountdown,
  formatDuration,
  healthLines,
  progress,
  statusLine,
} from "../src/format";
import { agent, blocked, health, NOW } from "./fake";

describe("formatCountdown", () => {
  it("shows m:ss, h:mm:ss past an hour, and rounds up", () => {
    expect(formatCountdown(222_000)).toBe("3:42");
    expect(formatCountdown(1)).toBe("0:01");
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(-5_000)).toBe("0:00");
    expect(formatCountdown(3_661_000)).toBe("1:01:01");
  });
});

describe("statusLine", () => {
  it("counts down a conflict's cooldown with the engine's reason (A-3)", () => {
    const a = agent(1, "conflict", {
      reason: "logged in elsewhere (440) — the account was opened on another device: scan a new QR",
      lastCode: 440,
      connect: blocked("A-3", "auth_cooldown", "Blocked: logged in elsewhere (440) — wait for the auth cooldown", NOW + 222_000),
    });
    expect(statusLine(a, NOW)).toBe(
      "Connect blocked — cooldown 3:42 · logged in elsewhere (440) — the account was opened on another device: scan a new QR",
    );
  });

  it("shows the retry number and time (R-1)", () => {
    const a = agent(1, "reconnecting", { reason: "timed out (408) — retry 2 of 5", retryAttempt: 2, nextRetryAt: NOW + 7_000 });
    expect(statusLine(a, NOW)).toBe("Retry 2 of 5 in 0:07 · timed out (408) — retry 2 of 5");
  });

  it("shows the QR expiry (Q-1)", () => {
    const a = agent(1, "qr_pending", { reason: "scan the QR code with WhatsApp", qrExpiresAt: NOW + 151_000 });
    expect(statusLine(a, NOW)).toBe("QR expires in 2:31 · scan the QR code with WhatsApp");
  });

  it("says an old device is still being unlinked from the phone (D-1)", () => {
    const a = agent(1, "disconnected", { reason: "disconnected by user", unlinking: true });
    expect(statusLine(a, NOW)).toBe("disconnected by user · unlinking from the phone…");
  });

  it("has no countdown for a connected agent", () => {
    expect(statusLine(agent(1, "connected", { reason: "connected" }), NOW)).toBe("connected");
  });

  it("shows the engine's reason as it is, never adding a close code", () => {
    // The engine names the code in the reason when a close caused the status;
    // a reason without one (a timeout before any close) stays without.
    expect(statusLine(agent(1, "disconnected", { reason: "could not connect", lastCode: 428 }), NOW)).toBe("could not connect");
    expect(statusLine(agent(1, "failed", { reason: "logged out (401)", lastCode: 401 }), NOW)).toBe("logged out (401)");
  });
});

describe("countdownOf", () => {
  const until = NOW + 60_000;
  const withBlock = (block: BlockKindDto, extra = {}) =>
    agent(1, "failed", {
      reason: "temporarily banned by WhatsApp (403) — Connect waits for the ban to end",
      connect: blocked("A-4", block, "Blocked", until),
      ...extra,
    });

  it("names the deadline after the engine's block kind", () => {
    expect(countdownOf(withBlock("attempt_cooldown"))).toEqual({ label: "Connect blocked — wait", until });
    expect(countdownOf(withBlock("auth_cooldown"))).toEqual({ label: "Connect blocked — cooldown", until });
    expect(countdownOf(withBlock("ban"))).toEqual({ label: "Connect blocked — ban ends in", until });
  });

  it("counts nothing down for an attempt in flight or an agent not waiting for a retry", () => {
    expect(countdownOf(withBlock("in_progress"))).toBeNull();
    expect(countdownOf(withBlock("not_retrying"))).toBeNull();
  });

  it("takes the kind, not a comparison of times: a ban ending with the cooldown is still a cooldown", () => {
    expect(countdownOf(withBlock("auth_cooldown", { bannedUntil: until }))?.label).toBe("Connect blocked — cooldown");
    expect(countdownOf(withBlock("ban", { bannedUntil: null }))?.label).toBe("Connect blocked — ban ends in");
  });

  it("counts nothing down for a block without an end, or when Connect is allowed", () => {
    expect(
      countdownOf(agent(1, "connecting", { connect: blocked("A-1", "in_progress", "already in progress (connecting)", null) })),
    ).toBeNull();
    expect(countdownOf(agent(1, "disconnected"))).toBeNull();
  });
});

describe("blockedText", () => {
  const reason = "Blocked: recent auth failure — wait for the auth cooldown";

  it("adds the time left to the engine's reason, drawn from `until` at the given moment", () => {
    const decision = blocked("A-3", "auth_cooldown", reason, NOW + 222_000);
    expect(blockedText(decision, NOW)).toBe(`${reason} (3:42 left)`);
    expect(blockedText(decision, NOW + 2_000)).toBe(`${reason} (3:40 left)`);
  });

  it("is exactly the reason when the block has no end, and nothing when Connect is allowed", () => {
    expect(blockedText(blocked("A-1", "in_progress", "already in progress (connecting)", null), NOW)).toBe(
      "already in progress (connecting)",
    );
    expect(blockedText(agent(1, "disconnected").connect, NOW)).toBeNull();
  });
});

describe("progress", () => {
  it("runs from 0 to 1 between first sight and the deadline", () => {
    expect(progress(0, 100, 0)).toBe(0);
    expect(progress(0, 100, 50)).toBe(0.5);
    expect(progress(0, 100, 150)).toBe(1);
    expect(progress(100, 100, 100)).toBe(1);
  });
});

describe("connectedPercent", () => {
  it("rounds down, so 100 % means connected all of the covered time", () => {
    expect(connectedPercent({ connectedMs: 98_600, coveredMs: 100_000 })).toBe(98);
    expect(connectedPercent({ connectedMs: 99_999, coveredMs: 100_000 })).toBe(99);
    expect(connectedPercent({ connectedMs: 100_000, coveredMs: 100_000 })).toBe(100);
    expect(connectedPercent({ connectedMs: 0, coveredMs: 100_000 })).toBe(0);
  });

  it("has no share before any time is covered", () => {
    expect(connectedPercent({ connectedMs: 0, coveredMs: 0 })).toBeNull();
  });
});

describe("formatDuration", () => {
  it("says seconds, minutes, then hours and minutes, rounded", () => {
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(12_400)).toBe("12 s");
    expect(formatDuration(59_400)).toBe("59 s");
    expect(formatDuration(90_000)).toBe("2 min");
    expect(formatDuration(59 * 60_000)).toBe("59 min");
    expect(formatDuration(2 * 3_600_000)).toBe("2 h");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe("2 h 5 min");
  });
});

describe("formatClock", () => {
  it("shows the time alone today, with the date another day", () => {
    const today = new Date(NOW);
    today.setHours(14, 2, 31);
    expect(formatClock(today.getTime(), NOW)).toBe("14:02");
    const before = new Date(today.getTime());
    before.setDate(before.getDate() - 2);
    expect(formatClock(before.getTime(), NOW)).toMatch(/^\d{4}-\d{2}-\d{2} 14:02$/);
    expect(formatClock(before.getTime(), NOW)).not.toBe(formatClock(today.getTime(), NOW));
  });
});

describe("healthLines", () => {
  const texts = (lines: { text: string }[]) => lines.map((l) => l.text);
  const hour = 3_600_000;

  it("shows the four figures of H-1", () => {
    const lastConnected = new Date(NOW);
    lastConnected.setHours(14, 2);
    const figures = health({
      day: { connectedMs: 23.6 * hour, coveredMs: 24 * hour },
      week: { connectedMs: 163 * hour, coveredMs: 168 * hour },
      disconnects: 3,
      medianRecoveryMs: 12_000,
      lastConnectedAt: lastConnected.getTime(),
    });
    expect(healthLines(figures, false, NOW)).toEqual([
      { text: "Connected 98 % of the last 24 h · 97 % of 7 days", warning: false },
      { text: "3 disconnects in 24 h", warning: false },
      { text: "Recovers in 12 s (median, 7 days)", warning: false },
      { text: "Last connected 14:02", warning: false },
    ]);
  });

  it("says what is not known yet, and that a connected agent is connected now", () => {
    const fresh = health({
      day: { connectedMs: 0, coveredMs: 0 },
      week: { connectedMs: 0, coveredMs: 0 },
      disconnects: 1,
      lastConnectedAt: null,
    });
    expect(texts(healthLines(fresh, false, NOW))).toEqual([
      "Connected time: no history yet",
      "1 disconnect in 24 h",
      "No recovery from a drop in 7 days",
      "Not connected in the last 7 days",
    ]);
    expect(texts(healthLines(health(), true, NOW))).toContain("Connected now");
  });

  it("warns of the ban risk only for the counts over their settings (H-3)", () => {
    const under = health({ banRisk: { pairings: 3, connects: 10, pairingsOver: false, connectsOver: false } });
    expect(healthLines(under, true, NOW).some((l) => l.warning)).toBe(false);
    const over = health({ banRisk: { pairings: 4, connects: 11, pairingsOver: true, connectsOver: true } });
    expect(healthLines(over, true, NOW).filter((l) => l.warning)).toEqual([
      { text: "4 new links in 24 h — WhatsApp may flag this number", warning: true },
      { text: "11 manual connects in 24 h — WhatsApp may flag this number", warning: true },
    ]);
    const links = health({ banRisk: { pairings: 4, connects: 11, pairingsOver: true, connectsOver: false } });
    expect(texts(healthLines(links, true, NOW).filter((l) => l.warning))).toEqual(["4 new links in 24 h — WhatsApp may flag this number"]);
  });
});

describe("the UI's source", () => {
  it("names no rule: it branches on typed kinds, never on a rule ID", () => {
    const src = resolve(process.cwd(), "src");
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && f !== "bindings.ts");
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(join(src, file), "utf8");
      // A rule ID in quotes of any kind: "A-5", 'A-5', `A-5`.
      expect(text, file).not.toMatch(/["'`][ALDRQPO]-\d+["'`]/);
    }
  });
});
