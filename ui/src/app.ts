// The panel: header with counts, search and filter; banners; the list; the
// detail panel. Wires the store to the views and the views to the backend.

import { asIpcError, type Backend } from "./api";
import type { AgentDto, BulkActionDto, CredentialsStateDto, Snapshot, StatusDto, UiEvent } from "./bindings";
import { timelineCsv } from "./csv";
import { ALL_STATUSES, banRiskText, blockedText, STATUS_LABELS } from "./format";
import { needsQr, Selection, summarize } from "./selection";
import { AgentStore, type Change } from "./store";
import { Ticker } from "./ticker";
import { auditDialog } from "./views/audit";
import { DetailPanel } from "./views/detail";
import { closeQuestionDialog, confirmDialog, nameDialog, numberDialog, settingsDialog } from "./views/dialogs";
import { h, setHidden, setText } from "./views/dom";
import { AgentList, type Density, type Filter, type Order } from "./views/list";
import { OutageBanner } from "./views/outage";
import { ScanQueue } from "./views/scanqueue";
import { credentialsScreen } from "./views/unlock";

export class App {
  readonly store = new AgentStore();
  readonly ticker: Ticker;
  private list!: AgentList;
  private detail!: DetailPanel;
  private outageBanner!: OutageBanner;
  private outage: Snapshot["outage"] = null;
  private demo = false;
  /** The agents picked for a bulk action (B-1). */
  readonly selection = new Selection();
  private readonly selectionCount = h("span", { class: "selection-count", role: "status" }, "None selected");
  private readonly bulkButtons: HTMLButtonElement[] = [];
  /** The scan queue while it is open (B-2). */
  private queue: ScanQueue | null = null;
  private readonly attentionCount = h("span", { class: "count" }, "0");
  private readonly outagesLastWeek = h("span", { class: "outages-week", attrs: { title: "Outages that began in the last 7 days" } });
  private readonly counts = new Map<StatusDto | "all", { chip: HTMLElement; count: HTMLElement }>();
  private readonly banners = h("div", { class: "banners", attrs: { "aria-live": "polite" } });
  private readonly toastEl = h("div", { class: "toast", role: "status", hidden: true });
  /**
   * Read out by screen readers, politely: the shown agent's new status and
   * a change in how many agents need attention. Not every change of a large
   * fleet, and never a countdown's tick.
   */
  private readonly announcer = h("div", { class: "visually-hidden", role: "status", attrs: { "aria-live": "polite" } });
  private announcedAttention = 0;
  /** The one banner saying changes cannot be saved; shown while the engine says so. */
  private readonly storageBanner = h("div", { class: "banner storage", role: "alert", hidden: true });
  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private filter: Filter = { text: "", status: "all", ids: null };
  /** Events that arrive while the snapshot is still on its way. */
  private early: UiEvent[] | null = [];
  /** How far the wall clock, this page's clock, is ahead of the engine's time (F-5). */
  private wallAheadMs = 0;
  /**
   * The engine's time. Every deadline it sends is on it, and it goes on
   * unchanged when the wall clock steps: countdowns are drawn on it.
   */
  private readonly engineNow = (): number => this.clock() - this.wallAheadMs;
  /**
   * Agent events waiting for the next animation frame, the latest per agent:
   * a burst of changes costs one update of each row and of the counts.
   */
  private readonly pending = new Map<number, UiEvent>();
  /** A resync waiting for the next frame; it replaces everything before it. */
  private pendingResync: AgentDto[] | null = null;
  private frameAsked = false;

  constructor(
    private readonly backend: Backend,
    private readonly root: HTMLElement,
    private readonly clock: () => number = Date.now,
    /** Runs `apply` before the next paint; tests pass one of their own. */
    private readonly nextFrame: (apply: () => void) => void = (apply) => requestAnimationFrame(() => apply()),
  ) {
    this.ticker = new Ticker(250, this.engineNow);
  }

