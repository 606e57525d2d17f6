import { svelte } from '@sveltejs/vite-plugin-svelte';
import { playwright } from '@vitest/browser-playwright';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vitest/config';

/** Debian's Chromium; the browser tests fail rather than skip when it is missing. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
  // WebGPU (SwiftShader's, here): navigator.gpu is behind this flag on Linux
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Cornerstone's DICOM codecs are Emscripten builds that `require('fs')` and `require('path')`
 * only when they run under Node. In the browser build those imports resolve to an empty module,
 * instead of Vite's browser-external stub that warns once per import at every build.
 */
const nodeOnlyImportsOfCodecs = {
  name: 'medclass:codec-node-imports',
  enforce: 'pre' as const,
  resolveId(source: string, importer: string | undefined) {
    if ((source === 'fs' || source === 'path') && importer?.includes('/@cornerstonejs/codec-')) return '\0medclass:node-only';
    return null;
  },
  load(id: string) {
    return id === '\0medclass:node-only' ? 'export default {};' : null;
  },
};

/**
 * The installable, offline app: a manifest, and a service worker (Workbox generateSW) that
 * precaches the built app, its assets and any emitted wasm, answers app routes with
 * index.html, and leaves /api and /ws to the network (nothing of them is cached).
 */
const pwa = VitePWA({
  // a changed bundle waits for the user's consent (the "update available" prompt), never takes over by itself
  registerType: 'prompt',
  injectRegister: false,
  includeAssets: ['icon.svg', 'apple-touch-icon.png'],
  manifest: {
    name: 'MedClass',
    short_name: 'MedClass',
    description: 'Secure medical image classification, with images reduced on the device',
    lang: 'en',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    theme_color: '#0f4c5c',
    background_color: '#f3f6f7',
    icons: [
      { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
      { src: '/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
    ],
  },
  workbox: {
    globPatterns: ['**/*.{html,js,css,svg,png,wasm,webmanifest}'],
    // tfjs and its backends are one large chunk, and the preview needs it offline
    maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
    navigateFallback: '/index.html',
    navigateFallbackDenylist: [/^\/api(\/|$)/, /^\/ws(\/|$)/],
    cleanupOutdatedCaches: true,
    // the first install controls the open page; an update waits until the user accepts it
    clientsClaim: true,
    skipWaiting: false,
    runtimeCaching: [],
    // focuses the app when a result notification is clicked
    importScripts: ['/sw-notify.js'],
  },
});

/**
 * The server and pin a build for a static host carries (docs/protocol.md section 7):
 * `MEDCLASS_SERVER=https://... MEDCLASS_PIN=sha256/... npx vite build`. Such a build never asks
 * the network for its pin. Without them the app asks the server that serves it.
 */
const BUILD = { server: process.env['MEDCLASS_SERVER'] || null, pin: process.env['MEDCLASS_PIN'] || null };
if (BUILD.pin && !/^sha256\/[A-Za-z0-9_-]{43}\/[A-Za-z0-9_-]+$/.test(BUILD.pin)) throw new Error('MEDCLASS_PIN must read sha256/<fingerprint>/<key>, as `medclass identity` prints it');

export default defineConfig({
  root: 'client',
  define: { __MEDCLASS_BUILD__: JSON.stringify(BUILD) },
  publicDir: 'public',
  plugins: [nodeOnlyImportsOfCodecs, svelte({ configFile: fileURLToPath(new URL('svelte.config.js', import.meta.url)) }), pwa],
  build: {
    outDir: '../dist/client',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs with its backends is most of the bundle, and the preview needs it at once
    chunkSizeWarningLimit: 1500,
  },
  server: {
    fs: { allow: ['..'] },
  },
  test: {
    root: '.',
    testTimeout: 30_000,
    // Most test files wait on other processes (a server, Chromium, Postgres): two at a time
    // keep a 2-core machine busy, where vitest's default (cores - 1) runs them one by one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['{shared,server,test}/**/*.test.ts'],
          exclude: ['**/*.browser.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['shared/**/*.browser.test.ts', 'client/**/*.browser.test.ts', 'test/**/*.browser.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
