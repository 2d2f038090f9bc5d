#!/bin/sh
# The Dockerfile's base image, made locally where no image registry is reachable: a minimal
# Debian bookworm with Python 3.11 (debootstrap, from the mirror apt already uses), carrying this
# host's CA certificates and pip settings so that pip reaches the package index from a build,
# imported under the tag the Dockerfile's FROM names. Does nothing when that tag exists.
#
#   sudo deploy/docker/base-image.sh [DOCKERFILE]     (default: the Dockerfile beside it)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dockerfile=${1:-$here/Dockerfile}
suite=bookworm

tag=$(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$dockerfile" | head -n 1)
[ -n "$tag" ] || { echo "no FROM line in $dockerfile" >&2; exit 1; }
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag: present, nothing to do"
    exit 0
fi

# The first Debian archive apt reads (deb822 .sources files, then the one-line format),
# leaving out the security archive, which has no $suite of its own.
mirror() {
    {
        sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
        sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | grep -v -e security -e '^$' | head -n 1
}
url=$(mirror)
url=${url:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /var/tmp/micromailer-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "$tag: debootstrap $suite from $url"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
    "$suite" "$rootfs" "$url"

# This host's certificate authorities: where HTTPS is re-signed by a local authority, pip in
# a build trusts it as the host does.
mkdir -p "$rootfs/usr/local/share/ca-certificates" "$rootfs/etc/ssl/certs"
if [ -d /usr/local/share/ca-certificates ]; then
    cp -R /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
fi
chroot "$rootfs" update-ca-certificates --fresh >/dev/null 2>&1 \
    || cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

# This host's pip settings that reach the index from inside a container: index URLs over the
# network, trusted hosts, timeouts, the certificate bundle (copied in). Local paths (file://
# indexes, find-links, constraint files) name nothing inside a container and are left out.
python3 - "$rootfs" <<'EOF'
import configparser, os, shutil, subprocess, sys

rootfs = sys.argv[1]
listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                        capture_output=True, text=True).stdout.splitlines()
settings = {}
for line in listed:  # `global.index-url='https://…'` or `:env:.cert='…'`; the later wins
    key, _, value = line.partition("=")
    settings[key.rpartition(".")[2]] = value.strip("'\"")
for name, value in os.environ.items():
    if name.startswith("PIP_"):
        settings[name[4:].lower().replace("_", "-")] = value
kept = {}
for key in ("index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "cert",
            "disable-pip-version-check"):
    value = settings.get(key)
    if key.endswith("index-url") and value:
        value = " ".join(url for url in value.split() if url.startswith(("http://", "https://")))
    if value:
        kept["timeout" if key == "default-timeout" else key] = value
if "cert" in kept:
    if not os.path.isfile(kept["cert"]):
        del kept["cert"]
    elif not os.path.exists(rootfs + kept["cert"]):
        os.makedirs(os.path.dirname(rootfs + kept["cert"]), exist_ok=True)
        shutil.copy(kept["cert"], rootfs + kept["cert"])
config = configparser.ConfigParser()
config["global"] = kept
with open(os.path.join(rootfs, "etc", "pip.conf"), "w") as file:
    config.write(file)
print("pip.conf:", ", ".join(f"{key}" for key in kept) or "nothing to carry over")
EOF

# What an image needs no copy of: package lists and downloaded packages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import - "$tag"
echo "$tag: imported"
