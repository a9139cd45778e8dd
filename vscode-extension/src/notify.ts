/**
 * Every notification of the extension goes through {@link notify}: it is always written to the
 * Squasher output channel, and shown as a notification only when `squasher.showNotifications`
 * (of the folder it concerns) lets its kind through.
 */
import * as vscode from "vscode";
import { type NotificationKind, readSettings, SECTION, shouldNotify } from "./settings";

export function notificationsAllow(kind: NotificationKind, folder?: vscode.WorkspaceFolder): boolean {
  const settings = readSettings(vscode.workspace.getConfiguration(SECTION, folder?.uri), { trusted: vscode.workspace.isTrusted });
  return shouldNotify(kind, settings.showNotifications);
}

export async function notify(
  output: vscode.LogOutputChannel,
  kind: NotificationKind,
  message: string,
  options: { folder?: vscode.WorkspaceFolder; actions?: string[] } = {},
): Promise<string | undefined> {
  if (kind === "error") {
    output.error(message);
  } else if (kind === "warning") {
    output.warn(message);
  } else {
    output.info(message);
  }
  if (!notificationsAllow(kind, options.folder)) {
    return undefined;
  }
  const actions = options.actions ?? [];
  if (kind === "error") {
    return vscode.window.showErrorMessage(message, ...actions);
  }
  if (kind === "warning") {
    return vscode.window.showWarningMessage(message, ...actions);
  }
  return vscode.window.showInformationMessage(message, ...actions);
}
