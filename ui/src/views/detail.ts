// The detail panel of the selected agent: QR, pairing by phone number,
// demo actions, and the timeline.

import type { Backend } from "../api";
import { asIpcError } from "../api";
import type { AgentDto, HistoryDto } from "../bindings";
import { STATUS_LABELS, blockedText, formatCountdown, formatTime, statusLine } from "../format";
import type { Ticker } from "../ticker";
import { h, setAttr, setText } from "./dom";

/** The close codes of SPEC §2 that demo mode can simulate, with their names. */
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
  remove(agent: AgentDto): void;
  connect(id: number): void;
  disconnect(id: number): void;
}

const HISTORY_LIMIT = 200;

export class DetailPanel {
  readonly el: HTMLElement;
  private agent: AgentDto | null = null;
  private readonly body: HTMLElement;
  private historyFor: { id: number; version: number } | null = null;
  private historyTimer: ReturnType<typeof setTimeout> | null = null;
  private qrCountdown: HTMLElement | null = null;
  private line: HTMLElement | null = null;
  private connectButton: HTMLButtonElement | null = null;

  constructor(
    private readonly host: DetailHost,
    private readonly ticker: Ticker,
  ) {
    this.body = h("div", { class: "detail-body" }, h("p", { class: "hint" }, "Select an agent to see its QR code and timeline."));
    this.el = h("aside", { class: "detail", attrs: { "aria-label": "Agent details" } }, this.body);
    this.ticker.add(this.onTick);
  }

  private readonly onTick = (now: number): void => {
    if (!this.agent) return;
    if (this.line) setText(this.line, statusLine(this.agent, now));
    if (this.connectButton) setAttr(this.connectButton, "title", blockedText(this.agent.connect, now) ?? "Connect");
    if (this.qrCountdown && this.agent.qrExpiresAt !== null) {
      setText(this.qrCountdown, `expires in ${formatCountdown(this.agent.qrExpiresAt - now)}`);
    }
  };

  get selectedId(): number | null {
    return this.agent?.id ?? null;
  }

  show(agent: AgentDto | null): void {
    const previous = this.agent;
    this.agent = agent;
    if (!agent) {
      this.body.replaceChildren(h("p", { class: "hint" }, "Select an agent to see its QR code and timeline."));
      this.historyFor = null;
      return;
    }
    // Rebuild only when something visible changed; keep a half-typed phone number.
    const phoneInput = this.body.querySelector<HTMLInputElement>("input.pair-phone");
    const typed = previous?.id === agent.id ? phoneInput?.value ?? "" : "";
    this.render(agent, typed);
    this.scheduleHistory(agent);
  }

  private render(agent: AgentDto, typedPhone: string): void {
    this.line = h("p", { class: "line" });
    const header = h(
      "header",
      {},
      h("h2", { class: "name", title: agent.name }, agent.name),
      h("span", { class: `badge status-${agent.status}` }, STATUS_LABELS[agent.status]),
    );
    const phone = h("p", { class: "phone" }, agent.phone ? `Linked number: ${agent.phone}` : "No phone linked yet");
    // The tooltip, which counts down, is drawn by onTick.
    this.connectButton = h("button", { type: "button", class: "connect", disabled: !agent.connect.allowed, onclick: () => this.host.connect(agent.id) }, "Connect");
    const buttons = h(
      "div",
      { class: "buttons" },
      this.connectButton,
      h("button", { type: "button", class: "disconnect", disabled: agent.status === "disconnected", onclick: () => this.host.disconnect(agent.id) }, "Disconnect"),
      h("button", { type: "button", class: "rename", onclick: () => this.host.rename(agent) }, "Rename"),
      h("button", { type: "button", class: "remove danger", onclick: () => this.host.remove(agent) }, "Remove"),
    );
    const parts: Node[] = [header, phone, this.line, buttons];
    this.qrCountdown = null;
    if (agent.qrPng) {
      this.qrCountdown = h("span", { class: "qr-expiry" });
      parts.push(
        h(
          "section",
          { class: "qr" },
          h("h3", {}, "Scan with WhatsApp → Linked devices → Link a device"),
          h("img", { class: "qr-image", attrs: { src: agent.qrPng, alt: "QR code to link this agent", width: "264", height: "264" } }),
          this.qrCountdown,
        ),
      );
      parts.push(this.pairingForm(agent, typedPhone));
    }
    if (this.host.demo) parts.push(this.simulateActions(agent));
    const timeline = h("section", { class: "timeline" }, h("h3", {}, "Timeline"), h("ol", { class: "history" }, h("li", { class: "hint" }, "Loading…")));
    parts.push(timeline);
    this.body.replaceChildren(...parts);
    // Keep showing the last timeline of this agent until the refresh arrives.
    this.fillHistoryCache();
    this.onTick(Date.now());
  }

