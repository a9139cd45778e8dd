/**
 * The extension's settings: the one module that reads `squasher.*` configuration.
 *
 * Pure logic (no `vscode` import) so it can be unit tested: callers pass a
 * configuration-like object (`vscode.workspace.getConfiguration("squasher")` satisfies it)
 * and the workspace trust state.
 */
import * as os from "node:os";
import * as path from "node:path";

export const SECTION = "squasher";

/** Keys whose change needs a server restart (how it starts / its initialization options). */
export const SERVER_KEYS = [
  "enable",
  "importStrategy",
  "path",
  "args",
  "interpreter",
  "settingsModule",
  "djangoFeatures",
  "severity",
] as const;

export type TraceLevel = "off" | "messages" | "verbose";

/**
 * Where the server's Python code comes from (as in Microsoft's Python tool extensions):
 * `useBundled` = the libraries shipped in the .vsix (`bundled/libs`, first on `PYTHONPATH`),
 * run by the selected interpreter; `fromEnvironment` = the squasher installed in that interpreter.
 */
export type ImportStrategy = "useBundled" | "fromEnvironment";

/** Which notifications the extension shows (everything is always written to the output channel). */
export type NotificationSetting = "off" | "onError" | "onWarning" | "always";
export type NotificationKind = "error" | "warning" | "information";

/** A check code's severity override; `off` hides the diagnostic. */
export type SeverityLevel = "off" | "hint" | "information" | "warning" | "error";
export const SEVERITY_LEVELS: readonly SeverityLevel[] = ["off", "hint", "information", "warning", "error"];

export interface ConfigurationLike {
  get<T>(key: string): T | undefined;
}

export interface SquasherSettings {
  /** `squasher.enable`: false → no server for this folder. */
  enable: boolean;
  importStrategy: ImportStrategy;
  /** `squasher.path`: an explicit command that starts the server (expanded), or undefined. */
  path: string[] | undefined;
  /** `squasher.args`: extra arguments for the server command (`lsp_server` / `squasher-lsp`). */
  args: string[];
  showNotifications: NotificationSetting;
  /** `squasher.severity`: check code → level (only valid entries). */
  severity: Record<string, SeverityLevel>;
  /** Explicit interpreter from `squasher.interpreter` (expanded), or undefined. */
  interpreter: string | undefined;
  /** Django settings module, or null when not set. */
  settingsModule: string | null;
  /** What the user asked for in `squasher.djangoFeatures`. */
  djangoFeaturesRequested: boolean;
  /** Effective: requested AND the workspace is trusted. */
  djangoFeatures: boolean;
  trace: TraceLevel;
  trusted: boolean;
}

/** Initialization options sent to the server (see docs/ARCHITECTURE.md). */
export interface InitializationOptions {
  djangoFeatures: boolean;
  settingsModule: string | null;
  interpreter: string | null;
  /** check code → "off" | "hint" | "information" | "warning" | "error" (applied by the server) */
  severity: Record<string, SeverityLevel>;
}

function nonEmpty(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed ? trimmed : undefined;
}

/** Expand `~`, `${workspaceFolder}`, `${userHome}` and `${env:NAME}` (no path resolution: for arguments). */
export function expandVariables(
  value: string,
  workspaceFolder: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  let out = value.replace(/\$\{env:([^}]+)\}/g, (_m, name: string) => env[name] ?? "");
  out = out.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  if (out === "~") {
    out = home;
  } else if (out.startsWith("~/")) {
    out = path.join(home, out.slice(2));
  }
  return out;
}

/** Expand `~`, `${workspaceFolder}`, `${userHome}` and `${env:NAME}` in a path setting. */
export function expandPath(
  value: string,
  workspaceFolder: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  let out = expandVariables(value, workspaceFolder, env, home);
  if (workspaceFolder !== undefined && !path.isAbsolute(out) && out.includes("/")) {
    // a relative path like ".venv/bin/python" is relative to the workspace folder;
    // a bare command name ("python3") is left for PATH lookup.
    out = path.join(workspaceFolder, out);
  }
  return out;
}

function traceLevel(value: unknown): TraceLevel {
  return value === "messages" || value === "verbose" ? value : "off";
}

function stringList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
  return list.filter((v): v is string => typeof v === "string" && v.trim() !== "");
}

