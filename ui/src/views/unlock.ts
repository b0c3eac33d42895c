// The screen before the panel when the WhatsApp credentials are locked
// (P-7): the passphrase asked at each start, or, at the first start
// without a desktop keyring, the choice between a passphrase and keeping
// them unencrypted. Nothing is chosen for the person.

import { asIpcError, type Backend } from "../api";
import type { CredentialsStateDto } from "../bindings";
import { h } from "./dom";

/** The shortest passphrase the backend accepts; checked here too, to say so before a round trip. */
export const MIN_PASSPHRASE_CHARS = 8;

type Waiting = Extract<CredentialsStateDto, { kind: "needs_passphrase" | "needs_choice" }>;

/** Shows the screen for `state` in `root`; resolves once the credentials are open. */
export function credentialsScreen(root: HTMLElement, backend: Backend, state: Waiting): Promise<void> {
  return new Promise((opened) => {
    const screen = state.kind === "needs_passphrase" ? unlockForm(backend, opened) : choiceForms(backend, state.keyringProblem, opened);
    root.replaceChildren(screen);
    screen.querySelector<HTMLInputElement>("input")?.focus();
  });
}

function passwordField(label: string, name: string, autocomplete: string): { field: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { attrs: { type: "password", name, autocomplete, "aria-required": "true" } });
  const field = h("label", { class: "field" }, h("span", {}, label), input);
  return { field, input };
}

function errorLine(): HTMLElement {
  return h("p", { class: "form-error", role: "alert" });
}

/** The whole screen: its title, then what it asks. */
function screen(title: string, ...content: HTMLElement[]): HTMLElement {
  return h(
    "main",
    { class: "credentials-screen", attrs: { "aria-labelledby": "credentials-title" } },
    h("h1", { attrs: { id: "credentials-title" } }, title),
    ...content,
  );
}

/**
 * Sends a form's answer: the button waits meanwhile; success opens the
 * panel, a refusal is said under the form (`words` may put it better).
 */
function send(
  answer: Promise<void>,
  button: HTMLButtonElement,
  error: HTMLElement,
  opened: () => void,
  words: (kind: string, message: string) => string = (_kind, message) => message,
  afterRefusal: () => void = () => {},
): void {
  button.disabled = true;
  error.textContent = "";
  answer.then(opened).catch((err) => {
    const e = asIpcError(err);
    error.textContent = words(e.kind, e.message);
    button.disabled = false;
    afterRefusal();
  });
}

/** Passphrase mode: asked at each start. A wrong one is said, and the field cleared. */
function unlockForm(backend: Backend, opened: () => void): HTMLElement {
  const { field, input } = passwordField("Passphrase", "passphrase", "current-password");
  const error = errorLine();
  const button = h("button", { type: "submit", class: "primary" }, "Unlock");
  const form = h("form", { class: "unlock-form" }, field, error, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const words = (kind: string, message: string) =>
      kind === "wrong_passphrase" ? "That passphrase does not open the credentials. Nothing was changed; try again." : message;
    send(backend.unlockCredentials(input.value), button, error, opened, words, () => {
      input.value = "";
      input.focus();
    });
  });
  return screen(
    "Unlock the WhatsApp credentials",
    h(
      "p",
      {},
      "The linked agents' WhatsApp keys on this computer are encrypted under the passphrase chosen when Switchboard was set up. Type it to start.",
    ),
    form,
  );
}

/** The first start without a keyring: a passphrase, or explicitly no encryption. */
function choiceForms(backend: Backend, keyringProblem: string, opened: () => void): HTMLElement {
  const first = passwordField("Passphrase", "passphrase", "new-password");
  const repeat = passwordField("Repeat the passphrase", "repeat", "new-password");
  const passError = errorLine();
  const passButton = h("button", { type: "submit", class: "primary" }, "Encrypt with this passphrase");
  const passForm = h("form", { class: "choose-passphrase" }, first.field, repeat.field, passError, passButton);
  passForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const passphrase = first.input.value;
    if (passphrase.length < MIN_PASSPHRASE_CHARS) {
      passError.textContent = `The passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters.`;
      first.input.focus();
      return;
    }
    if (passphrase !== repeat.input.value) {
      passError.textContent = "The two passphrases differ.";
      repeat.input.value = "";
      repeat.input.focus();
      return;
    }
    send(backend.chooseCredentialsProtection({ kind: "passphrase", passphrase }), passButton, passError, opened);
  });

  const understood = h("input", { attrs: { type: "checkbox", name: "understood" } });
  const plainError = errorLine();
  const plainButton = h("button", { type: "submit", class: "danger" }, "Keep them unencrypted");
  const plainForm = h(
    "form",
    { class: "choose-unencrypted" },
    h(
      "label",
      { class: "check" },
      understood,
      h("span", {}, "I understand that anyone who copies Switchboard's data folder can use every linked WhatsApp account."),
    ),
    plainError,
    plainButton,
  );
  plainForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!understood.checked) {
      plainError.textContent = "Tick the box first: this choice leaves the accounts' keys readable on disk.";
      understood.focus();
      return;
    }
    send(backend.chooseCredentialsProtection({ kind: "unencrypted" }), plainButton, plainError, opened);
  });

  return screen(
    "Protect the WhatsApp credentials",
    h(
      "p",
      {},
      "Each linked agent's WhatsApp keys are kept on this computer. Switchboard encrypts them with a key kept in the desktop keyring, but no keyring answered: ",
      h("span", { class: "keyring-problem" }, keyringProblem),
      ".",
    ),
    h("h2", {}, "Encrypt them with a passphrase"),
    h("p", {}, "Switchboard asks for it at each start. It cannot be recovered: if it is lost, every agent must be linked again."),
    passForm,
    h("h2", {}, "Or keep them unencrypted"),
    h("p", {}, "Not recommended. The window warns of it for as long as it lasts."),
    plainForm,
  );
}
