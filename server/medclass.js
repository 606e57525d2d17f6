#!/usr/bin/env node
// The `medclass` command. It runs the compiled server (dist/, built by `npm install` and
// `npm run build:server`) so that it starts fast, and the TypeScript sources through tsx
// when no build is there.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/server/cli/main.js', import.meta.url);
if (existsSync(compiled) && !process.env.MEDCLASS_FROM_SOURCE) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('./cli/main.ts', import.meta.url).href);
}
