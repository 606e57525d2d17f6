#!/usr/bin/env node
// The `medclass` command. It runs the compiled server (dist/, built by `npm install` and
// `npm run build:server`) so that it starts fast, and the TypeScript sources through tsx
// when that build is missing or older than the sources.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/server/cli/main.js', root);

function newestSource() {
  let newest = 0;
  for (const dir of ['server', 'shared']) {
    for (const entry of readdirSync(new URL(dir, root), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts')) {
        newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
      }
    }
  }
  return newest;
}

function buildIsCurrent() {
  try {
    return statSync(compiled).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

if (!process.env.MEDCLASS_FROM_SOURCE && buildIsCurrent()) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('server/cli/main.ts', root).href);
}
