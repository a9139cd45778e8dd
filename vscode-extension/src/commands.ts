/** Command-palette commands; each one calls the server through `workspace/executeCommand`. */
import * as vscode from "vscode";
import { GraphView } from "./graphView";
import {
  type AppInfo,
  appForFile,
  conflictedApps,
  endCandidates,
  finalizeCandidates,
  parseApps,
  ServerCommands,
} from "./model";
import { notify } from "./notify";
import { type SquasherServer, type SquasherServers } from "./server";

export const Commands = {
  squash: "squasher.squashMigrations",
  createMerge: "squasher.createMergeMigration",
  rebase: "squasher.rebaseBranch",
  finalize: "squasher.finalizeSquash",
  showGraph: "squasher.showGraph",
  restart: "squasher.restartServer",
  showLog: "squasher.showLog",
} as const;

interface Applied {
  applied?: boolean;
  message?: string;
}

async function listApps(server: SquasherServer): Promise<AppInfo[]> {
  return parseApps(await server.executeCommand(ServerCommands.listApps));
}

async function pickApp(apps: AppInfo[], placeHolder: string): Promise<AppInfo | undefined> {
  if (apps.length === 1) {
    return apps[0];
  }
  const picked = await vscode.window.showQuickPick(
    apps.map((app) => ({
      label: app.app,
      description: `${app.migrations.length} migration${app.migrations.length === 1 ? "" : "s"}`,
      detail: app.leaves.length > 1 ? `$(warning) conflict: ${app.leaves.join(", ")}` : undefined,
      app,
    })),
    { placeHolder, matchOnDescription: true },
  );
  return picked?.app;
}

async function pickName(names: string[], placeHolder: string, extra?: string): Promise<string | null | undefined> {
  const items: (vscode.QuickPickItem & { value: string | null })[] = names.map((n) => ({ label: n, value: n }));
  if (extra) {
    items.unshift({ label: extra, value: null });
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder });
  return picked === undefined ? undefined : picked.value;
}

function appFromArgs(apps: AppInfo[], args: unknown): AppInfo | undefined {
  const name = args && typeof args === "object" ? (args as { app?: unknown }).app : undefined;
  return typeof name === "string" ? apps.find((a) => a.app === name) : undefined;
}

function report(server: SquasherServer, what: string, result: Applied | undefined): void {
  const folder = server.folder;
  if (result?.applied) {
    void notify(server.output, "information", `Squasher: ${what} done.${result.message ? ` ${result.message}` : ""}`, { folder });
  } else {
    void notify(server.output, "warning", `Squasher: ${what} was not applied.${result?.message ? ` ${result.message}` : ""}`, { folder });
  }
}

function requireDjangoFeatures(server: SquasherServer, what: string): boolean {
  const settings = server.settings;
  if (settings.djangoFeatures) {
    return true;
  }
  const reason = settings.trusted
    ? 'the setting "squasher.djangoFeatures" is off'
    : "this workspace is not trusted (Django-dependent features import project code)";
  void notify(server.output, "warning", `Squasher: ${what} needs Django; ${reason}.`, {
    folder: server.folder,
    actions: [settings.trusted ? "Open Settings" : "Manage Workspace Trust"],
  })
    .then((pick) => {
      if (pick === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "squasher.djangoFeatures");
      } else if (pick === "Manage Workspace Trust") {
        void vscode.commands.executeCommand("workbench.trust.manage");
      }
    });
  return false;
}

async function withProgress<T>(title: string, task: () => Promise<T>): Promise<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, task);
}

