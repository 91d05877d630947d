# Writes stdin to PROJECT_DIR/SECRET_FILE atomically, without echoing it: mode 0600 and the deploy
# user's, unless SECRET_FILE_MODE / SECRET_FILE_OWNER (uid:gid) say who inside a container reads it
# (e.g. the registry as uid 1000 reads its htpasswd). Directories stay 0700, the deploy user's.
: "${PROJECT_DIR:?}" "${SECRET_FILE:?}"
umask 077
target="$PROJECT_DIR/$SECRET_FILE"
mkdir -p "$(dirname "$target")"
tmp="$(mktemp "$target.XXXXXX")"
cat >"$tmp"
chmod "${SECRET_FILE_MODE:-0600}" "$tmp"
if [ -n "${SECRET_FILE_OWNER:-}" ]; then
    sudo chown "$SECRET_FILE_OWNER" "$tmp"
fi
mv -f "$tmp" "$target"
