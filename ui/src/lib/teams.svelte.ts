// Teams, invitations, the default team and service accounts (docs/teams-api.md).
// The Settings sections share one reactive copy of the viewer's team data.
import { ApiError, gql } from './api'

export type Role = 'admin' | 'member' | 'viewer'
export const ROLES: Role[] = ['admin', 'member', 'viewer']
export type JoinPolicy = 'INVITE' | 'DOMAIN_DIRECT' | 'DOMAIN_REQUEST'
export const JOIN_POLICIES: JoinPolicy[] = ['INVITE', 'DOMAIN_DIRECT', 'DOMAIN_REQUEST']

export interface EntityRef {
  id?: string
  name: string
  isTeam: boolean
  description?: string
  joinPolicy?: JoinPolicy
  emailDomain?: string | null
  /** Members of this GitHub organization may join. */
  githubOrganization?: string | null
}

export interface UserRef {
  username: string | null
  name: string
}

export interface Invite {
  id: string
  name: string | null
  email: string | null
  kind: 'INVITE' | 'REQUEST'
  role: Role
  createdAt: string
  expiresAt: string
  entity: EntityRef
  toUser: UserRef | null
  fromUser: UserRef | null
}

export interface ApiKey {
  id: string
  name: string
  description: string | null
  createdAt: string | null
  lastUsedAt: string | null
}

export interface Member {
  id: string
  username: string | null
  name: string
  email: string | null
  photoUrl: string | null
  accountType: 'USER' | 'SERVICE' | string | null
  role: Role
  description: string | null
  apiKeys: ApiKey[]
}

export interface Team extends EntityRef {
  id: string
  description: string
  joinPolicy: JoinPolicy
  emailDomain: string | null
  viewerRole: Role | null
  members: Member[]
  invites: Invite[]
}

export interface TeamMembership {
  role: Role
  entity: EntityRef
}

export interface ViewerTeams {
  id: string
  username: string
  email: string | null
  entity: string | null
  emailVerified: boolean
  hideTeamsInProfile: boolean
  defaultEntity: { name: string } | null
  projectEntities: EntityRef[]
  teamMemberships: TeamMembership[]
  invites: Invite[]
  joinableTeams: EntityRef[]
}

const INVITE_FIELDS = `id name email kind role createdAt expiresAt entity { name isTeam description } toUser { username name } fromUser { username name }`

const VIEWER_TEAMS = `query ViewerTeams {
  viewer {
    id username email entity emailVerified hideTeamsInProfile
    defaultEntity { name }
    projectEntities { name isTeam }
    teamMemberships { role entity { name isTeam description } }
    invites { ${INVITE_FIELDS} }
    joinableTeams { name isTeam description joinPolicy emailDomain githubOrganization }
  }
}`

/** The viewer's teams, invitations and default team, shared by the Settings sections. */
export const viewerTeams = $state<{ data: ViewerTeams | null; loaded: boolean; error: unknown }>({
  data: null,
  loaded: false,
  error: null,
})

export async function loadViewerTeams() {
  try {
    const data = await gql<{ viewer: ViewerTeams | null }>(VIEWER_TEAMS)
    viewerTeams.data = data.viewer
    viewerTeams.error = null
  } catch (err) {
    viewerTeams.error = err
  } finally {
    viewerTeams.loaded = true
  }
}

export function resetViewerTeams() {
  viewerTeams.data = null
  viewerTeams.loaded = false
  viewerTeams.error = null
}

const MEMBER_FIELDS = `id username name email photoUrl accountType role description apiKeys { id name description createdAt lastUsedAt }`

export async function loadTeam(name: string): Promise<Team | null> {
  const data = await gql<{ entity: Team | null }>(
    `query Team($name: String!) { entity(name: $name) { id name isTeam description joinPolicy emailDomain viewerRole members { ${MEMBER_FIELDS} } invites { ${INVITE_FIELDS} } } }`,
    { name },
  )
  return data.entity
}

