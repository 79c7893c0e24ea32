// A tiny history-API router: `route.path` / `route.hash` are reactive.
const state = $state({ path: location.pathname, hash: location.hash })

export const route = {
  get path() {
    return state.path
  },
  get hash() {
    return state.hash
  },
}

function sync() {
  state.path = location.pathname
  state.hash = location.hash
}

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  const url = new URL(to, location.origin)
  if (opts.replace) history.replaceState(null, '', url.pathname + url.search + url.hash)
  else history.pushState(null, '', url.pathname + url.search + url.hash)
  sync()
  if (url.hash) {
    // let the page render, then scroll to the anchor
    requestAnimationFrame(() => document.getElementById(url.hash.slice(1))?.scrollIntoView())
  } else {
    window.scrollTo(0, 0)
  }
}

const SERVER_PATHS = ['/api/', '/graphql', '/files/', '/avatars/', '/assets/', '/healthz', '/readyz', '/metrics']

export function startRouter() {
  window.addEventListener('popstate', sync)
  window.addEventListener('hashchange', sync)
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    const a = (e.target as Element | null)?.closest?.('a')
    if (!a || a.target || a.hasAttribute('download') || a.getAttribute('rel')?.includes('external')) return
    const href = a.getAttribute('href')
    if (!href || !href.startsWith('/') || href.startsWith('//')) return
    if (SERVER_PATHS.some((p) => href.startsWith(p))) return
    // links inside rendered user content (the intro) are left to the browser
    if (a.closest('.intro')) return
    e.preventDefault()
    navigate(href)
  })
}
