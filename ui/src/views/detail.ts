// The detail panel of the selected agent: QR, pairing by phone number,
// demo actions, its health, and the timeline. Built once per selected agent,
// then updated in place like the rows: a QR rotation every few seconds must
// not take the focus, the caret or a half-typed phone number away from
// whoever is typing.

import type { Backend } from "../api";
import { asIpcError } from "../api";
import type { AgentDto, HealthDto, HistoryDto } from "../bindings";
import { blockedText, formatCountdown, formatTime, healthLines, STATUS_LABELS, statusLine } from "../format";
import type { Ticker } from "../ticker";
import { h, setAttr, setHidden, setText } from "./dom";

/** The close codes of RULES.md §2 that demo mode can simulate, with their names. */
export const SIMULATED_CODES: [number, string][] = [
  [401, "logged out"],
  [440, "logged in elsewhere"],
  [403, "banned"],
  [404, "session not found"],
  [411, "multi-device mismatch"],
  [500, "session corrupted"],
  [408, "timed out"],
  [428, "connection closed"],
  [503, "unavailable"],
  [515, "restart required"],
];

export interface DetailHost {
  backend: Backend;
  demo: boolean;
  toast(message: string): void;
  rename(agent: AgentDto): void;
  /** Saves the agent's timeline as CSV where the person chooses (B-3). */
  exportTimeline(agent: AgentDto): void;
  remove(agent: AgentDto): void;
  connect(id: number): void;
  disconnect(id: number): void;
}

const HISTORY_LIMIT = 200;

/** Shares of time drift while nothing changes: the health is fetched again at least this often. */
const HEALTH_REFRESH_MS = 60_000;

/** One agent's timeline as last fetched; a new object on every fetch. */
interface HistoryCache {
  id: number;
  entries: HistoryDto[];
  error?: string;
}

/** One agent's health as last fetched. */
interface HealthCache {
  id: number;
  health: HealthDto | null;
  error?: string;
}

function hint(): HTMLElement {
  return h("p", { class: "hint" }, "Select an agent to see its QR code and timeline.");
}

export class DetailPanel {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private view: AgentDetail | null = null;
  private historyFor: { id: number; version: number } | null = null;
  private historyTimer: ReturnType<typeof setTimeout> | null = null;
  private cache: HistoryCache | null = null;
  private health: HealthCache | null = null;
  private healthFetchedAt = 0;

  constructor(
    private readonly host: DetailHost,
    private readonly ticker: Ticker,
    private readonly clock: () => number = Date.now,
  ) {
    this.body = h("div", { class: "detail-body" }, hint());
    this.el = h("aside", { class: "detail", attrs: { "aria-label": "Agent details" } }, this.body);
    this.ticker.add(this.onTick);
  }

  private readonly onTick = (now: number): void => {
    this.view?.tick(now);
    if (this.view && this.historyTimer === null && now - this.healthFetchedAt >= HEALTH_REFRESH_MS) void this.fetchHealth(this.view.id);
  };

  get selectedId(): number | null {
    return this.view?.id ?? null;
  }

  show(agent: AgentDto | null): void {
    if (!agent) {
      this.view = null;
      this.historyFor = null;
      this.body.replaceChildren(hint());
      return;
    }
    if (this.view?.id === agent.id) {
      this.view.update(agent);
    } else {
      // Another agent: nothing typed belongs to it, so build its parts afresh.
      this.view = new AgentDetail(agent, this.host);
      this.body.replaceChildren(...this.view.nodes);
    }
    this.view.tick(this.clock());
    // Keep showing the last timeline and health of this agent until the refresh arrives.
    this.fillHistory();
    this.fillHealth();
    this.scheduleHistory(agent);
  }

  /** Refreshes the timeline when the agent changed, at most ten times a second. */
  private scheduleHistory(agent: AgentDto): void {
    if (this.historyFor && this.historyFor.id === agent.id && this.historyFor.version === agent.version) return;
    this.historyFor = { id: agent.id, version: agent.version };
    if (this.historyTimer !== null) return;
    this.historyTimer = setTimeout(async () => {
      this.historyTimer = null;
      const id = this.view?.id;
      if (id === undefined) return;
      void this.fetchHealth(id);
      try {
        this.cache = { id, entries: await this.host.backend.history(id, HISTORY_LIMIT) };
      } catch (err) {
        this.cache = { id, entries: [], error: asIpcError(err).message };
      }
      this.fillHistory();
    }, 100);
  }

  private fillHistory(): void {
    if (this.view && this.cache && this.cache.id === this.view.id) this.view.showHistory(this.cache);
  }

  private async fetchHealth(id: number): Promise<void> {
    this.healthFetchedAt = this.clock();
    let fetched: HealthCache;
    try {
      fetched = { id, health: await this.host.backend.agentHealth(id) };
    } catch (err) {
      fetched = { id, health: null, error: asIpcError(err).message };
    }
    // An answer for an agent no longer shown must not replace the one shown.
    if (this.view?.id !== id) return;
    this.health = fetched;
    this.fillHealth();
  }