  async start(): Promise<void> {
    // Ctrl+Q quits, as in other desktop apps (closing the window may only
    // hide it), from the unlock screen too.
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "q") {
        e.preventDefault();
        this.backend.quit().catch((err) => this.toast(asIpcError(err).message));
      }
    });
    if (!(await this.openCredentials())) return;
    let snapshot: Snapshot;
    // The engine may still be encrypting an earlier version's stores (P-7) or loading many agents.
    const waiting = this.sayWhileWaiting("Opening the agents…");
    try {
      snapshot = await this.backend.subscribe((event) => this.onEvent(event));
    } catch (err) {
      this.fatal("Switchboard could not reach its engine", asIpcError(err).message);
      return;
    } finally {
      clearTimeout(waiting);
    }
    if (snapshot.startupError) {
      this.fatal("Switchboard could not open its database", snapshot.startupError.message);
      return;
    }
    this.wallAheadMs = snapshot.wallAheadMs;
    this.build(snapshot);
    this.list.render(this.store.reset(snapshot.agents));
    this.announcedAttention = this.store.attention;
    this.outage = snapshot.outage;
    this.showOutagesLastWeek(snapshot.outagesLastWeek);
    // Taken out first: while `early` is set, onEvent would queue them again, for ever.
    const early = this.early ?? [];
    this.early = null;
    for (const event of early) this.onEvent(event);
    this.updateCounts();
  }

  /**
   * P-7: the engine starts once the WhatsApp credentials are open. When they
   * wait for the person (a passphrase, or the first choice without a
   * keyring), their screen comes first. False when they cannot be opened.
   */
  private async openCredentials(): Promise<boolean> {
    let state: CredentialsStateDto;
    // A locked desktop keyring asks for its own password meanwhile: say what is waited for.
    const waiting = this.sayWhileWaiting("Opening the WhatsApp credentials… If the desktop keyring asks for its password, type it there.");
    try {
      state = await this.backend.credentialsState();
    } catch (err) {
      this.fatal("Switchboard could not reach its engine", asIpcError(err).message);
      return false;
    } finally {
      clearTimeout(waiting);
    }
    if (state.kind === "failed") {
      this.fatal("The WhatsApp credentials cannot be opened", state.error.message);
      return false;
    }
    if (state.kind !== "ready") await credentialsScreen(this.root, this.backend, state);
    return true;
  }

  /** Shows `words` in place of the panel if what is awaited takes over half a second; clear the returned timer when done. */
  private sayWhileWaiting(words: string): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      this.root.replaceChildren(h("main", { class: "credentials-screen", role: "status" }, h("p", {}, words)));
    }, 500);
  }

  private fatal(title: string, message: string): void {
    this.root.replaceChildren(h("main", { class: "fatal" }, h("h1", {}, title), h("p", {}, message)));
  }

  private build(snapshot: Snapshot): void {
    const demo = snapshot.mode === "demo";
    this.demo = demo;
    this.list = new AgentList(
      {
        select: (id) => this.select(id),
        connect: (id) => this.connect(id),
        disconnect: (id) => this.disconnect(id),
        pick: (id, range) => this.pick(id, range),
      },
      this.ticker,
      this.engineNow,
      this.selection,
    );
    this.detail = new DetailPanel(
      {
        backend: this.backend,
        demo,
        toast: (m) => this.toast(m),
        rename: (a) => this.renameDialog(a),
        remove: (a) => this.removeDialog(a),
        connect: (id) => this.connect(id),
        disconnect: (id) => this.disconnect(id),
        exportTimeline: (a) => this.exportTimeline(a),
      },
      this.ticker,
      this.engineNow,
    );
    const search = h("input", {
      class: "search",
      attrs: { type: "search", placeholder: "Search by name", "aria-label": "Search agents by name" },
    });
    search.addEventListener("input", () => this.setFilter({ ...this.filter, text: search.value }));
    const statusSelect = h(
      "select",
      { class: "status-filter", attrs: { "aria-label": "Filter by status" } },
      h("option", { attrs: { value: "all" } }, "All statuses"),
    );
    for (const s of ALL_STATUSES) statusSelect.append(h("option", { attrs: { value: s } }, STATUS_LABELS[s]));
    statusSelect.append(h("option", { attrs: { value: "attention" } }, "Needs attention"));
    statusSelect.addEventListener("change", () => this.setFilter({ ...this.filter, status: statusSelect.value as Filter["status"] }));
    const orderSelect = h(
      "select",
      { class: "order", attrs: { "aria-label": "Order of the list" } },
      h("option", { attrs: { value: "added" } }, "As added"),
      h("option", { attrs: { value: "attention" } }, "Needs attention first"),
      h("option", { attrs: { value: "name" } }, "By name"),
      h("option", { attrs: { value: "status" } }, "By status"),
    );
    const densitySelect = h(
      "select",
      { class: "density", attrs: { "aria-label": "Row size" } },
      h("option", { attrs: { value: "comfortable" } }, "Comfortable rows"),
      h("option", { attrs: { value: "compact" } }, "Compact rows"),
    );
    // The order and the row size are this person's choice: kept for the next start.
    const remembered = loadViewChoices();
    orderSelect.value = remembered.order;
    densitySelect.value = remembered.density;
    this.list.setOrder(remembered.order);
    this.list.setDensity(remembered.density);
    orderSelect.addEventListener("change", () => {
      this.list.setOrder(orderSelect.value as Order);
      saveViewChoices({ order: orderSelect.value as Order, density: densitySelect.value as Density });
    });
    densitySelect.addEventListener("change", () => {
      this.list.setDensity(densitySelect.value as Density);
      saveViewChoices({ order: orderSelect.value as Order, density: densitySelect.value as Density });
    });
    const chips = h("div", { class: "counts" });
    for (const s of ["all", ...ALL_STATUSES] as const) {
      const count = h("span", { class: "count" }, "0");
      const chip = h(
        "button",
        {
          type: "button",
          class: `chip status-${s}`,
          dataset: { status: s },
          onclick: () => {
            statusSelect.value = s;
            this.setFilter({ ...this.filter, status: s });
          },
        },
        s === "all" ? "All" : STATUS_LABELS[s],
        count,
      );
      this.counts.set(s, { chip, count });
      chips.append(chip);
    }
    // H-4: the fleet at a glance beside the counts per status.
    chips.append(
      h(
        "button",
        {
          type: "button",
          class: "chip attention",
          onclick: () => {
            statusSelect.value = "attention";
            this.setFilter({ ...this.filter, status: "attention" });
          },
        },
        "Needs attention",
        this.attentionCount,
      ),
      this.outagesLastWeek,
    );
    const header = h(
      "header",
      { class: "top" },
      h(
        "div",
        { class: "brand" },
        h("h1", {}, "Switchboard"),
        demo ? h("span", { class: "demo-label", title: "Simulated WhatsApp: nothing here reaches real phones" }, "DEMO") : null,
      ),
      chips,
      h(
        "div",
        { class: "tools" },
        search,
        statusSelect,
        orderSelect,
        densitySelect,
        h("button", { type: "button", class: "add primary", onclick: () => this.addDialog() }, "Add agent"),
        demo
          ? h("button", { type: "button", class: "simulate-outage", onclick: () => this.simulateOutageDialog() }, "Simulate outage")
          : null,
        h("button", { type: "button", class: "audit-button", onclick: () => this.auditLog() }, "Audit log"),
        h("button", { type: "button", class: "settings-button", onclick: () => this.settings() }, "Settings"),
      ),
    );
    this.outageBanner = new OutageBanner(
      this.ticker,
      this.engineNow,
      () => this.tryNow(),
      () => this.backend.pauseReconnects(false).catch((err) => this.toast(asIpcError(err).message)),
    );
    this.banners.append(this.outageBanner.el, this.storageBanner);
    this.showStorageFault(snapshot.storageFault);
    if (snapshot.modeNote) this.banner("info", snapshot.modeNote, null);
    for (const notice of snapshot.notices) this.banner("alert", notice, null);
    this.root.replaceChildren(
      header,
      this.banners,
      this.selectionBar(),
      h("main", { class: "body" }, this.list.el, this.detail.el),
      this.toastEl,
      this.announcer,
    );
  }

  private onEvent(event: UiEvent): void {
    if (this.early) {
      this.early.push(event);
      return;
    }
    if (event.type === "notice") {
      this.banner("alert", event.body, event.agentId);
      return;
    }
    if (event.type === "group_notice") {
      this.groupBanner(event.title, event.body, event.agentIds);
      return;
    }
    if (event.type === "storage_fault") {
      this.showStorageFault(event.message);
      return;
    }
    if (event.type === "outage") {
      this.outage = event.outage;
      this.showOutagesLastWeek(event.outagesLastWeek);
      this.outageBanner.show(this.outage, this.waiting());
      return;
    }
    if (event.type === "close_asked") {
      // Closed on a desktop without a tray: quitting drops every link, so ask.
      closeQuestionDialog((keepRunning, remember) => this.backend.answerClose(keepRunning, remember));
      return;
    }
    if (event.type === "clock") {
      // The wall clock stepped: redraw every countdown on the engine's time now.
      this.wallAheadMs = event.wallAheadMs;
      this.ticker.tick();
      return;
    }
    if (event.type === "resync") {
      this.pendingResync = event.agents;
      this.pending.clear();
    } else if (event.type === "agent") {
      this.pending.set(event.agent.id, event);
    } else if (event.type === "removed") {
      this.pending.set(event.id, event);
    }
    if (!this.frameAsked) {
      this.frameAsked = true;
      this.nextFrame(() => this.applyPending());
    }
  }

  /** Applies the agent events of one frame together: rows, counts and the detail panel once. */
  private applyPending(): void {
    this.frameAsked = false;
    const changes: Change[] = [];
    if (this.pendingResync) changes.push(...this.store.reset(this.pendingResync));
    this.pendingResync = null;
    for (const event of this.pending.values()) changes.push(...this.store.apply(event));
    this.pending.clear();
    if (changes.length === 0) return;
    for (const change of changes) {
      if (change.kind === "remove") this.selection.forget(change.agent.id);
      else this.queue?.update(change.agent);
    }
    if (changes.some((c) => c.kind === "remove")) this.showSelection();
    this.list.render(changes);
    this.updateCounts();
    const selected = this.detail.selectedId;
    if (selected !== null && changes.some((c) => c.agent.id === selected)) {
      this.detail.show(this.store.agents.get(selected) ?? null);
    }
    this.announce(changes, selected);
  }

  /** Tells screen readers what changed in this frame that a person follows. */
  private announce(changes: Change[], selected: number | null): void {
    const lines: string[] = [];
    for (const change of changes) {
      if (change.kind === "upsert" && change.agent.id === selected && change.previous && change.previous.status !== change.agent.status) {
        lines.push(`${change.agent.name}: ${STATUS_LABELS[change.agent.status]}`);
      }
    }
    const attention = this.store.attention;
    if (attention !== this.announcedAttention) {
      lines.push(
        attention === 0 ? "No agent needs attention" : attention === 1 ? "1 agent needs attention" : `${attention} agents need attention`,
      );
      this.announcedAttention = attention;
    }
    if (lines.length > 0) this.announcer.textContent = lines.join(". ");
  }

  private updateCounts(): void {
    let total = 0;
    for (const [s, { chip, count }] of this.counts) {
      if (s === "all") continue;
      const n = this.store.counts.get(s) ?? 0;
      total += n;
      setText(count, String(n));
      setHidden(chip, n === 0 && (s === "unreadable" || s === "connecting"));
    }
    const all = this.counts.get("all");
    if (all) setText(all.count, String(total));
    this.outageBanner.show(this.outage, this.waiting());
    setText(this.attentionCount, String(this.store.attention));
  }

  /** During an outage every agent retrying waits for WhatsApp: held already, or at its next retry (F-2). */
  private waiting(): number {
    return this.store.counts.get("reconnecting") ?? 0;
  }

  private showOutagesLastWeek(n: number): void {
    setText(this.outagesLastWeek, n === 0 ? "No outage in 7 days" : n === 1 ? "1 outage in 7 days" : `${n} outages in 7 days`);
  }

  private async tryNow(): Promise<void> {
    try {
      await this.backend.tryNow();
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  /** Demo mode: practise an outage (F-1…F-3) — WhatsApp unreachable for some minutes. */
  private simulateOutageDialog(): void {
    numberDialog("Simulate an outage", "WhatsApp unreachable for (minutes; 0 ends one now)", 2, "Start", (minutes) =>
      this.backend.simulateUnreachable(minutes),
    );
  }

  private setFilter(filter: Filter): void {
    this.filter = filter;
    this.list.setFilter(filter);
  }

  private select(id: number): void {
    this.list.select(id);
    this.detail.show(this.store.agents.get(id) ?? null);
  }

  private async connect(id: number): Promise<void> {
    const risk = this.store.agents.get(id)?.banRisk ?? null;
    if (risk !== null) {
      // H-3: never blocked; the person decides, knowing the count.
      const name = this.store.agents.get(id)?.name ?? "This agent";
      confirmDialog("Connect anyway?", `${name}: ${banRiskText(risk)}. Connect anyway?`, "Connect", () => this.connectNow(id));
      return;
    }
    await this.connectNow(id);
  }

  private async connectNow(id: number): Promise<void> {
    try {
      const decision = await this.backend.connect(id);
      const refusal = blockedText(decision, this.engineNow());
      if (refusal !== null) this.toast(refusal);
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  private async disconnect(id: number): Promise<void> {
    try {
      await this.backend.disconnect(id);
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  private addDialog(): void {
    nameDialog("Add agent", "", "Add", async (name) => {
      const agent = await this.backend.addAgent(name);
      this.onEvent({ type: "agent", agent });
      // Shown at once, not at the next frame: it is selected right away.
      this.applyPending();
      this.select(agent.id);
    });
  }

  private renameDialog(agent: AgentDto): void {
    nameDialog(`Rename ${agent.name}`, agent.name, "Rename", (name) => this.backend.renameAgent(agent.id, name));
  }

  private removeDialog(agent: AgentDto): void {
    confirmDialog(
      "Remove agent",
      `Remove “${agent.name}”? Its device is unlinked from the phone, its credentials and its timeline are deleted.`,
      "Remove",
      async () => {
        await this.backend.removeAgent(agent.id);
        if (this.detail.selectedId === agent.id) this.detail.show(null);
      },
    );
  }

  private async settings(): Promise<void> {
    try {
      const [settings, info] = await Promise.all([this.backend.getSettings(), this.backend.desktopInfo()]);
      settingsDialog(settings, (changes) => this.backend.updateSettings(changes), {
        info,
        setAutostart: (enabled) => this.backend.setAutostart(enabled),
        setCloseAction: (action) => this.backend.setCloseAction(action),
      });
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  /** Shown until saving works again; it cannot be dismissed, as the problem is still there. */
  private showStorageFault(message: string | null): void {
    this.storageBanner.hidden = message === null;
    this.storageBanner.textContent =
      message === null
        ? ""
        : `Changes cannot be saved: ${message}. Switchboard keeps the latest changes and keeps trying; ` +
          "free disk space, or close the program that holds the database.";
  }

  /** A banner that stays until dismissed: fatal errors (L-3, R-2) and mode notes. */
  private banner(kind: "alert" | "info", text: string, agentId: number | null): void {
    const dismiss = h("button", { type: "button", class: "dismiss", attrs: { "aria-label": "Dismiss" } }, "Dismiss");
    const show =
      agentId !== null ? h("button", { type: "button", class: "show", onclick: () => this.select(agentId) }, "Show agent") : null;
    const el = h(
      "div",
      { class: `banner ${kind}`, role: kind === "alert" ? "alert" : "note" },
      h("span", { class: "text" }, text),
      show,
      dismiss,
    );
    dismiss.addEventListener("click", () => el.remove());
    this.banners.append(el);
  }

  /**
   * One banner for many agents' fatal notices (F-4): the counts by what
   * happened, and a button that shows exactly those agents in the list.
   */
  private groupBanner(title: string, body: string, agentIds: number[]): void {
    const ids = new Set(agentIds);
    const show = h("button", { type: "button", class: "show" }, "Show them");
    show.addEventListener("click", () => {
      const showing = this.filter.ids === ids;
      this.setFilter({ ...this.filter, ids: showing ? null : ids });
      setText(show, showing ? "Show them" : "Show all agents");
    });
    const dismiss = h("button", { type: "button", class: "dismiss", attrs: { "aria-label": "Dismiss" } }, "Dismiss");
    const el = h("div", { class: "banner alert group", role: "alert" }, h("span", { class: "text" }, `${title}: ${body}`), show, dismiss);
    dismiss.addEventListener("click", () => {
      if (this.filter.ids === ids) this.setFilter({ ...this.filter, ids: null });
      el.remove();
    });
    this.banners.append(el);
  }

  /**
   * The bar over the list (B-1): how many agents are picked, "Select all
   * shown", and the actions on them; "Link phones…" opens the scan queue
   * (B-2) for the picked agents that need a QR, or for every such agent.
   */
  private selectionBar(): HTMLElement {
    const action = (label: string, cls: string, run: () => void) => {
      const button = h("button", { type: "button", class: cls, onclick: run, disabled: true }, label);
      this.bulkButtons.push(button);
      return button;
    };
    // A labelled section: a landmark screen readers list, as the header and main are.
    const bar = h(
      "section",
      { class: "selection-bar", attrs: { "aria-label": "Selected agents" } },
      h("button", { type: "button", class: "select-all", onclick: () => this.pickAllShown() }, "Select all shown"),
      this.selectionCount,
      action("Connect", "bulk-connect", () => this.bulkConnect()),
      action("Disconnect", "bulk-disconnect", () => void this.bulk("disconnect")),
      action("Remove…", "bulk-remove danger", () => this.bulkRemove()),
      action("Clear selection", "clear-selection", () => {
        this.selection.clear();
        this.showSelection();
      }),
      h("button", { type: "button", class: "scan-queue-button", onclick: () => this.openScanQueue() }, "Link phones…"),
    );
    // Ctrl+A in the list picks every agent the filter shows, as in a file manager.
    this.list.el.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a" && (e.target as HTMLElement).matches("li.row")) {
        e.preventDefault();
        this.pickAllShown();
      }
    });
    return bar;
  }

  private pick(id: number, range: boolean): void {
    if (range) this.selection.range(id, this.list.shownIds);
    else this.selection.toggle(id);
    this.showSelection();
  }

  private pickAllShown(): void {
    this.selection.pickAll(this.list.shownIds);
    this.showSelection();
  }

  private showSelection(): void {
    const n = this.selection.size;
    setText(this.selectionCount, n === 0 ? "None selected" : n === 1 ? "1 agent selected" : `${n} agents selected`);
    for (const button of this.bulkButtons) button.disabled = n === 0;
    this.list.showPicks();
  }

  /** B-1: each agent decided by its own rules; one summary answers, with "Show them" per group. */
  private async bulk(action: BulkActionDto): Promise<void> {
    const ids = this.selection.inOrder(this.list.shownIds);
    if (ids.length === 0) return;
    try {
      const outcomes = await this.backend.bulkAction(action, ids);
      if (action === "remove") {
        this.selection.clear();
        this.showSelection();
      }
      const verb = { connect: "Connect", disconnect: "Disconnect", remove: "Remove" }[action];
      this.bulkBanner(`${verb} on ${ids.length === 1 ? "1 agent" : `${ids.length} agents`}`, outcomes);
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  /** H-3 holds for a bulk connect too: never blocked, but the person decides knowing how many are at risk. */
  private bulkConnect(): void {
    const atRisk = this.selection.inOrder(this.list.shownIds).filter((id) => this.store.agents.get(id)?.banRisk != null).length;
    if (atRisk === 0) {
      void this.bulk("connect");
      return;
    }
    confirmDialog(
      "Connect anyway?",
      `${atRisk === 1 ? "1 selected agent was" : `${atRisk} selected agents were`} linked or connected by hand more often in 24 hours than the ban-risk settings allow. Connect all ${this.selection.size} anyway?`,
      "Connect",
      () => this.bulk("connect"),
    );
  }

  private bulkRemove(): void {
    const n = this.selection.size;
    confirmDialog(
      `Remove ${n} ${n === 1 ? "agent" : "agents"}?`,
      `Remove ${n === 1 ? "the selected agent" : `all ${n} selected agents`}? Their devices are unlinked from the phones; their credentials and timelines are deleted.`,
      n === 1 ? "Remove 1 agent" : `Remove ${n} agents`,
      () => this.bulk("remove"),
    );
  }

  /** One banner for a bulk action's answer: a count per outcome, each with the button that shows exactly those agents. */
  private bulkBanner(title: string, outcomes: Parameters<typeof summarize>[0]): void {
    const groups = summarize(outcomes);
    const shownBy = new Set<ReadonlySet<number>>();
    const dismiss = h("button", { type: "button", class: "dismiss", attrs: { "aria-label": "Dismiss" } }, "Dismiss");
    const parts = groups.map((group) => {
      const ids = new Set(group.ids);
      shownBy.add(ids);
      const show = h("button", { type: "button", class: "show", dataset: { kind: group.kind } }, "Show them");
      show.addEventListener("click", () => {
        const showing = this.filter.ids === ids;
        this.setFilter({ ...this.filter, ids: showing ? null : ids });
        for (const other of el.querySelectorAll<HTMLElement>("button.show")) setText(other, "Show them");
        setText(show, showing ? "Show them" : "Show all agents");
      });
      return h("span", { class: "group", dataset: { kind: group.kind } }, h("span", { class: "group-text" }, group.text), show);
    });
    const el = h(
      "div",
      { class: "banner info bulk-summary", role: "status" },
      h("span", { class: "text" }, `${title}: `, ...parts),
      dismiss,
    );
    dismiss.addEventListener("click", () => {
      // Only this banner's own "Show them" is undone; another banner's stays.
      if (this.filter.ids !== null && shownBy.has(this.filter.ids)) this.setFilter({ ...this.filter, ids: null });
      el.remove();
    });
    this.banners.append(el);
  }

  /** B-2: the picked agents that need a QR, in the list's order, or every such agent when none is picked. */
  private openScanQueue(): void {
    const from = this.selection.size > 0 ? this.selection.inOrder(this.list.shownIds) : [...this.store.agents.keys()].sort((a, b) => a - b);
    const ids = from.filter((id) => {
      const agent = this.store.agents.get(id);
      return agent !== undefined && needsQr(agent);
    });
    if (ids.length === 0) {
      this.toast(this.selection.size > 0 ? "No selected agent needs a QR: they are linked already." : "No agent needs a QR.");
      return;
    }
    const tick = () => this.queue?.tick();
    this.queue = new ScanQueue(ids, {
      backend: this.backend,
      demo: this.demo,
      agent: (id) => this.store.agents.get(id),
      now: this.engineNow,
      toast: (m) => this.toast(m),
      onClose: () => {
        this.queue = null;
        this.ticker.remove(tick);
      },
    });
    // A blocked agent's time left counts down while the queue shows it.
    this.ticker.add(tick);
  }

  private auditLog(): void {
    auditDialog({ backend: this.backend, agents: () => [...this.store.agents.values()], toast: (m) => this.toast(m) });
  }

  /** B-3: an agent's whole timeline (the newest 1,000 entries) to a CSV file the person chooses. */
  private async exportTimeline(agent: AgentDto): Promise<void> {
    try {
      const entries = await this.backend.history(agent.id, 1000);
      const name =
        agent.name
          .replace(/[\\/\p{Cc}]/gu, "_")
          .replace(/^\.+/, "")
          .slice(0, 120) || `agent ${agent.id}`;
      const saved = await this.backend.saveCsv(`${name} timeline.csv`, timelineCsv(entries));
      if (saved !== null) this.toast(`Saved ${entries.length === 1 ? "1 entry" : `${entries.length} entries`} to ${saved}`);
    } catch (err) {
      this.toast(asIpcError(err).message);
    }
  }

  toast(message: string): void {
    this.toastEl.textContent = message;
    this.toastEl.hidden = false;
    if (this.toastTimer !== null) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toastEl.hidden = true), 6000);
  }
}

/** How this person last ordered the list and sized its rows. */
interface ViewChoices {
  order: Order;
  density: Density;
}

const VIEW_CHOICES_KEY = "switchboard.view";
const ORDERS: readonly Order[] = ["added", "attention", "name", "status"];
const DENSITIES: readonly Density[] = ["comfortable", "compact"];

/** The remembered choices; anything missing, unreadable or unknown is the default. */
function loadViewChoices(): ViewChoices {
  const fallback: ViewChoices = { order: "added", density: "comfortable" };
  try {
    const saved = JSON.parse(localStorage.getItem(VIEW_CHOICES_KEY) ?? "{}") as Partial<ViewChoices>;
    return {
      order: ORDERS.includes(saved.order as Order) ? (saved.order as Order) : fallback.order,
      density: DENSITIES.includes(saved.density as Density) ? (saved.density as Density) : fallback.density,
    };
  } catch {
    return fallback;
  }
}

function saveViewChoices(choices: ViewChoices): void {
  try {
    localStorage.setItem(VIEW_CHOICES_KEY, JSON.stringify(choices));
  } catch {
    // Storage refused (full, or disabled): the choice still holds until the window closes.
  }
}
