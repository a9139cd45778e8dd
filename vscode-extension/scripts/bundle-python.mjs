// Installs the squasher package (from this repository) and its runtime dependencies into
// bundled/libs with `pip install --target`, for `squasher.importStrategy: useBundled`, as
// Microsoft's Python tool extension template bundles its tool. Django is left out: the
// server reads migrations statically, and squash/finalize import the project's own Django
// from the interpreter. bundled/bundle.json records the Python version and platform: libcst
// has compiled parts (wheels per CPython minor version and platform), so the .vsix is
// platform-specific and the extension only uses the bundle on a matching interpreter.
//
//   SQUASHER_BUNDLE_PYTHON  the Python to install for (default python3; python on Windows)
//   SQUASHER_BUNDLE_SKIP=1  build without bundled libraries (useBundled then falls back)
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const ext = resolve(here, "..");
const repo = resolve(ext, "..");
const bundled = join(ext, "bundled");
const libs = join(bundled, "libs");
const python = process.env.SQUASHER_BUNDLE_PYTHON || (process.platform === "win32" ? "python" : "python3");
const log = (m) => console.error(`[bundle-python] ${m}`);

function run(args, options = {}) {
  const r = spawnSync(python, args, { cwd: repo, encoding: "utf8", stdio: options.capture ? ["ignore", "pipe", "inherit"] : "inherit" });
  if (r.error || r.status !== 0) {
    log(`${python} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
  return r.stdout;
}

rmSync(bundled, { recursive: true, force: true });
if (process.env.SQUASHER_BUNDLE_SKIP === "1") {
  log("SQUASHER_BUNDLE_SKIP=1: no bundled libraries");
  process.exit(0);
}
mkdirSync(libs, { recursive: true });

// the project's runtime dependencies, Django excluded, and what the bundle is built for
const info = JSON.parse(run(["-c", `
import json, platform, re, sys, tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
name = lambda d: re.match(r"[A-Za-z0-9_.-]+", d).group().lower()
deps = [d for d in project["dependencies"] if name(d) != "django"]
version = re.search(r'__version__ = "([^"]+)"', open("squasher/__init__.py").read()).group(1)
print(json.dumps({"deps": deps, "version": version, "python": list(sys.version_info[:2]),
                  "platform": sys.platform, "machine": platform.machine().lower(),
                  "implementation": sys.implementation.name}))
`], { capture: true }));
if (info.python[0] < 3 || (info.python[0] === 3 && info.python[1] < 11)) {
  log(`${python} is Python ${info.python.join(".")}; squasher needs 3.11+ (set SQUASHER_BUNDLE_PYTHON)`);
  process.exit(1);
}
log(`installing for Python ${info.python.join(".")} on ${info.platform}-${info.machine}: ${info.deps.join(", ")}`);
const pip = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "--no-compile", "--target", libs];
// dependencies first (ruff's binary goes to libs/bin), then squasher itself without dependencies
run([...pip, "--only-binary", ":all:", ...info.deps]);
run([...pip, "--no-deps", repo]);
for (const entry of readdirSync(libs)) {
  if (entry === "__pycache__") {
    rmSync(join(libs, entry), { recursive: true, force: true });
  }
}
writeFileSync(
  join(bundled, "bundle.json"),
  JSON.stringify({ python: info.python, platform: info.platform, machine: info.machine, implementation: info.implementation, squasher: info.version }, null, 2) + "\n",
);
log(`done: ${libs}`);
