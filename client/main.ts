import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { startServiceWorker } from './lib/update.svelte.ts';

mount(App, { target: document.getElementById('app')! });

// The service worker keeps the app, its assets and wasm for offline use; never /api or /ws.
startServiceWorker();
