/**
 * Starting, stopping and talking to the squasher language server: one server per workspace
 * folder ({@link SquasherServer}, with that folder's settings), kept by {@link SquasherServers}.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditRequest,
  type ApplyWorkspaceEditResult,
  type DynamicFeature,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  MessageType,
  ResponseError,
  RevealOutputChannelOn,
  type ServerOptions,
  ShowMessageNotification,
  State,
  type StaticFeature,
} from "vscode-languageclient/node";
import {
  discoverInterpreter,
  installCommand,
  type InterpreterChoice,
  parseBundleInfo,
  planLaunch,
  type Runner,
} from "./interpreter";
import { editedUris, isMigrationFile, runnableLenses } from "./model";
import { notify } from "./notify";
import { folderOf, initializationOptions, outermostFolders, readSettings, SECTION, type SquasherSettings } from "./settings";
import { selectedPythonInterpreter } from "./python";

export const CLIENT_ID = "squasher";

function runner(cwd: string | undefined): Runner {
  return (command, args, env) =>
    new Promise((resolve) => {
      execFile(command, args, { timeout: 30_000, cwd, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : null) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
          errorCode: err && typeof err.code === "string" ? err.code : undefined,
        });
      });
    });
}

/** The settings of `folder` (resource-scoped reads: each folder of a multi-root workspace has its own). */
export function currentSettings(folder?: vscode.WorkspaceFolder): SquasherSettings {
  folder ??= vscode.workspace.workspaceFolders?.[0];
  return readSettings(vscode.workspace.getConfiguration(SECTION, folder?.uri), {
    trusted: vscode.workspace.isTrusted,
    workspaceFolder: folder?.uri.fsPath,
  });
}

/**
 * A language client that leaves `workspace/executeCommand` commands to the extension: the
 * built-in feature registers every server command as a VS Code command, and a second folder's
 * client would fail with "command already exists". {@link SquasherServers} registers them
 * once and sends each call to the server of the folder it concerns.
 */
class FolderLanguageClient extends LanguageClient {
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    const method = (feature as { registrationType?: { method?: string } }).registrationType?.method;
    if (method === ExecuteCommandRequest.method) {
      return;
    }
    super.registerFeature(feature);
  }
}

