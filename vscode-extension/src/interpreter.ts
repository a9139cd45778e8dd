/**
 * Interpreter discovery and the server launch command.
 *
 * Order: the `squasher.interpreter` setting → the interpreter selected in the Python
 * extension (when that extension is installed) → `python3` (`python` on Windows).
 * The chosen interpreter is then probed: when it lacks squasher / lsp_server the caller
 * shows a notification with the exact install command (see {@link installCommand}).
 *
 * Pure logic: no `vscode` import; the Python extension and process spawning are injected.
 */

export type InterpreterSource = "setting" | "python-extension" | "default";

export interface InterpreterChoice {
  path: string;
  source: InterpreterSource;
}

export interface DiscoveryInput {
  /** Expanded `squasher.interpreter` setting, if any. */
  setting?: string;
  /**
   * Asks the Python extension for its selected interpreter. Resolves `undefined` when the
   * extension is not installed or has no interpreter selected; may throw (treated as absent).
   */
  pythonExtension?: () => Promise<string | undefined>;
  platform?: NodeJS.Platform;
}

export function defaultPython(platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? "python" : "python3";
}

export async function discoverInterpreter(input: DiscoveryInput): Promise<InterpreterChoice> {
  if (input.setting && input.setting.trim()) {
    return { path: input.setting.trim(), source: "setting" };
  }
  if (input.pythonExtension) {
    try {
      const selected = await input.pythonExtension();
      if (selected && selected.trim()) {
        return { path: selected.trim(), source: "python-extension" };
      }
    } catch {
      // a broken or still-loading Python extension must not keep the server from starting
    }
  }
  return { path: defaultPython(input.platform), source: "default" };
}

export interface ServerCommand {
  command: string;
  args: string[];
}

/**
 * The server runs as `<interpreter> -P -m lsp_server` (stdio): `-P` (Python 3.11+, which
 * checkServer requires) keeps the working directory off `sys.path`, so a project folder named
 * `lsp_server` or `squasher` cannot shadow the installed packages. `debug` (trace level
 * "verbose") adds `--debug` so the server's own log in the output channel is verbose too.
 */
export function serverCommand(interpreter: string, options: { debug?: boolean; args?: string[] } = {}): ServerCommand {
  return { command: interpreter, args: ["-P", "-m", "lsp_server", ...(options.debug ? ["--debug"] : []), ...(options.args ?? [])] };
}

/** Minimum Python the server supports (pyproject `requires-python`). */
export const MIN_PYTHON: [number, number] = [3, 11];

/** Python snippet printing what the interpreter has; one JSON line on stdout. */
export const PROBE_SCRIPT = [
  // without -P (an older Python must still say which version it is): drop the working
  // directory from sys.path by hand, as the server's -P does
  "import sys",
  "sys.path[:] = [p for p in sys.path if p not in ('', '.')]",
  "import importlib.util, json",
  "f = lambda m: importlib.util.find_spec(m) is not None",
  "print(json.dumps({'python': list(sys.version_info[:3]), 'executable': sys.executable,",
  " 'squasher': f('squasher'), 'lsp_server': f('lsp_server'), 'pygls': f('pygls'),",
  " 'origin': getattr(importlib.util.find_spec('squasher'), 'origin', None) if f('squasher') else None,",
  " 'platform': sys.platform, 'machine': __import__('platform').machine().lower()}))",
].join("\n");

export interface RunResult {
  /** exit code; null when the process could not be started or was killed */
  code: number | null;
  stdout: string;
  stderr: string;
  /** spawn error code, e.g. "ENOENT" when the interpreter does not exist */
  errorCode?: string;
}

/** Runs a command; `env` entries are added to the extension host's environment. */
export type Runner = (command: string, args: string[], env?: Record<string, string>) => Promise<RunResult>;

export type ServerCheck =
  | { ok: true; executable: string; python: number[]; origin?: string; platform?: string; machine?: string }
  | {
      ok: false;
      reason: "interpreter-not-found" | "interpreter-failed" | "python-too-old" | "not-installed";
      detail: string;
      missing?: string[];
    };

