// Bundles the UI into dist/ for Tauri to embed: one script, one stylesheet, one page.

import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  format: "esm",
  target: "es2022",
  outfile: "dist/main.js",
  sourcemap: false,
  minify: true,
  logLevel: "warning",
});
copyFileSync("index.html", "dist/index.html");
copyFileSync("styles.css", "dist/styles.css");
