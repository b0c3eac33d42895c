// Pure formatting: what a person reads for an agent at a given moment.

import type { AgentDto, BanRiskDto, BlockKindDto, DecisionDto, HealthDto, OutageDto, StatusDto, UptimeDto } from "./bindings";

/** "3:42" for minutes and seconds, "1:02:03" past an hour; rounds up so 0:00 never shows early. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export const STATUS_LABELS: Record<StatusDto, string> = {
  disconnected: "Disconnected",
  connecting: "Connecting",
  qr_pending: "Scan QR",
  connected: "Connected",
  reconnecting: "Reconnecting",
  conflict: "Conflict",
  failed: "Failed",
  unreadable: "Unreadable",
};

export const ALL_STATUSES: StatusDto[] = [
  "connected",
  "qr_pending",
  "connecting",
  "reconnecting",
  "conflict",
  "failed",
  "disconnected",
  "unreadable",
];

/** The deadline a row counts down to, with what it means. */
export interface Countdown {
  /** Words before the time ("QR expires in"). */
  label: string;
  until: number;
}

/**
 * The words before the time for each kind of block; `null` where no deadline
 * is worth counting down (an attempt in flight ends by itself, and an agent
 * not waiting for a retry has nothing to wait for).
 */
export const BLOCK_LABELS: Record<BlockKindDto, string | null> = {
  in_progress: null,
  attempt_cooldown: "Connect blocked — wait",
  auth_cooldown: "Connect blocked — cooldown",
  ban: "Connect blocked — ban ends in",
  not_retrying: null,
};

/**
 * Which deadline matters most for this agent now: the QR expiry while
 * pairing, the next retry while reconnecting, otherwise the end of whatever
 * blocks Connect, named by the engine's typed block kind.
 */
export function countdownOf(agent: AgentDto): Countdown | null {
  if (agent.status === "qr_pending" && agent.qrExpiresAt !== null) {
    return { label: "QR expires in", until: agent.qrExpiresAt };
  }
  if (agent.status === "reconnecting" && agent.nextRetryAt !== null) {
    return { label: `Retry ${agent.retryAttempt} of ${agent.maxRetries} in`, until: agent.nextRetryAt };
  }
  const { block, until } = agent.connect;
  const label = block === null ? null : BLOCK_LABELS[block];
  if (label === null || until === null) return null;
  return { label, until };
}

/**
 * The line under the name: the engine's reason, with the live countdown where
 * one runs. The reason is shown as it is: the engine already names the close
 * code in it when a close caused the status.
 */
export function statusLine(agent: AgentDto, now: number): string {
  const countdown = countdownOf(agent);
  // An old device still leaving the phone (D-1) is worth a glance, whatever the status.
  const said = agent.unlinking ? `${agent.reason} · unlinking from the phone…` : agent.reason;
  // A bulk connect admitted it; it starts at its turn (B-1, R-5).
  const reason = agent.queued ? `waiting its turn to connect · ${said}` : said;
  if (!countdown) return reason;
  return `${countdown.label} ${formatCountdown(countdown.until - now)} · ${reason}`;
}

/**
 * Why Connect is refused, with the time left drawn from `until` at `now`
 * ("… — wait for the auth cooldown (3:42 left)"); `null` when it is allowed.
 * The engine's reason never holds a time, so this one stays current when it
 * is redrawn on every tick.
 */
export function blockedText(decision: DecisionDto, now: number): string | null {
  if (decision.allowed) return null;
  if (decision.until === null) return decision.reason;
  return `${decision.reason} (${formatCountdown(decision.until - now)} left)`;
}

