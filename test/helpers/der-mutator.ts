/**
 * Deterministic mutators for fuzzing SCEP requests (no assertions): a seeded PRNG and byte-level
 * mutations of a DER pkiMessage (RFC 8894 §3.2) that a hostile or broken client could send:
 * bit flips, byte insertion and deletion, truncation, lying DER length octets (X.690 §8.1.3:
 * long forms such as 0x84 FF FF FF FF, the indefinite form 0x80 in DER, more length octets than
 * any parser takes), nested-depth bombs (thousands of nested SEQUENCE/SET), huge counts (a SET OF
 * with 100,000 elements), splices from another seed; and text mutations of a base64 GET message
 * (RFC 8894 §4.3) and of GetCACert/GetCACaps query strings (§4.2, §3.5.1).
 * Every mutation is a pure function of the PRNG state, so a seed replays a run exactly.
 * Leaves out: what the server should answer (the tests decide).
 */

/** mulberry32: a small, fast, seedable PRNG; good enough to spread mutations, not for crypto. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** An element's position: tag offset, where its length octets start, content start and end. */
export interface DerNode {
  readonly at: number;
  readonly lenAt: number;
  readonly body: number;
  readonly end: number;
  readonly constructed: boolean;
}

/** Every element of a DER tree (low tag numbers; OCTET STRINGs that hold DER are entered too). */
export function derNodes(der: Uint8Array): DerNode[] {
  const nodes: DerNode[] = [];
  const walk = (start: number, end: number, depth: number) => {
    let at = start;
    while (at + 2 <= end && depth < 64) {
      const tag = der[at];
      if ((tag & 0x1f) === 0x1f) return;
      let len = der[at + 1];
      let header = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 4) return;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i];
        header += n;
      }
      const body = at + header;
      if (body + len > end) return;
      const constructed = (tag & 0x20) !== 0;
      nodes.push({ at, lenAt: at + 1, body, end: body + len, constructed });
      if (constructed) walk(body, body + len, depth + 1);
      else if (tag === 0x04 && der[body] === 0x30) walk(body, body + len, depth + 1);
      at = body + len;
    }
  };
  walk(0, der.length, 0);
  return nodes;
}

/** DER length octets for `n` (X.690 §8.1.3). */
export function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.of(0x80 | out.length, ...out);
}

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const tlv = (tag: number, content: Uint8Array): Uint8Array => concat(Uint8Array.of(tag), derLength(content.length), content);

/** `depth` nested SEQUENCEs or SETs around `inner`, definite lengths (headers computed inside out). */
export function nestedDefinite(depth: number, tag: number, inner: Uint8Array = new Uint8Array(0)): Uint8Array {
  const headers: Uint8Array[] = [];
  let length = inner.length;
  for (let i = 0; i < depth; i++) {
    const header = concat(Uint8Array.of(tag), derLength(length));
    headers.push(header);
    length += header.length;
  }
  return concat(...headers.reverse(), inner);
}

/** `depth` nested indefinite-length constructed elements (BER 0x30 0x80 ... 0x00 0x00). */
export function nestedIndefinite(depth: number, tag: number): Uint8Array {
  const out = new Uint8Array(depth * 4);
  for (let i = 0; i < depth; i++) out.set([tag, 0x80], i * 2);
  return out; // the trailing zeros are the end-of-contents octets
}

/** A SET OF (or SEQUENCE OF) with `count` copies of `element`. */
export function hugeCount(count: number, element: Uint8Array, tag = 0x31): Uint8Array {
  const content = new Uint8Array(count * element.length);
  for (let i = 0; i < count; i++) content.set(element, i * element.length);
  return tlv(tag, content);
}

const bombs = new Map<string, Uint8Array>();
/** Depth bombs are few and large: build each once. */
function bombOf(form: 'definite' | 'indefinite', depth: number, tag: number): Uint8Array {
  const key = `${form}/${depth}/${tag}`;
  let bomb = bombs.get(key);
  if (!bomb) bombs.set(key, (bomb = form === 'definite' ? nestedDefinite(depth, tag) : nestedIndefinite(depth, tag)));
  return bomb;
}

