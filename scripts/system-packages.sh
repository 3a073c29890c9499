#!/usr/bin/env bash
# Install the Debian packages Zongzhi needs outside Python, or say exactly what to install.
#
# Pango renders the printable notices (WeasyPrint); Noto CJK gives them Chinese glyphs;
# Hanazono and BabelStone Han cover the rare characters (CJK Extension B and beyond) Noto lacks;
# poppler-utils (pdftotext, pdffonts, pdftoppm) and zbar-tools (zbarimg) let the tests read the
# PDFs and QR codes back; Chromium is the headless browser the page tests drive; wrk is the load
# generator of bench/http.py.
set -euo pipefail

packages=(libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk fonts-hanazono fonts-babelstone-han
          poppler-utils zbar-tools chromium wrk)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Zongzhi needs these system packages (Debian names): ${missing[*]}" >&2
  echo "This machine has no apt-get: install their equivalents, then run make again." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Zongzhi needs these system packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt or unattended-upgrades run may hold the package manager's lock (often just after a
# machine boots): wait for it, up to APT_LOCK_TIMEOUT seconds, rather than failing at once.
lock_wait=(-o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT:-300}")
apt-get "${lock_wait[@]}" update -qq
apt-get "${lock_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}"
