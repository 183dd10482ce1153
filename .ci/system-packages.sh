#!/usr/bin/env bash
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The Debian/Ubuntu packages `make test` needs beyond a base image with python3, git and make.
# Run as root with apt-get, it installs the missing ones (one `apt-get update`, only when
# something is missing); otherwise it only names them (the step that needs one then fails
# and says so).
set -euo pipefail

packages=(
    openssh-server # integration tests: a real sshd on 127.0.0.1
    openssh-client # integration tests: ansible's ssh connection
    sudo           # integration tests: become as an unprivileged user
    rsync          # make sanity: copies the checkout into .tmp/sanity/ansible_collections
    shellcheck     # make sanity: the shellcheck test (skipped with a warning without it)
    python3-venv   # make venv on a Debian python3; ensurepip for the sanity pip bootstrap
    mono-mcs       # unit tests: compile the C# module utils as Ansible does on Windows
    mono-runtime   # unit tests: run the C# unit tests
    chromium       # integration tests: the HTML report in a real browser
    chromium-driver   # integration tests: selenium drives chromium
    fonts-dejavu-core # integration tests: readable report screenshots
    bpftrace       # integration tests: meminfo_facts trace_seconds (kernel allocation trace)
)
# `system-packages.sh NAME...` checks only those (make demo needs python3-venv alone).
if [ "$#" -gt 0 ]; then
    packages=("$@")
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-packages: WARNING: missing ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
    exit 0
fi

echo "system-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