  private pairingForm(agent: AgentDto, typedPhone: string): HTMLElement {
    const input = h("input", { class: "pair-phone", attrs: { type: "tel", placeholder: "+49 151 2345678", "aria-label": "Phone number with country code" } });
    input.value = typedPhone;
    const error = h("p", { class: "error", hidden: true });
    const form = h(
      "form",
      { class: "pairing" },
      h("h3", {}, "Or link with a phone number"),
      h("div", { class: "inline" }, input, h("button", { type: "submit" }, "Get code")),
      agent.pairCode ? h("p", { class: "pair-code" }, "Enter this code on the phone: ", h("strong", {}, agent.pairCode)) : null,
      error,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await this.host.backend.requestPairCode(agent.id, input.value);
        error.hidden = true;
      } catch (err) {
        error.hidden = false;
        error.textContent = asIpcError(err).message;
      }
    });
    return form;
  }

  private simulateActions(agent: AgentDto): HTMLElement {
    const select = h("select", { class: "sim-code", attrs: { "aria-label": "Close code" } });
    for (const [code, name] of SIMULATED_CODES) select.append(h("option", { attrs: { value: String(code) } }, `${code} ${name}`));
    const act = (action: Parameters<Backend["simulate"]>[1]) => async () => {
      try {
        await this.host.backend.simulate(agent.id, action);
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
      ),
    );
  }

  /** Refreshes the timeline when the agent changed, at most twice a second. */
  private scheduleHistory(agent: AgentDto): void {
    if (this.historyFor && this.historyFor.id === agent.id && this.historyFor.version === agent.version) {
      this.fillHistoryCache();
      return;
    }
    this.historyFor = { id: agent.id, version: agent.version };
    if (this.historyTimer !== null) return;
    this.historyTimer = setTimeout(async () => {
      this.historyTimer = null;
      const current = this.agent;
      if (!current) return;
      try {
        this.cache = { id: current.id, entries: await this.host.backend.history(current.id, HISTORY_LIMIT) };
      } catch (err) {
        this.cache = { id: current.id, entries: [], error: asIpcError(err).message };
      }
      this.fillHistoryCache();
    }, 100);
  }

  private cache: { id: number; entries: HistoryDto[]; error?: string } | null = null;

  private fillHistoryCache(): void {
    const list = this.body.querySelector("ol.history");
    if (!list || !this.cache || this.cache.id !== this.agent?.id) return;
    if (this.cache.error) {
      list.replaceChildren(h("li", { class: "error" }, this.cache.error));
      return;
    }
    list.replaceChildren(
      ...this.cache.entries.map((e) =>
        h(
          "li",
          { class: e.from === e.to ? "refusal" : "change" },
          h("time", {}, formatTime(e.at)),
          h("span", { class: "move" }, e.from === e.to ? `${STATUS_LABELS[e.from]} (unchanged)` : `${STATUS_LABELS[e.from]} → ${STATUS_LABELS[e.to]}`),
          e.code !== null ? h("span", { class: "code" }, String(e.code)) : null,
          h("span", { class: "reason" }, e.reason),
          // A row written by another version may name a rule this one does not know.
          h("span", { class: "meta" }, `${e.trigger} · ${e.rule ?? "?"}`),
        ),
      ),
    );
  }
}
