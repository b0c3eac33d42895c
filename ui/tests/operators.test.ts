// Operators at scale (RULES.md §11): the selection and bulk actions (B-1),
// the scan queue (B-2), the audit log and CSV exports (B-3).

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/app";
import type { AgentDto, AuditEntryDto } from "../src/bindings";
import { auditCsv, csvCell, timelineCsv, toCsv } from "../src/csv";
import { needsQr, Selection, summarize } from "../src/selection";
import { agentsText, auditQuery } from "../src/views/audit";
import { agent, blocked, FakeBackend, find, flush, NOW, snapshot } from "./fake";

let root: HTMLElement;

beforeEach(() => {
  localStorage.clear();
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
  document.body.replaceChildren();
  root = document.createElement("div");
  document.body.append(root);
});

afterEach(() => {
  vi.useRealTimers();
});

async function start(backend: FakeBackend): Promise<App> {
  const app = new App(
    backend,
    root,
    () => Date.now(),
    (apply) => apply(),
  );
  await app.start();
  return app;
}

function row(id: number): HTMLElement {
  return find(root, `li.row[data-id="${id}"]`);
}

function picked(): number[] {
  return [...root.querySelectorAll<HTMLElement>("li.row")]
    .filter((r) => r.querySelector<HTMLInputElement>("input.pick")?.checked)
    .map((r) => Number(r.dataset.id));
}

function key(el: HTMLElement, k: string, extra: KeyboardEventInit = {}): void {
  el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, ...extra }));
}

function button(label: string, within: ParentNode = document): HTMLButtonElement {
  const found = [...within.querySelectorAll<HTMLButtonElement>("button")].find((b) => b.textContent === label);
  if (!found) throw new Error(`no button “${label}”`);
  return found;
}

