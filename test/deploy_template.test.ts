/**
 * The Azure template cannot be compiled or deployed here (no Bicep CLI, no Azure): this checks
 * that it still says what the server reads and what scale-out needs, so a rename on either side
 * shows up.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITY_KEY_ENV } from '../server/identity_source.ts';
import { PROJECT_ROOT } from '../server/paths.ts';

const bicep = readFileSync(join(PROJECT_ROOT, 'docs', 'azure', 'main.bicep'), 'utf8');

describe('docs/azure/main.bicep', () => {
  it('runs Node 20 with WebSockets, the /readyz health check and no ARR affinity', () => {
    expect(bicep).toContain("linuxFxVersion: 'NODE|20-lts'");
    expect(bicep).toContain('webSocketsEnabled: true');
    expect(bicep).toContain("healthCheckPath: '/readyz'");
    expect(bicep).toContain('clientAffinityEnabled: false');
    expect(bicep).toMatch(/capacity: instances\b/);
  });

  it('gives every instance the database URL and the identity key as Key Vault references', () => {
    for (const setting of ['MEDCLASS_DATABASE_URL', IDENTITY_KEY_ENV, 'MEDCLASS_ADMIN_PASSWORD']) {
      expect(bicep).toMatch(new RegExp(`name: '${setting}'\\s*\\n\\s*value: '@Microsoft\\.KeyVault\\(VaultName=`));
    }
    expect(bicep).toContain('sslmode=verify-full');
  });

  it('starts the server with options serve takes', () => {
    const command = /appCommandLine: '([^']+)'/.exec(bicep)![1]!;
    const main = readFileSync(join(PROJECT_ROOT, 'server', 'cli', 'main.ts'), 'utf8');
    const serve = main.slice(main.indexOf(".command('serve')"), main.indexOf(".command('identity')"));
    for (const flag of command.match(/--[a-z-]+/g)!) expect(serve).toContain(`'${flag}`);
  });

  it('balances its braces and brackets (the only syntax check possible here)', () => {
    const depth = { '{': 0, '[': 0, '(': 0 };
    const close: Record<string, keyof typeof depth> = { '}': '{', ']': '[', ')': '(' };
    // outside strings ('...', with \' inside) and // comments; string interpolation holds no brackets that matter here
    let inString = false;
    for (let i = 0; i < bicep.length; i++) {
      const ch = bicep[i]!;
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === "'") inString = false;
      } else if (ch === "'") inString = true;
      else if (ch === '/' && bicep[i + 1] === '/') i = bicep.indexOf('\n', i);
      else if (ch in depth) depth[ch as keyof typeof depth]++;
      else if (ch in close) expect(--depth[close[ch]!]).toBeGreaterThanOrEqual(0);
    }
    expect(inString).toBe(false);
    expect(depth).toEqual({ '{': 0, '[': 0, '(': 0 });
  });
});
