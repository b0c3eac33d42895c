// CSV exports of the audit log and of an agent's timeline (B-3), written
// for spreadsheets: RFC 4180 quoting, CRLF line ends, and no formulas.

import type { AuditEntryDto, HistoryDto } from "./bindings";
import { formatTime } from "./format";

/**
 * A spreadsheet runs a cell that starts with one of these as a formula
 * (`=HYPERLINK(…)` in an agent's name, say). Such a cell gets a leading
 * apostrophe: shown as text, never run.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: text as is, neutralised if it would be a formula, quoted if it holds a separator, a quote or a line break. */
export function csvCell(value: string | number | null): string {
  let text = value === null ? "" : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows of cells as CSV text, each line ended by CRLF. */
export function toCsv(rows: (string | number | null)[][]): string {
  return rows.map((row) => `${row.map(csvCell).join(",")}\r\n`).join("");
}

/** The audit log's entries as CSV, one line each, agents joined by "; " with their part of a bulk outcome. */
export function auditCsv(entries: AuditEntryDto[]): string {
  const header = ["time", "user", "action", "agents", "outcome", "detail"];
  const lines = entries.map((e) => [
    formatTime(e.at),
    e.osUser,
    e.action,
    e.agents.map((a) => (a.outcome ? `${a.name} (${a.outcome})` : a.name)).join("; "),
    e.outcome,
    e.detail,
  ]);
  return toCsv([header, ...lines]);
}

/** An agent's timeline as CSV, as the detail panel lists it (O-2). */
export function timelineCsv(entries: HistoryDto[]): string {
  const header = ["time", "from", "to", "code", "reason", "trigger", "rule"];
  const lines = entries.map((e) => [formatTime(e.at), e.from, e.to, e.code, e.reason, e.trigger, e.rule ?? "?"]);
  return toCsv([header, ...lines]);
}
