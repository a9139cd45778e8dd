// UI assertions in a real VS Code (code-server) driven by headless Chromium; run by run.sh.
// Each check is recorded in $SHOTS/results.json with a screenshot; the exit status is 1 when
// any failed. Kept to the few things only the real editor can show (the language server's
// behaviour is tested in detail with pytest-lsp).
// With README_SHOTS=DIR (run.sh's SQUASHER_E2E_README_SHOTS, see readme-shots.sh) it takes the
// extension README's images instead: DIR/screenshot.png and DIR/graph.png.
import { existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through e2e/run.sh)`);
  return v;
};
const CS_URL = env("CS_URL");
const WORKSPACE = env("WORKSPACE");
const SHOTS = env("SHOTS");
const README_SHOTS = process.env.README_SHOTS ?? "";
const require = createRequire(import.meta.url);
const { chromium } = require(env("PLAYWRIGHT_CORE"));

const APP_DIR = join(WORKSPACE, "blog", "migrations");
const LEAF = "0005_post_reading_time.py";
const OTHER_LEAF = "0003_post_status";
const MERGE = "0022_merge_supplier_phone_category_description"; // catalog: a merge node, collapsed lines
const DEPENDENCY = "0004_post_summary";
const started = Date.now();
const results = [];
const requests = [];
const consoleLog = join(SHOTS, "browser-console.log");
let page;
let shotNo = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);
function log(msg) {
  console.log(`[ui ${elapsed()}s] ${msg}`);
}
async function shot(name) {
  const file = join(SHOTS, `${String(++shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file }).catch((e) => log(`screenshot ${name} failed: ${e.message}`));
  return file;
}
async function check(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    const screenshot = await shot(name);
    results.push({ name, ok: true, detail: detail ?? null, seconds: (Date.now() - t0) / 1000, screenshot });
    log(`PASS ${name}${detail ? `: ${JSON.stringify(detail).slice(0, 300)}` : ""}`);
    return true;
  } catch (error) {
    const screenshot = await shot(`FAILED-${name}`);
    results.push({ name, ok: false, error: String(error?.message ?? error), seconds: (Date.now() - t0) / 1000, screenshot });
    log(`FAIL ${name}: ${error?.message ?? error}`);
    return false;
  }
}
async function until(what, fn, timeout = 30_000, interval = 250) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
}

const editor = () => page.locator(".part.editor .editor-group-container.active .monaco-editor").first();
const squiggles = () => editor().locator('.view-overlays [class*="squiggly-"]');
const hoverWidget = () => page.locator(".monaco-hover:visible, .workbench-hover:visible").first();
const statusItem = () => page.locator(".part.statusbar .statusbar-item").filter({ hasText: /Migrations|migration conflict/ }).first();

async function clearHover() {
  await page.mouse.move(5, 5);
  await page.keyboard.press("Escape");
  await sleep(200);
}
async function hoverText(locator, wanted, timeout = 15_000) {
  return until(`hover with ${wanted}`, async () => {
    const box = await locator.boundingBox();
    if (!box) return false;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
    await sleep(600);
    const hover = hoverWidget();
    if (!(await hover.isVisible())) {
      await page.mouse.move(box.x + 2, box.y + box.height / 2);
      return false;
    }
    const text = await hover.innerText();
    return wanted.test(text) ? text : false;
  }, timeout, 300);
}
async function openFile(name) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input").first();
  await input.waitFor({ state: "visible", timeout: 10_000 });
  await input.fill(name);
  await until(`quick open result ${name}`, async () => (await page.locator(".quick-input-list .monaco-list-row").count()) > 0, 15_000);
  await sleep(300);
  await page.keyboard.press("Enter");
  await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor({ timeout: 15_000 });
}
async function runCommand(title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input").first();
  await input.waitFor({ state: "visible", timeout: 10_000 });
  await input.fill(`>${title}`);
  await until(`command ${title}`, async () => {
    const row = page.locator(".quick-input-list .monaco-list-row").first();
    return (await row.count()) && (await row.innerText()).includes(title);
  }, 15_000);
  await page.keyboard.press("Enter");
}
function mergeFiles() {
  return readdirSync(APP_DIR).filter((f) => /merge/i.test(f) && f.endsWith(".py"));
}