export async function checkServer(interpreter: string, run: Runner, env?: Record<string, string>): Promise<ServerCheck> {
  const result = await run(interpreter, ["-c", PROBE_SCRIPT], env);
  if (result.errorCode === "ENOENT" || result.errorCode === "EACCES") {
    return { ok: false, reason: "interpreter-not-found", detail: `${interpreter}: ${result.errorCode}` };
  }
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout || `exit code ${result.code}`).trim();
    return { ok: false, reason: "interpreter-failed", detail };
  }
  let info: {
    python: number[];
    executable: string;
    squasher: boolean;
    lsp_server: boolean;
    pygls: boolean;
    origin?: string | null;
    platform?: string;
    machine?: string;
  };
  try {
    const line = result.stdout.trim().split(/\r?\n/).pop() ?? "";
    info = JSON.parse(line);
  } catch {
    return { ok: false, reason: "interpreter-failed", detail: `unexpected output: ${result.stdout.trim()}` };
  }
  const [major, minor] = info.python;
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    return {
      ok: false,
      reason: "python-too-old",
      detail: `Python ${info.python.join(".")} at ${info.executable}; squasher needs ${MIN_PYTHON.join(".")} or newer`,
    };
  }
  const missing = (["squasher", "lsp_server", "pygls"] as const).filter((m) => !info[m]);
  if (missing.length) {
    return {
      ok: false,
      reason: "not-installed",
      detail: `${missing.join(", ")} not importable from ${info.executable}`,
      missing,
    };
  }
  return {
    ok: true,
    executable: info.executable,
    python: info.python,
    ...(info.origin ? { origin: info.origin } : {}),
    ...(info.platform ? { platform: info.platform } : {}),
    ...(info.machine ? { machine: info.machine } : {}),
  };
}

