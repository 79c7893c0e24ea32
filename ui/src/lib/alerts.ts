// Alert switches and routing of the signed-in person or, for its admins, a team. Every call
// takes `team` (undefined for the person's own).
import { gql } from './api'
import { takeOutcome } from './outcome'

export type AlertEvent = 'RUNS_FINISHED' | 'RUN_CRASHED' | 'SCRIPTABLE_RUN_ALERTS'
export type AlertChannelKind = 'EMAIL' | 'SLACK' | 'WEBHOOK'
export const EVENTS: AlertEvent[] = ['RUNS_FINISHED', 'RUN_CRASHED', 'SCRIPTABLE_RUN_ALERTS']

export interface Switch {
  event: AlertEvent
  channel: AlertChannelKind
  enabled: boolean
  available: boolean
}

export interface Channel {
  id: string
  kind: 'slack' | 'webhook'
  project: string | null
  hint: string
  slackTeam: string | null
  slackChannel: string | null
  brokenReason: string | null
  brokenAt: string | null
  createdAt: string
}

export interface Routing {
  channels: Channel[]
  mutedProjects: string[]
  minRunSeconds: number
  slackApp: boolean
}

const SWITCH = 'event channel enabled available'
const CHANNEL = 'id kind project hint slackTeam slackChannel brokenReason brokenAt createdAt'

export async function loadAlerts(team?: string): Promise<{ switches: Switch[]; routing: Routing }> {
  const data = await gql<{ alertSwitches: Switch[]; alertRouting: Routing }>(
    `query($team: String) {
      alertSwitches(team: $team) { ${SWITCH} }
      alertRouting(team: $team) { slackApp mutedProjects minRunSeconds channels { ${CHANNEL} } } }`,
    { team: team ?? null },
  )
  return { switches: data.alertSwitches, routing: data.alertRouting }
}

export async function setSwitch(s: Switch, enabled: boolean, team?: string): Promise<Switch[]> {
  const data = await gql<{ updateAlertSwitch: Switch[] }>(
    `mutation($event: AlertEventKind!, $channel: AlertChannelKind!, $enabled: Boolean!, $team: String) {
      updateAlertSwitch(input: {event: $event, channel: $channel, enabled: $enabled, team: $team}) { ${SWITCH} } }`,
    { event: s.event, channel: s.channel, enabled, team: team ?? null },
  )
  return data.updateAlertSwitch
}

export interface NewChannel {
  kind: 'slack' | 'webhook'
  url: string
  /** `entity/project` to take only that project's alerts. */
  project?: string
}

/** Connects a pasted Slack URL or adds a webhook; a webhook's signing secret comes back once. */
export async function addChannel(c: NewChannel, team?: string): Promise<string | null> {
  const input = { url: c.url, project: c.project || null, team: team ?? null }
  if (c.kind === 'slack') {
    await gql(`mutation($input: ConnectAlertChannelInput!) { connectSlackWebhook(input: $input) { id } }`, { input })
    return null
  }
  const data = await gql<{ createAlertWebhook: { signingSecret: string } }>(
    `mutation($input: ConnectAlertChannelInput!) { createAlertWebhook(input: $input) { signingSecret } }`,
    { input },
  )
  return data.createAlertWebhook.signingSecret
}

export async function disconnectChannel(id: string, team?: string): Promise<void> {
  await gql(`mutation($id: ID!, $team: String) { disconnectAlertChannel(input: {id: $id, team: $team}) }`, {
    id,
    team: team ?? null,
  })
}

export async function muteProject(project: string, muted: boolean, team?: string): Promise<void> {
  await gql(`mutation($p: String!, $m: Boolean!, $team: String) { muteAlertProject(input: {project: $p, muted: $m, team: $team}) }`, {
    p: project,
    m: muted,
    team: team ?? null,
  })
}

export async function setMinRunSeconds(seconds: number, team?: string): Promise<void> {
  await gql(`mutation($s: Int!, $team: String) { setAlertMinRunSeconds(input: {seconds: $s, team: $team}) }`, {
    s: seconds,
    team: team ?? null,
  })
}

/** Where **Connect Slack** starts the operator's Slack app's OAuth flow. */
export function slackConnectHref(team?: string): string {
  return team ? `/api/v1/alerts/slack/connect?team=${encodeURIComponent(team)}` : '/api/v1/alerts/slack/connect'
}

/** The outcome the Slack callback put in the address (`?slack=connected` or `?slack_error=…`), once. */
export function takeSlackOutcome(): { ok: boolean; code: string } | null {
  return takeOutcome('slack')
}
