import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/app";
import { ALL_STATUSES, STATUS_LABELS } from "../src/format";
import { ROW_HEIGHT } from "../src/views/row";
import { agent, blocked, FakeBackend, find, flush, health, NOW, snapshot } from "./fake";

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

/** Frames asked for and not yet run; `start` runs them at once unless told to hold them. */
const frames: (() => void)[] = [];

async function start(backend: FakeBackend, holdFrames = false): Promise<App> {
  const app = new App(
    backend,
    root,
    () => Date.now(),
    (apply) => (holdFrames ? frames.push(apply) : apply()),
  );
  await app.start();
  return app;
}

/** A panel with one agent showing a QR, selected: its pairing form is on screen. */
async function selectPairingAgent() {
  const pending = agent(1, "qr_pending", { qrKey: "AAAA", qrExpiresAt: NOW + 150_000, version: 1 });
  const backend = new FakeBackend(snapshot([pending]));
  await start(backend);
  row(1).click();
  return { pending, backend, input: find<HTMLInputElement>(root, "input.pair-phone") };
}

function row(id: number): HTMLElement {
  return find(root, `li.row[data-id="${id}"]`);
}

/** How many agents the list shows, and the ids of the rows in the page, in order. */
function shown(): { count: number; ids: number[] } {
  const ids = [...root.querySelectorAll<HTMLElement>("li.row")].map((r) => Number(r.dataset.id));
  return { count: Number(find(root, "ul.rows").dataset.shown), ids };
}

