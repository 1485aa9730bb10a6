/**
 * Requests Node's HTTP parser refuses before any middleware runs (RFC 9110 §15.5: a URL or
 * headers beyond `maxHeaderSize` → 431, RFC 6585 §5; a request that timed out → 408; anything
 * else malformed → 400). Node's default answer has no body; ours carries the one-line text/plain
 * reason every other refusal has (RFC 8894 §4: the transaction is not identified), then closes.
 * Leaves out: logging (these never reach the application) and keeping the connection.
 * @module
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

const ANSWERS: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request URL or headers exceed the size limit'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request not received in time'],
};

/** Answers parser-level client errors of `server` with a status and a one-line reason. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, phrase, reason] = ANSWERS[err.code ?? ''] ?? [400, 'Bad Request', 'malformed HTTP request'];
    const body = `${reason}\n`;
    socket.end(`HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