function notificationSetting(value: unknown): NotificationSetting {
  return value === "off" || value === "onError" || value === "onWarning" ? value : "always";
}

/** Valid `squasher.severity` entries: `{"SQ100": "off"}`; codes trimmed, levels case-insensitive. */
export function severityOverrides(value: unknown): Record<string, SeverityLevel> {
  const out: Record<string, SeverityLevel> = {};
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [code, level] of Object.entries(value as Record<string, unknown>)) {
      const normalized = typeof level === "string" ? level.trim().toLowerCase() : "";
      const known = normalized === "info" ? "information" : normalized;
      if (code.trim() && (SEVERITY_LEVELS as readonly string[]).includes(known)) {
        out[code.trim()] = known as SeverityLevel;
      }
    }
  }
  return out;
}

export function readSettings(
  config: ConfigurationLike,
  options: { trusted: boolean; workspaceFolder?: string; env?: NodeJS.ProcessEnv; home?: string },
): SquasherSettings {
  // accept the array form other Python tool extensions use too: ["/path/python"]
  const raw = config.get<unknown>("interpreter");
  const rawInterpreter = Array.isArray(raw) ? nonEmpty(raw[0]) : nonEmpty(raw);
  const interpreter = rawInterpreter
    ? expandPath(rawInterpreter, options.workspaceFolder, options.env, options.home)
    : undefined;
  const requested = config.get<boolean>("djangoFeatures") !== false;
  const { workspaceFolder, env, home } = options;
  const command = stringList(config.get<unknown>("path"));
  return {
    enable: config.get<boolean>("enable") !== false,
    importStrategy: config.get<string>("importStrategy") === "fromEnvironment" ? "fromEnvironment" : "useBundled",
    path: command.length
      ? [expandPath(command[0].trim(), workspaceFolder, env, home), ...command.slice(1).map((a) => expandVariables(a, workspaceFolder, env, home))]
      : undefined,
    args: stringList(config.get<unknown>("args")).map((a) => expandVariables(a, workspaceFolder, env, home)),
    showNotifications: notificationSetting(config.get<string>("showNotifications")),
    severity: severityOverrides(config.get<unknown>("severity")),
    interpreter,
    settingsModule: nonEmpty(config.get<string | null>("settingsModule")) ?? null,
    djangoFeaturesRequested: requested,
    djangoFeatures: requested && options.trusted,
    trace: traceLevel(config.get<string>("trace.server")),
    trusted: options.trusted,
  };
}

export function initializationOptions(
  settings: SquasherSettings,
  interpreter: string | null,
): InitializationOptions {
  return {
    djangoFeatures: settings.djangoFeatures,
    settingsModule: settings.settingsModule,
    interpreter,
    severity: settings.severity,
  };
}

/** Does `squasher.showNotifications` let a notification of this kind through? */
export function shouldNotify(kind: NotificationKind, setting: NotificationSetting): boolean {
  switch (setting) {
    case "off":
      return false;
    case "onError":
      return kind === "error";
    case "onWarning":
      return kind === "error" || kind === "warning";
    case "always":
      return true;
  }
}

/**
 * The workspace folders that get a server of their own: one per folder (multi-root), except
 * that a folder inside another one is served by the outer folder's server (as the LSP
 * "multi-root" sample does). Paths are compared by path segments, not string prefixes.
 */
export function outermostFolders(folders: readonly string[], sep: string = path.sep): string[] {
  const norm = (p: string) => (p.endsWith(sep) ? p : p + sep);
  return folders.filter((f) => !folders.some((other) => other !== f && norm(f).startsWith(norm(other)) && norm(other) !== norm(f)));
}

/** The folder (of `folders`) that contains `file`: the longest match. */
export function folderOf(file: string, folders: readonly string[], sep: string = path.sep): string | undefined {
  const norm = (p: string) => (p.endsWith(sep) ? p : p + sep);
  return folders.filter((f) => norm(file).startsWith(norm(f))).sort((a, b) => b.length - a.length)[0];
}

/** Does a configuration change (as `affectsConfiguration`) require restarting the server? */
export function needsRestart(affects: (key: string) => boolean): boolean {
  return SERVER_KEYS.some((key) => affects(`${SECTION}.${key}`));
}
