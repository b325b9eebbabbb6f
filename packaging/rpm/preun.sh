# kubecred %preun ($1: 0 removal, 1 upgrade). As %systemd_preun: on removal,
# disable and stop the timers and any run in progress; remove the configuration
# file %post made, or keep an edited one as config.toml.rpmsave.
if [ "$1" -eq 0 ] && [ -x /usr/bin/systemctl ]; then
	/usr/bin/systemctl --no-reload disable --now kubecred-check.timer kubecred-renew.timer kubecred-recover.service >/dev/null 2>&1 || :
	/usr/bin/systemctl stop kubecred-check.service kubecred-renew.service kubecred-recover.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ] && [ -f /etc/kubecred/config.toml ]; then
	if cmp -s /usr/share/kubecred/config.toml /etc/kubecred/config.toml; then
		rm -f /etc/kubecred/config.toml
	else
		mv -f /etc/kubecred/config.toml /etc/kubecred/config.toml.rpmsave
		echo "kubecred: /etc/kubecred/config.toml saved as /etc/kubecred/config.toml.rpmsave" >&2
	fi
	rmdir /etc/kubecred 2>/dev/null || :
fi
exit 0
