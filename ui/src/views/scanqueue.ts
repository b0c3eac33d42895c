// The scan queue (B-2): one agent at a time, a large QR, "7 of 23 linked",
// Skip and Back, the pairing-code path beside the QR, and on to the next
// agent by itself when the phone has scanned. Only the shown agent is
// connected, so one QR lives at a time; leaving stops only an attempt that
// still waits for a scan, never a link.

import type { Backend } from "../api";
import { asIpcError } from "../api";
import type { AgentDto } from "../bindings";
import { blockedText, STATUS_LABELS } from "../format";
import { openModal } from "./dialogs";
import { h, setAttr, setHidden, setText } from "./dom";

export interface ScanQueueHost {
  backend: Backend;
  demo: boolean;
  /** The agent as the window knows it now. */
  agent(id: number): AgentDto | undefined;
  /** The engine's time, for countdowns. */
  now(): number;
  toast(message: string): void;
  onClose(): void;
}

/** Whether the agent's attempt is waiting for a scan, with nothing linked yet: Skip and leaving stop it. */
function waitsForScan(agent: AgentDto): boolean {
  return agent.status === "qr_pending" || (agent.status === "connecting" && !agent.hasCredentials);
}

export class ScanQueue {
  readonly root: HTMLElement;
  private index = 0;
  private readonly linked = new Set<number>();
  /** The agents this queue connected, so it connects each once per visit. */
  private started: number | null = null;
  private shownQr: string | null = null;
  private readonly close: () => void;
  private readonly name = h("p", { class: "queue-name" });
  private readonly progress = h("p", { class: "queue-progress", attrs: { "aria-live": "polite" } });
  private readonly status = h("p", { class: "queue-status" });
  private readonly qr = h("img", { class: "queue-qr", hidden: true, attrs: { alt: "" } });
  private readonly code = h("p", { class: "queue-code", hidden: true });
  private readonly phone = h("input", {
    class: "queue-phone",
    attrs: { type: "tel", autocomplete: "off", placeholder: "+49 151 2345678", "aria-label": "Phone number for a pairing code" },
  });
  private readonly back = h("button", { type: "button", class: "queue-back" }, "Back");
  private readonly skip = h("button", { type: "button", class: "queue-skip" }, "Skip");
  private readonly simulate = h("button", { type: "button", class: "queue-simulate" }, "Simulate scan");
  private readonly done = h("button", { type: "button", class: "queue-done primary" }, "Close");
  /** Connects the shown agent again after its attempt ended unscanned (the QR expired, Q-2). */
  private readonly retry = h("button", { type: "button", class: "queue-retry", hidden: true }, "New QR");

