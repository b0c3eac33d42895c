// P-7: the screen before the panel while the WhatsApp credentials are locked.

import { beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/app";
import { agent, FakeBackend, find, flush, snapshot } from "./fake";

let root: HTMLElement;

beforeEach(() => {
  document.body.replaceChildren();
  root = document.createElement("div");
  document.body.append(root);
});

function startApp(backend: FakeBackend): Promise<void> {
  return new App(
    backend,
    root,
    () => Date.now(),
    (apply) => apply(),
  ).start();
}

/** A panel whose credentials wait for `credentials`, started and on its first screen. */
async function lockedApp(credentials: FakeBackend["credentials"], agents = snapshot([], "real")) {
  const backend = new FakeBackend(agents);
  backend.credentials = credentials;
  const started = startApp(backend);
  await flush();
  return { backend, started };
}

function type(selector: string, value: string): void {
  const input = find<HTMLInputElement>(root, selector);
  input.value = value;
}

function submit(selector: string): void {
  find<HTMLFormElement>(root, selector).requestSubmit();
}

describe("P-7: locked credentials", () => {
  it("asks for the passphrase first; a wrong one is said and the panel waits", async () => {
    const { backend, started } = await lockedApp({ kind: "needs_passphrase" }, snapshot([agent(1, "connected")], "real"));
    expect(find(root, "h1").textContent).toBe("Unlock the WhatsApp credentials");
    expect(document.activeElement).toBe(find(root, "input[name=passphrase]"));
    expect(root.querySelector("li.row")).toBeNull();

    type("input[name=passphrase]", "wrong horse battery");
    submit("form.unlock-form");
    await flush();
    expect(find(root, ".form-error").textContent).toContain("does not open the credentials");
    expect(find<HTMLInputElement>(root, "input[name=passphrase]").value).toBe("");
    expect(root.querySelector("li.row")).toBeNull();

    // Ctrl+Q quits from here too: nothing runs yet.
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "q", ctrlKey: true }));
    await flush();
    expect(backend.calls).toContain("quit");

    type("input[name=passphrase]", "correct horse battery");
    submit("form.unlock-form");
    await started;
    expect(backend.calls.filter((c) => c.startsWith("unlock"))).toEqual(["unlock wrong horse battery", "unlock correct horse battery"]);
    expect(root.querySelector('li.row[data-id="1"]')).not.toBeNull();
  });

  it("without a keyring, asks how to keep them: a passphrase typed twice, or no encryption ticked as understood", async () => {
    const { backend, started } = await lockedApp({ kind: "needs_choice", keyringProblem: "no Secret Service on the session bus" });
    expect(find(root, "h1").textContent).toBe("Protect the WhatsApp credentials");
    expect(find(root, ".keyring-problem").textContent).toBe("no Secret Service on the session bus");

    type("input[name=passphrase]", "short");
    submit("form.choose-passphrase");
    expect(find(root, "form.choose-passphrase .form-error").textContent).toContain("at least 8 characters");
    type("input[name=passphrase]", "correct horse battery");
    type("input[name=repeat]", "correct horse batterx");
    submit("form.choose-passphrase");
    expect(find(root, "form.choose-passphrase .form-error").textContent).toBe("The two passphrases differ.");

    submit("form.choose-unencrypted");
    expect(find(root, "form.choose-unencrypted .form-error").textContent).toContain("Tick the box first");
    expect(backend.calls).toEqual([]);

    find<HTMLInputElement>(root, "input[name=understood]").checked = true;
    submit("form.choose-unencrypted");
    await started;
    expect(backend.calls).toEqual(["choose unencrypted"]);
    expect(root.querySelector("ul.rows")).not.toBeNull();
  });

  it("a passphrase chosen and repeated opens them", async () => {
    const { backend, started } = await lockedApp({ kind: "needs_choice", keyringProblem: "no keyring" });
    type("input[name=passphrase]", "correct horse battery");
    type("input[name=repeat]", "correct horse battery");
    submit("form.choose-passphrase");
    await started;
    expect(backend.calls).toEqual(["choose passphrase"]);
  });

  it("says what it waits for while the keyring and then the engine take their time, then opens the panel", async () => {
    vi.useFakeTimers();
    try {
      const backend = new FakeBackend(snapshot([agent(1, "connected")], "real"));
      let answer = () => {};
      backend.credentialsWait = new Promise((resolve) => {
        answer = resolve;
      });
      const started = startApp(backend);
      await vi.advanceTimersByTimeAsync(100);
      expect(root.textContent).toBe("");
      await vi.advanceTimersByTimeAsync(500);
      expect(find(root, "[role=status]").textContent).toContain("If the desktop keyring asks for its password");
      // Then the engine starts (encrypting an earlier version's stores, say): that is said too.
      let engineStarted = () => {};
      backend.subscribeWait = new Promise((resolve) => {
        engineStarted = resolve;
      });
      answer();
      await vi.advanceTimersByTimeAsync(600);
      expect(find(root, "[role=status]").textContent).toBe("Opening the agents…");
      engineStarted();
      await started;
      expect(root.querySelector('li.row[data-id="1"]')).not.toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("credentials that cannot be opened are a fatal screen with the reason; nothing subscribes", async () => {
    const backend = new FakeBackend(snapshot([agent(1, "connected")], "real"));
    backend.credentials = {
      kind: "failed",
      error: { kind: "key_missing", message: "the desktop keyring has no key for these WhatsApp credentials" },
    };
    await startApp(backend);
    expect(find(root, ".fatal h1").textContent).toBe("The WhatsApp credentials cannot be opened");
    expect(find(root, ".fatal p").textContent).toContain("no key");
    expect(root.querySelector("li.row")).toBeNull();
  });

  it("shows each lasting notice as a banner (unencrypted credentials, an old WhatsApp Web version)", async () => {
    const snap = snapshot([], "real");
    snap.notices = ["The WhatsApp credentials are stored unencrypted", "Switchboard could not ask WhatsApp Web"];
    await startApp(new FakeBackend(snap));
    const banners = [...root.querySelectorAll(".banner.alert .text")].map((b) => b.textContent);
    expect(banners).toEqual(snap.notices);
  });
});
