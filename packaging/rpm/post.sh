# kubecred %post ($1: 1 install, 2 upgrade). As %systemd_post: on first install,
# apply the preset (kubecred-check.timer and kubecred-recover.service on,
# kubecred-renew.timer off), then
# start the check timer if the preset enabled it.
# The configuration file, made here as in the .deb: on upgrade from the
# packages that shipped /etc/sysconfig/kubecred, with its values carried over
# (rpm then removes that file, or keeps an edited one as .rpmsave). An existing
# one (or a symlink there) is the operator's and is left as it is.
config=/etc/kubecred/config.toml
if [ ! -e "$config" ] && [ ! -L "$config" ]; then
	mkdir -p /etc/kubecred
	chmod 0755 /etc/kubecred
	if [ "$1" -ge 2 ] && [ -f /etc/sysconfig/kubecred ] &&
		/usr/bin/kubecred config --from-env-file /etc/sysconfig/kubecred >"$config.rpmnew"; then
		echo "kubecred: the settings of /etc/sysconfig/kubecred are now in /etc/kubecred/config.toml" >&2
	else
		cp /usr/share/kubecred/config.toml "$config.rpmnew"
	fi
	chmod 0644 "$config.rpmnew"
	mv "$config.rpmnew" "$config"
fi
# The default textfile folder ([check] textfile), root-owned, if missing; an
# existing one is left as it is.
if [ ! -d /var/lib/node_exporter/textfile_collector ]; then
	mkdir -p /var/lib/node_exporter/textfile_collector
	chmod 0755 /var/lib/node_exporter/textfile_collector
fi
if [ -x /usr/bin/systemctl ]; then
	if [ "$1" -eq 1 ]; then
		/usr/bin/systemctl --no-reload preset kubecred-check.timer kubecred-renew.timer kubecred-recover.service >/dev/null 2>&1 || :
	fi
	if [ -d /run/systemd/system ]; then
		/usr/bin/systemctl daemon-reload >/dev/null 2>&1 || :
		if [ "$1" -eq 1 ] && /usr/bin/systemctl -q is-enabled kubecred-check.timer 2>/dev/null; then
			/usr/bin/systemctl start kubecred-check.timer >/dev/null 2>&1 || :
		fi
	fi
fi
exit 0
