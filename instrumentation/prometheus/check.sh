#!/usr/bin/env bash
# Check the Prometheus rules, run their unit tests, and check the Alertmanager configuration
# and its routing. Needs promtool (Prometheus 2.42+) and amtool (Alertmanager 0.25+), e.g.
# Debian's prometheus and prometheus-alertmanager packages. Exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")"

promtool check rules rules/abstractcore-secrets.rules.yml
promtool test rules tests/*.test.yml
amtool check-config alertmanager.yml

# Each team's alerts, pages and tickets alike, reach that team's receiver. (amtool warns
# that --config.file overrides --alertmanager.url: expected, nothing is contacted.)
for team in sre security compliance; do
    for severity in page ticket; do
        echo -n "team=$team severity=$severity -> "
        amtool config routes test --config.file=alertmanager.yml --verify.receivers="$team" \
            "team=$team" "severity=$severity"
    done
done
