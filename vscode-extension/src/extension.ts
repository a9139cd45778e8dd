/** Entry point: wires the servers (one per workspace folder), commands, status bar and setting/trust changes together. */
import * as vscode from "vscode";
import { registerCommands } from "./commands";
import { onPythonInterpreterChanged } from "./python";
import { SquasherServers } from "./server";
import { needsRestart, SECTION } from "./settings";
import { createConflictStatus } from "./statusBar";

let servers: SquasherServers | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Squasher", { log: true });
  servers = new SquasherServers(output, context.extensionPath);
  const s = servers;
  context.subscriptions.push(
    output,
    s,
    registerCommands(context, s),
    createConflictStatus(s),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      const enable = `${SECTION}.enable`;
      if (e.affectsConfiguration(enable)) {
        await s.sync(); // servers for folders that were enabled / disabled
      }
      // each folder's own settings: restart only the servers whose folder's settings changed
      for (const server of s.all()) {
        if (server.running && needsRestart((key) => key !== enable && e.affectsConfiguration(key, server.folder?.uri))) {
          void server.restart();
        }
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void s.sync()),
    // djangoFeatures is only sent as true once the workspace is trusted
    vscode.workspace.onDidGrantWorkspaceTrust(() => void s.restart()),
  );
  // not awaited: activating the Python extension must not delay ours
  void onPythonInterpreterChanged(() => {
    for (const server of s.all()) {
      const settings = server.settings;
      if (!settings.interpreter && !settings.path) {
        void server.restart();
      }
    }
  }).then((subscription) => subscription && context.subscriptions.push(subscription));
  await s.sync();
}

export async function deactivate(): Promise<void> {
  await servers?.stop();
  servers = undefined;
}
