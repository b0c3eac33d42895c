// Which agents are picked for a bulk action (B-1). Pure: the list draws
// the check boxes from it, and the selection bar acts on it.

import type { AgentDto, BulkOutcomeDto, BulkOutcomeKind } from "./bindings";

export class Selection {
  private readonly picked = new Set<number>();
  /** The last agent picked or unpicked by itself: a range runs from it. */
  private anchor: number | null = null;

  get size(): number {
    return this.picked.size;
  }

  has(id: number): boolean {
    return this.picked.has(id);
  }

  /** The picked ids, in the order given (the list's), for an action that goes in that order. */
  inOrder(order: readonly number[]): number[] {
    const ordered = order.filter((id) => this.picked.has(id));
    if (ordered.length === this.picked.size) return ordered;
    // Picked agents the filter hides now come last; a set keeps 10,000 picks linear.
    const shown = new Set(order);
    return ordered.concat([...this.picked].filter((id) => !shown.has(id)));
  }

  toggle(id: number): void {
    if (!this.picked.delete(id)) this.picked.add(id);
    this.anchor = id;
  }

  /**
   * Shift+click: every agent from the anchor to `id` in the list's order
   * takes the state `id` gets (picked, unless it was picked). Without an
   * anchor in the order, it is a toggle.
   */
  range(id: number, order: readonly number[]): void {
    const from = this.anchor === null ? -1 : order.indexOf(this.anchor);
    const to = order.indexOf(id);
    if (from < 0 || to < 0) {
      this.toggle(id);
      return;
    }
    const pick = !this.picked.has(id);
    for (let i = Math.min(from, to); i <= Math.max(from, to); i++) {
      if (pick) this.picked.add(order[i]);
      else this.picked.delete(order[i]);
    }
    this.anchor = id;
  }

  /** Picks every one of `ids` (every agent the filter shows), keeping those picked already. */
  pickAll(ids: readonly number[]): void {
    for (const id of ids) this.picked.add(id);
  }

  clear(): void {
    this.picked.clear();
    this.anchor = null;
  }

  /** Forgets an agent that was removed. */
  forget(id: number): void {
    this.picked.delete(id);
    if (this.anchor === id) this.anchor = null;
  }
}

/** The groups of a bulk action's answer, in the order the summary tells them. */
const GROUP_ORDER: BulkOutcomeKind[] = [
  "connecting",
  "disconnected",
  "removed",
  "cooldown",
  "banned",
  "in_progress",
  "already_disconnected",
  "refused",
  "gone",
  "failed",
];

const GROUP_WORDS: Record<BulkOutcomeKind, string> = {
  connecting: "connecting",
  disconnected: "disconnected",
  removed: "removed",
  cooldown: "blocked by a cooldown",
  banned: "banned for now",
  in_progress: "already connected or connecting",
  already_disconnected: "already disconnected",
  refused: "refused",
  gone: "no longer there",
  failed: "failed",
};

export interface BulkGroup {
  kind: BulkOutcomeKind;
  /** "3 blocked by a cooldown". */
  text: string;
  ids: number[];
}

/** One summary of a bulk action (B-1): a count per outcome, each with its agents for "Show them". */
export function summarize(outcomes: BulkOutcomeDto[]): BulkGroup[] {
  return GROUP_ORDER.flatMap((kind) => {
    const ids = outcomes.filter((o) => o.outcome === kind).map((o) => o.id);
    return ids.length === 0 ? [] : [{ kind, text: `${ids.length} ${GROUP_WORDS[kind]}`, ids }];
  });
}

/** Whether an agent needs a QR to be linked: the scan queue's agents (B-2). */
export function needsQr(agent: AgentDto): boolean {
  return !agent.hasCredentials && agent.status !== "connected" && agent.status !== "unreadable";
}
