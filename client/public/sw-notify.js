// Loaded into the generated service worker (workbox importScripts): a click on a result
// notification brings the app forward, or opens it.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname === '/classify') ?? windows[0];
      return open ? open.focus() : self.clients.openWindow('/classify');
    }),
  );
});
