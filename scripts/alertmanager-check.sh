#!/usr/bin/env bash
# Check conf/alertmanager/alertmanager.yml: amtool check-config, then one
# routing case per owner and cadence (amtool config routes test): a team's
# warning mails it, its critical alert pages it, and an alert without a
# known owner reaches the platform team. Run by `make test`.
#
#   scripts/alertmanager-check.sh [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."
CONF=${1:-conf/alertmanager/alertmanager.yml}

amtool check-config "$CONF"

fail=0
# expect RECEIVER LABEL=VALUE...: the labels route to RECEIVER alone.
expect() {
	local want=$1
	shift
	if ! out=$(amtool config routes test --config.file="$CONF" --verify.receivers="$want" "$@" 2>&1); then
		echo "alertmanager-check: $* routes to '$out'; want '$want'" >&2
		fail=1
	fi
}

for team in video data web; do
	expect "$team-mail" alertname=WingsRouteErrorRatioHigh owner="$team" severity=warning route=/api/x
	expect "$team-page" alertname=WingsRouteErrorRatioCritical owner="$team" severity=critical route=/api/x
	expect "$team-page" alertname=WingsProbeFailed owner="$team" severity=critical probe=x
done
expect platform-mail alertname=WingsRouteErrorRatioHigh owner=unowned severity=warning route=/api/x
expect platform-page alertname=WingsRouteErrorRatioCritical owner=unowned severity=critical route=/api/x
expect platform-mail alertname=WingsUpstreamErrorRatioHigh severity=warning upstream=video
expect platform-page alertname=WingsUpstreamBreakerOpen severity=critical upstream=video

[ "$fail" = 0 ] && echo "alertmanager-check: routing cases pass"
exit "$fail"