describe("the agent list", () => {
  it("applies the events that arrive before the snapshot, after it", async () => {
    // The engine's first events can overtake the snapshot's answer.
    const backend = new FakeBackend(snapshot([agent(1, "disconnected", { version: 1 })]));
    const subscribe = backend.subscribe.bind(backend);
    backend.subscribe = async (onEvent) => {
      const answer = await subscribe(onEvent);
      onEvent({ type: "agent", agent: agent(1, "connecting", { version: 2 }) });
      return answer;
    };
    await start(backend);
    expect(row(1).dataset.status).toBe("connecting");
  });

  it("renders every status with its badge and label", async () => {
    const agents = ALL_STATUSES.map((s, i) => agent(i + 1, s));
    await start(new FakeBackend(snapshot(agents)));
    ALL_STATUSES.forEach((status, i) => {
      const badge = find(row(i + 1), ".badge");
      expect(badge.classList.contains(`status-${status}`)).toBe(true);
      expect(badge.textContent).toBe(STATUS_LABELS[status]);
    });
    expect(find(root, '.chip[data-status="all"] .count').textContent).toBe(String(ALL_STATUSES.length));
  });

  it("shows an empty list with a hint", async () => {
    await start(new FakeBackend(snapshot([])));
    const empty = find<HTMLElement>(root, ".empty");
    expect(empty.hidden).toBe(false);
    expect(empty.textContent).toContain("No agents yet");
  });

  it("shows names with HTML as text, never as markup", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    await start(new FakeBackend(snapshot([agent(1, "connected", { name: evil })])));
    expect(find(row(1), ".name").textContent).toBe(evil);
    expect(root.querySelector("img")).toBeNull();
  });

  it("ellipsizes long names and keeps the full name in the tooltip", async () => {
    const long = "A very long agent name that goes on and on and never seems to end at all ok";
    await start(new FakeBackend(snapshot([agent(1, "connected", { name: long })])));
    const name = find<HTMLElement>(row(1), ".name");
    expect(name.title).toBe(long);
    const css = readFileSync(resolve(process.cwd(), "styles.css"), "utf8");
    expect(css).toMatch(/\.name \{[^}]*text-overflow: ellipsis;[^}]*white-space: nowrap;/);
  });

  it("updates only the changed row, in place, and drops stale versions", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "disconnected"), agent(2, "disconnected")]));
    await start(backend);
    const first = row(1);
    const second = row(2);
    backend.emit({ type: "agent", agent: agent(2, "connecting", { version: 1 }) });
    expect(row(1)).toBe(first);
    expect(row(2)).toBe(second);
    expect(second.dataset.status).toBe("connecting");
    backend.emit({ type: "agent", agent: agent(2, "disconnected", { version: 0 }) });
    expect(second.dataset.status).toBe("connecting");
    backend.emit({ type: "removed", id: 1 });
    expect(root.querySelector('li.row[data-id="1"]')).toBeNull();
  });

  it("disables Connect with the engine's reason and counts down by itself, in the line and the tooltip (A-3)", async () => {
    const until = NOW + 65_000;
    const reason = "Blocked: recent auth failure — wait for the auth cooldown";
    const blockedAgent = agent(1, "conflict", {
      reason: "logged out (401) — the phone unlinked this device: scan a new QR",
      lastCode: 401,
      connect: blocked("A-3", "auth_cooldown", reason, until),
      version: 1,
    });
    const backend = new FakeBackend(snapshot([blockedAgent]));
    await start(backend);
    const button = find<HTMLButtonElement>(row(1), "button.connect");
    expect(button.disabled).toBe(true);
    expect(button.title).toBe(`${reason} (1:05 left)`);
    const line = find(row(1), ".line");
    expect(line.textContent).toContain("cooldown 1:05");
    vi.advanceTimersByTime(5_000);
    expect(line.textContent).toContain("cooldown 1:00");
    expect(button.title).toBe(`${reason} (1:00 left)`);
    // The engine republishes at the end; the button follows without a reload.
    const allowed = { allowed: true, rule: "A-3", block: null, reason: "cooldown over", until: null } as const;
    backend.emit({ type: "agent", agent: { ...blockedAgent, connect: allowed, version: 2 } });
    expect(button.disabled).toBe(false);
    expect(button.title).toBe("Connect this agent");
  });

  it("counts down on the engine's time while the wall clock is stepped, and after it steps back (F-5)", async () => {
    // The wall clock was set an hour ahead while the engine ran: the engine's time is an hour behind it.
    const hour = 3_600_000;
    const reason = "Blocked: recent auth failure — wait for the auth cooldown";
    const conflict = agent(1, "conflict", {
      lastCode: 440,
      connect: blocked("A-3", "auth_cooldown", reason, NOW - hour + 65_000),
      authCooldownUntil: NOW - hour + 65_000,
      version: 1,
    });
    const backend = new FakeBackend({ ...snapshot([conflict]), wallAheadMs: hour });
    await start(backend);
    const button = find<HTMLButtonElement>(row(1), "button.connect");
    const line = find(row(1), ".line");
    expect(button.title).toBe(`${reason} (1:05 left)`);
    expect(line.textContent).toContain("cooldown 1:05");
    // Someone sets the wall clock right: the engine says so, the countdown goes on.
    vi.setSystemTime(NOW - hour + 5_000);
    backend.emit({ type: "clock", wallAheadMs: 0 });
    expect(button.title).toBe(`${reason} (1:00 left)`);
    expect(line.textContent).toContain("cooldown 1:00");
  });

  it("shows a block without an end as the engine's reason alone", async () => {
    const inFlight = blocked("A-1", "in_progress", "already in progress (connecting)", null);
    await start(new FakeBackend(snapshot([agent(1, "connecting", { reason: "connecting", connect: inFlight })])));
    const button = find<HTMLButtonElement>(row(1), "button.connect");
    expect(button.disabled).toBe(true);
    expect(button.title).toBe("already in progress (connecting)");
    expect(find(row(1), ".line").textContent).toBe("connecting");
  });

  it("sends a click to the engine and shows a refusal with the time left", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "disconnected")]));
    backend.connectAnswer = blocked("A-5", "attempt_cooldown", "Blocked: an attempt just started — wait a moment", NOW + 4_000);
    await start(backend);
    find<HTMLButtonElement>(row(1), "button.connect").click();
    await flush();
    expect(backend.calls).toEqual(["connect 1"]);
    expect(find(root, ".toast").textContent).toBe("Blocked: an attempt just started — wait a moment (0:04 left)");
    backend.connectAnswer = blocked("A-1", "in_progress", "already in progress (connecting)", null);
    find<HTMLButtonElement>(row(1), "button.connect").click();
    await flush();
    expect(find(root, ".toast").textContent).toBe("already in progress (connecting)");
  });

  it("applies the events of one animation frame together, the latest per agent", async () => {
    frames.length = 0;
    const backend = new FakeBackend(snapshot([agent(1, "disconnected", { version: 1 }), agent(2, "connected", { version: 1 })]));
    await start(backend, true);
    const first = row(1);
    backend.emit({ type: "agent", agent: agent(1, "connecting", { version: 2 }) });
    backend.emit({ type: "agent", agent: agent(1, "qr_pending", { version: 3 }) });
    backend.emit({ type: "agent", agent: agent(2, "reconnecting", { version: 2 }) });
    backend.emit({ type: "agent", agent: agent(1, "connected", { version: 4 }) });
    // Nothing is drawn between frames, and one frame was asked for.
    expect([row(1).dataset.status, row(2).dataset.status]).toEqual(["disconnected", "connected"]);
    expect(frames.length).toBe(1);
    frames.shift()?.();
    expect(row(1)).toBe(first);
    expect([row(1).dataset.status, row(2).dataset.status]).toEqual(["connected", "reconnecting"]);
    expect(find(root, '.chip[data-status="connected"] .count').textContent).toBe("1");
    expect(find(root, '.chip[data-status="reconnecting"] .count').textContent).toBe("1");
    // A resync replaces what waits before it.
    backend.emit({ type: "agent", agent: agent(2, "connected", { version: 3 }) });
    backend.emit({ type: "resync", agents: [agent(1, "failed", { version: 9 })] });
    frames.shift()?.();
    expect(shown()).toEqual({ count: 1, ids: [1] });
    expect(row(1).dataset.status).toBe("failed");
  });

  it("filters by status and searches by name", async () => {
    const agents = [
      agent(1, "connected", { name: "Alice" }),
      agent(2, "failed", { name: "Bob" }),
      agent(3, "connected", { name: "alina" }),
    ];
    await start(new FakeBackend(snapshot(agents)));
    const search = find<HTMLInputElement>(root, "input.search");
    search.value = "ali";
    search.dispatchEvent(new Event("input"));
    expect(shown()).toEqual({ count: 2, ids: [1, 3] });
    find<HTMLButtonElement>(root, '.chip[data-status="failed"]').click();
    expect(shown()).toEqual({ count: 0, ids: [] });
    expect(find(root, ".empty").textContent).toContain("No agent matches");
  });

  it("holds only the rows on screen, whatever the fleet's size, one timer for all countdowns", async () => {
    const agents = Array.from({ length: 10_000 }, (_, i) =>
      agent(i + 1, "reconnecting", { retryAttempt: 1, nextRetryAt: NOW + 10_000 + i, reason: "timed out (408) — retry 1 of 5" }),
    );
    const backend = new FakeBackend(snapshot(agents));
    const app = await start(backend);
    const onScreen = Math.ceil(window.innerHeight / ROW_HEIGHT);
    const first = shown();
    expect(first.count).toBe(10_000);
    expect(first.ids[0]).toBe(1);
    expect(first.ids.length).toBeGreaterThanOrEqual(onScreen);
    expect(first.ids.length).toBeLessThanOrEqual(onScreen + 20);
    expect(find(root, "ul.rows").style.height).toBe(`${10_000 * ROW_HEIGHT}px`);
    expect(app.ticker.size).toBe(2); // the list and the detail panel share one ticker
    expect(vi.getTimerCount()).toBe(1);

    // Scrolled to agent 5,000: its neighbours are built, the first rows dropped, each at its place.
    const list = find(root, "section.list");
    list.scrollTop = 4_999 * ROW_HEIGHT;
    list.dispatchEvent(new Event("scroll"));
    const later = shown();
    expect(later.ids).toContain(5_000);
    expect(later.ids).not.toContain(1);
    expect(later.ids.length).toBe(first.ids.length + 8);
    expect(row(5_000).style.transform).toBe(`translateY(${4_999 * ROW_HEIGHT}px)`);
    expect(row(5_000).getAttribute("aria-posinset")).toBe("5000");
    expect(row(5_000).getAttribute("aria-setsize")).toBe("10000");
    // A change to an agent off screen costs no row; on screen, it updates its row in place.
    const before = row(5_000);
    backend.emit({ type: "agent", agent: agent(1, "connected", { version: 2 }) });
    expect(root.querySelector('li.row[data-id="1"]')).toBeNull();
    backend.emit({ type: "agent", agent: agent(5_000, "connected", { version: 2 }) });
    expect(row(5_000)).toBe(before);
    expect(before.dataset.status).toBe("connected");
  });

  it("keeps the list's order and the filter as agents change, rows in order in the page", async () => {
    const agents = Array.from({ length: 300 }, (_, i) => agent(i + 1, "connected", { version: 1 }));
    const backend = new FakeBackend(snapshot(agents));
    await start(backend);
    find<HTMLSelectElement>(root, "select.order").value = "attention";
    find<HTMLSelectElement>(root, "select.order").dispatchEvent(new Event("change"));
    // Agent 250 fails: it needs attention and moves to the top; it leaves when it is back.
    backend.emit({ type: "agent", agent: agent(250, "failed", { version: 2 }) });
    expect(shown().ids.slice(0, 3)).toEqual([250, 1, 2]);
    backend.emit({ type: "agent", agent: agent(250, "connected", { version: 3 }) });
    expect(shown().ids.slice(0, 2)).toEqual([1, 2]);
    // Filtered to connected: an agent that drops leaves the list, and comes back at its place.
    find<HTMLButtonElement>(root, '.chip[data-status="connected"]').click();
    backend.emit({ type: "agent", agent: agent(2, "reconnecting", { version: 2 }) });
    expect(shown().ids.slice(0, 2)).toEqual([1, 3]);
    expect(shown().count).toBe(299);
    backend.emit({ type: "agent", agent: agent(2, "connected", { version: 3 }) });
    expect(shown().ids.slice(0, 3)).toEqual([1, 2, 3]);
    backend.emit({ type: "removed", id: 1 });
    expect(shown()).toMatchObject({ count: 299 });
    expect(shown().ids[0]).toBe(2);
    const placed = [...root.querySelectorAll<HTMLElement>("li.row")].map((r) => Number(r.getAttribute("aria-posinset")));
    expect(placed).toEqual(placed.map((_, i) => i + 1));
  });

  it("tells screen readers, politely, the shown agent's new status and how many need attention, not every tick", async () => {
    const backend = new FakeBackend(
      snapshot([agent(1, "connected", { name: "Sales", version: 1 }), agent(2, "connected", { version: 1 })]),
    );
    await start(backend);
    const announcer = find<HTMLElement>(root, '.visually-hidden[aria-live="polite"]');
    expect(announcer.textContent).toBe("");
    row(1).click();
    backend.emit({ type: "agent", agent: agent(1, "reconnecting", { name: "Sales", nextRetryAt: NOW + 5_000, version: 2 }) });
    expect(announcer.textContent).toBe("Sales: Reconnecting");
    vi.advanceTimersByTime(3_000);
    expect(announcer.textContent).toBe("Sales: Reconnecting");
    // Another agent's change is not read out, unless it changes how many need attention.
    backend.emit({ type: "agent", agent: agent(2, "disconnected", { version: 2 }) });
    expect(announcer.textContent).toBe("Sales: Reconnecting");
    backend.emit({ type: "agent", agent: agent(2, "failed", { version: 3 }) });
    expect(announcer.textContent).toBe("1 agent needs attention");
  });

  it("sorts by name and by status, keeping each agent at its place as it changes", async () => {
    const names = ["beta", "Alpha", "agent 10", "agent 9", "Çelik"];
    const agents = names.map((name, i) => agent(i + 1, i % 2 === 0 ? "connected" : "failed", { name, version: 1 }));
    const backend = new FakeBackend(snapshot(agents));
    await start(backend);
    const order = find<HTMLSelectElement>(root, "select.order");
    const names_shown = () => shown().ids.map((id) => find(row(id), ".name").textContent);
    order.value = "name";
    order.dispatchEvent(new Event("change"));
    // Case and accents aside, numbers in names in their numeric order.
    expect(names_shown()).toEqual(["agent 9", "agent 10", "Alpha", "beta", "Çelik"]);
    backend.emit({ type: "agent", agent: agent(2, "failed", { name: "zulu", version: 2 }) });
    expect(names_shown()).toEqual(["agent 9", "agent 10", "beta", "Çelik", "zulu"]);
    order.value = "status";
    order.dispatchEvent(new Event("change"));
    // Connected before failed (the statuses' order), by name within each.
    expect(names_shown()).toEqual(["agent 10", "beta", "Çelik", "agent 9", "zulu"]);
    backend.emit({ type: "agent", agent: agent(3, "failed", { name: "agent 10", version: 2 }) });
    expect(names_shown()).toEqual(["beta", "Çelik", "agent 9", "agent 10", "zulu"]);
  });

  it("shows compact rows on demand, twice the agents on screen, and remembers the choice", async () => {
    const agents = Array.from({ length: 500 }, (_, i) => agent(i + 1, "connected"));
    await start(new FakeBackend(snapshot(agents)));
    const comfortable = shown().ids.length;
    const density = find<HTMLSelectElement>(root, "select.density");
    density.value = "compact";
    density.dispatchEvent(new Event("change"));
    expect(find(root, "ul.rows").classList.contains("compact")).toBe(true);
    expect(find(root, "ul.rows").style.height).toBe(`${500 * 30}px`);
    expect(row(3).style.transform).toBe("translateY(60px)");
    expect(shown().ids.length).toBeGreaterThan(comfortable * 1.5);
    find<HTMLSelectElement>(root, "select.order").value = "name";
    find<HTMLSelectElement>(root, "select.order").dispatchEvent(new Event("change"));
    // A new window (a restart) comes back as it was left.
    root.replaceChildren();
    await start(new FakeBackend(snapshot(agents)));
    expect(find<HTMLSelectElement>(root, "select.density").value).toBe("compact");
    expect(find<HTMLSelectElement>(root, "select.order").value).toBe("name");
    expect(find(root, "ul.rows").classList.contains("compact")).toBe(true);
    // Something unreadable in storage is the default, not an error.
    localStorage.setItem("switchboard.view", "{not json");
    root.replaceChildren();
    await start(new FakeBackend(snapshot(agents)));
    expect(find<HTMLSelectElement>(root, "select.density").value).toBe("comfortable");
    expect(find<HTMLSelectElement>(root, "select.order").value).toBe("added");
  });

  it("moves between rows with the keyboard and keeps the focused row while it scrolls away", async () => {
    const agents = Array.from({ length: 500 }, (_, i) => agent(i + 1, "connected"));
    await start(new FakeBackend(snapshot(agents)));
    const tabStops = () => [...root.querySelectorAll<HTMLElement>('li.row[tabindex="0"]')].map((r) => Number(r.dataset.id));
    expect(tabStops()).toEqual([1]);
    const key = (id: number, k: string) => row(id).dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    row(1).focus();
    key(1, "ArrowDown");
    expect(document.activeElement).toBe(row(2));
    expect(tabStops()).toEqual([2]);
    key(2, "End");
    expect(document.activeElement).toBe(row(500));
    expect(shown().ids).not.toContain(1);
    key(500, "Home");
    expect(document.activeElement).toBe(row(1));
    key(1, "PageDown");
    const paged = Number((document.activeElement as HTMLElement).dataset.id);
    expect(paged).toBeGreaterThan(5);
    // Scrolled far away with the wheel: the focused row stays in the page.
    const list = find(root, "section.list");
    list.scrollTop = 400 * ROW_HEIGHT;
    list.dispatchEvent(new Event("scroll"));
    expect(document.activeElement).toBe(row(paged));
    expect(shown().ids).toContain(401);
    key(paged, "Enter");
    expect(find(root, ".detail").textContent).toContain(`Agent ${paged}`);
  });
});

