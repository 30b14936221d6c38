import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "./helpers";

/** code-server, Debian's Chromium and playwright-core, installed by test/vscode/install.sh (idempotent; needs root for apt). */
export const HOST = path.join(ROOT, ".vscode-host");

export function installBrowserTools(): void {
  execFileSync("bash", [path.join(ROOT, "test", "vscode", "install.sh")], { env: { ...process.env, PREFIX: HOST }, stdio: ["ignore", "ignore", "inherit"], timeout: 12 * 60_000 });
}

/** playwright-core's Chromium launcher; installed beside code-server, not a dependency of the project. */
export function playwrightChromium(): any {
  return require(path.join(HOST, "node_modules", "playwright-core")).chromium;
}

export const CHROMIUM = {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};