/**
 * What `/<name>` shows: a team page when `entity(name).isTeam`, else the person's profile.
 * The server refuses other people's personal entities and teams one is not in alike
 * (`not_team_member`), so a refused name is a team only when no person has that name.
 */
export async function entityKind(name: string): Promise<'team' | 'profile'> {
  try {
    const data = await gql<{ entity: { isTeam: boolean } | null }>(`query EntityKind($name: String!) { entity(name: $name) { isTeam } }`, {
      name,
    })
    return data.entity?.isTeam ? 'team' : 'profile'
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'not_team_member') return 'profile'
  }
  try {
    const data = await gql<{ user: { username: string } | null }>(`query IsPerson($name: String!) { user(username: $name) { username } }`, {
      name,
    })
    return data.user ? 'profile' : 'team'
  } catch {
    return 'team'
  }
}

// ---- mutations (each input written out field by field, as docs/teams-api.md lists them) ----

export async function createTeam(teamName: string, description: string) {
  const data = await gql(
    `mutation CreateTeam($teamName: String!, $description: String) { createTeam(input: {teamName: $teamName, description: $description}) { entity { name } } }`,
    { teamName, description: description || null },
  )
  return data.createTeam.entity as { name: string }
}

export async function updateTeam(entityName: string, fields: { description: string; joinPolicy: JoinPolicy; emailDomain: string | null }) {
  const data = await gql(
    `mutation UpdateTeam($entityName: String!, $description: String, $joinPolicy: String, $emailDomain: String) { updateTeam(input: {entityName: $entityName, description: $description, joinPolicy: $joinPolicy, emailDomain: $emailDomain}) { entity { name description joinPolicy emailDomain } } }`,
    { entityName, ...fields },
  )
  return data.updateTeam.entity as Pick<Team, 'name' | 'description' | 'joinPolicy' | 'emailDomain'>
}

export async function deleteTeam(entityName: string) {
  await gql(`mutation DeleteTeam($entityName: String!) { deleteTeam(input: {entityName: $entityName}) { success } }`, { entityName })
}

export async function createInvite(entityName: string, who: string, role: Role) {
  const byEmail = who.includes('@')
  const data = await gql(
    `mutation CreateInvite($entityName: String!, $email: String, $username: String, $role: String) { createInvite(input: {entityName: $entityName, email: $email, username: $username, role: $role}) { invite { id } } }`,
    { entityName, email: byEmail ? who : null, username: byEmail ? null : who, role },
  )
  return data.createInvite.invite as { id: string }
}

/** Cancels an invitation, or removes a member when `id` is a member's user id. */
export async function deleteInvite(id: string, entityName?: string) {
  await gql(`mutation DeleteInvite($id: String!, $entityName: String) { deleteInvite(input: {id: $id, entityName: $entityName}) { success } }`, {
    id,
    entityName: entityName ?? null,
  })
}

export async function acceptInvite(by: { id?: string; token?: string }) {
  const data = await gql(
    `mutation AcceptInvite($id: String, $token: String) { acceptInvite(input: {id: $id, token: $token}) { entity { name } } }`,
    { id: by.id ?? null, token: by.token ?? null },
  )
  return data.acceptInvite.entity as { name: string }
}

export async function declineInvite(by: { id?: string; token?: string }) {
  await gql(`mutation DeclineInvite($id: String, $token: String) { declineInvite(input: {id: $id, token: $token}) { success } }`, {
    id: by.id ?? null,
    token: by.token ?? null,
  })
}

export async function updateMemberRole(entityName: string, username: string, role: Role) {
  await gql(
    `mutation UpdateMemberRole($entityName: String!, $username: String!, $role: String!) { updateMemberRole(input: {entityName: $entityName, username: $username, role: $role}) { entity { name } } }`,
    { entityName, username, role },
  )
}

export async function leaveTeam(entityName: string) {
  await gql(`mutation LeaveTeam($entityName: String!) { leaveTeam(input: {entityName: $entityName}) { success } }`, { entityName })
}

