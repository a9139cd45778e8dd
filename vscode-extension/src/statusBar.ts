/** Status-bar item with the number of migration conflicts; clicking it opens the Problems panel. */
import * as vscode from "vscode";
import { countConflicts, ServerCommands, statusText } from "./model";
import type { SquasherServers } from "./server";

export function createConflictStatus(servers: SquasherServers): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("squasher.conflicts", vscode.StatusBarAlignment.Left, 50);
  item.name = "Squasher: migration conflicts";
  item.command = "workbench.actions.view.problems";
  let timer: NodeJS.Timeout | undefined;

  const fromDiagnostics = (): number =>
    countConflicts(vscode.languages.getDiagnostics().map(([uri, diagnostics]) => [uri.fsPath, diagnostics] as const));

  const update = async (): Promise<void> => {
    let count = fromDiagnostics();
    // the servers know about files that are not open (diagnostics may cover only open ones)
    let fromServers = 0;
    for (const server of servers.all().filter((s) => s.running)) {
      try {
        const result = await server.executeCommand<{ count?: number }>(ServerCommands.conflictCount);
        fromServers += typeof result?.count === "number" ? result.count : 0;
      } catch {
        // fall back to the diagnostics count
      }
    }
    count = Math.max(count, fromServers);
    item.text = statusText(count);
    item.tooltip = count
      ? `${count} Django app${count === 1 ? " has" : "s have"} conflicting migrations (more than one leaf). Click to open the Problems panel.`
      : "No Django migration conflicts. Click to open the Problems panel.";
    item.backgroundColor = count ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    item.show();
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void update(), 250);
  };

  const watcher = vscode.workspace.createFileSystemWatcher("**/migrations/*.py");
  const subscriptions = [
    item,
    watcher,
    vscode.languages.onDidChangeDiagnostics(schedule),
    servers.onDidChangeRunning(schedule),
    watcher.onDidCreate(schedule),
    watcher.onDidDelete(schedule),
  ];
  schedule();
  return vscode.Disposable.from(...subscriptions, { dispose: () => clearTimeout(timer) });
}
