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

/**
 * code-server registers its own service worker (a PWA's, `_static/out/browser/serviceWorker.js`)
 * with scope "/". Its webviews are served from the same origin, so that worker also controls their
 * pages, and VS Code's webview page then waits for "its" worker ("Found unexpected service worker
 * controller") and, now and then, never loads. The tests' browser does not let it register.
 */
export async function withoutCodeServerServiceWorker(context: any): Promise<void> {
  await context.route(/\/_static\/out\/browser\/serviceWorker\.js/, (route: any) => route.fulfill({ status: 404, body: "" }));
}
