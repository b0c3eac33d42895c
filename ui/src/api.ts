// The one door to the backend. Nothing else in the UI imports Tauri, so the
// UI runs in a plain browser or a test with another Backend.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AgentDto,
  AuditEntryDto,
  AuditQueryDto,
  BulkActionDto,
  BulkOutcomeDto,
  CloseAction,
  CredentialsStateDto,
  DecisionDto,
  DesktopDto,
  HealthDto,
  HistoryDto,
  IpcError,
  ProtectionChoiceDto,
  QrImageDto,
  SettingChange,
  SettingDto,
  SimAction,
  Snapshot,
  UiEvent,
} from "./bindings";

export interface Backend {
  /** Where the WhatsApp credentials stand (P-7): asked before subscribing, which waits for them. */
  credentialsState(): Promise<CredentialsStateDto>;
  /** Passphrase mode: opens the credentials; `wrong_passphrase` changes nothing. */
  unlockCredentials(passphrase: string): Promise<void>;
  /** The first start without a keyring: the person's choice. */
  chooseCredentialsProtection(choice: ProtectionChoiceDto): Promise<void>;
  /** A snapshot now, then every change through `onEvent`, in order. */
  subscribe(onEvent: (event: UiEvent) => void): Promise<Snapshot>;
  addAgent(name: string): Promise<AgentDto>;
  renameAgent(id: number, name: string): Promise<AgentDto>;
  removeAgent(id: number): Promise<void>;
  connect(id: number): Promise<DecisionDto>;
  disconnect(id: number): Promise<void>;
  requestPairCode(id: number, phone: string): Promise<void>;
  history(id: number, limit: number): Promise<HistoryDto[]>;
  /** The image of the agent's live QR, or null while it shows none: asked for when its `qrKey` changes. */
  qrImage(id: number): Promise<QrImageDto | null>;
  /** The agent's health now, from its last 7 days of history (H-1, H-3). */
  agentHealth(id: number): Promise<HealthDto>;
  getSettings(): Promise<SettingDto[]>;
  updateSettings(changes: SettingChange[]): Promise<SettingDto[]>;
  simulate(id: number, action: SimAction): Promise<void>;
  /** Demo mode: WhatsApp unreachable from this machine for `minutes` (0: reachable again now). */
  simulateUnreachable(minutes: number): Promise<void>;
  /** The outage's next check now (F-2). */
  tryNow(): Promise<void>;
  /** Pause every automatic reconnect (`true`) until resumed (`false`). */
  pauseReconnects(paused: boolean): Promise<void>;
  /** The About line, the tray, what closing the window does, start at login. */
  desktopInfo(): Promise<DesktopDto>;
  /** Start at login on or off; resolves to what the desktop now has. */
  setAutostart(enabled: boolean): Promise<boolean>;
  setCloseAction(action: CloseAction): Promise<void>;
  /** The answer to "quit or keep running?" after a close without a tray. */
  answerClose(keepRunning: boolean, remember: boolean): Promise<void>;
  /** Quit: every connection closes without logging out (P-4). */
  quit(): Promise<void>;
  /** Connect, Disconnect or Remove on a selection: what became of each agent (B-1). */
  bulkAction(action: BulkActionDto, ids: number[]): Promise<BulkOutcomeDto[]>;
  /** The newest audit entries that match the query (B-3). */
  auditLog(query: AuditQueryDto): Promise<AuditEntryDto[]>;
  /** Asks where to save `contents` with the system's save dialog; the file written, or null if cancelled (B-3). */
  saveCsv(fileName: string, contents: string): Promise<string | null>;
}

/** Every failure the backend reports has this shape; anything else is wrapped into it. */
export function asIpcError(err: unknown): IpcError {
  if (typeof err === "object" && err !== null && "kind" in err && "message" in err) {
    const e = err as { kind: unknown; message: unknown };
    return { kind: String(e.kind), message: String(e.message) };
  }
  return { kind: "internal", message: err instanceof Error ? err.message : String(err) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (err) {
    throw asIpcError(err);
  }
}

export const tauriBackend: Backend = {
  credentialsState: () => call("credentials_state"),
  unlockCredentials: (passphrase) => call("unlock_credentials", { passphrase }),
  chooseCredentialsProtection: (choice) => call("choose_credentials_protection", { choice }),
  subscribe(onEvent) {
    // Events come in batches (at most about one a frame while changes pour in), in order.
    const channel = new Channel<UiEvent[]>();
    channel.onmessage = (events) => {
      for (const event of events) onEvent(event);
    };
    return call<Snapshot>("subscribe", { onEvent: channel });
  },
  addAgent: (name) => call("add_agent", { name }),
  renameAgent: (id, name) => call("rename_agent", { id, name }),
  removeAgent: (id) => call("remove_agent", { id }),
  connect: (id) => call("connect_agent", { id }),
  disconnect: (id) => call("disconnect_agent", { id }),
  requestPairCode: (id, phone) => call("request_pair_code", { id, phone }),
  history: (id, limit) => call("agent_history", { id, limit }),
  qrImage: (id) => call("qr_image", { id }),
  agentHealth: (id) => call("agent_health", { id }),
  getSettings: () => call("get_settings"),
  updateSettings: (changes) => call("update_settings", { changes }),
  simulate: (id, action) => call("simulate", { id, action }),
  simulateUnreachable: (minutes) => call("simulate_unreachable", { minutes }),
  tryNow: () => call("try_now"),
  pauseReconnects: (paused) => call("pause_reconnects", { paused }),
  desktopInfo: () => call("desktop_info"),
  setAutostart: (enabled) => call("set_autostart", { enabled }),
  setCloseAction: (action) => call("set_close_action", { action }),
  answerClose: (keepRunning, remember) => call("answer_close", { keepRunning, remember }),
  quit: () => call("quit_app"),
  bulkAction: (action, ids) => call("bulk_action", { action, ids }),
  auditLog: (query) => call("audit_log", { query }),
  saveCsv: (fileName, contents) => call("save_csv", { fileName, contents }),
};