describe("dialogs and banners", () => {
  it("keeps keyboard focus inside a dialog and returns it to where it was when the dialog closes", async () => {
    await start(new FakeBackend(snapshot([])));
    const add = find<HTMLButtonElement>(root, "button.add");
    add.focus();
    add.click();
    const dialog = find<HTMLElement>(document, ".modal");
    const controls = [...dialog.querySelectorAll<HTMLElement>("input, button")].filter((el) => !(el as HTMLButtonElement).disabled);
    const [first, last] = [controls[0], controls[controls.length - 1]];
    expect(document.activeElement).toBe(find(dialog, "input.name-input"));
    const tab = (shiftKey: boolean) =>
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey, bubbles: true, cancelable: true }));
    last.focus();
    tab(false);
    expect(document.activeElement).toBe(first);
    tab(true);
    expect(document.activeElement).toBe(last);
    // Focus that got out (a click on the page behind) comes back in with Tab.
    add.focus();
    tab(false);
    expect(document.activeElement).toBe(first);
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(document.querySelector(".modal")).toBeNull();
    expect(document.activeElement).toBe(add);
  });

  it("shows the engine's validation error inline and keeps the dialog open", async () => {
    const backend = new FakeBackend(snapshot([]));
    backend.addError = { kind: "duplicate_name", message: 'an agent named "Alice" already exists (names are compared regardless of case)' };
    await start(backend);
    find<HTMLButtonElement>(root, "button.add").click();
    const input = find<HTMLInputElement>(document, ".modal input.name-input");
    input.value = "alice";
    find<HTMLFormElement>(document, ".modal form").dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    const error = find<HTMLElement>(document, ".modal .error");
    expect(error.hidden).toBe(false);
    expect(error.textContent).toContain("already exists");
    expect(backend.calls).toEqual(["add alice"]);
  });

  it("edits settings in seconds and shows the engine's range error inline", async () => {
    const backend = new FakeBackend(snapshot([]));
    await start(backend);
    find<HTMLButtonElement>(root, "button.settings-button").click();
    await flush();
    const auth = find<HTMLInputElement>(document, '.modal input[name="auth_cooldown_ms"]');
    expect(auth.value).toBe("300");
    // H-5's retention is read and shown in days.
    expect(find<HTMLInputElement>(document, '.modal input[name="history_days"]').value).toBe("90");
    expect(find(document, ".modal form").textContent).toContain("1 – 3650 days");
    auth.value = "60";
    find<HTMLInputElement>(document, '.modal input[name="max_retries"]').value = "0";
    find<HTMLFormElement>(document, ".modal form").dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    expect(backend.calls).toEqual(['settings [{"key":"auth_cooldown_ms","value":60000},{"key":"max_retries","value":0}]']);
    expect(find(document, ".modal .error").textContent).toContain("between 1 and 100");
    expect(document.querySelector(".modal")).not.toBeNull();
  });

  it("shows the About line, and turns start at login and the close choice on at once", async () => {
    const backend = new FakeBackend(snapshot([]));
    await start(backend);
    find<HTMLButtonElement>(root, "button.settings-button").click();
    await flush();
    expect(find(document, ".modal .about").textContent).toBe("Switchboard 0.1.0 (whatsapp-rust 0.7.0)");
    const autostart = find<HTMLInputElement>(document, '.modal input[name="autostart"]');
    expect(autostart.checked).toBe(false);
    autostart.checked = true;
    autostart.dispatchEvent(new Event("change"));
    await flush();
    expect(backend.calls).toEqual(["autostart true"]);
    expect(autostart.checked).toBe(true);
    const closeAction = find<HTMLSelectElement>(document, '.modal select[name="close_action"]');
    expect(closeAction.value).toBe("ask");
    expect(closeAction.options[0].textContent).toBe("Ask whether to quit");
    closeAction.value = "keep_running";
    closeAction.dispatchEvent(new Event("change"));
    await flush();
    expect(backend.calls).toEqual(["autostart true", "close action keep_running"]);
  });

  it("asks whether to quit when the window is closed without a tray, and remembers if asked", async () => {
    const backend = new FakeBackend(snapshot([]));
    await start(backend);
    backend.emit({ type: "close_asked" });
    await flush();
    expect(find(document, ".modal h2").textContent).toBe("Quit Switchboard?");
    find<HTMLInputElement>(document, '.modal input[name="remember"]').checked = true;
    const keep = [...document.querySelectorAll<HTMLButtonElement>(".modal button")].find((b) => b.textContent === "Keep running");
    keep?.click();
    await flush();
    expect(backend.calls).toEqual(["answer close keep remember"]);
    expect(document.querySelector(".modal")).toBeNull();
  });

  it("quits on Ctrl+Q", async () => {
    const backend = new FakeBackend(snapshot([]));
    await start(backend);
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "q", ctrlKey: true }));
    await flush();
    expect(backend.calls).toEqual(["quit"]);
  });

  it("shows a fatal notice as a banner naming the agent (L-3)", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "failed")]));
    await start(backend);
    backend.emit({
      type: "notice",
      agentId: 1,
      title: "Sales: needs attention",
      body: "Sales: banned by WhatsApp (403) — this number is restricted by WhatsApp",
    });
    const banner = find(root, ".banner.alert");
    expect(banner.textContent).toContain("Sales: banned by WhatsApp (403)");
    find<HTMLButtonElement>(banner, "button.dismiss").click();
    expect(root.querySelector(".banner.alert")).toBeNull();
  });

  it("tells many agents' fatal notices as one banner that shows exactly them (F-4)", async () => {
    const agents = Array.from({ length: 40 }, (_, i) => agent(i + 1, i < 30 ? "failed" : "connected"));
    const backend = new FakeBackend(snapshot(agents));
    await start(backend);
    const failed = agents.slice(0, 30).map((a) => a.id);
    backend.emit({
      type: "group_notice",
      title: "30 agents need attention",
      body: "20 banned by WhatsApp (403), 10 session not found (404)",
      agentIds: failed,
    });
    const banners = root.querySelectorAll(".banner.alert");
    expect(banners.length).toBe(1);
    expect(banners[0].textContent).toContain("30 agents need attention: 20 banned by WhatsApp (403), 10 session not found (404)");
    expect(shown().count).toBe(40);
    const show = find<HTMLButtonElement>(banners[0], "button.show");
    show.click();
    expect(shown().count).toBe(30);
    expect(shown().ids).toEqual(failed.slice(0, shown().ids.length));
    expect(show.textContent).toBe("Show all agents");
    show.click();
    expect(shown().count).toBe(40);
    show.click();
    find<HTMLButtonElement>(banners[0], "button.dismiss").click();
    expect(root.querySelector(".banner.alert")).toBeNull();
    expect(shown().count).toBe(40);
  });

  it("says while changes cannot be saved, and stops saying it when they can (P-1)", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected")]));
    await start(backend);
    const banner = () => find<HTMLElement>(root, ".banner.storage");
    expect(banner().hidden).toBe(true);
    backend.emit({ type: "storage_fault", message: "database error: database or disk is full" });
    expect(banner().hidden).toBe(false);
    expect(banner().textContent).toContain("database or disk is full");
    expect(banner().querySelector("button.dismiss")).toBeNull();
    backend.emit({ type: "storage_fault", message: null });
    expect(banner().hidden).toBe(true);
    expect(row(1).dataset.status).toBe("connected");
  });

  it("warns about unofficial clients in real mode, and shows DEMO in demo mode", async () => {
    await start(new FakeBackend(snapshot([agent(1, "disconnected")], "real")));
    expect(find(root, ".banner.info").textContent).toContain("not an official WhatsApp client");
    expect(find<HTMLButtonElement>(row(1), "button.connect").disabled).toBe(false);
    expect(root.querySelector(".demo-label")).toBeNull();
    root = document.createElement("div");
    await start(new FakeBackend(snapshot([], "demo")));
    expect(find(root, ".demo-label").textContent).toBe("DEMO");
  });

  it("shows a startup failure instead of the panel", async () => {
    const snap = snapshot([]);
    snap.startupError = { kind: "schema_too_new", message: "the database was written by a newer Switchboard" };
    await start(new FakeBackend(snap));
    expect(find(root, ".fatal").textContent).toContain("newer Switchboard");
  });
});

