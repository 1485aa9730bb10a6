#!/usr/bin/env node
// The `pqscep` command. TypeScript sources run through tsx (no build step), so a fresh clone
// works right after `npm install`.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The project's tsconfig (legacy decorators for @peculiar/asn1-schema), wherever pqscep is run from.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
