/**
 * Pure helpers over the server's command results (no `vscode` import; unit tested).
 * Shapes follow docs/ARCHITECTURE.md, "Language server ⇄ VS Code extension".
 */

/** Commands the server registers (`workspace/executeCommand`). */
export const ServerCommands = {
  listApps: "squasher.listApps",
  graph: "squasher.graph",
  createMerge: "squasher.createMerge",
  rebase: "squasher.rebase",
  squash: "squasher.squash",
  finalize: "squasher.finalize",
  conflictCount: "squasher.conflictCount",
} as const;

/** One entry of `squasher.listApps`. */
export interface AppInfo {
  app: string;
  /** migration names in plan order */
  migrations: string[];
  leaves: string[];
  path?: string;
}

export interface GraphResult {
  text: string;
  /** "app.name" → file URI */
  nodes: Record<string, string>;
}

export const CONFLICT_CODE = "SQ001";
export const DIAGNOSTIC_SOURCE = "squasher";

/** True for a Python file inside a `migrations` package (any depth, any OS separator). */
export function isMigrationFile(fsPath: string): boolean {
  const parts = fsPath.split(/[\\/]+/);
  return parts.length >= 2 && parts.slice(0, -1).includes("migrations") && /\.py$/.test(parts[parts.length - 1]);
}

/** Accepts the server's listApps result tolerantly (array, or {apps: [...]}). */
export function parseApps(result: unknown): AppInfo[] {
  const list = Array.isArray(result)
    ? result
    : result && typeof result === "object" && Array.isArray((result as { apps?: unknown }).apps)
      ? (result as { apps: unknown[] }).apps
      : [];
  return list
    .filter((a): a is Record<string, unknown> => !!a && typeof a === "object" && typeof (a as { app?: unknown }).app === "string")
    .map((a) => ({
      app: a.app as string,
      migrations: Array.isArray(a.migrations) ? (a.migrations as unknown[]).map(String) : [],
      leaves: Array.isArray(a.leaves) ? (a.leaves as unknown[]).map(String) : [],
      path: typeof a.path === "string" ? a.path : undefined,
    }));
}

export function conflictedApps(apps: AppInfo[]): AppInfo[] {
  return apps.filter((a) => a.leaves.length > 1);
}

/** Candidates for the end of a squash range: the migrations after `start` in plan order. */
export function endCandidates(app: AppInfo, start: string | undefined): string[] {
  if (start === undefined) {
    return app.migrations.slice();
  }
  const i = app.migrations.indexOf(start);
  return i < 0 ? [] : app.migrations.slice(i + 1);
}

/** Squash migrations first (names with "squashed"), then the rest in plan order. */
export function finalizeCandidates(app: AppInfo): string[] {
  const squashed = app.migrations.filter((m) => /squash/i.test(m));
  return squashed.length ? squashed : app.migrations.slice();
}

export interface DiagnosticLike {
  code?: string | number | { value: string | number } | undefined;
  source?: string;
}

function codeOf(d: DiagnosticLike): string | undefined {
  const c = d.code;
  if (c === undefined || c === null) {
    return undefined;
  }
  return typeof c === "object" ? String(c.value) : String(c);
}

export function isConflictDiagnostic(d: DiagnosticLike): boolean {
  return d.source === DIAGNOSTIC_SOURCE && codeOf(d) === CONFLICT_CODE;
}

/** The migrations package a file belongs to (its directory), used to group leaves per app. */
export function migrationPackage(fsPath: string): string {
  const parts = fsPath.split(/[\\/]+/);
  return parts.slice(0, -1).join("/");
}

/**
 * Number of conflicts = number of migration packages that carry at least one SQ001
 * diagnostic (SQ001 is reported on every leaf of the app, so two leaves are one conflict).
 */
export function countConflicts(entries: Iterable<[string, DiagnosticLike[]]>): number {
  const packages = new Set<string>();
  for (const [fsPath, diagnostics] of entries) {
    if (diagnostics.some(isConflictDiagnostic)) {
      packages.add(migrationPackage(fsPath));
    }
  }
  return packages.size;
}

export function statusText(count: number): string {
  return count === 0 ? "$(check) Migrations" : `$(git-merge) ${count} migration conflict${count === 1 ? "" : "s"}`;
}

