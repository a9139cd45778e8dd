import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  bundledEnv,
  bundleMismatch,
  type BundleInfo,
  checkServer,
  defaultPython,
  discoverInterpreter,
  installCommand,
  parseBundleInfo,
  planLaunch,
  problemMessage,
  type RunResult,
  type Runner,
  serverCommand,
  shellQuote,
} from "../src/interpreter";

const probe = (info: Record<string, unknown>): Runner => async () => ({
  code: 0,
  stdout: JSON.stringify({ python: [3, 11, 7], executable: "/venv/bin/python", squasher: true, lsp_server: true, pygls: true, ...info }) + "\n",
  stderr: "",
});

/** A real process runner, as the extension uses (for the end-to-end probe tests). */
const realRun: Runner = (command, args) =>
  new Promise<RunResult>((resolve) => {
    execFile(command, args, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
      resolve({
        code: e ? (typeof e.code === "number" ? e.code : null) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
        errorCode: e && typeof e.code === "string" ? e.code : undefined,
      });
    });
  });

describe("discoverInterpreter", () => {
  it("prefers the squasher.interpreter setting over the Python extension", async () => {
    let asked = false;
    const choice = await discoverInterpreter({
      setting: "/opt/py/bin/python",
      pythonExtension: async () => {
        asked = true;
        return "/ext/python";
      },
    });
    assert.deepEqual(choice, { path: "/opt/py/bin/python", source: "setting" });
    assert.equal(asked, false, "the Python extension is not consulted when the setting is set");
  });

  it("uses the Python extension's selected interpreter when there is no setting", async () => {
    const choice = await discoverInterpreter({ setting: "", pythonExtension: async () => "/ext/venv/bin/python" });
    assert.deepEqual(choice, { path: "/ext/venv/bin/python", source: "python-extension" });
  });

  it("falls back to python3 when the Python extension is absent, has no selection, or throws", async () => {
    for (const pythonExtension of [undefined, async () => undefined, async () => "  ", async () => { throw new Error("not ready"); }]) {
      const choice = await discoverInterpreter({ pythonExtension, platform: "linux" });
      assert.deepEqual(choice, { path: "python3", source: "default" });
    }
    assert.equal(defaultPython("win32"), "python");
  });
});

describe("serverCommand", () => {
  it("runs the lsp_server module with the chosen interpreter", () => {
    assert.deepEqual(serverCommand("/venv/bin/python"), { command: "/venv/bin/python", args: ["-P", "-m", "lsp_server"] });
    assert.deepEqual(serverCommand("/venv/bin/python", { debug: true }).args, ["-P", "-m", "lsp_server", "--debug"]);
  });
});

describe("checkServer", () => {
  it("passes when squasher, lsp_server and pygls import", async () => {
    assert.deepEqual(await checkServer("python3", probe({})), { ok: true, executable: "/venv/bin/python", python: [3, 11, 7] });
  });

  it("reports the missing modules", async () => {
    const check = await checkServer("python3", probe({ squasher: false, lsp_server: false }));
    assert.equal(check.ok, false);
    assert.ok(!check.ok && check.reason === "not-installed");
    assert.deepEqual(!check.ok && check.missing, ["squasher", "lsp_server"]);
  });

  it("rejects a Python older than 3.11", async () => {
    const check = await checkServer("python3", probe({ python: [3, 9, 18] }));
    assert.ok(!check.ok && check.reason === "python-too-old");
  });

  it("distinguishes a missing interpreter from a failing one", async () => {
    const missing = await checkServer("/nope/python", async () => ({ code: null, stdout: "", stderr: "", errorCode: "ENOENT" }));
    assert.ok(!missing.ok && missing.reason === "interpreter-not-found");
    const failing = await checkServer("python3", async () => ({ code: 1, stdout: "", stderr: "Traceback: boom" }));
    assert.ok(!failing.ok && failing.reason === "interpreter-failed" && failing.detail.includes("boom"));
    const garbage = await checkServer("python3", async () => ({ code: 0, stdout: "hello", stderr: "" }));
    assert.ok(!garbage.ok && garbage.reason === "interpreter-failed");
  });

  it("probes a real interpreter that lacks the server (a fake python printing the probe result)", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "squasher-probe-"));
    const fake = join(dir, "python");
    writeFileSync(fake, `#!/bin/sh\necho '{"python": [3, 12, 1], "executable": "${fake}", "squasher": false, "lsp_server": false, "pygls": true}'\n`);
    chmodSync(fake, 0o755);
    if (process.platform === "win32") {
      t.skip("POSIX shell script");
      return;
    }
    const check = await checkServer(fake, realRun);
    assert.ok(!check.ok && check.reason === "not-installed");
    assert.equal(
      problemMessage({ path: fake, source: "setting" }, check),
      `Squasher is not installed in ${fake} (the squasher.interpreter setting). Install it with: ${fake} -m pip install --upgrade squasher`,
    );
  });

  it("reports a non-existent interpreter path through a real spawn", async () => {
    const check = await checkServer("/definitely/not/here/python3", realRun);
    assert.ok(!check.ok && check.reason === "interpreter-not-found");
    assert.match(problemMessage({ path: "/definitely/not/here/python3", source: "default" }, check) ?? "", /was not found/);
  });
});

