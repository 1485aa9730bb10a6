/**
 * `npm run bench:floor`, the HTTP part: the CPU one request costs a bare node:http server (a
 * child process: a POST read whole, a fixed body of the reply's size written) and the node:http
 * client that drives it as `pqscep bench load` does (keep-alive, 16 requests in flight).
 * Leaves out: routing, Koa, SCEP, TLS.
 * @module
 */
import { fork } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The child: serves on a free loopback port, tells the port, and answers 'cpu' with its CPU time in µs. */
function serve(replyBytes: number): void {
  const body = Buffer.alloc(replyBytes, 1);
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-pki-message', 'content-length': body.length }).end(body));
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send?.({ cpuUs: u.user + u.system });
  });
  process.on('disconnect', () => process.exit(0));
}

/** µs of CPU per request for the bare server and for the client, over `n` requests after a warm-up. */
export async function bareHttp(requestBytes: number, replyBytes: number, n: number): Promise<{ serverUs: number; clientUs: number }> {
  const child = fork(new URL(import.meta.url), ['--serve', String(replyBytes)], { execArgv: ['--import', 'tsx'] });
  const next = () => new Promise<{ port?: number; cpuUs?: number }>((resolve) => child.once('message', resolve as (m: unknown) => void));
  const { port } = await next();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const body = Buffer.alloc(requestBytes, 2);
  const once = () => new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/scep?operation=PKIOperation', method: 'POST', agent,
      headers: { 'content-type': 'application/x-pki-message', 'content-length': body.length } }, (res) => res.on('data', () => {}).on('end', resolve));
    req.on('error', reject).end(body);
  });
  const run = async (count: number) => {
    let i = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (i++ < count) await once(); }));
  };
  try {
    await run(Math.ceil(n / 5));
    const serverCpu = async () => { const m = next(); child.send('cpu'); return (await m).cpuUs ?? 0; };
    const s0 = await serverCpu();
    const c0 = process.cpuUsage();
    await run(n);
    const c = process.cpuUsage(c0);
    return { serverUs: ((await serverCpu()) - s0) / n, clientUs: (c.user + c.system) / n };
  } finally {
    agent.destroy();
    child.disconnect();
  }
}

if (process.argv[2] === '--serve') serve(Number(process.argv[3]));
