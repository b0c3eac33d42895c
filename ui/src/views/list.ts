// The agent list, virtualised: the page holds only the rows on screen and a
// margin, whatever the fleet's size. The list keeps every agent the filter
// shows as an array of ids in the list's order; scrolling moves a window
// over it, and rows are built as they come into it and dropped as they
// leave. Rows are keyed by agent: a change updates its row in place.

import type { AgentDto, StatusDto } from "../bindings";
import { ALL_STATUSES, attentionRank } from "../format";
import type { Selection } from "../selection";
import type { Change } from "../store";
import type { Ticker } from "../ticker";
import { h, setAttr } from "./dom";
import { AgentRow, ROW_HEIGHT, type RowActions } from "./row";

export interface Filter {
  text: string;
  /** One status, every agent, or those that need attention (H-4). */
  status: StatusDto | "all" | "attention";
  /** Exactly these agents (a grouped notice's, F-4), or every agent. */
  ids: ReadonlySet<number> | null;
}

/** Rows kept above and below the screen, so a fast scroll shows no gap. */
const MARGIN_ROWS = 8;
/** More changes than this at once (a snapshot, a resync) sort the whole list once instead. */
const BULK_CHANGES = 64;

/** How the list is ordered: as added, those that need attention first (H-4), by name, by status. */
export type Order = "added" | "attention" | "name" | "status";
/** Row heights: comfortable (two lines) or compact (one line, about twice the agents on screen). */
export type Density = "comfortable" | "compact";
export const ROW_HEIGHTS: Record<Density, number> = { comfortable: ROW_HEIGHT, compact: 30 };

const byName = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

export class AgentList {
  /** The scrolling container. */
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly agents = new Map<number, AgentDto>();
  /** The ids the filter shows, in the list's order. */
  private shown: number[] = [];
  /** The rows in the page: those on screen, the margin, and the focused one. */
  private readonly rows = new Map<number, AgentRow>();
  private readonly ticking = new Set<AgentRow>();
  private filter: Filter = { text: "", status: "all", ids: null };
  private selected: number | null = null;
  /**
   * The row that has (or last had) keyboard focus. It stays in the page
   * while scrolled away, so focus is never lost, and Tab returns to it.
   */
  private focused: number | null = null;
  private order: Order = "added";
  private rowHeight = ROW_HEIGHT;