describe("installCommand", () => {
  it("quotes interpreter paths with spaces for the user's shell", () => {
    assert.equal(installCommand("/usr/bin/python3", "linux"), "/usr/bin/python3 -m pip install --upgrade squasher");
    assert.equal(installCommand("/home/me/my env/bin/python", "linux"), "'/home/me/my env/bin/python' -m pip install --upgrade squasher");
    assert.equal(installCommand("C:\\Program Files\\Python\\python.exe", "win32"), '& "C:\\Program Files\\Python\\python.exe" -m pip install --upgrade squasher');
    assert.equal(shellQuote("it's", "linux"), `'it'\\''s'`);
  });

  it("has no message for a passing check", () => {
    assert.equal(problemMessage({ path: "python3", source: "default" }, { ok: true, executable: "/x", python: [3, 11, 0] }), undefined);
  });
});

const BUNDLE: BundleInfo = { python: [3, 11], platform: "linux", machine: "x86_64", squasher: "0.1.0" };
const LIBS = "/ext/bundled/libs";

/** A fake interpreter: with the bundled libs on PYTHONPATH it finds squasher there; without, per `installed`. */
function fakePython(opts: { python?: number[]; installed?: boolean; platform?: string; machine?: string }): Runner & { calls: (Record<string, string> | undefined)[] } {
  const calls: (Record<string, string> | undefined)[] = [];
  const run = (async (_command: string, _args: string[], env?: Record<string, string>) => {
    calls.push(env);
    const bundled = !!env?.PYTHONPATH?.startsWith(LIBS);
    const has = bundled || !!opts.installed;
    return {
      code: 0,
      stdout:
        JSON.stringify({
          python: opts.python ?? [3, 11, 7],
          executable: "/venv/bin/python",
          squasher: has,
          lsp_server: has,
          pygls: has,
          origin: bundled ? `${LIBS}/squasher/__init__.py` : has ? "/venv/lib/python3.11/site-packages/squasher/__init__.py" : null,
          platform: opts.platform ?? "linux",
          machine: opts.machine ?? "x86_64",
        }) + "\n",
      stderr: "",
    };
  }) as Runner & { calls: (Record<string, string> | undefined)[] };
  run.calls = calls;
  return run;
}

describe("bundled libraries", () => {
  it("parses bundle.json and rejects malformed ones", () => {
    assert.deepEqual(parseBundleInfo('{"python": [3, 11], "platform": "linux", "machine": "X86_64", "squasher": "0.1.0"}'), BUNDLE);
    assert.equal(parseBundleInfo("{}"), undefined);
    assert.equal(parseBundleInfo("not json"), undefined);
  });

  it("matches the interpreter's Python minor version and platform", () => {
    assert.equal(bundleMismatch(BUNDLE, { python: [3, 11, 9], platform: "linux", machine: "x86_64" }), undefined);
    assert.match(bundleMismatch(BUNDLE, { python: [3, 12, 1] }) ?? "", /built for Python 3\.11 on linux-x86_64, the interpreter is Python 3\.12/);
    assert.match(bundleMismatch(BUNDLE, { python: [3, 11, 1], platform: "darwin" }) ?? "", /runs on darwin/);
    assert.match(bundleMismatch(BUNDLE, { python: [3, 11, 1], platform: "linux", machine: "aarch64" }) ?? "", /runs on aarch64/);
    assert.equal(bundleMismatch({ ...BUNDLE, machine: "amd64" }, { python: [3, 11], machine: "x86_64" }), undefined);
  });

  it("puts the bundled libs first on PYTHONPATH", () => {
    assert.deepEqual(bundledEnv(LIBS, undefined), { PYTHONPATH: LIBS });
    assert.deepEqual(bundledEnv(LIBS, "/mine", ":"), { PYTHONPATH: `${LIBS}:/mine` });
  });
});