describe("the detail panel", () => {
  it("shows the QR, its expiry, and the pairing code form (Q-1, Q-4)", async () => {
    const pending = agent(1, "qr_pending", {
      qrKey: "AAAA",
      qrExpiresAt: NOW + 150_000,
      pairCode: "ABCD2345",
      version: 1,
    });
    const backend = new FakeBackend(snapshot([pending]));
    await start(backend);
    row(1).click();
    await flush();
    const img = find<HTMLImageElement>(root, ".qr-image");
    // Agent events name the QR; the panel asks for its image, once per QR.
    expect(img.getAttribute("src")).toBe("data:image/png;base64,AAAA");
    expect(backend.calls).toEqual(["qr 1"]);
    expect(find(root, ".qr-expiry").textContent).toBe("expires in 2:30");
    expect(find(root, ".pair-code strong").textContent).toBe("ABCD2345");
    // A rotated code changes the image's source, not the image.
    backend.emit({ type: "agent", agent: { ...pending, qrKey: "BBBB", version: 2 } });
    backend.emit({ type: "agent", agent: { ...pending, qrKey: "BBBB", pairCode: "ABCD2345", version: 3 } });
    await flush();
    expect(root.querySelector(".qr-image")).toBe(img);
    expect(img.getAttribute("src")).toBe("data:image/png;base64,BBBB");
    expect(backend.calls).toEqual(["qr 1", "qr 1"]);
  });

  it("keeps the focus, the typed number and the caret across QR rotations, a pair code and a status change", async () => {
    const { pending, backend, input } = await selectPairingAgent();
    const badge = find<HTMLElement>(root, ".detail .badge");
    input.focus();
    input.value = "+49 151 23";
    input.setSelectionRange(4, 7);
    const unchanged = () => {
      expect(root.querySelector("input.pair-phone")).toBe(input);
      expect(document.activeElement).toBe(input);
      expect(input.value).toBe("+49 151 23");
      expect([input.selectionStart, input.selectionEnd]).toEqual([4, 7]);
    };
    backend.emit({ type: "agent", agent: { ...pending, qrKey: "BBBB", version: 2 } });
    unchanged();
    backend.emit({ type: "agent", agent: { ...pending, qrKey: "BBBB", pairCode: "ABCD2345", version: 3 } });
    unchanged();
    expect(find(root, ".pair-code strong").textContent).toBe("ABCD2345");
    const connecting = {
      ...pending,
      status: "connecting",
      reason: "linking the scanned device",
      qrKey: "CCCC",
      version: 4,
    } as const;
    backend.emit({ type: "agent", agent: connecting });
    unchanged();
    expect(root.querySelector(".detail .badge")).toBe(badge);
    expect(badge.textContent).toBe("Connecting");
    expect(find(root, ".detail .line").textContent).toBe("linking the scanned device");
    // Ticks redraw the countdowns, never the form.
    vi.advanceTimersByTime(2_000);
    unchanged();
  });

  it("hides the QR and its form when the QR goes, and keeps the typed number for the next QR", async () => {
    const { pending, backend, input } = await selectPairingAgent();
    input.value = "+49 151";
    backend.emit({ type: "agent", agent: { ...pending, status: "disconnected", qrKey: null, qrExpiresAt: null, version: 2 } });
    expect(find<HTMLElement>(root, ".detail .qr").hidden).toBe(true);
    expect(find<HTMLElement>(root, ".detail form.pairing").hidden).toBe(true);
    backend.emit({ type: "agent", agent: { ...pending, qrKey: "BBBB", version: 3 } });
    expect(find<HTMLElement>(root, ".detail form.pairing").hidden).toBe(false);
    expect(root.querySelector("input.pair-phone")).toBe(input);
    expect(input.value).toBe("+49 151");
  });

  it("starts afresh for another agent", async () => {
    const qr = { qrKey: "AAAA", qrExpiresAt: NOW + 150_000 };
    await start(new FakeBackend(snapshot([agent(1, "qr_pending", qr), agent(2, "qr_pending", { ...qr, name: "Second" })])));
    row(1).click();
    find<HTMLInputElement>(root, "input.pair-phone").value = "+49 151";
    row(2).click();
    expect(find(root, ".detail h2").textContent).toBe("Second");
    expect(find<HTMLInputElement>(root, "input.pair-phone").value).toBe("");
  });

  it("counts Connect's tooltip down live, and sends clicks for the agent shown", async () => {
    const reason = "Blocked: banned by WhatsApp — wait for the ban to end";
    const until = NOW + 3_725_000;
    const banned = agent(1, "failed", {
      reason: "temporarily banned by WhatsApp (403) — Connect waits for the ban to end",
      lastCode: 403,
      bannedUntil: until,
      connect: blocked("A-4", "ban", reason, until),
      version: 1,
    });
    const backend = new FakeBackend(snapshot([banned]));
    await start(backend);
    row(1).click();
    const button = find<HTMLButtonElement>(root, ".detail button.connect");
    expect(button.disabled).toBe(true);
    expect(button.title).toBe(`${reason} (1:02:05 left)`);
    expect(find(root, ".detail .line").textContent).toBe(
      "Connect blocked — ban ends in 1:02:05 · temporarily banned by WhatsApp (403) — Connect waits for the ban to end",
    );
    vi.advanceTimersByTime(65_000);
    expect(button.title).toBe(`${reason} (1:01:00 left)`);
    const free = {
      ...banned,
      connect: { allowed: true, rule: "A-4", block: null, reason: "the ban is over", until: null },
      version: 2,
    } as const;
    backend.emit({ type: "agent", agent: free });
    expect(root.querySelector(".detail button.connect")).toBe(button);
    expect(button.disabled).toBe(false);
    expect(button.title).toBe("Connect");
    button.click();
    await flush();
    expect(backend.calls).toEqual(["connect 1"]);
  });

  it("shows the timeline, with a question mark for a rule this version does not know", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "conflict", { version: 1 })]));
    backend.historyEntries = [
      { at: NOW, from: "connected", to: "conflict", code: 440, reason: "logged in elsewhere (440)", trigger: "connector", rule: "A-3" },
      { at: NOW, from: "disconnected", to: "connecting", code: null, reason: "from another version", trigger: "startup", rule: null },
    ];
    await start(backend);
    row(1).click();
    vi.advanceTimersByTime(100);
    await flush();
    const metas = Array.from(root.querySelectorAll(".history .meta"), (el) => el.textContent);
    expect(metas).toEqual(["connector · A-3", "startup · ?"]);
  });

  it("shows the agent's health, with the ban-risk warning when over (H-1, H-3)", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected", { version: 1 })]));
    backend.healthAnswer = health({
      disconnects: 2,
      medianRecoveryMs: 4_000,
      banRisk: { pairings: 4, connects: 4, pairingsOver: true, connectsOver: false },
    });
    await start(backend);
    row(1).click();
    vi.advanceTimersByTime(100);
    await flush();
    const lines = Array.from(root.querySelectorAll(".detail .health li"), (el) => [el.className, el.textContent]);
    expect(lines).toEqual([
      ["figure", "Connected 100 % of the last 24 h · 100 % of 7 days"],
      ["figure", "2 disconnects in 24 h"],
      ["figure", "Recovers in 4 s (median, 7 days)"],
      ["figure", "Connected now"],
      ["warning", "4 new links in 24 h — WhatsApp may flag this number"],
    ]);
    expect(backend.healthAsked).toEqual([1]);
    // Shares drift while nothing changes: asked again a minute later.
    vi.advanceTimersByTime(59_000);
    await flush();
    expect(backend.healthAsked).toEqual([1]);
    vi.advanceTimersByTime(1_250); // the next tick of the 250 ms ticker past the minute
    await flush();
    expect(backend.healthAsked).toEqual([1, 1]);
  });

  it("offers the simulate actions in demo mode", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected")]));
    await start(backend);
    row(1).click();
    find<HTMLButtonElement>(root, "button.sim-drop").click();
    await flush();
    expect(backend.calls).toEqual(['simulate 1 {"action":"drop","code":401}']);
  });
});

