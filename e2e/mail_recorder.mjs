// A loopback stand-in for Resend's REST API, for the e2e runs: the Worker's production Resend
// mailer (MAIL_PROVIDER=resend, MAIL_API_URL pointed here) sends to it, and tests read what was
// "sent" over HTTP, so they follow the links of the actual messages.
//
//   node e2e/mail_recorder.mjs PORT API_KEY
//
//   POST /emails            as Resend: Bearer API_KEY, JSON {from, to, subject, text, html, tags?};
//                           401 without the key, 422 for what Resend refuses, 200 {"id"}.
//   GET  /messages          every accepted message, oldest first: {"messages": [{id, to, from,
//                           subject, text, html, kind, idempotency_key, received_at}]}
//   GET  /messages?to=ADDR  only those to ADDR
//   GET  /health            200
//
// Listens on 127.0.0.1 only; bodies over 256 KiB are refused.

import http from "node:http";

const [port, apiKey] = process.argv.slice(2);
if (!port || !apiKey) {
  console.error("usage: node e2e/mail_recorder.mjs PORT API_KEY");
  process.exit(2);
}

const messages = [];
const byIdempotencyKey = new Map();

const isAddress = (s) =>
  typeof s === "string" && /^[^\s@<>,]+@[^\s@<>,]+\.[^\s@<>,]+$/.test(s);
const isSender = (s) => {
  if (typeof s !== "string") return false;
  const m = /^(.+?)\s*<([^<>]+)>$/.exec(s);
  return m ? m[1].trim().length > 0 && isAddress(m[2]) : isAddress(s);
};
const ALLOWED = new Set(["from", "to", "subject", "text", "html", "tags", "cc", "bcc", "reply_to", "headers"]);

function validate(body) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "body must be an object";
  for (const k of Object.keys(body)) if (!ALLOWED.has(k)) return `unknown field ${k}`;
  if (!isSender(body.from)) return "from must be `addr` or `Name <addr>`";
  const to = typeof body.to === "string" ? [body.to] : body.to;
  if (!Array.isArray(to) || to.length < 1 || to.length > 50 || !to.every(isAddress)) return "to is invalid";
  if (typeof body.subject !== "string" || !body.subject.trim()) return "subject is missing";
  if (typeof body.text !== "string" && typeof body.html !== "string") return "text or html is required";
  return null;
}

function reply(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (req.method === "GET" && url.pathname === "/health") return reply(res, 200, { ok: true });
  if (req.method === "GET" && url.pathname === "/messages") {
    const to = url.searchParams.get("to");
    return reply(res, 200, { messages: to ? messages.filter((m) => m.to === to) : messages });
  }
  if (req.method !== "POST" || url.pathname !== "/emails") return reply(res, 404, { name: "not_found" });
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= 262144) chunks.push(c);
  });
  req.on("end", () => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return reply(res, 401, { statusCode: 401, name: "missing_api_key", message: "Missing API key" });
    }
    if (size > 262144) return reply(res, 413, { statusCode: 413, name: "payload_too_large" });
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return reply(res, 422, { statusCode: 422, name: "validation_error", message: "invalid JSON" });
    }
    const problem = validate(body);
    if (problem) return reply(res, 422, { statusCode: 422, name: "validation_error", message: problem });
    const key = req.headers["idempotency-key"];
    if (key && byIdempotencyKey.has(key)) return reply(res, 200, { id: byIdempotencyKey.get(key) });
    const id = `re_e2e_${messages.length + 1}`;
    if (key) byIdempotencyKey.set(key, id);
    const to = typeof body.to === "string" ? body.to : body.to[0];
    const kind = (body.tags || []).find((t) => t && t.name === "kind")?.value ?? null;
    messages.push({
      id, to, from: body.from, subject: body.subject, text: body.text ?? null, html: body.html ?? null,
      kind, idempotency_key: key ?? null, received_at: new Date().toISOString(),
    });
    return reply(res, 200, { id });
  });
});

server.listen(Number(port), "127.0.0.1", () => {
  console.log(`mail recorder on http://127.0.0.1:${port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