/** 0 → 1 as a deadline approaches, from when the UI first saw it. */
export function progress(seenAt: number, until: number, now: number): number {
  const total = until - seenAt;
  if (total <= 0) return 1;
  return Math.min(1, Math.max(0, (now - seenAt) / total));
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * Why an agent needs attention (H-4), most urgent first: 0 failed, 1
 * conflict, 2 held by an outage, 3 flapping, 4 at ban risk; `null` when it
 * does not. The "needs attention" order sorts by it.
 */
export function attentionRank(agent: AgentDto): number | null {
  if (agent.status === "failed") return 0;
  if (agent.status === "conflict") return 1;
  if (agent.heldSince !== null) return 2;
  if (agent.flapping) return 3;
  if (agent.banRisk !== null) return 4;
  return null;
}

/**
 * The ban-risk warning (H-3), naming what is over its setting:
 * "4 new links and 12 connects in 24 h — WhatsApp may flag this number".
 */
export function banRiskText(risk: BanRiskDto): string {
  const parts: string[] = [];
  if (risk.pairingsOver) parts.push(risk.pairings === 1 ? "1 new link" : `${risk.pairings} new links`);
  if (risk.connectsOver) parts.push(risk.connects === 1 ? "1 connect" : `${risk.connects} connects`);
  return `${parts.join(" and ")} in 24 h — WhatsApp may flag this number`;
}

/**
 * The outage banner's words (F-2): since when, why, how many agents wait,
 * and the next probe with its countdown (or that one runs now).
 */
export function outageText(outage: OutageDto, waiting: number, now: number): string {
  const who = waiting === 1 ? "1 agent waits" : `${waiting} agents wait`;
  if (outage.paused) return `Automatic reconnects paused since ${formatClock(outage.since, now)}. ${who} until you resume them.`;
  const probe = outage.nextProbeAt === null ? "checking now…" : `next check in ${formatCountdown(outage.nextProbeAt - now)}`;
  return `WhatsApp unreachable since ${formatClock(outage.since, now)}: ${outage.cause}. ${who} for it; ${probe}`;
}

/** The whole percent of the covered time spent connected, rounded down so 100 means all of it; null before any time is covered. */
export function connectedPercent(uptime: UptimeDto): number | null {
  if (uptime.coveredMs <= 0) return null;
  return Math.floor((uptime.connectedMs * 100) / uptime.coveredMs);
}

/** "12 s", "4 min", "2 h 5 min": a duration as people say it, rounded to its largest units. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${rest} min`;
}

/** "14:02" for a time today, "2026-11-20 14:02" for another day. */
export function formatClock(ms: number, now: number): string {
  const [day, time] = formatTime(ms).split(" ");
  return day === formatTime(now).split(" ")[0] ? time.slice(0, 5) : `${day} ${time.slice(0, 5)}`;
}

/** One line of the detail panel's health section; a warning stands out. */
export interface HealthLine {
  text: string;
  warning: boolean;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * The health section of the detail panel: H-1's four figures, then H-3's
 * warnings for the counts above their settings. `connectedNow` is the
 * agent's status as last published, fresher than the figures.
 */
export function healthLines(health: HealthDto, connectedNow: boolean, now: number): HealthLine[] {
  const line = (text: string, warning = false): HealthLine => ({ text, warning });
  const day = connectedPercent(health.day);
  const week = connectedPercent(health.week);
  const lines = [
    line(day === null || week === null ? "Connected time: no history yet" : `Connected ${day} % of the last 24 h · ${week} % of 7 days`),
    line(`${plural(health.disconnects, "disconnect", "disconnects")} in 24 h`),
    line(
      health.medianRecoveryMs === null
        ? "No recovery from a drop in 7 days"
        : `Recovers in ${formatDuration(health.medianRecoveryMs)} (median, 7 days)`,
    ),
  ];
  if (connectedNow) lines.push(line("Connected now"));
  else if (health.lastConnectedAt === null) lines.push(line("Not connected in the last 7 days"));
  else lines.push(line(`Last connected ${formatClock(health.lastConnectedAt, now)}`));
  const risk = health.banRisk;
  const flag = "WhatsApp may flag this number";
  if (risk.pairingsOver) lines.push(line(`${plural(risk.pairings, "new link", "new links")} in 24 h — ${flag}`, true));
  if (risk.connectsOver) lines.push(line(`${plural(risk.connects, "manual connect", "manual connects")} in 24 h — ${flag}`, true));
  return lines;
}

/** A settings value in the unit people think in. */
export function settingLabel(key: string): string {
  const labels: Record<string, string> = {
    auth_cooldown_ms: "Auth cooldown after 401/440",
    attempt_cooldown_ms: "Gap between two manual connects",
    qr_lifetime_ms: "QR lifetime",
    backoff_base_ms: "First retry delay",
    backoff_cap_ms: "Longest retry delay",
    max_retries: "Retries before giving up",
    jitter_percent: "Retry jitter (±%)",
    start_rate_per_s: "Automatic starts per second",
    connect_timeout_ms: "Connect timeout",
    history_days: "Days of history kept",
    notice_window_ms: "Fatal errors told as one within",
    outage_share_percent: "Share of linked agents dropping that means an outage (%)",
    outage_window_ms: "Outage: drops this close together",
    outage_min_agents: "Outage: fewest agents dropping",
    flap_threshold: "Drops in 10 min that mark an agent flapping",
    risk_pairings_per_day: "New links per agent per day before a ban-risk warning",
    risk_connects_per_day: "Manual connects per agent per day before a ban-risk warning",
  };
  return labels[key] ?? key;
}