/** Joins directly (`joined`) or asks the team's admins (`requested`). */
export async function joinTeam(entityName: string): Promise<'joined' | 'requested'> {
  const data = await gql(
    `mutation JoinTeam($entityName: String!) { joinTeam(input: {entityName: $entityName}) { entity { name } request { id } } }`,
    { entityName },
  )
  return data.joinTeam.entity ? 'joined' : 'requested'
}

export async function resolveJoinRequest(id: string, approve: boolean) {
  await gql(`mutation ResolveJoinRequest($id: String!, $approve: Boolean!) { resolveJoinRequest(input: {id: $id, approve: $approve}) { success } }`, {
    id,
    approve,
  })
}

export async function createServiceAccount(entityName: string, name: string, description: string) {
  const data = await gql(
    `mutation CreateServiceAccount($entityName: String!, $name: String, $description: String!) { createServiceAccount(input: {entityName: $entityName, name: $name, description: $description}) { user { id } } }`,
    { entityName, name: name || null, description },
  )
  return data.createServiceAccount.user as { id: string }
}

/** Returns the full key (shown once). */
export async function createServiceAccountApiKey(entityName: string, serviceAccountId: string, description: string) {
  const data = await gql(
    `mutation CreateServiceAccountApiKey($entityName: String!, $serviceAccountId: String!, $description: String) { createServiceAccountApiKey(input: {entityName: $entityName, serviceAccountId: $serviceAccountId, description: $description}) { apiKey { id name } } }`,
    { entityName, serviceAccountId, description: description || null },
  )
  return data.createServiceAccountApiKey.apiKey.name as string
}

export async function deleteApiKey(id: string) {
  await gql(`mutation DeleteApiKey($id: String!) { deleteApiKey(input: {id: $id}) { success } }`, { id })
}

export async function setDefaultEntity(entityName: string | null) {
  const data = await gql(
    `mutation SetDefaultEntity($entityName: String) { setDefaultEntity(input: {entityName: $entityName}) { user { entity defaultEntity { name } } } }`,
    { entityName },
  )
  return data.setDefaultEntity.user as { entity: string | null; defaultEntity: { name: string } | null }
}

export async function updateUserSettings(hideTeamsInProfile: boolean) {
  const data = await gql(
    `mutation UpdateUserSettings($hide: Boolean) { updateUserSettings(input: {hideTeamsInProfile: $hide}) { user { hideTeamsInProfile } } }`,
    { hide: hideTeamsInProfile },
  )
  return data.updateUserSettings.user.hideTeamsInProfile as boolean
}

export async function requestEmailVerification() {
  await gql(`mutation RequestEmailVerification { requestEmailVerification { success } }`)
}

export async function verifyEmail(token: string) {
  // the payload is `success` (docs/teams-api.md names `user`; the server answers `success`)
  await gql(`mutation VerifyEmail($token: String!) { verifyEmail(input: {token: $token}) { success } }`, { token })
}

/**
 * The invitation behind a mailed link, to show its team and role before accepting. Returns
 * null when the server has no way to look an invitation up by token (then the page offers
 * Accept / Decline without the details, and errors come with the answer).
 */
export async function inviteByToken(token: string): Promise<Invite | null> {
  try {
    const data = await gql<{ invite: Invite | null }>(`query InviteByToken($token: String!) { invite(token: $token) { ${INVITE_FIELDS} } }`, {
      token,
    })
    if (!data.invite) throw new ApiError(404, 'invite_not_found', 'invite not found')
    return data.invite
  } catch (err) {
    // a schema without the field answers with a validation error that has no code
    if (err instanceof ApiError && (!err.code || err.code === 'graphql_invalid') && /unknown field|cannot query field/i.test(err.message)) return null
    throw err
  }
}

/** The token from a mailed link's fragment (`#token=…`); never stored anywhere. */
export function tokenFromHash(hash: string = location.hash): string {
  return new URLSearchParams(hash.replace(/^#/, '')).get('token') ?? ''
}
