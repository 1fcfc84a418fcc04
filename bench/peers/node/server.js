// The "two-process" alternative to irclogger's in-Django streams: a small
// Node.js SSE fan-out fed by Redis pub/sub. The publisher (bench/run.py)
// writes the line to PostgreSQL like the bot does, then PUBLISHes the
// rendered event data here. Benchmark peer only: it is not part of the product.
//
// Usage: node server.js PORT REDIS_URL CHANNEL
"use strict";

const http = require("http");
const { createClient } = require("redis");

const port = Number(process.argv[2] || 8090);
const redisUrl = process.argv[3] || "redis://127.0.0.1:6379";
const channel = process.argv[4] || "irclogger-bench";
// Same heartbeat as irclogger: proxies cut idle streams after 60 s and the
// EventSource polyfill after 45 s.
const KEEPALIVE_MS = 15000;
// Reconnect delay suggested to browsers.
const RETRY_MS = 3000;

const clients = new Set();

const server = http.createServer((req, res) => {
  // Any ".../stream" path: the load generator asks for /<network>/<channel>/stream.
  if (!req.url.split("?")[0].endsWith("/stream")) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
    return;
  }
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
  });
  res.write(`retry: ${RETRY_MS}\n\n`);
  clients.add(res);
  req.on("close", () => clients.delete(res));
});
server.keepAliveTimeout = 0;
server.headersTimeout = 0;
server.requestTimeout = 0;
server.maxConnections = 20000;

function broadcast(frame) {
  for (const res of clients) res.write(frame);
}

async function main() {
  const subscriber = createClient({ url: redisUrl });
  subscriber.on("error", (err) => console.error("redis:", err.message));
  await subscriber.connect();
  // The message is "<line id>\n<JSON data>": the frame is built once and
  // the same string is written to every client.
  await subscriber.subscribe(channel, (message) => {
    const newline = message.indexOf("\n");
    const id = message.slice(0, newline);
    const data = message.slice(newline + 1);
    broadcast(`id: ${id}\nevent: line\ndata: ${data}\n\n`);
  });
  setInterval(() => broadcast(": keep-alive\n\n"), KEEPALIVE_MS);
  server.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${port}`));
}

process.on("SIGTERM", () => process.exit(0));
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
