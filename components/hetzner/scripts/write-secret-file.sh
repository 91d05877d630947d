# Writes stdin to PROJECT_DIR/SECRET_FILE with mode 0600, atomically, without echoing it.
: "${PROJECT_DIR:?}" "${SECRET_FILE:?}"
umask 077
target="$PROJECT_DIR/$SECRET_FILE"
mkdir -p "$(dirname "$target")"
tmp="$(mktemp "$target.XXXXXX")"
cat >"$tmp"
chmod 0600 "$tmp"
mv -f "$tmp" "$target"