describe("the selection (B-1)", () => {
  it("toggles, extends a range from the last one picked in the list's order, and picks everything shown", () => {
    const s = new Selection();
    const order = [5, 3, 9, 1, 7];
    s.toggle(3);
    s.range(1, order);
    expect(s.inOrder(order)).toEqual([3, 9, 1]);
    // A range to a picked agent unpicks the range.
    s.range(9, order);
    expect(s.inOrder(order)).toEqual([3]);
    s.pickAll([7, 5]);
    expect(s.inOrder(order)).toEqual([5, 3, 7]);
    // An agent picked and then filtered out still counts, after those shown.
    s.toggle(42);
    expect(s.inOrder(order)).toEqual([5, 3, 7, 42]);
    s.forget(42);
    s.forget(5);
    expect(s.size).toBe(2);
    s.clear();
    expect(s.size).toBe(0);
    // Without an anchor a range is a toggle.
    s.range(9, order);
    expect(s.inOrder(order)).toEqual([9]);
  });

  it("sums up a bulk action per outcome, each group with its agents", () => {
    const o = (id: number, outcome: AgentDto["status"] | string) =>
      ({ id, name: `Agent ${id}`, outcome, reason: "", until: null }) as Parameters<typeof summarize>[0][number];
    const groups = summarize([o(1, "connecting"), o(2, "cooldown"), o(3, "connecting"), o(4, "in_progress"), o(5, "cooldown")]);
    expect(groups.map((g) => g.text)).toEqual(["2 connecting", "2 blocked by a cooldown", "1 already connected or connecting"]);
    expect(groups[1].ids).toEqual([2, 5]);
  });

  it("knows which agents need a QR: not linked and not connected", () => {
    expect(needsQr(agent(1, "disconnected"))).toBe(true);
    expect(needsQr(agent(2, "qr_pending"))).toBe(true);
    expect(needsQr(agent(3, "connected", { hasCredentials: true }))).toBe(false);
    expect(needsQr(agent(4, "reconnecting", { hasCredentials: true }))).toBe(false);
  });

  it("picks rows by check box, Shift+click, Space and Shift+Space, and Select all shown follows the filter", async () => {
    await start(new FakeBackend(snapshot(Array.from({ length: 10 }, (_, i) => agent(i + 1, i < 5 ? "connected" : "disconnected")))));
    find<HTMLInputElement>(row(2), "input.pick").click();
    find<HTMLInputElement>(row(4), "input.pick").dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    expect(picked()).toEqual([2, 3, 4]);
    expect(find(root, ".selection-count").textContent).toBe("3 agents selected");
    // A check box picks; it does not open the agent.
    expect(find(root, ".detail").textContent).not.toContain("Agent 2");
    key(row(6), " ");
    key(row(8), " ", { shiftKey: true });
    expect(picked()).toEqual([2, 3, 4, 6, 7, 8]);
    key(row(7), " ");
    expect(picked()).toEqual([2, 3, 4, 6, 8]);
    button("Clear selection").click();
    expect(picked()).toEqual([]);
    expect(button("Connect", find(root, ".selection-bar")).disabled).toBe(true);
    const status = find<HTMLSelectElement>(root, "select.status-filter");
    status.value = "disconnected";
    status.dispatchEvent(new Event("change"));
    button("Select all shown").click();
    status.value = "all";
    status.dispatchEvent(new Event("change"));
    expect(picked()).toEqual([6, 7, 8, 9, 10]);
    // Ctrl+A in the list does the same.
    button("Clear selection").click();
    key(row(1), "a", { ctrlKey: true });
    expect(picked()).toHaveLength(10);
  });

  it("sends a bulk connect in the list's order and answers with one summary whose groups show exactly their agents", async () => {
    const backend = new FakeBackend(snapshot(Array.from({ length: 6 }, (_, i) => agent(i + 1, "disconnected"))));
    backend.bulkAnswer = (ids) =>
      ids.map((id) => ({
        id,
        name: `Agent ${id}`,
        outcome: id % 3 === 0 ? "cooldown" : "connecting",
        reason: id % 3 === 0 ? "wait for the auth cooldown" : "",
        until: id % 3 === 0 ? NOW + 60_000 : null,
      }));
    await start(backend);
    button("Select all shown").click();
    button("Connect", find(root, ".selection-bar")).click();
    await flush();
    expect(backend.calls).toContain("bulk connect 1,2,3,4,5,6");
    const summary = find(root, ".bulk-summary");
    expect(summary.textContent).toContain("Connect on 6 agents: 4 connecting");
    expect(summary.textContent).toContain("2 blocked by a cooldown");
    find<HTMLButtonElement>(summary, 'button.show[data-kind="cooldown"]').click();
    expect(find(root, "ul.rows").dataset.shown).toBe("2");
    expect([...root.querySelectorAll<HTMLElement>("li.row")].map((r) => r.dataset.id)).toEqual(["3", "6"]);
    find<HTMLButtonElement>(summary, 'button.show[data-kind="cooldown"]').click();
    expect(find(root, "ul.rows").dataset.shown).toBe("6");
    // Dismissing the banner undoes its own "Show them", not another filter.
    find<HTMLButtonElement>(summary, 'button.show[data-kind="connecting"]').click();
    expect(find(root, "ul.rows").dataset.shown).toBe("4");
    find<HTMLButtonElement>(summary, "button.dismiss").click();
    expect(find(root, "ul.rows").dataset.shown).toBe("6");
  });

  it("asks before a bulk removal, naming the count, and forgets the removed agents' selection", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected"), agent(2, "disconnected"), agent(3, "disconnected")]));
    backend.bulkKind = "removed";
    await start(backend);
    key(row(1), " ");
    key(row(3), " ");
    button("Remove…").click();
    const dialog = find(document.body, ".modal");
    expect(dialog.textContent).toContain("Remove 2 agents?");
    expect(backend.calls.some((c) => c.startsWith("bulk"))).toBe(false);
    button("Remove 2 agents", dialog).click();
    await flush();
    expect(backend.calls).toContain("bulk remove 1,3");
    expect(find(root, ".selection-count").textContent).toBe("None selected");
  });

  it("asks before a bulk connect when selected agents are at ban risk, naming how many (H-3)", async () => {
    const risky = { pairings: 4, connects: 0, pairingsOver: true, connectsOver: false };
    const backend = new FakeBackend(snapshot([agent(1, "disconnected", { banRisk: risky }), agent(2, "disconnected")]));
    await start(backend);
    button("Select all shown").click();
    button("Connect", find(root, ".selection-bar")).click();
    const dialog = find(document.body, ".modal");
    expect(dialog.textContent).toContain("1 selected agent was linked or connected by hand more often");
    expect(backend.calls.some((c) => c.startsWith("bulk"))).toBe(false);
    button("Connect", dialog).click();
    await flush();
    expect(backend.calls).toContain("bulk connect 1,2");
  });

  it("says when an agent waits its turn to connect after a bulk connect (R-5)", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "disconnected", { queued: true, version: 1 })]));
    await start(backend);
    expect(find(row(1), ".line").textContent).toContain("waiting its turn to connect");
  });
});

