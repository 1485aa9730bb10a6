#!/usr/bin/env node
// The `pqscep` command. TypeScript sources run through tsx (no build step), so a fresh clone
// works right after `npm install`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
