// The agent list: keyed rows, updated one at a time; filters hide rows
// instead of re-rendering, so 1,000 agents stay smooth.

import type { AgentDto, StatusDto } from "../bindings";
import type { Change } from "../store";
import type { Ticker } from "../ticker";
import { h } from "./dom";
import { AgentRow, type RowActions } from "./row";

export interface Filter {
  text: string;
  status: StatusDto | "all";
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
        row.update(change.agent, now);
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

  /** Rows stay in creation order (ids grow); a new agent usually goes last. */
  private insertInOrder(row: AgentRow): void {
    const last = this.list.lastElementChild as HTMLElement | null;
    if (!last || Number(last.dataset.id) < row.id) {
      this.list.append(row.el);
      return;
    }
    for (const child of Array.from(this.list.children) as HTMLElement[]) {
      if (Number(child.dataset.id) > row.id) {
        this.list.insertBefore(row.el, child);
        return;
      }
    }
    this.list.append(row.el);
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
    const statusOk = this.filter.status === "all" || agent.status === this.filter.status;
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
