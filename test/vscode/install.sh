#!/usr/bin/env bash
# Installs a real VS Code for the integration tests (test/integration/): code-server 4.100.3 (the VS Code
# 1.100.3 server and web workbench, from npm), Debian's chromium, and playwright-core to drive it. Only the
# npm registry and Debian's archive are reachable here, so code-server's own install scripts (which download
# ripgrep from GitHub) are skipped and its native modules rebuilt. PREFIX defaults to ./.vscode-host (git
# ignores it); a second run with everything in place does nothing. Needs root for apt.
set -euo pipefail
export XDG_CONFIG_HOME=${XDG_CONFIG_HOME:-$(mktemp -d)}   # else code-server writes ~/.config/code-server
CS_VERSION=${CS_VERSION:-4.100.3}      # newest code-server whose engines.node is 20
PREFIX=${PREFIX:-$PWD/.vscode-host}
t() { echo "[$(date +%T)] $*"; }
if [ -x "$PREFIX/node_modules/.bin/code-server" ] && [ -x /usr/bin/chromium ] && [ -d "$PREFIX/node_modules/playwright-core" ]; then
  t "already installed: $("$PREFIX/node_modules/.bin/code-server" --version | head -1)"; exit 0
fi
t "apt"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium libkrb5-dev pkg-config ripgrep g++ make python3 >/dev/null
mkdir -p "$PREFIX" && cd "$PREFIX"
[ -f package.json ] || echo '{"name":"vscode-host","private":true}' > package.json
t "npm i code-server (scripts off: its postinstall needs github.com for ripgrep)"
npm i --ignore-scripts --no-audit --no-fund "code-server@$CS_VERSION" playwright-core@1 >/dev/null
npm rebuild argon2 >/dev/null                       # code-server's own native dep (falls back to node-gyp build)
cd node_modules/code-server/lib/vscode
t "VS Code server deps"
npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
mkdir -p node_modules/@vscode/ripgrep/bin && cp /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg  # skips its download
t "native modules (node-pty, spdlog, kerberos, watchdog...)"
npm_config_yes=true npm rebuild >/dev/null          # node-pty's postinstall runs `npx node-gyp`
ln -sf code-linux.sh bin/remote-cli/code-server
ln -sf browser-linux.sh bin/helpers/browser.sh
(cd extensions && npm install --omit=dev --no-audit --no-fund >/dev/null)
t "done: $("$PREFIX/node_modules/.bin/code-server" --version | head -1)"
