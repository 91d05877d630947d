-- Runs once, on the first start of an empty data directory (the supabase/postgres image's
-- init-scripts, run by migrations/db/migrate.sh as `postgres`). One password per login role, each
-- from the container's environment, never from this file:
--   authenticator        AUTHENTICATOR_PASSWORD        (PostgREST)
--   supabase_auth_admin  SUPABASE_AUTH_ADMIN_PASSWORD  (GoTrue)
--   supabase_admin       POSTGRES_PASSWORD             (superuser; migrate.sh sets it again after
--   postgres             POSTGRES_PASSWORD              the init scripts, and creates postgres with it)
-- Upstream's docker/volumes/db/roles.sql gives every role the one POSTGRES_PASSWORD; here a service
-- that holds its own password cannot log in as another role. Also stores the JWT settings that
-- PostgREST and the auth functions read (as upstream's docker/volumes/db/jwt.sql).
\set pgpass `echo "$POSTGRES_PASSWORD"`
\set authenticator_pass `echo "$AUTHENTICATOR_PASSWORD"`
\set auth_admin_pass `echo "$SUPABASE_AUTH_ADMIN_PASSWORD"`
\set jwt_secret `echo "$JWT_SECRET"`
\set jwt_exp `echo "$JWT_EXP"`

ALTER USER authenticator WITH PASSWORD :'authenticator_pass';
ALTER USER supabase_auth_admin WITH PASSWORD :'auth_admin_pass';
ALTER USER supabase_admin WITH PASSWORD :'pgpass';
ALTER USER postgres WITH PASSWORD :'pgpass';

ALTER DATABASE postgres SET "app.settings.jwt_secret" TO :'jwt_secret';
ALTER DATABASE postgres SET "app.settings.jwt_exp" TO :'jwt_exp';
