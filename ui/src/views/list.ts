// The agent list: keyed rows, updated one at a time; filters hide rows
// instead of re-rendering, so 1,000 agents stay smooth.

import type { AgentDto, StatusDto } from "../bindings";
import { attentionRank } from "../format";
import type { Change } from "../store";
import type { Ticker } from "../ticker";
import { h } from "./dom";
import { AgentRow, type RowActions } from "./row";

export interface Filter {
  text: string;
  /** One status, every agent, or those that need attention (H-4). */
  status: StatusDto | "all" | "attention";
  /** Exactly these agents (a grouped notice's, F-4), or every agent. */
  ids: ReadonlySet<number> | null;
}

export class AgentList {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly rows = new Map<number, AgentRow>();
  private readonly ticking = new Set<AgentRow>();
  private filter: Filter = { text: "", status: "all", ids: null };
  private selected: number | null = null;
  /** As added (by id), or those that need attention first, most urgent first (H-4). */
  private order: "added" | "attention" = "added";

  constructor(
    private readonly actions: RowActions,
    private readonly ticker: Ticker,
    private readonly clock: () => number = Date.now,
  ) {
    this.list = h("ul", { class: "rows", attrs: { "aria-label": "Agents" } });
    this.empty = h("p", { class: "empty" }, "No agents yet. Add one to link a WhatsApp account.");
    this.el = h("section", { class: "list" }, this.empty, this.list);
    this.ticker.add(this.onTick);
  }

  private readonly onTick = (now: number): void => {
    for (const row of this.ticking) row.tick(now);
  };

  render(changes: Change[]): void {
    const now = this.clock();
    for (const change of changes) {
      if (change.kind === "remove") {
        const row = this.rows.get(change.agent.id);
        if (row) {
          row.el.remove();
          this.rows.delete(change.agent.id);
          this.ticking.delete(row);
        }
        continue;
      }
      let row = this.rows.get(change.agent.id);
      if (row) {
        const before = this.sortKey(row.current);
        row.update(change.agent, now);
        if (this.sortKey(change.agent) !== before) {
          row.el.remove();
          this.insertInOrder(row);
        }
      } else {
        row = new AgentRow(change.agent, this.actions, now);
        this.rows.set(change.agent.id, row);
        this.insertInOrder(row);
      }
      if (row.ticking) this.ticking.add(row);
      else this.ticking.delete(row);
      this.applyFilter(row);
      row.el.classList.toggle("selected", row.id === this.selected);
    }
    this.updateEmpty();
  }

  /** Where a row goes: by id as added; by attention rank, then id, in the attention order. */
  private sortKey(agent: AgentDto): number {
    if (this.order === "added") return agent.id;
    // Ranks 0–4 ahead of everyone else; ids below 2^40 keep them apart.
    return (attentionRank(agent) ?? 5) * 2 ** 40 + agent.id;
  }

  /** A new or moved row goes to its place; usually last, found at once. */
  private insertInOrder(row: AgentRow): void {
    const key = this.sortKey(row.current);
    const last = this.list.lastElementChild as HTMLElement | null;
    const keyOf = (el: HTMLElement) => this.sortKey((this.rows.get(Number(el.dataset.id)) as AgentRow).current);
    if (!last || keyOf(last) < key) {
      this.list.append(row.el);
      return;
    }
    for (const child of Array.from(this.list.children) as HTMLElement[]) {
      if (child !== row.el && keyOf(child) > key) {
        this.list.insertBefore(row.el, child);
        return;
      }
    }
    this.list.append(row.el);
  }

  /** Orders the list as added, or those that need attention first (H-4). */
  setOrder(order: "added" | "attention"): void {
    this.order = order;
    const sorted = [...this.rows.values()].sort((a, b) => this.sortKey(a.current) - this.sortKey(b.current));
    this.list.append(...sorted.map((row) => row.el));
  }

  setFilter(filter: Filter): void {
    this.filter = { ...filter, text: filter.text.trim().toLocaleLowerCase() };
    for (const row of this.rows.values()) this.applyFilter(row);
    this.updateEmpty();
  }

  select(id: number | null): void {
    this.rows.get(this.selected ?? -1)?.el.classList.remove("selected");
    this.selected = id;
    this.rows.get(id ?? -1)?.el.classList.add("selected");
  }

  get visibleCount(): number {
    let n = 0;
    for (const row of this.rows.values()) if (!row.el.hidden) n++;
    return n;
  }

  private applyFilter(row: AgentRow): void {
    const agent: AgentDto = row.current;
    const textOk = this.filter.text === "" || agent.name.toLocaleLowerCase().includes(this.filter.text);
    const statusOk =
      this.filter.status === "all" ||
      agent.status === this.filter.status ||
      (this.filter.status === "attention" && attentionRank(agent) !== null);
    const idOk = this.filter.ids === null || this.filter.ids.has(agent.id);
    row.el.hidden = !(textOk && statusOk && idOk);
  }

  private updateEmpty(): void {
    const none = this.rows.size === 0;
    const filtering = this.filter.text !== "" || this.filter.status !== "all" || this.filter.ids !== null;
    const hiddenAll = !none && filtering && this.visibleCount === 0;
    this.empty.hidden = !(none || hiddenAll);
    this.empty.textContent = none ? "No agents yet. Add one to link a WhatsApp account." : "No agent matches the search or filter.";
  }
}
