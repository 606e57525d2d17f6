import { describe, expect, it } from 'vitest';
import { extractBatch, prepareImage } from '../../shared/features/extract.ts';
import { DEFAULT_SPEC } from '../../shared/features/spec.ts';
import { adviseBackend, initFeatureBackend, webglRenderer } from './backend.ts';

describe('the default feature backend', () => {
  it('keeps to the CPU on software WebGL renderers and where there is no WebGL 2', () => {
    for (const renderer of [
      'Google SwiftShader',
      'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
      'llvmpipe (LLVM 15.0.6, 256 bits)',
      'softpipe',
      'ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)',
      'Software Adapter',
    ]) {
      const advice = adviseBackend(renderer);
      expect(advice.backend, renderer).toBe('cpu');
      expect(advice.reason).toContain('software renderer');
    }
    expect(adviseBackend(null)).toEqual({ backend: 'cpu', reason: 'this browser has no WebGL 2' });
  });

  it('uses WebGL on a hardware GPU', () => {
    for (const renderer of ['ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0, D3D11)', 'Apple M2', 'Mali-G78', 'Mesa Intel(R) UHD Graphics 620 (KBL GT2)']) {
      expect(adviseBackend(renderer).backend, renderer).toBe('webgl');
    }
  });

  it('finds SwiftShader in headless Chromium, so the default there is the CPU, while WebGL can still be forced', async () => {
    const renderer = webglRenderer();
    console.log(`[backend] WebGL renderer here: ${renderer}`);
    expect(renderer).toMatch(/SwiftShader/i);
    expect(await initFeatureBackend()).toBe('cpu');
    expect(await initFeatureBackend('webgl')).toBe('webgl');
    expect(await initFeatureBackend('cpu')).toBe('cpu');
  });

  it('measures both backends on the same image (printed, not asserted)', async () => {
    const size = 256;
    const data = Float32Array.from({ length: size * size }, (_, i) => ((i % size) * 7 + Math.floor(i / size) * 13) % 251 / 250);
    const image = prepareImage({ width: size, height: size, data }, { ...DEFAULT_SPEC, size: 128 });
    const spec = { ...DEFAULT_SPEC, size: 128 };
    const ms: Record<string, number> = {};
    for (const backend of ['cpu', 'webgl'] as const) {
      await initFeatureBackend(backend);
      await extractBatch([image], spec); // warm-up: shaders, kernels
      const t0 = performance.now();
      for (let k = 0; k < 3; k++) await extractBatch([image], spec);
      ms[backend] = (performance.now() - t0) / 3;
    }
    console.log(`[backend] 128 x 128, default spec: cpu ${ms['cpu']!.toFixed(1)} ms, webgl (${webglRenderer()}) ${ms['webgl']!.toFixed(1)} ms`);
    await initFeatureBackend('cpu');
  });
});
