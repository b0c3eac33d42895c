// Modal dialogs: add, rename, remove, settings. Engine validation errors
// are shown inline; a dialog closes only when the backend accepted.

import { asIpcError } from "../api";
import type { CloseAction, DesktopDto, SettingChange, SettingDto } from "../bindings";
import { settingLabel } from "../format";
import { h } from "./dom";

/** What Tab can reach inside a dialog, in order. */
function focusables(within: HTMLElement): HTMLElement[] {
  const candidates = within.querySelectorAll<HTMLElement>("button, input, select, textarea, a[href], [tabindex]");
  return [...candidates].filter(
    (el) => el.tabIndex >= 0 && !(el as HTMLButtonElement).disabled && !el.closest("[hidden]") && el.getAttribute("tabindex") !== "-1",
  );
}

/**
 * A modal dialog. Focus moves into it and stays there (Tab and Shift+Tab
 * go round its controls); Escape closes it; on closing, focus returns to
 * where it was, so a keyboard user goes on from the same place.
 */
function modal(title: string, ...content: Node[]): { root: HTMLElement; close(): void } {
  return openModal(title, content);
}

/**
 * [`modal`] with a class of its own (`wide`: the audit log, the scan queue)
 * and `onClose`, run however it closes: a button, Escape.
 */
export function openModal(title: string, content: Node[], onClose?: () => void, kind = ""): { root: HTMLElement; close(): void } {
  const dialog = h(
    "div",
    { class: `modal ${kind}`.trim(), role: "dialog", attrs: { "aria-modal": "true", "aria-label": title } },
    h("h2", {}, title),
    ...content,
  );
  const root = h("div", { class: "modal-backdrop" }, dialog);
  const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const close = () => {
    if (!root.isConnected) return;
    root.remove();
    document.removeEventListener("keydown", onKey);
    onClose?.();
    if (returnTo?.isConnected) returnTo.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") close();
    if (e.key !== "Tab") return;
    const reachable = focusables(dialog);
    if (reachable.length === 0) return;
    const [first, last] = [reachable[0], reachable[reachable.length - 1]];
    const inside = dialog.contains(document.activeElement);
    if (e.shiftKey && (!inside || document.activeElement === first)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (!inside || document.activeElement === last)) {
      e.preventDefault();
      first.focus();
    }
  };
  document.addEventListener("keydown", onKey);
  document.body.append(root);
  // The dialogs with a field focus it themselves; the others start on their first control.
  focusables(dialog)[0]?.focus();
  return { root, close };
}

/**
 * A one-field form: `submit` gets the field's text and rejects with an
 * IpcError to keep the dialog open, showing the message under the field.
 */
function fieldDialog(
  title: string,
  label: string,
  input: HTMLInputElement,
  action: string,
  submit: (text: string) => Promise<unknown>,
): HTMLElement {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h(
    "form",
    {},
    h("label", {}, label, input),
    error,
    h("div", { class: "buttons" }, cancel, h("button", { type: "submit", class: "primary" }, action)),
  );
  const dialog = modal(title, form);
  cancel.addEventListener("click", dialog.close);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await submit(input.value);
      dialog.close();
    } catch (err) {
      error.hidden = false;
      error.textContent = asIpcError(err).message;
      input.focus();
    }
  });
  input.focus();
  return dialog.root;
}

/** Asks for a name; `submit` rejects with an IpcError to keep the dialog open. */
export function nameDialog(title: string, initial: string, action: string, submit: (name: string) => Promise<unknown>): HTMLElement {
  const input = h("input", {
    class: "name-input",
    attrs: { type: "text", "aria-label": "Agent name", maxlength: "200", autocomplete: "off" },
  });
  input.value = initial;
  return fieldDialog(title, "Name", input, action, submit);
}

/** Asks for a whole number; `submit` rejects with an IpcError to keep the dialog open. */
export function numberDialog(
  title: string,
  label: string,
  initial: number,
  action: string,
  submit: (value: number) => Promise<unknown>,
): HTMLElement {
  const input = h("input", { class: "number-input", attrs: { type: "number", min: "0", step: "1", "aria-label": label } });
  input.value = String(initial);
  return fieldDialog(title, label, input, action, async (text) => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < 0) {
      throw { kind: "invalid_payload", message: "Enter a whole number of minutes." };
    }
    await submit(value);
  });
}

export function confirmDialog(title: string, message: string, action: string, confirm: () => Promise<unknown>): HTMLElement {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button" }, "Cancel");
  const ok = h("button", { type: "button", class: "danger" }, action);
  const dialog = modal(title, h("p", {}, message), error, h("div", { class: "buttons" }, cancel, ok));
  cancel.addEventListener("click", dialog.close);
  ok.addEventListener("click", async () => {
    try {
      await confirm();
      dialog.close();
    } catch (err) {
      error.hidden = false;
      error.textContent = asIpcError(err).message;
    }
  });
  return dialog.root;
}

/** Shown in the unit people think in: seconds for durations. */
function toDisplay(s: SettingDto): number {
  return s.unit === "ms" ? s.value / 1000 : s.value;
}

function fromDisplay(s: SettingDto, shown: number): number {
  return s.unit === "ms" ? Math.round(shown * 1000) : Math.round(shown);
}

function unitWord(s: SettingDto): string {
  return { ms: "seconds", count: "times", percent: "%", per_second: "per second", days: "days" }[s.unit];
}

