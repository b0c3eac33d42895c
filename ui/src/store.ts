// The UI's copy of the engine's agents, kept current by ordered events.

import type { AgentDto, StatusDto, UiEvent } from "./bindings";
import { attentionRank } from "./format";

export type Change = { kind: "upsert"; agent: AgentDto; previous?: AgentDto } | { kind: "remove"; agent: AgentDto };

export class AgentStore {
  readonly agents = new Map<number, AgentDto>();
  readonly counts = new Map<StatusDto, number>();
  /** Agents that need attention (H-4): failed, conflict, held, flapping, at risk. */
  attention = 0;

  /** Replaces everything (a snapshot or a resync); returns the changes to render. */
  reset(agents: AgentDto[]): Change[] {
    const changes: Change[] = [];
    const incoming = new Set(agents.map((a) => a.id));
    for (const agent of [...this.agents.values()]) {
      const change = incoming.has(agent.id) ? null : this.remove(agent.id);
      if (change) changes.push(change);
    }
    for (const agent of agents) {
      const change = this.upsert(agent, true);
      if (change) changes.push(change);
    }
    return changes;
  }

  /** Applies one event; returns what changed, if anything. */
  apply(event: UiEvent): Change[] {
    switch (event.type) {
      case "agent": {
        const change = this.upsert(event.agent, false);
        return change ? [change] : [];
      }
      case "removed": {
        const change = this.remove(event.id);
        return change ? [change] : [];
      }
      case "resync":
        return this.reset(event.agents);
      case "notice":
      case "group_notice":
      case "storage_fault":
      case "clock":
      case "outage":
      case "close_asked":
        return [];
    }
  }

  /** Older versions of an agent (a snapshot racing an event) are dropped. */
  private upsert(agent: AgentDto, force: boolean): Change | null {
    const previous = this.agents.get(agent.id);
    if (previous && !force && agent.version <= previous.version) return null;
    if (previous && force && agent.version < previous.version) return null;
    this.agents.set(agent.id, agent);
    if (previous) this.count(previous, -1);
    this.count(agent, +1);
    return { kind: "upsert", agent, previous };
  }

  private remove(id: number): Change | null {
    const agent = this.agents.get(id);
    if (!agent) return null;
    this.agents.delete(id);
    this.count(agent, -1);
    return { kind: "remove", agent };
  }

  private count(agent: AgentDto, delta: number): void {
    this.counts.set(agent.status, (this.counts.get(agent.status) ?? 0) + delta);
    if (attentionRank(agent) !== null) this.attention += delta;
  }
}
