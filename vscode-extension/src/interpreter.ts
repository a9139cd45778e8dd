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
export function serverCommand(interpreter: string, options: { debug?: boolean } = {}): ServerCommand {
  return { command: interpreter, args: ["-P", "-m", "lsp_server", ...(options.debug ? ["--debug"] : [])] };
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
  " 'squasher': f('squasher'), 'lsp_server': f('lsp_server'), 'pygls': f('pygls')}))",
].join("\n");

export interface RunResult {
  /** exit code; null when the process could not be started or was killed */
  code: number | null;
  stdout: string;
  stderr: string;
  /** spawn error code, e.g. "ENOENT" when the interpreter does not exist */
  errorCode?: string;
}

export type Runner = (command: string, args: string[]) => Promise<RunResult>;

export type ServerCheck =
  | { ok: true; executable: string; python: number[] }
  | {
      ok: false;
      reason: "interpreter-not-found" | "interpreter-failed" | "python-too-old" | "not-installed";
      detail: string;
      missing?: string[];
    };

export async function checkServer(interpreter: string, run: Runner): Promise<ServerCheck> {
  const result = await run(interpreter, ["-c", PROBE_SCRIPT]);
  if (result.errorCode === "ENOENT" || result.errorCode === "EACCES") {
    return { ok: false, reason: "interpreter-not-found", detail: `${interpreter}: ${result.errorCode}` };
  }
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout || `exit code ${result.code}`).trim();
    return { ok: false, reason: "interpreter-failed", detail };
  }
  let info: { python: number[]; executable: string; squasher: boolean; lsp_server: boolean; pygls: boolean };
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
  return { ok: true, executable: info.executable, python: info.python };
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
