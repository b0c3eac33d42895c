// A backend for tests: records calls and answers like the engine would.

import type { Backend } from "../src/api";
import type {
  AgentDto,
  AuditEntryDto,
  AuditQueryDto,
  BlockKindDto,
  BulkActionDto,
  BulkOutcomeDto,
  CloseAction,
  CredentialsStateDto,
  DecisionDto,
  DesktopDto,
  HealthDto,
  HistoryDto,
  ProtectionChoiceDto,
  QrImageDto,
  RuleId,
  SettingChange,
  SettingDto,
  Snapshot,
  StatusDto,
  UiEvent,
} from "../src/bindings";

export const NOW = Date.UTC(2026, 10, 22, 10, 0, 0);

export function agent(id: number, status: StatusDto, extra: Partial<AgentDto> = {}): AgentDto {
  return {
    id,
    name: `Agent ${id}`,
    phone: null,
    status,
    reason: "new agent",
    lastCode: null,
    hasCredentials: false,
    qrKey: null,
    qrExpiresAt: null,
    pairCode: null,
    nextRetryAt: null,
    retryAttempt: 0,
    maxRetries: 5,
    authCooldownUntil: null,
    attemptCooldownUntil: null,
    bannedUntil: null,
    disconnectedAt: null,
    unlinking: false,
    heldSince: null,
    flapping: false,
    banRisk: null,
    queued: false,
    passkey: null,
    connect: { allowed: true, rule: "A-2", block: null, reason: "clean manual disconnect — cooldown bypassed", until: null },
    version: 0,
    ...extra,
  };
}

/** What Connect gets while `block` stands in its way, until `until` when there is an end. */
export function blocked(rule: RuleId, block: BlockKindDto, reason: string, until: number | null): DecisionDto {
  return { allowed: false, rule, block, reason, until };
}

/** The health of an agent connected all along, with nothing over a limit. */
export function health(extra: Partial<HealthDto> = {}): HealthDto {
  const day = 24 * 60 * 60 * 1000;
  return {
    day: { connectedMs: day, coveredMs: day },
    week: { connectedMs: 7 * day, coveredMs: 7 * day },
    disconnects: 0,
    medianRecoveryMs: null,
    lastConnectedAt: NOW,
    recentCloses: 0,
    flapping: false,
    banRisk: { pairings: 0, connects: 0, pairingsOver: false, connectsOver: false },
    ...extra,
  };
}

export class FakeBackend implements Backend {
  calls: string[] = [];
  emit: (event: UiEvent) => void = () => {};
  connectAnswer: DecisionDto = { allowed: true, rule: "A-2", block: null, reason: "ok", until: null };
  historyEntries: HistoryDto[] = [];
  healthAnswer: HealthDto = health();
  /** The agents whose health was asked for, in order (apart from `calls`: it is asked for unprompted). */
  healthAsked: number[] = [];
  addError: { kind: string; message: string } | null = null;

  constructor(public snapshot: Snapshot) {}

  /** The agents as last sent, for the QR images they name. */
  private readonly sent = new Map<number, AgentDto>();

