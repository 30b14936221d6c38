// The server (dist/server.js, which the bin dist/cli.js runs): a language server when the
// extension starts it with an LSP transport (vscode-languageclient passes --node-ipc, --stdio,
// --socket=N or --pipe=NAME; other clients also write --socket N and --pipe NAME, which the
// protocol library reads too), else the `refract` CLI.
// Each mode is loaded only when chosen: the CLI does not pay for the LSP libraries, nor the reverse.
const args = process.argv.slice(2);
if (args.some((a) => /^--(node-ipc|stdio)$|^--(socket|pipe|clientProcessId)(=|$)/.test(a))) {
  (require("./lsp/server") as typeof import("./lsp/server")).startLanguageServer();
} else {
  void (require("./cli") as typeof import("./cli")).runCli(args);
}
