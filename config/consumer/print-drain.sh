#!/bin/sh
# Demo action of the reference consumer: prints what it would run for one host, takes 2 s.
# Its input comes as arguments ($1 the host) and environment (FIREBREAK_*), never through a shell
# string built from the trigger. A real site runs kubectl itself: see config/consumer/k8s-drain.yaml.
host="$1"
echo "would run: kubectl cordon $host"
echo "would run: kubectl drain $host --ignore-daemonsets --delete-emptydir-data --timeout=120s   (rack $FIREBREAK_RACK, zone $FIREBREAK_ZONE, trigger $FIREBREAK_TRIGGER)"
sleep "${DEMO_SLEEP_S:-2}"