export function registerCommands(context: vscode.ExtensionContext, servers: SquasherServers): vscode.Disposable {
  /** Runs `fn` with the server of the folder the command concerns (`uri`: a file it was run on). */
  const guard =
    (what: string, fn: (server: SquasherServer, args?: unknown) => Promise<unknown>) =>
    async (args?: unknown): Promise<unknown> => {
      const server = await servers.pick(args instanceof vscode.Uri ? args : undefined);
      if (!server) {
        void notify(servers.output, "warning", `Squasher: ${what}: no language server (is "squasher.enable" off for every folder?)`);
        return undefined;
      }
      try {
        return await fn(server, args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        void notify(server.output, "error", `Squasher: ${what} failed: ${message}`, { folder: server.folder, actions: ["Show Log"] }).then(
          (pick) => pick && server.output.show(),
        );
        return undefined;
      }
    };

  const squash = guard("squash", async (server, args) => {
    if (!requireDjangoFeatures(server, "Squash migrations")) {
      return;
    }
    const apps = (await listApps(server)).filter((a) => a.migrations.length > 1);
    const app = appFromArgs(apps, args) ?? (await pickApp(apps, "App whose migrations to squash"));
    if (!app) {
      return;
    }
    const start = await pickName(app.migrations.slice(0, -1), `${app.app}: first migration of the squash`, "$(arrow-up) from the first migration");
    if (start === undefined) {
      return;
    }
    const ends = endCandidates(app, start ?? undefined).reverse();
    const end = await pickName(ends, `${app.app}: last migration of the squash`);
    if (!end) {
      return;
    }
    const request: Record<string, unknown> = { app: app.app, end };
    if (start) {
      request.start = start;
    }
    const result = await withProgress(`Squashing ${app.app} ${start ?? "(first)"} → ${end}…`, () =>
      server.executeCommand<Applied>(ServerCommands.squash, request),
    );
    report(server, `squash of ${app.app}`, result);
  });

  const createMerge = guard("create merge migration", async (server, args) => {
    const apps = conflictedApps(await listApps(server));
    if (!apps.length) {
      void notify(server.output, "information", "Squasher: no app has conflicting migrations.", { folder: server.folder });
      return;
    }
    const app = appFromArgs(apps, args) ?? (await pickApp(apps, "App to merge"));
    if (!app) {
      return;
    }
    report(server, `merge migration for ${app.app}`, await server.executeCommand<Applied>(ServerCommands.createMerge, { app: app.app }));
  });

  const rebase = guard("rebase", async (server, args) => {
    const apps = conflictedApps(await listApps(server));
    if (!apps.length) {
      void notify(server.output, "information", "Squasher: no app has conflicting migrations to rebase.", { folder: server.folder });
      return;
    }
    const app = appFromArgs(apps, args) ?? (await pickApp(apps, "App whose branch to rebase"));
    if (!app) {
      return;
    }
    const onto = await pickName(app.leaves, `${app.app}: rebase onto which leaf?`, "$(sparkle) let squasher choose");
    if (onto === undefined) {
      return;
    }
    const request: Record<string, unknown> = { app: app.app };
    if (onto) {
      request.onto = onto;
    }
    report(server, `rebase of ${app.app}`, await server.executeCommand<Applied>(ServerCommands.rebase, request));
  });

  const finalize = guard("finalize", async (server, args) => {
    if (!requireDjangoFeatures(server, "Finalize squash")) {
      return;
    }
    const apps = await listApps(server);
    const app = appFromArgs(apps, args) ?? (await pickApp(apps, "App with a squashed migration to finalize"));
    if (!app) {
      return;
    }
    const squashName = await pickName(finalizeCandidates(app), `${app.app}: squash to finalize`);
    if (!squashName) {
      return;
    }
    const result = await withProgress(`Finalizing ${app.app}.${squashName}…`, () =>
      server.executeCommand<Applied>(ServerCommands.finalize, { app: app.app, squash: squashName }),
    );
    report(server, `finalize of ${app.app}.${squashName}`, result);
  });

  const showGraph = guard("show graph", async (server, args) => {
    let apps = args && typeof args === "object" && Array.isArray((args as { apps?: unknown }).apps) ? ((args as { apps: string[] }).apps) : undefined;
    if (args instanceof vscode.Uri) {
      // the editor title button on a migration file: that file's app
      const app = appForFile(await listApps(server), args.fsPath);
      apps = app ? [app.app] : undefined;
    }
    await GraphView.show(context.extensionUri, server, apps);
  });

  return vscode.Disposable.from(
    vscode.commands.registerCommand(Commands.squash, squash),
    vscode.commands.registerCommand(Commands.createMerge, createMerge),
    vscode.commands.registerCommand(Commands.rebase, rebase),
    vscode.commands.registerCommand(Commands.finalize, finalize),
    vscode.commands.registerCommand(Commands.showGraph, showGraph),
    vscode.commands.registerCommand(Commands.restart, async () => {
      await servers.sync();
      await servers.restart();
    }),
    vscode.commands.registerCommand(Commands.showLog, () => servers.output.show()),
  );
}