/** Explorer rows a README image must not show (what a local run leaves in a project). */
const CLUTTER = /^(\.squasher-cache|\.squasher-journal|__pycache__|.*\.pyc|.*\.sqlite3|\.vscode|catalog\.mmd)$/;
async function explorerRows() {
  return (await page.locator(".explorer-folders-view .monaco-list-row").allInnerTexts()).map((t) => t.trim().split("\n")[0]);
}
async function graphFrame(wanted) {
  return until("the graph webview, rendered", async () => {
    for (const f of page.frames()) {
      if ((await f.locator("#graph svg g.node").count().catch(() => 0)) > 0 && (await wanted(f))) return f;
    }
    return false;
  }, 45_000, 500);
}

/** The images of vscode-extension/README.md, from the build under test. */
async function readmeShots() {
  const file = (name) => join(README_SHOTS, name);
  await openFile(LEAF);
  // 1. screenshot.png: the SQ001 squiggle's hover, the conflict count in the status bar
  await check("readme-screenshot", async () => {
    await until("a squiggle in the editor (server start + project load)", async () => (await squiggles().count()) > 0, 90_000);
    const status = await until("status bar item with 1 conflict", async () => {
      const t = await statusItem().innerText().catch(() => "");
      return /1 migration conflict/.test(t) ? t : false;
    }, 30_000);
    const rows = await explorerRows();
    const clutter = rows.filter((r) => CLUTTER.test(r));
    if (clutter.length) throw new Error(`the explorer shows ${JSON.stringify(clutter)}`);
    if (!rows.includes(LEAF)) throw new Error(`the explorer does not show ${LEAF}: ${JSON.stringify(rows)}`);
    await sleep(1500); // code lens and explorer decorations settle
    const text = await hoverText(squiggles().first(), /SQ001/);
    if (!text.includes(OTHER_LEAF)) throw new Error(`the diagnostic hover does not name the other leaf: ${text}`);
    await page.screenshot({ path: file("screenshot.png") });
    return { statusBar: status.trim(), explorer: rows, hover: text.replace(/\s+/g, " ").slice(0, 200) };
  });
  await clearHover();

  // 2. graph.png: the graph webview beside a merge migration, opened from the editor title
  //    button (so filtered to the file's app), fit to width (the default) around the ◆ merge
  //    node; the side bar is closed to give the two columns the room
  await check("readme-graph", async () => {
    await runCommand("View: Close All Editors");
    await openFile(`${MERGE}.py`);
    const rows = await explorerRows();
    const clutter = rows.filter((r) => CLUTTER.test(r));
    if (clutter.length) throw new Error(`the explorer shows ${JSON.stringify(clutter)}`);
    await runCommand("View: Close Primary Side Bar");
    const button = page.locator('.part.editor .editor-group-container.active .editor-actions .action-label[aria-label*="Show migration graph"]').first();
    await button.waitFor({ state: "visible", timeout: 15_000 });
    await button.click();
    const frame = await graphFrame(async (f) => (await f.locator("#app").inputValue().catch(() => "")) === "catalog");
    const merge = frame.locator("#graph svg g.node", { hasText: `◆ ${MERGE}` }).first();
    await merge.waitFor({ timeout: 10_000 });
    const legend = await frame.locator("#legend").innerText();
    if (!/merge/.test(legend)) throw new Error(`the webview's legend has no merge entry: ${legend}`);
    await merge.evaluate((e) => e.scrollIntoView({ block: "center", inline: "center" }));
    await clearHover();
    await sleep(1000);
    await page.screenshot({ path: file("graph.png") });
    return { status: await frame.locator("#status").innerText(), legend };
  });
}

