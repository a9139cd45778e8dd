import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  conflictedApps,
  editedUris,
  countConflicts,
  endCandidates,
  finalizeCandidates,
  isMigrationFile,
  parseApps,
  parseGraph,
  resolveNodeKey,
  statusText,
  appForFile,
  runnableLenses,
} from "../src/model";

const blog = { app: "blog", migrations: ["0001_initial", "0002_post_slug", "0002_comment", "0003_tags"], leaves: ["0002_post_slug", "0003_tags"], path: "/p/blog/migrations" };
const catalog = { app: "catalog", migrations: ["0001_initial", "0002_squashed", "0003_more"], leaves: ["0003_more"] };

describe("isMigrationFile", () => {
  it("matches Python files inside a migrations folder only", () => {
    assert.equal(isMigrationFile("/p/blog/migrations/0001_initial.py"), true);
    assert.equal(isMigrationFile("C:\\p\\blog\\migrations\\0002_x.py"), true);
    assert.equal(isMigrationFile("/p/blog/models.py"), false);
    assert.equal(isMigrationFile("/p/migrations.py"), false);
    assert.equal(isMigrationFile("/p/blog/migrations/README.md"), false);
  });
});

describe("listApps helpers", () => {
  it("parses the server result and finds conflicted apps", () => {
    const apps = parseApps([blog, catalog, { nope: 1 }]);
    assert.deepEqual(apps.map((a) => a.app), ["blog", "catalog"]);
    assert.deepEqual(conflictedApps(apps).map((a) => a.app), ["blog"]);
    assert.deepEqual(parseApps({ apps: [catalog] })[0].leaves, ["0003_more"]);
    assert.deepEqual(parseApps(null), []);
  });

  it("offers only migrations after the start as the end of a squash", () => {
    assert.deepEqual(endCandidates(blog, "0002_post_slug"), ["0002_comment", "0003_tags"]);
    assert.deepEqual(endCandidates(blog, undefined), blog.migrations);
    assert.deepEqual(endCandidates(blog, "missing"), []);
  });

  it("lists squash migrations first for finalize", () => {
    assert.deepEqual(finalizeCandidates(catalog), ["0002_squashed"]);
    assert.deepEqual(finalizeCandidates(blog), blog.migrations);
  });
});

describe("countConflicts", () => {
  const sq001 = { code: "SQ001", source: "squasher" };
  it("counts one conflict per migrations package, however many leaves carry SQ001", () => {
    assert.equal(
      countConflicts([
        ["/p/blog/migrations/0002_post_slug.py", [sq001]],
        ["/p/blog/migrations/0003_tags.py", [{ code: { value: "SQ001" }, source: "squasher" }]],
        ["/p/shop/migrations/0004_a.py", [sq001, { code: "SQ002", source: "squasher" }]],
      ]),
      2,
    );
  });

  it("ignores other codes and other sources", () => {
    assert.equal(
      countConflicts([
        ["/p/blog/migrations/0002.py", [{ code: "SQ002", source: "squasher" }]],
        ["/p/blog/migrations/0003.py", [{ code: "SQ001", source: "pylint" }]],
        ["/p/blog/migrations/0004.py", []],
      ]),
      0,
    );
  });

  it("renders the status text", () => {
    assert.equal(statusText(0), "$(check) Migrations");
    assert.equal(statusText(1), "$(git-merge) 1 migration conflict");
    assert.equal(statusText(3), "$(git-merge) 3 migration conflicts");
  });
});

describe("graph helpers", () => {
  const nodes = { "blog.0001_initial": "file:///p/blog/migrations/0001_initial.py", "shop.0001_initial": "file:///p/shop/migrations/0001_initial.py", "blog.0002_x": "file:///b2" };

  it("keeps only string node URIs", () => {
    assert.deepEqual(parseGraph({ text: "graph TD", nodes: { a: "file:///a", b: 3 } }), { text: "graph TD", nodes: { a: "file:///a" } });
    assert.deepEqual(parseGraph(undefined), { text: "", nodes: {} });
  });

  it("maps squasher's n_<app>__<name> ids (as Mermaid renders them) back to node keys", () => {
    assert.equal(resolveNodeKey(nodes, "flowchart-n_blog__0001_initial-3", undefined), "blog.0001_initial");
    assert.equal(resolveNodeKey(nodes, "squasher-graph-1-flowchart-n_shop__0001_initial-12", undefined), "shop.0001_initial");
    assert.equal(resolveNodeKey(nodes, "n_blog__0002_x", undefined), "blog.0002_x");
  });

  it("maps other Mermaid element ids back to node keys", () => {
    assert.equal(resolveNodeKey(nodes, "flowchart-blog_0001_initial-3", undefined), "blog.0001_initial");
    assert.equal(resolveNodeKey(nodes, "flowchart-shop.0001_initial-0", undefined), "shop.0001_initial");
  });

  it("falls back to the label: full key, or a name unique across apps", () => {
    assert.equal(resolveNodeKey(nodes, "flowchart-n7-1", "blog.0002_x"), "blog.0002_x");
    assert.equal(resolveNodeKey(nodes, "flowchart-n8-1", "0002_x"), "blog.0002_x");
    assert.equal(resolveNodeKey(nodes, "flowchart-n9-1", "0001_initial"), undefined, "ambiguous name");
  });
});

describe("editedUris", () => {
  it("lists created and edited files, not deleted ones", () => {
    assert.deepEqual(
      editedUris({
        documentChanges: [
          { kind: "create", uri: "file:///m/0006_merge.py" },
          { textDocument: { uri: "file:///m/0006_merge.py" } },
          { textDocument: { uri: "file:///m/0004_x.py" } },
          { kind: "rename", oldUri: "file:///m/0003_a.py", newUri: "file:///m/0005_a.py" },
          { kind: "delete", uri: "file:///m/0002_old.py" },
        ],
      }),
      ["file:///m/0006_merge.py", "file:///m/0004_x.py", "file:///m/0005_a.py"],
    );
    assert.deepEqual(editedUris({ changes: { "file:///a.py": [] } }), ["file:///a.py"]);
    assert.deepEqual(editedUris(undefined), []);
  });
});

describe("code lenses and the graph button", () => {
  it("keeps only lenses with a command to run", () => {
    const lenses = [
      { title: "1 dependent", command: { title: "1 dependent", command: "" } },
      { title: "squashable", command: { title: "squashable", command: "squasher.squash" } },
      { title: "unresolved" },
    ];
    assert.deepEqual(runnableLenses(lenses).map((l) => l.title), ["squashable"]);
    assert.deepEqual(runnableLenses(null), []);
  });

  it("finds the app of a migration file from listApps paths", () => {
    const apps = [
      { app: "blog", migrations: [], leaves: [], path: "/w/blog/migrations" },
      { app: "shop", migrations: [], leaves: [], path: "C:\\w\\shop\\migrations" },
    ];
    assert.equal(appForFile(apps, "/w/blog/migrations/0001_initial.py")?.app, "blog");
    assert.equal(appForFile(apps, "C:\\w\\shop\\migrations\\0002_x.py")?.app, "shop");
    assert.equal(appForFile(apps, "/w/other/migrations/0001_initial.py"), undefined);
  });
});
