// One row of the agent list. Built once per agent, then updated in place.

import type { AgentDto } from "../bindings";
import { banRiskText, blockedText, countdownOf, progress, STATUS_LABELS, statusLine } from "../format";
import { h, setAttr, setText } from "./dom";

/** A comfortable row's height in pixels: the list places rows by it (styles.css reads `--row-height`). */
export const ROW_HEIGHT = 58;

export interface RowActions {
  select(id: number): void;
  /** Picks or unpicks the agent for a bulk action; `range`: from the last one picked (Shift) (B-1). */
  pick(id: number, range: boolean): void;
  connect(id: number): void;
  disconnect(id: number): void;
}

export class AgentRow {
  readonly el: HTMLElement;
  private agent: AgentDto;
  private readonly name: HTMLElement;
  private readonly phone: HTMLElement;
  private readonly badge: HTMLElement;
  /** Marks beside the status, never instead of it: flapping (H-2), ban risk (H-3). */
  private readonly flapMark = h("span", { class: "mark flapping", hidden: true }, "flapping");
  private readonly riskMark = h("span", { class: "mark ban-risk", hidden: true }, "ban risk");
  private readonly line: HTMLElement;
  /** Picks the agent for a bulk action (B-1); not a Tab stop: Space on the row does the same. */
  private readonly pickBox: HTMLInputElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly connectButton: HTMLButtonElement;
  private readonly disconnectButton: HTMLButtonElement;
  /** When the UI first saw the current deadline: the start of the progress bar. */
  private deadlineSeen: { until: number; at: number } | null = null;

  constructor(
    agent: AgentDto,
    private readonly actions: RowActions,
    now: number,
  ) {
    this.agent = agent;
    this.name = h("span", { class: "name" });
    this.phone = h("span", { class: "phone" });
    this.badge = h("span", { class: "badge" });
    this.line = h("div", { class: "line" });
    this.fill = h("div", { class: "fill" });
    this.bar = h("div", { class: "bar", hidden: true }, this.fill);
    this.connectButton = h("button", { class: "connect", type: "button" }, "Connect");
    this.disconnectButton = h("button", { class: "disconnect", type: "button" }, "Disconnect");
    this.pickBox = h("input", { class: "pick", attrs: { type: "checkbox", tabindex: "-1" } });
    this.pickBox.addEventListener("click", (e) => {
      // Not `preventDefault`: WebKit would then set the box back after this
      // handler, over what the selection drew. The click toggles the box as
      // the selection toggles the agent (a range gives it the same state).
      e.stopPropagation();
      this.actions.pick(this.agent.id, (e as MouseEvent).shiftKey);
    });
    this.connectButton.addEventListener("click", (e) => {
      e.stopPropagation();
      this.actions.connect(this.agent.id);
    });
    this.disconnectButton.addEventListener("click", (e) => {
      e.stopPropagation();
      this.actions.disconnect(this.agent.id);
    });
    this.el = h(
      "li",
      { class: "row", dataset: { id: String(agent.id) }, attrs: { tabindex: "-1" } },
      this.pickBox,
      h("div", { class: "who" }, h("div", { class: "title" }, this.name, this.badge, this.flapMark, this.riskMark), this.phone),
      h("div", { class: "what" }, this.line, this.bar),
      h("div", { class: "actions" }, this.connectButton, this.disconnectButton),
    );
    this.el.addEventListener("click", () => this.actions.select(this.agent.id));
    this.el.addEventListener("keydown", (e) => {
      if (e.target !== this.el) return;
      if (e.key === "Enter") this.actions.select(this.agent.id);
      if (e.key === " ") {
        // Space picks the row for a bulk action, Shift+Space the range to it (B-1).
        e.preventDefault();
        this.actions.pick(this.agent.id, e.shiftKey);
      }
    });
    this.update(agent, now);
  }

  get id(): number {
    return this.agent.id;
  }

  get current(): AgentDto {
    return this.agent;
  }

  /** Puts the row at its place in a list of `total` rows `height` px high (the list holds only some rows). */
  place(index: number, total: number, height: number): void {
    // A transform, not `top`: moving a row lays nothing else out.
    const transform = `translateY(${index * height}px)`;
    if (this.el.style.transform !== transform) this.el.style.transform = transform;
    setAttr(this.el, "aria-posinset", String(index + 1));
    setAttr(this.el, "aria-setsize", String(total));
  }

  /** Draws whether the agent is picked for a bulk action (B-1). */
  setPicked(picked: boolean): void {
    if (this.pickBox.checked !== picked) this.pickBox.checked = picked;
    this.el.classList.toggle("picked", picked);
  }

  /** The one row of the list that Tab reaches; the others are reached with the arrows. */
  setTabStop(stop: boolean): void {
    setAttr(this.el, "tabindex", stop ? "0" : "-1");
  }

  /** Whether this row has a countdown the ticker must redraw: on its line, or in Connect's tooltip. */
  get ticking(): boolean {
    return countdownOf(this.agent) !== null || (!this.agent.connect.allowed && this.agent.connect.until !== null);
  }

  update(agent: AgentDto, now: number): void {
    this.agent = agent;
    setText(this.name, agent.name);
    setAttr(this.name, "title", agent.name);
    setAttr(this.pickBox, "aria-label", `Select ${agent.name}`);
    setText(this.phone, agent.phone ?? "not linked");
    setAttr(this.badge, "class", `badge status-${agent.status}`);
    setText(this.badge, STATUS_LABELS[agent.status]);
    this.flapMark.hidden = !agent.flapping;
    setAttr(this.flapMark, "title", agent.flapping ? "It keeps dropping: its retries wait the longest delay" : null);
    this.riskMark.hidden = agent.banRisk === null;
    setAttr(this.riskMark, "title", agent.banRisk ? banRiskText(agent.banRisk) : null);
    setAttr(this.el, "data-status", agent.status);
    // Connect follows the engine's decision, never a guess of the UI's own;
    // its tooltip, which counts down, is drawn by tick().
    this.connectButton.disabled = !agent.connect.allowed;
    // A bulk connect waiting its turn is cancelled by Disconnect (B-1).
    this.disconnectButton.disabled = agent.status === "disconnected" && !agent.queued;
    setAttr(this.disconnectButton, "title", "Disconnect, unlink the device and delete its credentials");
    this.tick(now);
  }

  /** Redraws the time-dependent parts: the countdown text, its bar and Connect's tooltip. */
  tick(now: number): void {
    setText(this.line, statusLine(this.agent, now));
    setAttr(this.line, "title", this.agent.reason);
    setAttr(this.connectButton, "title", blockedText(this.agent.connect, now) ?? "Connect this agent");
    const countdown = countdownOf(this.agent);
    if (!countdown) {
      if (!this.bar.hidden) this.bar.hidden = true;
      this.deadlineSeen = null;
      setAttr(this.el, "data-until", null);
      return;
    }
    // The deadline itself, for tests and for anyone inspecting the page.
    setAttr(this.el, "data-until", String(countdown.until));
    if (!this.deadlineSeen || this.deadlineSeen.until !== countdown.until) {
      this.deadlineSeen = { until: countdown.until, at: Math.min(now, countdown.until) };
    }
    if (this.bar.hidden) this.bar.hidden = false;
    const fraction = progress(this.deadlineSeen.at, countdown.until, now);
    // A transform, not a width: the bar moves without laying anything out.
    const scale = `scaleX(${(1 - fraction).toFixed(3)})`;
    if (this.fill.style.transform !== scale) this.fill.style.transform = scale;
  }
}
