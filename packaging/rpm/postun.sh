# kubecred %postun ($1: 0 removal, 1 upgrade). As %systemd_postun_with_restart:
# reload systemd; on upgrade, restart the timers that were running. On removal,
# remove the node_exporter textfile kubecred wrote. The backups in
# /var/lib/kubecred hold private keys and are kept.
if [ -x /usr/bin/systemctl ] && [ -d /run/systemd/system ]; then
	/usr/bin/systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		/usr/bin/systemctl try-restart kubecred-check.timer kubecred-renew.timer >/dev/null 2>&1 || :
	fi
fi
# On removal: rpm has removed the configuration files already, or kept an
# edited one as .rpmsave; an unedited one named the default.
if [ "$1" -eq 0 ]; then
	# The node_exporter textfile kubecred wrote: its metrics would outlive the
	# tool, frozen. Its path is `textfile` under [check] in the configuration,
	# or KUBECRED_TEXTFILE in the environment file (the first of
	# /etc/kubecred/config.toml, /etc/sysconfig/kubecred, or their
	# .rpmsave copies that names one), else the packaged default.
	# Removed only when it is a regular file (not a symlink) whose first line
	# is kubecred's own `# HELP kubecred_...`: nothing else is touched.
	kubecred_textfile() {
		for config in /etc/kubecred/config.toml /etc/kubecred/config.toml.rpmsave /etc/sysconfig/kubecred /etc/sysconfig/kubecred.rpmsave; do
			[ -f "$config" ] || continue
			case $config in
			*.toml | *.toml.*)
				path=$(awk '
					/^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]/, "", section); next }
					section == "[check]" && /^[[:space:]]*textfile[[:space:]]*=/ {
						value = $0
						sub(/^[^=]*=[[:space:]]*/, "", value)
						if (value ~ /^"/) { sub(/^"/, "", value); sub(/".*$/, "", value) }
						else if (value ~ /^\047/) { sub(/^\047/, "", value); sub(/\047.*$/, "", value) }
						else next
						print value
						exit
					}' "$config") || path= ;;
			*) path=$(sed -n 's/^[[:space:]]*KUBECRED_TEXTFILE=//p' "$config" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\\(.*\\)'\$/\\1/") || path= ;;
			esac
			if [ -n "$path" ]; then
				printf '%s\n' "$path"
				return 0
			fi
		done
		printf '%s\n' /var/lib/node_exporter/textfile_collector/kubecred.prom
	}
	textfile=$(kubecred_textfile) || textfile=
	if [ -n "$textfile" ] && [ -f "$textfile" ] && [ ! -L "$textfile" ] &&
		head -n 1 "$textfile" 2>/dev/null | grep -q '^# HELP kubecred_'; then
		rm -f "$textfile"
	fi
fi
exit 0
