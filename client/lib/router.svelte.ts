/** History-API routing: the server (and the service worker) answer every app path with index.html. */
export const ROUTES = ['/login', '/classify', '/preview', '/admin', '/account', '/users', '/audit'] as const;

export const route = $state({ path: location.pathname, search: location.search });

function sync(): void {
  route.path = location.pathname;
  route.search = location.search;
}

addEventListener('popstate', sync);

/** Goes to an app path (`/classify`, `/login?next=/admin`). */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (!to.startsWith('/') || to.startsWith('//')) throw new Error(`navigate: ${to} is not a path of this app`);
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  sync();
  if (!options.replace) scrollTo({ top: 0 });
}

/** A query parameter of the current route. */
export function queryParam(name: string): string | null {
  for (const part of route.search.replace(/^\?/, '').split('&')) {
    const [k, v = ''] = part.split('=');
    try {
      if (k && decodeURIComponent(k) === name) return decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      // a malformed escape: not this parameter
    }
  }
  return null;
}

/** For `onclick` on same-app links: navigates in place unless a new tab or window is asked for. */
export function link(event: MouseEvent & { currentTarget: HTMLAnchorElement }): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.currentTarget;
  if (a.origin !== location.origin) return;
  event.preventDefault();
  navigate(a.pathname + a.search);
}
