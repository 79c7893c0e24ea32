// Settings → Personal GitHub integration, and a team's GitHub organization.
import { gql } from './api'
import { takeOutcome } from './outcome'

export interface GithubConnection {
  configured: boolean
  connected: boolean
  login: string | null
  avatarUrl: string | null
  profileUrl: string | null
  organizations: string[]
  connectedAt: string | null
  grantUrl: string | null
}

const FIELDS = 'configured connected login avatarUrl profileUrl organizations connectedAt grantUrl'

/** Where **Connect Github** starts GitHub's OAuth flow (a top-level navigation). */
export const GITHUB_CONNECT_HREF = '/api/v1/github/connect'

export async function loadGithub(): Promise<GithubConnection> {
  const data = await gql<{ githubConnection: GithubConnection }>(`query { githubConnection { ${FIELDS} } }`)
  return data.githubConnection
}

export async function disconnectGithub(): Promise<GithubConnection> {
  const data = await gql<{ disconnectGithub: GithubConnection }>(`mutation { disconnectGithub { ${FIELDS} } }`)
  return data.disconnectGithub
}

export async function setTeamGithubOrganization(team: string, organization: string | null): Promise<string | null> {
  const data = await gql<{ setTeamGithubOrganization: { organization: string | null } }>(
    `mutation($n: String!, $o: String) { setTeamGithubOrganization(input: {entityName: $n, organization: $o}) { organization } }`,
    { n: team, o: organization },
  )
  return data.setTeamGithubOrganization.organization
}

/** The outcome the GitHub callback put in the address, once. */
export function takeGithubOutcome(): { ok: boolean; code: string } | null {
  return takeOutcome('github')
}
