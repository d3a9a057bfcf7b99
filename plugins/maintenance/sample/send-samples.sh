#!/usr/bin/env bash
# Posts the sample deliveries to a running maintenance plugin, signed the way the maintenance
# system signs them, in name order, and prints each answer's HTTP status.
#
#   send-samples.sh URL SECRET
#   send-samples.sh http://127.0.0.1:8470/webhooks/maintenance "$(cat /etc/propbridge/maintenance.secret)"
#
# Needs curl and openssl. The secret is passed to openssl on its command line, so use this with
# test secrets only. Exits 1 if an answer was neither 200 nor 400 (the last sample is malformed
# on purpose and is answered 400 once it is quarantined).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 URL SECRET" >&2
  exit 2
fi
url=$1
secret=$2
here=$(cd "$(dirname "$0")" && pwd)

failed=0
for file in "$here"/*.json; do
  signature=$(openssl dgst -sha256 -hmac "$secret" -r <"$file" | cut -d' ' -f1)
  status=$(curl --silent --show-error --output /dev/null --write-out '%{http_code}' \
    --header 'Content-Type: application/json' \
    --header "X-Signature: sha256=$signature" \
    --header "X-Delivery-Id: sample-$(basename "$file" .json)" \
    --data-binary "@$file" "$url") || status=000
  echo "$status $(basename "$file")"
  case $status in
    200 | 400) ;;
    *) failed=1 ;;
  esac
done
exit "$failed"