  constructor(
    private readonly actions: RowActions,
    private readonly ticker: Ticker,
    private readonly clock: () => number = Date.now,
    /** The agents picked for a bulk action (B-1): each row's check box shows it. */
    private readonly selection: Selection | null = null,
  ) {
    this.list = h("ul", { class: "rows", attrs: { "aria-label": "Agents" } });
    this.list.style.setProperty("--row-height", `${this.rowHeight}px`);
    this.empty = h("p", { class: "empty" }, "No agents yet. Add one to link a WhatsApp account.");
    this.el = h("section", { class: "list" }, this.empty, this.list);
    this.el.addEventListener("scroll", () => this.layout(), { passive: true });
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => this.layout()).observe(this.el);
    this.list.addEventListener("focusin", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("li.row");
      if (row) this.focused = Number(row.dataset.id);
      this.updateTabStop();
    });
    this.list.addEventListener("keydown", (e) => this.onKey(e));
    this.ticker.add(this.onTick);
  }

  private readonly onTick = (now: number): void => {
    for (const row of this.ticking) row.tick(now);
  };

  render(changes: Change[]): void {
    const now = this.clock();
    const bulk = changes.length > BULK_CHANGES;
    for (const change of changes) {
      const id = change.agent.id;
      const before = this.agents.get(id);
      if (change.kind === "remove") {
        if (before && !bulk) this.unplace(before);
        this.agents.delete(id);
        this.drop(id);
        continue;
      }
      const moves = !before || this.passes(before) !== this.passes(change.agent) || this.compare(before, change.agent) !== 0;
      if (before && moves && !bulk) this.unplace(before);
      this.agents.set(id, change.agent);
      if (moves && !bulk) this.place(change.agent);
      const row = this.rows.get(id);
      if (row) {
        row.update(change.agent, now);
        this.track(row);
      }
    }
    if (bulk) this.sortAll();
    this.layout();
    this.updateEmpty();
  }

  setOrder(order: Order): void {
    this.order = order;
    this.sortAll();
    this.layout();
  }

  /** Comfortable or compact rows; the row on top of the screen stays on top. */
  setDensity(density: Density): void {
    const top = Math.floor(this.el.scrollTop / this.rowHeight);
    this.rowHeight = ROW_HEIGHTS[density];
    this.list.classList.toggle("compact", density === "compact");
    this.list.style.setProperty("--row-height", `${this.rowHeight}px`);
    this.el.scrollTop = top * this.rowHeight;
    this.layout();
  }

  setFilter(filter: Filter): void {
    this.filter = { ...filter, text: filter.text.trim().toLocaleLowerCase() };
    this.sortAll();
    this.el.scrollTop = 0;
    this.layout();
    this.updateEmpty();
  }

  /** Marks the agent's row as the one the detail panel shows, and scrolls it into view. */
  select(id: number | null): void {
    this.rows.get(this.selected ?? -1)?.el.classList.remove("selected");
    this.selected = id;
    if (id !== null) this.reveal(id);
    this.rows.get(id ?? -1)?.el.classList.add("selected");
    this.updateTabStop();
  }

  /** Redraws the check boxes of the rows in the page after the selection changed (B-1). */
  showPicks(): void {
    for (const row of this.rows.values()) row.setPicked(this.selection?.has(row.id) ?? false);
  }

  /** The ids of every agent the filter shows, in the list's order. */
  get shownIds(): readonly number[] {
    return this.shown;
  }

  /** How many agents the filter shows (most of them not in the page). */
  get visibleCount(): number {
    return this.shown.length;
  }

  private passes(agent: AgentDto): boolean {
    const textOk = this.filter.text === "" || agent.name.toLocaleLowerCase().includes(this.filter.text);
    const statusOk =
      this.filter.status === "all" ||
      agent.status === this.filter.status ||
      (this.filter.status === "attention" && attentionRank(agent) !== null);
    const idOk = this.filter.ids === null || this.filter.ids.has(agent.id);
    return textOk && statusOk && idOk;
  }

  /**
   * The list's order between two agents; the id breaks ties, so no two
   * agents are equal and the order is total (binary search relies on it).
   */
  private compare(a: AgentDto, b: AgentDto): number {
    const first =
      this.order === "attention"
        ? (attentionRank(a) ?? 5) - (attentionRank(b) ?? 5)
        : this.order === "name"
          ? byName.compare(a.name, b.name)
          : this.order === "status"
            ? ALL_STATUSES.indexOf(a.status) - ALL_STATUSES.indexOf(b.status) || byName.compare(a.name, b.name)
            : 0;
    return first || a.id - b.id;
  }

  /** The first index in `shown` whose agent does not come before `agent`. */
  private lowerBound(agent: AgentDto): number {
    let low = 0;
    let high = this.shown.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(this.agents.get(this.shown[mid]) as AgentDto, agent) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private indexOf(id: number): number {
    const agent = this.agents.get(id);
    if (!agent || !this.passes(agent)) return -1;
    const at = this.lowerBound(agent);
    return this.shown[at] === id ? at : -1;
  }

  /** Takes the agent (as it was, still in `agents`) out of the order. */
  private unplace(agent: AgentDto): void {
    if (!this.passes(agent)) return;
    const at = this.lowerBound(agent);
    if (this.shown[at] === agent.id) this.shown.splice(at, 1);
  }

  /** Puts the agent (as it is now, already in `agents`) at its place in the order. */
  private place(agent: AgentDto): void {
    if (this.passes(agent)) this.shown.splice(this.lowerBound(agent), 0, agent.id);
  }

  private sortAll(): void {
    const shown = [...this.agents.values()].filter((a) => this.passes(a));
    shown.sort((a, b) => this.compare(a, b));
    this.shown = shown.map((a) => a.id);
  }

  /** Builds the rows in the window over the order, drops the others, and puts each at its place. */
  private layout(): void {
    const total = this.shown.length;
    const height = `${total * this.rowHeight}px`;
    if (this.list.style.height !== height) this.list.style.height = height;
    setAttr(this.list, "data-shown", String(total));
    // Before the first layout the list has no height yet: assume the window's.
    const viewport = this.el.clientHeight || window.innerHeight;
    const top = this.el.scrollTop;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - MARGIN_ROWS);
    const end = Math.min(total, Math.ceil((top + viewport) / this.rowHeight) + MARGIN_ROWS);
    const wanted: number[] = [];
    for (let i = first; i < end; i++) wanted.push(i);
    const focusedAt = this.focused === null ? -1 : this.indexOf(this.focused);
    if (focusedAt >= 0 && (focusedAt < first || focusedAt >= end)) {
      if (focusedAt < first) wanted.unshift(focusedAt);
      else wanted.push(focusedAt);
    }
    const keep = new Set(wanted.map((i) => this.shown[i]));
    for (const id of [...this.rows.keys()]) if (!keep.has(id)) this.drop(id);
    const now = this.clock();
    let previous: Element | null = null;
    for (const index of wanted) {
      const id = this.shown[index];
      let row = this.rows.get(id);
      if (!row) {
        row = new AgentRow(this.agents.get(id) as AgentDto, this.actions, now);
        row.el.classList.toggle("selected", id === this.selected);
        row.setPicked(this.selection?.has(id) ?? false);
        this.rows.set(id, row);
        this.track(row);
      }
      row.place(index, total, this.rowHeight);
      // DOM order follows the list's order: Tab and screen readers read it so.
      const next: ChildNode | null = previous ? previous.nextSibling : this.list.firstChild;
      if (next !== row.el) this.list.insertBefore(row.el, next);
      previous = row.el;
    }
    this.updateTabStop();
  }

  private drop(id: number): void {
    const row = this.rows.get(id);
    if (!row) return;
    row.el.remove();
    this.rows.delete(id);
    this.ticking.delete(row);
  }

  private track(row: AgentRow): void {
    if (row.ticking) this.ticking.add(row);
    else this.ticking.delete(row);
  }

  /** One row takes Tab into the list (the focused, else the selected, else the first); arrows move from there. */
  private updateTabStop(): void {
    const stop =
      this.focused !== null && this.rows.has(this.focused)
        ? this.focused
        : this.selected !== null && this.rows.has(this.selected)
          ? this.selected
          : Number((this.list.firstElementChild as HTMLElement | null)?.dataset.id ?? -1);
    for (const row of this.rows.values()) row.setTabStop(row.id === stop);
  }

  /** Scrolls the least needed to bring the agent's row on screen. */
  private reveal(id: number): void {
    const at = this.indexOf(id);
    if (at < 0) return;
    const viewport = this.el.clientHeight || window.innerHeight;
    const rowTop = at * this.rowHeight;
    if (rowTop < this.el.scrollTop) this.el.scrollTop = rowTop;
    else if (rowTop + this.rowHeight > this.el.scrollTop + viewport) this.el.scrollTop = rowTop + this.rowHeight - viewport;
    this.layout();
  }

  /** Arrows, Home, End, Page Up and Page Down move between rows; Enter opens one (in the row). */
  private onKey(e: KeyboardEvent): void {
    const target = e.target as HTMLElement;
    if (!target.matches("li.row") || this.shown.length === 0) return;
    const at = this.indexOf(Number(target.dataset.id));
    const page = Math.max(1, Math.floor((this.el.clientHeight || window.innerHeight) / this.rowHeight) - 1);
    const last = this.shown.length - 1;
    const to: Record<string, number> = {
      ArrowDown: at + 1,
      ArrowUp: at - 1,
      Home: 0,
      End: last,
      PageDown: at + page,
      PageUp: at - page,
    };
    if (!(e.key in to)) return;
    e.preventDefault();
    const id = this.shown[Math.min(last, Math.max(0, to[e.key]))];
    this.focused = id;
    this.reveal(id);
    this.rows.get(id)?.el.focus({ preventScroll: true });
  }

  private updateEmpty(): void {
    const none = this.agents.size === 0;
    const filtering = this.filter.text !== "" || this.filter.status !== "all" || this.filter.ids !== null;
    const hiddenAll = !none && filtering && this.shown.length === 0;
    this.empty.hidden = !(none || hiddenAll);
    this.empty.textContent = none ? "No agents yet. Add one to link a WhatsApp account." : "No agent matches the search or filter.";
  }
}