describe("the scan queue (B-2)", () => {
  it("walks through the agents that need a QR: connects one at a time, counts the linked, steps on by itself", async () => {
    const agents = [
      agent(1, "disconnected"),
      agent(2, "connected", { hasCredentials: true }),
      agent(3, "disconnected"),
      agent(4, "disconnected"),
    ];
    const backend = new FakeBackend(snapshot(agents));
    await start(backend);
    button("Link phones…").click();
    await flush();
    const queue = find(document.body, ".scan-queue");
    expect(queue.textContent).toContain("0 of 3 linked");
    expect(queue.textContent).toContain("Agent 1 — 1 of 3");
    expect(backend.calls.filter((c) => c.startsWith("connect"))).toEqual(["connect 1"]);
    backend.emit({ type: "agent", agent: agent(1, "qr_pending", { qrKey: "QR1", version: 1 }) });
    await flush();
    expect(find<HTMLImageElement>(queue, "img.queue-qr").src).toContain("QR1");
    button("Simulate scan", queue).click();
    expect(backend.calls).toContain('simulate 1 {"action":"scan"}');
    backend.emit({ type: "agent", agent: agent(1, "connected", { hasCredentials: true, version: 2 }) });
    await flush();
    expect(queue.textContent).toContain("1 of 3 linked");
    expect(queue.textContent).toContain("Agent 3 — 2 of 3");
    expect(backend.calls.filter((c) => c.startsWith("connect"))).toEqual(["connect 1", "connect 3"]);
    // Skip stops the attempt that waits for a scan, and connects the next.
    backend.emit({ type: "agent", agent: agent(3, "qr_pending", { qrKey: "QR3", version: 1 }) });
    button("Skip", queue).click();
    await flush();
    expect(backend.calls).toContain("disconnect 3");
    expect(queue.textContent).toContain("Agent 4 — 3 of 3");
    // Leaving stops the waiting attempt and nothing linked.
    backend.emit({ type: "agent", agent: agent(4, "qr_pending", { qrKey: "QR4", version: 1 }) });
    key(document.body, "Escape");
    await flush();
    expect(document.querySelector(".scan-queue")).toBeNull();
    expect(backend.calls).toContain("disconnect 4");
    expect(backend.calls).not.toContain("disconnect 1");
  });

  it("goes back to a skipped agent and connects it again, and Back with nothing before it stops nothing", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "disconnected"), agent(2, "disconnected"), agent(3, "disconnected")]));
    await start(backend);
    button("Link phones…").click();
    await flush();
    const queue = find(document.body, ".scan-queue");
    backend.emit({ type: "agent", agent: agent(1, "connected", { hasCredentials: true, version: 1 }) });
    await flush();
    expect(queue.textContent).toContain("Agent 2 — 2 of 3");
    backend.emit({ type: "agent", agent: agent(2, "qr_pending", { qrKey: "QR2", version: 1 }) });
    // Agent 1 is linked: there is nothing to go back to, and agent 2 keeps its QR.
    button("Back", queue).click();
    expect(queue.textContent).toContain("Agent 2 — 2 of 3");
    expect(backend.calls).not.toContain("disconnect 2");
    button("Skip", queue).click();
    expect(backend.calls).toContain("disconnect 2");
    backend.emit({ type: "agent", agent: agent(2, "disconnected", { version: 2 }) });
    await flush();
    button("Back", queue).click();
    await flush();
    expect(queue.textContent).toContain("Agent 2 — 2 of 3");
    expect(backend.calls.filter((c) => c === "connect 2")).toHaveLength(2);
  });

  it("takes only the selected agents that need a QR, and shows a blocked agent's countdown to skip", async () => {
    const cooling = agent(2, "failed", { connect: blocked("A-4", "auth_cooldown", "wait for the auth cooldown", NOW + 90_000) });
    const backend = new FakeBackend(snapshot([agent(1, "connected", { hasCredentials: true }), cooling, agent(3, "disconnected")]));
    await start(backend);
    key(row(1), " ");
    key(row(2), " ");
    button("Link phones…").click();
    await flush();
    const queue = find(document.body, ".scan-queue");
    expect(queue.textContent).toContain("0 of 1 linked");
    expect(queue.textContent).toContain("Cannot connect now: wait for the auth cooldown (1:30 left)");
    expect(backend.calls.some((c) => c.startsWith("connect"))).toBe(false);
    button("Skip", queue).click();
    expect(queue.textContent).toContain("Done: 1 not linked");
  });
});

