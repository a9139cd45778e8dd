import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ConfigurationLike,
  expandPath,
  folderOf,
  initializationOptions,
  needsRestart,
  outermostFolders,
  readSettings,
  severityOverrides,
  shouldNotify,
} from "../src/settings";

function config(values: Record<string, unknown>): ConfigurationLike {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

const HOME = "/home/dev";
const WS = "/work/project";

describe("readSettings", () => {
  it("uses defaults when nothing is set", () => {
    const s = readSettings(config({}), { trusted: true, workspaceFolder: WS, home: HOME });
    assert.deepEqual(s, {
      enable: true,
      importStrategy: "useBundled",
      path: undefined,
      args: [],
      showNotifications: "always",
      severity: {},
      interpreter: undefined,
      settingsModule: null,
      djangoFeaturesRequested: true,
      djangoFeatures: true,
      trace: "off",
      trusted: true,
    });
  });

  it("turns Django features off in an untrusted workspace even when requested", () => {
    const s = readSettings(config({ djangoFeatures: true }), { trusted: false, home: HOME });
    assert.equal(s.djangoFeaturesRequested, true);
    assert.equal(s.djangoFeatures, false);
    assert.equal(initializationOptions(s, null).djangoFeatures, false);
  });

  it("respects djangoFeatures=false in a trusted workspace", () => {
    const s = readSettings(config({ djangoFeatures: false }), { trusted: true, home: HOME });
    assert.equal(s.djangoFeatures, false);
  });

  it("expands the interpreter path and ignores blanks", () => {
    assert.equal(
      readSettings(config({ interpreter: "${workspaceFolder}/.venv/bin/python" }), { trusted: true, workspaceFolder: WS, home: HOME }).interpreter,
      "/work/project/.venv/bin/python",
    );
    assert.equal(readSettings(config({ interpreter: "  " }), { trusted: true, home: HOME }).interpreter, undefined);
    assert.equal(readSettings(config({ interpreter: ["~/py/bin/python3"] }), { trusted: true, home: HOME }).interpreter, "/home/dev/py/bin/python3");
  });

  it("treats an empty settings module as null and trims it", () => {
    assert.equal(readSettings(config({ settingsModule: "" }), { trusted: true }).settingsModule, null);
    assert.equal(readSettings(config({ settingsModule: " mysite.settings " }), { trusted: true }).settingsModule, "mysite.settings");
  });

  it("accepts only known trace levels", () => {
    assert.equal(readSettings(config({ "trace.server": "verbose" }), { trusted: true }).trace, "verbose");
    assert.equal(readSettings(config({ "trace.server": "loud" }), { trusted: true }).trace, "off");
  });
});

describe("expandPath", () => {
  it("expands ~, ${userHome}, ${env:X} and ${workspaceFolder}", () => {
    assert.equal(expandPath("~", WS, {}, HOME), HOME);
    assert.equal(expandPath("${userHome}/bin/python", WS, {}, HOME), "/home/dev/bin/python");
    assert.equal(expandPath("${env:VENV}/bin/python", WS, { VENV: "/opt/venv" }, HOME), "/opt/venv/bin/python");
    assert.equal(expandPath("${workspaceFolder}/venv/bin/python", WS, {}, HOME), "/work/project/venv/bin/python");
  });

  it("resolves relative paths against the workspace folder but leaves bare commands for PATH", () => {
    assert.equal(expandPath(".venv/bin/python", WS, {}, HOME), "/work/project/.venv/bin/python");
    assert.equal(expandPath("python3.12", WS, {}, HOME), "python3.12");
    assert.equal(expandPath(".venv/bin/python", undefined, {}, HOME), ".venv/bin/python");
  });
});

describe("initializationOptions", () => {
  it("has exactly the keys the server contract names", () => {
    const s = readSettings(config({ settingsModule: "settings" }), { trusted: true });
    assert.deepEqual(initializationOptions(s, "/usr/bin/python3"), {
      djangoFeatures: true,
      settingsModule: "settings",
      interpreter: "/usr/bin/python3",
      severity: {},
    });
  });

  it("sends the severity overrides for the server to apply", () => {
    const s = readSettings(config({ severity: { SQ100: "off", SQ001: "Warning" } }), { trusted: true });
    assert.deepEqual(initializationOptions(s, null).severity, { SQ100: "off", SQ001: "warning" });
  });
});

describe("the Python-tools settings (enable, importStrategy, path, args, showNotifications, severity)", () => {
  const read = (values: Record<string, unknown>) => readSettings(config(values), { trusted: true, workspaceFolder: WS, home: HOME, env: { LOGS: "/var/log" } });

  it("enable is off only for an explicit false", () => {
    assert.equal(read({ enable: false }).enable, false);
    assert.equal(read({ enable: true }).enable, true);
    assert.equal(read({ enable: "no" }).enable, true);
  });

  it("importStrategy defaults to useBundled; anything unknown is useBundled", () => {
    assert.equal(read({}).importStrategy, "useBundled");
    assert.equal(read({ importStrategy: "fromEnvironment" }).importStrategy, "fromEnvironment");
    assert.equal(read({ importStrategy: "fromPATH" }).importStrategy, "useBundled");
  });

  it("path: a command list whose first entry is expanded as a path, the rest as arguments", () => {
    assert.deepEqual(read({ path: ["${workspaceFolder}/.venv/bin/squasher-lsp"] }).path, ["/work/project/.venv/bin/squasher-lsp"]);
    assert.deepEqual(read({ path: [".venv/bin/python", "-m", "lsp_server", "--log-file=${env:LOGS}/s.log"] }).path, [
      "/work/project/.venv/bin/python",
      "-m",
      "lsp_server",
      "--log-file=/var/log/s.log",
    ]);
    assert.deepEqual(read({ path: "squasher-lsp" }).path, ["squasher-lsp"]); // a string is one command; bare names stay for PATH
    assert.equal(read({ path: [] }).path, undefined);
    assert.equal(read({ path: ["", " "] }).path, undefined);
  });

  it("args: strings only, variables expanded, no path resolution", () => {
    assert.deepEqual(read({ args: ["--log-file", "~/squasher.log", 3, "logs/x"] }).args, ["--log-file", "/home/dev/squasher.log", "logs/x"]);
    assert.deepEqual(read({ args: "oops" }).args, ["oops"]);
  });

  it("showNotifications accepts the four levels, else always", () => {
    for (const level of ["off", "onError", "onWarning", "always"]) {
      assert.equal(read({ showNotifications: level }).showNotifications, level);
    }
    assert.equal(read({ showNotifications: "sometimes" }).showNotifications, "always");
  });

  it("severity keeps valid entries only (levels case-insensitive, info = information)", () => {
    assert.deepEqual(severityOverrides({ SQ100: "off", " SQ001 ": "HINT", SQ002: "info", SQ003: "loud", SQ004: 2 }), {
      SQ100: "off",
      SQ001: "hint",
      SQ002: "information",
    });
    assert.deepEqual(severityOverrides(["SQ100"]), {});
    assert.deepEqual(severityOverrides(null), {});
    assert.deepEqual(read({ severity: { SQ100: "off" } }).severity, { SQ100: "off" });
  });
});

describe("shouldNotify", () => {
  it("follows the Microsoft template's levels", () => {
    const table = (setting: "off" | "onError" | "onWarning" | "always") =>
      (["error", "warning", "information"] as const).map((kind) => shouldNotify(kind, setting));
    assert.deepEqual(table("off"), [false, false, false]);
    assert.deepEqual(table("onError"), [true, false, false]);
    assert.deepEqual(table("onWarning"), [true, true, false]);
    assert.deepEqual(table("always"), [true, true, true]);
  });
});

describe("multi-root folders", () => {
  it("serves each folder, a nested folder by the outer one", () => {
    assert.deepEqual(outermostFolders(["/w/a", "/w/b", "/w/a/sub", "/w/ab"], "/"), ["/w/a", "/w/b", "/w/ab"]);
    assert.deepEqual(outermostFolders(["/w/a"], "/"), ["/w/a"]);
    assert.deepEqual(outermostFolders(["C:\\w\\a", "C:\\w\\a\\x"], "\\"), ["C:\\w\\a"]);
  });

  it("finds a file's folder by path segments (longest match)", () => {
    const folders = ["/w/a", "/w/ab", "/w/a/sub"];
    assert.equal(folderOf("/w/ab/blog/migrations/0001_initial.py", folders, "/"), "/w/ab");
    assert.equal(folderOf("/w/a/sub/x.py", folders, "/"), "/w/a/sub");
    assert.equal(folderOf("/w/a/x.py", folders, "/"), "/w/a");
    assert.equal(folderOf("/elsewhere/x.py", folders, "/"), undefined);
  });

  it("reads each folder's own settings (resource-scoped configuration)", () => {
    const perFolder: Record<string, Record<string, unknown>> = {
      "/w/a": { importStrategy: "fromEnvironment", severity: { SQ100: "off" } },
      "/w/b": { enable: false },
    };
    const a = readSettings(config(perFolder["/w/a"]), { trusted: true, workspaceFolder: "/w/a" });
    const b = readSettings(config(perFolder["/w/b"]), { trusted: true, workspaceFolder: "/w/b" });
    assert.equal(a.importStrategy, "fromEnvironment");
    assert.deepEqual(a.severity, { SQ100: "off" });
    assert.equal(a.enable, true);
    assert.equal(b.enable, false);
    assert.equal(b.importStrategy, "useBundled");
  });
});

describe("needsRestart", () => {
  it("restarts for interpreter, settings module and Django features, not for trace", () => {
    const changed = (keys: string[]) => needsRestart((k) => keys.includes(k));
    assert.equal(changed(["squasher.interpreter"]), true);
    assert.equal(changed(["squasher.settingsModule"]), true);
    assert.equal(changed(["squasher.djangoFeatures"]), true);
    for (const key of ["enable", "importStrategy", "path", "args", "severity"]) {
      assert.equal(changed([`squasher.${key}`]), true, key);
    }
    assert.equal(changed(["squasher.showNotifications"]), false);
    assert.equal(changed(["squasher.trace.server"]), false);
    assert.equal(changed(["python.defaultInterpreterPath"]), false);
  });
});