/** Quote one argument for the user's shell (POSIX sh, or cmd/PowerShell on Windows). */
export function shellQuote(arg: string, platform: NodeJS.Platform = process.platform): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(arg)) {
    return arg;
  }
  if (platform === "win32") {
    return `"${arg.replace(/"/g, '""')}"`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The exact command that installs the server into `interpreter`. */
export function installCommand(interpreter: string, platform: NodeJS.Platform = process.platform): string {
  const python = platform === "win32" && /\s/.test(interpreter) ? `& ${shellQuote(interpreter, platform)}` : shellQuote(interpreter, platform);
  return `${python} -m pip install --upgrade squasher`;
}

const SOURCE_LABEL: Record<InterpreterSource, string> = {
  setting: "the squasher.interpreter setting",
  "python-extension": "the Python extension's selected interpreter",
  default: "the default interpreter",
};

/** The notification text for a failed check (`undefined` when the check passed). */
export function problemMessage(choice: InterpreterChoice, check: ServerCheck): string | undefined {
  if (check.ok) {
    return undefined;
  }
  const from = `${choice.path} (${SOURCE_LABEL[choice.source]})`;
  switch (check.reason) {
    case "interpreter-not-found":
      return `Squasher: the Python interpreter ${from} was not found. Set "squasher.interpreter" to a Python that has squasher installed.`;
    case "python-too-old":
      return `Squasher: ${check.detail}. Set "squasher.interpreter" to a newer Python.`;
    case "not-installed":
      return `Squasher is not installed in ${from}. Install it with: ${installCommand(choice.path)}`;
    case "interpreter-failed":
      return `Squasher: could not run ${from}: ${check.detail}`;
  }
}

// ---------------------------------------------------------------- bundled libraries

/**
 * `bundled/bundle.json`, written by `scripts/bundle-python.mjs` next to `bundled/libs`: the
 * Python and platform the libraries were installed for. libcst has compiled parts (built per
 * CPython minor version and platform), so the bundle only runs on a matching interpreter.
 */
export interface BundleInfo {
  /** [major, minor] of the Python that installed the libraries */
  python: [number, number];
  /** sys.platform ("linux", "darwin", "win32") */
  platform: string;
  /** platform.machine(), lower case ("x86_64", "arm64", "amd64", "aarch64") */
  machine: string;
  squasher?: string;
}

export function parseBundleInfo(text: string): BundleInfo | undefined {
  try {
    const data = JSON.parse(text) as Partial<BundleInfo>;
    const [major, minor] = Array.isArray(data.python) ? data.python : [];
    if (typeof major !== "number" || typeof minor !== "number" || typeof data.platform !== "string" || typeof data.machine !== "string") {
      return undefined;
    }
    return { python: [major, minor], platform: data.platform, machine: data.machine.toLowerCase(), squasher: data.squasher };
  } catch {
    return undefined;
  }
}

/** Why the bundle cannot run on an interpreter (`undefined`: it can). */
export function bundleMismatch(bundle: BundleInfo, check: { python: number[]; platform?: string; machine?: string }): string | undefined {
  const [major, minor] = check.python;
  const wanted = `Python ${bundle.python.join(".")} on ${bundle.platform}-${bundle.machine}`;
  if (major !== bundle.python[0] || minor !== bundle.python[1]) {
    return `the bundled libraries are built for ${wanted}, the interpreter is Python ${major}.${minor}`;
  }
  if (check.platform && check.platform !== bundle.platform) {
    return `the bundled libraries are built for ${wanted}, the interpreter runs on ${check.platform}`;
  }
  const alias = (m: string) => ({ amd64: "x86_64", arm64: "aarch64" })[m] ?? m;
  if (check.machine && alias(check.machine.toLowerCase()) !== alias(bundle.machine)) {
    return `the bundled libraries are built for ${wanted}, the interpreter runs on ${check.machine}`;
  }
  return undefined;
}

/** `PYTHONPATH` with the bundled libraries first (the server keeps `-P`, so the cwd never joins). */
export function bundledEnv(libs: string, current: string | undefined, delimiter = ":"): Record<string, string> {
  return { PYTHONPATH: [libs, ...(current ? [current] : [])].join(delimiter) };
}

// ---------------------------------------------------------------- the launch plan

export interface LaunchInput {
  importStrategy: "useBundled" | "fromEnvironment";
  /** `squasher.path`: an explicit server command; no interpreter is probed */
  path?: string[];
  /** `squasher.args` */
  args: string[];
  debug: boolean;
  choice: InterpreterChoice;
  /** the bundle in the extension: its libs folder and bundle.json (undefined info: not there / unreadable) */
  bundle: { libs: string; info: BundleInfo | undefined };
  run: Runner;
  /** the extension host's PYTHONPATH (kept after the bundled libs) */
  pythonPath?: string;
  delimiter?: string;
}

export type Launch =
  | {
      ok: true;
      strategy: "path" | "bundled" | "environment";
      command: string;
      args: string[];
      env: Record<string, string>;
      /** the interpreter sent as the `interpreter` initialization option (runs squash/finalize) */
      interpreter: string | null;
      /** what the output channel should say about the choice (fallbacks included) */
      notes: string[];
    }
  | { ok: false; message: string; check: ServerCheck; notes: string[] };

/**
 * How to start the server. `squasher.path` wins; else `useBundled` runs the interpreter with
 * `bundled/libs` first on PYTHONPATH when the bundle exists and matches the interpreter's Python
 * version and platform, and otherwise falls back (saying why) to `fromEnvironment`: the squasher
 * installed in the interpreter.
 */
export async function planLaunch(input: LaunchInput): Promise<Launch> {
  const { choice, run } = input;
  const notes: string[] = [];
  if (input.path?.length) {
    const [command, ...rest] = input.path;
    return {
      ok: true,
      strategy: "path",
      command,
      args: [...rest, ...(input.debug ? ["--debug"] : []), ...input.args],
      env: {},
      interpreter: choice.source === "default" ? null : choice.path,
      notes: [`squasher.path is set: starting ${input.path.join(" ")} (squasher.importStrategy and the interpreter check do not apply)`],
    };
  }
  if (input.importStrategy === "useBundled") {
    const { libs, info } = input.bundle;
    if (!info) {
      notes.push(`useBundled: no bundled libraries in ${libs} (a .vsix built without them?); using the squasher installed in the interpreter (fromEnvironment)`);
    } else {
      const env = bundledEnv(libs, input.pythonPath, input.delimiter);
      const check = await checkServer(choice.path, run, env);
      if (!check.ok && check.reason !== "not-installed") {
        const message = problemMessage(choice, check) ?? "Squasher: the language server cannot start.";
        return { ok: false, message, check, notes };
      }
      const mismatch = check.ok ? bundleMismatch(info, check) : "the bundled libraries are incomplete";
      if (check.ok && !mismatch) {
        const { command, args } = serverCommand(choice.path, { debug: input.debug, args: input.args });
        notes.push(`useBundled: squasher ${info.squasher ?? ""} from ${libs} on ${check.executable} (Python ${check.python.join(".")})`.replace("  ", " "));
        return { ok: true, strategy: "bundled", command, args, env, interpreter: check.executable, notes };
      }
      notes.push(`useBundled: ${mismatch}; using the squasher installed in the interpreter instead (fromEnvironment)`);
    }
  }
  const check = await checkServer(choice.path, run);
  if (!check.ok) {
    let message = problemMessage(choice, check) ?? "Squasher: the language server cannot start.";
    if (notes.length && check.reason === "not-installed") {
      const fallback = notes[notes.length - 1].replace(/^useBundled: /, "").replace(/; using .*$/, "");
      message += ` (The bundled server cannot be used: ${fallback}; select a matching interpreter.)`;
    }
    return { ok: false, message, check, notes };
  }
  const { command, args } = serverCommand(choice.path, { debug: input.debug, args: input.args });
  notes.push(`fromEnvironment: squasher from ${check.origin ?? check.executable} (Python ${check.python.join(".")})`);
  return { ok: true, strategy: "environment", command, args, env: {}, interpreter: check.executable, notes };
}
