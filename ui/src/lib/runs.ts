// Projects and runs, read through the same GraphQL API the SDK's Public API uses.
import { gql } from './api'

export interface ProjectSummary {
  name: string
  createdAt: string
}

export interface RunRow {
  id: string
  name: string
  displayName: string | null
  state: string
  createdAt: string
  runtime: number
  user: { username: string } | null
  summary: Record<string, unknown>
}

export interface RunFile {
  name: string
  sizeBytes: number
  url: string
}

export interface RunDetail extends RunRow {
  readOnly: boolean
  host: string | null
  program: string | null
  repo: string | null
  /** The repository and commit pages, when the remote is on this server's GitHub. */
  repoUrl: string | null
  commitUrl: string | null
  commit: string | null
  exitcode: number | null
  finishedAt: string | null
  heartbeatAt: string
  tags: string[]
  notes: string | null
  config: Record<string, unknown>
  historyLineCount: number
  logLineCount: number
  files: RunFile[]
  alerts: { title: string; text: string; severity: string; createdAt: string }[]
  alertDeliveries: AlertDelivery[]
}

/** Where one of the run's alerts went, and how that went. */
export interface AlertDelivery {
  event: 'runs_finished' | 'run_crashed' | 'scriptable'
  channel: 'email' | 'slack' | 'webhook'
  target: string
  title: string | null
  status: 'pending' | 'running' | 'done' | 'failed'
  attempts: number
  lastError: string | null
  createdAt: string
  finishedAt: string | null
}

export const PAGE_SIZE = 50

const ROW_FIELDS = 'id name displayName state createdAt runtime user { username } summaryMetrics'

function parseJson(raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'string') return {}
  try {
    const v = JSON.parse(raw)
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {}
  } catch {
    return {}
  }
}

function toRow(n: any): RunRow {
  return { ...n, summary: parseJson(n.summaryMetrics) }
}

export async function loadProjects(entity: string): Promise<ProjectSummary[]> {
  const data = await gql<{ models: { edges: { node: ProjectSummary }[] } }>(
    'query Projects($entity: String) { models(entityName: $entity, first: 1000) { edges { node { name createdAt } } } }',
    { entity },
  )
  return data.models.edges.map((e) => e.node)
}

/** One page of a project's runs, in the server's order (e.g. `-created_at`). */
export async function loadRuns(
  entity: string,
  project: string,
  order: string,
  after: string | null,
): Promise<{ runs: RunRow[]; total: number; next: string | null } | null> {
  const data = await gql<any>(
    `query ProjectRuns($entity: String!, $project: String!, $order: String, $after: String, $first: Int) {
      project(name: $project, entityName: $entity) { runCount
        runs(order: $order, after: $after, first: $first) { edges { node { ${ROW_FIELDS} } } pageInfo { endCursor hasNextPage } } } }`,
    { entity, project, order, after, first: PAGE_SIZE },
  )
  const p = data.project
  if (!p) return null
  return {
    runs: p.runs.edges.map((e: any) => toRow(e.node)),
    total: p.runCount,
    next: p.runs.pageInfo.hasNextPage ? p.runs.pageInfo.endCursor : null,
  }
}

export async function loadRun(entity: string, project: string, run: string): Promise<RunDetail | null> {
  const data = await gql<any>(
    `query RunPage($entity: String!, $project: String!, $run: String!) {
      project(name: $project, entityName: $entity) { run(name: $run) { ${ROW_FIELDS} readOnly host program repo repoUrl commitUrl commit
        exitcode finishedAt heartbeatAt tags notes config historyLineCount logLineCount
        files(first: 1000) { edges { node { name sizeBytes url } } }
        alerts { title text severity createdAt }
        alertDeliveries { event channel target title status attempts lastError createdAt finishedAt } } } }`,
    { entity, project, run },
  )
  const r = data.project?.run
  if (!r) return null
  const rawConfig = parseJson(r.config)
  const config: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(rawConfig)) {
    if (k === '_wandb') continue
    config[k] = v && typeof v === 'object' && 'value' in (v as object) ? (v as { value: unknown }).value : v
  }
  return { ...toRow(r), ...r, config, summary: parseJson(r.summaryMetrics), files: r.files.edges.map((e: any) => e.node) }
}

/** Up to `samples` history rows spread over the run, parsed. */
export async function loadHistory(entity: string, project: string, run: string, samples = 2000): Promise<Record<string, unknown>[]> {
  const data = await gql<any>(
    'query RunHistory($entity: String!, $project: String!, $run: String!, $samples: Int) { project(name: $project, entityName: $entity) { run(name: $run) { history(samples: $samples) } } }',
    { entity, project, run, samples },
  )
  const lines: string[] = data.project?.run?.history ?? []
  return lines.map((l) => parseJson(l))
}

export async function loadConsole(entity: string, project: string, run: string, offset = 0, limit = 1000): Promise<{ line: number; text: string }[]> {
  const data = await gql<any>(
    'query RunConsole($entity: String!, $project: String!, $run: String!, $offset: Int, $limit: Int) { project(name: $project, entityName: $entity) { run(name: $run) { consoleLines(offset: $offset, limit: $limit) { line text } } } }',
    { entity, project, run, offset, limit },
  )
  return data.project?.run?.consoleLines ?? []
}

export async function stopRun(id: string): Promise<void> {
  await gql('mutation StopRun($id: ID!) { stopRun(input: {id: $id}) { success } }', { id })
}

/** Summary keys worth a column: numbers the person logged (not the SDK's `_` keys). */
export function metricKeys(rows: { summary: Record<string, unknown> }[], max = 6): string[] {
  const seen = new Map<string, number>()
  for (const r of rows) {
    for (const [k, v] of Object.entries(r.summary)) {
      if (!k.startsWith('_') && typeof v === 'number') seen.set(k, (seen.get(k) ?? 0) + 1)
    }
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, max).map(([k]) => k)
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (h > 0) return `${h}h ${m}m ${sec}s`
  if (m > 0) return `${m}m ${sec}s`
  return `${sec}s`
}

export function formatMetric(v: unknown): string {
  if (typeof v !== 'number') return v === undefined || v === null ? '' : String(v)
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 1e6 || Math.abs(v) < 0.001 ? v.toExponential(3) : String(Number(v.toPrecision(4)))
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

export interface ConsoleLine {
  /** The time of a structured line (UTC, ISO); null for a plain line. */
  ts: string | null
  label: string
  error: boolean
  content: string
}

/** A console line as the SDK sent it: plain (`ERROR ` marks stderr), or structured JSON
 * (`{"ts", "content", "level"?, "label"?}`) when the Structured console logs feature is on. */
export function parseConsoleLine(text: string): ConsoleLine {
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text)
      if (j && typeof j.ts === 'string' && typeof j.content === 'string') {
        return { ts: j.ts, label: typeof j.label === 'string' ? j.label : '', error: j.level === 'error', content: j.content }
      }
    } catch {
      /* a plain line that starts with a brace */
    }
  }
  return { ts: null, label: '', error: text.startsWith('ERROR '), content: text }
}
