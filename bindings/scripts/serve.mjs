#!/usr/bin/env node
// A tiny static server for the browser example and the Chromium test:
// serves examples/browser, bindings/dist and bindings/wasm of this
// repository on 127.0.0.1 (nothing else).
//
//   node bindings/scripts/serve.mjs [--port 8080]
//   → http://127.0.0.1:8080/examples/browser/?sim=http://127.0.0.1:8081

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ALLOWED = ["examples/browser/", "bindings/dist/", "bindings/wasm/"];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
  ".map": "application/json",
  ".ts": "text/plain; charset=utf-8",
};

/** Starts the server; resolves with its origin and a close function. */
export async function startStaticServer({ port = 0, host = "127.0.0.1" } = {}) {
  const server = createServer(async (req, res) => {
    try {
      let path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
      if (path === "" ) path = "examples/browser/";
      if (path.endsWith("/")) path += "index.html";
      const file = normalize(join(root, path));
      const relative = file.slice(root.length + 1).split(sep).join("/");
      if (!file.startsWith(root + sep) || !ALLOWED.some((prefix) => relative.startsWith(prefix))) {
        res.writeHead(404).end("not served");
        return;
      }
      if (!(await stat(file)).isFile()) throw new Error("not a file");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const origin = `http://${host}:${server.address().port}`;
  return {
    origin,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf("--port");
  const port = at > 0 ? Number(process.argv[at + 1]) : 8080;
  const { origin } = await startStaticServer({ port });
  console.log(`${origin}/examples/browser/`);
}