export function parseGraph(result: unknown): GraphResult {
  if (!result || typeof result !== "object") {
    return { text: "", nodes: {} };
  }
  const r = result as { text?: unknown; nodes?: unknown };
  const nodes: Record<string, string> = {};
  if (r.nodes && typeof r.nodes === "object") {
    for (const [k, v] of Object.entries(r.nodes as Record<string, unknown>)) {
      if (typeof v === "string") {
        nodes[k] = v;
      }
    }
  }
  return { text: typeof r.text === "string" ? r.text : "", nodes };
}

/** Identifiers a graph renderer may use for node `app.name` (squasher.graph.render: `n_<app>__<name>`). */
export function nodeIdForms(key: string): string[] {
  const sanitize = (x: string) => x.replace(/\W/g, "_");
  const dot = key.indexOf(".");
  const forms = [key, sanitize(key)];
  if (dot > 0) {
    forms.push(`n_${sanitize(key.slice(0, dot))}__${sanitize(key.slice(dot + 1))}`);
  }
  return forms;
}

/**
 * Map a clicked Mermaid node back to a key of `nodes`. Mermaid renders node `X` as an
 * element whose id contains `X` between dashes (`flowchart-X-12`, possibly prefixed by
 * the diagram id). Falls back to the node's label text (full key, or a name unique
 * across apps).
 */
export function resolveNodeKey(
  nodes: Record<string, string>,
  elementId: string | undefined,
  label: string | undefined,
): string | undefined {
  const keys = Object.keys(nodes);
  if (elementId) {
    let best: { key: string; length: number } | undefined;
    for (const key of keys) {
      for (const form of nodeIdForms(key)) {
        const hit =
          elementId === form ||
          elementId.endsWith(`-${form}`) ||
          elementId.startsWith(`${form}-`) ||
          elementId.includes(`-${form}-`);
        if (hit && (!best || form.length > best.length)) {
          best = { key, length: form.length };
        }
      }
    }
    if (best) {
      return best.key;
    }
  }
  if (label) {
    const text = label.trim().split(/\s+/)[0] ?? "";
    const exact = keys.find((k) => k === text);
    if (exact) {
      return exact;
    }
    const byName = keys.filter((k) => k.slice(k.indexOf(".") + 1) === text);
    if (byName.length === 1) {
      return byName[0];
    }
  }
  return undefined;
}

interface LspEditLike {
  changes?: Record<string, unknown>;
  documentChanges?: ({ kind?: string; uri?: string; newUri?: string; oldUri?: string; textDocument?: { uri: string } })[];
}

/**
 * URIs a `workspace/applyEdit` from the server creates or changes (not deleted ones):
 * the extension saves those afterwards, so "Create merge migration" leaves the file on
 * disk the way the CLI would write it.
 */
export function editedUris(edit: LspEditLike | undefined): string[] {
  const out = new Set<string>();
  for (const uri of Object.keys(edit?.changes ?? {})) {
    out.add(uri);
  }
  const deleted = new Set<string>();
  for (const change of edit?.documentChanges ?? []) {
    if (change.textDocument?.uri) {
      out.add(change.textDocument.uri);
    } else if (change.kind === "create" && change.uri) {
      out.add(change.uri);
    } else if (change.kind === "rename" && change.newUri) {
      out.add(change.newUri);
      if (change.oldUri) {
        deleted.add(change.oldUri);
      }
    } else if (change.kind === "delete" && change.uri) {
      deleted.add(change.uri);
    }
  }
  return [...out].filter((u) => !deleted.has(u));
}

/**
 * Code lenses worth showing: those with a command to run. The server also sends informational
 * lenses (e.g. "2 dependents", command "") that other editors display; VS Code hides them.
 */
export function runnableLenses<T extends { command?: { command?: string } }>(lenses: T[] | null | undefined): T[] {
  return (lenses ?? []).filter((lens) => typeof lens.command?.command === "string" && lens.command.command.trim() !== "");
}

/** The app whose migrations folder holds `fsPath` (for "Show migration graph" on a migration file). */
export function appForFile(apps: AppInfo[], fsPath: string): AppInfo | undefined {
  const dir = migrationPackage(fsPath).replace(/\/+$/, "");
  return apps.find((a) => a.path !== undefined && a.path.split(/[\\/]+/).join("/").replace(/\/+$/, "") === dir);
}
