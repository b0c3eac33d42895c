// Entry point in the app window: the real backend, the real clock.

import { tauriBackend } from "./api";
import { App } from "./app";

const root = document.getElementById("app");
if (root) void new App(tauriBackend, root).start();
