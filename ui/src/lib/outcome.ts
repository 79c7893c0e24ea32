// An OAuth callback (Connect Slack, Connect Github) sends the browser back with its outcome
// in the address: `?<name>=connected` or `?<name>_error=<code>`. Read it once and take it
// out of the address, so a reload does not show it again.
export function takeOutcome(name: string): { ok: boolean; code: string } | null {
  const params = new URLSearchParams(location.search)
  const ok = params.get(name)
  const code = params.get(`${name}_error`)
  if (!ok && !code) return null
  params.delete(name)
  params.delete(`${name}_error`)
  const rest = params.toString()
  history.replaceState(history.state, '', location.pathname + (rest ? `?${rest}` : '') + location.hash)
  return { ok: !!ok, code: code ?? '' }
}
