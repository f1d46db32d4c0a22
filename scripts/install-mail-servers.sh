#!/bin/sh
# Debian's dovecot-imapd and postfix for the inbound-mail tests (tests/imap_rig.py, tests/postfix_rig.py),
# installed once when missing; `make test` runs this. The tests start their own instances on free ports
# of 127.0.0.1 with a throw-away configuration, so the system services are neither started nor enabled.
set -eu

missing=""
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || missing="$missing dovecot-imapd"
[ -x /usr/sbin/postfix ] || missing="$missing postfix"
[ -n "$missing" ] || exit 0

echo "installing Debian's$missing for the inbound-mail tests"
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

# "No configuration" writes no /etc/postfix/main.cf, and Debian's postfix init script does nothing without it.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d first; 101 means "forbidden": the packages' scripts
# start no daemon. One already there (Docker images ship one) is left alone; ours is removed afterwards.
# apt's and the packages' chatter goes to a log that is shown only when something fails.
policy=/usr/sbin/policy-rc.d
ours=""
log=$(mktemp)
trap 'rm -f "$log"; [ -z "$ours" ] || $SUDO rm -f "$policy"' EXIT
if [ ! -e "$policy" ]; then
  ours=yes
  printf '#!/bin/sh\n# temporary, from %s\nexit 101\n' "$0" | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
fi

# --no-remove: never replace the machine's own mail server (exim4 and postfix conflict); fail instead.
if ! { $SUDO apt-get update -qq &&
       $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-remove \
         $missing; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "could not install$missing (another mail server in the way? see apt's output above)" >&2
  exit 1
fi

# Not started at boot either: only the tests' own instances ever run.
for service in $missing; do
  service=${service%-imapd}  # the package dovecot-imapd runs the service dovecot
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now --quiet "$service.service" 2>/dev/null || true
  else
    $SUDO update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done
