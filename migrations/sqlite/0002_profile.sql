-- Profile fields, the Markdown intro (source and its sanitized rendering), the avatar's
-- blob name and the preferred language.
ALTER TABLE users ADD COLUMN institution TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN intro TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN intro_html TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar TEXT;
ALTER TABLE users ADD COLUMN language TEXT;
