// Why fetchTransport uses redirect "manual" in Node: undici hands back a
// readable 307 — and, if told to follow, drops Authorization on a
// cross-origin hop (as browsers do) but keeps it on a same-origin one.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("undici: manual gives the 307 head; follow strips Authorization only across origins", async () => {
  const seen: { server: string; path: string; auth: string | null }[] = [];
  const target = createServer((req, res) => {
    seen.push({ server: "target", path: req.url!, auth: req.headers.authorization ?? null });
    res.end("report");
  });
  const targetOrigin = await listen(target);
  const api = createServer((req, res) => {
    seen.push({ server: "api", path: req.url!, auth: req.headers.authorization ?? null });
    if (req.url === "/cross") res.writeHead(307, { location: `${targetOrigin}/object` }).end();
    else if (req.url === "/same") res.writeHead(307, { location: "/object" }).end();
    else res.end("report");
  });
  const apiOrigin = await listen(api);
  try {
    const headers = { authorization: "Bearer token" };
    const manual = await fetch(`${apiOrigin}/cross`, { headers, redirect: "manual" });
    assert.equal(manual.status, 307);
    assert.notEqual(manual.type, "opaqueredirect");
    assert.equal(manual.headers.get("location"), `${targetOrigin}/object`);

    seen.length = 0;
    assert.equal(await (await fetch(`${apiOrigin}/cross`, { headers, redirect: "follow" })).text(), "report");
    assert.deepEqual(seen.map((s) => [s.server, s.auth]), [["api", "Bearer token"], ["target", null]]);

    seen.length = 0;
    await (await fetch(`${apiOrigin}/same`, { headers, redirect: "follow" })).text();
    assert.deepEqual(seen.map((s) => [s.server, s.auth]), [["api", "Bearer token"], ["api", "Bearer token"]]);
  } finally {
    api.close();
    target.close();
  }
});
