// The browser host: the same job as the CLI and Node, driven by runJob with
// fetchTransport. Decoded bytes are provisional until `done`; the page keeps
// them in memory (fine for a demo) and shows the first rows.

import { Job, ReportflowError, fetchTransport, runJob } from "reportflow";
import { simCredentials, simProviders, simSampleSpec, simSigner } from "reportflow/sim";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("sim")) $("sim").value = params.get("sim");
if (params.get("seed")) $("seed").value = params.get("seed");
// Amazon Pay too: the page signs its requests with WebCrypto (simSigner).
for (const provider of [...simProviders(), "amazon-pay"]) $("provider").append(new Option(provider, provider));
if (params.get("provider")) $("provider").value = params.get("provider");

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
let controller = null;

function showResult(state, value) {
  const result = $("result");
  result.dataset.state = state;
  result.textContent = JSON.stringify(value, null, 2);
}

/** The first `limit` records of CSV/TSV text; quoted fields may hold separators, quotes ("") and newlines. */
function parseDelimited(text, sep, limit) {
  const records = [];
  let fields = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length && records.length < limit; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field === "") {
      quoted = true;
    } else if (c === sep) {
      fields.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      fields.push(field);
      records.push(fields);
      fields = [];
      field = "";
    } else {
      field += c;
    }
  }
  if ((field !== "" || fields.length > 0) && records.length < limit) records.push([...fields, field]);
  return records;
}

function showRows(summary, bytes) {
  const table = $("rows");
  table.replaceChildren();
  const text = new TextDecoder().decode(bytes);
  let rows = [];
  if (summary.contentType.includes("json")) {
    // Ids can exceed 2^53: keep such numbers as their exact source text
    // (JSON.parse source access, where the browser has it).
    const exact = (_key, value, context) =>
      typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value) && context?.source ? context.source : value;
    rows = JSON.parse(text, exact).slice(0, 10);
  } else {
    const records = parseDelimited(text, summary.contentType.includes("csv") ? "," : "\t", 11);
    const head = records[0] ?? [];
    rows = records.slice(1).map((fields) => Object.fromEntries(fields.map((v, i) => [head[i] ?? i, v])));
  }
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  table.append(Object.assign(document.createElement("caption"), { textContent: `first ${rows.length} of ${summary.rows} rows` }));
  const header = table.insertRow();
  for (const c of columns) header.append(Object.assign(document.createElement("th"), { textContent: c }));
  for (const row of rows) {
    const tr = table.insertRow();
    for (const c of columns) tr.insertCell().textContent = String(row[c]);
  }
}

async function run() {
  const provider = $("provider").value;
  const sim = $("sim").value.replace(/\/$/, "");
  // The simulator's report links live on its download host (another
  // origin, as S3 is), so the browser drops Authorization on that hop.
  const origin = `${sim}/${provider}`;
  const config = { baseUrl: origin, authBaseUrl: origin, seed: Number($("seed").value), poll: { initialDelayMs: 200, maxDelayMs: 2000 } };

  controller = new AbortController();
  $("run").disabled = true;
  $("stop").disabled = false;
  $("rows").replaceChildren();
  showResult("running", { state: "running", provider });

  let chunks = [];
  let phase = "starting";
  let progress = "";
  // `?task=<JSON>` (Amazon Pay): a schedule or find task instead of the sample's
  // create, e.g. {"kind":"ensureSchedule","frequency":"P1D"}.
  const task = params.get("task");
  const spec = task ? { ...simSampleSpec(provider), task: JSON.parse(task) } : simSampleSpec(provider);
  const job = new Job(spec, config, simCredentials(provider));
  const started = performance.now();
  try {
    const summary = await runJob(job, {
      transport: fetchTransport(fetch),
      signal: controller.signal,
      // Amazon Pay: the page signs with WebCrypto (RSA-PSS), the key never
      // enters the job.
      signer: await simSigner(),
      onEvent(event) {
        if (event.type === "phaseChanged") phase = event.to;
        if (event.type === "progress") progress = `${kib(event.bytesIn)} in, ${kib(event.bytesOut)} decoded`;
        if (event.type === "retrying") progress = `retry ${event.attempt} in ${event.afterMs} ms (${event.cause})`;
        if (event.type === "data") chunks.push(event.bytes);
        if (event.type === "dataReset") chunks = [];
        $("progress").textContent = `${provider} · ${phase}${job.reportId ? ` · ${job.reportId}` : ""} · ${progress}`;
      },
    });
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    $("progress").textContent = `${provider} · done in ${Math.round(performance.now() - started)} ms · ${summary.rows} rows · ${kib(summary.bytes)}`;
    showRows(summary, bytes);
    showResult("done", {
      state: "done",
      provider,
      reportId: summary.reportId,
      md5: summary.md5,
      rows: summary.rows,
      bytes: summary.bytes,
      requests: summary.requests,
      dataBytes: bytes.length,
    });
  } catch (error) {
    // Whatever arrived is void: a failed job never delivers data as good.
    chunks = [];
    const e = error instanceof ReportflowError ? error : ReportflowError.from(error);
    $("progress").textContent = `${provider} · failed · ${e.code}`;
    showResult("failed", { state: "failed", provider, code: e.code, blame: e.blame, retryable: e.retryable, message: e.message, dataBytes: 0 });
  } finally {
    job.free();
    $("run").disabled = false;
    $("stop").disabled = true;
  }
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  void run();
});
$("stop").addEventListener("click", () => controller?.abort(new Error("stopped by the user")));
if (params.has("autorun")) void run();
