import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { BlockKindDto } from "../src/bindings";
import { blockedText, countdownOf, formatCountdown, progress, statusLine } from "../src/format";
import { agent, blocked, NOW } from "./fake";

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
