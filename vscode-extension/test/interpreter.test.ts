import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  checkServer,
  defaultPython,
  discoverInterpreter,
  installCommand,
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
