import { describe, expect, it } from "vitest";
import { countdownOf, formatCountdown, progress, statusLine } from "../src/format";
import { NOW, agent } from "./fake";

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
      connect: { allowed: false, rule: "A-3", reason: "Blocked: …", until: NOW + 222_000 },
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

  it("names a temporary ban's end", () => {
    const until = NOW + 3_600_000;
    const a = agent(1, "failed", { reason: "temporarily banned", bannedUntil: until, connect: { allowed: false, rule: "A-4", reason: "x", until } });
    expect(countdownOf(a)?.label).toBe("Connect blocked — ban ends in");
  });

  it("has no countdown for a connected agent, and adds a missing close code", () => {
    expect(statusLine(agent(1, "connected", { reason: "connected" }), NOW)).toBe("connected");
    expect(statusLine(agent(1, "disconnected", { reason: "could not connect", lastCode: 428 }), NOW)).toBe("could not connect (428)");
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
