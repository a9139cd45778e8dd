/**
 * "Show migration graph": a webview rendering the Mermaid text returned by `squasher.graph`.
 * Mermaid is bundled into the extension (dist/media/mermaid.min.js); nothing is loaded from
 * the internet and the CSP only allows scripts carrying this page's nonce.
 * Clicking a node opens its migration file (the `nodes` map of the graph result).
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { type GraphResult, parseGraph, ServerCommands } from "./model";
import type { SquasherServer } from "./server";

type FromWebview =
  | { type: "ready" }
  | { type: "open"; key: string }
  | { type: "refresh" }
  | { type: "filter"; apps: string[] }
  | { type: "error"; message: string };

export class GraphView {
  private static current: GraphView | undefined;
  private graph: GraphResult = { text: "", nodes: {} };
  private ready = false;

  static async show(extensionUri: vscode.Uri, server: SquasherServer, apps?: string[]): Promise<void> {
    if (GraphView.current) {
      GraphView.current.apps = apps;
      GraphView.current.server = server; // the folder the graph was asked for (multi-root)
      GraphView.current.panel.reveal();
    } else {
      GraphView.current = new GraphView(extensionUri, server, apps);
    }
    await GraphView.current.refresh();
  }

  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];

  private constructor(
    extensionUri: vscode.Uri,
    private server: SquasherServer,
    private apps: string[] | undefined,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, "dist", "media");
    this.panel = vscode.window.createWebviewPanel("squasher.graph", "Migration graph", vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: true,
    });
    this.panel.webview.html = this.html(media);
    this.panel.onDidDispose(() => this.dispose(), null, this.disposables);
    this.panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m), null, this.disposables);
  }

  private html(media: vscode.Uri): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString("base64");
    const script = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(media, name)).toString();
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      // Mermaid writes <style> into its SVG and style attributes on nodes
      `style-src ${webview.cspSource} 'unsafe-inline'`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${script("graph.css")}">
<title>Migration graph</title>
</head>
<body>
<div id="toolbar"><button id="refresh" type="button">Refresh</button><button id="zoom" type="button">Actual size</button><select id="app" aria-label="App"><option value="">All apps</option></select><span id="status">Loading…</span><span id="legend"></span></div>
<div id="graph" class="fit" aria-label="Migration graph"></div>
<pre id="error" hidden></pre>
<script nonce="${nonce}" src="${script("mermaid.min.js")}"></script>
<script nonce="${nonce}" src="${script("graph.js")}"></script>
</body>
</html>`;
  }

  private async refresh(): Promise<void> {
    const args: Record<string, unknown> = { format: "mermaid" };
    if (this.apps?.length) {
      args.apps = this.apps;
    }
    this.graph = parseGraph(await this.server.executeCommand(ServerCommands.graph, args));
    this.post();
  }

  private post(): void {
    if (this.ready) {
      void this.panel.webview.postMessage({
        type: "render",
        text: this.graph.text,
        nodes: Object.keys(this.graph.nodes),
        selected: this.apps ?? [],
      });
    }
  }

  private async onMessage(message: FromWebview): Promise<void> {
    switch (message.type) {
      case "ready":
        this.ready = true;
        this.post();
        break;
      case "filter":
        this.apps = message.apps.length ? message.apps : undefined;
        await this.refresh().catch((e: unknown) => this.server.output.error(`graph: ${String(e)}`));
        break;
      case "refresh":
        await this.refresh().catch((e: unknown) => this.server.output.error(`graph: ${String(e)}`));
        break;
      case "open": {
        const target = this.graph.nodes[message.key];
        if (target) {
          const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target));
          await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One });
        }
        break;
      }
      case "error":
        this.server.output.error(`graph webview: ${message.message}`);
        break;
    }
  }

  private dispose(): void {
    GraphView.current = undefined;
    this.disposables.forEach((d) => d.dispose());
  }
}