describe("the audit log and CSV exports (B-3)", () => {
  const entry = (id: number, extra: Partial<AuditEntryDto> = {}): AuditEntryDto => ({
    id,
    at: NOW - id * 60_000,
    osUser: "maria",
    action: "bulk_connect",
    agents: [
      { id: 1, name: "Sales, DACH", outcome: "connecting" },
      { id: 2, name: '=HYPERLINK("x")', outcome: "blocked by a cooldown: wait" },
    ],
    outcome: "1 connecting, 1 blocked by a cooldown",
    detail: "2 selected",
    ...extra,
  });

  it("escapes cells for spreadsheets: separators, quotes, line breaks, and no formulas", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a, b")).toBe('"a, b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell("=1+1")).toBe("'=1+1");
    expect(csvCell("+49 151")).toBe("'+49 151");
    expect(csvCell("-5")).toBe("'-5");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell(" padded ")).toBe('" padded "');
    expect(csvCell(null)).toBe("");
    expect(csvCell(408)).toBe("408");
    expect(
      toCsv([
        ["a", "b"],
        ["1", "2"],
      ]),
    ).toBe("a,b\r\n1,2\r\n");
  });

  it("exports the audit log and a timeline with a header line", () => {
    const csv = auditCsv([entry(1)]).split("\r\n");
    expect(csv[0]).toBe("time,user,action,agents,outcome,detail");
    // A formula inside a cell is text to a spreadsheet: only a cell's start is neutralised.
    expect(csv[1]).toContain(`maria,bulk_connect,"Sales, DACH (connecting); =HYPERLINK(""x"") (blocked by a cooldown: wait)"`);
    expect(auditCsv([entry(1, { osUser: "=cmd|' /C calc'!A0" })])).toContain(`,'=cmd|' /C calc'!A0,`);
    const timeline = timelineCsv([
      { at: NOW, from: "connected", to: "reconnecting", code: 503, reason: "unavailable", trigger: "connector", rule: "L-4" },
      { at: NOW, from: "disconnected", to: "connecting", code: null, reason: "-", trigger: "user", rule: null },
    ]).split("\r\n");
    expect(timeline[0]).toBe("time,from,to,code,reason,trigger,rule");
    expect(timeline[1].endsWith(",connected,reconnecting,503,unavailable,connector,L-4")).toBe(true);
    expect(timeline[2].endsWith(",disconnected,connecting,,'-,user,?")).toBe(true);
  });

  it("turns the filters into a query, and names a long selection in a few words", () => {
    expect(auditQuery("", "", "", "", 500)).toEqual({ limit: 500 });
    const q = auditQuery("7", "settings", "2026-11-01T00:00", "garbage", 10);
    expect(q).toMatchObject({ agent: 7, action: "settings", limit: 10 });
    expect(q.since).toBe(new Date("2026-11-01T00:00").getTime());
    expect(q.until).toBeUndefined();
    const many = entry(1, { agents: Array.from({ length: 41 }, (_, i) => ({ id: i, name: `S${i}`, outcome: "" })) });
    expect(agentsText(many)).toBe("S0, S1, S2 and 38 more");
  });

  it("lists the entries newest first, filters them, and exports what it shows through the save dialog", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected"), agent(2, "disconnected")]));
    backend.auditEntries = [entry(1), entry(2, { action: "settings", agents: [], outcome: "saved", detail: "max_retries 5 → 7" })];
    await start(backend);
    button("Audit log").click();
    await flush();
    const dialog = find(document.body, ".modal.audit");
    const rows = [...dialog.querySelectorAll("tbody tr")];
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain("Bulk connect");
    expect(rows[0].textContent).toContain("maria");
    expect(rows[1].textContent).toContain("max_retries 5 → 7");
    const agentFilter = find<HTMLSelectElement>(dialog, "select.audit-agent");
    agentFilter.value = "2";
    agentFilter.dispatchEvent(new Event("change"));
    const actionFilter = find<HTMLSelectElement>(dialog, "select.audit-action");
    actionFilter.value = "bulk_connect";
    actionFilter.dispatchEvent(new Event("change"));
    await flush();
    expect(backend.auditQueries.at(-1)).toEqual({ agent: 2, action: "bulk_connect", limit: 500 });
    button("Export CSV…", dialog).click();
    await flush();
    expect(backend.auditQueries.at(-1)).toEqual({ agent: 2, action: "bulk_connect", limit: 5000 });
    expect(backend.saved[0].fileName).toBe("switchboard-audit-2026-11-22.csv");
    expect(backend.saved[0].contents.startsWith("time,user,action,agents,outcome,detail\r\n")).toBe(true);
    expect(find(root, ".toast").textContent).toBe("Saved 2 entries to /home/staff/export.csv");
  });

  it("exports the shown agent's timeline under its name, and says nothing when the person cancels", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected", { name: "Sales/DACH 🚀" })]));
    backend.historyEntries = [
      { at: NOW, from: "connecting", to: "connected", code: null, reason: "open", trigger: "connector", rule: "R-3" },
    ];
    await start(backend);
    row(1).click();
    button("Export CSV…", find(root, ".detail")).click();
    await flush();
    expect(backend.saved[0].fileName).toBe("Sales_DACH 🚀 timeline.csv");
    expect(backend.saved[0].contents).toContain("connecting,connected,,open,connector,R-3");
    backend.saveAs = null;
    find(root, ".toast").hidden = true;
    button("Export CSV…", find(root, ".detail")).click();
    await flush();
    expect(find(root, ".toast").hidden).toBe(true);
  });
});

describe("passkey linking (Q-5)", () => {
  it("shows WhatsApp's passkey request with what to do and its code, and nothing without one", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connecting", { passkey: { code: null }, version: 1 })]));
    await start(backend);
    row(1).click();
    const box = find(root, ".detail section.passkey");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("WhatsApp wants this account to confirm the new link with a passkey");
    expect(box.textContent).toContain("try linking by phone number");
    expect(find(box, ".passkey-code").hidden).toBe(true);
    backend.emit({ type: "agent", agent: agent(1, "connecting", { passkey: { code: "ABCD-EFGH" }, version: 2 }) });
    expect(find(box, ".passkey-code").textContent).toBe("Code WhatsApp sent for this link: ABCD-EFGH");
    backend.emit({ type: "agent", agent: agent(1, "disconnected", { version: 3 }) });
    expect(box.hidden).toBe(true);
    // Demo mode offers to practise it.
    button("Ask for a passkey", find(root, ".detail")).click();
    expect(backend.calls).toContain('simulate 1 {"action":"passkey"}');
  });
});
