#!/usr/bin/env bash
# Setup time of the README's two commands on a fresh clone, with empty package caches and warm ones.
#
#   bench/setup.sh REPOSITORY REF [REF...]
#
# For each REF: clone REPOSITORY at REF into a new directory with empty pip and uv caches
# (XDG_CACHE_HOME pointed at a new directory, which both use), time `make synth` (as `make deps`,
# the installs, then `make synth`, which has nothing left to install), then time the
# targets `make test` runs before its first test (the environments, the lock check; the Debian
# packages are already installed on the machine, so they cost only a check). Then the same in a
# second fresh clone with the caches the first one filled ("warm"). The test suite's own run is
# left out: it is the same work either way (see bench/SETUP.md for its time).
#
# Prints one Markdown table row per REF and cache state. Needs git, make and python3 on PATH.
set -euo pipefail

repo=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() { # run "$@" quietly; print its wall-clock time in seconds (one decimal)
	local start end
	start=$(date +%s.%N)
	"$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; return 1; }
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

echo "| ref | caches | make synth (s) | of which installs (s) | of which the synth (s) | make test, setup before the first test (s) |"
echo "|---|---|---|---|---|---|"
for ref in "$@"; do
	cache="$work/cache-${ref//\//_}"
	mkdir -p "$cache"
	for state in cold warm; do
		clone="$work/clone-${ref//\//_}-$state"
		git clone --quiet "$repo" "$clone"
		git -C "$clone" checkout --quiet "$ref"
		# What `make test` builds before pytest starts: the targets differ before and after the lock.
		if grep -q '^test-deps:' "$clone/Makefile"; then
			setup=(lock-check dev-deps test-deps)
		else
			setup=(dev-deps)
		fi
		# `make synth` is `make deps` (the installs) and then the synth: timed apart, summed.
		deps=$(XDG_CACHE_HOME=$cache seconds make -C "$clone" deps)
		synth=$(XDG_CACHE_HOME=$cache seconds make -C "$clone" synth)
		test=$(XDG_CACHE_HOME=$cache seconds make -C "$clone" "${setup[@]}")
		total=$(awk -v a="$deps" -v b="$synth" 'BEGIN { printf "%.1f", a + b }')
		echo "| $(git -C "$clone" rev-parse --short HEAD) | $state | $total | $deps | $synth | $test |"
	done
done
