# kubecred %postun ($1: 0 removal, 1 upgrade). As %systemd_postun_with_restart:
# reload systemd; on upgrade, restart the timers that were running. The backups
# in /var/lib/kubecred hold private keys and are kept.
if [ -x /usr/bin/systemctl ] && [ -d /run/systemd/system ]; then
	/usr/bin/systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		/usr/bin/systemctl try-restart kubecred-check.timer kubecred-renew.timer >/dev/null 2>&1 || :
	fi
fi
exit 0