async function main() {
  const context = await chromium.launchPersistentContext(env("BROWSER_PROFILE"), {
    executablePath: env("CHROMIUM"),
    headless: true,
    viewport: README_SHOTS ? { width: 1400, height: 850 } : { width: 1600, height: 1000 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.on("console", (m) => appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => appendFileSync(consoleLog, `[pageerror] ${e.message}\n`));
  page.on("request", (r) => {
    let frameUrl = "";
    try {
      frameUrl = r.frame().url();
    } catch {
      // service-worker requests have no frame
    }
    requests.push({ url: r.url(), frameUrl });
  });

  await page.goto(CS_URL);
  await page.locator(".monaco-workbench .part.statusbar").waitFor({ timeout: 60_000 });
  log("workbench loaded");
  if (README_SHOTS) {
    await readmeShots();
    await context.close();
    return;
  }
  await openFile(LEAF);
  log(`opened ${LEAF}`);

  // 1. the SQ001 diagnostic in the editor (squiggle + its hover) and in the Problems panel
  const diagnosticOk = await check("conflict-diagnostic-in-editor", async () => {
    await until("a squiggle in the editor (server start + project load)", async () => (await squiggles().count()) > 0, 90_000);
    const text = await hoverText(squiggles().first(), /SQ001/);
    if (!text.includes(OTHER_LEAF)) throw new Error(`the diagnostic hover does not name the other leaf: ${text}`);
    return { hover: text.replace(/\s+/g, " ").slice(0, 200) };
  });
  await clearHover();

  // 2. hover on a dependency tuple shows the target's operations
  await check("hover-dependency-shows-operations", async () => {
    const token = editor().locator(".view-lines span", { hasText: new RegExp(`^['"]${DEPENDENCY}['"]$`) }).last();
    await token.waitFor({ timeout: 10_000 });
    const text = await hoverText(token, /Operations/i, 20_000);
    if (!text.includes(`blog.${DEPENDENCY}`) || !/summary/i.test(text.split(/Operations/i)[1] ?? "")) {
      throw new Error(`hover lacks the target or its operations: ${text}`);
    }
    return { hover: text.replace(/\s+/g, " ").slice(0, 200) };
  });
  await clearHover();

  // 3. the status bar counts the conflict; clicking it opens the Problems panel with SQ001
  await check("status-bar-conflict-count", async () => {
    const text = await until("status bar item with 1 conflict", async () => {
      const t = await statusItem().innerText().catch(() => "");
      return /1 migration conflict/.test(t) ? t : false;
    }, 30_000);
    return { statusBar: text.trim() };
  });
  await check("conflict-diagnostic-in-problems-panel", async () => {
    await statusItem().click();
    const panel = page.locator(".markers-panel").first();
    await panel.waitFor({ state: "visible", timeout: 10_000 });
    const text = await until("SQ001 rows in the Problems panel", async () => {
      const t = await panel.innerText();
      return /SQ001/.test(t) && t.includes(LEAF) ? t : false;
    }, 20_000);
    return { problems: text.replace(/\s+/g, " ").slice(0, 300) };
  });

  // 4. the "Create merge migration" quick fix writes the file; the diagnostic goes away
  const before = mergeFiles();
  const quickFixOk = diagnosticOk && (await check("quick-fix-create-merge-migration", async () => {
    await openFile(LEAF);
    const squiggle = squiggles().first();
    const box = await squiggle.boundingBox();
    if (!box) throw new Error("no squiggle to put the cursor on");
    await page.mouse.click(box.x + Math.min(10, box.width / 2), box.y + box.height / 2);
    await clearHover();
    await page.keyboard.press("Control+.");
    const menu = page.locator(".action-widget").first();
    await menu.waitFor({ state: "visible", timeout: 15_000 });
    const rows = menu.locator(".monaco-list-row");
    await until("quick fix rows", async () => (await rows.count()) > 0, 10_000);
    const labels = await rows.allInnerTexts();
    const target = labels.findIndex((t) => /Create merge migration/.test(t));
    if (target < 0) throw new Error(`no "Create merge migration" in the menu: ${JSON.stringify(labels)}`);
    // press Enter on the focused row (a mouse click is intercepted by the pointer block)
    for (let i = 0; i < labels.length + 2; i++) {
      const focused = await menu.locator(".monaco-list-row.focused").innerText().catch(() => "");
      if (/Create merge migration/.test(focused)) break;
      await page.keyboard.press("ArrowDown");
      await sleep(100);
    }
    await page.keyboard.press("Enter");
    const created = await until("a merge migration on disk", () => {
      const fresh = mergeFiles().filter((f) => !before.includes(f));
      if (!fresh.length) return false;
      const source = readFileSync(join(APP_DIR, fresh[0]), "utf8");
      return source.includes(OTHER_LEAF) && source.includes(LEAF.replace(/\.py$/, "")) ? { file: fresh[0], source } : false;
    }, 30_000);
    return { file: created.file, menu: labels, bytes: created.source.length };
  }));
  if (quickFixOk) {
    await check("diagnostic-disappears-after-merge", async () => {
      await openFile(LEAF);
      await until("no squiggle left in the leaf", async () => (await squiggles().count()) === 0, 30_000);
      const text = await until("status bar without conflicts", async () => {
        const t = await statusItem().innerText().catch(() => "");
        return t && !/conflict/.test(t) ? t : false;
      }, 30_000);
      const problems = await page.locator(".markers-panel").first().innerText().catch(() => "");
      if (/SQ001/.test(problems)) throw new Error(`Problems panel still lists SQ001: ${problems.slice(0, 300)}`);
      return { statusBar: text.trim() };
    });
  }

  // 5. "Show migration graph" is in the editor title of a migration file (not of other files);
  //    clicking it opens the graph filtered to that file's app
  await check("graph-button-in-editor-title", async () => {
    const button = () => page.locator('.part.editor .editor-group-container.active .editor-actions .action-label[aria-label*="Show migration graph"]');
    await openFile("settings.py");
    await sleep(1000);
    if (await button().count()) throw new Error("the graph button is shown on settings.py, which is no migration");
    await openFile(LEAF);
    await button().first().waitFor({ state: "visible", timeout: 15_000 });
    await button().first().click();
    const selected = await until("the graph webview with blog selected", async () => {
      for (const f of page.frames()) {
        const n = await f.locator("#graph svg g.node").count().catch(() => 0);
        const app = n > 0 ? await f.locator("#app").inputValue().catch(() => "") : "";
        if (app) return app;
      }
      return false;
    }, 45_000, 500);
    if (selected !== "blog") throw new Error(`the graph opened from ${LEAF} shows ${selected}, not blog`);
    return { selected };
  });

  // 6. the graph webview renders Mermaid (bundled) and clicking a node opens its file
  await check("graph-webview-renders", async () => {
    await runCommand("Squasher: Show migration graph");
    // all apps: the panel still shows the blog graph of the step before until the new one renders
    const frame = await graphFrame(async (f) => (await f.locator("#app").inputValue().catch(() => "blog")) === "");
    const nodes = await frame.locator("#graph svg g.node").count();
    const keys = await frame.locator("#graph svg g.node[data-node-key]").evaluateAll((els) => els.map((e) => e.dataset.nodeKey));
    const status = await frame.locator("#status").innerText();
    await shot("graph-rendered");
    // Mermaid comes from the extension (dist/media), and the webview fetched nothing from outside
    const fromWebview = requests.filter((r) => /webview/i.test(r.frameUrl) || /mermaid\.min\.js|media\/graph\.js/.test(r.url));
    if (!fromWebview.some((r) => /dist\/media\/mermaid\.min\.js/.test(r.url))) {
      throw new Error(`mermaid.min.js was not loaded from the extension: ${JSON.stringify(fromWebview.map((r) => r.url).slice(0, 20))}`);
    }
    // *.vscode-resource.vscode-cdn.net is the webview resource origin; VS Code's service worker
    // answers it from the extension's folder (asWebviewUri), it never reaches the network
    const local = (host) => /^(127\.0\.0\.1|localhost)$/.test(host) || host.endsWith(".vscode-resource.vscode-cdn.net");
    const outside = fromWebview.filter((r) => /^(https?|wss?):/.test(r.url) && !local(new URL(r.url).hostname));
    if (outside.length) throw new Error(`the webview requested outside resources: ${JSON.stringify(outside)}`);
    if (!keys.includes("blog.0001_initial")) throw new Error(`blog.0001_initial is not a clickable node (${keys.length} clickable)`);
    // the app filter re-renders only blog (and the nodes it touches)
    await frame.locator("#app").selectOption("blog");
    const blogNodes = await until("the graph filtered to blog", async () => {
      const n = await frame.locator("#graph svg g.node").count();
      return n > 0 && n < nodes ? n : false;
    }, 20_000);
    await shot("graph-blog");
    await frame.locator('#graph svg g.node[data-node-key="blog.0001_initial"]').first().click();
    await page.locator('.tabs-container .tab[aria-label*="0001_initial.py"]').first().waitFor({ timeout: 15_000 });
    return { nodes, blogNodes, clickable: keys.length, status, webviewRequests: fromWebview.length };
  });

  await context.close();
}

let fatal = null;
try {
  await main();
} catch (error) {
  fatal = String(error?.stack ?? error);
  log(`fatal: ${fatal}`);
  if (page) await shot("fatal");
}
const failed = results.filter((r) => !r.ok).length;
writeFileSync(join(SHOTS, "results.json"), JSON.stringify({ seconds: Number(elapsed()), passed: results.length - failed, failed, fatal, results }, null, 2));
log(`${results.length - failed} passed, ${failed} failed${fatal ? ", aborted" : ""}`);
process.exit(failed || fatal ? 1 : 0);
