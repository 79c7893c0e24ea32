-- Invitations made by username no longer keep the invitee's address: the inviting team's
-- admins could read it. Only an address an admin typed is kept (they know it already).
UPDATE team_invites SET email_lower = NULL WHERE kind = 'invite' AND user_id IS NOT NULL;

-- Mail jobs no longer carry link tokens (they are derived from the server secret when the
-- mail is sent). Remove the links that failed jobs of earlier versions still hold
-- (delivered ones keep no payload).
UPDATE jobs SET payload = json_set(payload, '$.accept_url', '')
 WHERE kind = 'mail.team_invite' AND status = 'failed' AND json_valid(payload);
UPDATE jobs SET payload = json_set(payload, '$.verify_url', '')
 WHERE kind = 'mail.verify_email' AND status = 'failed' AND json_valid(payload);