describe("outages (F-2)", () => {
  const outage = {
    since: NOW - 90_000,
    cause: "40 of 52 linked agents lost their connection within 1 min",
    probes: 3,
    nextProbeAt: NOW + 12_000,
    probing: null,
    paused: false,
  };

  it("shows one banner with the cause, the agents waiting and the next check counting down, and Try now", async () => {
    const held = agent(1, "reconnecting", {
      heldSince: NOW - 60_000,
      reason: "timed out (408) — waiting for WhatsApp to be reachable again (outage)",
    });
    const backend = new FakeBackend({ ...snapshot([held, agent(2, "connected")]), outage });
    await start(backend);
    const banner = find(document.body, ".banner.outage");
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toContain("40 of 52 linked agents lost their connection within 1 min");
    expect(banner.textContent).toContain("1 agent waits for it; next check in 0:12");
    vi.advanceTimersByTime(2_000);
    expect(banner.textContent).toContain("next check in 0:10");
    find<HTMLButtonElement>(banner, "button.try-now").click();
    expect(backend.calls).toContain("try now");

    // A second agent drops: the count follows.
    backend.emit({ type: "agent", agent: agent(2, "reconnecting", { heldSince: NOW, version: 2 }) });
    expect(banner.textContent).toContain("2 agents wait");
    backend.emit({ type: "outage", outage: { ...outage, nextProbeAt: null, probing: 1 }, outagesLastWeek: 2 });
    expect(find(document.body, ".outages-week").textContent).toBe("2 outages in 7 days");
    expect(banner.textContent).toContain("checking now…");
    expect(find<HTMLButtonElement>(banner, "button.try-now").disabled).toBe(true);
    backend.emit({ type: "outage", outage: null, outagesLastWeek: 2 });
    expect(banner.hidden).toBe(true);
  });

  it("tells staff's pause in its own words, with Resume instead of Try now", async () => {
    const held = agent(1, "reconnecting", { heldSince: NOW - 60_000 });
    const paused = { ...outage, cause: "automatic reconnects paused by staff", nextProbeAt: null, paused: true };
    const backend = new FakeBackend({ ...snapshot([held]), outage: paused });
    await start(backend);
    const banner = find(document.body, ".banner.outage");
    expect(banner.textContent).toContain("Automatic reconnects paused since");
    expect(banner.textContent).toContain("1 agent waits until you resume them.");
    expect(banner.textContent).not.toContain("unreachable");
    expect(find<HTMLButtonElement>(banner, "button.try-now").hidden).toBe(true);
    const resume = find<HTMLButtonElement>(banner, "button.resume");
    expect(resume.hidden).toBe(false);
    resume.click();
    expect(backend.calls).toContain("resume");
  });

  it("offers a simulated outage in demo mode only", async () => {
    const backend = new FakeBackend(snapshot([]));
    await start(backend);
    find<HTMLButtonElement>(document.body, "button.simulate-outage").click();
    const input = find<HTMLInputElement>(document.body, ".number-input");
    input.value = "10";
    find<HTMLFormElement>(document.body, ".modal form").requestSubmit();
    await vi.waitFor(() => expect(backend.calls).toContain("unreachable 10"));
    document.body.replaceChildren();
    await start(new FakeBackend(snapshot([], "real")));
    expect(document.querySelector("button.simulate-outage")).toBeNull();
  });
});