  private fillHealth(): void {
    if (this.view && this.health && this.health.id === this.view.id) this.view.showHealth(this.health, this.clock());
  }
}

/** The panel's parts for one agent: built once, then only what changed is written. */
class AgentDetail {
  /** The panel's children, in order. */
  readonly nodes: HTMLElement[];
  private agent: AgentDto;
  private readonly name = h("h2", { class: "name" });
  private readonly badge = h("span", { class: "badge" });
  private readonly phone = h("p", { class: "phone" });
  private readonly line = h("p", { class: "line" });
  private readonly connectButton: HTMLButtonElement;
  private readonly disconnectButton: HTMLButtonElement;
  private readonly qr: HTMLElement;
  private readonly qrImage = h("img", { class: "qr-image", attrs: { alt: "QR code to link this agent", width: "264", height: "264" } });
  private readonly qrExpiry = h("span", { class: "qr-expiry" });
  /** The QR whose image was last asked for. */
  private qrAsked: string | null = null;
  private readonly pairing: HTMLFormElement;
  private readonly pairCode: HTMLElement;
  private readonly pairCodeValue = h("strong", {});
  /** What the person does when WhatsApp asks for a passkey. */
  private readonly passkey: HTMLElement;
  private readonly passkeyCode = h("p", { class: "passkey-code", hidden: true });
  private readonly history = h("ol", { class: "history" }, h("li", { class: "hint" }, "Loading…"));
  private readonly health = h("ul", { class: "health" }, h("li", { class: "hint" }, "Loading…"));
  /** The timeline on screen, so an unchanged one is not redrawn. */
  private shownHistory: HistoryCache | null = null;

  constructor(
    agent: AgentDto,
    private readonly host: DetailHost,
  ) {
    this.agent = agent;
    // The handlers read `this.agent`, so they act on the latest version.
    this.connectButton = h("button", { type: "button", class: "connect", onclick: () => this.host.connect(this.agent.id) }, "Connect");
    this.disconnectButton = h(
      "button",
      { type: "button", class: "disconnect", onclick: () => this.host.disconnect(this.agent.id) },
      "Disconnect",
    );
    this.qr = h(
      "section",
      { class: "qr" },
      h("h3", {}, "Scan with WhatsApp → Linked devices → Link a device"),
      this.qrImage,
      this.qrExpiry,
    );
    this.pairCode = h("p", { class: "pair-code", hidden: true }, "Enter this code on the phone: ", this.pairCodeValue);
    this.pairing = this.pairingForm();
    this.passkey = h(
      "section",
      { class: "passkey", role: "note", hidden: true },
      h("h3", {}, "WhatsApp asks for a passkey"),
      h(
        "p",
        {},
        "WhatsApp wants this account to confirm the new link with a passkey. A passkey can only be confirmed on WhatsApp's own web page, so Switchboard cannot finish this link.",
      ),
      h(
        "p",
        {},
        "On the phone, cancel the request. Then try linking by phone number instead (Connect, then “Or link with a phone number”). If WhatsApp asks for a passkey there too, link the account once in WhatsApp Web in a browser, where the passkey can be confirmed, and try again here.",
      ),
      this.passkeyCode,
    );
    this.nodes = [
      h("header", {}, this.name, this.badge),
      this.phone,
      this.line,
      h(
        "div",
        { class: "buttons" },
        this.connectButton,
        this.disconnectButton,
        h("button", { type: "button", class: "rename", onclick: () => this.host.rename(this.agent) }, "Rename"),
        h("button", { type: "button", class: "remove danger", onclick: () => this.host.remove(this.agent) }, "Remove"),
      ),
      this.qr,
      this.pairing,
      this.passkey,
    ];
    if (this.host.demo) this.nodes.push(this.simulateActions());
    this.nodes.push(h("section", { class: "health-figures" }, h("h3", {}, "Health"), this.health));
    const exportTimeline = h(
      "button",
      { type: "button", class: "export-timeline", onclick: () => this.host.exportTimeline(this.agent) },
      "Export CSV…",
    );
    this.nodes.push(
      h("section", { class: "timeline" }, h("div", { class: "timeline-head" }, h("h3", {}, "Timeline"), exportTimeline), this.history),
    );
    this.update(agent);
  }

  get id(): number {
    return this.agent.id;
  }

  /** Writes what differs from the nodes; the time-dependent parts are left to tick(). */
  update(agent: AgentDto): void {
    this.agent = agent;
    setText(this.name, agent.name);
    setAttr(this.name, "title", agent.name);
    setAttr(this.badge, "class", `badge status-${agent.status}`);
    setText(this.badge, STATUS_LABELS[agent.status]);
    setText(this.phone, agent.phone ? `Linked number: ${agent.phone}` : "No phone linked yet");
    // Connect follows the engine's decision, never a guess of the UI's own.
    this.connectButton.disabled = !agent.connect.allowed;
    this.disconnectButton.disabled = agent.status === "disconnected";
    // The QR and the form to link by phone number show while there is a QR.
    setHidden(this.qr, agent.qrKey === null);
    setHidden(this.pairing, agent.qrKey === null);
    if (agent.qrKey !== this.qrAsked) this.loadQr(agent.qrKey);
    setHidden(this.passkey, agent.passkey === null);
    const code = agent.passkey?.code ?? null;
    setHidden(this.passkeyCode, code === null);
    setText(this.passkeyCode, code === null ? "" : `Code WhatsApp sent for this link: ${code}`);
    setHidden(this.pairCode, agent.pairCode === null);
    setText(this.pairCodeValue, agent.pairCode ?? "");
  }

