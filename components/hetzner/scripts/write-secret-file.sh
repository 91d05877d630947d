# Writes stdin to PROJECT_DIR/SECRET_FILE atomically, without echoing it: mode 0600 and the deploy
# user's, unless SECRET_FILE_MODE / SECRET_FILE_OWNER (uid:gid) say who inside a container reads it
# (e.g. the registry as uid 1000 reads its htpasswd). Directories are the deploy user's: secrets/
# and above stay 0700; the file's own directory, which compose bind-mounts whole into the container
# (a single-file mount would keep the inode that `mv` replaces), is 0711 so the container's uid can
# reach the files it owns there without listing the directory.
: "${PROJECT_DIR:?}" "${SECRET_FILE:?}"
umask 077
target="$PROJECT_DIR/$SECRET_FILE"
mkdir -p "$(dirname "$target")"
chmod 0711 "$(dirname "$target")"
tmp="$(mktemp "$target.XXXXXX")"
cat >"$tmp"
chmod "${SECRET_FILE_MODE:-0600}" "$tmp"
if [ -n "${SECRET_FILE_OWNER:-}" ]; then
    sudo chown "$SECRET_FILE_OWNER" "$tmp"
fi
mv -f "$tmp" "$target"