/** Replaces bytes [from, to) of `der` with `replacement`. */
const splice = (der: Uint8Array, from: number, to: number, replacement: Uint8Array): Uint8Array =>
  concat(der.subarray(0, from), replacement, der.subarray(to));

/** Length octets that lie: too long, indefinite in DER, more octets than any parser accepts, off by one. */
const LENGTH_LIES: ReadonlyArray<(real: number) => Uint8Array> = [
  () => Uint8Array.of(0x84, 0xff, 0xff, 0xff, 0xff),
  () => Uint8Array.of(0x84, 0x7f, 0xff, 0xff, 0xff),
  () => Uint8Array.of(0x80),
  () => Uint8Array.of(0x89, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  () => Uint8Array.of(0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05),
  () => Uint8Array.of(0x81, 0x00),
  () => Uint8Array.of(0xff),
  (real) => derLength(real + 1),
  (real) => derLength(Math.max(0, real - 1)),
  (real) => derLength(real * 2 + 1000),
];

export const DER_MUTATIONS = ['flip', 'flips', 'insert', 'delete', 'truncate', 'lengthLie', 'depthBomb', 'hugeCount', 'duplicate', 'spliceSeed', 'zeroTail'] as const;
export type DerMutation = (typeof DER_MUTATIONS)[number];
/**
 * How often each is drawn: bit flips keep the framing and reach furthest (signature, envelope,
 * CSR); the bombs are large (up to 400 KB) and stop at the parser's limits, so a few suffice.
 */
const WEIGHTS: Readonly<Record<DerMutation, number>> = {
  flip: 6, flips: 3, insert: 2, delete: 2, truncate: 2, lengthLie: 4, depthBomb: 1, hugeCount: 1, duplicate: 2, spliceSeed: 2, zeroTail: 1,
};
const WEIGHTED: readonly DerMutation[] = DER_MUTATIONS.flatMap((k) => Array<DerMutation>(WEIGHTS[k]).fill(k));

/** One mutation of `der`, chosen by `rng` (or forced with `kind`); `other` feeds splices. */
export function mutateDer(der: Uint8Array, rng: Rng, other: Uint8Array, kind: DerMutation = rng.pick(WEIGHTED)): { kind: DerMutation; out: Uint8Array } {
  const pos = rng.int(der.length);
  const nodes = () => derNodes(der);
  switch (kind) {
    case 'flip': {
      const out = Uint8Array.from(der);
      out[pos] ^= 1 << rng.int(8);
      return { kind, out };
    }
    case 'flips': {
      const out = Uint8Array.from(der);
      for (let i = 1 + rng.int(16); i > 0; i--) out[rng.int(out.length)] ^= 1 << rng.int(8);
      return { kind, out };
    }
    case 'insert':
      return { kind, out: splice(der, pos, pos, rng.bytes(1 + rng.int(16))) };
    case 'delete':
      return { kind, out: splice(der, pos, Math.min(der.length, pos + 1 + rng.int(32)), new Uint8Array(0)) };
    case 'truncate':
      return { kind, out: der.slice(0, pos) };
    case 'lengthLie': {
      const n = rng.pick(nodes());
      return { kind, out: splice(der, n.lenAt, n.body, rng.pick(LENGTH_LIES)(n.end - n.body)) };
    }
    case 'depthBomb': {
      const depth = rng.pick([1000, 5000, 20_000, 100_000]);
      const tag = rng.pick([0x30, 0x31, 0xa0]);
      const bomb = rng.int(2) === 0 ? bombOf('definite', depth, tag) : bombOf('indefinite', depth, tag);
      const n = rng.pick(nodes());
      // Replace an element's content (its length fixed up when it was definite), or the whole message.
      if (rng.int(4) === 0) return { kind, out: bomb };
      return { kind, out: splice(der, n.lenAt, n.end, concat(derLength(bomb.length), bomb)) };
    }
    case 'hugeCount': {
      const element = rng.pick([Uint8Array.of(0x05, 0x00), Uint8Array.of(0x02, 0x01, 0x00), Uint8Array.of(0x30, 0x00), Uint8Array.of(0x06, 0x01, 0x2a)]);
      const many = hugeCount(rng.pick([10_000, 100_000]), element, rng.pick([0x31, 0x30, 0xa0, 0xa1]));
      const constructed = nodes().filter((n) => n.constructed);
      const n = rng.pick(constructed.length ? constructed : nodes());
      return { kind, out: splice(der, n.at, n.end, many) };
    }
    case 'duplicate': {
      const n = rng.pick(nodes());
      const copies = 2 + rng.int(8);
      const slice = der.subarray(n.at, n.end);
      return { kind, out: splice(der, n.at, n.end, concat(...Array.from({ length: copies }, () => slice))) };
    }
    case 'spliceSeed': {
      const from = rng.int(other.length);
      return { kind, out: splice(der, pos, Math.min(der.length, pos + rng.int(256)), other.subarray(from, from + 1 + rng.int(512))) };
    }
    case 'zeroTail':
      return { kind, out: concat(der.subarray(0, pos), new Uint8Array(der.length - pos)) };
  }
}

const BASE64_JUNK = ['%', '%ZZ', '%00', '!', '*', '===', '=A', '\u00e9', '%E2%82', '..', '"', '<', ' ', '\t'];

/** A base64 GET `message` value, mutated as text (already URL-encoded where that matters). */
export function mutateBase64(b64: string, rng: Rng): { kind: string; text: string } {
  const encode = (s: string) => encodeURIComponent(s);
  const pos = rng.int(b64.length);
  switch (rng.int(7)) {
    case 0: return { kind: 'b64-junk', text: encode(b64.slice(0, pos)) + rng.pick(BASE64_JUNK) + encode(b64.slice(pos)) };
    case 1: return { kind: 'b64-truncate', text: encode(b64.slice(0, pos)) };
    case 2: return { kind: 'b64-unescaped', text: b64 }; // '+' becomes ' ' and '/' stays: tolerated or 4xx
    case 3: return { kind: 'b64-urlsafe', text: b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') };
    case 4: return { kind: 'b64-padding', text: encode(`${b64.replace(/=+$/, '')}${'='.repeat(1 + rng.int(5))}`) };
    case 5: return { kind: 'b64-empty', text: '' };
    default: return { kind: 'b64-wrapped', text: encode(b64.replace(/(.{64})/g, '$1\r\n')) };
  }
}

const OPERATIONS = ['GetCACert', 'GetCACaps', 'GetNextCACert', 'getcacert', 'GETCACAPS', 'PKIOperation', 'Get%43ACert', 'GetCACert%00', 'GetCACaps\u0000', '', '%', 'x'.repeat(5000)];

/** A mutated query string for GetCACert / GetCACaps (and their neighbours). */
export function mutatedQuery(rng: Rng): { kind: string; query: string } {
  const op = rng.pick(OPERATIONS);
  const opPart = /[^\x21-\x7e]/.test(op) ? encodeURIComponent(op) : op;
  switch (rng.int(7)) {
    case 0: return { kind: 'query-op', query: `operation=${opPart}` };
    case 1: return { kind: 'query-message', query: `operation=${opPart}&message=${encodeURIComponent(Buffer.from(rng.bytes(rng.int(300))).toString('latin1'))}` };
    case 2: return { kind: 'query-long-message', query: `operation=GetCACert&message=${'A'.repeat(10_000 + rng.int(100_000))}` };
    case 3: return { kind: 'query-repeat', query: Array.from({ length: 1 + rng.int(2000) }, () => `operation=${opPart}`).join('&') };
    case 4: return { kind: 'query-bad-percent', query: `operation=GetCA%Caps&message=%${rng.pick(['', 'G', 'ZZ', 'E2%82'])}` };
    case 5: return { kind: 'query-empty', query: rng.pick(['', '&', '=', '&&&', 'operation', 'operation=&message=']) };
    default: return { kind: 'query-noise', query: encodeURIComponent(Buffer.from(rng.bytes(1 + rng.int(200))).toString('latin1')) };
  }
}
