import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './App.svelte';
import './app.css';

mount(App, { target: document.getElementById('app')! });

// The service worker keeps the app, its assets and wasm for offline use; never /api or /ws.
if ('serviceWorker' in navigator) registerSW({ immediate: true });
