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

/** Passphrase mode: asked at each start. A wrong one is said, and the field cleared. */
function unlockForm(backend: Backend, opened: () => void): HTMLElement {
  const { field, input } = passwordField("Passphrase", "passphrase", "current-password");
  const error = errorLine();
  const button = h("button", { type: "submit", class: "primary" }, "Unlock");
  const form = h("form", { class: "unlock-form" }, field, error, button);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    button.disabled = true;
    error.textContent = "";
    backend
      .unlockCredentials(input.value)
      .then(() => opened())
      .catch((err) => {
        const e = asIpcError(err);
        error.textContent =
          e.kind === "wrong_passphrase" ? "That passphrase does not open the credentials. Nothing was changed; try again." : e.message;
        input.value = "";
        input.focus();
        button.disabled = false;
      });
  });
  return h(
    "main",
    { class: "credentials-screen", attrs: { "aria-labelledby": "credentials-title" } },
    h("h1", { attrs: { id: "credentials-title" } }, "Unlock the WhatsApp credentials"),
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
    passButton.disabled = true;
    backend
      .chooseCredentialsProtection({ kind: "passphrase", passphrase })
      .then(() => opened())
      .catch((err) => {
        passError.textContent = asIpcError(err).message;
        passButton.disabled = false;
      });
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
    plainButton.disabled = true;
    backend
      .chooseCredentialsProtection({ kind: "unencrypted" })
      .then(() => opened())
      .catch((err) => {
        plainError.textContent = asIpcError(err).message;
        plainButton.disabled = false;
      });
  });

  return h(
    "main",
    { class: "credentials-screen", attrs: { "aria-labelledby": "credentials-title" } },
    h("h1", { attrs: { id: "credentials-title" } }, "Protect the WhatsApp credentials"),
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
