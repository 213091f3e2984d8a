# Source this file (`source scripts/env.sh`) to use the project's own toolchain by hand:
# the locally built pulumi CLI and cluster binaries, the project's pinned Node.js,
# the local cluster's kubeconfig, and Pulumi's offline settings. Values you export
# before sourcing win (KUBECONFIG, PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE[_FILE]).
_ap_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AGENT_PLATFORM_REPO="$_ap_repo"
case ":$PATH:" in
  *":$_ap_repo/.local/bin:"*) ;;
  *) export PATH="$_ap_repo/.local/bin:$_ap_repo/node_modules/.bin:$PATH" ;;
esac
export KUBECONFIG="${KUBECONFIG:-$_ap_repo/.local/cluster/${CLUSTER_NAME:-local}/kubeconfig}"
# Offline: no update check, no plugin downloads (providers are found on PATH).
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="${PULUMI_HOME:-$_ap_repo/.local/pulumi-home}"
# State: a local file backend under .local/ unless you chose another (s3://..., https://api.pulumi.com).
mkdir -p "$_ap_repo/.local/state"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_ap_repo/.local/state}"
# Secrets provider passphrase for local stacks: generated once, kept out of git (mode 600).
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$_ap_repo/.local/passphrase" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 > "$_ap_repo/.local/passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$_ap_repo/.local/passphrase"
fi
unset _ap_repo