  /** While set, `subscribe` answers only when it resolves (an engine still starting). */
  subscribeWait: Promise<void> | null = null;
  async subscribe(onEvent: (event: UiEvent) => void): Promise<Snapshot> {
    if (this.subscribeWait) await this.subscribeWait;
    for (const a of this.snapshot.agents) this.sent.set(a.id, a);
    this.emit = (event) => {
      if (event.type === "agent") this.sent.set(event.agent.id, event.agent);
      onEvent(event);
    };
    return this.snapshot;
  }
  /** A QR's image is its key, as a data URL: what the panel shows tells which QR it asked for. */
  async qrImage(id: number): Promise<QrImageDto | null> {
    this.calls.push(`qr ${id}`);
    const key = this.sent.get(id)?.qrKey ?? null;
    return key === null ? null : { key, png: `data:image/png;base64,${key}` };
  }
  async addAgent(name: string): Promise<AgentDto> {
    this.calls.push(`add ${name}`);
    if (this.addError) throw this.addError;
    return agent(99, "disconnected", { name });
  }
  async renameAgent(id: number, name: string): Promise<AgentDto> {
    this.calls.push(`rename ${id} ${name}`);
    return agent(id, "disconnected", { name });
  }
  async removeAgent(id: number): Promise<void> {
    this.calls.push(`remove ${id}`);
  }
  async connect(id: number): Promise<DecisionDto> {
    this.calls.push(`connect ${id}`);
    return this.connectAnswer;
  }
  async disconnect(id: number): Promise<void> {
    this.calls.push(`disconnect ${id}`);
  }
  async requestPairCode(id: number, phone: string): Promise<void> {
    this.calls.push(`pair ${id} ${phone}`);
  }
  async history(): Promise<HistoryDto[]> {
    return this.historyEntries;
  }
  async agentHealth(id: number): Promise<HealthDto> {
    this.healthAsked.push(id);
    return this.healthAnswer;
  }
  settings: SettingDto[] = [
    { key: "auth_cooldown_ms", value: 300_000, min: 1_000, max: 86_400_000, unit: "ms" },
    { key: "max_retries", value: 5, min: 1, max: 100, unit: "count" },
    { key: "history_days", value: 90, min: 1, max: 3_650, unit: "days" },
  ];
  async getSettings(): Promise<SettingDto[]> {
    return this.settings;
  }
  async updateSettings(changes: SettingChange[]): Promise<SettingDto[]> {
    this.calls.push(`settings ${JSON.stringify(changes)}`);
    const bad = changes.find((c) => c.key === "max_retries" && c.value < 1);
    if (bad) throw { kind: "invalid_setting", message: `invalid setting: max_retries must be between 1 and 100, got ${bad.value}` };
    return this.settings;
  }
  async simulate(id: number, action: unknown): Promise<void> {
    this.calls.push(`simulate ${id} ${JSON.stringify(action)}`);
  }
  async simulateUnreachable(minutes: number): Promise<void> {
    this.calls.push(`unreachable ${minutes}`);
  }
  async tryNow(): Promise<void> {
    this.calls.push("try now");
  }
  async pauseReconnects(paused: boolean): Promise<void> {
    this.calls.push(paused ? "pause" : "resume");
  }
  desktop: DesktopDto = { version: "Switchboard 0.1.0 (whatsapp-rust 0.7.0)", tray: false, closeAction: "ask", autostart: false };
  async desktopInfo(): Promise<DesktopDto> {
    return { ...this.desktop };
  }
  async setAutostart(enabled: boolean): Promise<boolean> {
    this.calls.push(`autostart ${enabled}`);
    this.desktop.autostart = enabled;
    return enabled;
  }
  async setCloseAction(action: CloseAction): Promise<void> {
    this.calls.push(`close action ${action}`);
    this.desktop.closeAction = action;
  }
  async answerClose(keepRunning: boolean, remember: boolean): Promise<void> {
    this.calls.push(`answer close ${keepRunning ? "keep" : "quit"}${remember ? " remember" : ""}`);
  }
  async quit(): Promise<void> {
    this.calls.push("quit");
  }
  /** What a bulk action answers; by default every agent gets `bulkKind`. */
  bulkKind: BulkOutcomeDto["outcome"] = "connecting";
  bulkAnswer: ((ids: number[]) => BulkOutcomeDto[]) | null = null;
  async bulkAction(action: BulkActionDto, ids: number[]): Promise<BulkOutcomeDto[]> {
    this.calls.push(`bulk ${action} ${ids.join(",")}`);
    return this.bulkAnswer
      ? this.bulkAnswer(ids)
      : ids.map((id) => ({ id, name: `Agent ${id}`, outcome: this.bulkKind, reason: "", until: null }));
  }
  auditEntries: AuditEntryDto[] = [];
  auditQueries: AuditQueryDto[] = [];
  async auditLog(query: AuditQueryDto): Promise<AuditEntryDto[]> {
    this.auditQueries.push(query);
    return this.auditEntries;
  }
  /** The exports saved, by file name; `saveAs` null: the person cancelled. */
  saved: { fileName: string; contents: string }[] = [];
  saveAs: string | null = "/home/staff/export.csv";
  async saveCsv(fileName: string, contents: string): Promise<string | null> {
    this.calls.push(`save ${fileName}`);
    if (this.saveAs !== null) this.saved.push({ fileName, contents });
    return this.saveAs;
  }
  /** Where the credentials stand (P-7); the passphrase that opens them. */
  credentials: CredentialsStateDto = { kind: "ready", protection: "not_needed" };
  passphrase = "correct horse battery";
  /** While set, `credentialsState` answers only when it resolves (a keyring asking for its password). */
  credentialsWait: Promise<void> | null = null;
  async credentialsState(): Promise<CredentialsStateDto> {
    if (this.credentialsWait) await this.credentialsWait;
    return this.credentials;
  }
  async unlockCredentials(passphrase: string): Promise<void> {
    this.calls.push(`unlock ${passphrase}`);
    if (passphrase !== this.passphrase)
      throw { kind: "wrong_passphrase", message: "the passphrase does not open the WhatsApp credentials" };
    this.credentials = { kind: "ready", protection: "passphrase" };
  }
  async chooseCredentialsProtection(choice: ProtectionChoiceDto): Promise<void> {
    this.calls.push(`choose ${choice.kind}`);
    this.credentials = { kind: "ready", protection: choice.kind };
  }
}

export function snapshot(agents: AgentDto[], mode: Snapshot["mode"] = "demo"): Snapshot {
  const modeNote =
    mode === "real"
      ? "Switchboard is not an official WhatsApp client. WhatsApp may restrict or ban accounts that use unofficial clients."
      : null;
  return {
    mode,
    agents,
    settings: [],
    startupError: null,
    dataDir: "/tmp/switchboard",
    modeNote,
    storageFault: null,
    wallAheadMs: 0,
    outage: null,
    outagesLastWeek: 0,
    notices: [],
  };
}

/** The element `selector` finds in `within`; a test fails with the selector when there is none. */
export function find<T extends Element = HTMLElement>(within: ParentNode, selector: string): T {
  const el = within.querySelector<T>(selector);
  if (el === null) throw new Error(`nothing matches ${selector}`);
  return el;
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
