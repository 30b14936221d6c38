// The server's one entry (dist/cli.js): a language server when the extension starts it with an LSP
// transport (vscode-languageclient passes --node-ipc, --stdio or --socket=N), else the `refract` CLI.
import { runCli } from "./cli";
import { startLanguageServer } from "./lsp/server";

const args = process.argv.slice(2);
if (args.some((a) => a === "--node-ipc" || a === "--stdio" || a.startsWith("--socket=") || a.startsWith("--clientProcessId"))) startLanguageServer();
else void runCli(args);
