-- Runs once, on the first start of an empty data directory (the supabase/postgres image's
-- init-scripts). Gives the service roles the generated password and stores the JWT settings that
-- PostgREST and the auth functions read. The values come from the container's environment
-- (POSTGRES_PASSWORD, JWT_SECRET, JWT_EXP), never from this file.
\set pgpass `echo "$POSTGRES_PASSWORD"`
\set jwt_secret `echo "$JWT_SECRET"`
\set jwt_exp `echo "$JWT_EXP"`

ALTER USER authenticator WITH PASSWORD :'pgpass';
ALTER USER supabase_auth_admin WITH PASSWORD :'pgpass';
ALTER USER supabase_admin WITH PASSWORD :'pgpass';
ALTER USER postgres WITH PASSWORD :'pgpass';

ALTER DATABASE postgres SET "app.settings.jwt_secret" TO :'jwt_secret';
ALTER DATABASE postgres SET "app.settings.jwt_exp" TO :'jwt_exp';