export class SquasherServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<boolean> | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<boolean>();
  /** Fires true when the server is running, false when it stopped. */
  readonly onDidChangeRunning = this.stateEmitter.event;
  interpreter: InterpreterChoice | undefined;
  /** The server's `workspace/executeCommand` commands (from its initialize result). */
  commands: string[] = [];

  constructor(
    readonly output: vscode.LogOutputChannel,
    readonly extensionPath: string,
    /** undefined: no folder is open (single files) */
    readonly folder: vscode.WorkspaceFolder | undefined,
    private readonly onCommands: (commands: string[]) => void = () => undefined,
  ) {}

  get name(): string {
    return this.folder ? this.folder.name : "(no folder)";
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  get settings(): SquasherSettings {
    return currentSettings(this.folder);
  }

  start(): Promise<boolean> {
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private log(message: string): void {
    this.output.info(this.folder ? `[${this.folder.name}] ${message}` : message);
  }

  private bundle(): { libs: string; info: ReturnType<typeof parseBundleInfo> } {
    const bundled = path.join(this.extensionPath, "bundled");
    let info;
    try {
      info = parseBundleInfo(readFileSync(path.join(bundled, "bundle.json"), "utf8"));
    } catch {
      info = undefined;
    }
    return { libs: path.join(bundled, "libs"), info };
  }

  private async doStart(): Promise<boolean> {
    if (this.client) {
      return true;
    }
    const settings = this.settings;
    if (!settings.enable) {
      this.log("squasher.enable is false: no server for this folder");
      return false;
    }
    const folder = this.folder;
    const choice = await discoverInterpreter({
      setting: settings.interpreter,
      pythonExtension: () => selectedPythonInterpreter(folder?.uri),
    });
    this.interpreter = choice;
    this.log(`Interpreter: ${choice.path} (from ${choice.source}); importStrategy: ${settings.importStrategy}; workspace trusted: ${settings.trusted}`);
    const launch = await planLaunch({
      importStrategy: settings.importStrategy,
      path: settings.path,
      args: settings.args,
      debug: settings.trace === "verbose",
      choice,
      bundle: this.bundle(),
      run: runner(folder?.uri.fsPath),
      pythonPath: process.env.PYTHONPATH,
      delimiter: path.delimiter,
    });
    launch.notes.forEach((note) => this.log(note));
    if (!launch.ok) {
      void this.notifyProblem(launch.message, choice, launch.check.ok === false && launch.check.reason === "not-installed");
      return false;
    }
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      // stdio; no `transport: TransportKind.stdio`, which would append `--stdio` to the args
      options: { cwd: folder?.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1", ...launch.env } },
    };
    const pattern = folder ? `${folder.uri.fsPath.replace(/[\\]/g, "/")}/**/migrations/**/*.py` : "**/migrations/**/*.py";
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python", pattern }],
      workspaceFolder: folder,
      initializationOptions: initializationOptions(settings, launch.interpreter),
      outputChannel: this.output,
      traceOutputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      synchronize: {
        fileEvents: vscode.workspace.createFileSystemWatcher(folder ? new vscode.RelativePattern(folder, "**/migrations/**/*.py") : "**/migrations/**/*.py"),
      },
      middleware: {
        workspace: { handleApplyEdit: (params, next) => this.applyAndSave(params, next) },
        // lenses with nothing to run (informational, e.g. "2 dependents") are not shown
        provideCodeLenses: async (document, token, next) => runnableLenses(await next(document, token)),
      },
    };
    this.log(`Starting: ${launch.command} ${launch.args.join(" ")}${launch.env.PYTHONPATH ? ` (PYTHONPATH=${launch.env.PYTHONPATH})` : ""}`);
    const client = new FolderLanguageClient(CLIENT_ID, folder ? `Squasher (${folder.name})` : "Squasher", serverOptions, clientOptions);
    client.onDidChangeState((e) => this.stateEmitter.fire(e.newState === State.Running));
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      void notify(this.output, "error", `Squasher: the language server failed to start (${String(error)}).`, {
        folder,
        actions: ["Show Log"],
      }).then((pick) => pick && this.output.show());
      return false;
    }
    // the server's window/showMessage goes through squasher.showNotifications too
    client.onNotification(ShowMessageNotification.type, (message) => {
      const kind = message.type === MessageType.Error ? "error" : message.type === MessageType.Warning ? "warning" : "information";
      void notify(this.output, kind, message.message, { folder });
    });
    this.commands = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    this.onCommands(this.commands);
    return true;
  }

  /**
   * Server edits (merge, rebase, squash, finalize) are applied like any workspace edit (and
   * undoable), then the files they create or change are saved, as the CLI would write them.
   * Files that had unsaved changes before the edit are left unsaved.
   */
  private async applyAndSave(
    params: ApplyWorkspaceEditParams,
    next: ApplyWorkspaceEditRequest.HandlerSignature,
  ): Promise<ApplyWorkspaceEditResult | ResponseError<void>> {
    const key = (uri: vscode.Uri) => uri.toString();
    const dirtyBefore = new Set(vscode.workspace.textDocuments.filter((d) => d.isDirty).map((d) => key(d.uri)));
    const result = await next(params, new vscode.CancellationTokenSource().token);
    if (!(result instanceof ResponseError) && result.applied) {
      const targets = new Set(editedUris(params.edit).map((u) => key(vscode.Uri.parse(u))));
      for (const document of vscode.workspace.textDocuments) {
        const k = key(document.uri);
        if (targets.has(k) && document.isDirty && !dirtyBefore.has(k)) {
          if (!(await document.save())) {
            this.output.warn(`Could not save ${document.uri.fsPath}`);
          }
        }
      }
    }
    return result;
  }

  private async notifyProblem(message: string, choice: InterpreterChoice, installable: boolean): Promise<void> {
    const install = installCommand(choice.path);
    const actions = installable ? ["Install in Terminal", "Copy Command", "Choose Interpreter"] : ["Choose Interpreter", "Show Log"];
    const pick = await notify(this.output, "error", message, { folder: this.folder, actions });
    if (pick === "Install in Terminal") {
      const terminal = vscode.window.createTerminal("Install squasher");
      terminal.show();
      terminal.sendText(install);
    } else if (pick === "Copy Command") {
      await vscode.env.clipboard.writeText(install);
    } else if (pick === "Choose Interpreter") {
      await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.interpreter`);
    } else if (pick === "Show Log") {
      this.output.show();
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop();
      } catch (error) {
        this.output.warn(`Stopping the server: ${String(error)}`);
      }
      this.stateEmitter.fire(false);
    }
  }

  async restart(): Promise<boolean> {
    await this.starting;
    await this.stop();
    return this.start();
  }

  /** `workspace/executeCommand` with one JSON object argument (ARCHITECTURE.md). */
  async executeCommand<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    if (!this.client && !(await this.start())) {
      throw new Error("the squasher language server is not running (see the Squasher output)");
    }
    const client = this.client;
    if (!client) {
      throw new Error("the squasher language server is not running");
    }
    return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] })) as T;
  }

  /** Starts the server now if the folder has migrations, else once a migration file of it is opened. */
  async startWhenNeeded(): Promise<vscode.Disposable | undefined> {
    const folder = this.folder;
    const include = folder ? new vscode.RelativePattern(folder, "**/migrations/[0-9]*.py") : "**/migrations/[0-9]*.py";
    const found = await vscode.workspace.findFiles(include, "**/{node_modules,.venv,venv,site-packages}/**", 1);
    const mine = (doc: vscode.TextDocument) =>
      doc.uri.scheme === "file" && isMigrationFile(doc.uri.fsPath) && (!folder || folderOf(doc.uri.fsPath, [folder.uri.fsPath]) !== undefined);
    if (found.length || vscode.workspace.textDocuments.some(mine)) {
      void this.start();
      return undefined;
    }
    const listener = vscode.workspace.onDidOpenTextDocument((doc) => {
      if (mine(doc)) {
        listener.dispose();
        void this.start();
      }
    });
    return listener;
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
  }
}

/**
 * One {@link SquasherServer} per workspace folder (the outermost ones; `squasher.enable` false:
 * none for that folder), or one without a folder when none is open. Kept in step with the
 * workspace folders and the `enable` setting by {@link sync}.
 */
export class SquasherServers implements vscode.Disposable {
  private readonly servers = new Map<string, { server: SquasherServer; pending?: vscode.Disposable; subscription: vscode.Disposable }>();
  private readonly registered = new Map<string, vscode.Disposable>();
  private readonly stateEmitter = new vscode.EventEmitter<void>();
  /** Fires when any server starts or stops. */
  readonly onDidChangeRunning = this.stateEmitter.event;

  constructor(
    readonly output: vscode.LogOutputChannel,
    private readonly extensionPath: string,
  ) {}

  all(): SquasherServer[] {
    return [...this.servers.values()].map((e) => e.server);
  }

  /** Creates / disposes servers so that each served, enabled folder has exactly one. */
  async sync(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const byPath = new Map(folders.map((f) => [f.uri.fsPath, f]));
    const served = outermostFolders(folders.map((f) => f.uri.fsPath));
    const wanted = new Map<string, vscode.WorkspaceFolder | undefined>();
    if (folders.length) {
      for (const p of served) {
        const folder = byPath.get(p);
        if (folder && currentSettings(folder).enable) {
          wanted.set(folder.uri.toString(), folder);
        }
      }
    } else if (currentSettings(undefined).enable) {
      wanted.set("", undefined);
    }
    for (const [key, entry] of [...this.servers]) {
      if (!wanted.has(key)) {
        this.servers.delete(key);
        entry.pending?.dispose();
        entry.subscription.dispose();
        await entry.server.stop();
        entry.server.dispose();
      }
    }
    for (const [key, folder] of wanted) {
      if (!this.servers.has(key)) {
        const server = new SquasherServer(this.output, this.extensionPath, folder, (commands) => this.registerCommands(commands));
        const entry: { server: SquasherServer; pending?: vscode.Disposable; subscription: vscode.Disposable } = {
          server,
          subscription: server.onDidChangeRunning(() => this.stateEmitter.fire()),
        };
        this.servers.set(key, entry);
        entry.pending = await server.startWhenNeeded();
      }
    }
    if (!wanted.size) {
      this.output.info("squasher.enable is false for every folder: no server");
    }
    this.stateEmitter.fire();
  }

  /** The server of the folder that holds `uri` (a nested folder's file: the outer folder's server). */
  forUri(uri: vscode.Uri | undefined): SquasherServer | undefined {
    const servers = this.all();
    if (!uri) {
      return undefined;
    }
    const withFolder = servers.filter((s) => s.folder);
    const key = folderOf(uri.fsPath, withFolder.map((s) => s.folder!.uri.fsPath));
    return withFolder.find((s) => s.folder!.uri.fsPath === key) ?? servers.find((s) => !s.folder);
  }

  /** The server a command without a target concerns: the active editor's folder, the only one, or one the user picks. */
  async pick(uri?: vscode.Uri): Promise<SquasherServer | undefined> {
    const servers = this.all();
    const direct = this.forUri(uri ?? vscode.window.activeTextEditor?.document.uri);
    if (direct || servers.length <= 1) {
      return direct ?? servers[0];
    }
    const picked = await vscode.window.showQuickPick(
      servers.map((server) => ({ label: server.name, description: server.folder?.uri.fsPath, server })),
      { placeHolder: "Workspace folder" },
    );
    return picked?.server;
  }

  /**
   * The server's commands as VS Code commands, registered once for all servers: code actions
   * and code lenses carry them; each call goes to the server of the active editor's folder.
   */
  private registerCommands(commands: string[]): void {
    for (const command of commands) {
      if (this.registered.has(command)) {
        continue;
      }
      this.registered.set(
        command,
        vscode.commands.registerCommand(command, async (arg?: unknown) => {
          const server = this.forUri(vscode.window.activeTextEditor?.document.uri) ?? this.all().find((s) => s.running);
          if (!server) {
            throw new Error("the squasher language server is not running");
          }
          return server.executeCommand(command, arg && typeof arg === "object" ? (arg as Record<string, unknown>) : {});
        }),
      );
    }
  }

  async restart(folder?: vscode.WorkspaceFolder): Promise<void> {
    await Promise.all(this.all().filter((s) => !folder || s.folder?.uri.toString() === folder.uri.toString()).map((s) => s.restart()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((s) => s.stop()));
  }

  dispose(): void {
    for (const entry of this.servers.values()) {
      entry.pending?.dispose();
      entry.subscription.dispose();
      entry.server.dispose();
    }
    this.servers.clear();
    this.registered.forEach((d) => d.dispose());
    this.registered.clear();
    this.stateEmitter.dispose();
  }
}