  /**
   * Asks for the image of the QR `key` names: agent events carry only the
   * key, so a QR's picture crosses IPC once, and only to the panel showing it.
   * Until it comes the previous QR stays (it was valid a moment ago).
   */
  private loadQr(key: string | null): void {
    this.qrAsked = key;
    if (key === null) {
      setAttr(this.qrImage, "src", null);
      return;
    }
    this.host.backend.qrImage(this.agent.id).then(
      (image) => {
        // A newer QR was asked for meanwhile: its answer draws it.
        if (this.qrAsked === key) setAttr(this.qrImage, "src", image?.png ?? null);
      },
      (err) => this.host.toast(`The QR code could not be shown: ${asIpcError(err).message}`),
    );
  }

  /** Redraws the countdowns: the status line, the QR expiry and Connect's tooltip. */
  tick(now: number): void {
    const agent = this.agent;
    setText(this.line, statusLine(agent, now));
    setText(this.qrExpiry, agent.qrExpiresAt === null ? "" : `expires in ${formatCountdown(agent.qrExpiresAt - now)}`);
    setAttr(this.connectButton, "title", blockedText(agent.connect, now) ?? "Connect");
  }

  showHealth(cache: HealthCache, now: number): void {
    if (cache.health === null) {
      this.health.replaceChildren(h("li", { class: "error" }, cache.error ?? ""));
      return;
    }
    const lines = healthLines(cache.health, this.agent.status === "connected", now);
    this.health.replaceChildren(...lines.map((l) => h("li", { class: l.warning ? "warning" : "figure" }, l.text)));
  }

  showHistory(cache: HistoryCache): void {
    if (cache === this.shownHistory) return;
    this.shownHistory = cache;
    if (cache.error) {
      this.history.replaceChildren(h("li", { class: "error" }, cache.error));
      return;
    }
    this.history.replaceChildren(
      ...cache.entries.map((e) =>
        h(
          "li",
          { class: e.from === e.to ? "refusal" : "change" },
          h("time", {}, formatTime(e.at)),
          h(
            "span",
            { class: "move" },
            e.from === e.to ? `${STATUS_LABELS[e.from]} (unchanged)` : `${STATUS_LABELS[e.from]} → ${STATUS_LABELS[e.to]}`,
          ),
          e.code !== null ? h("span", { class: "code" }, String(e.code)) : null,
          h("span", { class: "reason" }, e.reason),
          // A row written by another version may name a rule this one does not know.
          h("span", { class: "meta" }, `${e.trigger} · ${e.rule ?? "?"}`),
        ),
      ),
    );
  }

  private pairingForm(): HTMLFormElement {
    const input = h("input", {
      class: "pair-phone",
      attrs: { type: "tel", placeholder: "+49 151 2345678", "aria-label": "Phone number with country code" },
    });
    const error = h("p", { class: "error", hidden: true });
    const form = h(
      "form",
      { class: "pairing", hidden: true },
      h("h3", {}, "Or link with a phone number"),
      h("div", { class: "inline" }, input, h("button", { type: "submit" }, "Get code")),
      this.pairCode,
      error,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await this.host.backend.requestPairCode(this.agent.id, input.value);
        error.hidden = true;
      } catch (err) {
        error.hidden = false;
        error.textContent = asIpcError(err).message;
      }
    });
    return form;
  }

  private simulateActions(): HTMLElement {
    const select = h("select", { class: "sim-code", attrs: { "aria-label": "Close code" } });
    for (const [code, name] of SIMULATED_CODES) select.append(h("option", { attrs: { value: String(code) } }, `${code} ${name}`));
    const act = (action: Parameters<Backend["simulate"]>[1]) => async () => {
      try {
        await this.host.backend.simulate(this.agent.id, action);
      } catch (err) {
        this.host.toast(asIpcError(err).message);
      }
    };
    return h(
      "section",
      { class: "simulate" },
      h("h3", {}, "Simulate (demo)"),
      h(
        "div",
        { class: "inline" },
        h("button", { type: "button", class: "sim-scan", onclick: act({ action: "scan" }) }, "Scan the QR"),
        select,
        h("button", { type: "button", class: "sim-drop", onclick: () => act({ action: "drop", code: Number(select.value) })() }, "Drop"),
        h("button", { type: "button", class: "sim-silent", onclick: act({ action: "silent" }) }, "Go silent"),
        h("button", { type: "button", class: "sim-passkey", onclick: act({ action: "passkey" }) }, "Ask for a passkey"),
      ),
    );
  }
}