describe("planLaunch", () => {
  const base = {
    importStrategy: "useBundled" as const,
    args: [] as string[],
    debug: false,
    choice: { path: "/venv/bin/python", source: "setting" as const },
    bundle: { libs: LIBS, info: BUNDLE },
  };

  it("useBundled: runs the interpreter with -P -m lsp_server and the bundled libs, even when squasher is not installed in it", async () => {
    const run = fakePython({ installed: false });
    const launch = await planLaunch({ ...base, run, args: ["--log-file", "/tmp/s.log"] });
    assert.ok(launch.ok);
    assert.equal(launch.strategy, "bundled");
    assert.equal(launch.command, "/venv/bin/python");
    assert.deepEqual(launch.args, ["-P", "-m", "lsp_server", "--log-file", "/tmp/s.log"]);
    assert.deepEqual(launch.env, { PYTHONPATH: LIBS });
    assert.equal(launch.interpreter, "/venv/bin/python");
    assert.match(launch.notes.join("\n"), /useBundled: squasher 0\.1\.0 from \/ext\/bundled\/libs/);
  });

  it("useBundled falls back to the installed squasher, saying why, when the Python version differs", async () => {
    const run = fakePython({ python: [3, 12, 2], installed: true });
    const launch = await planLaunch({ ...base, run });
    assert.ok(launch.ok);
    assert.equal(launch.strategy, "environment");
    assert.deepEqual(launch.env, {});
    assert.match(launch.notes[0], /built for Python 3\.11.*interpreter is Python 3\.12; using the squasher installed in the interpreter/);
    assert.deepEqual(run.calls.map((env) => env?.PYTHONPATH), [LIBS, undefined]);
  });

  it("useBundled with a version mismatch and nothing installed: one error that explains both", async () => {
    const launch = await planLaunch({ ...base, run: fakePython({ python: [3, 13, 0], installed: false }) });
    assert.equal(launch.ok, false);
    if (!launch.ok) {
      assert.match(launch.message, /Squasher is not installed in \/venv\/bin\/python/);
      assert.match(launch.message, /bundled server cannot be used: the bundled libraries are built for Python 3\.11/);
    }
  });

  it("useBundled without bundled libraries (a .vsix built without them) falls back to fromEnvironment", async () => {
    const launch = await planLaunch({ ...base, bundle: { libs: LIBS, info: undefined }, run: fakePython({ installed: true }) });
    assert.ok(launch.ok);
    assert.equal(launch.strategy, "environment");
    assert.match(launch.notes[0], /no bundled libraries in \/ext\/bundled\/libs/);
  });

  it("useBundled still refuses a Python that is too old, without falling back", async () => {
    const launch = await planLaunch({ ...base, run: fakePython({ python: [3, 10, 4] }) });
    assert.equal(launch.ok, false);
    if (!launch.ok) {
      assert.equal(launch.check.ok === false && launch.check.reason, "python-too-old");
    }
  });

  it("fromEnvironment never looks at the bundle", async () => {
    const run = fakePython({ installed: true });
    const launch = await planLaunch({ ...base, importStrategy: "fromEnvironment", run, debug: true });
    assert.ok(launch.ok);
    assert.equal(launch.strategy, "environment");
    assert.deepEqual(launch.args, ["-P", "-m", "lsp_server", "--debug"]);
    assert.deepEqual(run.calls, [undefined]);
  });

  it("squasher.path overrides everything, with args appended; no probe", async () => {
    const run = fakePython({});
    const launch = await planLaunch({ ...base, path: ["/opt/bin/squasher-lsp", "--stdio"], args: ["--log-file", "x"], run });
    assert.ok(launch.ok);
    assert.equal(launch.strategy, "path");
    assert.equal(launch.command, "/opt/bin/squasher-lsp");
    assert.deepEqual(launch.args, ["--stdio", "--log-file", "x"]);
    assert.equal(launch.interpreter, "/venv/bin/python");
    assert.equal(run.calls.length, 0);
    const bare = await planLaunch({ ...base, choice: { path: "python3", source: "default" }, path: ["squasher-lsp"], run });
    assert.ok(bare.ok && bare.interpreter === null);
  });
});
