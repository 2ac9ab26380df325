/**
 * The dashboard's HTTP server: the page, a JSON API over the runs folder and a server-sent
 * events stream. Every request must carry the access token printed at start: once as
 * `?token=` (answered with a cookie and a redirect that drops it from the address bar), then
 * as that cookie, an `Authorization: Bearer` header or an `X-Sft-Token` header.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pageHtml } from "./page.js";
import { confinedEntry } from "./paths.js";
import { listRuns, readMetrics, summarizeRun } from "./runs.js";
import { RunsWatcher, type WatchEvent } from "./watch.js";

export interface UiServerOptions {
  runsDir: string;
  dataDir?: string;
  host?: string;
  port?: number;
  /** fixed token (tests); a random one otherwise */
  token?: string;
}

export interface UiServer {
  server: Server;
  token: string;
  /** the URL to open, with the token */
  url: string;
  close(): Promise<void>;
}

const COOKIE = "sft_ui_token";
const HEARTBEAT_MS = 15000;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

function presented(req: IncomingMessage, url: URL): string | undefined {
  const q = url.searchParams.get("token");
  if (q) return q;
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7);
  const h = req.headers["x-sft-token"];
  if (typeof h === "string") return h;
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === COOKIE) return v.join("=");
  }
  return undefined;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const token = opts.token ?? randomBytes(24).toString("hex");
  const host = opts.host ?? "127.0.0.1";
  const watcher = new RunsWatcher(opts.runsDir);
  watcher.start();
  const html = await pageHtml();
  const streams = new Set<ServerResponse>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const given = presented(req, url);
    if (given === undefined) {
      send(res, 401, {
        error: "the access token is missing",
        hint: "open the URL `sft ui` printed at start",
      });
      return;
    }
    if (!sameToken(given, token)) {
      send(res, 403, { error: "the access token is wrong", hint: "open the URL `sft ui` printed at start" });
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, { error: `${req.method} is not served` });
      return;
    }
    if (url.searchParams.has("token")) {
      // keep the token out of the address bar and history; the cookie carries it from now on
      url.searchParams.delete("token");
      res.writeHead(302, {
        location: `${url.pathname}${url.search}`,
        "set-cookie": `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end();
      return;
    }
    route(url, req, res);
  };

  const route = (url: URL, req: IncomingMessage, res: ServerResponse): void => {
    const path = url.pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // the page is self-contained: nothing is loaded from anywhere else
        "content-security-policy":
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      });
      res.end(html);
      return;
    }
    if (path === "/api/runs") {
      send(res, 200, { runs: listRuns(opts.runsDir) });
      return;
    }
    if (path === "/api/events") {
      openStream(req, res);
      return;
    }
    const m = /^\/api\/runs\/([^/]+)(\/metrics)?$/.exec(path);
    if (m) {
      let id: string;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        send(res, 400, { error: "the run id is not valid URL encoding" });
        return;
      }
      const dir = confinedEntry(opts.runsDir, id);
      if (!dir) {
        send(res, 404, { error: `no run "${id}" in the runs folder` });
        return;
      }
      if (m[2]) {
        const read = readMetrics(dir);
        send(res, 200, { run: id, entries: read.entries, offset: read.offset, errors: read.errors });
      } else send(res, 200, summarizeRun(id, dir));
      return;
    }
    send(res, 404, { error: `nothing at ${path}` });
  };

  const openStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    const write = (e: WatchEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    write({ type: "runs", runs: listRuns(opts.runsDir) });
    const unsubscribe = watcher.subscribe(write);
    const beat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
    streams.add(res);
    req.on("close", () => {
      clearInterval(beat);
      unsubscribe();
      streams.delete(res);
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 7860, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    server,
    token,
    url: `http://${shownHost}:${port}/?token=${token}`,
    close: async () => {
      watcher.close();
      for (const s of streams) s.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