describe("health marks (H-2, H-3)", () => {
  it("marks a flapping agent and one at ban risk beside the status, and Connect asks first, naming the count", async () => {
    const risky = agent(1, "disconnected", { banRisk: { pairings: 4, connects: 2, pairingsOver: true, connectsOver: false } });
    const backend = new FakeBackend(snapshot([risky, agent(2, "reconnecting", { flapping: true })]));
    await start(backend);
    expect(find(row(1), ".mark.ban-risk").hidden).toBe(false);
    expect(find(row(1), ".mark.flapping").hidden).toBe(true);
    expect(find(row(2), ".mark.flapping").hidden).toBe(false);
    expect(find(row(2), ".mark.ban-risk").hidden).toBe(true);
    find<HTMLButtonElement>(row(1), "button.connect").click();
    const dialog = find(document.body, ".modal");
    expect(dialog.textContent).toContain("4 new links in 24 h — WhatsApp may flag this number");
    expect(backend.calls.filter((c) => c.startsWith("connect"))).toEqual([]);
    find<HTMLButtonElement>(dialog, "button.danger").click();
    await vi.waitFor(() => expect(backend.calls).toContain("connect 1"));
  });
});

describe("the fleet summary (H-4)", () => {
  it("counts the agents that need attention, filters to them, and sorts them first, most urgent first", async () => {
    const agents = [
      agent(1, "connected"),
      agent(2, "connected", { banRisk: { pairings: 4, connects: 0, pairingsOver: true, connectsOver: false } }),
      agent(3, "failed"),
      agent(4, "reconnecting", { flapping: true }),
      agent(5, "conflict"),
    ];
    await start(new FakeBackend({ ...snapshot(agents), outagesLastWeek: 1 }));
    expect(find(document.body, ".chip.attention .count").textContent).toBe("4");
    expect(find(document.body, ".outages-week").textContent).toBe("1 outage in 7 days");
    const order = find<HTMLSelectElement>(document.body, "select.order");
    order.value = "attention";
    order.dispatchEvent(new Event("change"));
    const ids = () => [...document.querySelectorAll<HTMLElement>("li.row")].map((r) => Number(r.dataset.id));
    expect(ids()).toEqual([3, 5, 4, 2, 1]);
    find<HTMLButtonElement>(document.body, ".chip.attention").click();
    const shown = [...document.querySelectorAll<HTMLElement>("li.row")].filter((r) => !r.hidden).map((r) => Number(r.dataset.id));
    expect(shown).toEqual([3, 5, 4, 2]);
  });
});