  constructor(
    private readonly ids: readonly number[],
    private readonly host: ScanQueueHost,
  ) {
    const pairForm = h(
      "form",
      { class: "queue-pair" },
      h("label", {}, "Or link with a phone number instead of the QR", this.phone),
      h("button", { type: "submit" }, "Get pairing code"),
    );
    pairForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.requestCode();
    });
    this.back.addEventListener("click", () => this.go(-1));
    this.skip.addEventListener("click", () => this.go(1));
    this.retry.addEventListener("click", () => {
      this.started = null;
      this.show();
    });
    this.simulate.addEventListener("click", () => {
      const id = this.currentId;
      if (id !== null) this.host.backend.simulate(id, { action: "scan" }).catch((err) => this.host.toast(asIpcError(err).message));
    });
    this.simulate.hidden = !host.demo;
    const modal = openModal(
      "Link phones",
      [
        this.progress,
        this.name,
        this.status,
        h("div", { class: "queue-scan" }, this.qr, this.code),
        pairForm,
        h("div", { class: "buttons" }, this.back, this.skip, this.retry, this.simulate, this.done),
      ],
      () => this.leave(),
      "wide scan-queue",
    );
    this.root = modal.root;
    this.close = modal.close;
    this.done.addEventListener("click", () => this.close());
    this.show();
  }

  /** The agent shown, or null once every agent was visited. */
  get currentId(): number | null {
    return this.index < this.ids.length ? this.ids[this.index] : null;
  }

  /** A change of an agent: the shown one may have been scanned, or its QR rotated. */
  update(agent: AgentDto): void {
    if (agent.id !== this.currentId) return;
    if (agent.status === "connected") {
      this.linked.add(agent.id);
      this.go(1);
      return;
    }
    this.draw(agent);
  }

  /** Redraws what counts down: a blocked connect's time left. */
  tick(): void {
    const agent = this.currentId === null ? undefined : this.host.agent(this.currentId);
    if (agent) this.draw(agent);
  }

  /** Steps to the next (1) or previous (-1) agent not linked yet; the one left stops waiting for a scan. */
  private go(step: 1 | -1): void {
    let next = this.index + step;
    while (next >= 0 && next < this.ids.length && (this.linked.has(this.ids[next]) || !this.host.agent(this.ids[next]))) next += step;
    // Nothing earlier to go back to: the shown agent stays, its QR too.
    if (next < 0) return;
    this.stopWaiting();
    this.index = next;
    this.started = null;
    this.show();
  }

  private show(): void {
    const id = this.currentId;
    setText(this.progress, `${this.linked.size} of ${this.ids.length} linked`);
    this.back.disabled = this.index === 0;
    if (id === null) {
      this.finish();
      return;
    }
    const agent = this.host.agent(id);
    if (!agent) {
      this.go(1);
      return;
    }
    setText(this.name, `${agent.name} — ${this.index + 1} of ${this.ids.length}`);
    if (agent.status === "connected") {
      this.linked.add(id);
      this.go(1);
      return;
    }
    if (agent.connect.allowed && !waitsForScan(agent) && this.started !== id) {
      this.started = id;
      this.host.backend
        .connect(id)
        .then((decision) => {
          if (!decision.allowed) this.draw(this.host.agent(id) ?? agent);
        })
        .catch((err) => this.host.toast(asIpcError(err).message));
    }
    this.draw(agent);
    this.skip.focus();
  }

  private draw(agent: AgentDto): void {
    const blocked = blockedText(agent.connect, this.host.now());
    const waiting = waitsForScan(agent);
    setText(
      this.status,
      agent.status === "qr_pending"
        ? "Open WhatsApp on the phone → Linked devices → Link a device, and scan this code."
        : blocked !== null && !waiting && agent.status !== "reconnecting"
          ? `Cannot connect now: ${blocked}. Skip it, or wait.`
          : `${STATUS_LABELS[agent.status]} · ${agent.reason}`,
    );
    setHidden(this.code, agent.pairCode === null);
    setText(this.code, agent.pairCode === null ? "" : `Pairing code: ${agent.pairCode}`);
    this.simulate.disabled = agent.status !== "qr_pending";
    const ended = this.started === agent.id && !waiting && (agent.status === "disconnected" || agent.status === "failed");
    setHidden(this.retry, !ended || !agent.connect.allowed);
    if (agent.qrKey !== this.shownQr) {
      this.shownQr = agent.qrKey;
      this.loadQr(agent);
    }
  }

  private loadQr(agent: AgentDto): void {
    if (agent.qrKey === null) {
      this.qr.hidden = true;
      return;
    }
    const key = agent.qrKey;
    this.host.backend
      .qrImage(agent.id)
      .then((image) => {
        // A newer QR (or another agent) may be shown by now.
        if (image === null || this.shownQr !== key || image.key !== key) return;
        this.qr.src = image.png;
        setAttr(this.qr, "alt", `QR code to link ${agent.name}`);
        this.qr.hidden = false;
      })
      .catch((err) => this.host.toast(asIpcError(err).message));
  }

  private requestCode(): void {
    const id = this.currentId;
    if (id === null) return;
    this.host.backend.requestPairCode(id, this.phone.value).catch((err) => this.host.toast(asIpcError(err).message));
  }

  private finish(): void {
    const skipped = this.ids.length - this.linked.size;
    setText(this.name, skipped === 0 ? "Every agent is linked." : `Done: ${skipped} not linked (skipped or failed).`);
    setText(this.status, "");
    this.qr.hidden = true;
    this.code.hidden = true;
    this.skip.disabled = true;
    this.simulate.disabled = true;
    this.done.focus();
  }

  /** Stops the shown agent's attempt if it still waits for a scan: no QR is left behind (B-2). */
  private stopWaiting(): void {
    const id = this.currentId;
    const agent = id === null ? undefined : this.host.agent(id);
    if (agent && waitsForScan(agent)) {
      this.host.backend.disconnect(agent.id).catch((err) => this.host.toast(asIpcError(err).message));
    }
  }

  private leave(): void {
    this.stopWaiting();
    this.host.onClose();
  }
}