/** The desktop side of the settings dialog: it applies each change at once. */
export interface DesktopControls {
  info: DesktopDto;
  setAutostart(enabled: boolean): Promise<boolean>;
  setCloseAction(action: CloseAction): Promise<void>;
}

const CLOSE_CHOICES: [CloseAction, string][] = [
  ["ask", "Ask whether to quit"],
  ["keep_running", "Keep running"],
  ["quit", "Quit"],
];

function desktopSection(desktop: DesktopControls, showError: (text: string) => void): HTMLElement {
  const autostart = h("input", { attrs: { type: "checkbox", name: "autostart" } });
  autostart.checked = desktop.info.autostart;
  autostart.addEventListener("change", async () => {
    try {
      autostart.checked = await desktop.setAutostart(autostart.checked);
    } catch (err) {
      autostart.checked = !autostart.checked;
      showError(asIpcError(err).message);
    }
  });
  const closeAction = h("select", { attrs: { name: "close_action", "aria-label": "When the window is closed" } });
  for (const [value, label] of CLOSE_CHOICES) {
    // With a tray, "ask" hides the window: the tray's menu holds Quit.
    const text = value === "ask" && desktop.info.tray ? "Keep running in the tray" : label;
    closeAction.append(h("option", { attrs: { value } }, text));
  }
  closeAction.value = desktop.info.closeAction;
  closeAction.addEventListener("change", async () => {
    const before = desktop.info.closeAction;
    try {
      await desktop.setCloseAction(closeAction.value as CloseAction);
      desktop.info.closeAction = closeAction.value as CloseAction;
    } catch (err) {
      closeAction.value = before;
      showError(asIpcError(err).message);
    }
  });
  return h(
    "fieldset",
    { class: "desktop" },
    h("legend", {}, "Desktop"),
    h("label", { class: "check" }, autostart, h("span", {}, "Start Switchboard when I log in (in the background)")),
    h("label", { class: "setting" }, h("span", {}, "When the window is closed"), closeAction),
    h("p", { class: "about" }, desktop.info.version),
  );
}

export function settingsDialog(
  settings: SettingDto[],
  save: (changes: SettingChange[]) => Promise<SettingDto[]>,
  desktop?: DesktopControls,
): HTMLElement {
  const fields = settings.map((s) => {
    const input = h("input", {
      attrs: {
        type: "number",
        step: s.unit === "ms" ? "0.1" : "1",
        min: String(toDisplay({ ...s, value: s.min })),
        max: String(toDisplay({ ...s, value: s.max })),
        "aria-label": settingLabel(s.key),
        name: s.key,
      },
    });
    input.value = String(toDisplay(s));
    const range = `${toDisplay({ ...s, value: s.min })} – ${toDisplay({ ...s, value: s.max })} ${unitWord(s)}`;
    return { setting: s, input, row: h("label", { class: "setting" }, h("span", {}, settingLabel(s.key)), input, h("small", {}, range)) };
  });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button" }, "Cancel");
  const showError = (text: string): void => {
    error.hidden = false;
    error.textContent = text;
  };
  // `novalidate`: the engine's message names the allowed range; the browser's bubble would not.
  const form = h(
    "form",
    { class: "settings", attrs: { novalidate: "" } },
    // The desktop's choices first: the ones people look for; the rules' numbers follow.
    ...(desktop ? [desktopSection(desktop, showError)] : []),
    ...fields.map((f) => f.row),
    // The message sits with the buttons, which stay in reach however far the form scrolls.
    h("div", { class: "footer" }, error, h("div", { class: "buttons" }, cancel, h("button", { type: "submit", class: "primary" }, "Save"))),
  );
  const dialog = modal("Settings", form);
  cancel.addEventListener("click", dialog.close);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const changes: SettingChange[] = [];
    for (const { setting: s, input } of fields) {
      const raw = input.value.trim();
      const shown = Number(raw);
      if (raw === "" || !Number.isFinite(shown)) {
        showError(`${settingLabel(s.key)}: enter a number`);
        return;
      }
      const value = fromDisplay(s, shown);
      if (value !== s.value) changes.push({ key: s.key, value });
    }
    try {
      await save(changes);
      dialog.close();
    } catch (err) {
      showError(asIpcError(err).message);
    }
  });
  return dialog.root;
}

/**
 * After the window was closed on a desktop without a tray: quit (every
 * connection closes) or keep running minimised, optionally remembered.
 */
export function closeQuestionDialog(answer: (keepRunning: boolean, remember: boolean) => Promise<void>): HTMLElement {
  const remember = h("input", { attrs: { type: "checkbox", name: "remember" } });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const keep = h("button", { type: "button", class: "primary" }, "Keep running");
  const quit = h("button", { type: "button", class: "danger" }, "Quit");
  const dialog = modal(
    "Quit Switchboard?",
    h(
      "p",
      {},
      "Quitting closes every WhatsApp connection until Switchboard runs again. Kept running, the window is minimised and the connections stay up.",
    ),
    h("label", { class: "check" }, remember, h("span", {}, "Remember my answer (change it in Settings)")),
    error,
    h("div", { class: "buttons" }, quit, keep),
  );
  const choose = (keepRunning: boolean) => async () => {
    try {
      await answer(keepRunning, remember.checked);
      dialog.close();
    } catch (err) {
      error.hidden = false;
      error.textContent = asIpcError(err).message;
    }
  };
  keep.addEventListener("click", choose(true));
  quit.addEventListener("click", choose(false));
  keep.focus();
  return dialog.root;
}
