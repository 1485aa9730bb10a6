// Entry of a PKIOperation worker thread (src/scep/pki-pool.ts). Worker threads do not inherit
// the main thread's TypeScript loader, so this plain-JS file registers tsx, as bin/pqscep.js
// does, and then loads the worker itself.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import('./pki-worker.ts');
