// The audit log (B-3): who did what to which agents, and what came of it,
// newest first, filtered by agent, action and time; exported to CSV.

import type { Backend } from "../api";
import { asIpcError } from "../api";
import type { AgentDto, AuditActionDto, AuditEntryDto, AuditQueryDto } from "../bindings";
import { auditCsv } from "../csv";
import { formatTime } from "../format";
import { openModal } from "./dialogs";
import { h, setText } from "./dom";

/** The most entries the view lists; the export takes up to the backend's limit. */
export const SHOWN_ENTRIES = 500;
const EXPORTED_ENTRIES = 5_000;

export const AUDIT_ACTION_LABELS: Record<AuditActionDto, string> = {
  add: "Add",
  rename: "Rename",
  remove: "Remove",
  connect: "Connect",
  disconnect: "Disconnect",
  pair_code: "Pairing code",
  bulk_connect: "Bulk connect",
  bulk_disconnect: "Bulk disconnect",
  bulk_remove: "Bulk remove",
  settings: "Settings",
  pause_reconnects: "Pause reconnects",
  resume_reconnects: "Resume reconnects",
  try_now: "Try now",
  simulate: "Simulation (demo)",
  unknown: "Other",
};

/** How many agents a row names before "and N more". */
const NAMED_AGENTS = 3;

export interface AuditHost {
  backend: Backend;
  /** Today's agents, for the agent filter (a removed agent's entries are found under "All agents"). */
  agents(): AgentDto[];
  toast(message: string): void;
}

/** `datetime-local`'s value as ms since the epoch, in this computer's time zone; null when empty or unreadable. */
export function localTime(value: string): number | null {
  if (value === "") return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** The filters as a query of the backend's. */
export function auditQuery(agent: string, action: string, since: string, until: string, limit: number): AuditQueryDto {
  const query: AuditQueryDto = { limit };
  if (agent !== "") query.agent = Number(agent);
  if (action !== "") query.action = action as AuditActionDto;
  const from = localTime(since);
  const to = localTime(until);
  if (from !== null) query.since = from;
  if (to !== null) query.until = to;
  return query;
}

/** The agents of an entry in a few words: "Sales 1, Sales 2, Sales 3 and 38 more". */
export function agentsText(entry: AuditEntryDto): string {
  const names = entry.agents.slice(0, NAMED_AGENTS).map((a) => a.name);
  const more = entry.agents.length - names.length;
  return more > 0 ? `${names.join(", ")} and ${more} more` : names.join(", ");
}

export function auditDialog(host: AuditHost): HTMLElement {
  const agent = h(
    "select",
    { class: "audit-agent", attrs: { "aria-label": "Agent" } },
    h("option", { attrs: { value: "" } }, "All agents"),
  );
  const byName = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
  for (const a of [...host.agents()].sort((x, y) => byName.compare(x.name, y.name))) {
    agent.append(h("option", { attrs: { value: String(a.id) } }, a.name));
  }
  const action = h(
    "select",
    { class: "audit-action", attrs: { "aria-label": "Action" } },
    h("option", { attrs: { value: "" } }, "All actions"),
  );
  for (const [value, label] of Object.entries(AUDIT_ACTION_LABELS)) {
    if (value !== "unknown") action.append(h("option", { attrs: { value } }, label));
  }
  const since = h("input", { class: "audit-since", attrs: { type: "datetime-local", "aria-label": "From" } });
  const until = h("input", { class: "audit-until", attrs: { type: "datetime-local", "aria-label": "Until" } });
  const count = h("p", { class: "audit-count", role: "status" });
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit log, newest first"),
    h(
      "thead",
      {},
      h("tr", {}, ...["Time", "User", "Action", "Agents", "Outcome", "Detail"].map((t) => h("th", { attrs: { scope: "col" } }, t))),
    ),
    body,
  );
  const exportButton = h("button", { type: "button", class: "audit-export" }, "Export CSV…");
  const close = h("button", { type: "button", class: "primary" }, "Close");
  const query = (limit: number) => auditQuery(agent.value, action.value, since.value, until.value, limit);
  let asked = 0;
  const load = async () => {
    const mine = ++asked;
    try {
      const entries = await host.backend.auditLog(query(SHOWN_ENTRIES));
      if (mine !== asked) return;
      body.replaceChildren(...entries.map(entryRow));
      setText(
        count,
        entries.length === 0
          ? "No entry matches."
          : entries.length === SHOWN_ENTRIES
            ? `The newest ${SHOWN_ENTRIES} entries; narrow the filters or export for more.`
            : `${entries.length} ${entries.length === 1 ? "entry" : "entries"}.`,
      );
    } catch (err) {
      setText(count, asIpcError(err).message);
    }
  };
  for (const control of [agent, action, since, until]) control.addEventListener("change", load);
  exportButton.addEventListener("click", async () => {
    try {
      const entries = await host.backend.auditLog(query(EXPORTED_ENTRIES));
      const day = formatTime(Date.now()).slice(0, 10);
      const saved = await host.backend.saveCsv(`switchboard-audit-${day}.csv`, auditCsv(entries));
      if (saved !== null) host.toast(`Saved ${entries.length === 1 ? "1 entry" : `${entries.length} entries`} to ${saved}`);
    } catch (err) {
      host.toast(asIpcError(err).message);
    }
  });
  const filters = h(
    "div",
    { class: "audit-filters" },
    h("label", {}, "Agent", agent),
    h("label", {}, "Action", action),
    h("label", {}, "From", since),
    h("label", {}, "Until", until),
  );
  const dialog = openModal(
    "Audit log",
    [filters, count, h("div", { class: "audit-scroll" }, table), h("div", { class: "buttons" }, exportButton, close)],
    undefined,
    "wide audit",
  );
  close.addEventListener("click", dialog.close);
  void load();
  return dialog.root;
}

function entryRow(entry: AuditEntryDto): HTMLElement {
  const agents = h("td", { class: "agents" }, agentsText(entry));
  if (entry.agents.length > NAMED_AGENTS) agents.title = entry.agents.map((a) => a.name).join(", ");
  return h(
    "tr",
    { dataset: { action: entry.action } },
    h("td", { class: "time" }, formatTime(entry.at)),
    h("td", { class: "user" }, entry.osUser),
    h("td", {}, AUDIT_ACTION_LABELS[entry.action]),
    agents,
    h("td", {}, entry.outcome),
    h("td", { class: "detail-cell" }, entry.detail),
  );
}
