# kubecred %preun ($1: 0 removal, 1 upgrade). As %systemd_preun: on removal,
# disable and stop the timers and any run in progress.
if [ "$1" -eq 0 ] && [ -x /usr/bin/systemctl ]; then
	/usr/bin/systemctl --no-reload disable --now kubecred-check.timer kubecred-renew.timer kubecred-recover.service >/dev/null 2>&1 || :
	/usr/bin/systemctl stop kubecred-check.service kubecred-renew.service kubecred-recover.service >/dev/null 2>&1 || :
fi
exit 0
